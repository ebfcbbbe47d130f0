#include "op4d/frame/segment/gmm.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "histogram.h"
#include "op4d/core/error.h"
#include "op4d/core/random.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {
namespace {

constexpr double kSqrt2Pi = 2.5066282746310002;

// Lloyd iterations on the histogram: bins to the nearest mean, means to the weighted centroid.
void KMeans(const internal::Histogram& h, std::vector<double>& means) {
  const std::size_t K = means.size();
  for (int it = 0; it < 50; ++it) {
    std::vector<double> s(K, 0), w(K, 0);
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
      if (!h.counts[i]) continue;
      const double x = h.Centre(i);
      std::size_t best = 0;
      for (std::size_t k = 1; k < K; ++k)
        if (std::abs(x - means[k]) < std::abs(x - means[best])) best = k;
      s[best] += double(h.counts[i]) * x;
      w[best] += double(h.counts[i]);
    }
    bool moved = false;
    for (std::size_t k = 0; k < K; ++k)
      if (w[k] > 0 && s[k] / w[k] != means[k]) {
        means[k] = s[k] / w[k];
        moved = true;
      }
    std::sort(means.begin(), means.end());
    if (!moved) break;
  }
}

}  // namespace

const char* ToString(GmmInit i) { return i == GmmInit::kKMeansPP ? "kmeans++" : "quantiles"; }

GmmInit GmmInitFromString(const std::string& s) {
  if (s == "quantiles") return GmmInit::kQuantiles;
  if (s == "kmeans++") return GmmInit::kKMeansPP;
  throw ConfigError("init", "'" + s + "' is not one of quantiles, kmeans++");
}

bool GmmOptions::IsValid(std::string* why) const {
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (components < 1 || components > 16) return bad("components must be 1..16");
  if (bins < 4 * components || bins > (1 << 20)) return bad("bins must be at least 4 per component and at most 2^20");
  if (max_iterations < 1) return bad("max_iterations must be >= 1");
  if (!(tolerance > 0)) return bad("tolerance must be > 0");
  return true;
}

GmmModel FitGaussianMixture(const AnyVolume& grey, const GmmOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("gmm", why);
  return internal::FitGaussianMixtureToHistogram(internal::BuildHistogram(grey, options.bins, options.threads), options);
}

GmmModel internal::FitGaussianMixtureToHistogram(const internal::Histogram& h, const GmmOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("gmm", why);
  if (!(h.hi > h.lo)) throw InvalidArgument("the volume is constant: no mixture to fit");
  const std::size_t K = std::size_t(options.components), B = h.counts.size();
  const double N = double(h.total);
  // Initial means.
  std::vector<double> means(K);
  if (options.init == GmmInit::kQuantiles) {
    std::int64_t cum = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < B && k < K; ++i) {
      cum += h.counts[i];
      while (k < K && double(cum) >= (double(k) + 0.5) / double(K) * N) means[k++] = h.Centre(i);
    }
  } else {
    std::uint64_t state = options.seed;
    auto sample = [&](const std::vector<double>& w) {
      const double total = std::accumulate(w.begin(), w.end(), 0.0);
      double u = UnitDouble(SplitMix64(state)) * total;
      for (std::size_t i = 0; i < B; ++i)
        if ((u -= w[i]) <= 0) return h.Centre(i);
      return h.Centre(B - 1);
    };
    std::vector<double> w(B);
    for (std::size_t i = 0; i < B; ++i) w[i] = double(h.counts[i]);
    means[0] = sample(w);
    for (std::size_t k = 1; k < K; ++k) {
      for (std::size_t i = 0; i < B; ++i) {
        double d = std::abs(h.Centre(i) - means[0]);
        for (std::size_t j = 1; j < k; ++j) d = std::min(d, std::abs(h.Centre(i) - means[j]));
        w[i] = double(h.counts[i]) * d * d;
      }
      means[k] = sample(w);
    }
    std::sort(means.begin(), means.end());
  }
  KMeans(h, means);
  // Initial weights and sigmas from the k-means partition.
  GmmModel m;
  m.means = means;
  m.weights.assign(K, 0);
  m.sigmas.assign(K, 0);
  {
    std::vector<double> s2(K, 0);
    for (std::size_t i = 0; i < B; ++i) {
      if (!h.counts[i]) continue;
      const double x = h.Centre(i);
      std::size_t best = 0;
      for (std::size_t k = 1; k < K; ++k)
        if (std::abs(x - means[k]) < std::abs(x - means[best])) best = k;
      m.weights[best] += double(h.counts[i]);
      s2[best] += double(h.counts[i]) * (x - means[best]) * (x - means[best]);
    }
    for (std::size_t k = 0; k < K; ++k) {
      m.sigmas[k] = m.weights[k] > 0 ? std::sqrt(s2[k] / m.weights[k]) : (h.hi - h.lo) / (2.0 * double(K));
      m.sigmas[k] = std::max(m.sigmas[k], h.width);
      m.weights[k] = std::max(m.weights[k] / N, 1e-6);
    }
  }
  // EM on the binned data (each bin centre carries its count).
  std::vector<double> r(K);
  double prev = -std::numeric_limits<double>::infinity();
  m.message = "reached max_iterations without meeting the tolerance";
  for (int it = 1; it <= options.max_iterations; ++it) {
    std::vector<double> nk(K, 0), sx(K, 0), sxx(K, 0);
    double ll = 0;
    for (std::size_t i = 0; i < B; ++i) {
      if (!h.counts[i]) continue;
      const double x = h.Centre(i), c = double(h.counts[i]);
      double s = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const double z = (x - m.means[k]) / m.sigmas[k];
        r[k] = m.weights[k] * std::exp(-0.5 * z * z) / (kSqrt2Pi * m.sigmas[k]);
        s += r[k];
      }
      if (!(s > 0)) continue;  // far in every tail: no information
      ll += c * std::log(s);
      for (std::size_t k = 0; k < K; ++k) {
        const double q = c * r[k] / s;
        nk[k] += q;
        sx[k] += q * x;
        sxx[k] += q * x * x;
      }
    }
    for (std::size_t k = 0; k < K; ++k) {
      if (nk[k] < 1e-9 * N) {
        m.message = "component " + std::to_string(k) + " lost all its weight at iteration " + std::to_string(it);
        m.iterations = it;
        m.converged = false;
        m.log_likelihood = ll / N;
        return m;
      }
      m.weights[k] = nk[k] / N;
      m.means[k] = sx[k] / nk[k];
      m.sigmas[k] = std::sqrt(std::max(sxx[k] / nk[k] - m.means[k] * m.means[k], h.width * h.width));
    }
    if (options.tied_sigma) {  // one pooled within-class variance
      double ss = 0;
      for (std::size_t k = 0; k < K; ++k) ss += sxx[k] - nk[k] * m.means[k] * m.means[k];
      const double tied = std::sqrt(std::max(ss / N, h.width * h.width));
      for (double& sg : m.sigmas) sg = tied;
    }
    m.iterations = it;
    m.log_likelihood = ll / N;
    if (std::abs(m.log_likelihood - prev) < options.tolerance) {
      m.converged = true;
      m.message = "converged: log-likelihood change below " + std::to_string(options.tolerance);
      break;
    }
    prev = m.log_likelihood;
  }
  // Order components by mean.
  std::vector<std::size_t> order(K);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return m.means[a] < m.means[b]; });
  GmmModel sorted = m;
  for (std::size_t k = 0; k < K; ++k) {
    sorted.weights[k] = m.weights[order[k]];
    sorted.means[k] = m.means[order[k]];
    sorted.sigmas[k] = m.sigmas[order[k]];
  }
  return sorted;
}

ProbabilisticSegmentation ClassifyGaussianMixture(const AnyVolume& grey, const GmmModel& model,
                                                  const std::vector<std::uint8_t>& class_labels, bool keep_posteriors,
                                                  ThreadBudget threads) {
  const std::size_t K = model.means.size();
  if (K == 0 || K > 16 || model.weights.size() != K || model.sigmas.size() != K)
    throw InvalidArgument("Gaussian mixture model is empty, inconsistent or has more than 16 components");
  if (class_labels.size() != K)
    throw InvalidArgument("need one phase label per mixture component (" + std::to_string(K) + ")");
  const Geometry& g = GeometryOf(grey);
  ProbabilisticSegmentation out;
  out.labels = PhaseVolume(g);
  if (keep_posteriors)  // one at a time: assign(K, proto) would hold a (K + 1)-th copy at once
    for (std::size_t k = 0; k < K; ++k) out.posteriors.emplace_back(g);
  // Posteriors of one grey value; NaN gets label of the first class and zero posteriors.
  auto classify = [&](double x, std::uint8_t* label, std::uint8_t* post) {
    double p[16], s = 0;
    for (std::size_t k = 0; k < K; ++k) {
      const double z = (x - model.means[k]) / model.sigmas[k];
      // log-domain would be safer far in the tails; relative to the best class it is exact enough
      p[k] = model.weights[k] * std::exp(-0.5 * z * z) / model.sigmas[k];
      s += p[k];
    }
    std::size_t best = 0;
    if (!(s > 0)) {  // every density underflows: nearest mean in units of sigma
      double bz = std::abs(x - model.means[0]) / model.sigmas[0];
      for (std::size_t k = 1; k < K; ++k) {
        const double z = std::abs(x - model.means[k]) / model.sigmas[k];
        if (z < bz) {
          bz = z;
          best = k;
        }
      }
      for (std::size_t k = 0; k < K; ++k) p[k] = k == best ? 1.0 : 0.0;
      s = 1;
    } else {
      for (std::size_t k = 1; k < K; ++k)
        if (p[k] > p[best]) best = k;
    }
    *label = class_labels[best];
    for (std::size_t k = 0; k < K; ++k) post[k] = std::uint8_t(std::lround(255.0 * p[k] / s));
  };
  std::visit(
      [&](const auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        constexpr bool kLut = sizeof(T) <= 2 && std::is_integral_v<T>;
        // Integer grey values: classify every possible value once.
        std::vector<std::uint8_t> lut_label, lut_post;
        if constexpr (kLut) {
          const std::size_t n = std::size_t(1) << (8 * sizeof(T));
          lut_label.resize(n);
          lut_post.resize(n * K);
          for (std::size_t x = 0; x < n; ++x) classify(double(x), &lut_label[x], &lut_post[x * K]);
        }
        RunInArena(threads, [&] {
          tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, v.size(), 1 << 14), [&](const auto& r) {
            std::uint8_t post[16];
            for (std::int64_t i = r.begin(); i != r.end(); ++i) {
              const std::uint8_t* pp;
              if constexpr (kLut) {
                const std::size_t x = std::size_t(v[i]);
                out.labels[i] = lut_label[x];
                pp = &lut_post[x * K];
              } else {
                classify(double(v[i]), &out.labels[i], post);
                pp = post;
              }
              if (keep_posteriors)
                for (std::size_t k = 0; k < K; ++k) out.posteriors[k][i] = pp[k];
            }
          });
        });
      },
      grey);
  return out;
}

std::int64_t ResolvePartialVolume(PhaseVolume& labels, const AnyVolume& grey, const GmmModel& model,
                                  const std::vector<std::uint8_t>& class_labels, int reach, ThreadBudget threads) {
  const std::size_t K = model.means.size();
  if (class_labels.size() != K) throw InvalidArgument("need one phase label per mixture component");
  if (reach < 1) throw InvalidArgument("partial-volume reach must be >= 1 voxel, got " + std::to_string(reach));
  const Geometry& g = GeometryOf(grey);
  if (!g.SameGrid(labels.geometry())) throw InvalidArgument("labels and grey volume differ in geometry");
  if (K < 3) return 0;
  std::array<int, 256> class_of;
  class_of.fill(-1);
  for (std::size_t k = K; k-- > 0;) class_of[class_labels[k]] = int(k);
  // The three grid axes (diagonal lines would also catch genuine thin layers at triple lines).
  const std::array<std::array<int, 3>, 3> dirs{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  const Index3 n = g.shape;
  std::vector<std::vector<std::pair<std::int64_t, std::uint8_t>>> per_slice(static_cast<std::size_t>(n[0]));
  std::visit(
      [&](const auto& v) {
        RunInArena(threads, [&] {
          tbb::parallel_for(std::int64_t(0), n[0], [&](std::int64_t z) {
            auto& out = per_slice[std::size_t(z)];
            for (std::int64_t y = 0; y < n[1]; ++y)
              for (std::int64_t x = 0; x < n[2]; ++x) {
                const int m = class_of[labels(z, y, x)];
                if (m <= 0 || m + 1 >= int(K)) continue;  // only intermediate classes
                // First class other than m along a ray, within reach; -1 if none.
                auto first = [&](const std::array<int, 3>& d, int sign) {
                  for (int s = 1; s <= reach; ++s) {
                    const std::int64_t zz = z + sign * s * d[0], yy = y + sign * s * d[1], xx = x + sign * s * d[2];
                    if (zz < 0 || yy < 0 || xx < 0 || zz >= n[0] || yy >= n[1] || xx >= n[2]) return -1;
                    const int c = class_of[labels(zz, yy, xx)];
                    if (c != m) return c;
                  }
                  return -1;
                };
                int lo = -1, hi = -1;
                for (const auto& d : dirs) {
                  const int c1 = first(d, 1), c2 = first(d, -1);
                  if (c1 < 0 || c2 < 0) continue;
                  const int a = std::min(c1, c2), b = std::max(c1, c2);
                  if (a < m && b > m && (lo < 0 || double(model.means[std::size_t(b)] - model.means[std::size_t(a)]) >
                                                        model.means[std::size_t(hi)] - model.means[std::size_t(lo)])) {
                    lo = a;
                    hi = b;
                  }
                }
                if (lo < 0) continue;
                const double gx = double(v(z, y, x));
                const int c = gx < 0.5 * (model.means[std::size_t(lo)] + model.means[std::size_t(hi)]) ? lo : hi;
                out.emplace_back(v.Offset(z, y, x), class_labels[std::size_t(c)]);
              }
          });
        });
      },
      grey);
  std::int64_t moved = 0;
  for (const auto& sl : per_slice)
    for (const auto& [i, l] : sl) {
      labels[i] = l;
      ++moved;
    }
  return moved;
}

}  // namespace op4d
