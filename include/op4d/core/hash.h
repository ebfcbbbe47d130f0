// Content hashes and time stamps of provenance, run journals and result digests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace op4d {

// FNV-1a, 64 bit: fast, stable across platforms and releases (keys in run journals depend on it).
class Fnv1a {
 public:
  void Add(const void* data, std::size_t bytes);
  void AddField(const std::string& text);  // the text and a NUL, so "ab","c" and "a","bc" differ
  std::uint64_t value() const { return h_; }
  std::string Hex() const;  // 16 hex digits

 private:
  std::uint64_t h_ = 1469598103934665603ull;
};

// Fnv1a of a text, as 16 hex digits.
std::string Fnv1aHex(const std::string& text);

// The current UTC time, "2026-11-24T09:12:48Z".
std::string UtcNow();

}  // namespace op4d
