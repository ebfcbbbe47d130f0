#include "histogram.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <cmath>
#include <limits>

#include "op4d/core/error.h"

namespace op4d::internal {

Histogram BuildHistogram(const AnyVolume& grey, int bins, ThreadBudget threads) {
  Histogram h;
  std::visit(
      [&](const auto& v) {
        if (v.empty()) throw InvalidArgument("histogram of an empty volume");
        using P = std::pair<double, double>;
        const P mm = RunInArena(threads, [&] {
          return tbb::parallel_reduce(
              tbb::blocked_range<std::int64_t>(0, v.size(), 1 << 16),
              P{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()},
              [&](const tbb::blocked_range<std::int64_t>& r, P m) {
                for (std::int64_t i = r.begin(); i != r.end(); ++i) {
                  const double x = double(v[i]);
                  if (!std::isfinite(x)) continue;
                  m.first = std::min(m.first, x);
                  m.second = std::max(m.second, x);
                }
                return m;
              },
              [](P a, const P& b) { return P{std::min(a.first, b.first), std::max(a.second, b.second)}; });
        });
        if (!std::isfinite(mm.first)) throw InvalidArgument("the volume has no finite grey value");
        h = EmptyHistogram(mm.first, mm.second, bins);
      },
      grey);
  CountIntoHistogram(h, grey, threads);
  return h;
}

Histogram EmptyHistogram(double lo, double hi, int bins) {
  Histogram h;
  h.lo = lo;
  h.hi = hi;
  h.width = h.hi > h.lo ? (h.hi - h.lo) / bins : 1.0;
  h.counts.assign(std::size_t(bins), 0);
  return h;
}

void CountIntoHistogram(Histogram& h, const AnyVolume& block, ThreadBudget threads) {
  const int bins = int(h.counts.size());
  const double scale = h.hi > h.lo ? bins / (h.hi - h.lo) : 0.0;
  std::visit(
      [&](const auto& v) {
        const std::vector<std::int64_t> c = RunInArena(threads, [&] {
          return tbb::parallel_reduce(
              tbb::blocked_range<std::int64_t>(0, v.size(), 1 << 16), std::vector<std::int64_t>(std::size_t(bins), 0),
              [&](const tbb::blocked_range<std::int64_t>& r, std::vector<std::int64_t> c) {
                for (std::int64_t i = r.begin(); i != r.end(); ++i) {
                  const double x = double(v[i]);
                  if (!std::isfinite(x)) continue;
                  ++c[std::size_t(std::min<std::int64_t>(bins - 1, std::int64_t((x - h.lo) * scale)))];
                }
                return c;
              },
              [](std::vector<std::int64_t> a, const std::vector<std::int64_t>& b) {
                for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
                return a;
              });
        });
        for (std::size_t i = 0; i < c.size(); ++i) {
          h.counts[i] += c[i];
          h.total += c[i];
        }
      },
      block);
}

}  // namespace op4d::internal
