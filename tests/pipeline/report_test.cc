#include "op4d/pipeline/report.h"

#include <libdeflate.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "op4d/core/error.h"
#include "test_util.h"

using namespace op4d;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

// Three frames of two grey levels, with results of known shape:
//   per frame: tortuosity (axis, tau, seconds; 3 rows), particle_kinematics (label, eps_v; 20 rows);
//   frame 2: a J volume; series: soc_series (frame, soc_mean), percolation_summary (one row).
void WriteCampaign(const std::string& path, double tau_scale = 1.0, double seconds = 0.5) {
  FrameStore store = FrameStore::Create(path);
  Geometry g;
  g.shape = {8, 12, 10};
  g.spacing_um = {0.5, 0.5, 0.5};
  for (int k = 0; k < 3; ++k) {
    Volume<std::uint16_t> v(g, 100);
    for (std::int64_t i = 0; i < v.size(); ++i)
      if ((i / 7 + k) % 3 == 0) v[i] = 1000;
    store.AppendFrame(v, TimeRow{{"time_s", 600.0 * k}, {"cycle", k < 2 ? 1.0 : 2.0}, {"voltage_V", 3.6 + 0.1 * k}},
                      Provenance{"test", "", "{}", ""});
  }
  for (int k = 0; k < 3; ++k) {
    ResultTable tau{"tortuosity", {{"axis", "1", {0, 1, 2}}, {"tau", "1", {}}, {"seconds", "s", {seconds, seconds, seconds}}}};
    for (int a = 0; a < 3; ++a) tau.columns[1].values.push_back(tau_scale * (1.5 + 0.1 * a + 0.01 * k));
    store.WriteFrameTable(k, tau, Provenance{"transport", "", "{}", ""});
    ResultTable pk{"particle_kinematics", {{"label", "1", {}}, {"eps_v", "1", {}}}};
    for (int p = 0; p < 20; ++p) {
      pk.columns[0].values.push_back(p + 1);
      pk.columns[1].values.push_back(0.001 * k * p);
    }
    store.WriteFrameTable(k, pk, Provenance{"register", "", "{}", ""});
  }
  Volume<float> J(g, 1.0f);
  for (std::int64_t i = 0; i < J.size(); ++i) J[i] = 1.0f + 0.01f * float(i % 5);
  store.WriteFrameVolume(2, "J", J, Provenance{"register", "", "{}", ""});
  store.WriteSeriesTable({"soc_series", {{"frame", "1", {0, 1, 2}}, {"soc_mean", "1", {0.1, 0.5, 0.9}}}}, Provenance{"soc", "", "{}", ""});
  store.WriteSeriesTable({"percolation_summary", {{"frames", "1", {3}}, {"reopen_events", "1", {2}}}}, Provenance{"throats", "", "{}", ""});
}

}  // namespace

TEST_CASE("EncodePng writes a PNG whose pixels inflate back exactly", "[pipeline][report]") {
  std::vector<std::uint8_t> rgb;
  for (int i = 0; i < 3 * 2 * 3; ++i) rgb.push_back(std::uint8_t(i * 13));
  const std::string png = EncodePng(rgb, 3, 2);
  REQUIRE(png.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0);
  REQUIRE(png.substr(12, 4) == "IHDR");
  REQUIRE(png.substr(16, 8) == std::string("\0\0\0\x03\0\0\0\x02", 8));  // width 3, height 2
  REQUIRE(png.substr(24, 5) == std::string("\x08\x02\0\0\0", 5));        // 8-bit RGB
  const std::uint32_t len = (std::uint32_t(std::uint8_t(png[33])) << 24) | (std::uint32_t(std::uint8_t(png[34])) << 16) |
                            (std::uint32_t(std::uint8_t(png[35])) << 8) | std::uint8_t(png[36]);
  REQUIRE(png.substr(37, 4) == "IDAT");
  std::vector<std::uint8_t> raw(2 * (1 + 9));
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  REQUIRE(libdeflate_zlib_decompress(d, png.data() + 41, len, raw.data(), raw.size(), nullptr) == LIBDEFLATE_SUCCESS);
  libdeflate_free_decompressor(d);
  for (int y = 0; y < 2; ++y) {
    REQUIRE(raw[std::size_t(y) * 10] == 0);  // filter: none
    for (int i = 0; i < 9; ++i) REQUIRE(raw[std::size_t(y) * 10 + 1 + std::size_t(i)] == rgb[std::size_t(y) * 9 + std::size_t(i)]);
  }
  REQUIRE(png.substr(png.size() - 8, 4) == "IEND");
  REQUIRE_THROWS_AS(EncodePng(rgb, 4, 2), InvalidArgument);
}

TEST_CASE("the result digest sees every result value and ignores wall times", "[pipeline][report]") {
  REQUIRE(IsRunMeasurement("pipeline_run", "step"));
  REQUIRE(IsRunMeasurement("geometry_timing", "fractions"));
  REQUIRE(IsRunMeasurement("tortuosity", "seconds"));
  REQUIRE_FALSE(IsRunMeasurement("tortuosity", "tau"));
  REQUIRE_FALSE(IsRunMeasurement("registration_series", "time_s"));
  test::TempDir dir;
  WriteCampaign(dir / "a.h5");
  WriteCampaign(dir / "b.h5", 1.0, 7.25);        // other wall times
  WriteCampaign(dir / "c.h5", 1.0 + 1e-15, 0.5);  // tau one ulp or so away
  const auto a = DigestResults(FrameStore::OpenRead(dir / "a.h5"));
  const auto b = DigestResults(FrameStore::OpenRead(dir / "b.h5"));
  const auto c = DigestResults(FrameStore::OpenRead(dir / "c.h5"));
  // 3 frames x 2 tables, the J volume, 2 series tables.
  REQUIRE(a.size() == 9);
  REQUIRE(a[0].item == "/results/000000/particle_kinematics");
  REQUIRE(a[6].item == "/results/000002/J");
  REQUIRE(a[8].item == "/series/soc_series");
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].item);
    REQUIRE(a[i].hash == b[i].hash);
    REQUIRE((a[i].hash == c[i].hash) == (a[i].item.find("tortuosity") == std::string::npos));
  }
}

TEST_CASE("the report plots every per-frame and series quantity against time, with slices, CSV and VTK", "[pipeline][report]") {
  test::TempDir dir;
  WriteCampaign(dir / "c.h5");
  ReportOptions o;
  o.out_dir = dir / "rep";
  o.progress = ProgressStyle::kOff;
  const ReportSummary r = WriteReport(dir / "c.h5", o);
  const std::string html = ReadAll(r.html);
  // Cycler log: cycle and voltage (the other standard columns are all NaN). Per frame: tau and the
  // wall time of tortuosity, eps_v of particle_kinematics as median and band. Series: soc_mean.
  // Key quantities: tau, eps_v, soc_mean again. 2 + 3 + 1 + 3 = 9.
  REQUIRE(r.plots == 9);
  REQUIRE(Count(html, "<svg class=\"plot\"") == 9);
  // tau and seconds have one line per axis, named z, y, x (in the table's section and, for tau, the key one).
  REQUIRE(Count(html, ">z</text>") == 3);
  REQUIRE(Count(html, "eps_v (median, 10-90 %)") == 2);
  // The change of cycle at frame 2 (t = 20 min) is marked on each plot.
  REQUIRE(Count(html, "cycle 2</text>") == 9);
  REQUIRE(html.find("time [min]") != std::string::npos);
  // The one-row series table is shown as a table.
  REQUIRE(html.find("<th>reopen_events</th>") != std::string::npos);
  // Slices: frames 0 and 2, two planes each; frame 2 has a J field overlaid.
  REQUIRE(r.slices == 4);
  REQUIRE(Count(html, "data:image/png;base64,") == 4 + 4 + 2);
  // J - 1 spans +-0.04 on the z slice; on the x slice (x = 5) J is 1 everywhere.
  REQUIRE(Count(html, "J - 1 (+-0.04)") == 1);
  REQUIRE(Count(html, "J - 1 (+-0)") == 1);
  // CSV: a per-frame table stacked with a frame column; a series table as it is.
  REQUIRE(ReadAll(dir / "rep/csv/tortuosity.csv").rfind("frame [1],axis [1],tau [1],seconds [s]\n0,0,1.5,0.5\n0,1,", 0) == 0);
  REQUIRE(ReadAll(dir / "rep/csv/series_soc_series.csv") == "frame [1],soc_mean [1]\n0,0.10000000000000001\n1,0.5\n2,0.90000000000000002\n");
  REQUIRE(std::filesystem::exists(dir / "rep/vtk/frame_000002.vti"));
  REQUIRE(std::filesystem::exists(dir / "rep/vtk/labels_000002.vti"));
  REQUIRE(std::filesystem::exists(dir / "rep/vtk/J_000002.vti"));
  REQUIRE_FALSE(std::filesystem::exists(dir / "rep/vtk/J_000000.vti"));
  // A slice frame that is not in the store is refused by name.
  o.slice_frames = {3};
  try {
    WriteReport(dir / "c.h5", o);
    FAIL("no error");
  } catch (const ConfigError& e) {
    REQUIRE(std::string(e.what()).find("frame 3 is not in " + (dir / "c.h5") + " (3 frames)") != std::string::npos);
  }
}

TEST_CASE("the report of a label campaign overlays the stored labels, not a segmentation of them", "[pipeline][report]") {
  test::TempDir dir;
  {
    StoreOptions so;
    so.phases = PhaseTable::Electrode();
    FrameStore store = FrameStore::Create(dir / "l.h5");
    Geometry g;
    g.shape = {4, 6, 8};
    Volume<std::uint8_t> v(g, 0);
    for (std::int64_t z = 0; z < 4; ++z)
      for (std::int64_t y = 0; y < 6; ++y)
        for (std::int64_t x = 4; x < 8; ++x) v(z, y, x) = 1;  // pore left, active right
    store.AppendFrame(v, TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""}, so);
  }
  ReportOptions o;
  o.out_dir = dir / "rep";
  o.vtk = false;
  o.progress = ProgressStyle::kOff;
  const ReportSummary r = WriteReport(dir / "l.h5", o);
  const std::string html = ReadAll(r.html);
  REQUIRE(html.find("(the stored labels)") != std::string::npos);
  // The second image is the label overlay of the middle z slice (8 x 6): 45 % grey + 55 % the phase colour.
  std::size_t at = html.find("data:image/png;base64,");
  at = html.find("data:image/png;base64,", at + 1) + 22;
  const std::string b64 = html.substr(at, html.find('"', at) - at);
  std::string png;
  int bits = 0, acc = 0;
  for (char c : b64) {
    const std::string k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (c == '=') break;
    acc = (acc << 6) | int(k.find(c));
    if ((bits += 6) >= 8) png += char((acc >> (bits -= 8)) & 255);
  }
  const std::uint32_t len = (std::uint32_t(std::uint8_t(png[33])) << 24) | (std::uint32_t(std::uint8_t(png[34])) << 16) |
                            (std::uint32_t(std::uint8_t(png[35])) << 8) | std::uint8_t(png[36]);
  std::vector<std::uint8_t> raw(6 * (1 + 8 * 3));
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  REQUIRE(libdeflate_zlib_decompress(d, png.data() + 41, len, raw.data(), raw.size(), nullptr) == LIBDEFLATE_SUCCESS);
  libdeflate_free_decompressor(d);
  auto pixel = [&](int y, int x, int c) { return int(raw[std::size_t(y) * 25 + 1 + std::size_t(x) * 3 + std::size_t(c)]); };
  // Pore (grey 0) under blue (40, 90, 220); active (grey 255) under orange (240, 140, 30).
  REQUIRE(pixel(2, 1, 0) == 22);
  REQUIRE(pixel(2, 1, 1) == 49);
  REQUIRE(pixel(2, 1, 2) == 121);
  REQUIRE(pixel(2, 6, 0) == 246);
  REQUIRE(pixel(2, 6, 1) == 191);
  REQUIRE(pixel(2, 6, 2) == 131);
}

TEST_CASE("the report draws an ensemble's 5-95 % interval as a band around the point value, one plot per metric",
          "[pipeline][report][uncertainty]") {
  test::TempDir dir;
  WriteCampaign(dir / "c.h5");
  {
    FrameStore store = FrameStore::OpenReadWrite(dir / "c.h5");
    for (int k = 0; k < 3; ++k) {
      const double p = 0.40 + 0.01 * k;
      ResultTable e{"segment_ensemble",
                    {{"fraction_pore", "1", {p}},
                     {"fraction_pore_mean", "1", {p + 0.001}},
                     {"fraction_pore_sd", "1", {0.002}},
                     {"fraction_pore_p05", "1", {p - 0.003}},
                     {"fraction_pore_p95", "1", {p + 0.004}},
                     {"samples", "1", {8}}}};
      store.WriteFrameTable(k, e, Provenance{"segment", "", "{}", ""});
    }
  }
  ReportOptions o;
  o.out_dir = dir / "rep";
  o.vtk = false;
  o.progress = ProgressStyle::kOff;
  const ReportSummary r = WriteReport(dir / "c.h5", o);
  const std::string html = ReadAll(r.html);
  // The 9 plots of the campaign, then fraction_pore with its band (the sample count is not plotted): 10.
  REQUIRE(r.plots == 10);
  REQUIRE(html.find("segment_ensemble · samples") == std::string::npos);
  REQUIRE(Count(html, "segment_ensemble · fraction_pore (point, 5-95 % band of the label samples)") == 1);
  REQUIRE(html.find("segment_ensemble · fraction_pore_sd") == std::string::npos);
  REQUIRE(html.find("segment_ensemble · fraction_pore_p95") == std::string::npos);
  // Bands: eps_v's 10-90 % (twice: its table and the key quantities) and this one.
  REQUIRE(Count(html, "fill-opacity=\"0.18\"") == 3);
  // The CSV keeps every column.
  REQUIRE(ReadAll(dir / "rep/csv/segment_ensemble.csv")
              .rfind("frame [1],fraction_pore [1],fraction_pore_mean [1],fraction_pore_sd [1],fraction_pore_p05 [1],"
                     "fraction_pore_p95 [1],samples [1]\n",
                     0) == 0);
}
