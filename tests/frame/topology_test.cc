#include "op4d/frame/network/topology.h"

#include "test_util.h"

using namespace op4d;

namespace {
Volume<std::uint8_t> Empty(Index3 s) {
  Geometry g;
  g.shape = s;
  return Volume<std::uint8_t>(g, 0);
}
}  // namespace

TEST_CASE("Betti numbers of a cube, a hollow cube, a ring and corner-touching voxels", "[frame][network][topology]") {
  Volume<std::uint8_t> cube = Empty({6, 6, 6});
  for (std::int64_t z = 1; z < 5; ++z)
    for (std::int64_t y = 1; y < 5; ++y)
      for (std::int64_t x = 1; x < 5; ++x) cube(z, y, x) = 1;
  Topology t = MeasureTopology(cube);
  REQUIRE(t.euler == 1);
  REQUIRE(t.components == 1);
  REQUIRE(t.loops == 0);
  REQUIRE(t.cavities == 0);
  // A hollow cube: one enclosed cavity (sphere-like shell: chi = 2).
  Volume<std::uint8_t> shell = cube;
  shell(2, 2, 2) = shell(2, 2, 3) = shell(2, 3, 2) = shell(2, 3, 3) = 0;
  t = MeasureTopology(shell);
  REQUIRE(t.euler == 2);
  REQUIRE(t.cavities == 1);
  REQUIRE(t.loops == 0);
  // A square ring (a digital torus): one loop, chi = 0.
  Volume<std::uint8_t> ring = Empty({3, 7, 7});
  for (std::int64_t y = 1; y < 6; ++y)
    for (std::int64_t x = 1; x < 6; ++x) ring(1, y, x) = (y == 1 || y == 5 || x == 1 || x == 5);
  t = MeasureTopology(ring);
  REQUIRE(t.euler == 0);
  REQUIRE(t.components == 1);
  REQUIRE(t.loops == 1);
  // Two voxels touching at a corner: one 26-connected piece, no loop (V 15 - E 24 + F 12 - C 2 = 1).
  Volume<std::uint8_t> pair = Empty({3, 3, 3});
  pair(0, 0, 0) = pair(1, 1, 1) = 1;
  t = MeasureTopology(pair);
  REQUIRE(t.euler == 1);
  REQUIRE(t.components == 1);
  REQUIRE(t.loops == 0);
}

TEST_CASE("a cubic lattice of channels has the lattice's loop count", "[frame][network][topology]") {
  // Channels along x, y and z through every node of an n x n x n lattice (nodes 3 voxels apart), cut at
  // the volume's faces: a graph with N = n^3 nodes and E = 3 n^2 (n - 1) edges inside, plus the stubs
  // to the faces (trees, no loops). One component, so beta_1 = E - N + 1.
  const int n = 3, step = 3, size = n * step;
  Volume<std::uint8_t> m = Empty({size, size, size});
  for (std::int64_t a = 0; a < size; ++a)
    for (int p = 0; p < n; ++p)
      for (int q = 0; q < n; ++q) {
        const std::int64_t u = 1 + p * step, v = 1 + q * step;
        m(a, u, v) = m(u, a, v) = m(u, v, a) = 1;
      }
  const Topology t = MeasureTopology(m);
  const std::int64_t nodes = n * n * n, edges = 3 * n * n * (n - 1);
  REQUIRE(t.components == 1);
  REQUIRE(t.cavities == 0);
  REQUIRE(t.loops == edges - nodes + 1);
  REQUIRE(MeasureTopology(m, ThreadBudget{1}).euler == t.euler);
}
