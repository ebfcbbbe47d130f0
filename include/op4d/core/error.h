// Errors: three kinds of failure, three mechanisms (see STYLE.md §6).
//  - bad input (files, options, JSON): exceptions derived from op4d::Error, carrying the location;
//  - a solver that did not converge: a status in the result struct, never an exception;
//  - a broken invariant: OP4D_CHECK, on in Release too.
#pragma once

#include <stdexcept>
#include <string>

namespace op4d {

// Base of every error op4d reports for bad input. what() is one line, ready to print.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file, or an object inside a file, is missing, unreadable, malformed or unwritable.
// what() reads "<path>[:<object>]: <problem>".
class IoError : public Error {
 public:
  IoError(std::string path, std::string object, const std::string& problem);
  const std::string& path() const { return path_; }
  const std::string& object() const { return object_; }  // HDF5 dataset, TIFF page, CSV row…

 private:
  std::string path_;
  std::string object_;
};

// A configuration value (pipeline JSON, CLI flag, options struct) is wrong.
// `pointer` is a JSON pointer or flag name, e.g. "/steps/2/radius_um" or "--spacing".
class ConfigError : public Error {
 public:
  ConfigError(std::string pointer, const std::string& problem);
  const std::string& pointer() const { return pointer_; }

 private:
  std::string pointer_;
};

// An argument to a kernel is outside what the kernel accepts (shape mismatch, empty input…).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

namespace internal {
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line, const std::string& msg);
}  // namespace internal

}  // namespace op4d

// Invariant check, kept in Release builds. A failure is a bug in op4d, not bad input.
#define OP4D_CHECK(cond)                                                  \
  do {                                                                    \
    if (!(cond)) ::op4d::internal::CheckFailed(#cond, __FILE__, __LINE__, ""); \
  } while (0)
#define OP4D_CHECK_MSG(cond, msg)                                              \
  do {                                                                         \
    if (!(cond)) ::op4d::internal::CheckFailed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
