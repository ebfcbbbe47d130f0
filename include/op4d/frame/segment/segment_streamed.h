// Block-wise form of the nlm+gmm segmentation chain, for frames larger than memory (issue 30):
// non-local means, the tied-sigma Gaussian mixture fitted to the histogram of the denoised frame,
// MAP labels, the partial-volume resolution (reach 1) and the forward-model refinement, each run
// slab by slab. The denoised frame (in the input's voxel type) and the labels live in two unlinked
// scratch files between the passes; memory is a few slabs of planes, never the frame.
//
// Every pass visits the same voxels with the same arithmetic as the whole-volume chain
// (NonLocalMeans, FitGaussianMixture, ClassifyGaussianMixture, ResolvePartialVolume,
// RefineByForwardModel): the noise estimate from the same residuals, the histogram from the same
// bins, the partial-volume decisions from a one-plane halo, the refinement's 16-plane slabs in the
// same order from windows that hold their margins. The labels are bit-identical to that chain's for
// any slab size (tested). Not included: the island clean-up and morphology clean-ups that the
// pipeline's segment step runs afterwards.
//
// Passes over the frame: noise estimate (when sigma is not given), NLM, histogram, labels + partial
// volume, pure grey values, refinement (about 2 reads of every plane), output. Disk: (bytes of the
// voxel type + 1) per voxel of the frame.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/progress.h"
#include "op4d/core/slabs.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/frame/segment/denoise.h"
#include "op4d/frame/segment/forward_model.h"
#include "op4d/frame/segment/gmm.h"

namespace op4d {

struct StreamedSegmentationOptions {
  NlmOptions nlm;                          // sigma 0: estimated as NonLocalMeans does (same samples)
  std::vector<std::uint8_t> class_labels;  // phase label of each mixture component, by increasing grey
  ForwardModelOptions refine;              // max_sweeps 0: no refinement
  std::int64_t slab_z = 64;                // planes per slab of the label passes
  std::string scratch_dir;                 // "" = /tmp
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct StreamedSegmentationReport {
  NlmReport nlm;
  GmmModel model;
  std::int64_t partial_volume = 0;  // voxels the partial-volume resolution relabelled
  ForwardModelReport refine;
  std::int64_t refined = 0;         // voxels the refinement relabelled
  double seconds = 0;
};

// grey(box) returns the frame's voxels in box (uint8, uint16 or float32; always the same type);
// write receives the labels of planes [z0, z1) as boxes {z0, 0, 0}, {z1 - z0, ny, nx}, in z order.
StreamedSegmentationReport SegmentNlmGmmStreamed(const Geometry& frame, const RegionReader& grey,
                                                 const BoxWriter<std::uint8_t>& write,
                                                 const StreamedSegmentationOptions& options);

// RemovePhaseIslands of a frame read slab by slab: every connected component of a label smaller
// than min_voxels (the pore phase with dual.pore connectivity, every other label with dual.solid) is
// given to the label sharing most voxel faces with it (ties: the lower label), all decided on the
// input labels; write receives the cleaned labels slab by slab. Per label present: its components'
// sizes (LabelComponentsStreamed), then the votes of the small ones, then their relabelling; the
// output is assembled in a scratch file (1 byte per voxel), so `write` may go to the volume `read`
// reads. Identical to RemovePhaseIslands for any slab_z. Returns the voxels relabelled.
std::int64_t RemovePhaseIslandsStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                                        const BoxWriter<std::uint8_t>& write, std::uint8_t pore_phase,
                                        const DualConnectivity& dual, std::int64_t min_voxels, std::int64_t slab_z,
                                        const std::string& scratch_dir = "", ThreadBudget threads = {});

}  // namespace op4d
