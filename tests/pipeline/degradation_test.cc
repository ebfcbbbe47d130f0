#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "op4d/pipeline/campaign.h"
#include "op4d/pipeline/degradation.h"
#include "op4d/pipeline/register.h"
#include "op4d/pipeline/report.h"
#include "op4d/store/frame_store.h"
#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

TEST_CASE("FitDrift: exact slope, standard error and the Student-t interval", "[pipeline][degradation]") {
  const Drift exact = FitDrift({1, 2, 3, 4}, {2.5, 3.0, 3.5, 4.0});
  CHECK(exact.slope == Approx(0.5));
  CHECK(exact.se == Approx(0.0).margin(1e-12));
  CHECK(exact.n == 4);
  // y = 1, 2, 2, 4 at x = 1..4: slope 0.9, residuals 0.1 0.2 -0.7 0.4 (sum of squares 0.7), sxx 5,
  // se = sqrt(0.7 / 2 / 5) = 0.26458, t(0.975, 2) = 4.303.
  const Drift d = FitDrift({1, 2, 3, 4}, {1, 2, 2, 4});
  CHECK(d.slope == Approx(0.9));
  CHECK(d.se == Approx(std::sqrt(0.07)));
  CHECK(d.half_width_95 == Approx(4.303 * std::sqrt(0.07)));
  const Drift two = FitDrift({1, 2}, {1, NAN});
  CHECK(two.n == 1);
  CHECK(std::isnan(two.slope));
  CHECK(std::isnan(FitDrift({1, 2}, {1, 3}).se));
}

TEST_CASE("CyclesOfFrames: the cycle column, else the current's sign changes, else a clear error", "[pipeline][degradation]") {
  TimeTable t;
  t.columns = {{"time_s", "s", ""}, {"current_A", "A", ""}};
  t.values = {{0, 1, 2, 3, 4, 5, 6}, {1, 1, -1, -1, 1, -1, 2}};
  std::string source;
  CHECK(CyclesOfFrames(t, "c.h5", &source) == std::vector<int>{1, 1, 1, 1, 2, 2, 3});
  CHECK(source.find("current_A") != std::string::npos);
  t.columns.push_back({"cycle", "1", ""});
  t.values.push_back({1, 1, 1, 2, 2, 2, 2});
  CHECK(CyclesOfFrames(t, "c.h5", &source) == std::vector<int>{1, 1, 1, 2, 2, 2, 2});
  CHECK(source == "time table cycle");
  TimeTable none;
  none.columns = {{"time_s", "s", ""}};
  none.values = {{0, 1}};
  CHECK_THROWS_WITH(CyclesOfFrames(none, "c.h5", &source), Catch::Contains("c.h5") && Catch::Contains("cycle"));
}

// A scripted campaign through segment, register --particles and degradation: one particle cracks
// in cycle 2 and splits in two in cycle 3, one loses its binder in cycle 2, every other particle
// only swells and shrinks with the SOC and is never flagged.
TEST_CASE("degradation step: scripted crack, fragmentation and debonding found at their cycles, reversible swelling never flagged",
          "[pipeline][degradation]") {
  test::TempDir dir;
  SynthOptions o;
  o.seed = 11;
  o.shape = {64, 96, 96};
  o.spacing_um = {0.25, 0.25, 0.25};
  o.radius_um = 2.5;
  o.radius_sigma = 0.15;
  o.cycles = 3;
  o.frames = 4;
  o.drift_um_per_frame = {0.05, -0.05, 0.05};
  o.snr = 10;
  // The two particles nearest the view's centre, whole inside it.
  const SynthCampaign plain(o);
  const double c[3] = {0.5 * 63 * 0.25, 0.5 * 95 * 0.25, 0.5 * 95 * 0.25};
  std::vector<std::pair<double, int>> near;
  for (const SynthParticle& p : plain.particles()) {
    bool inside = true;
    double d2 = 0;
    for (int a = 0; a < 3; ++a) {
      inside = inside && p.center_um[a] - p.semi_axes_um[a] > 1.0 &&
               p.center_um[a] + p.semi_axes_um[a] < (o.shape[a] - 1) * o.spacing_um[a] - 1.0;
      d2 += (p.center_um[a] - c[a]) * (p.center_um[a] - c[a]);
    }
    if (inside) near.push_back({d2, p.id});
  }
  std::sort(near.begin(), near.end());
  REQUIRE(near.size() >= 2);
  const int cracking = near[0].second, debonding = near[1].second;
  SynthDamage crack;
  crack.particle = cracking;
  crack.crack_cycle = 2;
  crack.fragment_cycle = 3;
  crack.fragments = 2;
  SynthDamage debond;
  debond.particle = debonding;
  debond.debond_cycle = 2;
  debond.debond_loss = 1.0;
  o.damage = {crack, debond};
  const std::string path = dir / "c.h5";
  WriteSynthCampaign(o, path, StoreOptions{}, true, ProgressStyle::kOff);
  QuickLookOptions seg;
  seg.method = SegmentMethod::kNlmGmm;
  seg.progress = ProgressStyle::kOff;
  RunSegment(path, seg, false);
  RegisterRunOptions ro;
  ro.method = RegisterMethod::kRigid;
  ro.particles = true;
  ro.segment = seg;
  ro.progress = ProgressStyle::kOff;
  RunRegistration(path, ro);
  DegradationRunOptions dopt;
  dopt.segment = seg;
  dopt.progress = ProgressStyle::kOff;
  const DegradationSummary sum = RunDegradation(path, dopt);
  CHECK(sum.frames == 4);
  CHECK(sum.cycles == 3);
  CHECK(sum.cycle_source == "time table cycle");
  TruthCycleOptions to;  // (checked below)
  to.progress = ProgressStyle::kOff;
  const TruthCycles tc = WriteTruthCycles(TruthPathFor(path), path, to);
  LabelEventRunOptions eo;  // (checked below)
  eo.segment = seg;
  eo.progress = ProgressStyle::kOff;
  const LabelEventSummary es = RunLabelEvents(path, eo);

  // Reference labels -> truth ids by majority overlap on frame 0.
  const FrameStore store = FrameStore::OpenRead(path);
  const FrameStore truth = FrameStore::OpenRead(TruthPathFor(path));
  const LabelVolume ref = ToLabels(store.ReadFrameVolume(0, "particle_labels"));
  const LabelVolume tl = ToLabels(truth.ReadFrameVolume(0, "particle_labels"));
  std::map<int, std::map<int, std::int64_t>> overlap;
  std::map<int, std::int64_t> size;
  for (std::size_t i = 0; i < ref.size(); ++i)
    if (ref[i] > 0) ++size[ref[i]], ++overlap[ref[i]][tl[i]];
  std::map<int, int> truth_of;
  for (const auto& [l, m] : overlap)
    for (const auto& [t, v] : m)
      if (t > 0 && 2 * v >= size[l]) truth_of[l] = t;
  // The truth's frame 3 holds the crack as scripted.
  const ResultTable t3 = truth.ReadFrameTable(3, "particles");
  REQUIRE(t3.Find("crack_stage")->values[std::size_t(cracking - 1)] == 2);
  REQUIRE(t3.Find("fragments")->values[std::size_t(cracking - 1)] == 2);
  REQUIRE(t3.Find("crack_volume_um3")->values[std::size_t(cracking - 1)] > 1.0);
  const ResultTable t0 = truth.ReadFrameTable(0, "particles");
  const double contact0 = t0.Find("binder_contact_um2")->values[std::size_t(debonding - 1)];
  INFO("debonding particle's truth contact " << contact0 << " -> " << t3.Find("binder_contact_um2")->values[std::size_t(debonding - 1)]);
  REQUIRE(t3.Find("binder_contact_um2")->values[std::size_t(debonding - 1)] < 0.5 * contact0);

  const ResultTable ev = store.ReadSeriesTable("damage_events");
  const ResultColumn &label = *ev.Find("label"), &cc = *ev.Find("crack_onset_cycle"), &fc = *ev.Find("fragment_cycle"),
                     &fn = *ev.Find("fragments"), &dc = *ev.Find("debond_onset_cycle");
  bool saw_crack = false, saw_debond = false;
  int clean = 0;
  for (std::size_t r = 0; r < ev.rows(); ++r) {
    const int l = int(label.values[r]);
    if (!truth_of.count(l)) continue;
    const int t = truth_of[l];
    INFO("reference particle " << l << " (truth " << t << "): crack cycle " << cc.values[r] << ", fragment cycle " << fc.values[r]
                               << ", fragments " << fn.values[r] << ", debond cycle " << dc.values[r]);
    if (t == cracking) {
      saw_crack = true;
      CHECK(cc.values[r] == 2);
      CHECK(fc.values[r] == 3);
      CHECK(fn.values[r] == 2);
    } else if (t == debonding) {
      saw_debond = true;
      std::ostringstream per_frame;
      for (int k = 0; k < 4; ++k) {
        const ResultTable pd = store.ReadFrameTable(k, "particle_damage");
        const ResultTable tk = truth.ReadFrameTable(k, "particles");
        per_frame << " frame " << k << ": " << pd.Find("binder_contact_um2")->values[r] << " +- "
                  << pd.Find("binder_contact_sd_um2")->values[r] << " (truth " << tk.Find("binder_contact_um2")->values[std::size_t(t - 1)]
                  << ", cycle " << pd.Find("cycle")->values[r] << ")";
      }
      INFO("measured contact:" << per_frame.str());
      // Scripted from frame 1 (cycle 2). The particle's fit fails in frame 1 (the gap opened round it
      // pulls the fit: J 0.87, not converged), so the step reads it in frames 0, 2 and 3: the onset
      // it reports is frame 2 with frame 0 the last clear one, an interval that holds frame 1.
      const double onset = ev.Find("debond_onset_frame")->values[r], clear = ev.Find("debond_clear_frame")->values[r];
      CHECK(clear < 1);
      CHECK(onset >= 1);
      CHECK(dc.values[r] >= 2);
      CHECK(dc.values[r] <= 3);
      CHECK(std::isnan(cc.values[r]));
    } else {
      CHECK(std::isnan(cc.values[r]));
      CHECK(std::isnan(fc.values[r]));
      CHECK(std::isnan(dc.values[r]));
      ++clean;
    }
  }
  CHECK(saw_crack);
  CHECK(saw_debond);
  CHECK(clean >= 10);
  const ResultTable cs = store.ReadSeriesTable("cycle_statistics");
  CHECK(cs.Find("cycle")->values == std::vector<double>{1, 2, 3});
  // The relative drift is the slope over the first cycle's value.
  const ResultTable drift = store.ReadSeriesTable("cycle_drift");
  REQUIRE(drift.Find("particle_binder_contact_um2_rel_slope"));
  CHECK(drift.Find("particle_binder_contact_um2_rel_slope")->values[0] ==
        Approx(drift.Find("particle_binder_contact_um2_slope")->values[0] / cs.Find("particle_binder_contact_um2")->values[0]));

  // The truth's own per-cycle statistics, written into the truth store: the porosity is the truth
  // labels' pore share at each cycle's frame, exactly.
  REQUIRE(tc.cycles.rows() == 3);
  CHECK(tc.cycles.Find("frame")->values == cs.Find("frame")->values);
  for (std::size_t r = 0; r < 3; ++r) {
    const auto tk = std::get<Volume<std::uint8_t>>(truth.ReadFrame(std::int64_t(tc.cycles.Find("frame")->values[r])));
    std::int64_t pores = 0;
    for (std::size_t i = 0; i < tk.size(); ++i) pores += tk[i] == 0;
    CHECK(tc.cycles.Find("porosity")->values[r] == double(pores) / double(tk.size()));
    const double tau = tc.cycles.Find("tau_z")->values[r], taup = tc.cycles.Find("tau_z_percolating")->values[r];
    CHECK(tau > 1.0);
    CHECK(tau < 3.0);
    CHECK(taup <= tau);
    CHECK(taup > 0.95 * tau);
    CHECK(tc.cycles.Find("sigma_eff_z")->values[r] > 0.0);
    CHECK(tc.cycles.Find("sigma_eff_z")->values[r] < 100.0);
  }
  CHECK(tc.drift.Find("tau_z_slope")->values[0] ==
        Approx(FitDrift(tc.cycles.Find("cycle")->values, tc.cycles.Find("tau_z")->values).slope));
  {
    const FrameStore t2 = FrameStore::OpenRead(TruthPathFor(path));
    const std::vector<std::string> ts = t2.ListSeriesTables();
    CHECK(std::count(ts.begin(), ts.end(), "cycle_truth") == 1);
    CHECK(std::count(ts.begin(), ts.end(), "cycle_truth_drift") == 1);
  }

  // Events of the particles frame to frame.
  CHECK(es.frames == 4);
  CHECK(es.motion == "register step's maps");
  const ResultTable les = store.ReadSeriesTable("label_event_series");
  REQUIRE(les.rows() == 4);
  std::ostringstream ev_rows;
  for (std::size_t r = 0; r < 4; ++r)
    ev_rows << " frame " << r << ": objects " << les.Find("objects")->values[r] << " continued " << les.Find("continued")->values[r]
            << " merges " << les.Find("merges")->values[r] << " splits " << les.Find("splits")->values[r] << " vanished "
            << les.Find("vanished")->values[r] << " born " << les.Find("born")->values[r];
  INFO("events:" << ev_rows.str());
  CHECK(std::isnan(les.Find("continued")->values[0]));
  // Particles that only swell continue one to one (the crack's sheet, 2 voxels, is bridged by
  // partial volume in the active phase: the watershed keeps the halves one object, which is why
  // cracks are read by the damage kernel with its erosion, not by events).
  for (std::size_t r = 1; r < 4; ++r) {
    CHECK(les.Find("continued")->values[r] >= 0.95 * les.Find("objects")->values[r - 1]);
    CHECK(les.Find("merges")->values[r] + les.Find("splits")->values[r] + les.Find("vanished")->values[r] <= 2);
  }
  CHECK(store.ReadSeriesTable("damage_series").rows() == 4);
  // The report's degradation section: the onsets line and the per-cycle plots against the cycle.
  ReportOptions rep;
  rep.out_dir = dir / "report";
  rep.vtk = false;
  rep.progress = ProgressStyle::kOff;
  const ReportSummary rs = WriteReport(path, rep);
  std::ifstream in(rs.html);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(html.find("Degradation across cycles") != std::string::npos);
  CHECK(html.find("cracked, ") != std::string::npos);
  CHECK(html.find("cycle_statistics · cracked_share") != std::string::npos);
  CHECK(html.find("cycle [number]") != std::string::npos);
  CHECK(html.find("relative to the first cycle") != std::string::npos);
  // The slice with the damaged particles outlined: the cracked particle is in it.
  CHECK(html.find("Damaged particles, frame 3") != std::string::npos);
  CHECK(html.find("damaged particles\" width") != std::string::npos);
}

TEST_CASE("degradation step: bad input named", "[pipeline][degradation]") {
  test::TempDir dir;
  SynthOptions o;
  o.shape = {24, 32, 32};
  o.frames = 1;
  o.cycles = 2;
  WriteSynthCampaign(o, dir / "one.h5", StoreOptions{}, true, ProgressStyle::kOff);
  DegradationRunOptions dopt;
  dopt.progress = ProgressStyle::kOff;
  CHECK_THROWS_WITH(RunDegradation(dir / "one.h5", dopt), Catch::Contains("one.h5") && Catch::Contains("at least two"));
  o.frames = 3;
  WriteSynthCampaign(o, dir / "three.h5", StoreOptions{}, true, ProgressStyle::kOff);
  CHECK_THROWS_WITH(RunDegradation(dir / "three.h5", dopt), Catch::Contains("register") && Catch::Contains("--particles"));
  dopt.debond_drop = 1.5;
  CHECK_THROWS_WITH(RunDegradation(dir / "three.h5", dopt), Catch::Contains("debond_drop"));
  // Events: a campaign of one frame, a phase table without one active phase, bad options.
  LabelEventRunOptions eo;
  eo.progress = ProgressStyle::kOff;
  CHECK_THROWS_WITH(RunLabelEvents(dir / "one.h5", eo), Catch::Contains("one.h5") && Catch::Contains("at least two"));
  LabelEventRunOptions two_active = eo;
  two_active.segment.phases = PhaseTable({{"gas", 0, PhaseRole::kActive}, {"liquid", 1, PhaseRole::kActive}});
  CHECK_THROWS_WITH(RunLabelEvents(dir / "three.h5", two_active), Catch::Contains("phases") && Catch::Contains("exactly one"));
  LabelEventRunOptions bad_share = eo;
  bad_share.events.continue_share = 0;
  CHECK_THROWS_WITH(RunLabelEvents(dir / "three.h5", bad_share), Catch::Contains("continue_share"));
  LabelEventRunOptions one_frame = eo;
  one_frame.frames = {1};
  CHECK_THROWS_WITH(RunLabelEvents(dir / "three.h5", one_frame), Catch::Contains("at least two"));
  // Truth per cycle: a store that is not the campaign's truth is named.
  CHECK_THROWS_WITH(ComputeTruthCycles(TruthPathFor(dir / "one.h5"), dir / "three.h5", TruthCycleOptions{}),
                    Catch::Contains("one.truth.h5") && Catch::Contains("not this campaign's truth"));
  SynthOptions bad = o;
  bad.cycles = 1;
  bad.crack_share = 0.2;
  std::string why;
  CHECK_FALSE(bad.IsValid(&why));
  CHECK(why.find("cycles >= 2") != std::string::npos);
}
