#include "op4d/frame/geometry/contacts.h"

#include "test_util.h"

using namespace op4d;

TEST_CASE("contact area of two touching blocks is exact, adhesion scales linearly", "[frame][geometry][contacts]") {
  // Active block z < 5, binder block z >= 5, both over the full 8 x 9 cross-section: 72 faces normal to
  // z, each 0.45 x 0.325 um^2.
  Geometry g;
  g.shape = {10, 8, 9};
  g.spacing_um = {0.7, 0.45, 0.325};
  PhaseVolume p(g, 0);
  LabelVolume particles(g, 0);
  for (std::int64_t z = 0; z < 10; ++z)
    for (std::int64_t y = 0; y < 8; ++y)
      for (std::int64_t x = 0; x < 9; ++x) {
        p(z, y, x) = z < 5 ? 1 : 2;
        if (z < 5) particles(z, y, x) = x < 4 ? 1 : 2;  // particle 1 at x < 4, particle 2 at x >= 4
      }
  p(0, 0, 0) = 0;                       // a pore voxel changes nothing at the contact plane
  particles(0, 0, 0) = 0;
  // A third, isolated particle far from the binder: no contact.
  ContactOptions o;
  o.adhesion_energy_J_per_m2 = 0.5;
  o.adhesion_strength_Pa = 2e6;
  const ContactResult r = ComputeContacts(p, 1, 2, &particles, o);
  const double A = 72 * 0.45 * 0.325;
  test::RequireClose(r.area_um2, A, 1e-12);
  test::RequireClose(r.specific_area_per_um, A / (720 * 0.7 * 0.45 * 0.325), 1e-12);
  test::RequireClose(r.adhesion_energy_J, 0.5 * A * 1e-12, 1e-12);
  test::RequireClose(r.max_force_N, 2e6 * A * 1e-12, 1e-12);
  REQUIRE(r.particles.size() == 2);
  test::RequireClose(r.particles[0].area_um2, 32 * 0.45 * 0.325, 1e-12);  // 8 x 4 faces
  test::RequireClose(r.particles[1].area_um2, 40 * 0.45 * 0.325, 1e-12);  // 8 x 5 faces
  REQUIRE(r.particles_without_contact == 0);
  // Doubling G_c and T_max doubles E_adh and F_max.
  ContactOptions o2 = o;
  o2.adhesion_energy_J_per_m2 *= 2;
  o2.adhesion_strength_Pa *= 2;
  const ContactResult r2 = ComputeContacts(p, 1, 2, &particles, o2);
  test::RequireClose(r2.adhesion_energy_J, 2 * r.adhesion_energy_J, 1e-12);
  test::RequireClose(r2.max_force_N, 2 * r.max_force_N, 1e-12);
  // A particle without binder contact is counted.
  particles(0, 7, 8) = 3;
  const ContactResult r3 = ComputeContacts(p, 1, 2, &particles, o);
  REQUIRE(r3.particles.size() == 3);
  REQUIRE(r3.particles_without_contact == 1);
  o.adhesion_strength_Pa = -1;
  REQUIRE_THROWS_AS(ComputeContacts(p, 1, 2, nullptr, o), ConfigError);
}
