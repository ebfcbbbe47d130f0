// Shared test helpers: temporary directories, closeness checks, the shared data folder.
#pragma once

#include <cmath>
#include <string>

#include <catch2/catch.hpp>

namespace op4d::test {

// A fresh directory under $TMPDIR, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Path of ../shared/data/<rel>, or "" when the data folder is absent (tests then SKIP-by-WARN).
std::string SharedData(const std::string& rel);

// |a - b| <= rel * max(|a|, |b|) (or both tiny), with a readable message.
inline void RequireClose(double a, double b, double rel, double abs_tol = 1e-12) {
  INFO("a = " << a << ", b = " << b << ", rel tol = " << rel);
  REQUIRE(std::abs(a - b) <= std::max(abs_tol, rel * std::max(std::abs(a), std::abs(b))));
}

// Runs a shell command, returns its exit status and captured stdout+stderr.
int RunCommand(const std::string& cmd, std::string* output);

}  // namespace op4d::test
