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
    const std::int64_t lines = s[0] * s[1] * s[2] / n;
    RunInArena(threads, [&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, lines, 256), [&](const tbb::blocked_range<std::int64_t>& br) {
        std::vector<float> line(static_cast<std::size_t>(n));
        for (std::int64_t l = br.begin(); l < br.end(); ++l) {
          std::int64_t base;  // index of the line's first voxel
          if (axis == 2) base = l * s[2];
          else if (axis == 1) base = (l / s[2]) * s[1] * s[2] + (l % s[2]);
          else base = l;
          for (std::int64_t i = 0; i < n; ++i) line[std::size_t(i)] = data[base + i * st];
          for (std::int64_t i = 0; i < n; ++i) {
            double acc = 0;
            for (int j = -r; j <= r; ++j) {
              std::int64_t m = i + j;
              if (m < 0) m = -m - 1;  // mirror at the faces
              if (m >= n) m = 2 * n - m - 1;
              m = std::clamp<std::int64_t>(m, 0, n - 1);  // kernels wider than the line
              acc += k[std::size_t(j + r)] * line[std::size_t(m)];
            }
            data[base + i * st] = float(acc);
          }
        }
      });
    });
  }
}

}  // namespace op4d
