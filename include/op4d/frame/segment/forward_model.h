// Label refinement by a forward model of the imaging: the frame is modelled as the point-spread
// function (a Gaussian of psf_sigma_vox voxels per axis) applied to an image that holds, at every
// voxel, the pure grey value of its label. Boundary voxels (a 6-neighbour of another label) take a
// neighbour's label when that lowers
//   || grey - PSF * means(labels) ||^2 + beta * (unlike 6-neighbours),
// voxel by voxel in scan order (iterated conditional modes), until a sweep changes nothing or
// max_sweeps. The pure grey values are measured on the voxels whose 26 neighbours share their label
// (all voxels of a label when it has none); beta = smoothness * d^2 * |PSF|^2, d the smallest
// difference between two labels' pure values, so smoothness is independent of the contrast.
//
// Partial volume is what this resolves: a voxel on a pore/active interface whose grey value looks
// like binder is explained by its neighbours' labels through the PSF, and thin layers keep the grey
// level the PSF predicts for them. Voxels closer to a face of the volume than the support used
// (3 sqrt(2) sigma, at least 2 voxels) keep their labels. Serial and deterministic; the frame is
// processed in slabs of 16 z-slices (each from the labels the earlier slabs left), so the work space
// is 4 bytes per voxel of a slab and its margins, not of the frame.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "op4d/core/volume.h"

namespace op4d {

struct ForwardModelOptions {
  Vec3 psf_sigma_vox{0.6, 0.6, 0.6};
  double smoothness = 0.3;
  int max_sweeps = 10;
};

struct ForwardModelReport {
  std::vector<std::uint8_t> labels;    // the labels present
  std::vector<double> pure_grey;       // their pure grey values
  std::vector<std::int64_t> changes;   // voxels relabelled in each sweep
  std::int64_t changed() const;
};

// The model's pieces, shared by the refinement and the label sampler (frame/uncertainty): the pure
// grey value of every label, the PSF's squared norm k2, PSF * PSF as frame offsets with weights, the
// support radius R (voxels within R of a face are left alone) and the smoothness weight beta.
struct ForwardModelTerms {
  std::array<double, 256> pure{};
  std::vector<std::uint8_t> labels;  // the labels present
  std::vector<double> pure_grey;     // their pure grey values
  int R = 2;
  double k2 = 0, beta = 0;
  std::vector<std::pair<std::int64_t, float>> kk;  // (offset in the frame, weight) of PSF * PSF
  // Energy change of relabelling a voxel from l to q, given C = PSF * (grey - PSF * pure(labels)) at
  // the voxel and the change in the number of unlike 6-neighbours.
  double Delta(std::uint8_t l, std::uint8_t q, double c, int unlike_change) const {
    const double d = pure[q] - pure[l];
    return d * d * k2 - 2 * d * c + beta * unlike_change;
  }
};

// Validates the options and the grids (InvalidArgument) and measures the terms. Fewer than two
// labels present, or a frame no larger than 2 R along an axis, leave `kk` empty (nothing to do).
ForwardModelTerms MakeForwardModelTerms(const PhaseVolume& labels, const AnyVolume& grey, const ForwardModelOptions& options,
                                        const char* who = "RefineByForwardModel");

// Returns the number of voxels whose label changed (a voxel changed twice counts twice).
std::int64_t RefineByForwardModel(PhaseVolume& labels, const AnyVolume& grey, const ForwardModelOptions& options = {},
                                  ForwardModelReport* report = nullptr);

// The refinement's pieces, for the block-wise segmentation (segment_streamed.h), which runs the
// same slabs in the same order on windows of the frame read from disk.
namespace internal {
constexpr std::int64_t kRefineSlab = 16;  // z-slices per refinement slab
inline std::int64_t RefineFilterRadius(const ForwardModelOptions& o) { return std::int64_t(std::ceil(3 * o.psf_sigma_vox[0])); }
struct PureGreySums {
  std::array<double, 256> sum_pure{}, sum_all{};
  std::array<std::int64_t, 256> n_pure{}, n_all{};
};
void CheckForwardModelOptions(const ForwardModelOptions& o, const char* who);  // InvalidArgument
ForwardModelTerms ForwardModelSupport(const ForwardModelOptions& o);  // R only
bool FrameLargeEnough(const Index3& n, int R);
// Adds frame planes [z_begin, z_end) to the sums; the window (labels and grey) holds frame planes from
// window_z0 on, including z_begin - 1 and z_end where the frame has them.
void AccumulatePureGrey(const PhaseVolume& labels, const AnyVolume& grey, std::int64_t z_begin, std::int64_t z_end,
                        std::int64_t window_z0, const Index3& n, PureGreySums& sums);
ForwardModelTerms FinishForwardModelTerms(const PureGreySums& sums, const Index3& n, const ForwardModelOptions& o);
// Refines frame planes [z0, z1) in a window of labels (and grey values) holding frame planes from
// window_z0 on, which must include the slab's margins (2 filter radii + R planes each side, clipped).
std::int64_t RefineSlab(PhaseVolume& window, const AnyVolume& grey_window, std::int64_t window_z0, std::int64_t z0,
                        std::int64_t z1, const Index3& n, const ForwardModelTerms& t, const ForwardModelOptions& o,
                        ForwardModelReport& report);
}  // namespace internal

}  // namespace op4d
