#include "op4d/frame/segment/forward_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"

namespace op4d {

std::int64_t ForwardModelReport::changed() const { return std::accumulate(changes.begin(), changes.end(), std::int64_t(0)); }

ForwardModelTerms MakeForwardModelTerms(const PhaseVolume& labels, const AnyVolume& grey, const ForwardModelOptions& o,
                                        const char* who) {
  const Geometry& g = labels.geometry();
  if (!std::visit([&](const auto& v) { return v.geometry().SameGrid(g); }, grey))
    throw InvalidArgument(std::string(who) + ": the grey frame and the labels are on different grids");
  internal::CheckForwardModelOptions(o, who);
  const ForwardModelTerms t = internal::ForwardModelSupport(o);
  if (!internal::FrameLargeEnough(g.shape, t.R)) return t;
  internal::PureGreySums sums;
  internal::AccumulatePureGrey(labels, grey, 0, labels.nz(), 0, g.shape, sums);
  return internal::FinishForwardModelTerms(sums, g.shape, o);
}

namespace internal {

void CheckForwardModelOptions(const ForwardModelOptions& o, const char* who) {
  for (int a = 0; a < 3; ++a)
    if (!(o.psf_sigma_vox[a] > 0) || !(o.psf_sigma_vox[a] <= 3))
      throw InvalidArgument(std::string(who) + ": psf_sigma_vox must be in (0, 3] voxels, got " + std::to_string(o.psf_sigma_vox[a]));
  if (!(o.smoothness >= 0)) throw InvalidArgument(std::string(who) + ": smoothness must be >= 0");
}

ForwardModelTerms ForwardModelSupport(const ForwardModelOptions& o) {
  ForwardModelTerms t;
  // The support of PSF * PSF (a Gaussian of sqrt(2) sigma) taken into account: 3 of its sigmas.
  t.R = std::max(2, int(std::ceil(3.0 * std::sqrt(2.0) * std::max({o.psf_sigma_vox[0], o.psf_sigma_vox[1], o.psf_sigma_vox[2]}))));
  return t;
}

bool FrameLargeEnough(const Index3& n, int R) { return n[0] > 2 * R && n[1] > 2 * R && n[2] > 2 * R; }

void AccumulatePureGrey(const PhaseVolume& labels, const AnyVolume& grey, std::int64_t z_begin, std::int64_t z_end,
                        std::int64_t window_z0, const Index3& n, PureGreySums& s) {
  // Pure grey value of every label: mean over voxels whose 26 neighbours share the label. Summed in
  // scan order of the frame, so a frame passed window by window gives the same sums.
  std::visit([&](const auto& v) {
    for (std::int64_t z = z_begin; z < z_end; ++z)
      for (std::int64_t y = 0; y < n[1]; ++y)
        for (std::int64_t x = 0; x < n[2]; ++x) {
          const std::int64_t wz = z - window_z0;
          const std::uint8_t l = labels(wz, y, x);
          const double value = double(v(wz, y, x));
          s.sum_all[l] += value;
          ++s.n_all[l];
          if (z == 0 || y == 0 || x == 0 || z == n[0] - 1 || y == n[1] - 1 || x == n[2] - 1) continue;
          bool pure = true;
          for (int dz = -1; dz <= 1 && pure; ++dz)
            for (int dy = -1; dy <= 1 && pure; ++dy)
              for (int dx = -1; dx <= 1 && pure; ++dx) pure = labels(wz + dz, y + dy, x + dx) == l;
          if (!pure) continue;
          s.sum_pure[l] += value;
          ++s.n_pure[l];
        }
  }, grey);
}

ForwardModelTerms FinishForwardModelTerms(const PureGreySums& s, const Index3& n, const ForwardModelOptions& o) {
  ForwardModelTerms t = ForwardModelSupport(o);
  const int R = t.R;
  for (int l = 0; l < 256; ++l) {
    if (s.n_all[l] == 0) continue;
    t.pure[l] = s.n_pure[l] > 0 ? s.sum_pure[l] / double(s.n_pure[l]) : s.sum_all[l] / double(s.n_all[l]);
    t.labels.push_back(std::uint8_t(l));
    t.pure_grey.push_back(t.pure[l]);
  }
  if (t.labels.size() < 2) return t;
  // |PSF|^2 and PSF * PSF from an impulse (the same discrete filter).
  const int W = 2 * R + 1;
  std::vector<float> imp(std::size_t(W * W * W), 0.0f);
  imp[std::size_t((R * W + R) * W + R)] = 1;
  GaussianSmooth(imp.data(), {W, W, W}, o.psf_sigma_vox);
  for (float v : imp) t.k2 += double(v) * v;
  GaussianSmooth(imp.data(), {W, W, W}, o.psf_sigma_vox);
  for (int z = -R; z <= R; ++z)
    for (int y = -R; y <= R; ++y)
      for (int x = -R; x <= R; ++x) {
        const float w = imp[std::size_t(((z + R) * W + y + R) * W + x + R)];
        if (w > 1e-6f) t.kk.push_back({(std::int64_t(z) * n[1] + y) * n[2] + x, w});
      }
  std::vector<double> sorted = t.pure_grey;
  std::sort(sorted.begin(), sorted.end());
  double d_min = INFINITY;
  for (std::size_t i = 1; i < sorted.size(); ++i) d_min = std::min(d_min, sorted[i] - sorted[i - 1]);
  t.beta = o.smoothness * d_min * d_min * t.k2;
  return t;
}

}  // namespace internal

namespace internal {

std::int64_t RefineSlab(PhaseVolume& window, const AnyVolume& grey_window, std::int64_t window_z0, std::int64_t z0,
                        std::int64_t z1, const Index3& n, const ForwardModelTerms& t, const ForwardModelOptions& o,
                        ForwardModelReport& rep) {
  const int R = t.R;
  const std::array<double, 256>& pure = t.pure;
  const double k2 = t.k2, beta = t.beta;
  const auto& kk = t.kk;
  const std::int64_t off[6] = {-n[1] * n[2], n[1] * n[2], -n[2], n[2], -1, 1};
  const std::int64_t fr = RefineFilterRadius(o);
  const std::int64_t plane = n[1] * n[2];
  const std::int64_t b0 = std::max<std::int64_t>(0, z0 - 2 * fr - R), b1 = std::min(n[0], z1 + 2 * fr + R);
  if (b0 < window_z0 || b1 > window_z0 + window.nz())
    throw InvalidArgument("forward-model refinement: the window does not hold the slab's margins");
  const Index3 bn{b1 - b0, n[1], n[2]};
  // Work on the window's planes; w = frame plane offset of the window.
  std::uint8_t* labels = window.data() - window_z0 * plane;
  std::vector<float> c(static_cast<std::size_t>(bn[0] * plane), 0.0f);
  for (std::int64_t i = 0; i < bn[0] * plane; ++i) c[std::size_t(i)] = float(pure[labels[b0 * plane + i]]);
  GaussianSmooth(c.data(), bn, o.psf_sigma_vox);
  std::visit([&](const auto& v) {
    const auto* g = v.data() - window_z0 * plane;
    for (std::int64_t i = 0; i < bn[0] * plane; ++i) c[std::size_t(i)] = float(double(g[b0 * plane + i])) - c[std::size_t(i)];
  }, grey_window);
  GaussianSmooth(c.data(), bn, o.psf_sigma_vox);
  std::int64_t total = 0;
  for (int sweep = 0; sweep < o.max_sweeps; ++sweep) {
    std::int64_t changed = 0;
    for (std::int64_t z = z0; z < z1; ++z)
      for (std::int64_t y = R; y < n[1] - R; ++y)
        for (std::int64_t x = R; x < n[2] - R; ++x) {
          const std::int64_t v = (z * n[1] + y) * n[2] + x, cv = v - b0 * plane;
          const std::uint8_t l = labels[v];
          std::uint8_t nb[6];
          bool boundary = false;
          for (int k = 0; k < 6; ++k) {
            nb[k] = labels[v + off[k]];
            boundary = boundary || nb[k] != l;
          }
          if (!boundary) continue;
          auto unlike = [&](std::uint8_t q) {
            int u = 0;
            for (std::uint8_t m : nb) u += m != q;
            return u;
          };
          const int unlike_l = unlike(l);
          std::uint8_t best = l;
          double best_delta = 0;
          for (int k = 0; k < 6; ++k) {
            const std::uint8_t q = nb[k];
            if (q == l || q == best) continue;
            const double d = pure[q] - pure[l];
            const double delta = d * d * k2 - 2 * d * double(c[std::size_t(cv)]) + beta * (unlike(q) - unlike_l);
            if (delta < best_delta) best_delta = delta, best = q;
          }
          if (best == l) continue;
          const float d = float(pure[best] - pure[l]);
          labels[v] = best;
          for (const auto& [o2, w] : kk) c[std::size_t(cv + o2)] -= d * w;
          ++changed;
        }
    if (std::size_t(sweep) >= rep.changes.size()) rep.changes.push_back(0);
    rep.changes[std::size_t(sweep)] += changed;
    total += changed;
    if (changed == 0) break;
  }
  return total;
}

}  // namespace internal

std::int64_t RefineByForwardModel(PhaseVolume& labels, const AnyVolume& grey, const ForwardModelOptions& o,
                                  ForwardModelReport* report) {
  const ForwardModelTerms t = MakeForwardModelTerms(labels, grey, o);
  ForwardModelReport local;
  ForwardModelReport& rep = report ? *report : local;
  rep = ForwardModelReport{};
  rep.labels = t.labels;
  rep.pure_grey = t.pure_grey;
  if (t.kk.empty()) return 0;
  const Index3 n = labels.shape();
  // Slabs of kRefineSlab z-slices, one after the other: C = PSF * (grey - PSF * pure(labels)) is
  // computed on the slab grown by twice the filter radius on each side (exact inside the slab: the
  // filter's border handling reaches no further), from the labels as the earlier slabs left them,
  // and the slab is swept to convergence. The work space is a slab, not the frame.
  std::int64_t total = 0;
  for (std::int64_t z0 = t.R; z0 < n[0] - t.R; z0 += internal::kRefineSlab)
    total += internal::RefineSlab(labels, grey, 0, z0, std::min(z0 + internal::kRefineSlab, n[0] - t.R), n, t, o, rep);
  return total;
}

}  // namespace op4d
