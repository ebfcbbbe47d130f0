#include "op4d/frame/transport/random_walk.h"

#include <algorithm>
#include <cmath>

#include "op4d/frame/transport/diffusion.h"
#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

TEST_CASE("walkers in free space diffuse isotropically with D_bulk on an anisotropic grid", "[frame][transport][walk]") {
  // All voxels are pore: D* = I exactly in expectation, whatever the spacing (axis odds ~ 1/s^2).
  Geometry g;
  g.shape = {12, 14, 16};
  g.spacing_um = {2.0, 1.0, 0.5};
  RandomWalkOptions o;
  o.walkers = 4000;
  o.steps = 4000;
  const RandomWalkResult r = ComputeRandomWalkTensor(Volume<std::uint8_t>(g, 1), o);
  REQUIRE(r.valid);
  for (int a = 0; a < 3; ++a) {
    INFO("axis " << a << ": D* " << r.d_star(a, a) << " +- " << r.d_star_error(a, a));
    REQUIRE(std::abs(r.d_star(a, a) - 1.0) <= 4 * r.d_star_error(a, a));
    REQUIRE(r.d_star_error(a, a) < 0.05);
    for (int b = a + 1; b < 3; ++b) REQUIRE(std::abs(r.d_star(a, b)) <= 4 * r.d_star_error(a, b) + 1e-3);
  }
  // Identical with one thread (each walker has its own random stream).
  o.threads.threads = 1;
  REQUIRE(ComputeRandomWalkTensor(Volume<std::uint8_t>(g, 1), o).d_star == r.d_star);
}

TEST_CASE("walkers in straight channels move along them only", "[frame][transport][walk]") {
  Geometry g;
  g.shape = {9, 9, 20};
  g.spacing_um = {1, 1, 1};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 1; z < 9; z += 3)
    for (std::int64_t y = 1; y < 9; y += 3)
      for (std::int64_t x = 0; x < 20; ++x) m(z, y, x) = 1;
  RandomWalkOptions o;
  o.walkers = 4000;
  o.steps = 4000;
  const RandomWalkResult r = ComputeRandomWalkTensor(m, o);
  // Along x every step that picks x moves: D*_xx = 1 (free diffusion); across, walkers cannot move.
  REQUIRE(std::abs(r.d_star(2, 2) - 1.0) <= 4 * r.d_star_error(2, 2));
  REQUIRE(r.d_star(0, 0) == 0.0);
  REQUIRE(r.d_star(1, 1) == 0.0);
  REQUIRE(std::isinf(r.tau(0)));
  // An empty phase is a status.
  const RandomWalkResult e = ComputeRandomWalkTensor(Volume<std::uint8_t>(g, 0), o);
  REQUIRE_FALSE(e.valid);
  REQUIRE(e.message.find("empty") != std::string::npos);
}

TEST_CASE("random walk and finite volumes agree within 3 % on isotropic and calendered electrodes", "[frame][transport][walk]") {
  // Pore space of synthetic packings; walkers start in every pore voxel, so tau_RW = D_bulk / D* is the
  // finite-volume tau = eps D_bulk / D_eff. Calendering (z compressed to 0.6) must raise tau_z above the
  // in-plane tau in both methods.
  for (double calendering : {1.0, 0.6}) {
    SynthOptions so;
    so.shape = {40, 48, 48};
    so.frames = 1;
    so.radius_um = 3;
    so.calendering = calendering;
    so.binder_neck_um = 0;
    const SynthFrame f = SynthCampaign(so).Render(0);
    Volume<std::uint8_t> pore(f.phases.geometry());
    for (std::int64_t i = 0; i < pore.size(); ++i) pore[i] = f.phases[i] == 0;
    RandomWalkOptions ro;
    ro.walkers = 60000;  // statistical error of D* about 1.3 %
    ro.steps = 20000;    // diffusion length ~60 um, ten particle diameters: the long-time regime
    const RandomWalkResult rw = ComputeRandomWalkTensor(pore, ro);
    double fv_tau[3];
    for (int a = 0; a < 3; ++a) {
      DiffusionOptions o;
      o.axis = a;
      const DiffusionResult fv = ComputeTortuosity(pore, o);
      REQUIRE(fv.status == SolverStatus::kConverged);
      fv_tau[a] = fv.tau;
      INFO("calendering " << calendering << ", axis " << a << ": FV tau " << fv.tau << ", RW tau " << rw.tau(a) << " (D* "
                          << rw.d_star(a, a) << " +- " << rw.d_star_error(a, a) << ")");
      // Within 3 %, or within three standard errors of the walk when that is larger; the walk's own
      // error must be small enough for the comparison to mean something.
      const double rel_err = rw.d_star_error(a, a) / rw.d_star(a, a);
      REQUIRE(rel_err <= 0.015);
      REQUIRE(std::abs(rw.tau(a) / fv.tau - 1.0) <= std::max(0.03, 3 * rel_err));
    }
    if (calendering < 1) {
      REQUIRE(fv_tau[0] > 1.5 * fv_tau[1]);
      REQUIRE(rw.tau(0) > 1.5 * rw.tau(2));
    }
  }
}
