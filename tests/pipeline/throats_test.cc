#include "op4d/pipeline/throats.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "op4d/frame/network/distance_transform.h"
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

// A two-phase grey campaign as the throat step sees it: segmented by nlm+gmm with `phases` (darkest
// first, labels 0 and 1), registered rigidly; returns the throat options with that segmentation.
ThroatRunOptions SegmentAndRegister(const std::string& store, const PhaseTable& phases) {
  QuickLookOptions seg;
  seg.method = SegmentMethod::kNlmGmm;
  seg.phases = phases;
  seg.class_labels = {0, 1};
  seg.progress = ProgressStyle::kOff;
  RunSegment(store, seg);
  RegisterRunOptions ro;
  ro.method = RegisterMethod::kRigid;
  ro.progress = ProgressStyle::kOff;
  RunRegistration(store, ro);
  ThroatRunOptions o;
  o.segment = seg;
  o.progress = ProgressStyle::kOff;
  return o;
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

TEST_CASE("the throat-lattice campaign: detected closures and reopenings match the generator's script",
          "[pipeline][throats][synth]") {
  // Throats swollen shut and reopened on a script, gas invading the wide throats at frames 5 and 6,
  // uneven frame times, drift, SNR 10: segmented, registered, carried, judged, compared.
  test::TempDir dir;
  ThroatLatticeOptions lo;
  lo.seed = 3;
  lo.frame_times_s = {0, 300, 600, 1200, 1500, 2000, 2100, 2400, 3000, 3600};
  StoreOptions so;
  so.codec = Codec::kNone;
  WriteThroatLatticeCampaign(lo, dir / "l.h5", so, false, ProgressStyle::kOff);
  ThroatRunOptions o = SegmentAndRegister(dir / "l.h5", LatticePhases());
  o.law.surface_tension_N_per_m = 0.072;
  o.law.r_min_um = 0.25;
  o.carry.search_tolerance_um = 0.5;
  o.reextract = true;
  const ThroatRunResult r = RunThroatHistory(dir / "l.h5", o);
  REQUIRE(r.frames_with_registration == 9);
  const ThroatTruthCheck c = CheckThroatHistory(r, dir / "l.truth.h5", o.law, 0);
  INFO("closures " << c.found_closures << "/" << c.truth_closures << ", reopenings " << c.found_reopenings << "/"
                   << c.truth_reopenings << ", invented " << c.invented_closures << " + " << c.invented_reopenings);
  REQUIRE(c.truth_throats == 216);
  REQUIRE(c.matched_throats == 216);
  REQUIRE(c.truth_closures > 150);  // the scripted closures and the invasion of every wide throat
  REQUIRE(c.truth_reopenings > 150);
  REQUIRE(c.EventRecall() >= 0.95);
  REQUIRE(c.invented_reopenings == 0);
  REQUIRE(c.invented_closures <= 0.05 * c.truth_closures);
  // The invasion cuts the separator off (every face throat is wide): percolation is lost at frames 5
  // and 6 and comes back, in the truth and in the detection.
  REQUIRE(c.percolation_agrees == 10);
  REQUIRE_FALSE(r.history.frames[5].percolates);
  REQUIRE(r.history.frames[7].percolates);
  REQUIRE(c.detected_percolation_fraction == Approx(c.truth_percolation_fraction));
  // Frames 5 and 6 stand for (2000 - 1500) / 2 + (2100 - 2000) / 2 and (2100 - 2000) / 2 + (2400 -
  // 2100) / 2 seconds: 500 of the 3600.
  REQUIRE(c.truth_percolation_fraction == Approx(1.0 - 500.0 / 3600.0));
  // Re-extracted networks: every throat-frame the script shuts is a death, under 1 % of the open
  // throat-frames are (narrow throats the frame's extraction misses), and the lattice grows no throats.
  INFO("shut " << c.shut_found << "/" << c.truth_shut << ", deaths of open throats " << c.deaths_invented << ", born " << c.born);
  REQUIRE(c.truth_shut > 50);
  REQUIRE(c.shut_found == c.truth_shut);
  REQUIRE(c.deaths_invented <= 0.01 * (216 * 10 - c.truth_shut));
  REQUIRE(c.born <= 2);
  REQUIRE(FrameStore::OpenRead(dir / "l.h5").ReadSeriesTable("throat_births_deaths").Find("died")->values.size() == 10);
  // A particle campaign's truth is not a lattice's: refused, naming the table.
  SynthOptions po;
  po.shape = {16, 24, 24};
  po.frames = 10;
  WriteSynthCampaign(po, dir / "p.h5", so, false, ProgressStyle::kOff);
  REQUIRE_THROWS_WITH(CheckThroatHistory(r, dir / "p.truth.h5", o.law, 0), Catch::Contains("table throats") && Catch::Contains("radius_um"));
}

TEST_CASE("a throat carried partly out of the field of view is measured on what is left, wholly out it is lost",
          "[pipeline][throats]") {
  const Volume<std::uint8_t> v = Channel(3.0);
  Volume<std::uint8_t> pore(v.geometry());
  for (std::int64_t i = 0; i < v.size(); ++i) pore[i] = v[i] == 0;
  NetworkOptions no;
  no.progress = ProgressStyle::kOff;
  const PoreNetwork net = ExtractPoreNetwork(pore, no);
  REQUIRE(net.throats.size() == 1);
  const Volume<float> edt = DistanceTransform(pore);
  AffineMap half, gone;
  half.t = Eigen::Vector3d(10.0, 0, 0);  // 10 of the 24 um along z leave the view
  gone.t = Eigen::Vector3d(30.0, 0, 0);
  REQUIRE(CarryThroatRadii(net, AffineMap{}, edt)[0] == Approx(std::sqrt(10.0)));
  // Shifted 10 um the path's remaining points fall on the constriction at z = 10..13 (radius 3 here).
  REQUIRE(CarryThroatRadii(net, half, edt)[0] == Approx(std::sqrt(10.0)));
  REQUIRE(std::isnan(CarryThroatRadii(net, gone, edt)[0]));
}

TEST_CASE("the throat history of the real 4D foam series under a stated pressure ramp", "[pipeline][throats][data]") {
  const std::string first = test::SharedData("foam4d/Raw_001.tiff");
  if (first.empty()) {
    WARN("shared data absent: skipped");
    return;
  }
  // Four frames 60 s apart, p_app 0, 3, 6, 9 kPa; 10 um voxels assumed (the files state none); the
  // liquid (bright) is the conducting network, gamma 0.035 N/m, theta 0.
  test::TempDir dir;
  {
    std::ofstream m(dir / "manifest.csv");
    m << "file,time_s,p_app_Pa\n";
    for (int k = 0; k < 4; ++k) m << test::SharedData("foam4d/Raw_00" + std::to_string(k + 1) + ".tiff") << "," << 60 * k << "," << 3000 * k << "\n";
  }
  CampaignImportOptions io;
  io.input.spacing_um = Vec3{10, 10, 10};
  io.progress = ProgressStyle::kOff;
  ImportManifest(dir / "manifest.csv", dir / "foam.h5", io);
  ThroatRunOptions o =
      SegmentAndRegister(dir / "foam.h5", PhaseTable({{"gas", 0, PhaseRole::kOther}, {"liquid", 1, PhaseRole::kPore}}));
  o.law.surface_tension_N_per_m = 0.035;
  o.law.r_min_um = 5;
  o.carry.search_tolerance_um = 10;
  const ThroatRunResult r = RunThroatHistory(dir / "foam.h5", o);
  const PercolationHistory& h = r.history;
  INFO(r.network.nodes.size() << " nodes, " << r.network.throats.size() << " throats; open " << h.frames[0].open_throats << " "
                              << h.frames[1].open_throats << " " << h.frames[2].open_throats << " " << h.frames[3].open_throats);
  REQUIRE(r.frames_with_registration == 3);
  REQUIRE(r.network.throats.size() > 3000);  // the Plateau-border network of 100^3 voxels
  REQUIRE(h.frames[0].percolates);
  REQUIRE(h.frames[0].open_throats == std::int64_t(r.network.throats.size()));  // 0 Pa: nothing invaded
  // Rising pressure invades the widest throats first: fewer open throats at every step.
  for (int k = 1; k < 4; ++k) REQUIRE(h.frames[std::size_t(k)].open_throats < h.frames[std::size_t(k - 1)].open_throats);
  // 9 kPa exceeds the entry pressure 2 gamma / r of every throat of one voxel radius or more.
  REQUIRE(h.frames[3].open_throats == 0);
  REQUIRE_FALSE(h.frames[3].percolates);
  REQUIRE(std::count_if(r.series.radius_um.begin(), r.series.radius_um.end(), [](float v) { return v < 0; }) == 0);
}
