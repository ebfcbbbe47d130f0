// Rigid, similarity-free affine registration of one frame to the reference, in-process with ITK's v4
// framework (multi-resolution, mean squares or Mattes mutual information, optional reference mask).
//
// Convention (DESIGN.md). The reference frame is ITK's *fixed* image and the current frame the
// *moving* one. ITK's transform T maps fixed points to moving points, so with this choice T is the
// motion itself, x = phi(X) = T(X), and F = dx/dX is T's matrix: no inversion is needed. op4d keeps
// every matrix and vector in its own axis order (z, y, x) and µm; the swap to ITK's (x, y, z)
// happens inside the implementation only.
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "op4d/core/volume.h"
#include "op4d/track/registration/affine_options.h"

namespace op4d {

// x = F X + t: the motion from the reference configuration X to the current one x (µm, z y x).
struct AffineMap {
  Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
  Eigen::Vector3d t = Eigen::Vector3d::Zero();

  Eigen::Vector3d Apply(const Eigen::Vector3d& X) const { return F * X + t; }
  AffineMap Inverse() const;                            // throws InvalidArgument when det F <= 0
  AffineMap Then(const AffineMap& next) const;          // next ∘ this (this first)
  // The map x = F (X - c) + c + translation: deformation F about a centre c, then a translation.
  static AffineMap AboutCentre(const Eigen::Matrix3d& F, const Eigen::Vector3d& centre_um,
                               const Eigen::Vector3d& translation_um);
};

// Rotation by angle_deg about a unit axis given in (z, y, x).
Eigen::Matrix3d RotationZYX(const Eigen::Vector3d& axis_zyx, double angle_deg);

// Physical centre of a grid (µm, z y x).
Eigen::Vector3d GridCentre(const Geometry& g);

// The current frame seen after the motion `map`: out(x) = in(map^-1(x)) on `out_grid` (trilinear;
// `outside` where map^-1(x) leaves the input). Used to make known motions for tests and to bring a
// frame back onto the reference grid (pass map.Inverse()... see ResampleOnReference).
Volume<float> WarpAffine(const Volume<float>& in, const AffineMap& map, const Geometry& out_grid,
                         float outside = 0.0f, ThreadBudget threads = {});

// The current frame resampled onto the reference grid: out(X) = current(map(X)) (drift correction).
Volume<float> ResampleOnReference(const Volume<float>& current, const AffineMap& map,
                                  const Geometry& reference_grid, float outside = 0.0f,
                                  ThreadBudget threads = {});

// The translation t (µm, z y x) that best carries `reference` onto `current` (current(X + t) ~
// reference(X)), by phase correlation: both frames block-averaged to at most `max_edge` voxels along
// their longest axis, mean removed, Hann-windowed, the normalised cross-power spectrum's inverse peak
// (parabolic sub-voxel refinement). Any shift up to half the field of view is found, where gradient
// descent on the grey residual stays within about one feature size of its start. `peak` (optional):
// the peak's height (1 = a pure translation of identical frames; noise and the field of view's change
// lower it). Requires frames of one shape and spacing (InvalidArgument otherwise).
Eigen::Vector3d PhaseCorrelationShift(const Volume<float>& reference, const Volume<float>& current,
                                      double* peak = nullptr, std::int64_t max_edge = 128, ThreadBudget threads = {});

struct AffineRegistrationResult {
  AffineMap map;                      // reference -> current, op4d convention
  bool converged = false;             // the last stage stopped on the step/convergence criterion
  std::vector<AffineStageReport> stages;
  Eigen::Vector3d start_t_um = Eigen::Vector3d::Zero();  // the first stage's starting translation
  std::string start;                  // how the start was chosen (phase correlation: shift, peak, residuals)
  double rms_before = 0;              // RMS grey difference current(X) - reference(X) before
  double rms_after = 0;               // ... and after registration (over the overlap and mask)
  std::int64_t overlap_voxels = 0;    // reference voxels whose image lies inside the current frame
  std::string status;                 // one line: converged or why not
};

// Registers `current` onto `reference` (both grey, same spacing required: frames of a campaign share
// one). `reference_mask` (optional, same grid as reference, nonzero = use) restricts the metric.
// Throws InvalidArgument for different spacings or an empty mask; a registration that does not
// converge returns converged = false with the reason, it does not throw.
AffineRegistrationResult RegisterAffine(const Volume<float>& reference, const Volume<float>& current,
                                        const AffineRegistrationOptions& options,
                                        const Volume<std::uint8_t>* reference_mask = nullptr);

}  // namespace op4d
