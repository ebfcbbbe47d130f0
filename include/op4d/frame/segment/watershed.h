// Particle separation: marker-controlled watershed on the Euclidean distance transform, markers from
// the h-maxima transform so shallow maxima (surface roughness, necks) do not split particles.
#pragma once

#include <cstdint>
#include <string>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {

struct WatershedOptions {
  double h_um = 0.2;  // maxima of the distance transform less than h (µm) above their saddle are merged
  Connectivity connectivity = Connectivity::k6;  // neighbourhood of the flooding (solids: 6, dual rule)
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct WatershedResult {
  LabelVolume labels;           // 0 outside the phase, particles 1..N in scan order of their first voxel
  std::int64_t particles = 0;
};

// Splits the voxels where mask != 0 into particles.
WatershedResult SeparateParticles(const Volume<std::uint8_t>& mask, const WatershedOptions& options);

}  // namespace op4d
