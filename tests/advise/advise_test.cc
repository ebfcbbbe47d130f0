#include "op4d/advise/advise.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "op4d/core/error.h"
#include "test_util.h"

using namespace op4d;

namespace {

double Mu(const std::string& composition, double e) { return MassAttenuation(ParseComposition(composition, "test"), e); }

const TechniqueAdvice& Find(const std::vector<TechniqueAdvice>& a, const std::string& id) {
  for (const TechniqueAdvice& t : a)
    if (t.technique.id == id) return t;
  FAIL("no technique " << id);
  return a.front();
}

}  // namespace

TEST_CASE("mass attenuation of Si, graphite, NMC111 and an electrolyte against NIST XCOM", "[advise][xray]") {
  // NIST XCOM total attenuation with coherent scattering, cm^2/g. Elements: XCOM's grid values at 8 and
  // 30 keV (NIST Standard Reference Database 8 / 126 tables: Si 64.68 and 1.436, C 4.576 and 0.2562),
  // 17.5 keV log-log interpolated on XCOM's grid (points 3 % apart, as tabulated from XCOM in
  // XrayAttenuation.jl's xcom_data.jl). Compounds: XCOM's own mixture rule, sum of w_i (mu/rho)_i, with
  // mass fractions of the formulas (NIST atomic weights). Electrolyte: 1 M LiPF6 in EC:DMC 1:1 by mass,
  // LiPF6 12 %, EC (C3H4O3) 44 %, DMC (C3H6O3) 44 %.
  struct Case {
    const char* composition;
    double xcom[3];
  };
  const Case cases[] = {
      {"Si", {64.686, 6.5807, 1.4364}},
      {"C", {4.5762, 0.5725, 0.2562}},
      {"LiNi0.333333Mn0.333333Co0.333333O2", {131.99, 24.330, 5.4149}},
      {"LiPF6:0.12,C3H4O3:0.44,C3H6O3:0.44", {10.484, 1.1371, 0.37110}},
  };
  const double energies[] = {8.0, 17.5, 30.0};
  for (const Case& c : cases)
    for (int k = 0; k < 3; ++k) {
      INFO(c.composition << " at " << energies[k] << " keV");
      test::RequireClose(Mu(c.composition, energies[k]), c.xcom[k], 0.01);
    }
  // Linear attenuation and transmission follow: Si (2.33 g/cm^3) 1 mm at 30 keV passes exp(-1.4364 * 2.33 * 0.1).
  const XrayPhase si{"Si", "Si", 2.33, 1.0};
  test::RequireClose(LinearAttenuation(si, 30), Mu("Si", 30) * 2.33, 1e-12);
  test::RequireClose(Transmission({si}, Monochromatic(30), 1000), std::exp(-Mu("Si", 30) * 2.33 * 0.1), 1e-12);
  // A mixture is the mass-weighted sum of its parts.
  test::RequireClose(Mu("C:1,Si:3", 17.5), 0.25 * Mu("C", 17.5) + 0.75 * Mu("Si", 17.5), 1e-12);
}

TEST_CASE("a lab tube spectrum hardens and lowers the effective attenuation", "[advise][xray]") {
  const XrayPhase nmc = ElectrodePhases()[0];
  const double mu40 = EffectiveAttenuation(nmc, LabTube(40)), mu100 = EffectiveAttenuation(nmc, LabTube(100));
  REQUIRE(mu100 < mu40);
  // The spectrum-weighted mean lies between mu at the spectrum's ends.
  REQUIRE(mu40 < LinearAttenuation(nmc, 6));
  REQUIRE(mu40 > LinearAttenuation(nmc, 40));
  // More aluminium filter: a harder beam.
  REQUIRE(EffectiveAttenuation(nmc, LabTube(60, 3.0)) < EffectiveAttenuation(nmc, LabTube(60, 0.5)));
}

TEST_CASE("contrast: carbon-binder and electrolyte are flagged beside NMC at 30 keV", "[advise][xray]") {
  const std::vector<XrayPhase> p = ElectrodePhases();
  const std::vector<PairContrast> c = ContrastTable(p, Monochromatic(30));
  REQUIRE(c.size() == 3);
  // NMC | carbon-binder: mu 25.8 vs 0.61 1/cm, relative contrast 0.98: detectable.
  REQUIRE(c[0].a == "NMC");
  REQUIRE(c[0].b == "carbon-binder");
  REQUIRE(c[0].relative > 0.95);
  REQUIRE(c[0].detectable);
  // carbon-binder | electrolyte: 0.61 vs 0.48 1/cm, under 1 % of NMC's attenuation: CNR 0.1 at SNR 20.
  REQUIRE(c[2].a == "carbon-binder");
  REQUIRE(c[2].b == "electrolyte");
  REQUIRE(c[2].relative < 0.01);
  REQUIRE_FALSE(c[2].detectable);
  // delta follows electron density (1.95 vs 1.29 g/cm^3 of light elements): 0.45e-6 vs 0.31e-6 against
  // NMC's 1.05e-6, so phase contrast lifts the pair's CNR 25-fold (0.105 -> 2.66), still just under the
  // Rose criterion at SNR 20; at SNR 25 it passes.
  REQUIRE(c[2].phase_cnr > 20 * c[2].cnr);
  REQUIRE_FALSE(c[2].phase_detectable);
  REQUIRE(ContrastTable(p, Monochromatic(30), 25)[2].phase_detectable);
  REQUIRE_FALSE(ContrastTable(p, Monochromatic(30), 25)[2].detectable);
  // Without NMC in the sample the same pair is 20 % apart: detectable.
  const std::vector<PairContrast> alone = ContrastTable({p[1], p[2]}, Monochromatic(30));
  REQUIRE(alone[0].relative > 0.15);
  REQUIRE(alone[0].detectable);
}

TEST_CASE("the canonical cases of the advisor", "[advise]") {
  const std::vector<Technique> t = LoadTechniques(DefaultTechniquesPath());
  REQUIRE(t.size() >= 5);
  SECTION("sub-100 nm carbon-binder features, destructive allowed: FIB-SEM first") {
    AdviceInput in;
    in.smallest_feature_um = 0.08;
    in.rve_edge_um = 20;
    in.destructive_allowed = true;
    const std::vector<TechniqueAdvice> a = Advise(in, t);
    CAPTURE(FormatAdvice(a));
    REQUIRE(a[0].technique.id == "fib-sem");
    REQUIRE(a[0].voxels_per_feature >= 3);
    REQUIRE_FALSE(Find(a, "lab-micro-ct").resolves);
    // Kept samples exclude it.
    in.destructive_allowed = false;
    const std::vector<TechniqueAdvice> kept = Advise(in, t);
    REQUIRE_FALSE(Find(kept, "fib-sem").allowed);
    REQUIRE(kept[0].technique.id != "fib-sem");
  }
  SECTION("in operando, a 2 mm cell with 5 um particles: lab or synchrotron micro-CT") {
    AdviceInput in;
    in.smallest_feature_um = 5;
    in.rve_edge_um = 2000;
    in.sample_thickness_um = 2000;
    in.in_operando = true;
    in.phases = ParsePhases("cell=LiNi0.333333Mn0.333333Co0.333333O2:0.3,C:0.1,LiPF6:0.1,C3H4O3:0.25,C3H6O3:0.25@1.8", "test");
    const std::vector<TechniqueAdvice> a = Advise(in, t);
    CAPTURE(FormatAdvice(a));
    const std::string first = a[0].technique.id, second = a[1].technique.id;
    REQUIRE(((first == "lab-micro-ct" && second == "sync-micro-ct") || (first == "sync-micro-ct" && second == "lab-micro-ct")));
    REQUIRE(a[0].fov_covers_rve);
    REQUIRE(a[0].transmits);
    REQUIRE_FALSE(Find(a, "fib-sem").allowed);
    REQUIRE_FALSE(Find(a, "sync-nano-ct").fov_covers_rve);
    // The coarsest voxel that keeps 3 voxels across 5 um.
    test::RequireClose(Find(a, "lab-micro-ct").voxel_um, 5.0 / 3, 1e-12);
    // The ranking as a store's table: one row per technique, best first, the verdicts as 0/1.
    const ResultTable table = AdviceTable(a);
    REQUIRE(table.name == "advice");
    REQUIRE(table.rows() == a.size());
    for (std::size_t r = 0; r < a.size(); ++r) REQUIRE(table.Find("rank")->values[r] == double(r + 1));
    REQUIRE(table.Find("voxel_um")->values[0] == a[0].voxel_um);
    REQUIRE(table.Find("voxel_um")->unit == "um");
    const std::size_t fib = std::size_t(Find(a, "fib-sem").rank - 1);
    REQUIRE(table.Find("allowed")->values[fib] == 0.0);
    REQUIRE(table.Find("allowed")->values[0] == 1.0);
  }
}

TEST_CASE("bad input names what is wrong", "[advise][errors]") {
  REQUIRE_THROWS_WITH(ParseComposition("Xx2O3", "--phases"), Catch::Contains("--phases") && Catch::Contains("Xx"));
  REQUIRE_THROWS_WITH(ParseComposition("Li(PF6", "--phases"), Catch::Contains("Li(PF6"));
  REQUIRE_THROWS_WITH(ParseComposition("LiPF6:-1,C:1", "--phases"), Catch::Contains("-1"));
  REQUIRE_THROWS_WITH(ParsePhases("NMC=LiCoO2@-4.7", "--phases"), Catch::Contains("density") && Catch::Contains("-4.7"));
  REQUIRE_THROWS_WITH(ParsePhases("NMC=Qq@4.7", "--phases"), Catch::Contains("NMC") && Catch::Contains("Qq"));
  REQUIRE_THROWS_WITH(ParsePhases("NMC", "--phases"), Catch::Contains("name=composition@density"));
  AdviceInput in;
  in.smallest_feature_um = 1;
  REQUIRE_THROWS_WITH(Advise(in, {}), Catch::Contains("rve_edge_um"));
  const test::TempDir dir;
  const std::string path = dir / "bad_techniques.json";
  std::ofstream(path) << R"({"techniques": [{"id": "x", "name": "x", "contrast": "absorption", "voxel_um": [1, 0.5]}]})";
  REQUIRE_THROWS_WITH(LoadTechniques(path), Catch::Contains("bad_techniques.json#/techniques/0/voxel_um"));
  std::ofstream(path) << R"({"techniques": [)";
  REQUIRE_THROWS_WITH(LoadTechniques(path), Catch::Contains("not valid JSON"));
  REQUIRE_THROWS_AS(LoadTechniques("/nonexistent/t.json"), IoError);
}

namespace {

Volume<std::uint8_t> Labels(const Index3& n, double h) {
  Geometry g;
  g.shape = n;
  g.spacing_um = {h, h, h};
  return Volume<std::uint8_t>(g, 1);
}

}  // namespace

TEST_CASE("RVE: a periodic structure settles at its period, a gradient never does", "[advise][rve]") {
  // Solid balls of radius 3 voxels on a lattice of period 8 in pore (label 0): any cube whose edge is a
  // multiple of the period holds the same pore fraction wherever it sits.
  Volume<std::uint8_t> v = Labels({64, 64, 64}, 0.5);
  for (std::int64_t z = 0; z < 64; ++z)
    for (std::int64_t y = 0; y < 64; ++y)
      for (std::int64_t x = 0; x < 64; ++x) {
        const double dz = z % 8 - 3.5, dy = y % 8 - 3.5, dx = x % 8 - 3.5;
        v(z, y, x) = dz * dz + dy * dy + dx * dx <= 9 ? 1 : 0;
      }
  RveOptions o;
  o.edges = {16, 32};
  o.samples = 3;
  const RveResult r = ComputeRve(v, o);
  REQUIRE(r.curve.size() == 2);
  REQUIRE(r.curve[0].porosity_cv < 1e-12);
  test::RequireClose(r.curve[0].porosity_mean, r.porosity, 1e-12);
  REQUIRE(r.curve[1].tau_percolating == 3);
  // a_s of a small cube loses the boundary within a smoothing length of its faces: 0.368 against 0.394
  // 1/um at 16 voxels (6.7 % low), 3 % at 32; the RVE is therefore 32 voxels, not the period.
  REQUIRE(r.curve[0].as_mean < 0.95 * r.as_per_um);
  REQUIRE(r.curve[1].as_mean > 0.95 * r.as_per_um);
  REQUIRE(r.reached);
  REQUIRE(r.rve_edge_um == 16.0);  // 32 voxels of 0.5 um
  const ResultTable rt = RveTable(r);
  REQUIRE(rt.name == "advice_rve");
  REQUIRE(rt.rows() == 2);
  REQUIRE(rt.Find("edge_um")->values[1] == 16.0);
  REQUIRE(rt.Find("as_mean")->values[1] == r.curve[1].as_mean);
  REQUIRE(rt.Find("as_mean")->unit == "1/um");
  REQUIRE(rt.Find("tau_percolating")->values[1] == 3.0);
  // A porosity gradient along z (0.1 at the bottom to 0.9 at the top): cubes disagree at every edge.
  Volume<std::uint8_t> grad = Labels({64, 64, 64}, 0.5);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (std::int64_t z = 0; z < 64; ++z)
    for (std::int64_t i = 0; i < 64 * 64; ++i) grad(z, i / 64, i % 64) = u(rng) < 0.1 + 0.8 * double(z) / 63 ? 0 : 1;
  o.tortuosity = false;
  o.edges = {8, 16, 24};
  o.samples = 6;
  const RveResult g = ComputeRve(grad, o);
  REQUIRE_FALSE(g.reached);
  REQUIRE(g.rve_edge_um == 0);
  REQUIRE(g.limiting == "porosity");
  REQUIRE_THROWS_WITH(ComputeRve(grad, RveOptions{0, {100}}), Catch::Contains("shortest axis"));
}

TEST_CASE("feature sizes are the local-thickness quantiles of every phase", "[advise][rve]") {
  // Pore slabs 4 voxels thick (z 6-9 and 22-25, inside the volume) in solid, at 0.25 um. The volume's
  // faces continue a phase (local thickness convention), so only the inner slabs have an exact answer.
  Volume<std::uint8_t> v = Labels({32, 16, 16}, 0.25);
  for (std::int64_t z = 0; z < 32; ++z)
    for (std::int64_t i = 0; i < 256; ++i) v(z, i / 16, i % 16) = (z % 16 >= 6 && z % 16 < 10) ? 0 : 1;
  const std::vector<FeatureSize> f = FeatureSizes(v, {{"pore", 0}, {"active", 1}, {"binder", 2}});
  REQUIRE(f.size() == 2);  // no binder voxel: no entry
  // A slab of 4 voxels holds balls of diameter 4 voxels: 1 um.
  test::RequireClose(f[0].p10_um, 1.0, 1e-6);
  test::RequireClose(f[0].p50_um, 1.0, 1e-6);
  REQUIRE(f[1].p10_um > f[0].p10_um);
  REQUIRE(f[1].phase == "active");
}
