#include "op4d/frame/geometry/size_distribution.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "test_util.h"

using namespace op4d;

TEST_CASE("local thickness of a cylinder is its diameter within one voxel, on anisotropic grids", "[frame][geometry][psd]") {
  for (const Vec3 sp : {Vec3{1, 1, 1}, Vec3{0.5, 0.5, 2.0}}) {
    for (double R : {4.0, 7.0}) {  // µm
      Geometry g;
      g.shape = {std::int64_t(2 * R / sp[0]) + 7, std::int64_t(2 * R / sp[1]) + 7, 12};
      g.spacing_um = sp;
      Volume<std::uint8_t> m(g, 0);
      const double cz = (g.shape[0] - 1) / 2.0 * sp[0], cy = (g.shape[1] - 1) / 2.0 * sp[1];
      for (std::int64_t z = 0; z < g.shape[0]; ++z)
        for (std::int64_t y = 0; y < g.shape[1]; ++y) {
          const double r = std::hypot(z * sp[0] - cz, y * sp[1] - cy);
          for (std::int64_t x = 0; x < g.shape[2]; ++x) m(z, y, x) = r <= R;  // a cylinder along x
        }
      const Volume<float> lt = LocalThickness(m);
      const double voxel = std::max(sp[0], sp[1]);
      for (std::int64_t z = 0; z < g.shape[0]; ++z)
        for (std::int64_t y = 0; y < g.shape[1]; ++y) {
          if (!m(z, y, 6)) {
            REQUIRE(lt(z, y, 6) == 0.0f);
            continue;
          }
          INFO("spacing " << sp[0] << "," << sp[1] << "," << sp[2] << " R " << R << " at " << z << "," << y << ": " << lt(z, y, 6));
          REQUIRE(std::abs(double(lt(z, y, 6)) - 2 * R) <= voxel);
        }
    }
  }
}

TEST_CASE("polydisperse spheres give back their size distribution", "[frame][geometry][psd]") {
  // Non-overlapping spheres with radii in [5, 12] voxels; each voxel's local thickness is compared with
  // the diameter of the sphere it belongs to.
  Geometry g;
  g.shape = {96, 96, 96};
  Volume<std::uint8_t> m(g, 0);
  std::vector<float> truth;  // diameter per voxel, same order as the mask scan
  LabelVolume owner(g, 0);
  std::mt19937 rng(2);
  std::vector<std::array<double, 4>> spheres;
  for (int tries = 0; tries < 4000 && spheres.size() < 40; ++tries) {
    const double r = 5 + (rng() % 700) / 100.0;
    const double c[3] = {r + 1 + rng() % int(94 - 2 * r), r + 1 + rng() % int(94 - 2 * r), r + 1 + rng() % int(94 - 2 * r)};
    bool ok = true;
    for (const auto& s : spheres)
      ok = ok && std::sqrt((c[0] - s[0]) * (c[0] - s[0]) + (c[1] - s[1]) * (c[1] - s[1]) + (c[2] - s[2]) * (c[2] - s[2])) > r + s[3] + 2;
    if (ok) spheres.push_back({c[0], c[1], c[2], r});
  }
  for (std::size_t k = 0; k < spheres.size(); ++k) {
    const auto& s = spheres[k];
    for (std::int64_t z = 0; z < 96; ++z)
      for (std::int64_t y = 0; y < 96; ++y)
        for (std::int64_t x = 0; x < 96; ++x)
          if ((z - s[0]) * (z - s[0]) + (y - s[1]) * (y - s[1]) + (x - s[2]) * (x - s[2]) <= s[3] * s[3]) {
            m(z, y, x) = 1;
            owner(z, y, x) = std::int32_t(k + 1);
          }
  }
  const Volume<float> lt = LocalThickness(m);
  // Per sphere: the median local thickness of its voxels is its diameter within sqrt(3) voxels. Balls
  // are centred on voxel centres; the one nearest a sphere's true centre is up to sqrt(3)/2 voxel away,
  // so the largest voxel-centred inscribed ball can be up to sqrt(3) voxels smaller in diameter.
  std::vector<std::vector<float>> per(spheres.size());
  std::vector<double> a, b;
  for (std::int64_t i = 0; i < m.size(); ++i)
    if (m[i]) {
      per[std::size_t(owner[i] - 1)].push_back(lt[i]);
      a.push_back(lt[i]);
      b.push_back(2 * spheres[std::size_t(owner[i] - 1)][3]);
    }
  for (std::size_t k = 0; k < spheres.size(); ++k) {
    auto& v = per[k];
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
    INFO("sphere " << k << ": 2R " << 2 * spheres[k][3] << ", median local thickness " << v[v.size() / 2]);
    REQUIRE(std::abs(double(v[v.size() / 2]) - 2 * spheres[k][3]) <= std::sqrt(3.0));
  }
  // Volume-weighted mean diameter: biased low by the same centre offsets (about -1 voxel on diameters of
  // 10-24 voxels, measured -4.4 %): within 6 %.
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  test::RequireClose(ma, mb, 0.06);
  // Kolmogorov-Smirnov distance of the two volume-weighted distributions, reported (the true one is
  // 40 spikes a fraction of a voxel apart, so sub-voxel shifts dominate it).
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double ks = 0;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    ks = std::max(ks, std::abs(double(i) - double(j)) / double(a.size()));
  }
  WARN("local thickness vs generated diameters, " << spheres.size() << " spheres: mean " << ma / double(a.size())
                                                  << " vs " << mb / double(b.size()) << " voxels, KS distance " << ks);
  REQUIRE(spheres.size() >= 25);
}

TEST_CASE("particle statistics recover an ellipsoid's size, axes and orientation", "[frame][geometry][psd]") {
  // Semi-axes 6 (z), 9 (y), 14 (x) voxels with spacing 1: moments give them back, longest along x.
  Geometry g;
  g.shape = {20, 26, 36};
  LabelVolume l(g, 0);
  std::int64_t n = 0;
  for (std::int64_t z = 0; z < 20; ++z)
    for (std::int64_t y = 0; y < 26; ++y)
      for (std::int64_t x = 0; x < 36; ++x) {
        const double q = std::pow((z - 9.5) / 6, 2) + std::pow((y - 12.5) / 9, 2) + std::pow((x - 17.5) / 14, 2);
        if (q <= 1) {
          l(z, y, x) = 1;
          ++n;
        }
      }
  l(0, 0, 0) = 2;  // a one-voxel particle at the border
  const auto ps = MeasureParticles(l);
  REQUIRE(ps.size() == 2);
  const ParticleStats& e = ps[0];
  REQUIRE(e.voxels == n);
  test::RequireClose(e.volume_um3, 4.0 / 3.0 * M_PI * 6 * 9 * 14, 0.02);
  test::RequireClose(e.semi_axes_um(0), 14, 0.03);
  test::RequireClose(e.semi_axes_um(1), 9, 0.03);
  test::RequireClose(e.semi_axes_um(2), 6, 0.03);
  REQUIRE(std::abs(e.axes(2, 0)) > 0.999);  // longest axis along x
  REQUIRE(e.centroid_um.isApprox(Eigen::Vector3d(9.5, 12.5, 17.5), 1e-9));
  REQUIRE_FALSE(e.touches_border);
  REQUIRE(ps[1].touches_border);
  REQUIRE(e.sphericity > 0.5);
  REQUIRE(e.sphericity < 0.8);  // face counting overestimates the area (marching cubes will not)
  REQUIRE(ParticleTable(ps).Find("semi_axis_1_um")->unit == "um");
}
