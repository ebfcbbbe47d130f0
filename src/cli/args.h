// Minimal command-line parsing for op4d subcommands: --key value options, flags, positionals.
// Unknown options are errors (never warnings), naming the option and the subcommand.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "op4d/core/volume.h"

namespace op4d::cli {

class Args {
 public:
  // `options` maps option name → number of values it takes (0 = flag).
  Args(const std::string& command, int argc, char** argv, int first, const std::map<std::string, int>& options);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string String(const std::string& name, const std::string& fallback = "") const;
  std::string Required(const std::string& name) const;
  double Double(const std::string& name, double fallback) const;
  long long Int(const std::string& name, long long fallback) const;
  std::optional<Vec3> Triple(const std::string& name) const;
  std::optional<Index3> IndexTriple(const std::string& name) const;
  std::vector<double> Doubles(const std::string& name) const;
  bool help() const { return help_; }

 private:
  double ParseDouble(const std::string& name, const std::string& v) const;
  std::string command_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace op4d::cli
