// Helpers shared by the benchmarks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "op4d/core/volume.h"

namespace op4d::bench {

// A memory line of /proc/self/status in KiB ("VmHWM:" peak resident, "VmRSS:" current), -1 if absent.
inline long StatusKiB(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + key.size());
  return -1;
}

// Peak resident memory of this process (KiB).
inline long PeakRssKiB() { return StatusKiB("VmHWM:"); }

// Resets the peak-RSS mark to the current resident size (Linux: 5 written to clear_refs).
inline void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Pore mask (1 = pore) of an n^3 random packing of solid spheres with radii in
// [r_min, r_min + r_span) voxels (in steps of 0.01), added until the solid fraction reaches `solid`. Seeded: reproducible.
inline Volume<std::uint8_t> SpherePacking(std::int64_t n, double r_min, double r_span, double solid) {
  Geometry g;
  g.shape = {n, n, n};
  Volume<std::uint8_t> m(g, 1);
  std::mt19937 rng(1);
  std::int64_t count = 0;
  while (count < solid * double(m.size())) {
    const double r = r_min + double(rng() % std::uint32_t(r_span * 100)) / 100.0;  // as the recorded runs drew them
    const double c[3] = {double(rng() % n), double(rng() % n), double(rng() % n)};
    const std::int64_t ri = std::int64_t(r) + 1;
    for (std::int64_t z = std::max<std::int64_t>(0, std::int64_t(c[0]) - ri); z <= std::min(n - 1, std::int64_t(c[0]) + ri); ++z)
      for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(c[1]) - ri); y <= std::min(n - 1, std::int64_t(c[1]) + ri); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(c[2]) - ri); x <= std::min(n - 1, std::int64_t(c[2]) + ri); ++x)
          if ((z - c[0]) * (z - c[0]) + (y - c[1]) * (y - c[1]) + (x - c[2]) * (x - c[2]) <= r * r && m(z, y, x)) {
            m(z, y, x) = 0;
            ++count;
          }
  }
  return m;
}

}  // namespace op4d::bench
