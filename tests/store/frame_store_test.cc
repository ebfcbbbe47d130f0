#include "op4d/store/frame_store.h"

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <fstream>
#include <limits>
#include <random>

#include "frame_pattern.h"
#include "test_util.h"

using namespace op4d;

namespace {

template <class T>
Volume<T> RandomVolume(Index3 shape, std::uint32_t seed) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = {0.7, 0.45, 0.325};  // anisotropic, as at a beamline
  g.origin_um = {10.0, -3.5, 2.25};
  Volume<T> v(g);
  std::mt19937 rng(seed);
  for (auto& x : v.values()) {
    if constexpr (std::is_same_v<T, float>) x = std::ldexp(float(rng() % 100000) - 50000.f, -7);
    else x = static_cast<T>(rng() % 1000);  // compressible but not trivial
  }
  return v;
}

template <class T>
void RoundTrip(Codec codec) {
  test::TempDir dir;
  const std::string path = dir / "rt.h5";
  std::vector<Volume<T>> frames;
  StoreOptions opt;
  opt.codec = codec;
  opt.chunk = {8, 16, 12};  // shapes below are not multiples: edge chunks are padded
  const std::vector<TimeRow> rows = {
      {{"time_s", 0.0}, {"voltage_V", 3.712345678901234}, {"current_A", -1e-3}, {"p_app_Pa", 101325.0}},
      {{"time_s", 600.125}, {"cycle", 1}, {"step", 2}, {"charge_Ah", 1.0 / 3.0}, {"soc_ref", 0.1}},
      {{"time_s", 1200.5}, {"voltage_V", std::numeric_limits<double>::denorm_min()}}};
  {
    FrameStore s = FrameStore::Create(path);
    for (int k = 0; k < 3; ++k) {
      frames.push_back(RandomVolume<T>({21, 35, 30}, 100 + k));
      s.AppendFrame(frames.back(), rows[k], {"test", "unit test", "{\"k\": 1}", ""}, opt);
    }
    REQUIRE(s.frame_count() == 3);
  }
  FrameStore s = FrameStore::OpenRead(path);
  REQUIRE(s.frame_count() == 3);
  const FrameLayout l = *s.layout();
  REQUIRE(l.dtype == DataTypeOf<T>::value);
  REQUIRE(l.codec == codec);
  REQUIRE(l.geometry.spacing_um == frames[0].spacing_um());
  REQUIRE(l.geometry.origin_um == frames[0].origin_um());
  for (int k = 0; k < 3; ++k) {
    const auto v = std::get<Volume<T>>(s.ReadFrame(k));
    REQUIRE(v.shape() == frames[k].shape());
    REQUIRE(v.values() == frames[k].values());  // bit-exact
    REQUIRE(s.ReadFrameProvenance(k).find("\"step\":\"test\"") != std::string::npos);
  }
  const TimeTable tt = s.ReadTimeTable();
  REQUIRE(tt.columns[0].name == "time_s");
  REQUIRE(tt.columns[0].unit == "s");
  for (int k = 0; k < 3; ++k)
    for (std::size_t c = 0; c < tt.columns.size(); ++c) {
      const auto it = rows[k].find(tt.columns[c].name);
      const double got = tt.values[c][k];
      if (it == rows[k].end()) REQUIRE(std::isnan(got));
      else REQUIRE(std::memcmp(&got, &it->second, sizeof got) == 0);  // bit-exact
    }
  // Sub-volume (hyperslab) reads, crossing chunk borders, equal the crop of the frame.
  const Box boxes[] = {{{3, 5, 7}, {9, 20, 11}}, {{0, 0, 0}, {1, 1, 1}}, {{20, 34, 29}, {1, 1, 1}}, {{8, 16, 12}, {8, 16, 12}}};
  for (const Box& b : boxes) {
    const auto r = std::get<Volume<T>>(s.ReadRegion(2, b));
    const auto want = frames[2].Crop(b);
    REQUIRE(r.values() == want.values());
    REQUIRE(r.origin_um() == want.origin_um());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("frames round-trip bit-exactly with every codec", "[store]", std::uint8_t, std::uint16_t, float) {
  for (Codec c : {Codec::kNone, Codec::kGzip, Codec::kBloscZstd, Codec::kBloscLz4}) {
    INFO("codec " << ToString(c));
    RoundTrip<TestType>(c);
  }
}

TEST_CASE("reads are identical with 1 thread and with all threads", "[store]") {
  test::TempDir dir;
  const auto v = RandomVolume<std::uint16_t>({40, 33, 50}, 7);
  {
    FrameStore s = FrameStore::Create(dir / "t.h5");
    StoreOptions opt;
    opt.codec = Codec::kBloscZstd;
    opt.chunk = {16, 16, 16};
    opt.threads.threads = 1;
    s.AppendFrame(v, {{"time_s", 0}}, {"test"}, opt);
  }
  FrameStore s = FrameStore::OpenRead(dir / "t.h5");
  const auto a = std::get<Volume<std::uint16_t>>(s.ReadFrame(0, ThreadBudget{1}));
  const auto b = std::get<Volume<std::uint16_t>>(s.ReadFrame(0, ThreadBudget{0}));
  REQUIRE(a.values() == v.values());
  REQUIRE(b.values() == v.values());
}

TEST_CASE("result tables are stored per frame and per series with units and provenance", "[store]") {
  test::TempDir dir;
  FrameStore s = FrameStore::Create(dir / "r.h5");
  s.AppendFrame(test::PatternFrame(0, {8, 8, 8}), {{"time_s", 0}}, {"test"});
  ResultTable t{"fractions", {{"phase", "1", {0, 1, 2}}, {"volume_fraction", "1", {0.4, 0.5, 0.1}}}};
  s.WriteFrameTable(0, t, {"geometry.fractions", "frame 0", "{\"connectivity\": 26}"});
  ResultTable t2 = t;
  t2.columns[1].values = {0.3, 0.6, 0.1};
  s.WriteFrameTable(0, t2, {"geometry.fractions"});  // replaces
  s.WriteSeriesTable({"strain", {{"time_s", "s", {0}}, {"ev_mean", "1", {1e-3}}}}, {"deformation"});
  REQUIRE_THROWS_AS(s.WriteFrameTable(5, t, {"x"}), IoError);
  s.Close();
  FrameStore r = FrameStore::OpenRead(dir / "r.h5");
  REQUIRE(r.ListFrameTables(0) == std::vector<std::string>{"fractions"});
  const ResultTable back = r.ReadFrameTable(0, "fractions");
  REQUIRE(back.columns.size() == 2);
  REQUIRE(back.columns[0].name == "phase");
  REQUIRE(back.Find("volume_fraction")->values == std::vector<double>{0.3, 0.6, 0.1});
  REQUIRE(back.Find("volume_fraction")->unit == "1");
  REQUIRE(r.ListSeriesTables() == std::vector<std::string>{"strain"});
  REQUIRE(r.ReadSeriesTable("strain").Find("time_s")->unit == "s");
  const std::string prov = r.ReadTableProvenance(FrameResultsGroup(0) + "/fractions");
  REQUIRE(prov.find("\"op4d_version\"") != std::string::npos);
  REQUIRE(prov.find("\"step\":\"geometry.fractions\"") != std::string::npos);
}

TEST_CASE("bad appends are refused with the file and problem named, nothing stored is lost", "[store][errors]") {
  test::TempDir dir;
  const std::string path = dir / "c.h5";
  FrameStore s = FrameStore::Create(path);
  s.AppendFrame(test::PatternFrame(0), {{"time_s", 0}}, {"test"});
  s.AppendFrame(test::PatternFrame(1), {{"time_s", 10}}, {"test"});
  auto expect = [&](const auto& frame, const TimeRow& row, const std::string& needle) {
    try {
      s.AppendFrame(frame, row, {"test"});
      FAIL("append was accepted");
    } catch (const IoError& e) {
      INFO(e.what());
      REQUIRE(std::string(e.what()).find(path) == 0);
      REQUIRE(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  expect(test::PatternFrame(2, {64, 56, 47}), {{"time_s", 20}}, "shape");
  Volume<std::uint16_t> other_spacing = test::PatternFrame(2);
  other_spacing.set_spacing_um({1.0, 1.0, 1.0});
  expect(other_spacing, {{"time_s", 20}}, "spacing");
  expect(Volume<float>(test::PatternFrame(2).geometry()), {{"time_s", 20}}, "type");
  expect(test::PatternFrame(2), {{"time_s", 5}}, "not after");
  expect(test::PatternFrame(2), {{"voltage_V", 3.0}}, "time_s");
  expect(test::PatternFrame(2), {{"time_s", 20}, {"temprature_K", 300}}, "temprature_K");
  REQUIRE(s.frame_count() == 2);
  s.Close();
  FrameStore r = FrameStore::OpenRead(path);
  REQUIRE(r.frame_count() == 2);
  REQUIRE(std::get<Volume<std::uint16_t>>(r.ReadFrame(1)).values() == test::PatternFrame(1).values());
}

TEST_CASE("user time columns can be added and earlier frames read NaN", "[store]") {
  test::TempDir dir;
  FrameStore s = FrameStore::Create(dir / "u.h5");
  s.AppendFrame(test::PatternFrame(0, {4, 4, 4}), {{"time_s", 0}}, {"test"});
  s.AddTimeColumn({"temperature_K", "K", "cell temperature"});
  s.AppendFrame(test::PatternFrame(1, {4, 4, 4}), {{"time_s", 1}, {"temperature_K", 298.15}}, {"test"});
  const TimeTable tt = s.ReadTimeTable();
  const auto* t = tt.Find("temperature_K");
  REQUIRE(t != nullptr);
  REQUIRE(std::isnan((*t)[0]));
  REQUIRE((*t)[1] == 298.15);
  REQUIRE(tt.columns.back().unit == "K");
}

TEST_CASE("opening files that are not campaigns names the file and the problem", "[store][errors]") {
  test::TempDir dir;
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const IoError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string txt = dir / "notes.h5";
  std::ofstream(txt) << "not hdf5";
  REQUIRE(message([&] { FrameStore::OpenRead(txt); }) == txt + ": is not an HDF5 file");
  REQUIRE(message([&] { FrameStore::OpenRead(dir / "missing.h5"); }) == (dir / "missing.h5") + ": does not exist");
  // Unwritable paths: a parent that is a file, a parent that does not exist.
  REQUIRE(message([&] { FrameStore::Create(txt + "/x.h5"); }).find("cannot create") != std::string::npos);
  REQUIRE(message([&] { FrameStore::Create(dir / "no/such/dir/x.h5"); }).find("does not exist") != std::string::npos);
  // Existing file is not overwritten by default, and its content survives the refusal.
  REQUIRE(message([&] { FrameStore::Create(txt); }).find("already exists") != std::string::npos);
  std::ifstream in(txt);
  std::string content;
  std::getline(in, content);
  REQUIRE(content == "not hdf5");
  // An HDF5 file without the campaign layout.
  const std::string plain = dir / "plain.h5";
  H5Fclose(H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  REQUIRE(message([&] { FrameStore::OpenRead(plain); }).find("not an op4d campaign") != std::string::npos);
  // A campaign with a dataset removed.
  const std::string broken = dir / "broken.h5";
  FrameStore::Create(broken).Close();
  hid_t f = H5Fopen(broken.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "/time/time_s", H5P_DEFAULT);
  H5Fclose(f);
  REQUIRE(message([&] { FrameStore::OpenRead(broken); }) == broken + ":/time/time_s: missing dataset");
}

TEST_CASE("a second writer is refused while one holds the store", "[store][errors]") {
  test::TempDir dir;
  FrameStore a = FrameStore::Create(dir / "w.h5");
  REQUIRE_THROWS_WITH(FrameStore::OpenReadWrite(dir / "w.h5"), Catch::Contains("another process is writing"));
}

TEST_CASE("a reader waits for a writer changing the file's structure in another process", "[store][lock]") {
  test::TempDir dir;
  const std::string path = dir / "w.h5";
  {
    FrameStore s = FrameStore::Create(path);
    s.AppendFrame(test::PatternFrame(0, {4, 4, 4}), {{"time_s", 0}}, {"test"});
  }
  // The writer: store_writer_helper holds the store open for writing (its structure, not SWMR) 1.5 s.
  FILE* writer = ::popen((std::string(OP4D_STORE_WRITER_HELPER) + " " + path + " 0 0 1500 hold").c_str(), "r");
  REQUIRE(writer != nullptr);
  char line[64] = {};
  REQUIRE(std::fgets(line, sizeof line, writer) != nullptr);
  REQUIRE(std::string(line) == "open\n");
  // Not waiting: refused, saying why.
  REQUIRE_THROWS_WITH(FrameStore::OpenRead(path), Catch::Contains(path) && Catch::Contains("while another process writes to it"));
  // Waiting (as the op4d command and live follow do): opened once the writer has closed.
  SetReaderWait(30);
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t frames = FrameStore::OpenRead(path).frame_count();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SetReaderWait(0);
  REQUIRE(::pclose(writer) == 0);
  REQUIRE(frames == 1);
  REQUIRE(waited > 0.5);  // it did wait for the writer
  REQUIRE(waited < 10);
}

namespace {
// Replaces /frames/volume of a one-frame 4x4x4 campaign by a dataset made as another tool would,
// with the filters `configure` puts in its creation list, holding `data` (written through HDF5).
void ReplaceVolume(const std::string& path, const std::function<void(hid_t)>& configure, const std::uint16_t* data) {
  {
    FrameStore s = FrameStore::Create(path);  // root attributes, /time, /frames/provenance
    s.AppendFrame(test::PatternFrame(0, {4, 4, 4}), {{"time_s", 0}}, {"test"});
  }
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(H5Ldelete(f, "/frames/volume", H5P_DEFAULT) >= 0);
  const hsize_t dims[4] = {1, 4, 4, 4}, maxd[4] = {H5S_UNLIMITED, 4, 4, 4}, ch[4] = {1, 2, 4, 4};
  hid_t sp = H5Screate_simple(4, dims, maxd);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 4, ch);
  configure(dcpl);
  hid_t ds = H5Dcreate2(f, "/frames/volume", H5T_STD_U16LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  if (data) REQUIRE(H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  const double spacing[3] = {1, 1, 1};
  const hsize_t three = 3;
  hid_t asp = H5Screate_simple(1, &three, nullptr);
  hid_t a = H5Acreate2(ds, "spacing_um", H5T_IEEE_F64LE, asp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_DOUBLE, spacing);
  H5Aclose(a);
  H5Sclose(asp);
  H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Fclose(f);
}
}  // namespace

TEST_CASE("frames written by other tools with other filter pipelines are read through HDF5", "[store]") {
  test::TempDir dir;
  const std::string path = dir / "deflate_only.h5";
  const auto frame = test::PatternFrame(3, {4, 4, 4});
  ReplaceVolume(path, [](hid_t dcpl) { H5Pset_deflate(dcpl, 6); }, frame.data());  // deflate without shuffle
  const FrameStore s = FrameStore::OpenRead(path);
  REQUIRE(std::get<Volume<std::uint16_t>>(s.ReadFrame(0)).values() == frame.values());
  REQUIRE(std::get<Volume<std::uint16_t>>(s.ReadRegion(0, {{1, 1, 1}, {2, 3, 2}})).values() ==
          frame.Crop({{1, 1, 1}, {2, 3, 2}}).values());
}

TEST_CASE("a store whose frames need an HDF5 filter missing here says which and how to get it", "[store][errors]") {
  // The frames use filter 32015 (zstd), for which no plugin is installed here.
  test::TempDir dir;
  const std::string path = dir / "zstd.h5";
  ReplaceVolume(path, [](hid_t dcpl) { REQUIRE(H5Pset_filter(dcpl, 32015, H5Z_FLAG_OPTIONAL, 0, nullptr) >= 0); }, nullptr);
  REQUIRE(H5Zfilter_avail(32015) <= 0);  // the premise: no zstd plugin on this machine
  REQUIRE_THROWS_WITH(FrameStore::OpenRead(path),
                      Catch::StartsWith(path + ":/frames/volume: needs HDF5 filter 32015") &&
                          Catch::Contains("install the Debian package"));
}

TEST_CASE("result volumes are written and read region by region for block-wise kernels", "[store][blockwise]") {
  test::TempDir dir;
  FrameStore s = FrameStore::Create(dir / "v.h5");
  s.AppendFrame(test::PatternFrame(0, {8, 8, 8}), {{"time_s", 0}}, {"test"});
  Geometry g;
  g.shape = {70, 9, 67};  // more than one 64^3 chunk along z and x
  g.spacing_um = {0.7, 0.45, 0.325};
  g.origin_um = {1, 2, 3};
  const auto v = RandomVolume<std::uint8_t>(g.shape, 3);
  s.CreateFrameVolume(0, "phases", DataType::kUInt8, g, {"geometry.blockwise"});
  for (std::int64_t z0 = 0; z0 < g.shape[0]; z0 += 13) {  // slabs that do not divide the shape
    const std::int64_t z1 = std::min<std::int64_t>(g.shape[0], z0 + 13);
    Volume<std::uint8_t> slab = v.Crop(Box{{z0, 0, 0}, {z1 - z0, g.shape[1], g.shape[2]}});
    s.WriteFrameVolumeRegion(0, "phases", Box{{z0, 0, 0}, slab.shape()}, slab);
  }
  REQUIRE_THROWS_WITH(s.WriteFrameVolumeRegion(0, "phases", Box{{65, 0, 0}, {6, 9, 67}}, Volume<std::uint8_t>(
                                                   Geometry{{6, 9, 67}, g.spacing_um, g.origin_um})),
                      Catch::Contains("/results/000000/phases") && Catch::Contains("does not fit"));
  REQUIRE_THROWS_WITH(s.WriteFrameVolumeRegion(0, "phases", Box{{0, 0, 0}, {1, 9, 67}},
                                               Volume<float>(Geometry{{1, 9, 67}, g.spacing_um, g.origin_um})),
                      Catch::Contains("float32 written to a volume of type uint8"));
  s.Close();
  const FrameStore r = FrameStore::OpenRead(dir / "v.h5");
  const auto whole = std::get<Volume<std::uint8_t>>(r.ReadFrameVolume(0, "phases"));
  REQUIRE(whole.values() == v.values());
  REQUIRE(whole.spacing_um() == g.spacing_um);
  AnyVolume part;
  r.ReadFrameVolumeRegionInto(0, "phases", Box{{60, 2, 5}, {10, 4, 62}}, part);
  REQUIRE(std::get<Volume<std::uint8_t>>(part).values() == v.Crop(Box{{60, 2, 5}, {10, 4, 62}}).values());
  REQUIRE(GeometryOf(part).origin_um[0] == Approx(1 + 60 * 0.7));
  REQUIRE_THROWS_WITH(r.ReadFrameVolumeRegionInto(0, "phases", Box{{61, 0, 0}, {10, 9, 67}}, part),
                      Catch::Contains("outside the volume"));
  const SlabReader<std::uint8_t> slabs = StoredSlabs(r, 0, "phases");
  Volume<std::uint8_t> slab;
  slabs(64, 70, slab);
  REQUIRE(slab.values() == v.Crop(Box{{64, 0, 0}, {6, 9, 67}}).values());
  REQUIRE_THROWS_AS(StoredSlabs(r, 0, "absent"), IoError);
}
