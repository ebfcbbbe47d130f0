// Grey-value histogram shared by the thresholding and mixture segmenters (internal).
#pragma once

#include <cstdint>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d::internal {

struct Histogram {
  double lo = 0, hi = 0;              // smallest and largest finite value
  double width = 1;                   // bin width (1 when lo == hi)
  std::vector<std::int64_t> counts;   // finite values only; NaN/inf are not counted
  std::int64_t total = 0;
  double Centre(std::size_t i) const { return lo + (double(i) + 0.5) * width; }
};

// Throws InvalidArgument for an empty volume or one without a finite value.
Histogram BuildHistogram(const AnyVolume& grey, int bins, ThreadBudget threads);

}  // namespace op4d::internal
