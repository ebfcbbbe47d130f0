#include "op4d/pipeline/throats.h"

#include <filesystem>

#include "op4d/pipeline/register.h"
#include "op4d/store/frame_store.h"
#include "test_util.h"

using namespace op4d;

namespace {

// A solid block (label 1) crossed along z by a cylindrical channel (label 0) of radius 3 voxels,
// with a constriction at z = 10..13 of radius `neck` (< 0: the channel is blocked there).
Volume<std::uint8_t> Channel(double neck, int dy = 0, int dx = 0) {
  Geometry g;
  g.shape = {24, 17, 17};
  g.spacing_um = {1, 1, 1};
  Volume<std::uint8_t> v(g, 1);
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 17; ++y)
      for (std::int64_t x = 0; x < 17; ++x) {
        const double R = z >= 10 && z <= 13 ? neck : 3.0;
        const std::int64_t cy = 8 + dy, cx = 8 + dx;
        if (R >= 0 && double((y - cy) * (y - cy) + (x - cx) * (x - cx)) <= R * R) v(z, y, x) = 0;
      }
  return v;
}

}  // namespace

TEST_CASE("throat history through the store: a channel squeezed, invaded, blocked and reopened",
          "[pipeline][throats]") {
  test::TempDir dir;
  // Frames: open (p_app 10 kPa), neck 1.5 voxels invaded at 80 kPa (its entry pressure is 50 kPa),
  // blocked, open again; uneven times.
  const double neck[] = {3.0, 1.5, -1.0, 3.0};
  const double t[] = {0, 100, 200, 400};
  const double p[] = {1e4, 8e4, 1e4, 1e4};
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    for (int k = 0; k < 4; ++k)
      store.AppendFrame(Channel(neck[k]), TimeRow{{"time_s", t[k]}, {"p_app_Pa", p[k]}}, Provenance{"test", "", "{}", ""});
  }
  ThroatRunOptions o;
  o.pore_value = 0;
  o.law.surface_tension_N_per_m = 0.05;
  o.law.r_min_um = 0.5;
  o.progress = ProgressStyle::kOff;
  o.out_dir = dir / "out";
  const ThroatRunResult r = RunThroatHistory(dir / "c.h5", o);
  INFO(r.network.nodes.size() << " nodes, " << r.network.throats.size() << " throats");
  REQUIRE(r.network.throats.size() == 1);
  // Radii measured on each frame's distance transform along the carried path: the axis voxel of a
  // radius-3 channel is sqrt(10) from the nearest solid centre, of the 1.5 neck 2, of the block 0.
  REQUIRE(r.series.radius_um[0] == Approx(std::sqrt(10.0)));
  REQUIRE(r.series.radius_um[1] == Approx(2.0));
  REQUIRE(r.series.radius_um[2] == 0.0f);
  REQUIRE(r.series.radius_um[3] == Approx(std::sqrt(10.0)));
  const PercolationHistory& h = r.history;
  REQUIRE(h.frames[0].percolates);
  REQUIRE_FALSE(h.frames[1].percolates);  // 80 kPa > 2 * 0.05 / 2e-6 = 50 kPa: invaded
  REQUIRE_FALSE(h.frames[2].percolates);  // blocked
  REQUIRE(h.frames[3].percolates);
  REQUIRE(h.frames[1].critical_pressure_Pa == Approx(5e4));
  // Weights 50, 100, 150, 100 s: percolating 150 of 400 s.
  REQUIRE(h.percolation_fraction == Approx(0.375));
  REQUIRE(h.reopen_events == 1);
  REQUIRE(h.throats[0].time_closed_s == Approx(250));
  REQUIRE(h.first_loss_time_s == 100);
  const FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  REQUIRE(store.ReadSeriesTable("percolation_summary").Find("percolation_fraction")->values[0] == Approx(0.375));
  REQUIRE(store.ReadSeriesTable("throat_radii").Find("radius_1")->values[0] == Approx(2.0));
  REQUIRE(std::filesystem::exists(dir / "out/throat_history.vtp"));
}

TEST_CASE("throat history refuses a store without applied pressure", "[pipeline][throats]") {
  test::TempDir dir;
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    store.AppendFrame(Channel(3.0), TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""});
  }
  ThroatRunOptions o;
  o.pore_value = 0;
  o.law.surface_tension_N_per_m = 0.05;
  o.progress = ProgressStyle::kOff;
  REQUIRE_THROWS_WITH(RunThroatHistory(dir / "c.h5", o), Catch::Contains("p_app_Pa"));
}

TEST_CASE("throats are carried by the stored registration: a drifting channel keeps its radius",
          "[pipeline][throats][registration]") {
  test::TempDir dir;
  const int dy[] = {0, 1, 2}, dx[] = {0, -2, 1};
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    for (int k = 0; k < 3; ++k)
      store.AppendFrame(Channel(3.0, dy[k], dx[k]), TimeRow{{"time_s", 10.0 * k}, {"p_app_Pa", 1e4}},
                        Provenance{"test", "", "{}", ""});
  }
  ThroatRunOptions o;
  o.pore_value = 0;
  o.law.surface_tension_N_per_m = 0.05;
  o.progress = ProgressStyle::kOff;
  // Without a registration the carried path misses the drifted channel's axis.
  const ThroatRunResult before = RunThroatHistory(dir / "c.h5", o);
  REQUIRE(before.frames_with_registration == 0);
  REQUIRE(before.series.radius_um[2] < 2.5f);
  RegisterRunOptions ro;
  ro.method = RegisterMethod::kRigid;
  ro.progress = ProgressStyle::kOff;
  RunRegistration(dir / "c.h5", ro);
  const ThroatRunResult after = RunThroatHistory(dir / "c.h5", o);
  REQUIRE(after.frames_with_registration == 2);
  for (int k = 0; k < 3; ++k) REQUIRE(after.series.radius_um[std::size_t(k)] == Approx(std::sqrt(10.0)));
  // A registration onto another reference frame is refused, not used.
  ro.reference = 1;
  RunRegistration(dir / "c.h5", ro);
  REQUIRE_THROWS_WITH(RunThroatHistory(dir / "c.h5", o), Catch::Contains("registered onto frame 1"));
}
