// Global thresholding: Otsu (2 classes) and multi-Otsu (K classes). The baseline against which the
// probabilistic (Gaussian mixture) segmentation is measured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d {

struct ThresholdOptions {
  int classes = 2;   // K >= 2: number of intensity classes
  int bins = 256;    // histogram bins between the minimum and maximum grey value
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct ThresholdResult {
  std::vector<double> thresholds;     // K-1 increasing grey values; class c is (t[c-1], t[c]]
  double between_class_variance = 0;  // the maximised criterion (grey value²)
  double min_value = 0, max_value = 0;
};

// Maximises the between-class variance of the grey-value histogram (Otsu 1979; multi-level by
// dynamic programming over the histogram, exact on the binned histogram).
ThresholdResult MultiOtsu(const AnyVolume& grey, const ThresholdOptions& options);

// Labels voxels by class: class c (0 = darkest) gets class_labels[c].
PhaseVolume ApplyThresholds(const AnyVolume& grey, const std::vector<double>& thresholds,
                            const std::vector<std::uint8_t>& class_labels, ThreadBudget threads = {});

}  // namespace op4d
