// Particle damage in one frame, against the reference: cracks, fragments and the particle's contact
// with the binder, read through each particle's own fitted motion.
//
// Each reference particle i (reference labels, e.g. the register step's `particle_labels`) is
// carried into frame k by its affine motion x = c_k + F (X - c_ref) (the register step's
// particle_kinematics: centroid_ref, centroid, F; DESIGN.md's F, reference -> current). Every voxel x
// of frame k near the carried particle is pulled back, X = c_ref + F^-1 (x - c_k), to the nearest
// reference voxel; x belongs to particle i when that voxel does.
//  - Crack: the voxels of particle i that lie deep inside it (the reference voxel at least
//    interior_vox voxels from the particle's surface: registration and partial volume cannot reach
//    there) and are not active in frame k, as 6-connected components of at least
//    crack_component_min voxels (smaller ones are noise). The particle is cracked when that volume is
//    at least crack_min_voxels and crack_min_fraction of its interior, or when it is in fragments.
//    Crack area: the faces between crack voxels and the particle's active voxels, halved (a sheet has
//    two faces; its rim counts half), with their anisotropic areas.
//  - Fragments: the 6-connected components of particle i's active voxels in frame k, eroded by one
//    voxel first (a one-voxel bridge across a crack, a sheet voxel that partial volume made active,
//    does not join two pieces; every other active voxel then joins its 6-neighbours' piece),
//    holding at least fragment_min_share of its reference voxels; their pulled-back centroids
//    identify them through frames.
//  - Binder contact: faces between particle i's active voxels (its reference voxels and their
//    6-neighbours outside any particle, so that a surface moved by a sub-voxel fit error still counts)
//    and binder voxels, with their areas; 1-sigma counting uncertainty sqrt(faces) times the mean face
//    area (each face's presence an independent boundary decision, stated as such).
// A reference particle without a valid motion (not converged, or leaving the view) or smaller than
// min_reference_voxels is reported with status and no numbers. Parallel over particles, deterministic.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

struct ParticleMotion {
  int label = 0;
  Eigen::Vector3d centroid_ref_um = Eigen::Vector3d::Zero();
  Eigen::Vector3d centroid_um = Eigen::Vector3d::Zero();  // c_k: the reference centroid carried into frame k
  Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
  bool valid = true;
  std::string status;  // why not valid
};

struct DamageOptions {
  std::uint8_t active = 1, binder = 2;  // phase labels in the frame
  double interior_vox = 2.0;            // crack voxels must be at least this deep in the reference particle
  std::int64_t crack_component_min = 8; // non-active components inside smaller than this are noise
  std::int64_t crack_min_voxels = 30;
  double crack_min_fraction = 0.01;     // of the particle's interior voxels
  double fragment_min_share = 0.03;     // of the particle's reference voxels
  // Particles smaller than this (reference voxels; 1000 = an equivalent radius of 6.2 voxels) are not
  // read: past the interior margin little of them is left for a crack, and a fragment of a few
  // voxels is noise (a watershed speck of 180 voxels read as 3-8 fragments on the built-in campaign).
  std::int64_t min_reference_voxels = 1000;
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct Fragment {
  std::int64_t voxels = 0;
  Eigen::Vector3d centroid_ref_um = Eigen::Vector3d::Zero();  // pulled back to the reference
};

struct ParticleDamage {
  int label = 0;
  bool measured = false;
  std::string status;
  std::int64_t reference_voxels = 0, interior_voxels = 0;
  std::int64_t crack_voxels = 0;
  double crack_volume_um3 = 0, crack_area_um2 = 0, crack_fraction = 0;  // fraction of the interior
  bool cracked = false;
  std::vector<Fragment> fragments;  // largest first
  double binder_contact_um2 = 0, binder_contact_sd_um2 = 0;
  std::int64_t active_voxels = 0;   // particle i's active voxels in frame k
};

// `reference_labels`: particle labels on the reference grid (0 = none); `phases`: frame k's phase
// labels on its own grid (same spacing). One result per entry of `motions`, in order. Throws
// InvalidArgument for invalid options or spacings that differ.
std::vector<ParticleDamage> MeasureParticleDamage(const LabelVolume& reference_labels, const PhaseVolume& phases,
                                                  const std::vector<ParticleMotion>& motions, const DamageOptions& options);

// The motions of a register step's particle_kinematics table (label, centroid_ref_*, centroid_*,
// F_**, converged, leaves_view). Throws InvalidArgument naming a missing column.
std::vector<ParticleMotion> MotionsFromKinematics(const ResultTable& particle_kinematics);

// One row per particle: label, measured, crack and fragment figures, binder contact with sd.
ResultTable ParticleDamageTable(const std::vector<ParticleDamage>& damage);

}  // namespace op4d
