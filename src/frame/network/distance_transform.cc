#include "op4d/frame/network/distance_transform.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <limits>
#include <vector>

namespace op4d {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct LineWork {
  std::vector<double> f, d;
  std::vector<std::int64_t> v;
  std::vector<double> z;
  std::vector<double> block;  // a group of strided lines, gathered
  void Resize(std::int64_t n) {
    f.resize(std::size_t(n));
    d.resize(std::size_t(n));
    v.resize(std::size_t(n));
    z.resize(std::size_t(n) + 1);
  }
};

// d(q) = min_p (w (q - p))^2 + f(p) over the line; f may hold +inf. Lower envelope of parabolas.
void Envelope1D(LineWork& w, std::int64_t n, double spacing) {
  const double w2 = spacing * spacing;
  std::int64_t k = -1;
  for (std::int64_t q = 0; q < n; ++q) {
    const double fq = w.f[std::size_t(q)];
    if (fq == kInf) continue;
    double s = -kInf;
    while (k >= 0) {
      const std::int64_t p = w.v[std::size_t(k)];
      s = ((fq + w2 * double(q) * double(q)) - (w.f[std::size_t(p)] + w2 * double(p) * double(p))) / (2.0 * w2 * double(q - p));
      if (s > w.z[std::size_t(k)]) break;
      --k;
    }
    ++k;
    w.v[std::size_t(k)] = q;
    w.z[std::size_t(k)] = k == 0 ? -kInf : s;
    w.z[std::size_t(k) + 1] = kInf;
  }
  if (k < 0) {  // no finite value on the line
    for (std::int64_t q = 0; q < n; ++q) w.d[std::size_t(q)] = kInf;
    return;
  }
  std::int64_t j = 0;
  for (std::int64_t q = 0; q < n; ++q) {
    while (w.z[std::size_t(j) + 1] < double(q)) ++j;
    const std::int64_t p = w.v[std::size_t(j)];
    const double dq = double(q - p);
    w.d[std::size_t(q)] = w2 * dq * dq + w.f[std::size_t(p)];
  }
}

}  // namespace

Volume<float> DistanceTransform(const Volume<std::uint8_t>& mask, const DistanceOptions& options) {
  const Index3 s = mask.shape();
  const Vec3 sp = mask.spacing_um();
  Volume<double> sq(mask.geometry());
  tbb::enumerable_thread_specific<LineWork> work;
  // Pass 1, along x (contiguous): 0 on background, +inf on foreground, then the 1D envelope.
  RunInArena(options.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s[0] * s[1], 16), [&](const auto& r) {
      LineWork& w = work.local();
      w.Resize(s[2]);
      for (std::int64_t row = r.begin(); row != r.end(); ++row) {
        const std::uint8_t* m = mask.data() + row * s[2];
        for (std::int64_t x = 0; x < s[2]; ++x) w.f[std::size_t(x)] = m[x] ? kInf : 0.0;
        Envelope1D(w, s[2], sp[2]);
        std::copy(w.d.begin(), w.d.begin() + s[2], sq.data() + row * s[2]);
      }
    });
  });
  // Pass 2 along y and pass 3 along z. Lines are strided; 16 neighbouring lines (consecutive x) are
  // gathered per sweep so every cache line read is used.
  constexpr std::int64_t kGroup = 16;
  for (int axis : {1, 0}) {
    const std::int64_t n = s[axis];
    const std::int64_t stride = axis == 1 ? s[2] : s[1] * s[2];
    const std::int64_t outer = axis == 1 ? s[0] : s[1];  // the coordinate other than x and the line's
    const std::int64_t xgroups = (s[2] + kGroup - 1) / kGroup;
    RunInArena(options.threads, [&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, outer * xgroups, 4), [&](const auto& r) {
        LineWork& w = work.local();
        w.Resize(std::max(s[0], std::max(s[1], s[2])));
        std::vector<double>& block = w.block;
        block.resize(std::size_t(n * kGroup));
        for (std::int64_t t = r.begin(); t != r.end(); ++t) {
          const std::int64_t o = t / xgroups, x0 = (t % xgroups) * kGroup, m = std::min(kGroup, s[2] - x0);
          double* p = sq.data() + (axis == 1 ? o * s[1] * s[2] : o * s[2]) + x0;
          for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < m; ++j) block[std::size_t(j * n + i)] = p[i * stride + j];
          for (std::int64_t j = 0; j < m; ++j) {
            std::copy(block.begin() + j * n, block.begin() + (j + 1) * n, w.f.begin());
            Envelope1D(w, n, sp[axis]);
            std::copy(w.d.begin(), w.d.begin() + n, block.begin() + j * n);
          }
          for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < m; ++j) p[i * stride + j] = block[std::size_t(j * n + i)];
        }
      });
    });
  }
  Volume<float> out(mask.geometry());
  RunInArena(options.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, out.size(), 1 << 15), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) out[i] = float(std::sqrt(sq[i]));
    });
  });
  return out;
}

}  // namespace op4d
