// Deterministic frame contents shared by the store tests and their writer child process.
#pragma once

#include <cstdint>

#include "op4d/core/volume.h"

namespace op4d::test {

inline std::uint16_t PatternValue(std::int64_t k, std::int64_t z, std::int64_t y, std::int64_t x) {
  return static_cast<std::uint16_t>((k * 7919 + z * 131 + y * 17 + x * 3) & 0xffff);
}

inline Volume<std::uint16_t> PatternFrame(std::int64_t k, Index3 shape = {64, 56, 48}) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = {2.0, 1.0, 1.0};
  Volume<std::uint16_t> v(g);
  for (std::int64_t z = 0; z < shape[0]; ++z)
    for (std::int64_t y = 0; y < shape[1]; ++y)
      for (std::int64_t x = 0; x < shape[2]; ++x) v(z, y, x) = PatternValue(k, z, y, x);
  return v;
}

inline double PatternTime(std::int64_t k) { return 1.5 * double(k); }

}  // namespace op4d::test
