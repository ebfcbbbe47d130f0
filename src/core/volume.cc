#include "op4d/core/volume.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <cstdio>
#include <sstream>

namespace op4d {

namespace internal {
void* AllocateVoxels(std::size_t bytes) {
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  if (bytes < (std::size_t(1) << 20)) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, rounded);
  if (!p) throw std::bad_alloc();
  ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP it is a no-op
  return p;
}
void FreeVoxels(void* p) noexcept { std::free(p); }
}  // namespace internal

bool Geometry::SameGrid(const Geometry& o, double rel_tol) const {
  if (shape != o.shape) return false;
  for (int a = 0; a < 3; ++a) {
    const double s = std::max(std::abs(spacing_um[a]), std::abs(o.spacing_um[a]));
    if (std::abs(spacing_um[a] - o.spacing_um[a]) > rel_tol * s) return false;
  }
  return true;
}

bool Geometry::IsValid(std::string* why) const {
  static const char* kAxis[3] = {"z", "y", "x"};
  for (int a = 0; a < 3; ++a) {
    if (shape[a] < 0) {
      if (why) *why = std::string("negative size along ") + kAxis[a];
      return false;
    }
    if (!(spacing_um[a] > 0.0) || !std::isfinite(spacing_um[a])) {
      if (why) *why = std::string("spacing along ") + kAxis[a] + " must be a positive number of µm, got " +
                      std::to_string(spacing_um[a]);
      return false;
    }
    if (!std::isfinite(origin_um[a])) {
      if (why) *why = std::string("origin along ") + kAxis[a] + " is not finite";
      return false;
    }
  }
  return true;
}

std::string Geometry::ToString() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lldx%lldx%lld voxels (z,y,x), spacing (%g, %g, %g) um",
                static_cast<long long>(shape[0]), static_cast<long long>(shape[1]),
                static_cast<long long>(shape[2]), spacing_um[0], spacing_um[1], spacing_um[2]);
  return buf;
}

bool Box::Inside(const Index3& shape) const {
  for (int a = 0; a < 3; ++a)
    if (begin[a] < 0 || size[a] < 0 || begin[a] + size[a] > shape[a]) return false;
  return true;
}

ConstVolumeView::ConstVolumeView(const AnyVolume& v)
    : dtype_(TypeOf(v)), geometry_(&GeometryOf(v)), data_(RawData(v)) {}

DataType TypeOf(const AnyVolume& v) {
  return std::visit([](const auto& vol) { return DataTypeOf<typename std::decay_t<decltype(vol)>::value_type>::value; }, v);
}

const Geometry& GeometryOf(const AnyVolume& v) {
  return std::visit([](const auto& vol) -> const Geometry& { return vol.geometry(); }, v);
}

void SetGeometry(AnyVolume& v, const Geometry& g) {
  std::visit(
      [&](auto& vol) {
        if (vol.shape() != g.shape) throw InvalidArgument("SetGeometry: shape differs");
        vol.set_spacing_um(g.spacing_um);
        vol.set_origin_um(g.origin_um);
      },
      v);
}

AnyVolume MakeVolume(DataType t, const Geometry& g) {
  switch (t) {
    case DataType::kUInt8: return Volume<std::uint8_t>(g);
    case DataType::kUInt16: return Volume<std::uint16_t>(g);
    case DataType::kFloat32: return Volume<float>(g);
  }
  OP4D_CHECK_MSG(false, "unknown DataType");
}

const void* RawData(const AnyVolume& v) {
  return std::visit([](const auto& vol) -> const void* { return vol.data(); }, v);
}
void* RawData(AnyVolume& v) {
  return std::visit([](auto& vol) -> void* { return vol.data(); }, v);
}

LabelVolume ToLabels(const AnyVolume& v) {
  return std::visit(
      [](const auto& x) {
        LabelVolume l(x.geometry());
        for (std::int64_t i = 0; i < l.size(); ++i) l[i] = std::int32_t(std::lround(double(x[i])));
        return l;
      },
      v);
}

AnyVolume StorableLabels(const LabelVolume& labels) {
  std::int32_t lo = 0, hi = 0;
  for (std::int64_t i = 0; i < labels.size(); ++i) lo = std::min(lo, labels[i]), hi = std::max(hi, labels[i]);
  if (lo >= 0 && hi <= 65535) {
    Volume<std::uint16_t> l(labels.geometry());
    for (std::int64_t i = 0; i < l.size(); ++i) l[i] = std::uint16_t(labels[i]);
    return l;
  }
  Volume<float> l(labels.geometry());
  for (std::int64_t i = 0; i < l.size(); ++i) l[i] = float(labels[i]);
  return l;
}

Volume<float> ToFloat(const AnyVolume& v) {
  return std::visit(
      [](const auto& vol) {
        Volume<float> f(vol.geometry());
        const auto* in = vol.data();
        float* out = f.data();
        for (std::int64_t i = 0, n = vol.size(); i < n; ++i) out[i] = static_cast<float>(in[i]);
        return f;
      },
      v);
}

std::vector<Index3> BallOffsets(const Geometry& g, double radius_um) {
  std::vector<Index3> out{{0, 0, 0}};
  if (!(radius_um > 0)) return out;
  std::int64_t m[3];
  for (int a = 0; a < 3; ++a) m[a] = std::int64_t(std::floor(radius_um / g.spacing_um[a]));
  for (std::int64_t dz = -m[0]; dz <= m[0]; ++dz)
    for (std::int64_t dy = -m[1]; dy <= m[1]; ++dy)
      for (std::int64_t dx = -m[2]; dx <= m[2]; ++dx) {
        const double r2 = std::pow(double(dz) * g.spacing_um[0], 2) + std::pow(double(dy) * g.spacing_um[1], 2) +
                          std::pow(double(dx) * g.spacing_um[2], 2);
        if ((dz || dy || dx) && r2 <= radius_um * radius_um + 1e-9) out.push_back({dz, dy, dx});
      }
  return out;
}

}  // namespace op4d
