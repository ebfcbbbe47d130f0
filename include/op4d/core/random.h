// The one source of pseudo-random numbers in op4d: splitmix64 (Steele, Lea & Flood 2014). Counter-
// based and identical on every platform, so seeded results do not depend on the standard library or
// on the thread count.
#pragma once

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

}  // namespace op4d
