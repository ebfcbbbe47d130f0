#include "op4d/core/volume.h"

#include "test_util.h"

using namespace op4d;

TEST_CASE("volumes are ZYX with x fastest and carry physical geometry", "[core]") {
  Geometry g;
  g.shape = {2, 3, 4};
  g.spacing_um = {2.0, 1.0, 0.5};
  g.origin_um = {1.0, 0.0, -1.0};
  Volume<std::uint16_t> v(g);
  REQUIRE(v.size() == 24);
  v(1, 2, 3) = 7;
  REQUIRE(v[23] == 7);
  REQUIRE(v.Offset(0, 1, 0) == 4);
  REQUIRE(g.voxel_volume_um3() == 1.0);
  const Volume<std::uint16_t> c = v.Crop({{1, 1, 2}, {1, 2, 2}});
  REQUIRE(c.shape() == Index3{1, 2, 2});
  REQUIRE(c(0, 1, 1) == 7);
  REQUIRE(c.origin_um() == Vec3{3.0, 1.0, 0.0});  // physical position of the crop is kept
  REQUIRE_THROWS_AS(v.Crop({{1, 1, 2}, {2, 2, 2}}), InvalidArgument);
}

TEST_CASE("invalid geometry is refused with the axis named", "[core]") {
  Geometry g;
  g.shape = {2, 2, 2};
  g.spacing_um = {1.0, 0.0, 1.0};
  std::string why;
  REQUIRE_FALSE(g.IsValid(&why));
  REQUIRE(why.find("along y") != std::string::npos);
  REQUIRE_THROWS_AS(Volume<float>(g), InvalidArgument);
}

TEST_CASE("AnyVolume dispatches on the stored type", "[core]") {
  Geometry g;
  g.shape = {1, 1, 3};
  AnyVolume a = MakeVolume(DataType::kFloat32, g);
  REQUIRE(TypeOf(a) == DataType::kFloat32);
  REQUIRE(std::get<Volume<float>>(a).size() == 3);
  REQUIRE(DataTypeFromString("uint16") == DataType::kUInt16);
  REQUIRE(std::string(ToString(DataType::kUInt8)) == "uint8");
  REQUIRE_THROWS_AS(DataTypeFromString("int7"), ConfigError);
}
