// The one source of pseudo-random numbers in op4d: splitmix64 (Steele, Lea & Flood 2014). Counter-
// based and identical on every platform, so seeded results do not depend on the standard library or
// on the thread count.
#pragma once

#include <cmath>
#include <cstdint>

namespace op4d {

// Stateless: the splitmix64 output for counter value x. Use as a hash of (seed, index, …).
inline std::uint64_t Mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Stateful: the next value of the stream whose counter is `state` (advanced).
inline std::uint64_t SplitMix64(std::uint64_t& state) {
  const std::uint64_t r = Mix64(state);
  state += 0x9e3779b97f4a7c15ull;
  return r;
}

// A double in [0, 1) from the top 53 bits.
inline double UnitDouble(std::uint64_t x) { return double(x >> 11) * 0x1.0p-53; }

// A seeded stream: uniform and standard-normal doubles from consecutive counter values.
struct CounterRng {
  std::uint64_t state;
  std::uint64_t Next() { return Mix64(state++); }
  double Uniform() { return UnitDouble(Next()); }
  double Normal() {
    const double u = Uniform(), u1 = u > 1e-300 ? u : 1e-300, u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};

// Standard normal from a counter: (seed, frame, voxel) -> N(0,1), Box-Muller on two hashes. The
// synthetic renderers' noise: identical for any thread count.
inline double HashNormal(std::uint64_t seed, std::uint64_t frame, std::uint64_t i) {
  const std::uint64_t h = Mix64(seed ^ Mix64(frame * 0x632be59bd9b4e019ull + i));
  const double u1 = UnitDouble(h) > 1e-300 ? UnitDouble(h) : 1e-300, u2 = UnitDouble(Mix64(h));
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace op4d
