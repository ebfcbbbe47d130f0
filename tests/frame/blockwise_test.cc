// Block-wise kernels (issue 30) against their whole-volume versions: bit-identical results for any
// slab or block size, including sizes that do not divide the shape, on anisotropic grids.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "op4d/core/filter.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/store/frame_store.h"
#include "test_util.h"

using namespace op4d;

namespace {
Volume<std::uint8_t> RandomMask(const Index3& shape, const Vec3& spacing, double foreground, std::uint32_t seed) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = spacing;
  g.origin_um = {1.5, -2.0, 0.25};
  Volume<std::uint8_t> m(g);
  std::mt19937 rng(seed);
  for (auto& v : m.values()) v = (rng() % 1000) < foreground * 1000;
  return m;
}

bool SameComponents(const std::vector<Component>& a, const std::vector<Component>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].label != b[i].label || a[i].voxels != b[i].voxels || a[i].faces != b[i].faces) return false;
  return true;
}
}  // namespace

TEST_CASE("block-wise components equal whole-volume labelling for any slab size", "[frame][connectivity][blockwise]") {
  const Vec3 spacing{0.7, 0.45, 0.325};
  for (Connectivity c : {Connectivity::k6, Connectivity::k18, Connectivity::k26})
    for (double fg : {0.08, 0.3, 0.6}) {
      const Volume<std::uint8_t> m = RandomMask({23, 17, 19}, spacing, fg, 7u + std::uint32_t(fg * 100));
      const ComponentLabels whole = LabelComponents(m, {c, ThreadBudget{2}});
      REQUIRE(!whole.components.empty());
      if (fg < 0.5) REQUIRE(whole.components.size() > 3);  // many components meet the seams
      for (std::int64_t slab : {1, 2, 4, 7, 22, 23, 100}) {
        LabelVolume labels(m.geometry(), -1);
        const BoxWriter<std::int32_t> write = WriteInto(labels);
        const StreamedComponents st = LabelComponentsStreamed(m.geometry(), SlabsOf(m), slab, {c, ThreadBudget{2}}, &write);
        INFO("connectivity " << ToString(c) << ", foreground " << fg << ", slab " << slab);
        REQUIRE(SameComponents(st.components, whole.components));
        REQUIRE(std::memcmp(labels.data(), whole.labels.data(), std::size_t(labels.size()) * 4) == 0);
        REQUIRE(SpanningFractions(st.components) == SpanningFractions(whole));
        if (slab >= 23) REQUIRE(st.pieces == std::int64_t(st.components.size()));  // one slab: nothing to join
        if (slab == 1) REQUIRE(st.pieces > std::int64_t(st.components.size()));   // seams joined pieces
      }
    }
}

TEST_CASE("block-wise components join a U through the slab below and keep an empty frame empty", "[frame][connectivity][blockwise]") {
  Geometry g;
  g.shape = {6, 5, 7};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 6; ++z) m(z, 2, 1) = m(z, 2, 5) = 1;  // two bars along z
  for (std::int64_t x = 1; x <= 5; ++x) m(5, 2, x) = 1;                // joined in the last plane only
  const StreamedComponents st = LabelComponentsStreamed(g, SlabsOf(m), 1, {Connectivity::k6, {}});
  REQUIRE(st.components.size() == 1);
  CHECK(st.components[0].voxels == 6 + 6 + 3);
  CHECK(st.pieces == 2 * 5 + 1);
  CHECK(st.components[0].Spans(0));
  CHECK(!st.components[0].Spans(1));
  const Volume<std::uint8_t> empty(g, 0);
  const StreamedComponents none = LabelComponentsStreamed(g, SlabsOf(empty), 4, {Connectivity::k26, {}});
  CHECK(none.components.empty());
  CHECK(SpanningFractions(none.components) == std::array<double, 3>{0, 0, 0});
}

TEST_CASE("block-wise components reject a reader that returns the wrong slab", "[frame][connectivity][blockwise]") {
  Geometry g;
  g.shape = {5, 4, 4};
  const SlabReader<std::uint8_t> bad = [&](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& out) {
    Geometry s = g;
    s.shape = {z1 - z0, 4, 3};
    out = Volume<std::uint8_t>(s, 1);
  };
  REQUIRE_THROWS_WITH(LabelComponentsStreamed(g, bad, 2, {}),
                      Catch::Contains("planes [0, 2), expected 2x4x4"));
  REQUIRE_THROWS_WITH(LabelComponentsStreamed(g, SlabsOf(Volume<std::uint8_t>(g)), 0, {}), Catch::Contains("slab_z 0"));
}

TEST_CASE("the block-wise distance transform is bit-identical to the whole-volume one", "[frame][network][edt][blockwise]") {
  for (const Vec3& spacing : {Vec3{1, 1, 1}, Vec3{0.7, 0.45, 0.325}, Vec3{5, 1, 1}})
    for (double fg : {0.5, 0.95}) {
      const Volume<std::uint8_t> m = RandomMask({21, 18, 25}, spacing, fg, 3u);
      const Volume<float> whole = DistanceTransform(m, {ThreadBudget{2}});
      double largest = 0;
      for (float v : whole.values()) largest = std::max(largest, double(v));
      REQUIRE(largest > 0);
      for (const auto& [slab, rows] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {4, 5}, {7, 18}, {21, 4}, {50, 50}}) {
        StreamedDistanceOptions o;
        o.slab_z = slab;
        o.block_rows = rows;
        o.progress = ProgressStyle::kOff;
        o.threads = ThreadBudget{2};
        Volume<float> out(m.geometry(), -1.0f);
        DistanceTransformStreamed(m.geometry(), SlabsOf(m), WriteInto(out), o);
        INFO("spacing " << spacing[0] << "," << spacing[1] << "," << spacing[2] << ", slab " << slab << ", rows " << rows);
        REQUIRE(std::memcmp(out.data(), whole.data(), std::size_t(out.size()) * 4) == 0);
      }
    }
}

TEST_CASE("the block-wise distance transform keeps +infinity for a frame with no background", "[frame][network][edt][blockwise]") {
  Geometry g;
  g.shape = {5, 6, 7};
  g.spacing_um = {0.5, 0.5, 1.0};
  const Volume<std::uint8_t> full(g, 1);
  StreamedDistanceOptions o;
  o.slab_z = 2;
  o.block_rows = 4;
  o.progress = ProgressStyle::kOff;
  Volume<float> out(g, 0.0f);
  DistanceTransformStreamed(g, SlabsOf(full), WriteInto(out), o);
  for (float v : out.values()) REQUIRE(std::isinf(v));
  o.scratch_dir = "/nonexistent/op4d-scratch";
  REQUIRE_THROWS_WITH(DistanceTransformStreamed(g, SlabsOf(full), WriteInto(out), o),
                      Catch::Contains("/nonexistent/op4d-scratch") && Catch::Contains("squared distances"));
}

namespace {
// Three phases (labels of PhaseTable::Electrode()) in blobs a few voxels wide: a smoothed random
// field cut at two levels, so the interfaces are surfaces, not voxel noise.
PhaseVolume RandomPhases(const Index3& shape, const Vec3& spacing, std::uint32_t seed) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = spacing;
  Volume<float> f(g);
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01;
  for (auto& v : f.values()) v = n01(rng);
  GaussianSmooth(f.data(), f.shape(), {1.2, 1.2, 1.2});
  const auto& ph = PhaseTable::Electrode().phases();
  PhaseVolume p(g);
  for (std::int64_t i = 0; i < p.size(); ++i) p[i] = ph[f[i] < -0.08f ? 0 : f[i] < 0.12f ? 1 : 2].label;
  return p;
}
}  // namespace

TEST_CASE("block-wise surface areas are bit-identical to the whole-volume ones", "[frame][geometry][area][blockwise]") {
  const PhaseTable table = PhaseTable::Electrode();
  for (const Vec3& spacing : {Vec3{1, 1, 1}, Vec3{0.7, 0.45, 0.325}})
    for (double sigma : {1.0, 0.6}) {
      const PhaseVolume p = RandomPhases({26, 15, 17}, spacing, 5u);
      SurfaceAreaOptions o;
      o.smoothing_sigma_vox = sigma;
      o.threads = ThreadBudget{2};
      const std::vector<InterfaceArea> whole = ComputeInterfaceAreas(p, table, o);
      Volume<std::uint8_t> mask(p.geometry());
      for (std::int64_t i = 0; i < p.size(); ++i) mask[i] = p[i] == table.phases()[2].label;
      double pair_total = 0;
      for (const InterfaceArea& a : whole) pair_total += a.area_um2;
      REQUIRE(pair_total > 0);
      const double mask_whole = MaskSurfaceArea(mask, o);
      REQUIRE(mask_whole > 0);
      for (std::int64_t slab : {1, 3, 7, 25, 26, 100}) {
        INFO("spacing " << spacing[2] << ", sigma " << sigma << ", slab " << slab);
        REQUIRE(MaskSurfaceAreaStreamed(p.geometry(), SlabsOf(mask), slab, o) == mask_whole);
        const std::vector<InterfaceArea> st = ComputeInterfaceAreasStreamed(p.geometry(), SlabsOf(p), table, slab, o);
        REQUIRE(st.size() == 3);
        for (std::size_t k = 0; k < st.size(); ++k) {
          REQUIRE(st[k].a == whole[k].a);
          REQUIRE(st[k].b == whole[k].b);
          REQUIRE(st[k].area_um2 == whole[k].area_um2);
          REQUIRE(st[k].specific_area_per_um == whole[k].specific_area_per_um);
          REQUIRE(st[k].face_count_area_um2 == whole[k].face_count_area_um2);
        }
      }
    }
}

TEST_CASE("block-wise kernels read a stored phase volume by hyperslab and write labels back region by region", "[frame][blockwise][store]") {
  test::TempDir dir;
  const PhaseVolume p = RandomPhases({37, 21, 23}, {0.7, 0.45, 0.325}, 9u);
  FrameStore s = FrameStore::Create(dir / "b.h5");
  s.AppendFrame(Volume<std::uint16_t>(p.geometry(), 100), {{"time_s", 0}}, {"test"});
  s.WriteFrameVolume(0, "phases", p, {"segment"});
  const SlabReader<std::uint8_t> stored = StoredSlabs(s, 0, "phases");
  const PhaseTable table = PhaseTable::Electrode();
  const std::vector<InterfaceArea> whole = ComputeInterfaceAreas(p, table);
  const std::vector<InterfaceArea> st = ComputeInterfaceAreasStreamed(p.geometry(), stored, table, 5);
  for (std::size_t k = 0; k < whole.size(); ++k) REQUIRE(st[k].area_um2 == whole[k].area_um2);
  // Pore components, labels written to the store slab by slab as float32 (exact below 2^24).
  const SlabReader<std::uint8_t> pore = [&](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& out) {
    stored(z0, z1, out);
    for (auto& v : out.values()) v = v == 0;
  };
  s.CreateFrameVolume(0, "pore_components", DataType::kFloat32, p.geometry(), {"components (block-wise)"});
  const BoxWriter<std::int32_t> to_store = [&](const Box& box, const Volume<std::int32_t>& labels) {
    Volume<float> f(labels.geometry());
    for (std::int64_t i = 0; i < f.size(); ++i) f[i] = float(labels[i]);
    s.WriteFrameVolumeRegion(0, "pore_components", box, f);
  };
  const StreamedComponents c = LabelComponentsStreamed(p.geometry(), pore, 6, {Connectivity::k26, {}}, &to_store);
  Volume<std::uint8_t> mask(p.geometry());
  for (std::int64_t i = 0; i < p.size(); ++i) mask[i] = p[i] == 0;
  const ComponentLabels ref = LabelComponents(mask, {Connectivity::k26, {}});
  REQUIRE(c.components.size() == ref.components.size());
  REQUIRE(c.components.size() > 1);
  const LabelVolume back = ToLabels(s.ReadFrameVolume(0, "pore_components"));
  REQUIRE(back.values() == ref.labels.values());
}
