// Dense 3D volumes with physical geometry. Axis order is ZYX everywhere (memory and disk):
// x varies fastest. Spacing and origin are in micrometres, given as {z, y, x}.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/core/types.h"

namespace op4d {

using Index3 = std::array<std::int64_t, 3>;  // {z, y, x} voxel indices or sizes
using Vec3 = std::array<double, 3>;          // {z, y, x} physical values (µm)

// Shape, spacing and origin of a voxel grid. Voxel (z,y,x) has its centre at
// origin_um + {z,y,x} * spacing_um.
struct Geometry {
  Index3 shape{0, 0, 0};           // voxels along z, y, x
  Vec3 spacing_um{1.0, 1.0, 1.0};  // voxel size along z, y, x in µm (anisotropic is normal)
  Vec3 origin_um{0.0, 0.0, 0.0};   // centre of voxel (0,0,0) in µm

  std::int64_t voxel_count() const { return shape[0] * shape[1] * shape[2]; }
  double voxel_volume_um3() const { return spacing_um[0] * spacing_um[1] * spacing_um[2]; }
  bool SameGrid(const Geometry& o, double rel_tol = 1e-9) const;
  // Explains why the geometry is unusable (non-positive shape or spacing, non-finite values).
  bool IsValid(std::string* why) const;
  std::string ToString() const;  // "251x301x301 voxels, spacing (0.398, 0.398, 0.398) µm"
};

// A box of voxels: [begin, begin + size) along z, y, x.
struct Box {
  Index3 begin{0, 0, 0};
  Index3 size{0, 0, 0};
  std::int64_t voxel_count() const { return size[0] * size[1] * size[2]; }
  bool Inside(const Index3& shape) const;
};

namespace internal {
// Storage for voxel arrays. Blocks of 1 MiB and more are 2 MiB-aligned and marked for transparent
// huge pages: first-touch page faults dominate the cost of a fresh frame-sized array otherwise
// (measured: 256 MiB in 0.93 s with 4 KiB pages, 0.03 s with huge pages).
void* AllocateVoxels(std::size_t bytes);
void FreeVoxels(void* p) noexcept;

// The voxels of one volume: owned (allocated by AllocateVoxels, freed with the buffer) or borrowed
// from memory another owner keeps alive (a numpy array handed to the Python module): `keep` holds
// that owner until the buffer is gone. A copy always owns its voxels, so Volume keeps value
// semantics whichever kind it copies from; a move moves the borrow. T is trivially copyable.
template <class T>
class VoxelBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "voxels are trivially copyable");

 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  VoxelBuffer() = default;
  VoxelBuffer(std::size_t n, T fill) : data_(Allocate(n)), size_(n) { std::fill(data_, data_ + n, fill); }
  VoxelBuffer(const VoxelBuffer& o) : data_(Allocate(o.size_)), size_(o.size_) {
    if (size_) std::memcpy(data_, o.data_, size_ * sizeof(T));
  }
  VoxelBuffer(VoxelBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), keep_(std::move(o.keep_)) {}
  VoxelBuffer& operator=(const VoxelBuffer& o) {
    if (this != &o) *this = VoxelBuffer(o);
    return *this;
  }
  VoxelBuffer& operator=(VoxelBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      keep_ = std::move(o.keep_);
    }
    return *this;
  }
  ~VoxelBuffer() { Release(); }

  // n voxels at p, kept alive by keep (which must not be null); nothing is copied.
  static VoxelBuffer Borrow(T* p, std::size_t n, std::shared_ptr<const void> keep) {
    if (!keep) throw InvalidArgument("a borrowed voxel buffer needs an owner to keep it alive");
    VoxelBuffer b;
    b.data_ = p;
    b.size_ = n;
    b.keep_ = std::move(keep);
    return b;
  }
  bool borrowed() const { return keep_ != nullptr; }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  friend bool operator==(const VoxelBuffer& a, const VoxelBuffer& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const VoxelBuffer& a, const VoxelBuffer& b) { return !(a == b); }

 private:
  static T* Allocate(std::size_t n) { return n ? static_cast<T*>(AllocateVoxels(n * sizeof(T))) : nullptr; }
  void Release() noexcept {
    if (!keep_ && data_) FreeVoxels(data_);
    keep_.reset();
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::shared_ptr<const void> keep_;  // the borrowed memory's owner; null when the buffer owns data_
};
}  // namespace internal

// A dense, contiguous ZYX array of T with physical geometry. Value semantics (copies copy).
template <class T>
class Volume {
 public:
  using value_type = T;

  Volume() = default;
  explicit Volume(const Geometry& g, T fill = T{})
      : geometry_(g), data_(static_cast<std::size_t>(CheckedCount(g)), fill) {}
  // A volume over voxels someone else owns (ZYX, C order, g.voxel_count() of them), kept alive by
  // keep; nothing is copied. Copies of it own their voxels (value semantics); writes through it
  // reach the owner's memory.
  static Volume Borrow(const Geometry& g, T* data, std::shared_ptr<const void> keep) {
    Volume v;
    v.geometry_ = g;
    v.data_ = internal::VoxelBuffer<T>::Borrow(data, static_cast<std::size_t>(CheckedCount(g)), std::move(keep));
    return v;
  }
  bool borrowed() const { return data_.borrowed(); }

  const Geometry& geometry() const { return geometry_; }
  const Index3& shape() const { return geometry_.shape; }
  const Vec3& spacing_um() const { return geometry_.spacing_um; }
  const Vec3& origin_um() const { return geometry_.origin_um; }
  void set_spacing_um(const Vec3& s) { geometry_.spacing_um = s; }
  void set_origin_um(const Vec3& o) { geometry_.origin_um = o; }

  std::int64_t nz() const { return geometry_.shape[0]; }
  std::int64_t ny() const { return geometry_.shape[1]; }
  std::int64_t nx() const { return geometry_.shape[2]; }
  std::int64_t size() const { return static_cast<std::int64_t>(data_.size()); }
  bool empty() const { return data_.empty(); }

  std::int64_t Offset(std::int64_t z, std::int64_t y, std::int64_t x) const {
    return (z * ny() + y) * nx() + x;
  }
  T& operator()(std::int64_t z, std::int64_t y, std::int64_t x) { return data_[Offset(z, y, x)]; }
  const T& operator()(std::int64_t z, std::int64_t y, std::int64_t x) const {
    return data_[Offset(z, y, x)];
  }
  T& operator[](std::int64_t i) { return data_[i]; }
  const T& operator[](std::int64_t i) const { return data_[i]; }

  using Storage = internal::VoxelBuffer<T>;
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  Storage& values() { return data_; }
  const Storage& values() const { return data_; }

  // Copy of a sub-box; the copy's origin is moved so physical positions are kept.
  Volume<T> Crop(const Box& box) const;

 private:
  static std::int64_t CheckedCount(const Geometry& g) {
    std::string why;
    if (!g.IsValid(&why)) throw InvalidArgument("volume geometry: " + why);
    return g.voxel_count();
  }
  Geometry geometry_;
  Storage data_;
};

// Phase map: one small integer per voxel (values from the PhaseTable).
using PhaseVolume = Volume<std::uint8_t>;
// Component/particle labels: 0 = background, 1..N objects.
using LabelVolume = Volume<std::int32_t>;

// A volume of any of the stored voxel types: the one runtime dispatch point between files
// (whose type is known at run time) and typed kernels.
using AnyVolume = std::variant<Volume<std::uint8_t>, Volume<std::uint16_t>, Volume<float>>;

// A read-only, non-owning view of a volume of any stored type. Writers take this, so passing a
// typed Volume<T> never copies it into an AnyVolume. The viewed volume must outlive the view.
class ConstVolumeView {
 public:
  template <class T>
  ConstVolumeView(const Volume<T>& v)  // NOLINT: implicit by design
      : dtype_(DataTypeOf<T>::value), geometry_(&v.geometry()), data_(v.data()) {}
  ConstVolumeView(const AnyVolume& v);  // NOLINT: implicit by design
  DataType dtype() const { return dtype_; }
  const Geometry& geometry() const { return *geometry_; }
  const void* data() const { return data_; }
  std::size_t bytes() const { return std::size_t(geometry_->voxel_count()) * ByteSize(dtype_); }

 private:
  DataType dtype_;
  const Geometry* geometry_;
  const void* data_;
};

DataType TypeOf(const AnyVolume& v);
const Geometry& GeometryOf(const AnyVolume& v);
void SetGeometry(AnyVolume& v, const Geometry& g);  // spacing/origin only; shape must match
AnyVolume MakeVolume(DataType t, const Geometry& g);
const void* RawData(const AnyVolume& v);
Volume<float> ToFloat(const AnyVolume& v);  // float copy of a volume of any stored type
LabelVolume ToLabels(const AnyVolume& v);   // label copy (values rounded): stored uint16 or float32 labels
// Labels in a type the store holds: uint16 when every label fits (0..65535), else float32 (exact
// for integers up to 2^24). ToLabels reads either back.
AnyVolume StorableLabels(const LabelVolume& labels);

// Voxel offsets (dz, dy, dx) whose centres lie within radius_um of the origin voxel's centre on the
// grid's (anisotropic) spacing, the origin offset (0, 0, 0) first; only it for radius 0.
std::vector<Index3> BallOffsets(const Geometry& g, double radius_um);
void* RawData(AnyVolume& v);

template <class T>
Volume<T> Volume<T>::Crop(const Box& box) const {
  if (!box.Inside(shape())) throw InvalidArgument("crop box outside the volume");
  Geometry g = geometry_;
  g.shape = box.size;
  for (int a = 0; a < 3; ++a) g.origin_um[a] += box.begin[a] * g.spacing_um[a];
  Volume<T> out(g);
  for (std::int64_t z = 0; z < box.size[0]; ++z)
    for (std::int64_t y = 0; y < box.size[1]; ++y) {
      const T* src = &(*this)(box.begin[0] + z, box.begin[1] + y, box.begin[2]);
      std::copy(src, src + box.size[2], &out(z, y, 0));
    }
  return out;
}

}  // namespace op4d
