#include "op4d/frame/uncertainty/ensemble.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "op4d/core/error.h"
#include "op4d/core/random.h"

namespace op4d {

double SortedQuantile(const std::vector<double>& s, double q) {
  if (s.empty()) throw InvalidArgument("SortedQuantile: no values");
  const double h = q * double(s.size() - 1);
  const std::size_t i = std::size_t(std::floor(h));
  if (i + 1 >= s.size()) return s.back();
  const double f = h - double(i);
  if (f == 0) return s[i];
  if (std::isinf(s[i + 1]) || std::isinf(s[i])) return s[i + 1];
  return s[i] + f * (s[i + 1] - s[i]);
}

EnsembleStat SummarizeEnsemble(double point, const std::vector<double>& values) {
  if (values.size() < 2)
    throw InvalidArgument("SummarizeEnsemble: an ensemble needs at least 2 samples, got " + std::to_string(values.size()));
  EnsembleStat s;
  s.point = point;
  s.samples = int(values.size());
  double sum = 0;
  for (double v : values) {
    if (std::isnan(v)) throw InvalidArgument("SummarizeEnsemble: a sample's value is NaN");
    if (std::isfinite(v)) sum += v, ++s.finite;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  s.mean = s.finite > 0 ? sum / s.finite : nan;
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.sd = s.finite > 1 ? std::sqrt(ss / (s.finite - 1)) : (s.finite == 1 ? 0.0 : nan);
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  s.p05 = SortedQuantile(sorted, 0.05);
  s.p95 = SortedQuantile(sorted, 0.95);
  return s;
}

PhaseVolume IndependentLabelSample(const std::vector<Volume<std::uint8_t>>& posteriors,
                                   const std::vector<std::uint8_t>& class_labels, std::uint64_t seed, ThreadBudget threads) {
  if (posteriors.empty()) throw InvalidArgument("IndependentLabelSample: no posteriors (a multi-Otsu frame has none)");
  if (posteriors.size() != class_labels.size())
    throw InvalidArgument("IndependentLabelSample: " + std::to_string(posteriors.size()) + " posterior maps for " +
                          std::to_string(class_labels.size()) + " classes");
  PhaseVolume out(posteriors[0].geometry(), class_labels[0]);
  const std::int64_t n = out.size();
  const std::uint64_t key = Mix64(seed ^ 0x2545f4914f6cdd1dull);
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 1 << 16), [&](const tbb::blocked_range<std::int64_t>& r) {
      for (std::int64_t i = r.begin(); i < r.end(); ++i) {
        int total = 0;
        for (const auto& p : posteriors) total += p[i];
        if (total == 0) continue;
        const double u = UnitDouble(Mix64(key ^ std::uint64_t(i))) * total;
        double acc = 0;
        std::size_t c = 0;
        for (; c + 1 < posteriors.size(); ++c) {
          acc += posteriors[c][i];
          if (u < acc) break;
        }
        out[i] = class_labels[c];
      }
    });
  });
  return out;
}

std::vector<double> ExpectedFractions(const std::vector<Volume<std::uint8_t>>& posteriors) {
  std::vector<double> f;
  if (posteriors.empty()) return f;
  const std::int64_t n = posteriors[0].size();
  std::vector<double> sum(posteriors.size(), 0.0);
  double all = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    int t = 0;
    for (std::size_t c = 0; c < posteriors.size(); ++c) t += posteriors[c][i];
    if (t == 0) continue;
    for (std::size_t c = 0; c < posteriors.size(); ++c) sum[c] += double(posteriors[c][i]) / t;
    all += 1;
  }
  for (double s : sum) f.push_back(all > 0 ? s / double(n) : 0.0);
  return f;
}

ResultTable SummarizeTableEnsemble(const std::string& name, const ResultTable& point, const std::vector<ResultTable>& samples,
                                   const std::vector<std::string>& keys) {
  if (samples.size() < 2)
    throw InvalidArgument("table ensemble '" + name + "': needs at least 2 samples, got " + std::to_string(samples.size()));
  std::vector<const ResultColumn*> key_columns;
  for (const std::string& k : keys) {
    const ResultColumn* c = point.Find(k);
    if (!c) throw InvalidArgument("table ensemble '" + name + "': the table '" + point.name + "' has no key column '" + k + "'");
    key_columns.push_back(c);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Row of sample table t matching point row r by the keys (row r itself without keys); -1 if none.
  auto find_row = [&](const ResultTable& t, std::size_t r) -> std::int64_t {
    if (keys.empty()) return r < t.rows() ? std::int64_t(r) : -1;
    for (std::size_t i = 0; i < t.rows(); ++i) {
      bool same = true;
      for (std::size_t k = 0; k < keys.size() && same; ++k) {
        const ResultColumn* c = t.Find(keys[k]);
        same = c && i < c->values.size() && c->values[i] == key_columns[k]->values[r];
      }
      if (same) return std::int64_t(i);
    }
    return -1;
  };
  ResultTable out;
  out.name = name;
  for (const ResultColumn* c : key_columns) out.columns.push_back({c->name, c->unit, c->values});
  std::vector<std::vector<std::int64_t>> rows(samples.size());  // sample -> point row -> sample row
  for (std::size_t s = 0; s < samples.size(); ++s)
    for (std::size_t r = 0; r < point.rows(); ++r) rows[s].push_back(find_row(samples[s], r));
  for (const ResultColumn& m : point.columns) {
    if (std::find(keys.begin(), keys.end(), m.name) != keys.end()) continue;
    std::vector<ResultColumn> cols;
    for (const char* suffix : {"", "_mean", "_sd", "_p05", "_p95"}) cols.push_back({m.name + suffix, m.unit, {}});
    for (std::size_t r = 0; r < point.rows(); ++r) {
      std::vector<double> v;
      for (std::size_t s = 0; s < samples.size(); ++s) {
        const ResultColumn* c = rows[s][r] >= 0 ? samples[s].Find(m.name) : nullptr;
        if (c && std::size_t(rows[s][r]) < c->values.size() && !std::isnan(c->values[std::size_t(rows[s][r])]))
          v.push_back(c->values[std::size_t(rows[s][r])]);
      }
      EnsembleStat st;
      if (v.size() >= 2) st = SummarizeEnsemble(m.values[r], v);
      else st.mean = st.sd = st.p05 = st.p95 = nan;
      const double values[5] = {m.values[r], st.mean, st.sd, st.p05, st.p95};
      for (int i = 0; i < 5; ++i) cols[std::size_t(i)].values.push_back(values[i]);
    }
    for (ResultColumn& c : cols) out.columns.push_back(std::move(c));
  }
  out.columns.push_back({"samples", "1", std::vector<double>(point.rows(), double(samples.size()))});
  return out;
}

}  // namespace op4d
