// Internal HDF5 helpers shared by the store and the HDF5 importers (not installed, not public).
// HDF5 (Debian's serial build) is not thread-safe: call it from one thread only.
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

namespace op4d::internal::h5 {

// Owns an hid_t and closes it with the right H5*close.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Id() { Reset(); }
  void Reset();
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's printing of error stacks to stderr (once per process).
void SilenceErrors();
// The innermost message of the current HDF5 error stack, e.g. "No such file or directory".
std::string LastError();
// Throws op4d::IoError(path, object, what + ": " + LastError()).
[[noreturn]] void Fail(const std::string& path, const std::string& object, const std::string& what);

// True if every link along the absolute or relative path exists.
bool Exists(hid_t loc, const std::string& path);
// True if the file at path has the HDF5 signature.
bool IsHdf5(const std::string& path);

// File access list: latest format (needed for SWMR), HDF5's own file locking off (op4d locks).
Id FileAccess();

void WriteStringAttr(hid_t obj, const std::string& name, const std::string& value);
std::string ReadStringAttr(hid_t obj, const std::string& name);  // "" if absent
// A string attribute that may be scalar or an array, fixed or variable length.
std::vector<std::string> ReadStringsAttr(hid_t obj, const std::string& name);
void WriteDoublesAttr(hid_t obj, const std::string& name, const std::vector<double>& v);
std::vector<double> ReadDoublesAttr(hid_t obj, const std::string& name);  // empty if absent
void WriteInt64Attr(hid_t obj, const std::string& name, long long v);

// 1D float64 dataset written in one go (result columns).
void WriteDoubles1D(hid_t loc, const std::string& name, const std::vector<double>& v);
std::vector<double> ReadDoubles1D(hid_t ds);

// Names of the links directly below a group, sorted.
std::vector<std::string> ListChildren(hid_t group);

// Dataset shape.
std::vector<hsize_t> Dims(hid_t ds);

}  // namespace op4d::internal::h5
