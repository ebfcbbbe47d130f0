#include "op4d/frame/geometry/size_distribution.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {

Volume<float> LocalThickness(const Volume<std::uint8_t>& mask, ThreadBudget threads) {
  const Volume<float> d = DistanceTransform(mask, {threads});
  const Index3 s = mask.shape();
  const Vec3 sp = mask.spacing_um();
  // Maximal balls: centre c is dropped when a neighbour n's ball contains it: d(n) >= d(c) + |c - n|.
  struct Ball {
    float r;         // reach: the distance transform at the centre
    std::int64_t v;  // centre voxel
    float diameter;  // recorded value
  };
  std::vector<Ball> balls;
  const auto offs = NeighbourOffsets(Connectivity::k26);
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x) {
        const float r = d(z, y, x);
        if (!(r > 0) || std::isinf(r)) continue;
        bool maximal = true;
        for (const auto& o : offs) {
          const std::int64_t zz = z + o[0], yy = y + o[1], xx = x + o[2];
          if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
          const double step = std::sqrt(o[0] * o[0] * sp[0] * sp[0] + o[1] * o[1] * sp[1] * sp[1] + o[2] * o[2] * sp[2] * sp[2]);
          if (double(d(zz, yy, xx)) >= double(r) + step - 1e-6) {
            maximal = false;
            break;
          }
        }
        if (maximal) balls.push_back({r, mask.Offset(z, y, x), 0.0f});
      }
  // Diameter: twice the distance to the nearest background voxel centre. For a digital ball of radius R
  // (voxel centres within R) that centre lies just beyond R, closer as R grows (lattice distances get
  // dense), so the estimate converges to 2R from above. (Subtracting half a voxel was tried: worse.)
  for (Ball& b : balls) b.diameter = 2 * b.r;
  // Paint: largest balls first; each voxel keeps the largest diameter that reaches it. Parallel over
  // z-slabs of the output (each slab paints the parts of all balls that fall in it): deterministic.
  std::sort(balls.begin(), balls.end(), [](const Ball& a, const Ball& b) { return a.r > b.r || (a.r == b.r && a.v < b.v); });
  Volume<float> out(mask.geometry(), 0.0f);
  RunInArena(threads, [&] {
    tbb::parallel_for(std::int64_t(0), s[0], [&](std::int64_t z) {
      for (const Ball& b : balls) {
        const std::int64_t cz = b.v / (s[1] * s[2]), cy = (b.v / s[2]) % s[1], cx = b.v % s[2];
        const double r = double(b.r) - 1e-6, dzum = double(z - cz) * sp[0];  // centres strictly inside the reach
        if (std::abs(dzum) > r) continue;
        const double rem_y = std::sqrt(r * r - dzum * dzum);
        const std::int64_t ry = std::int64_t(rem_y / sp[1]);
        for (std::int64_t y = std::max<std::int64_t>(0, cy - ry); y <= std::min(s[1] - 1, cy + ry); ++y) {
          const double dyum = double(y - cy) * sp[1];
          const double rem2 = r * r - dzum * dzum - dyum * dyum;
          if (rem2 < 0) continue;
          const std::int64_t rx = std::int64_t(std::sqrt(rem2) / sp[2]);
          float* row = &out(z, y, 0);
          const std::uint8_t* m = &mask(z, y, 0);
          for (std::int64_t x = std::max<std::int64_t>(0, cx - rx); x <= std::min(s[2] - 1, cx + rx); ++x)
            if (m[x] && row[x] < b.diameter) row[x] = b.diameter;
        }
      }
    });
  });
  return out;
}

std::vector<ParticleStats> MeasureParticles(const LabelVolume& labels, ThreadBudget threads) {
  const Index3 s = labels.shape();
  const Vec3 sp = labels.spacing_um();
  const Vec3& o = labels.origin_um();
  std::int32_t n = 0;
  for (auto l : labels.values()) n = std::max(n, l);
  struct Acc {
    std::int64_t voxels = 0;
    double faces_area = 0;
    Eigen::Vector3d sum = Eigen::Vector3d::Zero();
    Eigen::Matrix3d sum2 = Eigen::Matrix3d::Zero();
    bool border = false;
  };
  std::vector<Acc> acc(std::size_t(n) + 1);
  const double area[3] = {sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1]};
  // Sequential accumulation in scan order: exact sums, the same for any thread count.
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x) {
        const std::int32_t l = labels(z, y, x);
        if (l <= 0) continue;
        Acc& a = acc[std::size_t(l)];
        ++a.voxels;
        const Eigen::Vector3d p(o[0] + z * sp[0], o[1] + y * sp[1], o[2] + x * sp[2]);
        a.sum += p;
        a.sum2 += p * p.transpose();
        for (int ax = 0; ax < 3; ++ax)
          for (int dir : {-1, 1}) {
            std::int64_t nb[3] = {z, y, x};
            nb[ax] += dir;
            if (nb[ax] < 0 || nb[ax] >= s[ax]) {
              a.border = true;
              continue;  // the field of view's edge is not a particle surface
            }
            if (labels(nb[0], nb[1], nb[2]) != l) a.faces_area += area[ax];
          }
      }
  std::vector<ParticleStats> out;
  const double vv = labels.geometry().voxel_volume_um3();
  for (std::int32_t l = 1; l <= n; ++l) {
    const Acc& a = acc[std::size_t(l)];
    if (!a.voxels) continue;
    ParticleStats p;
    p.label = l;
    p.voxels = a.voxels;
    p.volume_um3 = double(a.voxels) * vv;
    p.equivalent_diameter_um = std::cbrt(6.0 * p.volume_um3 / M_PI);
    p.surface_um2 = a.faces_area;
    p.sphericity = a.faces_area > 0 ? std::cbrt(M_PI) * std::pow(6.0 * p.volume_um3, 2.0 / 3.0) / a.faces_area : 0.0;
    p.centroid_um = a.sum / double(a.voxels);
    // Covariance of the voxel centres plus the voxel's own second moment (s^2 / 12 per axis).
    Eigen::Matrix3d cov = a.sum2 / double(a.voxels) - p.centroid_um * p.centroid_um.transpose();
    for (int ax = 0; ax < 3; ++ax) cov(ax, ax) += sp[ax] * sp[ax] / 12.0;
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(cov);
    // A solid ellipsoid with semi-axes a_i has variance a_i^2 / 5 along them.
    for (int k = 0; k < 3; ++k) {
      p.semi_axes_um(k) = std::sqrt(std::max(0.0, 5.0 * es.eigenvalues()(2 - k)));
      p.axes.col(k) = es.eigenvectors().col(2 - k);
    }
    p.touches_border = a.border;
    out.push_back(p);
  }
  (void)threads;  // one sequential pass: exact sums in scan order
  return out;
}

ResultTable ParticleTable(const std::vector<ParticleStats>& ps) {
  ResultTable t{"particles",
                {{"label", "1", {}}, {"voxels", "1", {}}, {"volume_um3", "um^3", {}}, {"equivalent_diameter_um", "um", {}},
                 {"surface_um2", "um^2", {}}, {"sphericity", "1", {}}, {"centroid_z_um", "um", {}}, {"centroid_y_um", "um", {}},
                 {"centroid_x_um", "um", {}}, {"semi_axis_1_um", "um", {}}, {"semi_axis_2_um", "um", {}},
                 {"semi_axis_3_um", "um", {}}, {"axis1_z", "1", {}}, {"axis1_y", "1", {}}, {"axis1_x", "1", {}},
                 {"touches_border", "1", {}}}};
  for (const ParticleStats& p : ps) {
    const double row[] = {double(p.label), double(p.voxels), p.volume_um3, p.equivalent_diameter_um, p.surface_um2,
                          p.sphericity, p.centroid_um(0), p.centroid_um(1), p.centroid_um(2), p.semi_axes_um(0),
                          p.semi_axes_um(1), p.semi_axes_um(2), p.axes(0, 0), p.axes(1, 0), p.axes(2, 0),
                          p.touches_border ? 1.0 : 0.0};
    for (std::size_t c = 0; c < t.columns.size(); ++c) t.columns[c].values.push_back(row[c]);
  }
  return t;
}

}  // namespace op4d
