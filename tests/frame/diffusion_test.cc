// Finite-volume diffusion against exact answers. Each case states its derivation.
#include "op4d/frame/transport/diffusion.h"

#include <limits>

#include "op4d/synth/campaign.h"

#include <cmath>
#include <random>

#include "test_util.h"

using namespace op4d;

namespace {
Geometry Grid(Index3 shape, Vec3 spacing = {0.7, 0.45, 0.325}) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = spacing;
  return g;
}
DiffusionOptions Axis(int a, double tol = 1e-11) {
  DiffusionOptions o;
  o.axis = a;
  o.tolerance = tol;
  return o;
}
}  // namespace

TEST_CASE("a uniform block has tau = 1 exactly along every axis, with any spacing", "[frame][transport]") {
  // c is linear from 1 on the inlet face to 0 on the outlet face (boundary values half a cell from the
  // end-layer centres), so Q = D A / L and D_eff = D: tau = eps D / D_eff = 1 with eps = 1.
  const Volume<std::uint8_t> block(Grid({7, 9, 11}), 1);
  for (int a = 0; a < 3; ++a) {
    const DiffusionResult r = ComputeTortuosity(block, Axis(a));
    INFO(r.message);
    REQUIRE(r.status == SolverStatus::kConverged);
    test::RequireClose(r.d_eff, 1.0, 1e-9);
    test::RequireClose(r.tau, 1.0, 1e-9);
    REQUIRE(r.flux_balance < 1e-9);
  }
}

TEST_CASE("the concentration field is linear in a uniform block and NaN outside the network", "[frame][transport]") {
  // Uniform block along z with n layers: the exact discrete solution is linear, c = 1 - (z + 1/2) / n
  // at the cell centres (the boundary values sit half a cell outside the end centres).
  Volume<std::uint8_t> m(Grid({8, 5, 6}), 1);
  m(3, 2, 5) = 0;  // solid voxels: NaN there
  m(6, 0, 0) = 0;
  DiffusionOptions o = Axis(0);
  o.keep_concentration = true;
  const DiffusionResult r = ComputeTortuosity(Volume<std::uint8_t>(Grid({8, 5, 6}), 1), o);
  REQUIRE(r.concentration.shape() == Index3{8, 5, 6});
  for (int z = 0; z < 8; ++z) test::RequireClose(r.concentration(z, 4, 3), 1.0 - (z + 0.5) / 8.0, 1e-6);
  const DiffusionResult holes = ComputeTortuosity(m, o);
  REQUIRE(std::isnan(holes.concentration(3, 2, 5)));
  REQUIRE(std::isnan(holes.concentration(6, 0, 0)));
  REQUIRE(holes.concentration(0, 0, 0) > holes.concentration(7, 4, 5));
  // Without the option no field is kept.
  REQUIRE(ComputeTortuosity(m, Axis(0)).concentration.empty());
}

TEST_CASE("straight channels have tau = 1 along them and do not percolate across", "[frame][transport]") {
  // Channels are independent parallel blocks: D_eff = eps D along x, so tau = 1; across them no
  // conducting path joins the faces.
  Volume<std::uint8_t> m(Grid({6, 8, 10}), 0);
  for (std::int64_t x = 0; x < 10; ++x) {
    m(1, 1, x) = m(1, 2, x) = 1;  // a 1x2 channel
    m(4, 5, x) = 1;               // a 1x1 channel
  }
  const DiffusionResult along = ComputeTortuosity(m, Axis(2));
  REQUIRE(along.status == SolverStatus::kConverged);
  test::RequireClose(along.volume_fraction, 30.0 / 480.0, 1e-15);
  test::RequireClose(along.d_eff, 30.0 / 480.0, 1e-9);
  test::RequireClose(along.tau, 1.0, 1e-9);
  const DiffusionResult across = ComputeTortuosity(m, Axis(1));
  REQUIRE(across.status == SolverStatus::kNotPercolating);
  REQUIRE(across.d_eff == 0.0);
  REQUIRE(std::isinf(across.tau));
  REQUIRE(across.message.find("does not connect") != std::string::npos);
  for (const auto& c : across.ToTable().columns)
    for (double v : c.values) REQUIRE(!std::isnan(v));
}

TEST_CASE("layers in series give the harmonic mean, in parallel the arithmetic mean", "[frame][transport]") {
  // Series along z: n1 layers of D1 then n2 of D2. Each cell is a resistance s/(D A) (the harmonic
  // face conductance splits the face into two half cells), boundary half cells included, so
  // D_eff = L / sum(s / D_cell) = (n1 + n2) / (n1/D1 + n2/D2).
  const double D1 = 1.0, D2 = 0.125;  // exact in float, as the coefficients are stored
  const int n1 = 4, n2 = 6;
  Volume<float> series(Grid({n1 + n2, 5, 6}));
  for (std::int64_t z = 0; z < n1 + n2; ++z)
    for (std::int64_t i = 0; i < 30; ++i) series[z * 30 + i] = float(z < n1 ? D1 : D2);
  const DiffusionResult rs = ComputeEffectiveDiffusivity(series, Axis(0));
  REQUIRE(rs.status == SolverStatus::kConverged);
  test::RequireClose(rs.d_eff, (n1 + n2) / (n1 / D1 + n2 / D2), 1e-9);
  // Parallel: the same layers, driven along x: independent slabs, D_eff = (n1 D1 + n2 D2) / (n1 + n2).
  const DiffusionResult rp = ComputeEffectiveDiffusivity(series, Axis(2));
  REQUIRE(rp.status == SolverStatus::kConverged);
  test::RequireClose(rp.d_eff, (n1 * D1 + n2 * D2) / (n1 + n2), 1e-9);
}

TEST_CASE("dead ends and isolated clusters change nothing but the percolating fraction", "[frame][transport]") {
  // A dead end carries no flux at steady state; an isolated cluster is left out of the system. The
  // channel alone has D_eff = eps_channel.
  Volume<std::uint8_t> m(Grid({8, 8, 12}), 0);
  for (std::int64_t x = 0; x < 12; ++x) m(3, 3, x) = 1;  // channel along x (12 voxels)
  for (std::int64_t y = 4; y < 8; ++y) m(3, y, 6) = 1;   // dead-end branch (4 voxels)
  for (std::int64_t z = 6; z < 8; ++z) m(z, 6, 2) = 1;   // isolated cluster (2 voxels)
  const DiffusionResult r = ComputeTortuosity(m, Axis(2));
  REQUIRE(r.status == SolverStatus::kConverged);
  test::RequireClose(r.volume_fraction, 18.0 / 768.0, 1e-15);
  test::RequireClose(r.percolating_fraction, 16.0 / 18.0, 1e-15);
  test::RequireClose(r.d_eff, 12.0 / 768.0, 1e-9);  // the channel's share of the cross-section
}

TEST_CASE("a random porous medium converges with the flux balanced, identically on 1 and N threads", "[frame][transport]") {
  Volume<std::uint8_t> m(Grid({24, 24, 24}, {1, 1, 1}), 0);
  std::mt19937 rng(3);
  for (auto& v : m.values()) v = (rng() % 100) < 60;  // 60 % pore: percolates
  DiffusionOptions o = Axis(0, 1e-10);
  o.threads.threads = 1;
  const DiffusionResult one = ComputeTortuosity(m, o);
  o.threads.threads = 0;
  const DiffusionResult all = ComputeTortuosity(m, o);
  INFO(one.message);
  REQUIRE(one.status == SolverStatus::kConverged);
  REQUIRE(one.flux_balance <= 1e-4);
  REQUIRE(one.tau > 1.0);
  REQUIRE(one.d_eff == all.d_eff);  // deterministic reductions: bitwise the same
  REQUIRE(one.iterations == all.iterations);
}

TEST_CASE("a warm start from a nearby structure's field gives the same answer in fewer iterations", "[frame][transport]") {
  // Structure A: random 65 % pore; B: A with 2 % of its voxels flipped (a label sample's change).
  Volume<std::uint8_t> a(Grid({32, 28, 30}, {0.35, 0.25, 0.25}), 0);
  std::mt19937 rng(5);
  for (auto& v : a.values()) v = (rng() % 100) < 65;
  Volume<std::uint8_t> b = a;
  for (auto& v : b.values())
    if (rng() % 100 < 2) v = !v;
  for (int axis = 0; axis < 3; ++axis) {
    INFO("axis " << axis);
    DiffusionOptions o = Axis(axis, 1e-9);
    o.keep_concentration = true;
    const DiffusionResult from = ComputeTortuosity(a, o);
    const DiffusionResult cold = ComputeTortuosity(b, o);
    o.initial = &from.concentration;
    const DiffusionResult warm = ComputeTortuosity(b, o);
    INFO("cold " << cold.iterations << " iterations, warm " << warm.iterations << "; tau " << cold.tau << " " << warm.tau);
    REQUIRE(warm.status == SolverStatus::kConverged);
    REQUIRE(warm.iterations < cold.iterations);
    op4d::test::RequireClose(warm.tau, cold.tau, 1e-7);
    // Starting from the answer itself (stored in float: a relative residual near 1e-7 is left to
    // bring to 1e-9): a few iterations.
    o.initial = &cold.concentration;
    const DiffusionResult again = ComputeTortuosity(b, o);
    INFO("from the answer: " << again.iterations << " iterations");
    REQUIRE(again.iterations < warm.iterations);
    REQUIRE(again.iterations <= 6);
    op4d::test::RequireClose(again.tau, cold.tau, 1e-7);
  }
  DiffusionOptions o = Axis(0);
  const Volume<float> wrong(Grid({4, 4, 4}), 0.5f);
  o.initial = &wrong;
  REQUIRE_THROWS_WITH(ComputeTortuosity(b, o), Catch::Contains("warm start: the initial field is"));
}

TEST_CASE("bad coefficients and options are refused with the reason", "[frame][transport][errors]") {
  Volume<float> d(Grid({3, 3, 3}), 1.0f);
  d(1, 2, 0) = NAN;
  REQUIRE_THROWS_WITH(ComputeEffectiveDiffusivity(d, Axis(0)), Catch::Contains("voxel (1, 2, 0)"));
  d(1, 2, 0) = -1.0f;
  REQUIRE_THROWS_AS(ComputeEffectiveDiffusivity(d, Axis(0)), InvalidArgument);
  d(1, 2, 0) = 1.0f;
  REQUIRE_THROWS_AS(ComputeEffectiveDiffusivity(d, Axis(3)), ConfigError);
  // An empty phase: not percolating, no crash.
  const DiffusionResult r = ComputeTortuosity(Volume<std::uint8_t>(Grid({3, 3, 3}), 0), Axis(0));
  REQUIRE(r.status == SolverStatus::kNotPercolating);
  REQUIRE(r.volume_fraction == 0.0);
  // Iteration limit: a status, not an exception.
  Volume<std::uint8_t> m(Grid({16, 16, 16}, {1, 1, 1}), 0);
  std::mt19937 rng(9);
  for (auto& v : m.values()) v = (rng() % 100) < 60;
  DiffusionOptions o = Axis(0);
  o.max_iterations = 2;
  const DiffusionResult nc = ComputeTortuosity(m, o);
  REQUIRE(nc.status == SolverStatus::kNotConverged);
  REQUIRE(nc.iterations == 2);
  // Rows longer than the stencil's 16-bit in-row offsets reach are refused, naming the limit.
  REQUIRE_THROWS_WITH(ComputeTortuosity(Volume<std::uint8_t>(Grid({1, 1, 65537}), 1), Axis(2)),
                      Catch::Contains("65536 voxels"));
}

TEST_CASE("multigrid and Jacobi agree and multigrid iterations level off with size", "[frame][transport]") {
  // Measured on this medium (random voxels, 55 % conducting, relative residual 1e-10): multigrid 40,
  // 50, 57, 60 iterations at 16, 32, 48, 64 cubed; Jacobi 198, 343, 513, 660 (linear in n). The
  // level-off is checked from 48 cubed on.
  std::int64_t previous = 0, previous_jacobi = 0;
  for (std::int64_t n : {48, 64}) {
    Volume<std::uint8_t> m(Grid({n, n, n}, {1, 1, 0.5}), 0);
    std::mt19937 rng(4);
    for (auto& v : m.values()) v = (rng() % 100) < 55;
    DiffusionOptions mg = Axis(2, 1e-10), jac = Axis(2, 1e-10);
    jac.preconditioner = Preconditioner::kJacobi;
    const DiffusionResult a = ComputeTortuosity(m, mg), b = ComputeTortuosity(m, jac);
    INFO(n << "^3: multigrid " << a.iterations << " iterations, Jacobi " << b.iterations);
    REQUIRE(a.status == SolverStatus::kConverged);
    REQUIRE(b.status == SolverStatus::kConverged);
    test::RequireClose(a.d_eff, b.d_eff, 1e-7);
    REQUIRE(a.iterations * 3 < b.iterations);
    if (previous) {
      REQUIRE(a.iterations <= previous + 10);                             // levels off
      REQUIRE(a.iterations * previous_jacobi < b.iterations * previous);  // grows less than Jacobi
    }
    previous = a.iterations;
    previous_jacobi = b.iterations;
  }
}

TEST_CASE("two blocks with a contact between them give the exact series resistance", "[frame][transport][conductivity]") {
  // Particle 1 for z < 8, particle 2 above, sigma = 1000 S/m, spacing 1 um, L = 20 um along z.
  // In series: R A = L / sigma + r_c, so sigma_eff = L / (L / sigma + r_c), and the contact takes
  // r_c / (L / sigma + r_c) of the dissipated power. Along x no current crosses the contact.
  Geometry g = Grid({20, 6, 5}, {1, 1, 1});
  Volume<float> sigma(g, 1000.0f);
  LabelVolume particles(g, 0);
  for (std::int64_t i = 0; i < particles.size(); ++i) particles[i] = i / 30 < 8 ? 1 : 2;
  const double L = 20e-6;
  for (double rc : {0.0, 1e-9, 1e-8, 1e-7}) {
    INFO("r_c = " << rc);
    ConductivityOptions o;
    o.contact_resistance_ohm_m2 = rc;
    o.solver = Axis(0, 1e-12);
    const ConductivityResult r = ComputeConductivity(sigma, particles, o);
    REQUIRE(r.transport.status == SolverStatus::kConverged);
    REQUIRE(r.contact_faces == 30);
    test::RequireClose(r.sigma_eff_S_per_m, L / (L / 1000.0 + rc), 1e-8);
    test::RequireClose(r.contact_power_share, rc / (L / 1000.0 + rc), 1e-7, 1e-12);
    o.solver = Axis(2, 1e-12);
    const ConductivityResult along = ComputeConductivity(sigma, particles, o);
    test::RequireClose(along.sigma_eff_S_per_m, 1000.0, 1e-8);
    REQUIRE(along.contact_power_share < 1e-12);
  }
  ConductivityOptions bad;
  bad.contact_resistance_ohm_m2 = -1;
  REQUIRE_THROWS_AS(ComputeConductivity(sigma, particles, bad), ConfigError);
}

TEST_CASE("sigma_eff of a particle electrode falls monotonically as the contact resistance grows", "[frame][transport][conductivity]") {
  // Active particles (sigma 10 S/m, one id each) and carbon-binder (100 S/m, id 0) from a synthetic
  // electrode; the binder bridges carry current without contact resistance.
  SynthOptions so;
  so.shape = {24, 28, 28};
  so.frames = 1;
  so.radius_um = 2.5;
  so.solid_fraction = 0.55;
  const SynthFrame f = SynthCampaign(so).Render(0);
  Volume<float> sigma(f.phases.geometry(), 0.0f);
  LabelVolume particles(f.phases.geometry(), 0);
  for (std::int64_t i = 0; i < sigma.size(); ++i) {
    sigma[i] = f.phases[i] == 1 ? 10.0f : f.phases[i] == 2 ? 100.0f : 0.0f;
    particles[i] = f.particle_labels[i];
  }
  double previous = std::numeric_limits<double>::infinity(), previous_share = -1;
  for (double rc : {0.0, 1e-10, 1e-9, 1e-8, 1e-7}) {
    ConductivityOptions o;
    o.contact_resistance_ohm_m2 = rc;
    const ConductivityResult r = ComputeConductivity(sigma, particles, o);
    INFO("r_c " << rc << ": sigma_eff " << r.sigma_eff_S_per_m << " S/m, contact share " << r.contact_power_share);
    REQUIRE(r.transport.status == SolverStatus::kConverged);
    REQUIRE(r.contact_faces > 0);
    REQUIRE(r.sigma_eff_S_per_m < previous);
    REQUIRE(r.contact_power_share > previous_share);
    previous = r.sigma_eff_S_per_m;
    previous_share = r.contact_power_share;
  }
}

TEST_CASE("a checkerboard converges to the geometric mean of its two coefficients", "[frame][transport]") {
  // Keller's duality (J. Math. Phys. 5, 548, 1964): for a two-dimensional two-phase checkerboard,
  // D_eff(D1, D2) * D_eff(D2, D1) = D1 D2 and the colour-swapped board is the same board shifted, so
  // D_eff = sqrt(D1 D2). The voxel discretisation converges at first order in the square size: the
  // error must shrink as the squares get finer and be within 1.2 % at 16 voxels per square.
  const double D1 = 1.0, D2 = 0.25, want = std::sqrt(D1 * D2);
  double previous_error = 1.0;
  for (int k : {4, 8, 16}) {
    const int n = 8 * k;  // 8 x 8 squares
    Volume<float> d(Grid({2, n, n}, {1, 1, 1}));
    for (int z = 0; z < 2; ++z)
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) d(z, y, x) = float(((y / k + x / k) % 2) ? D2 : D1);
    const DiffusionResult r = ComputeEffectiveDiffusivity(d, Axis(2));
    REQUIRE(r.status == SolverStatus::kConverged);
    const double error = std::abs(r.d_eff - want) / want;
    INFO(k << " voxels per square: D_eff " << r.d_eff << ", relative error " << error);
    REQUIRE(error < 0.6 * previous_error);
    previous_error = error;
  }
  REQUIRE(previous_error < 0.012);
}

TEST_CASE("conductivity tables name sigma_eff with its unit", "[frame][transport][conductivity]") {
  Volume<float> sigma(Grid({4, 3, 3}, {1, 1, 1}), 50.0f);
  const ResultTable t = ComputeConductivity(sigma, LabelVolume(sigma.geometry(), 0), {}).ToTable();
  REQUIRE(t.Find("sigma_eff")->unit == "S/m");
  test::RequireClose(t.Find("sigma_eff")->values[0], 50.0, 1e-9);
  REQUIRE(t.Find("tau_electronic") != nullptr);
  REQUIRE(t.Find("d_eff_over_d_bulk") == nullptr);
  REQUIRE(t.Find("contact_power_share")->values[0] == 0.0);
}
