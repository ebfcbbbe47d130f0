// Grey-value histogram shared by the thresholding and mixture segmenters (internal).
#pragma once

#include <cstdint>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"
#include "op4d/frame/segment/gmm.h"

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

// The same histogram for a frame read block by block: the bins of the frame's finite range
// [lo, hi], then every block's finite values counted into them (the same bin of every value as
// BuildHistogram's, so the counts are identical).
Histogram EmptyHistogram(double lo, double hi, int bins);
void CountIntoHistogram(Histogram& h, const AnyVolume& block, ThreadBudget threads);

// FitGaussianMixture on a histogram already built.
GmmModel FitGaussianMixtureToHistogram(const Histogram& h, const GmmOptions& options);

}  // namespace op4d::internal
