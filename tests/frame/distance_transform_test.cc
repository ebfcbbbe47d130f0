#include "op4d/frame/network/distance_transform.h"

#include <cmath>
#include <limits>
#include <random>

#include "test_util.h"

using namespace op4d;

namespace {
// Reference: minimum over all background voxels of the physical distance between centres.
double BruteForce(const Volume<std::uint8_t>& m, std::int64_t z, std::int64_t y, std::int64_t x) {
  if (!m(z, y, x)) return 0.0;
  const Vec3 s = m.spacing_um();
  double best = std::numeric_limits<double>::infinity();
  for (std::int64_t k = 0; k < m.nz(); ++k)
    for (std::int64_t j = 0; j < m.ny(); ++j)
      for (std::int64_t i = 0; i < m.nx(); ++i)
        if (!m(k, j, i)) {
          const double dz = (k - z) * s[0], dy = (j - y) * s[1], dx = (i - x) * s[2];
          best = std::min(best, dz * dz + dy * dy + dx * dx);
        }
  return std::sqrt(best);
}
}  // namespace

TEST_CASE("the distance transform equals brute force on random anisotropic volumes", "[frame][network][edt]") {
  std::mt19937 rng(11);
  const Vec3 spacings[] = {{1, 1, 1}, {1, 1, 2}, {0.7, 0.45, 0.325}, {5, 1, 1}};
  for (const Vec3& sp : spacings)
    for (double density : {0.05, 0.3, 0.8}) {
      Geometry g;
      g.shape = {9, 13, 11};
      g.spacing_um = sp;
      Volume<std::uint8_t> m(g);
      for (auto& v : m.values()) v = (rng() % 1000) >= density * 1000;  // density = background share
      m(4, 6, 5) = 0;  // at least one background voxel
      const Volume<float> d1 = DistanceTransform(m, {ThreadBudget{1}});
      const Volume<float> dn = DistanceTransform(m, {ThreadBudget{0}});
      REQUIRE(d1.values() == dn.values());
      for (std::int64_t z = 0; z < g.shape[0]; ++z)
        for (std::int64_t y = 0; y < g.shape[1]; ++y)
          for (std::int64_t x = 0; x < g.shape[2]; ++x) {
            INFO("spacing " << sp[0] << "," << sp[1] << "," << sp[2] << " at " << z << "," << y << "," << x);
            // Exact up to the float result: |float(d) - d| <= 2^-24 d.
            const double want = BruteForce(m, z, y, x);
            REQUIRE(std::abs(double(d1(z, y, x)) - want) <= 1e-6 * want);
          }
    }
}

TEST_CASE("distances of simple shapes are the analytic ones", "[frame][network][edt]") {
  Geometry g;
  g.shape = {3, 5, 40};
  g.spacing_um = {1, 1, 0.25};
  Volume<std::uint8_t> m(g, 1);
  for (std::int64_t z = 0; z < 3; ++z)
    for (std::int64_t y = 0; y < 5; ++y) m(z, y, 0) = 0;  // a background plane at x = 0
  const Volume<float> d = DistanceTransform(m);
  for (std::int64_t x = 0; x < 40; ++x) REQUIRE(d(1, 2, x) == float(0.25 * x));
  // No background anywhere: infinite distance, not a crash.
  Volume<std::uint8_t> full(g, 1);
  REQUIRE(std::isinf(DistanceTransform(full)(1, 1, 1)));
  // All background: zero everywhere.
  REQUIRE(DistanceTransform(Volume<std::uint8_t>(g, 0))(2, 4, 39) == 0.0f);
}
