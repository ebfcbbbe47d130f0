#include "op4d/frame/segment/connectivity.h"

#include <queue>
#include <random>

#include "test_util.h"

using namespace op4d;

namespace {

Volume<std::uint8_t> Mask(Index3 shape) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = {2.0, 1.0, 0.5};
  return Volume<std::uint8_t>(g, 0);
}

// Breadth-first flood fill in scan order: the reference labelling.
LabelVolume BruteForce(const Volume<std::uint8_t>& m, Connectivity c) {
  LabelVolume out(m.geometry(), 0);
  const Index3 s = m.shape();
  std::int32_t next = 0;
  for (std::int64_t i = 0; i < m.size(); ++i) {
    if (!m[i] || out[i]) continue;
    out[i] = ++next;
    std::queue<std::int64_t> q;
    q.push(i);
    while (!q.empty()) {
      const std::int64_t v = q.front();
      q.pop();
      const std::int64_t z = v / (s[1] * s[2]), y = (v / s[2]) % s[1], x = v % s[2];
      for (int dz = -1; dz <= 1; ++dz)
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int n = std::abs(dz) + std::abs(dy) + std::abs(dx);
            if (n == 0 || (c == Connectivity::k6 && n > 1) || (c == Connectivity::k18 && n > 2)) continue;
            const std::int64_t zz = z + dz, yy = y + dy, xx = x + dx;
            if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
            const std::int64_t w = m.Offset(zz, yy, xx);
            if (m[w] && !out[w]) {
              out[w] = next;
              q.push(w);
            }
          }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("labels equal a brute-force flood fill for 6, 18 and 26 connectivity", "[frame][connectivity]") {
  std::mt19937 rng(5);
  for (Connectivity c : {Connectivity::k6, Connectivity::k18, Connectivity::k26})
    for (double density : {0.2, 0.35, 0.6}) {
      Volume<std::uint8_t> m = Mask({17, 23, 19});
      for (auto& v : m.values()) v = (rng() % 1000) < density * 1000;
      const LabelVolume want = BruteForce(m, c);
      for (int threads : {1, 2, 0}) {
        INFO("connectivity " << ToString(c) << ", density " << density << ", threads " << threads);
        const ComponentLabels got = LabelComponents(m, {c, ThreadBudget{threads}});
        REQUIRE(got.labels.values() == want.values());
        std::int64_t total = 0;
        for (const Component& comp : got.components) total += comp.voxels;
        std::int64_t fg = 0;
        for (auto v : m.values()) fg += v;
        REQUIRE(total == fg);
      }
    }
}

TEST_CASE("connectivity paradox: corner-touching pores are one, the solid around them is not split", "[frame][connectivity]") {
  // Two pore voxels touching only at a corner, inside solid.
  Volume<std::uint8_t> phases = Mask({4, 4, 4});
  std::fill(phases.values().begin(), phases.values().end(), 1);
  phases(1, 1, 1) = 0;
  phases(2, 2, 2) = 0;
  const DualConnectivity dual;  // pore 26, solid 6
  REQUIRE(LabelPhase(phases, 0, {dual.pore}).components.size() == 1);
  REQUIRE(LabelPhase(phases, 0, {dual.pore}).components[0].voxels == 2);
  REQUIRE(LabelPhase(phases, 1, {dual.solid}).components.size() == 1);  // the solid stays one piece
  // A pore shell (faces and edges around a voxel, corners left solid) encloses the centre under the
  // dual rule: the 6-connected solid inside is a component of its own, the pore shell is one.
  Volume<std::uint8_t> shell = Mask({5, 5, 5});
  std::fill(shell.values().begin(), shell.values().end(), 1);
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const int n = std::abs(dz) + std::abs(dy) + std::abs(dx);
        if (n == 1 || n == 2) shell(2 + dz, 2 + dy, 2 + dx) = 0;
      }
  REQUIRE(LabelPhase(shell, 0, {dual.pore}).components.size() == 1);
  const ComponentLabels solid = LabelPhase(shell, 1, {dual.solid});
  REQUIRE(solid.components.size() == 2);
  REQUIRE(solid.labels(2, 2, 2) != solid.labels(0, 0, 0));
  // Without the dual rule (solid 26), the centre leaks out through the corners: one solid piece.
  REQUIRE(LabelPhase(shell, 1, {Connectivity::k26}).components.size() == 1);
  DualConnectivity bad{Connectivity::k26, Connectivity::k26};
  std::string why;
  REQUIRE_FALSE(bad.IsValid(&why));
  REQUIRE(why.find("not a dual pair") != std::string::npos);
}

TEST_CASE("face flags tell spanning from isolated components", "[frame][connectivity]") {
  Volume<std::uint8_t> m = Mask({6, 7, 8});
  for (std::int64_t x = 0; x < 8; ++x) m(3, 3, x) = 1;  // a channel along x
  m(1, 1, 1) = 1;                                         // an isolated voxel
  for (std::int64_t z = 0; z < 6; ++z) m(z, 6, 7) = 1;   // a column along z on the y-max, x-max edge
  const ComponentLabels c = LabelComponents(m, {Connectivity::k6});
  REQUIRE(c.components.size() == 3);
  const Component& column = c.components[c.labels(0, 6, 7) - 1];
  const Component& isolated = c.components[c.labels(1, 1, 1) - 1];
  const Component& channel = c.components[c.labels(3, 3, 0) - 1];
  REQUIRE(channel.Spans(2));
  REQUIRE_FALSE(channel.Spans(0));
  REQUIRE(channel.faces == (kFaceXMin | kFaceXMax));
  REQUIRE(isolated.faces == 0);
  REQUIRE(column.Spans(0));
  REQUIRE(column.Touches(kFaceYMax | kFaceXMax));
  const auto f = SpanningFractions(c);
  REQUIRE(f[0] == 6.0 / 15.0);
  REQUIRE(f[1] == 0.0);
  REQUIRE(f[2] == 8.0 / 15.0);
  const ResultTable t = c.ToTable();
  REQUIRE(t.Find("volume_um3")->values[0] == double(c.components[0].voxels) * 1.0);  // voxel volume 1 µm³
  // An empty mask has no components and spans nothing.
  REQUIRE(LabelComponents(Mask({3, 3, 3}), {}).components.empty());
  REQUIRE(SpanningFractions(LabelComponents(Mask({3, 3, 3}), {}))[0] == 0.0);
}
