#include "op4d/pipeline/geometry.h"

#include <filesystem>

#include "op4d/store/frame_store.h"
#include "test_util.h"
#include "test_volumes.h"

using namespace op4d;


TEST_CASE("the geometry step stores every descriptor of a labelled frame", "[pipeline][geometry]") {
  // Exact: fractions (16 x 20 x 10 voxels of each solid in 24 x 32 x 32), the contact area (16 x 20
  // faces of 0.8 x 0.5 um^2 = 128 um^2), E_adh = G_c A and F_max = T_max A in SI units, one particle.
  test::TempDir dir;
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    store.AppendFrame(test::TouchingBlocks(), TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""});
  }
  GeometryRunOptions o;
  o.labels = true;
  o.adhesion.adhesion_energy_J_per_m2 = 2.0;
  o.adhesion.adhesion_strength_Pa = 3e6;
  o.out_dir = dir / "out";
  o.progress = ProgressStyle::kOff;
  const std::vector<GeometryRunRow> rows = RunGeometry(dir / "c.h5", o);
  REQUIRE(rows.size() == 1);
  const FrameStore store = FrameStore::OpenRead(dir / "c.h5");
  const ResultTable f = store.ReadFrameTable(0, "volume_fractions");
  const double solid = 16.0 * 20 * 10 / (24.0 * 32 * 32);
  test::RequireClose(f.Find("volume_fraction")->values[1], solid, 1e-12);
  test::RequireClose(f.Find("volume_fraction")->values[2], solid, 1e-12);
  const ResultTable c = store.ReadFrameTable(0, "contacts");
  test::RequireClose(c.Find("area_um2")->values[0], 128.0, 1e-12);
  test::RequireClose(c.Find("adhesion_energy")->values[0], 2.0 * 128e-12, 1e-12);
  test::RequireClose(c.Find("max_force")->values[0], 3e6 * 128e-12, 1e-12);
  REQUIRE(store.ReadFrameTable(0, "particle_size_summary").Find("particles")->values[0] == 1.0);
  REQUIRE(store.ReadFrameTable(0, "particle_contacts").rows() == 1);
  // The marching-tetrahedra contact between the blocks: 0.824 of the exact plane (the smoothed
  // partition stops about a voxel inside the rim); the face count is exact here (a grid-aligned plane).
  const ResultTable ia = store.ReadFrameTable(0, "interface_areas");
  REQUIRE(ia.rows() == 3);
  const std::size_t ab = 2;  // pairs (0,1), (0,2), (1,2)
  REQUIRE(ia.Find("phase_a")->values[ab] == 1.0);
  test::RequireClose(ia.Find("face_count_area_um2")->values[ab], 128.0, 1e-12);
  CAPTURE(ia.Find("area_um2")->values[ab]);
  REQUIRE(ia.Find("area_um2")->values[ab] / 128.0 == Approx(0.824).margin(0.01));
  // Local thickness of a block 10 x 20 x 16 voxels (5 x 10 x 12.8 um): the largest inscribed ball has
  // a diameter of about the smallest side (5 um, within one voxel of 0.5 um).
  const ResultTable lt = store.ReadFrameTable(0, "thickness_distribution");
  REQUIRE(lt.rows() == 3);
  REQUIRE(std::abs(lt.Find("max")->values[1] - 5.0) <= 0.8);
  REQUIRE(store.ReadFrameTable(0, "geometry_timing").Find("interface_areas")->unit == "s");
  for (const std::string& file : rows[0].files) REQUIRE(std::filesystem::exists(file));
  REQUIRE(rows[0].files.size() == rows[0].geometry.Tables().size());
}

TEST_CASE("the geometry step refuses grey frames as labels and unknown phases by name", "[pipeline][geometry][errors]") {
  test::TempDir dir;
  {
    FrameStore store = FrameStore::Create(dir / "c.h5");
    Volume<std::uint16_t> grey(test::TouchingBlocks().geometry(), 300);
    store.AppendFrame(grey, TimeRow{{"time_s", 0.0}}, Provenance{"test", "", "{}", ""});
  }
  GeometryRunOptions o;
  o.labels = true;
  o.progress = ProgressStyle::kOff;
  REQUIRE_THROWS_WITH(RunGeometry(dir / "c.h5", o), Catch::Contains("holds value 300, not a phase label"));
  o.thickness_phases = {"electrolyte"};
  REQUIRE_THROWS_WITH(DescribeFrame(test::TouchingBlocks(), o), Catch::Contains("no phase named 'electrolyte'"));
}
