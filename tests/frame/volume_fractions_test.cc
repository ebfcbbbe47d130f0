#include "op4d/frame/geometry/volume_fractions.h"

#include "test_util.h"

using namespace op4d;

TEST_CASE("a cube of known size gives exact volume fractions and volumes", "[frame][geometry]") {
  Geometry g;
  g.shape = {10, 20, 40};
  g.spacing_um = {2.0, 0.5, 0.25};  // voxel volume 0.25 µm³
  PhaseVolume v(g, 0);
  for (int z = 2; z < 7; ++z)        // 5 x 8 x 10 cube of active material
    for (int y = 4; y < 12; ++y)
      for (int x = 10; x < 20; ++x) v(z, y, x) = 1;
  v(0, 0, 0) = 2;
  v(9, 19, 39) = 7;  // not in the table
  for (int threads : {1, 0}) {
    const VolumeFractions f = ComputeVolumeFractions(v, PhaseTable::Electrode(), ThreadBudget{threads});
    REQUIRE(f.Find("active")->voxels == 400);
    REQUIRE(f.Find("active")->fraction == 400.0 / 8000.0);
    REQUIRE(f.Find("active")->volume_um3 == 100.0);
    REQUIRE(f.Find("binder")->voxels == 1);
    REQUIRE(f.Find("pore")->voxels == 8000 - 400 - 1 - 1);
    REQUIRE(f.other_voxels == 1);
    REQUIRE(f.total_volume_um3 == 2000.0);
    const ResultTable t = f.ToTable();
    REQUIRE(t.Find("volume_um3")->unit == "um^3");
    REQUIRE(t.Find("volume_fraction")->values[1] == 0.05);
  }
}
