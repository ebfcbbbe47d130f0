// Internal: 26-neighbourhood addressing on a voxel grid, shared by the skeleton and the network.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "op4d/core/volume.h"

namespace op4d {

struct SkeletonGrid {
  std::int64_t nz, ny, nx;
  std::array<std::int64_t, 27> offset{};  // linear offset of neighbour bit (dz+1)*9 + (dy+1)*3 + (dx+1)
  std::array<double, 27> step_um{};       // physical length of the step to that neighbour
  double min_spacing;

  explicit SkeletonGrid(const Geometry& geo)
      : nz(geo.shape[0]), ny(geo.shape[1]), nx(geo.shape[2]),
        min_spacing(std::min({geo.spacing_um[0], geo.spacing_um[1], geo.spacing_um[2]})) {
    for (int b = 0; b < 27; ++b) {
      const int dz = b / 9 - 1, dy = b / 3 % 3 - 1, dx = b % 3 - 1;
      offset[b] = (dz * ny + dy) * nx + dx;
      step_um[b] = std::sqrt(dz * dz * geo.spacing_um[0] * geo.spacing_um[0] +
                             dy * dy * geo.spacing_um[1] * geo.spacing_um[1] +
                             dx * dx * geo.spacing_um[2] * geo.spacing_um[2]);
    }
  }
  Index3 Coords(std::int64_t i) const { return {i / (ny * nx), i / nx % ny, i % nx}; }
  bool OnFace(std::int64_t i) const {
    const Index3 c = Coords(i);
    return c[0] == 0 || c[1] == 0 || c[2] == 0 || c[0] == nz - 1 || c[1] == ny - 1 || c[2] == nx - 1;
  }
  // Whether neighbour bit b of the voxel at c lies inside the volume.
  bool InBounds(const Index3& c, int b) const {
    const std::int64_t z = c[0] + b / 9 - 1, y = c[1] + b / 3 % 3 - 1, x = c[2] + b % 3 - 1;
    return z >= 0 && y >= 0 && x >= 0 && z < nz && y < ny && x < nx;
  }
  // Bits of the 26 neighbours v of i (inside the volume) with (value[v] & flag) != 0.
  template <class Vec>
  std::uint32_t Gather(const Vec& value, std::int64_t i, std::uint8_t flag) const {
    const Index3 c = Coords(i);
    std::uint32_t m = 0;
    if (c[0] > 0 && c[1] > 0 && c[2] > 0 && c[0] < nz - 1 && c[1] < ny - 1 && c[2] < nx - 1) {
      for (int b = 0; b < 27; ++b)
        if (b != 13 && (value[i + offset[b]] & flag)) m |= 1u << b;
      return m;
    }
    for (int b = 0; b < 27; ++b)
      if (b != 13 && InBounds(c, b) && (value[i + offset[b]] & flag)) m |= 1u << b;
    return m;
  }
};

}  // namespace op4d
