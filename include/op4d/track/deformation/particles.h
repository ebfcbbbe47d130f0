// Per-particle kinematics: an affine F for every labelled particle of the reference frame, fitted by
// local image registration of its neighbourhood (in the manner of discrete DVC), and particle
// identity across frames by centroid matching (Open3D ICP with scaling, nearest neighbours).
//
// The local fit: x = c + t + F (X - c) with c the particle's reference centroid, minimising
// sum over the particle mask of (current(x) - reference(X))^2 by Levenberg–Marquardt (the current
// frame sampled by its cubic B-spline or trilinearly, optionally of pre-smoothed frames). The mask is the particle dilated by margin_um (its surface carries the image
// information; its inside is uniform) minus other particles, and optionally minus everything within
// contact_um of them. F follows DESIGN.md: reference -> current, (z, y, x).
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"
#include "op4d/track/registration/affine.h"

namespace op4d {

// The motion fitted per particle: a general affine F (12 parameters with the translation), or a
// similarity (isotropic scale, rotation, translation: 7, composed with the start's linear part, so
// F = s R F_start; a pure similarity from a rigid start), the physics of isotropically swelling
// particles and better conditioned when contacts hide part of a particle's surface.
enum class ParticleModel { kAffine, kSimilarity };
const char* ToString(ParticleModel m);
ParticleModel ParticleModelFromString(const std::string& s);  // "affine", "similarity"; throws ConfigError

// How the current frame is sampled at the fitted positions: trilinear (gradient by central
// differences of the interpolant half a voxel either side), or the cubic B-spline through the
// samples (exact gradient). Trilinear interpolation blurs an edge by f (1 - f) voxel^2 at sub-voxel
// offset f, which pulls a scale fit when the drift is near a whole voxel (bench/RESULTS.md).
enum class ParticleInterpolation { kLinear, kCubic };
const char* ToString(ParticleInterpolation m);
ParticleInterpolation ParticleInterpolationFromString(const std::string& s);  // "linear", "cubic"; throws ConfigError

struct ParticleFitOptions {
  ParticleModel model = ParticleModel::kAffine;
  double margin_um = 1.0;     // mask = particle dilated by this (µm)
  int translation_iterations = 15;  // translation-only Levenberg–Marquardt steps first (robust start)
  int max_iterations = 60;    // affine Levenberg–Marquardt steps
  double tolerance = 1e-4;    // stop when the update (F entries; translation in units of min spacing) is below
                              // (1e-7 left 58 of 346 fitted particles unconverged, 1e-4 27; eps_v RMS unchanged)
  std::int64_t min_voxels = 64;  // particles with fewer reference voxels are skipped (status says so)
  double max_shift_um = 0;    // > 0: fail a fit whose translation leaves the start by more than this
  // Both off by default: with watershed labels, fragments of one particle exclude each other. On
  // well-separated labels at >= 10 voxels per radius, 1 µm and 0.25 µm remove two biases (RESULTS).
  double contact_um = 0;      // leave out voxels within this of another particle (at a contact the image
                              // shows two surfaces swelling about different centres); 0: keep them
  double smooth_um = 0;       // Gaussian pre-smoothing of both frames, sigma in µm (0: none). Trilinear
                              // interpolation of noise varies with the sub-voxel position, which biases a
                              // scale fit; smoothing first removes most of it
  // Cubic by default: at 0.25 µm, SNR 10, the mean eps_v error over the drift's sub-voxel phase is
  // -0.0012 .. +0.0033 trilinear, +0.0002 .. +0.0011 cubic (noise-free +0.0004 .. +0.0006), for 1.5x the time.
  ParticleInterpolation interpolation = ParticleInterpolation::kCubic;
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct ParticleKinematics {
  int label = 0;
  std::int64_t voxels = 0;                    // particle voxels in the reference frame
  std::int64_t mask_voxels = 0;               // voxels used by the fit
  Eigen::Vector3d centroid_ref_um = Eigen::Vector3d::Zero();
  Eigen::Vector3d centroid_um = Eigen::Vector3d::Zero();  // the centroid carried into the current frame
  Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
  double J = 1, eps_v = 0;
  double rms_before = 0, rms_after = 0;      // grey RMS over the mask (frames as fitted, i.e. pre-smoothed) at the start and end
  int iterations = 0;
  bool converged = false;
  bool touches_border = false;                // the particle touches the reference frame's faces
  bool leaves_view = false;                   // part of its mask maps beyond the current frame's faces
                                              // at the start (it drifts out of the view): a poor fit
  std::string status;
};

// `labels` (reference grid, 0 = background) name the particles; `initial` is the global motion used
// as the start (identity, a drift, or an affine registration). One result per label present, in
// increasing label order; a fit that fails is reported in its status, it does not throw.
std::vector<ParticleKinematics> FitParticleKinematics(const Volume<float>& reference,
                                                      const Volume<float>& current,
                                                      const LabelVolume& labels, const AffineMap& initial,
                                                      const ParticleFitOptions& options = {});

// Per-particle table: label, voxels, centroids (reference and current, µm), F (9), J, eps_v, the RMS
// before/after, iterations, converged (0/1), touches_border (0/1), leaves_view (0/1).
ResultTable ParticleKinematicsTable(const std::vector<ParticleKinematics>& particles);

struct ParticleMatchOptions {
  double max_distance_um = 2.0;  // a match farther than this (after ICP) is refused: lost particle
  int icp_iterations = 50;
  bool with_scaling = true;      // ICP point-to-point with a uniform scale (swelling of the whole sample)
};

struct ParticleMatch {
  int reference_label = 0;
  int current_label = 0;         // 0 = lost
  double distance_um = 0;        // after the ICP alignment
  double quality = 0;            // 1 - distance / max_distance, 0 for lost
};

struct ParticleMatching {
  std::vector<ParticleMatch> matches;   // one per reference particle
  std::vector<int> new_labels;          // current particles nobody matched
  AffineMap alignment;                  // ICP similarity: reference centroids -> current
  double fitness = 0, inlier_rmse_um = 0;  // Open3D's figures
};

// Matches reference centroids to current-frame centroids (label order gives the point order). The
// `initial` guess (e.g. the global registration) starts ICP. Matching is one-to-one: mutual nearest
// neighbours within max_distance_um.
ParticleMatching MatchParticles(const std::vector<int>& reference_labels,
                                const std::vector<Eigen::Vector3d>& reference_centroids_um,
                                const std::vector<int>& current_labels,
                                const std::vector<Eigen::Vector3d>& current_centroids_um,
                                const AffineMap& initial, const ParticleMatchOptions& options = {});

// Centroids (µm) of every label present, in increasing label order.
void LabelCentroids(const LabelVolume& labels, std::vector<int>* ids, std::vector<Eigen::Vector3d>* centroids_um);

}  // namespace op4d
