// Options and per-stage report of the in-process affine registration (no Eigen here: the ITK
// translation unit includes this, and ITK bundles its own Eigen).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"

namespace op4d {

enum class RegistrationMetric { kMeanSquares, kMattesMutualInformation };
enum class AffineModel { kTranslation, kRigid, kAffine };

struct AffineRegistrationOptions {
  AffineModel model = AffineModel::kAffine;  // rigid first, then affine when kAffine
  RegistrationMetric metric = RegistrationMetric::kMeanSquares;  // MI for frames of different contrast
  int levels = 3;                     // multi-resolution levels (shrink 2^(levels-1) ... 1); fewer when the
                                      // coarsest would be under 16 voxels along an axis
  int iterations = 200;               // per level and stage (upper bound)
  double min_step = 1e-6;             // optimiser stops when the step falls below (scaled units)
  double max_step = 1.0;              // first step (scaled units ~ voxels of physical shift)
  int mattes_bins = 50;               // histogram bins for Mattes MI
  double sampling_fraction = 1.0;     // share of reference voxels used by the metric (1 = all)
  // At most this many samples (a regular grid) per level (0 = no cap). Mean squares needs few: 2^18
  // recovers the built-in campaign's drift as 2^21 did, 3.4x faster (2^16 fell into a local
  // minimum). Mattes MI fills a joint histogram and needs more (2^18 lost the inverted-contrast case).
  std::int64_t max_samples = 1 << 18;
  std::int64_t max_samples_mutual_information = 1 << 21;
  // Start the rigid stage from the phase-correlation translation (PhaseCorrelationShift) when it
  // lowers the grey residual below the identity's: a campaign's drift accumulates, and from the
  // identity the descent stopped in a neighbouring particle's minimum once the drift passed about one
  // particle diameter (frame 16 of the 20-frame 256^3 bench: 12 um off, RESULTS).
  bool phase_correlation_start = true;
  std::uint64_t seed = 1;             // sampler seed when sampling_fraction < 1
  ThreadBudget threads;

  bool IsValid(std::string* why) const;
};

struct AffineStageReport {
  std::string stage;                  // "rigid" or "affine" or "translation"
  std::vector<int> iterations;        // per level
  double metric_value = 0;            // final metric of the stage (mean squares: grey^2; MI: negative)
  std::string stop_condition;         // ITK optimiser's own words
};

}  // namespace op4d
