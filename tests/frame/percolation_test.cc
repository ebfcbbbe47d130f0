#include "op4d/frame/geometry/percolation.h"

#include "test_util.h"

using namespace op4d;

TEST_CASE("layers percolate in-plane and not through-plane and enclosed pores are isolated", "[frame][geometry]") {
  Geometry g;
  g.shape = {12, 10, 10};
  g.spacing_um = {0.5, 1, 1};
  PhaseVolume p(g, 1);  // active
  for (std::int64_t z = 0; z < 12; z += 4)
    for (std::int64_t y = 0; y < 10; ++y)
      for (std::int64_t x = 0; x < 10; ++x) p(z, y, x) = 0;  // pore layers z = 0, 4, 8 (300 voxels)
  p(6, 5, 5) = 0;                                            // an enclosed pore voxel
  p(2, 2, 2) = 2;                                            // a binder voxel inside the active layer
  const Percolation r = ComputePercolation(p, PhaseTable::Electrode());
  const PhasePercolation& pore = *r.Find("pore");
  REQUIRE(pore.connectivity == Connectivity::k26);
  REQUIRE(pore.voxels == 301);
  REQUIRE(pore.components == 4);
  REQUIRE(pore.spanning_fraction[0] == 0.0);
  REQUIRE(pore.spanning_fraction[1] == 300.0 / 301.0);
  REQUIRE(pore.spanning_fraction[2] == 300.0 / 301.0);
  REQUIRE(pore.isolated_fraction == 1.0 / 301.0);
  const PhasePercolation& active = *r.Find("active");
  REQUIRE(active.connectivity == Connectivity::k6);
  REQUIRE(active.components == 3);  // the slabs between the pore layers
  REQUIRE(active.spanning_fraction[0] == 0.0);
  REQUIRE(active.spanning_fraction[2] == 1.0);
  const PhasePercolation& binder = *r.Find("binder");
  REQUIRE(binder.isolated_fraction == 1.0);
  REQUIRE(r.ToTable().Find("spanning_y")->values[0] == 300.0 / 301.0);
}

TEST_CASE("an empty phase is reported as empty, not as a crash or NaN", "[frame][geometry]") {
  Geometry g;
  g.shape = {4, 4, 4};
  const Percolation r = ComputePercolation(PhaseVolume(g, 1), PhaseTable::Electrode());
  REQUIRE(r.Find("pore")->voxels == 0);
  REQUIRE(r.Find("pore")->spanning_fraction[0] == 0.0);
  REQUIRE(r.Find("pore")->isolated_fraction == 0.0);
  REQUIRE(r.Find("active")->spanning_fraction[1] == 1.0);
}
