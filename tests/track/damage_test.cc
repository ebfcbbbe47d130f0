#include <catch2/catch.hpp>

#include <cmath>

#include "op4d/frame/geometry/contacts.h"
#include "op4d/track/degradation/damage.h"

using namespace op4d;

namespace {

constexpr std::uint8_t kPore = 0, kActive = 1, kBinder = 2;

Geometry Grid() {
  Geometry g;
  g.shape = {40, 44, 48};
  g.spacing_um = {0.5, 0.4, 0.4};
  return g;
}

// A sphere-like particle (ellipsoid in voxels: radius 8 um) centred at c_um, binder 1 um thick on
// its upper half (z above the centre), optionally a crack sheet |z - c_z| < 0.5 um inside normalised
// radius `crack_radius` (1.5 = through), in the frame carried by x = c + t + s (X - c).
struct Scene {
  LabelVolume labels;
  PhaseVolume phases;
};

Scene Render(const Vec3& c, double s, double crack_radius) {
  const Geometry g = Grid();
  Scene sc{LabelVolume(g, 0), PhaseVolume(g, kPore)};
  const double R = 8.0 * s;
  for (std::int64_t z = 0; z < g.shape[0]; ++z)
    for (std::int64_t y = 0; y < g.shape[1]; ++y)
      for (std::int64_t x = 0; x < g.shape[2]; ++x) {
        const double d[3] = {z * 0.5 - c[0], y * 0.4 - c[1], x * 0.4 - c[2]};
        const double r = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        if (r < R) {
          const bool in_crack = std::abs(d[0]) < 0.5 * s && std::hypot(d[1], d[2]) < crack_radius * R;
          sc.phases(z, y, x) = in_crack ? kPore : kActive;
          sc.labels(z, y, x) = in_crack ? 0 : 1;
        } else if (r < R + 1.0 && d[0] > 0) {
          sc.phases(z, y, x) = kBinder;
        }
      }
  return sc;
}

ParticleMotion Motion(const Vec3& c_ref, const Vec3& t, double s) {
  ParticleMotion m;
  m.label = 1;
  m.centroid_ref_um = {c_ref[0], c_ref[1], c_ref[2]};
  m.centroid_um = {c_ref[0] + t[0], c_ref[1] + t[1], c_ref[2] + t[2]};
  m.F = Eigen::Matrix3d::Identity() * s;
  return m;
}

}  // namespace

TEST_CASE("particle damage: an intact particle has no crack, one fragment and the contact of the contacts kernel",
          "[damage]") {
  const Vec3 c{10.0, 8.8, 9.6};
  const Scene ref = Render(c, 1.0, 0.0);
  const auto d = MeasureParticleDamage(ref.labels, ref.phases, {Motion(c, {0, 0, 0}, 1.0)}, {});
  REQUIRE(d.size() == 1);
  REQUIRE(d[0].measured);
  CHECK_FALSE(d[0].cracked);
  CHECK(d[0].crack_voxels == 0);
  REQUIRE(d[0].fragments.size() == 1);
  CHECK(d[0].fragments[0].voxels == d[0].reference_voxels);
  const ContactResult cr = ComputeContacts(ref.phases, kActive, kBinder, &ref.labels, {});
  REQUIRE(cr.particles.size() == 1);
  CHECK(d[0].binder_contact_um2 == Approx(cr.particles[0].area_um2).epsilon(1e-12));
  CHECK(d[0].binder_contact_um2 > 100);  // half a sphere of radius 8 um: 402 um^2 smooth
  CHECK(d[0].binder_contact_sd_um2 > 0);
  CHECK(d[0].binder_contact_sd_um2 < 0.1 * d[0].binder_contact_um2);
}

TEST_CASE("particle damage: an internal crack sheet is found with its voxels, a through crack gives two fragments",
          "[damage]") {
  const Vec3 c{10.0, 8.8, 9.6};
  const Scene ref = Render(c, 1.0, 0.0);
  SECTION("internal sheet, the particle moved and swollen") {
    const Vec3 t{1.3, -0.9, 1.7};
    const double s = 1.04;
    const Scene cur = Render({c[0] + t[0], c[1] + t[1], c[2] + t[2]}, s, 0.6);
    const auto d = MeasureParticleDamage(ref.labels, cur.phases, {Motion(c, t, s)}, {});
    REQUIRE(d[0].measured);
    CHECK(d[0].cracked);
    CHECK(d[0].fragments.size() == 1);
    // The sheet's voxels: the layers |dz| < 0.52 um (two z-layers at 0.5 um) within 0.6 R, all deep.
    std::int64_t sheet = 0;
    for (std::int64_t z = 0; z < cur.phases.nz(); ++z)
      for (std::int64_t y = 0; y < cur.phases.ny(); ++y)
        for (std::int64_t x = 0; x < cur.phases.nx(); ++x) {
          const double dz = z * 0.5 - c[0] - t[0], dy = y * 0.4 - c[1] - t[1], dx = x * 0.4 - c[2] - t[2];
          if (std::abs(dz) < 0.5 * s && std::hypot(dy, dx) < 0.6 * 8 * s) ++sheet;
        }
    CHECK(d[0].crack_voxels == sheet);
    CHECK(d[0].crack_volume_um3 == Approx(double(sheet) * 0.5 * 0.4 * 0.4));
    // Area: half the sheet's surface, one face of the disc of radius r = 0.6 R' (R' = 8.32 um) and
    // half its rim of height w = 1.04 um: pi r^2 + pi r w = 94.0 um^2 (voxel faces: 98.7).
    const double r = 0.6 * 8 * s, w = 1.0 * s;
    CHECK(d[0].crack_area_um2 == Approx(M_PI * r * r + M_PI * r * w).epsilon(0.07));
  }
  SECTION("through crack") {
    const Scene cur = Render(c, 1.0, 1.5);
    const auto d = MeasureParticleDamage(ref.labels, cur.phases, {Motion(c, {0, 0, 0}, 1.0)}, {});
    CHECK(d[0].cracked);
    REQUIRE(d[0].fragments.size() == 2);
    CHECK(d[0].fragments[0].centroid_ref_um[0] != Approx(d[0].fragments[1].centroid_ref_um[0]).margin(2.0));
  }
  SECTION("a moved and swollen intact particle is not cracked") {
    const Vec3 t{-1.1, 0.7, -0.45};
    const Scene cur = Render({c[0] + t[0], c[1] + t[1], c[2] + t[2]}, 1.06, 0.0);
    const auto d = MeasureParticleDamage(ref.labels, cur.phases, {Motion(c, t, 1.06)}, {});
    CHECK_FALSE(d[0].cracked);
    CHECK(d[0].crack_voxels == 0);
    CHECK(d[0].fragments.size() == 1);
  }
}

TEST_CASE("particle damage: bad input", "[damage]") {
  const Vec3 c{10.0, 8.8, 9.6};
  const Scene ref = Render(c, 1.0, 0.0);
  ParticleMotion bad = Motion(c, {0, 0, 0}, 1.0);
  bad.valid = false;
  bad.status = "the particle's fit did not converge";
  ParticleMotion missing = Motion(c, {0, 0, 0}, 1.0);
  missing.label = 7;
  const auto d = MeasureParticleDamage(ref.labels, ref.phases, {bad, missing}, {});
  CHECK_FALSE(d[0].measured);
  CHECK(d[0].status == "the particle's fit did not converge");
  CHECK_FALSE(d[1].measured);
  CHECK(d[1].status == "not in the reference labels");
  DamageOptions small;
  small.min_reference_voxels = 1000000;
  const auto tiny = MeasureParticleDamage(ref.labels, ref.phases, {Motion(c, {0, 0, 0}, 1.0)}, small);
  CHECK_FALSE(tiny[0].measured);
  CHECK(tiny[0].status.find("too small to read damage") == 0);
  PhaseVolume other = ref.phases;
  other.set_spacing_um({0.5, 0.5, 0.5});
  CHECK_THROWS_WITH(MeasureParticleDamage(ref.labels, other, {bad}, {}), Catch::Contains("spacing differs"));
  DamageOptions o;
  o.fragment_min_share = 0.7;
  CHECK_THROWS_WITH(MeasureParticleDamage(ref.labels, ref.phases, {bad}, o), Catch::Contains("fragment_min_share"));
  ResultTable t;
  t.name = "particle_kinematics";
  t.columns.push_back({"label", "1", {1}});
  CHECK_THROWS_WITH(MotionsFromKinematics(t), Catch::Contains("no column 'centroid_ref_z'"));
}
