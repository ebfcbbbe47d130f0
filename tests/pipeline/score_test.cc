#include "op4d/pipeline/score.h"

#include <cmath>
#include <filesystem>

#include "op4d/pipeline/campaign.h"
#include "op4d/pipeline/geometry.h"
#include "op4d/pipeline/transport.h"
#include "op4d/store/frame_store.h"
#include "test_util.h"

using namespace op4d;

namespace {

// A tiny synthetic campaign whose "measured" results are computed on its own truth labels: the store
// is a copy of the truth, analysed as a label campaign by the geometry and tortuosity steps.
std::string TruthAnalysed(const test::TempDir& dir) {
  SynthOptions o;
  o.seed = 3;
  o.frames = 2;
  o.shape = {24, 32, 32};
  o.snr = 10;
  WriteSynthCampaign(o, dir / "grey.h5", StoreOptions{}, true, ProgressStyle::kOff);
  const std::string store = dir / "c.h5";
  std::filesystem::copy_file(dir / "grey.truth.h5", store);
  std::filesystem::copy_file(dir / "grey.truth.h5", dir / "c.truth.h5");
  GeometryRunOptions g;
  g.labels = true;
  g.particles = false;
  g.progress = ProgressStyle::kOff;
  RunGeometry(store, g);
  TransportRunOptions t;
  t.value = 0;  // pore
  t.axes = "zx";
  t.progress = ProgressStyle::kOff;
  RunTransport(store, t);
  return store;
}

const ScoreRow* Row(const Scorecard& c, const std::string& quantity) {
  for (const ScoreRow& r : c.rows)
    if (r.quantity == quantity) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("score: results computed on the truth score zero error, one perturbed fraction fails exactly its row",
          "[pipeline][score]") {
  test::TempDir dir;
  const std::string store = TruthAnalysed(dir);
  ScoreOptions so;
  so.progress = ProgressStyle::kOff;
  const Scorecard card = ScoreCampaign(store, so);
  // fractions (3), a_s, tau z and x: every row exact.
  INFO(FormatScorecard(card));
  REQUIRE(card.rows.size() == 6);
  for (const ScoreRow& r : card.rows) {
    INFO(r.quantity);
    CHECK(r.error == 0.0);
    CHECK(r.pass);
  }
  REQUIRE(Row(card, "binder fraction"));
  REQUIRE(Row(card, "tau pore, axis x"));
  CHECK(card.AllPass());

  // Binder of frame 1 read 0.03 too high (and the other phases' fractions left as they were).
  {
    FrameStore s = FrameStore::OpenReadWrite(store);
    ResultTable vf = s.ReadFrameTable(1, "volume_fractions");
    const ResultColumn& label = *vf.Find("label");
    for (ResultColumn& c : vf.columns)
      if (c.name == "volume_fraction")
        for (std::size_t i = 0; i < c.values.size(); ++i)
          if (label.values[i] == 2) c.values[i] += 0.03;
    s.WriteFrameTable(1, vf, Provenance{"test", "perturbed", "{}", ""});
  }
  const Scorecard bad = ScoreCampaign(store, so);
  REQUIRE(bad.rows.size() == card.rows.size());
  CHECK(bad.Failed() == 1);
  const ScoreRow* b = Row(bad, "binder fraction");
  REQUIRE(b);
  CHECK_FALSE(b->pass);
  CHECK(b->frame == 1);
  CHECK(b->error == Approx(0.03).margin(1e-12));
  // Stored, and read back for the report with its names.
  const Scorecard stored = ReadScorecard(store);
  REQUIRE(stored.rows.size() == bad.rows.size());
  CHECK(stored.Failed() == 1);
  CHECK(stored.rows[0].quantity == bad.rows[0].quantity);
}

TEST_CASE("score: a relative row passes at its target and fails beyond it, and NaN fails", "[pipeline][score]") {
  CHECK(ScoreValue("k", "1", -1, 0.0612, 0.06, 0.02, true, "relative").pass);
  CHECK_FALSE(ScoreValue("k", "1", -1, 0.0613, 0.06, 0.02, true, "relative").pass);
  CHECK(ScoreValue("k", "1", -1, 0.0613, 0.06, 0.02, true, "relative").error == Approx(0.0613 / 0.06 - 1));
  CHECK_FALSE(ScoreValue("soc rms", "1", 3, NAN, 0, 0.03, false, "abs").pass);
  CHECK(ScoreValue("fraction", "1", 0, 0.405, 0.40, 0.01, false, "abs").error == Approx(0.005));
}

TEST_CASE("score: a missing or foreign truth file is named", "[pipeline][score][errors]") {
  test::TempDir dir;
  const std::string store = TruthAnalysed(dir);
  ScoreOptions so;
  so.progress = ProgressStyle::kOff;
  so.truth_path = dir / "absent.truth.h5";
  CHECK_THROWS_WITH(ScoreCampaign(store, so), Catch::Contains("absent.truth.h5"));
}

TEST_CASE("score: a label ensemble's intervals are printed beside the values and their coverage of the truth is scored",
          "[pipeline][score][uncertainty]") {
  test::TempDir dir;
  SynthOptions o;
  o.seed = 4;
  o.frames = 2;
  o.shape = {32, 40, 40};
  o.radius_um = 2;
  o.snr = 10;
  const std::string store = dir / "c.h5";
  WriteSynthCampaign(o, store, StoreOptions{}, true, ProgressStyle::kOff);
  QuickLookOptions q;
  q.method = SegmentMethod::kNlmGmm;
  q.ensemble = 4;
  q.progress = ProgressStyle::kOff;
  RunSegment(store, q);
  GeometryRunOptions g;
  g.segment = q;
  g.segment.ensemble = 0;
  g.particles = false;
  g.progress = ProgressStyle::kOff;
  RunGeometry(store, g);
  ScoreOptions so;
  so.progress = ProgressStyle::kOff;
  // Frames this small (2 um particles at 0.5 um) lie outside the calibrated domain: the intervals are
  // printed as uncalibrated and no frame counts for coverage.
  Scorecard card = ScoreCampaign(store, so);
  INFO(FormatScorecard(card));
  REQUIRE(FrameStore::OpenRead(store).ReadFrameTable(0, "segment_ensemble").Find("calibrated")->values[0] == 0);
  CHECK(FormatScorecard(card).find("(uncal.)") != std::string::npos);
  CHECK_FALSE(Row(card, "interval holds the truth: fraction_pore"));
  const ScoreRow* domain = Row(card, "label ensemble: frames in its calibrated domain");
  REQUIRE(domain);
  CHECK(domain->measured == 0);
  CHECK(domain->truth == 2);
  CHECK_FALSE(domain->pass);
  CHECK(FormatScorecard(card).find(" nan ") == std::string::npos);
  auto set_calibrated = [&](std::int64_t k, double v) {
    FrameStore s = FrameStore::OpenReadWrite(store);
    ResultTable t = s.ReadFrameTable(k, "segment_ensemble");
    for (ResultColumn& c : t.columns)
      if (c.name == "calibrated") c.values[0] = v;
    s.WriteFrameTable(k, t, Provenance{"test", "calibrated set", "{}", ""});
  };
  set_calibrated(0, 1);
  set_calibrated(1, 1);
  card = ScoreCampaign(store, so);
  CHECK_FALSE(Row(card, "label ensemble: frames in its calibrated domain"));
  // The worst frame's interval rides on the fraction rows.
  const ScoreRow* porosity = Row(card, "porosity (pore fraction)");
  REQUIRE(porosity);
  const ResultTable e = FrameStore::OpenRead(store).ReadFrameTable(porosity->frame, "segment_ensemble");
  CHECK(porosity->p05 == e.Find("fraction_pore_p05")->values[0]);
  CHECK(porosity->p95 == e.Find("fraction_pore_p95")->values[0]);
  CHECK(porosity->interval_calibrated == (e.Find("calibrated")->values[0] == 1));
  CHECK(FormatScorecard(card).find("5-95 % (ensemble)") != std::string::npos);
  // One coverage row per calibrated metric; its share counts the frames whose interval holds the truth.
  const ScoreRow* cov = Row(card, "interval holds the truth: fraction_pore");
  REQUIRE(cov);
  REQUIRE(Row(card, "interval holds the truth: tau_z_pore"));
  REQUIRE(Row(card, "interval holds the truth: a_s_pore_active"));
  REQUIRE(Row(card, "interval holds the truth: fraction_binder"));
  CHECK(cov->at_least);
  CHECK(cov->truth == 0.9);
  CHECK(cov->measured >= 0);
  CHECK(cov->measured <= 1);
  // Frame 0's porosity interval made to hold the truth, frame 1's moved off it: a share of one half.
  // Then frame 1 marked outside the calibrated domain: it is left out and named in the rule.
  auto set_interval = [&](std::int64_t k, double lo, double hi) {
    FrameStore s = FrameStore::OpenReadWrite(store);
    ResultTable t = s.ReadFrameTable(k, "segment_ensemble");
    for (ResultColumn& c : t.columns)
      if (c.name == "fraction_pore_p05") c.values[0] = lo;
      else if (c.name == "fraction_pore_p95") c.values[0] = hi;
    s.WriteFrameTable(k, t, Provenance{"test", "interval set", "{}", ""});
  };
  set_interval(0, 0, 1);
  set_interval(1, 2, 3);
  card = ScoreCampaign(store, so);
  CHECK(Row(card, "interval holds the truth: fraction_pore")->measured == 0.5);
  CHECK_FALSE(Row(card, "interval holds the truth: fraction_pore")->pass);
  set_calibrated(1, 0);
  card = ScoreCampaign(store, so);
  cov = Row(card, "interval holds the truth: fraction_pore");
  CHECK(cov->measured == 1);
  CHECK(cov->pass);
  CHECK(cov->rule.find("over 1 frames inside the calibrated domain (1 outside, not counted)") != std::string::npos);
  // Stored with the intervals, and read back.
  const Scorecard stored = ReadScorecard(store);
  const ScoreRow* sp = Row(stored, "porosity (pore fraction)");
  REQUIRE(sp);
  CHECK(sp->p05 == Row(card, "porosity (pore fraction)")->p05);
  CHECK(sp->interval_calibrated == Row(card, "porosity (pore fraction)")->interval_calibrated);
}
