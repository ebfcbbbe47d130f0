#include "op4d/frame/network/topology.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <array>

#include "op4d/frame/segment/connectivity.h"

namespace op4d {

Topology MeasureTopology(const Volume<std::uint8_t>& mask, ThreadBudget threads) {
  const Index3 s = mask.shape();
  // Voxel (z, y, x) is the closed cube [z, z+1] x [y, y+1] x [x, x+1]; outside the volume is empty.
  auto occ = [&](std::int64_t z, std::int64_t y, std::int64_t x) -> bool {
    return z >= 0 && y >= 0 && x >= 0 && z < s[0] && y < s[1] && x < s[2] && mask(z, y, x);
  };
  // Count the lattice elements that belong to at least one set cube, plane by plane (integers: exact).
  using Counts = std::array<std::int64_t, 4>;  // V, E, F, C
  const Counts c = RunInArena(threads, [&] {
    return tbb::parallel_reduce(
        tbb::blocked_range<std::int64_t>(0, s[0] + 1), Counts{0, 0, 0, 0},
        [&](const tbb::blocked_range<std::int64_t>& r, Counts acc) {
          for (std::int64_t k = r.begin(); k != r.end(); ++k)
            for (std::int64_t j = 0; j <= s[1]; ++j)
              for (std::int64_t i = 0; i <= s[2]; ++i) {
                // Vertex (k, j, i): any of the 8 cubes around it.
                bool v = false;
                for (int a = 0; a < 2 && !v; ++a)
                  for (int b = 0; b < 2 && !v; ++b)
                    for (int d = 0; d < 2 && !v; ++d) v = occ(k - a, j - b, i - d);
                acc[0] += v;
                // Edges from (k, j, i) along x, y, z: any of the 4 cubes around each.
                if (i < s[2]) acc[1] += occ(k, j, i) || occ(k - 1, j, i) || occ(k, j - 1, i) || occ(k - 1, j - 1, i);
                if (j < s[1]) acc[1] += occ(k, j, i) || occ(k - 1, j, i) || occ(k, j, i - 1) || occ(k - 1, j, i - 1);
                if (k < s[0]) acc[1] += occ(k, j, i) || occ(k, j - 1, i) || occ(k, j, i - 1) || occ(k, j - 1, i - 1);
                // Faces with corner (k, j, i): normal z (spanning y, x), normal y, normal x.
                if (j < s[1] && i < s[2]) acc[2] += occ(k, j, i) || occ(k - 1, j, i);
                if (k < s[0] && i < s[2]) acc[2] += occ(k, j, i) || occ(k, j - 1, i);
                if (k < s[0] && j < s[1]) acc[2] += occ(k, j, i) || occ(k, j, i - 1);
                if (k < s[0] && j < s[1] && i < s[2]) acc[3] += occ(k, j, i);
              }
          return acc;
        },
        [](Counts a, const Counts& b) {
          for (int t = 0; t < 4; ++t) a[t] += b[t];
          return a;
        });
  });
  Topology t;
  t.euler = c[0] - c[1] + c[2] - c[3];
  t.components = std::int64_t(LabelComponents(mask, {Connectivity::k26, threads}).components.size());
  Volume<std::uint8_t> complement(mask.geometry());
  for (std::int64_t i = 0; i < mask.size(); ++i) complement[i] = !mask[i];
  for (const Component& comp : LabelComponents(complement, {Connectivity::k6, threads}).components)
    t.cavities += comp.faces == 0;
  t.loops = t.components + t.cavities - t.euler;
  return t;
}

}  // namespace op4d
