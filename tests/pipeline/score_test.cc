#include "op4d/pipeline/score.h"

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
