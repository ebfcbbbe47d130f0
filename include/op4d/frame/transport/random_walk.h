// Random-walk diffusion tensor of a phase: walkers on the anisotropic voxel lattice, moves into the
// other phases rejected ("blind ant": the walker stays and time goes on, which keeps detailed balance),
// mean-squared displacement over time fitted at long times.
//
// Lattice: each step the walker picks an axis with probability p_a proportional to 1/s_a^2 and a
// direction +-1 with equal odds, then moves one voxel if the target is in the phase. Every step takes
// dt = 1 / (2 D_bulk sum_b 1/s_b^2), so free space diffuses isotropically with D_bulk for any spacing.
// Box edges: the volume is tiled without end, by mirror images (default) or periodic copies, and
// displacements are unwrapped, so walkers explore an unbounded medium.
// Result: D*_ij = slope of <dr_i dr_j>(t) / 2 fitted over the last half of the walk; tau_ii =
// D_bulk / D*_ii, comparable with the finite-volume tau = eps D_bulk / D_eff when walkers start in
// every voxel of the phase (isolated ones included). Error: spread of the estimate over walker batches.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

enum class WalkTiling { kMirrored, kPeriodic };
const char* ToString(WalkTiling t);  // "mirrored", "periodic"

struct RandomWalkOptions {
  std::int64_t walkers = 20000;   // started uniformly over the phase's voxels
  std::int64_t steps = 20000;     // lattice steps per walker
  int batches = 16;               // walker batches for the statistical error
  WalkTiling tiling = WalkTiling::kMirrored;
  std::uint64_t seed = 1;
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct RandomWalkResult {
  bool valid = false;              // false for an empty phase (message says so)
  std::string message;
  Eigen::Matrix3d d_star = Eigen::Matrix3d::Zero();        // D*/D_bulk, axes z, y, x
  Eigen::Matrix3d d_star_error = Eigen::Matrix3d::Zero();  // standard error of each entry
  Eigen::Vector3d tau = Eigen::Vector3d::Zero();           // D_bulk / D*_ii (+inf if D*_ii <= 0)
  double time_um2 = 0;             // walk duration in units of um^2 / D_bulk
  std::string convention = "tau_ii = D_bulk / D*_ii; walkers start in every voxel of the phase";
  ResultTable ToTable() const;     // rows z, y, x: d_star diagonal, error, tau
};

RandomWalkResult ComputeRandomWalkTensor(const Volume<std::uint8_t>& mask, const RandomWalkOptions& options);

}  // namespace op4d
