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

TEST_CASE("a borrowed volume uses the owner's memory, keeps the owner alive, and copies own their voxels", "[core]") {
  Geometry g;
  g.shape = {2, 3, 4};
  auto owner = std::make_shared<std::vector<float>>(24);
  for (int i = 0; i < 24; ++i) (*owner)[i] = float(i);
  std::weak_ptr<std::vector<float>> alive = owner;
  float* memory = owner->data();
  {
    Volume<float> v = Volume<float>::Borrow(g, memory, owner);
    owner.reset();  // the volume alone keeps the memory's owner alive
    REQUIRE_FALSE(alive.expired());
    REQUIRE(v.borrowed());
    REQUIRE(v.data() == memory);
    REQUIRE(v(1, 2, 3) == 23.0f);
    Volume<float> copy = v;  // value semantics: a copy owns its voxels
    REQUIRE_FALSE(copy.borrowed());
    REQUIRE(copy.data() != memory);
    REQUIRE(copy.values() == v.values());
    v(0, 0, 0) = -1.0f;  // writes reach the owner's memory, not the copy
    REQUIRE(memory[0] == -1.0f);
    REQUIRE(copy(0, 0, 0) == 0.0f);
    Volume<float> moved = std::move(v);  // a move moves the borrow
    REQUIRE(moved.data() == memory);
    REQUIRE(moved.borrowed());
    copy = moved;
    REQUIRE_FALSE(copy.borrowed());
    REQUIRE(copy(0, 0, 0) == -1.0f);
  }
  REQUIRE(alive.expired());  // the last volume gone, the owner is released
  REQUIRE_THROWS_AS(Volume<float>::Borrow(g, memory, nullptr), InvalidArgument);
  g.shape = {2, -3, 4};
  REQUIRE_THROWS_AS(Volume<float>::Borrow(g, memory, std::make_shared<int>(0)), InvalidArgument);
}
