#include "op4d/io/export.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include <hdf5.h>

#include "op4d/io/import.h"
#include "test_util.h"

using namespace op4d;

TEST_CASE("VTK image data carries ParaView's XYZ geometry and the raw voxels", "[io][vtk]") {
  test::TempDir dir;
  Geometry g;
  g.shape = {2, 3, 4};
  g.spacing_um = {2.0, 1.5, 0.5};
  g.origin_um = {10, 20, 30};
  Volume<std::uint16_t> v(g);
  for (std::int64_t i = 0; i < v.size(); ++i) v[i] = std::uint16_t(i * 3);
  WriteVti(dir / "f.vti", v, "grey");
  std::ifstream in(dir / "f.vti", std::ios::binary);
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(s.find("WholeExtent=\"0 3 0 2 0 1\"") != std::string::npos);  // x, y, z
  REQUIRE(s.find("Spacing=\"0.5 1.5 2\"") != std::string::npos);
  REQUIRE(s.find("Origin=\"30 20 10\"") != std::string::npos);
  const auto at = s.find("<AppendedData encoding=\"raw\">\n_") + std::string("<AppendedData encoding=\"raw\">\n_").size();
  std::uint64_t n = 0;
  std::memcpy(&n, s.data() + at, 8);
  REQUIRE(n == 48);
  REQUIRE(std::memcmp(s.data() + at + 8, v.data(), 48) == 0);
}

TEST_CASE("WriteVolume picks the format from the extension and refuses unknown ones", "[io]") {
  test::TempDir dir;
  Geometry g;
  g.shape = {3, 4, 5};
  g.spacing_um = {0.5, 0.5, 0.5};
  Volume<float> v(g, 1.25f);
  WriteVolume(dir / "a.nrrd", v);
  REQUIRE(std::get<Volume<float>>(ReadItkImage(dir / "a.nrrd")).values() == v.values());
  WriteVolume(dir / "a.tiff", v);
  REQUIRE(std::get<Volume<float>>(ReadTiffStack(dir / "a.tiff")).values() == v.values());
  REQUIRE_THROWS_WITH(WriteVolume(dir / "a.png", v), Catch::Contains("unknown output format"));
}

TEST_CASE("CSV tables carry units in the header and exact numbers", "[io]") {
  test::TempDir dir;
  ResultTable t{"x", {{"time_s", "s", {0.1, 2}}, {"porosity", "1", {1.0 / 3.0, 0.25}}}};
  WriteCsv(dir / "t.csv", t);
  std::ifstream in(dir / "t.csv");
  std::string header, row1;
  std::getline(in, header);
  std::getline(in, row1);
  REQUIRE(header == "time_s [s],porosity [1]");
  REQUIRE(row1 == "0.10000000000000001,0.33333333333333331");
}

TEST_CASE("a graph as VTK polydata: XYZ points, polylines, point and line arrays", "[io][vtk]") {
  test::TempDir dir;
  PolyData d;
  d.points = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  d.lines = {{0, 1, 2}, {2, 0}};
  d.point_data = {{"radius", "um", 3, 1, false, {0.5, 1.5, 2.5}}};
  d.cell_data = {{"throat", "1", 2, 1, true, {0, 1}}};
  WriteVtp(dir / "g.vtp", d);
  std::ifstream in(dir / "g.vtp");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(text.find("NumberOfPoints=\"3\"") != std::string::npos);
  REQUIRE(text.find("NumberOfLines=\"2\"") != std::string::npos);
  REQUIRE(text.find(" 3 2 1 6 5 4 9 8 7") != std::string::npos);  // (z, y, x) written as (x, y, z)
  REQUIRE(text.find("Name=\"radius [um]\"") != std::string::npos);
  REQUIRE(text.find(" 0 1 2 2 0") != std::string::npos);           // connectivity
  REQUIRE(text.find(" 3 5") != std::string::npos);                 // offsets
  d.cell_data[0].values.pop_back();
  REQUIRE_THROWS_WITH(WriteVtp(dir / "bad.vtp", d), Catch::Contains("line array 'throat'"));
  d.cell_data.clear();
  d.lines.push_back({0, 7});
  REQUIRE_THROWS_WITH(WriteVtp(dir / "bad.vtp", d), Catch::Contains("refers to point 7"));
}

TEST_CASE("named arrays go to HDF5 datasets with their shapes, types and units", "[io][hdf5]") {
  test::TempDir dir;
  const std::vector<NamedArray> arrays{{"pore.coords", "m", 2, 3, false, {1, 2, 3, 4, 5, 6}},
                                       {"throat.conns", "1", 1, 2, true, {0, 1}}};
  WriteNamedArraysHdf5(dir / "n.h5", arrays, {{"creator", "test"}});
  const hid_t f = H5Fopen((dir / "n.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  const hid_t ds = H5Dopen2(f, "pore.coords", H5P_DEFAULT);
  const hid_t space = H5Dget_space(ds);
  hsize_t dims[2] = {0, 0};
  REQUIRE(H5Sget_simple_extent_ndims(space) == 2);
  H5Sget_simple_extent_dims(space, dims, nullptr);
  REQUIRE(dims[0] == 2);
  REQUIRE(dims[1] == 3);
  double v[6];
  H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  REQUIRE(v[5] == 6);
  const hid_t conns = H5Dopen2(f, "throat.conns", H5P_DEFAULT);
  const hid_t type = H5Dget_type(conns);
  REQUIRE(H5Tget_class(type) == H5T_INTEGER);
  long long c[2];
  H5Dread(conns, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, c);
  REQUIRE(c[1] == 1);
  REQUIRE(H5Aexists(ds, "unit") > 0);
  for (hid_t h : {type}) H5Tclose(h);
  H5Sclose(space);
  H5Dclose(ds);
  H5Dclose(conns);
  H5Fclose(f);
  // A bad array: an error naming it, and no file left behind.
  REQUIRE_THROWS_WITH(WriteNamedArraysHdf5(dir / "bad.h5", {{"x", "m", 2, 3, false, {1}}}), Catch::Contains("array 'x'"));
  REQUIRE_FALSE(std::ifstream(dir / "bad.h5").good());
}
