#include "op4d/core/filter.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace op4d {

void GaussianSmooth(float* data, const Index3& s, const Vec3& sigma_vox, ThreadBudget threads) {
  const std::int64_t stride[3] = {s[1] * s[2], s[2], 1};
  for (int axis = 0; axis < 3; ++axis) {
    const double sigma = sigma_vox[axis];
    const std::int64_t n = s[axis], st = stride[axis];
    if (!(sigma > 0) || n < 2) continue;
    const int r = int(std::ceil(3 * sigma));
    std::vector<double> k(std::size_t(2 * r + 1));
    double sum = 0;
    for (int i = -r; i <= r; ++i) sum += k[std::size_t(i + r)] = std::exp(-0.5 * i * i / (sigma * sigma));
    for (double& w : k) w /= sum;
    // Source position of padded sample i + r (i = -r .. n - 1 + r): mirrored at the faces, clamped for
    // kernels wider than the line.
    std::vector<std::int64_t> src(std::size_t(n + 2 * r));
    for (std::int64_t i = -r; i < n + r; ++i) {
      std::int64_t m = i;
      if (m < 0) m = -m - 1;
      if (m >= n) m = 2 * n - m - 1;
      src[std::size_t(i + r)] = std::clamp<std::int64_t>(m, 0, n - 1);
    }
    // Strided lines (axes z and y) are filtered W at a time: W neighbouring lines along x are copied into a padded block [n + 2r][W] with contiguous reads, convolved with the
    // inner loop over the W lines, and written back contiguously. Each output sums its taps in the
    // same order as a single line would: the result is the same for any W and thread count.
    if (axis == 2) {  // contiguous lines: one padded copy each
      RunInArena(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s[0] * s[1], 64), [&](const tbb::blocked_range<std::int64_t>& br) {
          std::vector<float> line(static_cast<std::size_t>(n + 2 * r));
          for (std::int64_t l = br.begin(); l < br.end(); ++l) {
            float* d = data + l * n;
            for (std::int64_t i = 0; i < n + 2 * r; ++i) line[std::size_t(i)] = d[src[std::size_t(i)]];
            for (std::int64_t i = 0; i < n; ++i) {
              double acc = 0;
              for (int j = 0; j <= 2 * r; ++j) acc += k[std::size_t(j)] * double(line[std::size_t(i + j)]);
              d[i] = float(acc);
            }
          }
        });
      });
      continue;
    }
    constexpr std::int64_t W = 32;
    const std::int64_t width = s[2];  // lines side by side along x
    const std::int64_t groups_per_row = (width + W - 1) / W;
    const std::int64_t rows = axis == 1 ? s[0] : s[1];
    RunInArena(threads, [&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, rows * groups_per_row, 4), [&](const tbb::blocked_range<std::int64_t>& br) {
        std::vector<float> block(static_cast<std::size_t>((n + 2 * r) * W));
        std::vector<double> acc(static_cast<std::size_t>(W));
        for (std::int64_t g = br.begin(); g < br.end(); ++g) {
          const std::int64_t row = g / groups_per_row, x0 = (g % groups_per_row) * W;
          const std::int64_t w = std::min(W, width - x0);
          const std::int64_t base = axis == 1 ? row * s[1] * s[2] + x0 : row * s[2] + x0;  // first line's first voxel
          for (std::int64_t i = 0; i < n + 2 * r; ++i) {
            const float* in = data + base + src[std::size_t(i)] * st;
            std::copy(in, in + w, block.data() + i * W);
          }
          for (std::int64_t i = 0; i < n; ++i) {
            std::fill(acc.begin(), acc.begin() + w, 0.0);
            for (int j = 0; j <= 2 * r; ++j) {
              const double kj = k[std::size_t(j)];
              const float* b = block.data() + (i + j) * W;
              for (std::int64_t l = 0; l < w; ++l) acc[std::size_t(l)] += kj * double(b[l]);
            }
            float* out = data + base + i * st;
            for (std::int64_t l = 0; l < w; ++l) out[l] = float(acc[std::size_t(l)]);
          }
        }
      });
    });
  }
}

namespace {

// One line, stride st, n samples: the causal then anticausal recursion of the cubic B-spline
// prefilter, mirror borders (c[-k] = c[k], c[n-1+k] = c[n-1-k]).
void BSplineLine(float* d, std::int64_t n, std::int64_t st, std::vector<double>* work) {
  const double z = std::sqrt(3.0) - 2.0, gain = 6.0;
  std::vector<double>& c = *work;
  c.resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) c[std::size_t(i)] = gain * double(d[i * st]);
  // Causal initial value: the mirrored series sum_k z^|k| c[k]; exact for short lines, truncated where
  // z^k is below 1e-12 (k = 21) for long ones.
  double c0 = 0;
  const std::int64_t horizon = 21;
  if (n <= horizon) {
    const double zn = std::pow(z, double(n - 1));
    double zk = z, z2n = zn * zn / z;  // z^1 and z^(2n-3)
    c0 = c[0] + zn * c[std::size_t(n - 1)];
    for (std::int64_t k = 1; k < n - 1; ++k) {
      c0 += (zk + z2n) * c[std::size_t(k)];
      zk *= z;
      z2n /= z;
    }
    c0 /= 1 - zn * zn;
  } else {
    double zk = 1;
    for (std::int64_t k = 0; k < horizon; ++k, zk *= z) c0 += zk * c[std::size_t(k)];
  }
  c[0] = c0;
  for (std::int64_t i = 1; i < n; ++i) c[std::size_t(i)] += z * c[std::size_t(i - 1)];
  c[std::size_t(n - 1)] = z / (z * z - 1) * (c[std::size_t(n - 1)] + z * c[std::size_t(n - 2)]);
  for (std::int64_t i = n - 2; i >= 0; --i) c[std::size_t(i)] = z * (c[std::size_t(i + 1)] - c[std::size_t(i)]);
  for (std::int64_t i = 0; i < n; ++i) d[i * st] = float(c[std::size_t(i)]);
}

}  // namespace

void CubicBSplinePrefilter(float* data, const Index3& s, ThreadBudget threads) {
  const std::int64_t stride[3] = {s[1] * s[2], s[2], 1};
  for (int axis = 0; axis < 3; ++axis) {
    const std::int64_t n = s[axis], st = stride[axis];
    if (n < 2) continue;  // a single sample is its own coefficient
    // The lines along `axis`: their first voxels, enumerated by the other two indices.
    const int a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;
    const std::int64_t lines = s[a1] * s[a2];
    RunInArena(threads, [&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, lines, 256), [&](const tbb::blocked_range<std::int64_t>& br) {
        std::vector<double> work;
        for (std::int64_t l = br.begin(); l < br.end(); ++l) {
          const std::int64_t i1 = l / s[a2], i2 = l % s[a2];
          BSplineLine(data + i1 * stride[a1] + i2 * stride[a2], n, st, &work);
        }
      });
    });
  }
}

}  // namespace op4d
