#include "op4d/frame/geometry/surface_area.h"

#include <cmath>

#include "op4d/frame/geometry/contacts.h"
#include "test_util.h"
#include "test_volumes.h"

using namespace op4d;

namespace {
constexpr double kPi = 3.14159265358979323846;

// A ball of radius r µm centred in a box, voxel centres inside the ball set, on the given spacing.
Volume<std::uint8_t> Ball(double r, const Vec3& spacing, Vec3 centre_shift = {0.31, 0.17, 0.43}) {
  Geometry g;
  g.spacing_um = spacing;
  for (int a = 0; a < 3; ++a) g.shape[a] = std::int64_t(std::ceil(2 * r / spacing[a])) + 8;
  Volume<std::uint8_t> m(g, 0);
  Vec3 c;
  for (int a = 0; a < 3; ++a) c[a] = 0.5 * double(g.shape[a] - 1) * spacing[a] + centre_shift[a];
  for (std::int64_t z = 0; z < g.shape[0]; ++z)
    for (std::int64_t y = 0; y < g.shape[1]; ++y)
      for (std::int64_t x = 0; x < g.shape[2]; ++x) {
        const double dz = z * spacing[0] - c[0], dy = y * spacing[1] - c[1], dx = x * spacing[2] - c[2];
        m(z, y, x) = dz * dz + dy * dy + dx * dx <= r * r;
      }
  return m;
}
}  // namespace

TEST_CASE("marching tetrahedra give the area of voxelised spheres within 3, 2 and 1 percent", "[frame][geometry][surface]") {
  const double tol[3] = {0.03, 0.02, 0.01};
  const double radius[3] = {10, 20, 40};
  for (int i = 0; i < 3; ++i) {
    const double r = radius[i], exact = 4 * kPi * r * r;
    const Volume<std::uint8_t> ball = Ball(r, {1, 1, 1});
    const double a = MaskSurfaceArea(ball);
    // The same physical sphere sampled twice as coarsely along z (spacing x, y, z = 1, 1, 2 µm).
    const double aniso = MaskSurfaceArea(Ball(r, {2, 1, 1}));
    CAPTURE(r, a / exact, aniso / exact);
    REQUIRE(std::abs(a / exact - 1) <= tol[i]);
    REQUIRE(std::abs(aniso / a - 1) <= 0.02);
    if (r >= 20) REQUIRE(std::abs(aniso / exact - 1) <= 0.02);
    // Counting exposed voxel faces is about 50 % high on a sphere, at every size.
    PhaseVolume p(ball.geometry());
    for (std::int64_t k = 0; k < p.size(); ++k) p[k] = ball[k];
    const double faces = ComputeContacts(p, 1, 0, nullptr, ContactOptions{}).area_um2;
    CAPTURE(faces / exact);
    REQUIRE(faces / exact > 1.45);
    REQUIRE(faces / exact < 1.55);
  }
}

TEST_CASE("a plane across the frame has exactly the frame's cross-section as its area", "[frame][geometry][surface]") {
  Geometry g;
  g.shape = {20, 30, 40};
  g.spacing_um = {0.5, 0.7, 1.1};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 11; ++z)
    for (std::int64_t y = 0; y < 30; ++y)
      for (std::int64_t x = 0; x < 40; ++x) m(z, y, x) = 1;
  test::RequireClose(MaskSurfaceArea(m), 30 * 0.7 * 40 * 1.1, 1e-12);
  // Tilted: z < 0.1 x + 2 (in µm), inside the frame from side to side: area = cross-section × sqrt(1 + 0.1²).
  Volume<std::uint8_t> t(g, 0);
  for (std::int64_t z = 0; z < 20; ++z)
    for (std::int64_t y = 0; y < 30; ++y)
      for (std::int64_t x = 0; x < 40; ++x) t(z, y, x) = z * 0.5 < 0.1 * (x * 1.1) + 2.0;
  test::RequireClose(MaskSurfaceArea(t), 40 * 1.1 * std::sqrt(1.01) * 30 * 0.7, 0.005);
  REQUIRE(MaskSurfaceArea(Volume<std::uint8_t>(g, 0)) == 0);
  REQUIRE(MaskSurfaceArea(Volume<std::uint8_t>(g, 1)) == 0);
  SurfaceAreaOptions bad;
  bad.smoothing_sigma_vox = 0;
  REQUIRE_THROWS_AS(MaskSurfaceArea(m, bad), ConfigError);
}

TEST_CASE("a partial-volume probability map places the surface without smoothing", "[frame][geometry][surface]") {
  // Fraction of every voxel inside a sphere of radius 10 (5³ sub-samples), as a 0..255 map.
  const double r = 10;
  Geometry g;
  g.shape = {28, 28, 28};
  Volume<std::uint8_t> p(g, 0);
  const double c = 13.6;
  for (std::int64_t z = 0; z < 28; ++z)
    for (std::int64_t y = 0; y < 28; ++y)
      for (std::int64_t x = 0; x < 28; ++x) {
        int in = 0;
        for (int i = 0; i < 125; ++i) {
          const double dz = z + (i / 25 - 2) / 5.0 - c, dy = y + (i / 5 % 5 - 2) / 5.0 - c, dx = x + (i % 5 - 2) / 5.0 - c;
          in += dz * dz + dy * dy + dx * dx <= r * r;
        }
        p(z, y, x) = std::uint8_t(std::lround(255.0 * in / 125));
      }
  const double a = ProbabilitySurfaceArea(p);  // smoothing 0.6 voxel: the map is already graded
  CAPTURE(a / (4 * kPi * r * r));
  REQUIRE(std::abs(a / (4 * kPi * r * r) - 1) <= 0.01);
  SurfaceAreaOptions one, two;
  one.threads = {1};
  two.threads = {2};
  REQUIRE(ProbabilitySurfaceArea(p, one) == ProbabilitySurfaceArea(p, two));
}

TEST_CASE("interface areas partition space by the largest smoothed indicator, with the face count beside them", "[frame][geometry][surface]") {
  // Pore around two touching blocks: active x in [6, 16), binder x in [16, 26); contact plane x = 15.5.
  const PhaseVolume p = test::TouchingBlocks();
  const Geometry g = p.geometry();
  const auto areas = ComputeInterfaceAreas(p, PhaseTable::Electrode());
  REQUIRE(areas.size() == 3);
  const InterfaceArea* ab = nullptr;
  for (const auto& a : areas)
    if ((a.a == 1 && a.b == 2) || (a.a == 2 && a.b == 1)) ab = &a;
  REQUIRE(ab != nullptr);
  const double exact = 16 * 0.8 * 20 * 0.5;
  CAPTURE(ab->area_um2, exact);
  test::RequireClose(ab->face_count_area_um2, exact, 1e-12);  // faces are exact on a grid-aligned contact
  // The zero set of s_a - s_b is the contact plane; it stops where the pore's smoothed indicator
  // equals theirs, about one voxel inside the rim (the pore fills three quarters of the space around
  // the rim's edges): 0.824 of the exact area, as inclusion-exclusion over closed surfaces gave.
  REQUIRE(ab->area_um2 / exact == Approx(0.824).margin(0.01));
  // With two phases the pair area is the closed surface of either: a sphere of radius 12 voxels.
  PhaseVolume two(g, 0);
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 32; ++y)
      for (std::int64_t x = 0; x < 32; ++x) {
        const double dz = (z - 11.5) * 0.8, dy = (y - 15.5) * 0.5, dx = (x - 15.5) * 0.5;
        two(z, y, x) = dz * dz + dy * dy + dx * dx <= 36.0 ? 1 : 0;
      }
  const PhaseTable pa({{"pore", 0, PhaseRole::kPore}, {"active", 1, PhaseRole::kActive}});
  Volume<std::uint8_t> ball(g);
  for (std::int64_t i = 0; i < ball.size(); ++i) ball[i] = two[i];
  test::RequireClose(ComputeInterfaceAreas(two, pa)[0].area_um2, MaskSurfaceArea(ball), 1e-6);
  const double total = double(p.size()) * g.voxel_volume_um3();
  test::RequireClose(ab->specific_area_per_um, ab->area_um2 / total, 1e-12);
  const ResultTable t = InterfaceAreaTable(areas);
  REQUIRE(t.rows() == 3);
  REQUIRE(t.Find("specific_area_per_um")->unit == "um^-1");
}

