#include "op4d/core/hash.h"

#include <cstdio>
#include <ctime>

namespace op4d {

void Fnv1a::Add(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) h_ = (h_ ^ p[i]) * 1099511628211ull;
}

void Fnv1a::AddField(const std::string& text) {
  Add(text.data(), text.size());
  Add("", 1);
}

std::string Fnv1a::Hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

std::string Fnv1aHex(const std::string& text) {
  Fnv1a f;
  f.Add(text.data(), text.size());
  return f.Hex();
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace op4d
