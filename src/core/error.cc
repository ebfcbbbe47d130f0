#include "op4d/core/error.h"

#include <sstream>

namespace op4d {
namespace {
std::string Join(const std::string& path, const std::string& object, const std::string& problem) {
  std::string s = path.empty() ? std::string("<no path>") : path;
  if (!object.empty()) s += ":" + object;
  return s + ": " + problem;
}
}  // namespace

IoError::IoError(std::string path, std::string object, const std::string& problem)
    : Error(Join(path, object, problem)), path_(std::move(path)), object_(std::move(object)) {}

ConfigError::ConfigError(std::string pointer, const std::string& problem)
    : Error(pointer + ": " + problem), pointer_(std::move(pointer)) {}

namespace internal {
void CheckFailed(const char* expr, const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << "op4d internal check failed: " << expr << " at " << file << ":" << line;
  if (!msg.empty()) os << " (" << msg << ")";
  throw std::logic_error(os.str());
}
}  // namespace internal
}  // namespace op4d
