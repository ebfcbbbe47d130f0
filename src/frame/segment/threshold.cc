#include "op4d/frame/segment/threshold.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "histogram.h"
#include "op4d/core/error.h"

namespace op4d {

bool ThresholdOptions::IsValid(std::string* why) const {
  if (classes < 2 || classes > 8) {
    if (why) *why = "classes must be 2..8";
    return false;
  }
  if (bins < classes || bins > 65536) {
    if (why) *why = "bins must be between classes and 65536";
    return false;
  }
  return true;
}

ThresholdResult MultiOtsu(const AnyVolume& grey, const ThresholdOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("threshold", why);
  const int B = options.bins, K = options.classes;
  ThresholdResult res;
  const internal::Histogram h = internal::BuildHistogram(grey, B, options.threads);
  const std::vector<std::int64_t>& hist = h.counts;
  res.min_value = h.lo;
  res.max_value = h.hi;
  const double width = h.width;
  // Prefix sums of weight and first moment (bin centres) → class "score" w·mu² for any bin range.
  std::vector<double> P(std::size_t(B) + 1, 0), S(std::size_t(B) + 1, 0);
  for (int i = 0; i < B; ++i) {
    const double c = res.min_value + (i + 0.5) * width;
    P[i + 1] = P[i] + double(hist[i]);
    S[i + 1] = S[i] + double(hist[i]) * c;
  }
  const double N = P[B];
  auto score = [&](int a, int b) {  // bins [a, b)
    const double w = P[b] - P[a];
    return w > 0 ? (S[b] - S[a]) * (S[b] - S[a]) / w : 0.0;
  };
  // best[k][b]: max sum of scores splitting bins [0, b) into k+1 classes.
  std::vector<std::vector<double>> best(std::size_t(K), std::vector<double>(std::size_t(B) + 1, -1));
  std::vector<std::vector<int>> arg(std::size_t(K), std::vector<int>(std::size_t(B) + 1, 0));
  for (int b = 1; b <= B; ++b) best[0][b] = score(0, b);
  for (int k = 1; k < K; ++k)
    for (int b = k + 1; b <= B; ++b)
      for (int a = k; a < b; ++a) {
        const double v = best[k - 1][a] + score(a, b);
        if (v > best[k][b]) {
          best[k][b] = v;
          arg[k][b] = a;
        }
      }
  std::vector<int> cuts;
  for (int k = K - 1, b = B; k > 0; --k) {
    b = arg[k][b];
    cuts.push_back(b);
  }
  std::reverse(cuts.begin(), cuts.end());
  // Every cut inside a run of empty bins gives the same partition; place the threshold mid-run.
  for (int c : cuts) {
    int lo = c, hi = c;
    while (lo > 0 && hist[std::size_t(lo - 1)] == 0) --lo;
    while (hi < B && hist[std::size_t(hi)] == 0) ++hi;
    res.thresholds.push_back(res.min_value + 0.5 * (lo + hi) * width);
  }
  const double mu = S[B] / N;
  res.between_class_variance = best[K - 1][B] / N - mu * mu;
  return res;
}

PhaseVolume ApplyThresholds(const AnyVolume& grey, const std::vector<double>& thresholds,
                            const std::vector<std::uint8_t>& class_labels, ThreadBudget threads) {
  if (class_labels.size() != thresholds.size() + 1)
    throw InvalidArgument("ApplyThresholds: need one label per class (" + std::to_string(thresholds.size() + 1) + ")");
  if (!std::is_sorted(thresholds.begin(), thresholds.end())) throw InvalidArgument("thresholds must increase");
  PhaseVolume out(GeometryOf(grey));
  std::visit(
      [&](const auto& v) {
        RunInArena(threads, [&] {
          tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, v.size(), 1 << 14), [&](const auto& r) {
            for (std::int64_t i = r.begin(); i != r.end(); ++i) {
              const double x = double(v[i]);
              const std::size_t c = std::size_t(std::lower_bound(thresholds.begin(), thresholds.end(), x) - thresholds.begin());
              out[i] = class_labels[c];
            }
          });
        });
      },
      grey);
  return out;
}

}  // namespace op4d
