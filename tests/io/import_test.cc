// Every importer round-trips values and spacing; bad files give errors naming the file.
#include "op4d/io/import.h"

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>

#include "op4d/io/export.h"
#include "test_util.h"

using namespace op4d;

namespace {

template <class T>
Volume<T> Random(Index3 shape, Vec3 spacing, std::uint32_t seed) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = spacing;
  Volume<T> v(g);
  std::mt19937 rng(seed);
  for (auto& x : v.values()) {
    if constexpr (std::is_same_v<T, float>) x = float(int(rng() % 20001) - 10000) / 64.0f;
    else x = static_cast<T>(rng());
  }
  return v;
}

template <class T>
void RequireSame(const AnyVolume& got, const Volume<T>& want, bool spacing_exact = true) {
  const auto& v = std::get<Volume<T>>(got);
  REQUIRE(v.shape() == want.shape());
  REQUIRE(v.values() == want.values());
  if (spacing_exact) REQUIRE(v.spacing_um() == want.spacing_um());
}

std::string Message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Writes a dataset (creating parent groups) with an optional string attribute.
void H5Write(hid_t f, const std::string& path, hid_t mtype, hid_t ftype, const std::vector<hsize_t>& dims, const void* data) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t sp = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t ds = H5Dcreate2(f, path.c_str(), ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  REQUIRE(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Pclose(lcpl);
}
void H5StringAttr(hid_t f, const std::string& obj, const std::string& name, const std::vector<std::string>& values) {
  hid_t o = H5Oopen(f, obj.c_str(), H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  const hsize_t n = values.size();
  hid_t sp = values.size() == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(o, name.c_str(), t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, ptrs.data());
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
  H5Oclose(o);
}
void H5Group(hid_t f, const std::string& path, const std::string& nx_class) {
  hid_t g = H5Gcreate2(f, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(g);
  H5StringAttr(f, path, "NX_class", {nx_class});
}

}  // namespace

TEMPLATE_TEST_CASE("TIFF stacks round-trip values and spacing", "[io][tiff]", std::uint8_t, std::uint16_t, float) {
  test::TempDir dir;
  const auto v = Random<TestType>({7, 13, 11}, {0.7, 0.45, 0.325}, 3);
  WriteTiffStack(dir / "stack.tif", v);
  std::string notes;
  RequireSame(ReadTiffStack(dir / "stack.tif", &notes), v);
  REQUIRE(notes.find("7 pages") != std::string::npos);
  // Through the dispatcher, with the spacing overridden.
  ImportOptions o;
  o.spacing_um = Vec3{1, 2, 3};
  const AnyVolume w = OpenInput(dir / "stack.tif", o)->ReadFrame(0);
  REQUIRE(GeometryOf(w).spacing_um == Vec3{1, 2, 3});
}

TEST_CASE("a folder of TIFF slices is read in natural order", "[io][tiff]") {
  test::TempDir dir;
  const auto v = Random<std::uint16_t>({12, 9, 10}, {1, 1, 1}, 5);
  REQUIRE(mkdir((dir / "slices").c_str(), 0755) == 0);
  for (std::int64_t z = 0; z < 12; ++z)
    WriteTiffStack(dir / ("slices/rec_" + std::to_string(z) + ".tif"), v.Crop({{z, 0, 0}, {1, 9, 10}}));
  std::ofstream(dir / "slices/readme.txt") << "not a slice";
  RequireSame(ReadTiffSlices(dir / "slices"), v);
  REQUIRE(DetectFormat(dir / "slices") == InputFormat::kTiffSlices);
}

TEST_CASE("a truncated TIFF gives an error naming the file", "[io][tiff][errors]") {
  test::TempDir dir;
  const auto v = Random<std::uint16_t>({6, 64, 64}, {1, 1, 1}, 9);
  const std::string p = dir / "cut.tif";
  WriteTiffStack(p, v);
  struct stat st;
  REQUIRE(stat(p.c_str(), &st) == 0);
  REQUIRE(truncate(p.c_str(), st.st_size / 2) == 0);
  const std::string m = Message([&] { ReadTiffStack(p); });
  INFO(m);
  REQUIRE(m.rfind(p, 0) == 0);
  REQUIRE((m.find("truncated") != std::string::npos || m.find("corrupt") != std::string::npos ||
           m.find("cannot be read") != std::string::npos));
  std::ofstream(dir / "text.tif") << "hello";
  REQUIRE(Message([&] { ReadTiffStack(dir / "text.tif"); }).rfind(dir / "text.tif: is not a readable TIFF", 0) == 0);
}

TEST_CASE("raw files round-trip in either byte order, with a header", "[io][raw]") {
  test::TempDir dir;
  const auto v = Random<std::uint16_t>({5, 6, 7}, {1, 1, 1}, 11);
  for (bool big : {false, true}) {
    const std::string p = dir / (big ? "be.raw" : "le.raw");
    std::ofstream out(p, std::ios::binary);
    out << std::string(100, 'H');  // a 100-byte header
    for (std::uint16_t x : v.values()) {
      const unsigned char b[2] = {static_cast<unsigned char>(big ? x >> 8 : x & 0xff), static_cast<unsigned char>(big ? x & 0xff : x >> 8)};
      out.write(reinterpret_cast<const char*>(b), 2);
    }
    out.close();
    RawSpec spec{{5, 6, 7}, DataType::kUInt16, big, 100};
    RequireSame(ReadRaw(p, spec), v);
  }
  RawSpec wrong{{5, 6, 8}, DataType::kUInt16, false, 100};
  const std::string m = Message([&] { ReadRaw(dir / "le.raw", wrong); });
  REQUIRE(m == (dir / "le.raw") + ": size is 520 bytes but shape 5x6x8 of uint16 with a 100-byte header needs 580");
}

TEMPLATE_TEST_CASE("MetaImage, NRRD and NIfTI round-trip through ITK", "[io][itk]", std::uint8_t, std::uint16_t, float) {
  test::TempDir dir;
  // NIfTI keeps spacing as float32: use spacings exact in binary so every format is bit-exact.
  const auto v = Random<TestType>({6, 8, 10}, {0.625, 0.5, 0.375}, 13);
  for (const std::string name : {"a.mha", "b.nrrd", "c.nii.gz", "d.nii"}) {
    INFO(name);
    WriteItkImage(dir / name, v);
    RequireSame(OpenInput(dir / name, {})->ReadFrame(0), v);
  }
  REQUIRE(Message([&] { ReadItkImage(dir / "missing.mha"); }) == (dir / "missing.mha") + ": does not exist");
}

TEST_CASE("DXchange reconstructions are read with the detector pixel size", "[io][hdf5]") {
  test::TempDir dir;
  const auto v = Random<std::uint16_t>({4, 5, 6}, {0.65, 0.65, 0.65}, 17);
  const std::string p = dir / "scan.h5";
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Write(f, "/exchange/data", H5T_NATIVE_UINT16, H5T_STD_U16BE, {4, 5, 6}, v.data());  // big-endian on disk
  const double px = 0.65;
  H5Write(f, "/measurement/instrument/detector/actual_pixel_size_x", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {1}, &px);
  H5StringAttr(f, "/measurement/instrument/detector/actual_pixel_size_x", "units", {"microns"});
  // A 4D series beside it: (t, z, y, x).
  std::vector<float> series(3 * 4 * 5 * 6);
  for (std::size_t i = 0; i < series.size(); ++i) series[i] = float(i) * 0.5f;
  H5Write(f, "/exchange/series", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, {3, 4, 5, 6}, series.data());
  H5Fclose(f);
  const auto src = OpenInput(p, {});
  REQUIRE(src->frame_count() == 1);
  RequireSame(src->ReadFrame(0), v);
  REQUIRE(src->Describe().find("DXchange /exchange/data") != std::string::npos);
  ImportOptions o;
  o.dataset = "/exchange/series";
  const auto s4 = OpenInput(p, o);
  REQUIRE(s4->frame_count() == 3);
  const auto f2 = std::get<Volume<float>>(s4->ReadFrame(2));
  REQUIRE(f2[0] == series[2 * 120]);
  REQUIRE(f2[119] == series[2 * 120 + 119]);
  o.dataset = "/exchange/nothing";
  REQUIRE(Message([&] { OpenInput(p, o); }) == p + ":/exchange/nothing: missing dataset");
}

TEST_CASE("DXchange projections are refused: they are not a reconstruction", "[io][hdf5][errors]") {
  test::TempDir dir;
  const std::string p = dir / "proj.h5";
  std::vector<std::uint16_t> d(2 * 3 * 4, 1);
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Write(f, "/exchange/data", H5T_NATIVE_UINT16, H5T_STD_U16LE, {2, 3, 4}, d.data());
  H5StringAttr(f, "/exchange/data", "axes", {"theta:y:x"});
  H5Fclose(f);
  REQUIRE(Message([&] { OpenInput(p, {}); }).find("holds projections") != std::string::npos);
}

TEST_CASE("NeXus NXdata signals are read in ZYX with spacing from the axes", "[io][hdf5]") {
  test::TempDir dir;
  const std::string p = dir / "rec.nxs";
  // The file stores data[x][y][z] (axes x, y, z) with coordinates in nm.
  const std::int64_t nx = 6, ny = 5, nz = 4;
  std::vector<float> data(std::size_t(nx * ny * nz));
  for (std::int64_t x = 0; x < nx; ++x)
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t z = 0; z < nz; ++z) data[std::size_t((x * ny + y) * nz + z)] = float(100 * z + 10 * y + x);
  std::vector<double> xs(nx), ys(ny), zs(nz);
  for (std::int64_t i = 0; i < nx; ++i) xs[i] = 250.0 * i;
  for (std::int64_t i = 0; i < ny; ++i) ys[i] = 500.0 * i;
  for (std::int64_t i = 0; i < nz; ++i) zs[i] = 1000.0 + 750.0 * i;
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Group(f, "/entry", "NXentry");
  H5Group(f, "/entry/reconstruction", "NXdata");
  H5Write(f, "/entry/reconstruction/data", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, {6, 5, 4}, data.data());
  for (auto [name, v] : {std::pair<std::string, std::vector<double>*>{"x", &xs}, {"y", &ys}, {"z", &zs}}) {
    H5Write(f, "/entry/reconstruction/" + name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, {v->size()}, v->data());
    H5StringAttr(f, "/entry/reconstruction/" + name, "units", {"nm"});
  }
  H5StringAttr(f, "/entry/reconstruction", "signal", {"data"});
  H5StringAttr(f, "/entry/reconstruction", "axes", {"x", "y", "z"});
  H5Fclose(f);
  const auto src = OpenInput(p, {});
  const auto v = std::get<Volume<float>>(src->ReadFrame(0));
  REQUIRE(v.shape() == Index3{4, 5, 6});
  for (std::int64_t z = 0; z < nz; ++z)
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t x = 0; x < nx; ++x) REQUIRE(v(z, y, x) == float(100 * z + 10 * y + x));
  REQUIRE(v.spacing_um() == Vec3{0.75, 0.5, 0.25});
  REQUIRE(v.origin_um() == Vec3{1.0, 0.0, 0.0});
  REQUIRE(src->Describe().find("spacing from NXdata axes") != std::string::npos);
}

TEST_CASE("non-HDF5 and unknown inputs are named in the error", "[io][errors]") {
  test::TempDir dir;
  std::ofstream(dir / "fake.h5") << "not hdf5";
  REQUIRE(Message([&] { OpenInput(dir / "fake.h5", {}); }) == (dir / "fake.h5") + ": is not an HDF5 file");
  std::ofstream(dir / "scan.xyz") << "?";
  REQUIRE(Message([&] { OpenInput(dir / "scan.xyz", {}); }).find("format not recognised") != std::string::npos);
  REQUIRE(Message([&] { OpenInput(dir / "absent.tif", {}); }) == (dir / "absent.tif") + ": does not exist");
}
