#include "op4d/io/export.h"

#include <cstring>
#include <fstream>
#include <iterator>

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
