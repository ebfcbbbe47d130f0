// Denoising before segmentation: non-local means (NLM) for 3D volumes, and a Gaussian filter kept
// for comparison only.
//
// NLM replaces each voxel by a weighted mean of the voxels in its search window, the weight of a
// candidate y for the voxel x being
//   w(x, y) = exp(-max(d²(x, y) - 2σ², 0) / h²),  d² = mean squared difference of the patches at x and y
// (Buades, Coll & Morel 2005, with the 2σ² offset of their 2011 IPOL study). The voxel itself takes
// the largest weight given to any other candidate. Patch and search radii are given in µm and turned
// into voxels per axis, so an anisotropic grid gets a window of the same physical extent along every
// axis. σ is estimated from the volume when not given (robust MAD of the 3D pseudo-residuals of Coupé
// et al. 2008), and h = h_factor·σ.
//
// The work runs on z-slabs with a halo, each slab on tiles in parallel (TBB), and every output voxel
// is a function of its input neighbourhood only: the result is identical for any thread count and any
// slab size. NonLocalMeansStreamed reads its input slab by slab through a callback and hands each
// denoised slab to another, so a frame larger than memory (read from the store region by region) is
// processed with memory proportional to the slab.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <functional>
#include <string>

#include "op4d/core/parallel.h"
#include "op4d/core/progress.h"
#include "op4d/core/volume.h"

namespace op4d {

struct NlmOptions {
  double patch_radius_um = 0;   // patch half-width; 0 = one voxel of the finest axis
  double search_radius_um = 0;  // search half-width; 0 = three voxels of the finest axis
  double sigma = 0;             // noise standard deviation (grey units); 0 = estimate from the volume
  double h_factor = 0.45;       // h = h_factor * sigma
  std::int64_t slab_z = 32;     // z-slices per slab (memory ∝ slab_z · ny · nx)
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kOff;
  bool IsValid(std::string* why) const;
};

// Per-axis radii in voxels (z, y, x) for the options on the given spacing.
struct NlmRadii {
  Index3 patch{1, 1, 1};
  Index3 search{3, 3, 3};
};
NlmRadii ResolveNlmRadii(const NlmOptions& options, const Vec3& spacing_um);

struct NlmReport {
  double sigma = 0;          // noise σ used (estimated or given), grey units
  bool sigma_estimated = false;
  double h = 0;              // filtering strength, grey units
  NlmRadii radii;
  double seconds = 0;
};

// Robust estimate of the standard deviation of white noise: 1.4826 × MAD of the pseudo-residuals
// sqrt(6/7)·(u − mean of the 6 face neighbours) over interior voxels (every stride-th voxel along x).
// NaN values are skipped. Throws InvalidArgument for a volume with fewer than 3 voxels along an axis.
double EstimateNoiseSigma(const AnyVolume& grey, int stride = 1, ThreadBudget threads = {});

// The stride NonLocalMeans estimates sigma with when it is not given (about 1e6 samples).
int DefaultNoiseStride(const Geometry& frame);

// NonLocalMeans' conversion of its float result to the input's type: integers rounded and clamped
// (NaN to 0), float kept.
template <class T>
T NlmOutputValue(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    if (!(x == x)) return T(0);
    const float lo = float(std::numeric_limits<T>::min()), hi = float(std::numeric_limits<T>::max());
    return static_cast<T>(std::lround(std::clamp(x, lo, hi)));
  }
}

// Denoised copy of the volume, same type and geometry (integer types are rounded and clamped).
AnyVolume NonLocalMeans(const AnyVolume& grey, const NlmOptions& options, NlmReport* report = nullptr);

// Streamed form. read(box) must return the voxels of box (any supported type; the box always lies
// inside the frame); write(z0, slab) receives the denoised slices z0 .. z0 + slab.nz() - 1 in order,
// as float. sigma must be given (estimate it on a sample of slabs with EstimateNoiseSigma).
using RegionReader = std::function<AnyVolume(const Box& box)>;
using SlabWriter = std::function<void(std::int64_t z0, const Volume<float>& slab)>;
NlmReport NonLocalMeansStreamed(const Geometry& frame, const RegionReader& read, const SlabWriter& write,
                                const NlmOptions& options);

// EstimateNoiseSigma of a frame read slab by slab (slab_z planes plus one on either side per
// read): the same residuals, so the same value.
double EstimateNoiseSigmaStreamed(const Geometry& frame, const RegionReader& read, int stride, std::int64_t slab_z,
                                  ThreadBudget threads = {});

// Gaussian filter with σ in µm (per axis in voxels: σ/spacing; core GaussianSmooth, mirrored borders);
// same type and geometry as the input. For comparison with NLM.
AnyVolume GaussianFilter(const AnyVolume& grey, double sigma_um, ThreadBudget threads = {});

}  // namespace op4d
