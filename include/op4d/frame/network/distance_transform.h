// Exact Euclidean distance transform on the anisotropic voxel grid, in physical units.
#pragma once

#include <cstdint>
#include <string>

#include "op4d/core/parallel.h"
#include "op4d/core/progress.h"
#include "op4d/core/slabs.h"
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

// Block-wise exact transform of a frame read slab by slab, for frames that do not fit: the passes
// along x and y run on slabs of whole planes and store their squared distances (8 bytes per voxel)
// in a scratch file in scratch_dir (unlinked at creation); the pass along z then runs on blocks of
// rows holding whole columns, read back from it, and `write` receives each block's distances
// (boxes {0, y0, 0}, {nz, y1 - y0, nx}, in y order). The same lines meet the same 1D envelope as in
// DistanceTransform, so the result is bit-identical to it for any slab and block size.
// Memory: about block_bytes (slab: 9 bytes per voxel; row block: 12 bytes per voxel) besides the
// reader's and writer's own buffers; disk: 8 bytes per voxel of the frame.
struct StreamedDistanceOptions {
  std::int64_t slab_z = 0;        // planes per slab of the in-plane passes (0: from block_bytes)
  std::int64_t block_rows = 0;    // rows per block of the z pass (0: from block_bytes)
  std::int64_t block_bytes = std::int64_t(512) << 20;
  std::string scratch_dir;        // "" = /tmp
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
  bool IsValid(std::string* why) const;
};
void DistanceTransformStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                               const BoxWriter<float>& write, const StreamedDistanceOptions& options = {});

}  // namespace op4d
