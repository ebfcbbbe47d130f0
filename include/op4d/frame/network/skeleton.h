// Topology-preserving skeleton of a voxel set (the pore phase): distance-ordered homotopic thinning
// with the dual rule (set 26-connected, complement 6-connected), then trimming of spurs.
#pragma once

#include <cstdint>

#include "op4d/core/progress.h"
#include "op4d/core/volume.h"

namespace op4d {

struct SkeletonOptions {
  // A spur (a branch from a free end to a junction) is removed when its length along the skeleton
  // is at most prune_length_um, plus the junction's inscribed radius when trim_inside_ball is set
  // (a branch that ends inside the junction's maximal ball is a surface bump, not a pore). Branches
  // whose free end lies on a face of the volume are kept: they are boundary throats.
  double prune_length_um = 0;
  bool trim_inside_ball = true;
  ProgressStyle progress = ProgressStyle::kOff;
};

struct Skeleton {
  Volume<std::uint8_t> voxels;       // 1 on the skeleton, 0 elsewhere
  std::int64_t voxel_count = 0;
  std::int64_t spurs_removed = 0;    // branches removed by trimming
  std::int64_t simple_tests = 0;     // simple-point tests made (work done by the thinning)
};

// Thins the voxels where mask != 0 to one-voxel-wide curves. Voxels are removed in order of
// increasing `distance` (the distance transform of the mask, µm; ties in scan order) as long as they
// are simple points for the (26, 6) pair — their removal changes neither the components of the set,
// nor its cavities, nor its tunnels — and are not curve ends (exactly one 26-neighbour in the set).
// So the skeleton has the topology of the mask and runs along its medial axis. It reaches every
// opening of the mask on a face of the volume (a component of the mask in the face plane): the
// opening's voxel of largest distance is examined last, so a channel meeting a face keeps its branch
// there (a boundary throat). Outside the volume counts as the complement for the simple-point test.
// A cavity (an enclosed component of the complement) keeps a closed surface around it: fill
// cavities first to get curves only (ExtractPoreNetwork does). Serial and deterministic.
Skeleton Skeletonize(const Volume<std::uint8_t>& mask, const Volume<float>& distance,
                     const SkeletonOptions& options = {});

// True when the voxel at the centre of a 3x3x3 neighbourhood is a simple point for the (26, 6) pair.
// `neighbours` holds bit (dz+1)*9 + (dy+1)*3 + (dx+1) for each neighbour in the set (bit 13, the
// centre, is ignored). Exposed for tests.
bool IsSimplePoint26(std::uint32_t neighbours);

}  // namespace op4d
