#include "op4d/frame/transport/random_walk.h"

#include <tbb/parallel_for.h>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/core/random.h"

namespace op4d {
namespace {

// Maps an unbounded lattice coordinate into the box by the chosen tiling.
inline std::int64_t Fold(std::int64_t c, std::int64_t n, WalkTiling t) {
  if (t == WalkTiling::kPeriodic) {
    const std::int64_t m = c % n;
    return m < 0 ? m + n : m;
  }
  const std::int64_t period = 2 * n;
  std::int64_t m = c % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

}  // namespace

const char* ToString(WalkTiling t) { return t == WalkTiling::kPeriodic ? "periodic" : "mirrored"; }

bool RandomWalkOptions::IsValid(std::string* why) const {
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (walkers < 2) return bad("walkers must be >= 2");
  if (steps < 10) return bad("steps must be >= 10");
  if (batches < 2 || batches > walkers) return bad("batches must be in [2, walkers]");
  return true;
}

ResultTable RandomWalkResult::ToTable() const {
  ResultTable t{"random_walk", {{"axis", "1", {0, 1, 2}}, {"d_star", "1", {}}, {"d_star_error", "1", {}}, {"tau", "1", {}}}};
  for (int a = 0; a < 3; ++a) {
    t.columns[1].values.push_back(d_star(a, a));
    t.columns[2].values.push_back(d_star_error(a, a));
    t.columns[3].values.push_back(tau(a));
  }
  return t;
}

RandomWalkResult ComputeRandomWalkTensor(const Volume<std::uint8_t>& mask, const RandomWalkOptions& o) {
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("random walk", why);
  RandomWalkResult res;
  const Index3 s = mask.shape();
  const Vec3 sp = mask.spacing_um();
  std::vector<std::int64_t> phase;  // voxel indices of the phase
  for (std::int64_t i = 0; i < mask.size(); ++i)
    if (mask[i]) phase.push_back(i);
  if (phase.empty()) {
    res.message = "the phase is empty: no walkers";
    res.tau.setConstant(std::numeric_limits<double>::infinity());
    return res;
  }
  // Axis probabilities and the time step (D_bulk = 1).
  double inv_sum = 0;
  for (int a = 0; a < 3; ++a) inv_sum += 1.0 / (sp[a] * sp[a]);
  std::array<double, 3> cum;
  double acc = 0;
  for (int a = 0; a < 3; ++a) cum[a] = (acc += 1.0 / (sp[a] * sp[a]) / inv_sum);
  const double dt = 1.0 / (2.0 * inv_sum);
  // Checkpoints over the last half of the walk, for the slope fit.
  const int kPoints = 16;
  std::vector<std::int64_t> checkpoints;
  for (int k = 0; k <= kPoints; ++k) checkpoints.push_back(o.steps / 2 + (o.steps - o.steps / 2) * k / kPoints);
  // Per batch, per checkpoint: sums of dr_i dr_j (6 unique entries).
  const int B = o.batches;
  std::vector<std::vector<std::array<double, 6>>> sums(std::size_t(B), std::vector<std::array<double, 6>>(checkpoints.size()));
  RunInArena(o.threads, [&] {
    tbb::parallel_for(0, B, [&](int b) {
      const std::int64_t w0 = o.walkers * b / B, w1 = o.walkers * (b + 1) / B;
      for (std::int64_t w = w0; w < w1; ++w) {
        std::uint64_t rng = o.seed * 0x9E3779B97F4A7C15ull ^ (std::uint64_t(w) + 1) * 0xD1B54A32D192ED03ull;
        const std::int64_t start = phase[std::size_t(SplitMix64(rng) % phase.size())];
        std::int64_t c[3] = {start / (s[1] * s[2]), (start / s[2]) % s[1], start % s[2]};
        const std::int64_t c0[3] = {c[0], c[1], c[2]};
        std::size_t next = 0;
        for (std::int64_t step = 1; step <= o.steps; ++step) {
          const std::uint64_t r = SplitMix64(rng);
          const double u = UnitDouble(r);
          const int a = u < cum[0] ? 0 : u < cum[1] ? 1 : 2;
          const std::int64_t dir = (r & 1) ? 1 : -1;
          std::int64_t t[3] = {c[0], c[1], c[2]};
          t[a] += dir;
          const std::int64_t v = (Fold(t[0], s[0], o.tiling) * s[1] + Fold(t[1], s[1], o.tiling)) * s[2] + Fold(t[2], s[2], o.tiling);
          if (mask[v]) c[a] = t[a];
          while (next < checkpoints.size() && checkpoints[next] == step) {
            double d[3];
            for (int k = 0; k < 3; ++k) d[k] = double(c[k] - c0[k]) * sp[k];
            auto& e = sums[std::size_t(b)][next];
            e[0] += d[0] * d[0];
            e[1] += d[1] * d[1];
            e[2] += d[2] * d[2];
            e[3] += d[0] * d[1];
            e[4] += d[0] * d[2];
            e[5] += d[1] * d[2];
            ++next;
          }
        }
      }
    });
  });
  // Least-squares slope of <dr_i dr_j> against t over the checkpoints; D* = slope / 2.
  auto fit = [&](const std::vector<std::array<double, 6>>& m, std::int64_t n) {
    std::array<double, 6> slope{};
    double tm = 0;
    for (std::int64_t cp : checkpoints) tm += double(cp) * dt;
    tm /= double(checkpoints.size());
    double stt = 0;
    for (std::int64_t cp : checkpoints) stt += (double(cp) * dt - tm) * (double(cp) * dt - tm);
    for (int e = 0; e < 6; ++e) {
      double ym = 0;
      for (std::size_t k = 0; k < checkpoints.size(); ++k) ym += m[k][std::size_t(e)] / double(n);
      ym /= double(checkpoints.size());
      double sty = 0;
      for (std::size_t k = 0; k < checkpoints.size(); ++k)
        sty += (double(checkpoints[k]) * dt - tm) * (m[k][std::size_t(e)] / double(n) - ym);
      slope[std::size_t(e)] = sty / stt / 2.0;
    }
    Eigen::Matrix3d D;
    D << slope[0], slope[3], slope[4], slope[3], slope[1], slope[5], slope[4], slope[5], slope[2];
    return D;
  };
  std::vector<std::array<double, 6>> total(checkpoints.size());
  std::vector<Eigen::Matrix3d> per_batch;
  for (int b = 0; b < B; ++b) {
    for (std::size_t k = 0; k < checkpoints.size(); ++k)
      for (int e = 0; e < 6; ++e) total[k][std::size_t(e)] += sums[std::size_t(b)][k][std::size_t(e)];
    per_batch.push_back(fit(sums[std::size_t(b)], o.walkers * (b + 1) / B - o.walkers * b / B));
  }
  res.d_star = fit(total, o.walkers);
  Eigen::Matrix3d var = Eigen::Matrix3d::Zero();
  for (const Eigen::Matrix3d& d : per_batch) var += (d - res.d_star).cwiseAbs2();
  res.d_star_error = (var / double(B - 1) / double(B)).cwiseSqrt();
  for (int a = 0; a < 3; ++a) res.tau(a) = res.d_star(a, a) > 0 ? 1.0 / res.d_star(a, a) : std::numeric_limits<double>::infinity();
  res.time_um2 = double(o.steps) * dt;
  res.valid = true;
  res.message = std::to_string(o.walkers) + " walkers x " + std::to_string(o.steps) + " steps, " + ToString(o.tiling) +
                " tiling; slope fitted over the last half of the walk";
  return res;
}

}  // namespace op4d
