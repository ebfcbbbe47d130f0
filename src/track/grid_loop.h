// Internal to track: voxel centres and a parallel loop over a grid (z-slices per task), shared by the
// warps, the displacement fields and the residuals.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Core>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d {

inline Eigen::Vector3d VoxelCentre(const Geometry& g, std::int64_t z, std::int64_t y, std::int64_t x) {
  return Eigen::Vector3d(g.origin_um[0] + double(z) * g.spacing_um[0], g.origin_um[1] + double(y) * g.spacing_um[1],
                         g.origin_um[2] + double(x) * g.spacing_um[2]);
}

// Runs f(z, y, x) over the grid inside the thread budget; one task owns whole z-slices, so per-slice
// accumulators need no locking.
template <class Fn>
void ForEachVoxel(const Geometry& g, ThreadBudget threads, Fn&& f) {
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, g.shape[0]), [&](const auto& r) {
      for (std::int64_t z = r.begin(); z < r.end(); ++z)
        for (std::int64_t y = 0; y < g.shape[1]; ++y)
          for (std::int64_t x = 0; x < g.shape[2]; ++x) f(z, y, x);
    });
  });
}

}  // namespace op4d
