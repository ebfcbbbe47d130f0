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

// Cubic B-spline interpolation of coefficients c (CubicBSplinePrefilter of the samples) at
// continuous index (z, y, x): the spline through the original samples, continuous with its first and
// second derivatives. Value, and when grad_vox is not null its gradient per voxel (z, y, x); `outside`
// (gradient untouched) beyond the hull of the voxel centres. Borders mirrored as in the prefilter.
inline float SampleCubicBSpline(const Volume<float>& c, double z, double y, double x, double* grad_vox, float outside) {
  const std::int64_t n[3] = {c.nz(), c.ny(), c.nx()};
  const double p[3] = {z, y, x};
  double w[3][4], d[3][4];
  std::int64_t idx[3][4];
  for (int a = 0; a < 3; ++a) {
    if (!(p[a] >= 0 && p[a] <= double(n[a] - 1))) return outside;
    const double fl = std::floor(p[a]);
    const double t = p[a] - fl, u = 1 - t;
    w[a][0] = u * u * u / 6;
    w[a][1] = (3 * t * t * t - 6 * t * t + 4) / 6;
    w[a][2] = (-3 * t * t * t + 3 * t * t + 3 * t + 1) / 6;
    w[a][3] = t * t * t / 6;
    d[a][0] = -0.5 * u * u;
    d[a][1] = 1.5 * t * t - 2 * t;
    d[a][2] = -1.5 * t * t + t + 0.5;
    d[a][3] = 0.5 * t * t;
    const std::int64_t i0 = std::int64_t(fl) - 1;
    for (int k = 0; k < 4; ++k) {
      std::int64_t i = i0 + k;
      if (n[a] == 1) i = 0;
      else if (i < 0) i = -i;
      else if (i > n[a] - 1) i = 2 * (n[a] - 1) - i;
      idx[a][k] = i;
    }
  }
  const std::int64_t sz = c.ny() * c.nx(), sy = c.nx();
  const float* data = c.data();
  double v = 0, gz = 0, gy = 0, gx = 0;
  for (int iz = 0; iz < 4; ++iz) {
    const std::int64_t oz = idx[0][iz] * sz;
    double vz = 0, vzy = 0, vzx = 0;  // sums over y and x weighted for value, d/dy, d/dx
    for (int iy = 0; iy < 4; ++iy) {
      const float* row = data + oz + idx[1][iy] * sy;
      const double r0 = row[idx[2][0]], r1 = row[idx[2][1]], r2 = row[idx[2][2]], r3 = row[idx[2][3]];
      const double sx = w[2][0] * r0 + w[2][1] * r1 + w[2][2] * r2 + w[2][3] * r3;
      vz += w[1][iy] * sx;
      if (grad_vox) {
        vzy += d[1][iy] * sx;
        vzx += w[1][iy] * (d[2][0] * r0 + d[2][1] * r1 + d[2][2] * r2 + d[2][3] * r3);
      }
    }
    v += w[0][iz] * vz;
    if (grad_vox) {
      gz += d[0][iz] * vz;
      gy += w[0][iz] * vzy;
      gx += w[0][iz] * vzx;
    }
  }
  if (grad_vox) grad_vox[0] = gz, grad_vox[1] = gy, grad_vox[2] = gx;
  return float(v);
}

// As SampleCubicBSpline at a physical point p_um (µm, through origin and spacing); grad_um, when not
// null, in grey per µm.
template <class P>
inline float SampleCubicBSplineAt(const Volume<float>& c, const P& p_um, double* grad_um, float outside) {
  const Geometry& g = c.geometry();
  const float v = SampleCubicBSpline(c, (p_um[0] - g.origin_um[0]) / g.spacing_um[0], (p_um[1] - g.origin_um[1]) / g.spacing_um[1],
                                     (p_um[2] - g.origin_um[2]) / g.spacing_um[2], grad_um, outside);
  if (grad_um && !std::isnan(v))
    for (int a = 0; a < 3; ++a) grad_um[a] /= g.spacing_um[a];
  return v;
}

}  // namespace op4d
