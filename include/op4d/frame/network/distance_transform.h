// Exact Euclidean distance transform on the anisotropic voxel grid, in physical units.
#pragma once

#include <cstdint>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d {

struct DistanceOptions {
  ThreadBudget threads;
};

// For every voxel where mask != 0: the distance (µm) from its centre to the centre of the nearest
// voxel where mask == 0, with the volume's spacing; 0 where mask == 0. Voxels of a volume that has
// no background at all get +infinity. Exact (separable lower envelopes of parabolas, Felzenszwalb &
// Huttenlocher 2012, with per-axis spacing weights), TBB-parallel over lines, identical for any
// thread count. Memory: 8 bytes per voxel of work space besides the float result.
Volume<float> DistanceTransform(const Volume<std::uint8_t>& mask, const DistanceOptions& options = {});

}  // namespace op4d
