#include "op4d/pipeline/transport.h"

#include <cmath>
#include <filesystem>

#include "op4d/store/frame_store.h"
#include "test_util.h"

using namespace op4d;

namespace {

// Labels on an anisotropic grid: pore (0) in slabs x % 4 < 2 between solid slabs (1), or all pore.
Volume<std::uint8_t> Slabs(bool all_pore) {
  Geometry g;
  g.shape = {12, 10, 16};
  g.spacing_um = {0.7, 0.45, 0.325};
  Volume<std::uint8_t> v(g, 1);
  for (std::int64_t z = 0; z < 12; ++z)
    for (std::int64_t y = 0; y < 10; ++y)
      for (std::int64_t x = 0; x < 16; ++x) v(z, y, x) = all_pore || x % 4 < 2 ? 0 : 1;
  return v;
}

}  // namespace

TEST_CASE("the tortuosity step writes tau per axis into the frame's results, CSV and fields", "[pipeline][transport]") {
  // Slabs parallel to the z-y plane are straight channels along z and y: tau = 1 exactly there (the
  // flux is eps A / L through a fraction eps of the section), and no path across x: tau infinite,
  // not converged. A uniform block has tau = 1 along every axis.
  test::TempDir dir;
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    store.AppendFrame(Slabs(false), TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""});
    store.AppendFrame(Slabs(true), TimeRow{{"time_s", 10.0}}, Provenance{"test", "", "{}", ""});
  }
  TransportRunOptions o;
  o.value = 0;
  o.out_dir = dir / "out";
  o.write_field = true;
  o.progress = ProgressStyle::kOff;
  const std::vector<TransportRunRow> rows = RunTransport(dir / "c.h5", o);
  REQUIRE(rows.size() == 2);
  const FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  const ResultTable slabs = store.ReadFrameTable(0, "tortuosity");
  REQUIRE(slabs.rows() == 3);
  REQUIRE(slabs.Find("axis")->values == std::vector<double>{0, 1, 2});
  test::RequireClose(slabs.Find("volume_fraction")->values[0], 0.5, 1e-12);
  test::RequireClose(slabs.Find("tau")->values[0], 1.0, 1e-6);
  test::RequireClose(slabs.Find("tau")->values[1], 1.0, 1e-6);
  REQUIRE(std::isinf(slabs.Find("tau")->values[2]));
  REQUIRE(slabs.Find("converged")->values == std::vector<double>{1, 1, 0});
  REQUIRE(slabs.Find("seconds")->unit == "s");
  const ResultTable block = store.ReadFrameTable(1, "tortuosity");
  for (int a = 0; a < 3; ++a) test::RequireClose(block.Find("tau")->values[std::size_t(a)], 1.0, 1e-6);
  REQUIRE(rows[1].files.size() == 4);  // CSV and one concentration field per axis
  for (const std::string& f : rows[1].files) REQUIRE(std::filesystem::exists(f));
  REQUIRE(rows[1].files[0] == dir / "out/frame_000001_tortuosity.csv");
  REQUIRE(rows[1].files[3] == dir / "out/frame_000001_c_x.vti");
}

TEST_CASE("the tortuosity step refuses a bad axis, phase or frame by name", "[pipeline][transport][errors]") {
  test::TempDir dir;
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    store.AppendFrame(Slabs(false), TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""});
  }
  TransportRunOptions o;
  o.progress = ProgressStyle::kOff;
  o.value = 0;
  o.axes = "zq";
  REQUIRE_THROWS_WITH(RunTransport(dir / "c.h5", o), Catch::Contains("'q' is not an axis"));
  o.axes = "z";
  o.frames = {3};
  REQUIRE_THROWS_WITH(RunTransport(dir / "c.h5", o), Catch::Contains("frame 3 is not in"));
  o.frames = {};
  o.value = -1;
  o.phase = "electrolyte";
  REQUIRE_THROWS_WITH(RunTransport(dir / "c.h5", o), Catch::Contains("no phase named 'electrolyte'"));
  o.value = 300;
  REQUIRE_THROWS_WITH(RunTransport(dir / "c.h5", o), Catch::Contains("pore value 300 is outside the range"));
}

TEST_CASE("the conductivity step: layered active and binder give the parallel and the series means", "[pipeline][transport]") {
  // Slabs x % 4 < 2 active (1 S/m), the others carbon-binder (3 S/m): along z the slabs conduct in
  // parallel, sigma_eff = (1 + 3) / 2 = 2; across them in series, 2 / (1/1 + 1/3) = 1.5. A frame of
  // pore only conducts nothing and is reported, not refused.
  test::TempDir dir;
  {
    StoreOptions so;
    so.phases = PhaseTable::Electrode();
    FrameStore store = FrameStore::Create(dir / "c.h5");
    Volume<std::uint8_t> v = Slabs(false);
    for (std::int64_t i = 0; i < v.size(); ++i) v[i] = v[i] == 0 ? 1 : 2;
    store.AppendFrame(v, TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""}, so);
    store.AppendFrame(Volume<std::uint8_t>(v.geometry(), 0), TimeRow{{"time_s", 10.0}}, Provenance{"test", "", "{}", ""}, so);
  }
  ConductivityRunOptions o;
  o.axes = "zx";
  o.sigma_active_S_per_m = 1;
  o.sigma_binder_S_per_m = 3;
  o.solver.tolerance = 1e-12;
  o.progress = ProgressStyle::kOff;
  const auto out = RunConductivity(dir / "c.h5", o);
  REQUIRE(out.size() == 2);
  const ResultTable& t = out[0].second;
  REQUIRE(t.Find("axis")->values == std::vector<double>{0, 2});
  REQUIRE(t.Find("sigma_eff")->values[0] == Approx(2.0).epsilon(1e-9));
  REQUIRE(t.Find("sigma_eff")->values[1] == Approx(1.5).epsilon(1e-9));
  REQUIRE(t.Find("sigma_eff_over_sigma_active")->values[1] == Approx(1.5).epsilon(1e-9));
  REQUIRE(out[1].second.Find("sigma_eff")->values == std::vector<double>{0, 0});
  const FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  REQUIRE(store.ReadFrameTable(0, "conductivity").Find("sigma_eff")->unit == "S/m");
  // Bad values are refused by name.
  o.sigma_active_S_per_m = 0;
  REQUIRE_THROWS_WITH(RunConductivity(dir / "c.h5", o), Catch::Contains("sigma-active"));
}
