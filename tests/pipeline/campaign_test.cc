#include "op4d/pipeline/campaign.h"
#include "op4d/pipeline/network.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "op4d/frame/geometry/percolation.h"
#include "op4d/io/export.h"
#include "test_util.h"

using namespace op4d;

namespace {
Volume<std::uint16_t> Frame(int k, Vec3 spacing = {0.5, 0.5, 0.5}) {
  Geometry g;
  g.shape = {6, 7, 8};
  g.spacing_um = spacing;
  Volume<std::uint16_t> v(g);
  for (std::int64_t i = 0; i < v.size(); ++i) v[i] = std::uint16_t(1000 * k + i);
  return v;
}
CampaignImportOptions Quiet() {
  CampaignImportOptions o;
  o.progress = ProgressStyle::kOff;
  return o;
}
}  // namespace

TEST_CASE("a manifest imports a whole campaign with its cycler log", "[pipeline][import]") {
  test::TempDir dir;
  for (int k = 0; k < 3; ++k) WriteTiffStack(dir / ("scan_" + std::to_string(k) + ".tif"), Frame(k));
  std::ofstream(dir / "campaign.csv") << "file,time_s,voltage_V,current_A,p_app_Pa,temperature_K [K]\n"
                                         "scan_0.tif,0,3.61,0.002,101325,298.1\n"
                                         "scan_1.tif,900,3.72,0.002,120000,298.4\n"
                                         "scan_2.tif,1800,3.85,0.002,140000,298.9\n";
  const ImportSummary s = ImportManifest(dir / "campaign.csv", dir / "c.h5", Quiet());
  REQUIRE(s.frames_added == 3);
  const FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  REQUIRE(store.frame_count() == 3);
  for (int k = 0; k < 3; ++k) REQUIRE(std::get<Volume<std::uint16_t>>(store.ReadFrame(k)).values() == Frame(k).values());
  REQUIRE(store.layout()->geometry.spacing_um == Vec3{0.5, 0.5, 0.5});
  const TimeTable tt = store.ReadTimeTable();
  REQUIRE(*tt.Find("time_s") == std::vector<double>{0, 900, 1800});
  REQUIRE(*tt.Find("voltage_V") == std::vector<double>{3.61, 3.72, 3.85});
  REQUIRE(*tt.Find("temperature_K") == std::vector<double>{298.1, 298.4, 298.9});
  REQUIRE(tt.columns.back().unit == "K");
  REQUIRE(std::isnan((*tt.Find("soc_ref"))[1]));
  REQUIRE(store.ReadFrameProvenance(2).find("scan_2.tif") != std::string::npos);
}

TEST_CASE("a frame that does not fit the campaign is refused and earlier frames stay", "[pipeline][import][errors]") {
  test::TempDir dir;
  WriteTiffStack(dir / "a.tif", Frame(0));
  WriteTiffStack(dir / "b.tif", Frame(1));
  WriteTiffStack(dir / "odd.tif", Frame(2, {0.5, 0.5, 0.25}));
  ImportFiles({dir / "a.tif", dir / "b.tif"}, dir / "c.h5", Quiet());
  CampaignImportOptions app = Quiet();
  app.append = true;
  REQUIRE_THROWS_WITH(ImportFiles({dir / "odd.tif"}, dir / "c.h5", app), Catch::Contains("spacing"));
  REQUIRE_THROWS_WITH(ImportFiles({dir / "a.tif"}, dir / "c.h5", Quiet()), Catch::Contains("already exists"));
  REQUIRE_THROWS_WITH(ImportFiles({dir / "nothere.tif"}, dir / "c.h5", app), Catch::Contains("nothere.tif: does not exist"));
  const FrameStore s = FrameStore::OpenRead(dir / "c.h5");
  REQUIRE(s.frame_count() == 2);
  REQUIRE(std::get<Volume<std::uint16_t>>(s.ReadFrame(1)).values() == Frame(1).values());
  REQUIRE(*s.ReadTimeTable().Find("time_s") == std::vector<double>{0, 1});
}

TEST_CASE("a synthetic campaign is written with its truth, reproducibly, and quick-looked", "[pipeline][synth]") {
  test::TempDir dir;
  SynthOptions o;
  o.shape = {20, 28, 28};
  o.frames = 3;
  o.radius_um = 2.5;
  StoreOptions so;
  so.codec = Codec::kBloscZstd;
  const SynthSummary a = WriteSynthCampaign(o, dir / "a.h5", so, false, ProgressStyle::kOff);
  WriteSynthCampaign(o, dir / "b.h5", so, false, ProgressStyle::kOff);
  REQUIRE(a.truth_path == dir / "a.truth.h5");
  REQUIRE_THROWS_WITH(WriteSynthCampaign(o, dir / "a.h5", so, false, ProgressStyle::kOff), Catch::Contains("already exists"));
  {
    const FrameStore sa = FrameStore::OpenRead(dir / "a.h5"), sb = FrameStore::OpenRead(dir / "b.h5");
    REQUIRE(sa.frame_count() == 3);
    for (int k = 0; k < 3; ++k)
      REQUIRE(std::get<Volume<std::uint16_t>>(sa.ReadFrame(k)).values() == std::get<Volume<std::uint16_t>>(sb.ReadFrame(k)).values());
    const FrameStore t = FrameStore::OpenRead(a.truth_path);
    REQUIRE(t.layout()->phases->ToSpec() == PhaseTable::Electrode().ToSpec());
    REQUIRE(t.ListFrameTables(2) == std::vector<std::string>{"particles", "throats"});
    REQUIRE(t.ListFrameVolumes(2) == std::vector<std::string>{"particle_labels"});
    REQUIRE(t.ReadSeriesTable("drift").Find("drift_x_um")->values[2] == 2 * o.drift_um_per_frame[2]);
    REQUIRE(*t.ReadTimeTable().Find("soc_ref") == *sa.ReadTimeTable().Find("soc_ref"));
  }
  QuickLookOptions q;
  q.truth_path = a.truth_path;
  q.progress = ProgressStyle::kOff;
  q.method = SegmentMethod::kMultiOtsu;
  const auto otsu = RunQuickLook(dir / "a.h5", q);
  q.method = SegmentMethod::kGaussianMixture;
  const auto rows = RunQuickLook(dir / "a.h5", q);  // the stored table is the last run's
  REQUIRE(q.method != QuickLookOptions{}.method);   // the default is the baseline (see campaign.h)
  REQUIRE(rows.size() == 3);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const QuickLookRow& r = rows[k];
    // Grey-value-only segmentation is coarse, but the pore fraction lands near the truth at SNR 10.
    REQUIRE(std::abs(r.measured.Find("pore")->fraction - r.truth->Find("pore")->fraction) < 0.1);
    REQUIRE(std::abs(otsu[k].measured.Find("pore")->fraction - r.truth->Find("pore")->fraction) < 0.1);
    REQUIRE(r.status.find("converged") == 0);
  }
  {
    const FrameStore s = FrameStore::OpenRead(dir / "a.h5");
    const ResultTable t = s.ReadFrameTable(1, "quicklook_fractions");
    REQUIRE(t.Find("volume_fraction")->values[0] == rows[1].measured.phases[0].fraction);
    REQUIRE(s.ReadTableProvenance(FrameResultsGroup(1) + "/quicklook_fractions").find("\"method\":\"gmm\"") != std::string::npos);
  }
  // Denoised, tied mixture, partial-volume correction, islands: the pore phase comes from the table.
  q.method = SegmentMethod::kNlmGmm;
  const auto nlm = RunQuickLook(dir / "a.h5", q);
  for (const QuickLookRow& r : nlm) {
    REQUIRE(std::abs(r.measured.Find("pore")->fraction - r.truth->Find("pore")->fraction) < 0.1);
    REQUIRE(r.status.find("NLM sigma") != std::string::npos);
  }
  REQUIRE(FrameStore::OpenRead(dir / "a.h5").ReadTableProvenance(FrameResultsGroup(0) + "/quicklook_fractions").find(
              "\"method\":\"nlm+gmm\"") != std::string::npos);
  q.phases = PhaseTable::FromSpec("a=0:other,b=1:active,c=2:binder");
  REQUIRE_THROWS_WITH(RunQuickLook(dir / "a.h5", q), Catch::Contains("pore role"));
}

TEST_CASE("the real NMC cathode imports with its published phase fractions", "[pipeline][data]") {
  const std::string tif = test::SharedData("nmc_cathode/nmc_cathode_labels.tif");
  if (tif.empty()) {
    WARN("../shared/data is absent: skipping the NMC cathode import");
    return;
  }
  test::TempDir dir;
  CampaignImportOptions o = Quiet();
  o.input.spacing_um = Vec3{0.398, 0.398, 0.398};
  ImportFiles({tif}, dir / "nmc.h5", o);
  const FrameStore s = FrameStore::OpenRead(dir / "nmc.h5");
  REQUIRE(s.layout()->geometry.shape == Index3{251, 301, 301});
  REQUIRE(s.layout()->dtype == DataType::kUInt8);
  const auto labels = std::get<Volume<std::uint8_t>>(s.ReadFrame(0));
  const VolumeFractions f = ComputeVolumeFractions(labels, PhaseTable::FromSpec("pore=0:pore,NMC=1:active,CBD=2:binder"));
  // The data README gives 40.0 / 50.0 / 10.0 % (rounded); the exact counts were checked independently
  // with h5py + numpy on the imported store.
  REQUIRE(f.Find("pore")->voxels == 9108821);
  REQUIRE(f.Find("NMC")->voxels == 11357945);
  REQUIRE(f.Find("CBD")->voxels == 2274085);
  REQUIRE(f.Find("pore")->fraction == Approx(0.400).margin(0.001));
  REQUIRE(f.Find("NMC")->fraction == Approx(0.500).margin(0.001));
  REQUIRE(f.Find("CBD")->fraction == Approx(0.100).margin(0.001));
  REQUIRE(f.other_voxels == 0);
  // Percolation with the dual rule (pore 26, solids 6). The data README says the pore phase
  // percolates in all directions; the figures are regression values (op4d, 2026-11-24).
  const Percolation p = ComputePercolation(labels, PhaseTable::FromSpec("pore=0:pore,NMC=1:active,CBD=2:binder"));
  for (int a = 0; a < 3; ++a) {
    REQUIRE(p.Find("pore")->spanning_fraction[a] == Approx(0.99557).margin(1e-5));
    REQUIRE(p.Find("NMC")->spanning_fraction[a] == Approx(0.99814).margin(1e-5));
    REQUIRE(p.Find("CBD")->spanning_fraction[a] == Approx(0.65960).margin(1e-5));
  }
  REQUIRE(p.Find("pore")->components == 167);
  REQUIRE(p.Find("NMC")->components == 144);
  REQUIRE(p.Find("CBD")->components == 64441);
  REQUIRE(p.Find("CBD")->isolated_fraction == Approx(0.20840).margin(1e-5));
}

TEST_CASE("the real 4D foam series imports from a manifest, frame for frame", "[pipeline][data]") {
  const std::string dir4d = test::SharedData("foam4d");
  if (dir4d.empty()) {
    WARN("../shared/data is absent: skipping the foam4d import");
    return;
  }
  test::TempDir dir;
  {
    std::ofstream m(dir / "foam.csv");
    m << "file,time_s,p_app_Pa\n";
    for (int k = 1; k <= 10; ++k) {
      char name[64];
      std::snprintf(name, sizeof name, "%s/Raw_%03d.tiff", dir4d.c_str(), k);
      m << name << "," << 60 * (k - 1) << "," << 1e5 + 1e4 * (k - 1) << "\n";
    }
  }
  CampaignImportOptions o = Quiet();
  o.store.codec = Codec::kBloscZstd;
  const ImportSummary sum = ImportManifest(dir / "foam.csv", dir / "foam.h5", o);
  REQUIRE(sum.frames_added == 10);
  const FrameStore s = FrameStore::OpenRead(dir / "foam.h5");
  REQUIRE(s.frame_count() == 10);
  REQUIRE(s.layout()->geometry.shape == Index3{100, 100, 100});
  REQUIRE(s.layout()->dtype == DataType::kFloat32);
  const auto direct = std::get<Volume<float>>(ReadTiffStack(dir4d + "/Raw_004.tiff"));
  REQUIRE(std::get<Volume<float>>(s.ReadFrame(3)).values() == direct.values());
  REQUIRE((*s.ReadTimeTable().Find("p_app_Pa"))[9] == 1.9e5);
}

TEST_CASE("the network step writes its tables into the store and its files beside it", "[pipeline][network]") {
  test::TempDir dir;
  SynthOptions o;
  o.shape = {24, 32, 32};
  o.frames = 2;
  o.radius_um = 2.5;
  const SynthSummary s = WriteSynthCampaign(o, dir / "c.h5", {}, false, ProgressStyle::kOff);
  NetworkRunOptions n;
  n.frames = {1};
  n.network.progress = ProgressStyle::kOff;
  n.out_dir = dir / "net";
  const std::vector<NetworkRunRow> rows = RunNetwork(dir / "c.h5", n);  // grey frames: multi-Otsu, pore role
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].frame == 1);
  REQUIRE(rows[0].files.size() == 5);
  const ResultTable& sum = rows[0].summary;
  REQUIRE(sum.Find("nodes")->values[0] > 0);
  REQUIRE(sum.Find("graph_loops")->values[0] == sum.Find("pore_loops")->values[0]);
  {
    const FrameStore st = FrameStore::OpenRead(dir / "c.h5");
    REQUIRE(st.ListFrameTables(1) == std::vector<std::string>{"network_pores", "network_summary", "network_throat_paths",
                                                              "network_throats"});
    REQUIRE(st.ReadFrameTable(1, "network_pores").rows() == std::size_t(sum.Find("nodes")->values[0]));
    REQUIRE(st.ReadTableProvenance(FrameResultsGroup(1) + "/network_throats").find("\"segment\":\"multi-otsu\"") !=
            std::string::npos);
    REQUIRE(st.ListFrameTables(0).empty());
  }
  for (const std::string& f : rows[0].files) REQUIRE(std::ifstream(f).good());
  // The truth store holds labels: the pore is the value 0.
  n.pore_value = 0;
  n.out_dir.clear();
  const std::vector<NetworkRunRow> truth = RunNetwork(s.truth_path, n);
  REQUIRE(truth[0].summary.Find("graph_loops")->values[0] == truth[0].summary.Find("pore_loops")->values[0]);
  n.frames = {5};
  REQUIRE_THROWS_WITH(RunNetwork(dir / "c.h5", n), Catch::Contains("frame 5 is not in"));
  n.frames = {0};
  n.pore_value = 300;
  REQUIRE_THROWS_WITH(RunNetwork(s.truth_path, n), Catch::Contains("pore value 300"));
}

TEST_CASE("the segment step stores labels and probability maps that the later steps reuse", "[pipeline][segment]") {
  test::TempDir dir;
  SynthOptions o;
  o.shape = {16, 24, 24};
  o.frames = 2;
  o.radius_um = 2.5;
  WriteSynthCampaign(o, dir / "c.h5", {}, false, ProgressStyle::kOff);
  QuickLookOptions q;
  q.method = SegmentMethod::kGaussianMixture;
  q.progress = ProgressStyle::kOff;
  const std::vector<QuickLookRow> rows = RunSegment(dir / "c.h5", q);
  REQUIRE(rows.size() == 2);
  FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  const AnyVolume grey = store.ReadFrame(1);
  std::vector<Volume<std::uint8_t>> posteriors;
  const PhaseVolume direct = SegmentFrame(grey, q, nullptr, &posteriors);
  // The stored labels are the segmentation's, and each probability map is its class's posterior
  // (classes by increasing mean: pore, binder, active); the maps sum to 255 within rounding.
  const std::vector<std::string> volumes = store.ListFrameVolumes(1);
  REQUIRE(volumes == std::vector<std::string>{"labels", "probability_active", "probability_binder", "probability_pore"});
  const auto labels = std::get<Volume<std::uint8_t>>(store.ReadFrameVolume(1, "labels"));
  REQUIRE(labels.values() == direct.values());
  const auto pore = std::get<Volume<std::uint8_t>>(store.ReadFrameVolume(1, "probability_pore"));
  const auto binder = std::get<Volume<std::uint8_t>>(store.ReadFrameVolume(1, "probability_binder"));
  const auto active = std::get<Volume<std::uint8_t>>(store.ReadFrameVolume(1, "probability_active"));
  REQUIRE(pore.values() == posteriors[0].values());
  REQUIRE(binder.values() == posteriors[1].values());
  REQUIRE(active.values() == posteriors[2].values());
  for (std::int64_t i = 0; i < pore.size(); ++i) REQUIRE(std::abs(int(pore[i]) + binder[i] + active[i] - 255) <= 2);
  REQUIRE(nlohmann::json::parse(store.ReadTableProvenance("/results/000001/labels"))["options"]["segmentation"]["method"] == "gmm");
  // FrameLabels takes the stored labels for the same segmentation (tampered here to tell them
  // apart), and segments again for another method.
  store.Close();  // one process: the reader goes before the writer comes
  {
    FrameStore w = FrameStore::OpenReadWrite(dir / "c.h5");
    PhaseVolume marked = labels;
    marked[0] = 9;
    w.WriteFrameVolume(1, "labels", marked,
                       Provenance{"segment", "", nlohmann::json{{"segmentation", nlohmann::json::parse(SegmentationJson(q))}}.dump(), ""});
  }
  FrameStore again = FrameStore::OpenRead(dir / "c.h5");
  QuickLookRow report;
  REQUIRE(FrameLabels(again, 1, grey, q, &report)[0] == 9);
  REQUIRE(report.status.find("(labels stored by the segment step)") != std::string::npos);
  QuickLookOptions otsu = q;
  otsu.method = SegmentMethod::kMultiOtsu;
  REQUIRE(FrameLabels(again, 1, grey, otsu).values() == SegmentFrame(grey, otsu).values());
  // Multi-Otsu has no posteriors: labels only, and the maps of the earlier segmentation are removed.
  again.Close();
  RunSegment(dir / "c.h5", otsu);
  REQUIRE(FrameStore::OpenRead(dir / "c.h5").ListFrameVolumes(0) == std::vector<std::string>{"labels"});
}

TEST_CASE("the segment step's tuning shapes the stored labels, which the later steps reuse with default tuning", "[pipeline][segment]") {
  test::TempDir dir;
  SynthOptions o;
  o.shape = {24, 32, 32};
  o.spacing_um = {0.25, 0.25, 0.25};
  o.frames = 1;
  o.radius_um = 3;
  WriteSynthCampaign(o, dir / "c.h5", {}, false, ProgressStyle::kOff);
  QuickLookOptions defaults;
  defaults.method = SegmentMethod::kNlmGmm;
  defaults.progress = ProgressStyle::kOff;
  // The default chain identifies itself as before the tuning existed, so labels stored then still count.
  REQUIRE(nlohmann::json::parse(SegmentationJson(defaults)) ==
          nlohmann::json::parse(R"({"method": "nlm+gmm", "bins": 256, "class_labels": [0, 2, 1],
                                    "phases": "pore=0:pore,active=1:active,binder=2:binder", "min_island_voxels": 27})"));
  QuickLookOptions tuned = defaults;
  tuned.refine.max_sweeps = 0;
  tuned.nlm.h_factor = 0.6;
  tuned.clean_up = PhaseCleanUpsFromSpec("opening:active:0.2");
  REQUIRE(RunSegment(dir / "c.h5", tuned).size() == 1);
  FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  const AnyVolume grey = store.ReadFrame(0);
  const PhaseVolume stored = std::get<PhaseVolume>(store.ReadFrameVolume(0, "labels"));
  REQUIRE(stored.values() == SegmentFrame(grey, tuned).values());
  const PhaseVolume plain = SegmentFrame(grey, defaults);
  std::int64_t differ = 0;
  for (std::int64_t i = 0; i < plain.size(); ++i) differ += plain[i] != stored[i];
  CAPTURE(differ);
  REQUIRE(differ > 50);  // the tuning took effect (124 voxels)
  const nlohmann::json seg =
      nlohmann::json::parse(store.ReadTableProvenance("/results/000000/labels"))["options"]["segmentation"];
  REQUIRE(seg["refine_sweeps"] == 0);
  REQUIRE(seg["nlm_h_factor"] == 0.6);
  REQUIRE(seg["clean_up"] == nlohmann::json::parse(R"([{"op": "opening", "phase": "active", "radius_um": 0.2}])"));
  REQUIRE_FALSE(seg.contains("psf_sigma_vox"));
  // A later step asking for nlm+gmm with the default tuning takes the stored labels; one with
  // other phases segments again.
  QuickLookRow report;
  REQUIRE(FrameLabels(store, 0, grey, defaults, &report).values() == stored.values());
  REQUIRE(report.status.find("opening of active (0.2 um)") != std::string::npos);
  REQUIRE(report.status.find("(labels stored by the segment step)") != std::string::npos);
  QuickLookOptions two = defaults;
  two.phases = PhaseTable::FromSpec("pore=0:pore,solid=1:active");
  two.class_labels = {0, 1};
  QuickLookRow again;
  FrameLabels(store, 0, grey, two, &again);
  REQUIRE(again.status.find("stored by the segment step") == std::string::npos);
  // Bad clean-up specifications name the item.
  REQUIRE_THROWS_WITH(PhaseCleanUpsFromSpec("opening:active"), Catch::Contains("'opening:active' is not op:phase:radius_um"));
  REQUIRE_THROWS_WITH(PhaseCleanUpsFromSpec("closing:pore:-1"), Catch::Contains("radius in um > 0"));
  QuickLookOptions unknown = defaults;
  unknown.clean_up = PhaseCleanUpsFromSpec("closing:gas:0.1");
  REQUIRE_THROWS_WITH(SegmentFrame(grey, unknown), Catch::Contains("no phase named 'gas'"));
}
