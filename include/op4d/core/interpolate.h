// Trilinear sampling of a volume at continuous voxel coordinates (z, y, x in voxel units, voxel
// centres at integers). One definition for warping, field composition and local registration.
#pragma once

#include <cmath>
#include <cstdint>

#include "op4d/core/volume.h"

namespace op4d {

// Value at continuous index (z, y, x); `outside` when the point is not inside the hull of the voxel
// centres ([0, n-1] along each axis).
template <class T>
inline float SampleLinear(const Volume<T>& v, double z, double y, double x, float outside) {
  const double nz = double(v.nz() - 1), ny = double(v.ny() - 1), nx = double(v.nx() - 1);
  if (!(z >= 0 && y >= 0 && x >= 0 && z <= nz && y <= ny && x <= nx)) return outside;
  std::int64_t z0 = std::int64_t(z), y0 = std::int64_t(y), x0 = std::int64_t(x);
  // The upper edge samples the last cell with weight 1 on its far corner.
  if (z0 == v.nz() - 1 && z0 > 0) --z0;
  if (y0 == v.ny() - 1 && y0 > 0) --y0;
  if (x0 == v.nx() - 1 && x0 > 0) --x0;
  const double fz = z - double(z0), fy = y - double(y0), fx = x - double(x0);
  const std::int64_t dz = v.nz() > 1 ? v.ny() * v.nx() : 0, dy = v.ny() > 1 ? v.nx() : 0,
                     dx = v.nx() > 1 ? 1 : 0;
  const T* p = &v(z0, y0, x0);
  const double c00 = double(p[0]) * (1 - fx) + double(p[dx]) * fx;
  const double c01 = double(p[dy]) * (1 - fx) + double(p[dy + dx]) * fx;
  const double c10 = double(p[dz]) * (1 - fx) + double(p[dz + dx]) * fx;
  const double c11 = double(p[dz + dy]) * (1 - fx) + double(p[dz + dy + dx]) * fx;
  const double c0 = c00 * (1 - fy) + c01 * fy, c1 = c10 * (1 - fy) + c11 * fy;
  return float(c0 * (1 - fz) + c1 * fz);
}

// Value at a physical point p_um (z, y, x in µm; any type indexable by 0..2), through the volume's
// origin and spacing; `outside` beyond the hull of the voxel centres.
template <class T, class P>
inline float SampleLinearAt(const Volume<T>& v, const P& p_um, float outside) {
  const Geometry& g = v.geometry();
  return SampleLinear(v, (p_um[0] - g.origin_um[0]) / g.spacing_um[0], (p_um[1] - g.origin_um[1]) / g.spacing_um[1],
                      (p_um[2] - g.origin_um[2]) / g.spacing_um[2], outside);
}

// Value at a physical point (as SampleLinearAt) and its physical gradient grad_um[3] (grey per µm,
// z, y, x) by central differences of the interpolant half a voxel either side; NaN outside.
template <class T, class P>
inline float SampleLinearGradientAt(const Volume<T>& v, const P& p_um, double* grad_um) {
  const Geometry& g = v.geometry();
  const double c[3] = {(p_um[0] - g.origin_um[0]) / g.spacing_um[0], (p_um[1] - g.origin_um[1]) / g.spacing_um[1],
                       (p_um[2] - g.origin_um[2]) / g.spacing_um[2]};
  const float f = SampleLinear(v, c[0], c[1], c[2], NAN);
  if (std::isnan(f)) return f;
  for (int a = 0; a < 3; ++a) {
    double lo[3] = {c[0], c[1], c[2]}, hi[3] = {c[0], c[1], c[2]};
    lo[a] -= 0.5;
    hi[a] += 0.5;
    const float fl = SampleLinear(v, lo[0], lo[1], lo[2], f), fh = SampleLinear(v, hi[0], hi[1], hi[2], f);
    grad_um[a] = (double(fh) - double(fl)) / ((hi[a] - lo[a]) * g.spacing_um[a]);
  }
  return f;
}

}  // namespace op4d
