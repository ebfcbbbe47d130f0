#include "op4d/frame/segment/morphology.h"

#include "test_util.h"

using namespace op4d;

namespace {
Volume<std::uint8_t> Balls() {
  Geometry g;
  g.shape = {40, 40, 40};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 40; ++z)
    for (std::int64_t y = 0; y < 40; ++y)
      for (std::int64_t x = 0; x < 40; ++x) {
        const double big = (z - 20) * (z - 20) + (y - 20) * (y - 20) + (x - 20) * (x - 20);
        const double small = (z - 4) * (z - 4) + (y - 4) * (y - 4) + (x - 35) * (x - 35);
        m(z, y, x) = big <= 12 * 12 || small <= 2 * 2;
      }
  return m;
}
std::int64_t Count(const Volume<std::uint8_t>& m) {
  std::int64_t n = 0;
  for (auto v : m.values()) n += v;
  return n;
}
}  // namespace

TEST_CASE("opening removes features thinner than the ball and keeps larger ones", "[frame][segment][morphology]") {
  const Volume<std::uint8_t> m = Balls();
  MorphologyOptions o;
  o.radius_um = 2.5;  // the small ball (radius 2) goes, the big one (radius 12) stays
  const Volume<std::uint8_t> open = CleanMorphology(m, o);
  REQUIRE(open(4, 4, 35) == 0);
  std::int64_t kept = 0, added = 0, big = 0;
  for (std::int64_t i = 0; i < m.size(); ++i) {
    const bool in_big = i / 1600 > 7;  // z > 7: only the big ball
    if (in_big && m[i]) {
      ++big;
      kept += open[i];
    }
    added += open[i] && !m[i];
  }
  REQUIRE(added == 0);                 // an opening never adds
  REQUIRE(double(kept) / big > 0.99);  // the big ball is (nearly) its own opening on the grid
  o.threads.threads = 1;
  REQUIRE(CleanMorphology(m, o).values() == open.values());
}

TEST_CASE("radii are physical on anisotropic grids", "[frame][segment][morphology]") {
  // Slabs normal to x with spacing 0.5 um along x: 4 voxels (2 um) and 20 voxels (10 um) thick. An
  // opening with a 1.2 um ball erases the thin slab and gives the thick one back exactly.
  Geometry g;
  g.shape = {6, 6, 40};
  g.spacing_um = {1, 1, 0.5};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 6; ++z)
    for (std::int64_t y = 0; y < 6; ++y) {
      for (std::int64_t x = 2; x < 6; ++x) m(z, y, x) = 1;
      for (std::int64_t x = 12; x < 32; ++x) m(z, y, x) = 1;
    }
  MorphologyOptions o;
  o.radius_um = 1.2;
  o.max_feature_fraction = 0.5;
  const Volume<std::uint8_t> open = CleanMorphology(m, o);
  for (std::int64_t x = 0; x < 40; ++x) REQUIRE(open(3, 3, x) == (x >= 12 && x < 32 ? 1 : 0));
}

TEST_CASE("closing fills a gap narrower than the ball", "[frame][segment][morphology]") {
  Geometry g;
  g.shape = {12, 12, 21};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 2; z < 10; ++z)
    for (std::int64_t y = 2; y < 10; ++y)
      for (std::int64_t x = 2; x < 19; ++x) m(z, y, x) = x != 10;  // a 1-voxel gap at x = 10
  MorphologyOptions o;
  o.op = MorphologyOp::kClosing;
  o.radius_um = 1.0;
  o.max_feature_fraction = 1.0;
  const Volume<std::uint8_t> closed = CleanMorphology(m, o);
  // The gap's interior is filled. At its rim the unit ball does not reach (the voxel beside the block's
  // edge is sqrt(2) from the set), so the rim stays open: that is the Euclidean closing.
  for (std::int64_t z = 3; z < 9; ++z)
    for (std::int64_t y = 3; y < 9; ++y) REQUIRE(closed(z, y, 10) == 1);
  for (std::int64_t i = 0; i < m.size(); ++i) {
    REQUIRE(closed[i] >= m[i]);                   // a closing never removes
    if (closed[i] && !m[i]) REQUIRE(i % 21 == 10);  // and adds only in the gap
  }
  REQUIRE(Count(closed) >= Count(m) + 36);
}

TEST_CASE("a radius that is not small against the structure is refused with both values", "[frame][segment][morphology][errors]") {
  const Volume<std::uint8_t> m = Balls();
  const FeatureScale f = MeasureFeatureScale(m);
  REQUIRE(f.ridge_voxels > 0);
  MorphologyOptions o;
  o.radius_um = 0.3 * f.median_radius_um;
  REQUIRE_THROWS_WITH(CleanMorphology(m, o), Catch::StartsWith("radius_um:") && Catch::Contains("feature radius"));
  o.radius_um = -1;
  REQUIRE_THROWS_AS(CleanMorphology(m, o), ConfigError);
}

TEST_CASE("small components are removed by size with the chosen connectivity", "[frame][segment][morphology]") {
  Geometry g;
  g.shape = {10, 10, 10};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t x = 0; x < 10; ++x) m(5, 5, x) = 1;  // 10 voxels
  m(1, 1, 1) = m(2, 2, 2) = 1;                           // corner-touching pair: 2 voxels if 26-connected
  m(8, 1, 1) = 1;                                        // single voxel
  std::int64_t removed = 0;
  const Volume<std::uint8_t> a = RemoveSmallComponents(m, Connectivity::k26, 2, &removed);
  REQUIRE(removed == 1);
  REQUIRE(a(1, 1, 1) == 1);
  const Volume<std::uint8_t> b = RemoveSmallComponents(m, Connectivity::k6, 2, &removed);
  REQUIRE(removed == 3);
  REQUIRE(b(1, 1, 1) == 0);
  REQUIRE(b(5, 5, 9) == 1);
}

TEST_CASE("an opening or closing of one phase of a labelling relabels what it removes or adds", "[frame][segment][morphology]") {
  // Slabs normal to x, 1 um voxels: pore x < 10, binder 10..11 (2 voxels), active 12..21, binder
  // 22..33 (12 voxels), pore from 34. Opening the binder with a 1.2 um ball erases the thin binder
  // slab: its voxel beside the pore goes to the pore, the one beside the active material to it. The
  // thick slab stays.
  Geometry g;
  g.shape = {8, 8, 40};
  PhaseVolume p(g, 0);
  auto layer = [](std::int64_t x) -> std::uint8_t {
    if (x < 10) return 0;
    if (x < 12) return 2;
    if (x < 22) return 1;
    if (x < 34) return 2;
    return 0;
  };
  for (std::int64_t i = 0; i < p.size(); ++i) p[i] = layer(i % 40);
  MorphologyOptions o;
  o.radius_um = 1.2;
  o.max_feature_fraction = 1.0;
  PhaseVolume opened = p;
  REQUIRE(CleanPhase(opened, 2, o) == 2 * 8 * 8);
  for (std::int64_t x = 0; x < 40; ++x) {
    CAPTURE(x);
    const std::uint8_t want = x == 10 ? 0 : x == 11 ? 1 : layer(x);
    for (std::int64_t z = 0; z < 8; ++z)
      for (std::int64_t y = 0; y < 8; ++y) REQUIRE(opened(z, y, x) == want);
  }
  // Closing the pore with a 1 um ball fills a one-voxel active wall between two pore layers and
  // leaves the flat pore|binder face alone.
  PhaseVolume wall = p;
  for (std::int64_t i = 0; i < wall.size(); ++i) {
    const std::int64_t x = i % 40;
    wall[i] = x < 12 ? 0 : x == 12 ? 1 : x < 20 ? 0 : 2;
  }
  o.op = MorphologyOp::kClosing;
  o.radius_um = 1.0;
  PhaseVolume closed = wall;
  REQUIRE(CleanPhase(closed, 0, o) == 8 * 8);
  for (std::int64_t i = 0; i < wall.size(); ++i) REQUIRE(closed[i] == (i % 40 == 12 ? 0 : wall[i]));
  // Two phases: an opening of one is the closing of the other (the same voxels change hands).
  const Volume<std::uint8_t> balls = Balls();
  PhaseVolume by_open(balls.geometry()), by_close(balls.geometry());
  for (std::int64_t i = 0; i < balls.size(); ++i) by_open[i] = by_close[i] = balls[i];
  MorphologyOptions dual;
  dual.radius_um = 2.5;
  dual.max_feature_fraction = 1.0;
  const std::int64_t opened_voxels = CleanPhase(by_open, 1, dual);
  dual.op = MorphologyOp::kClosing;
  REQUIRE(CleanPhase(by_close, 0, dual) == opened_voxels);
  REQUIRE(opened_voxels >= 33);  // at least the small ball (33 voxels) goes
  REQUIRE(by_open.values() == by_close.values());
  // An absent phase changes nothing; a radius too large for the structure is refused, labels intact.
  PhaseVolume same = p;
  o.op = MorphologyOp::kOpening;
  REQUIRE(CleanPhase(same, 5, o) == 0);
  o.max_feature_fraction = 0.25;
  o.radius_um = 3;
  REQUIRE_THROWS_WITH(CleanPhase(same, 2, o), Catch::StartsWith("radius_um:") && Catch::Contains("feature radius"));
  REQUIRE(same.values() == p.values());
  o.radius_um = -1;
  REQUIRE_THROWS_AS(CleanPhase(same, 5, o), ConfigError);
}
