// op4d volumes to and from ITK images (internal, shared by io and track/registration, the two places
// ITK is used; header-only, no module of its own). ITK's index order is
// (x, y, z) with x fastest, the same memory layout as op4d's ZYX arrays: only the small per-axis
// arrays (size, spacing, origin) are reversed.
#pragma once

#include <itkImage.h>

#include <cstring>

#include "op4d/core/volume.h"

namespace op4d {
namespace itk_bridge {

// A new ITK image with the grid `g` holding a copy of `data` (g.voxel_count() values, ZYX order).
template <class T>
typename itk::Image<T, 3>::Pointer ToItk(const Geometry& g, const T* data) {
  using Image = itk::Image<T, 3>;
  auto img = Image::New();
  typename Image::SizeType size;
  typename Image::SpacingType spacing;
  typename Image::PointType origin;
  for (int a = 0; a < 3; ++a) {
    size[a] = itk::SizeValueType(g.shape[2 - a]);
    spacing[a] = g.spacing_um[2 - a];
    origin[a] = g.origin_um[2 - a];
  }
  img->SetRegions(typename Image::RegionType(size));
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->Allocate();
  std::memcpy(img->GetBufferPointer(), data, std::size_t(g.voxel_count()) * sizeof(T));
  return img;
}

template <class T>
typename itk::Image<T, 3>::Pointer ToItk(const Volume<T>& v) {
  return ToItk(v.geometry(), v.data());
}

template <class ItkImage>
Geometry GeometryOf(const ItkImage& img) {
  Geometry g;
  const auto size = img.GetLargestPossibleRegion().GetSize();
  for (int a = 0; a < 3; ++a) {
    g.shape[2 - a] = std::int64_t(size[a]);
    g.spacing_um[2 - a] = img.GetSpacing()[a];
    g.origin_um[2 - a] = img.GetOrigin()[a];
  }
  return g;
}

}  // namespace itk_bridge
}  // namespace op4d
