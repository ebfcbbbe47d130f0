#include "args.h"

#include <cmath>
#include <cstdlib>

#include "op4d/core/error.h"

namespace op4d::cli {

Args::Args(const std::string& command, int argc, char** argv, int first, const std::map<std::string, int>& options)
    : command_(command) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    const std::string name = a.substr(2);
    const auto it = options.find(name);
    if (it == options.end())
      throw ConfigError(a, "unknown option for 'op4d " + command + "' (see op4d " + command + " --help)");
    std::vector<std::string> vals;
    for (int n = 0; n < it->second; ++n) {
      if (i + 1 >= argc) throw ConfigError(a, "needs " + std::to_string(it->second) + " value(s)");
      vals.push_back(argv[++i]);
    }
    values_[name] = vals;
  }
}

std::string Args::String(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback : it->second[0];
}

std::string Args::Required(const std::string& name) const {
  if (!Has(name)) throw ConfigError("--" + name, "is required for 'op4d " + command_ + "'");
  return String(name);
}

double Args::ParseDouble(const std::string& name, const std::string& v) const {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !std::isfinite(x)) throw ConfigError("--" + name, "'" + v + "' is not a number");
  return x;
}

double Args::Double(const std::string& name, double fallback) const {
  return Has(name) ? ParseDouble(name, String(name)) : fallback;
}

long long Args::Int(const std::string& name, long long fallback) const {
  if (!Has(name)) return fallback;
  const std::string v = String(name);
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end) throw ConfigError("--" + name, "'" + v + "' is not an integer");
  return x;
}

std::vector<double> Args::Doubles(const std::string& name) const {
  std::vector<double> out;
  const auto it = values_.find(name);
  if (it != values_.end())
    for (const std::string& v : it->second) out.push_back(ParseDouble(name, v));
  return out;
}

std::optional<Vec3> Args::Triple(const std::string& name) const {
  if (!Has(name)) return std::nullopt;
  const auto v = Doubles(name);
  return Vec3{v.at(0), v.at(1), v.at(2)};
}

std::optional<Index3> Args::IndexTriple(const std::string& name) const {
  if (!Has(name)) return std::nullopt;
  const auto v = Doubles(name);
  Index3 out;
  for (int a = 0; a < 3; ++a) {
    if (v[a] != std::floor(v[a]) || v[a] < 0) throw ConfigError("--" + name, "needs three non-negative integers (z y x)");
    out[a] = std::int64_t(v[a]);
  }
  return out;
}

}  // namespace op4d::cli
