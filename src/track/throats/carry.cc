#include "op4d/track/throats/carry.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "op4d/core/error.h"

namespace op4d {

std::vector<float> CarryThroatRadii(const PoreNetwork& net, const AffineMap& map, const Volume<float>& edt,
                                    const CarryOptions& o) {
  if (!(o.search_tolerance_um >= 0)) throw InvalidArgument("search_tolerance_um must be >= 0");
  const Geometry& g = edt.geometry();
  const std::vector<Index3> ball = BallOffsets(g, o.search_tolerance_um);
  std::vector<float> out(net.throats.size(), NAN);
  RunInArena(o.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, net.throats.size()), [&](const auto& r) {
      for (std::size_t t = r.begin(); t < r.end(); ++t) {
        const PoreThroat& h = net.throats[t];
        std::vector<std::int64_t> points;
        for (std::int64_t p = h.path_begin; p < h.path_end; ++p) points.push_back(net.path[std::size_t(p)]);
        if (points.empty()) points.push_back(h.bottleneck_voxel);
        float radius = INFINITY;
        bool found = false;
        for (std::int64_t v : points) {
          const Vec3 X = net.VoxelPosition(v);
          const Eigen::Vector3d x = map.Apply(Eigen::Vector3d(X[0], X[1], X[2]));
          std::int64_t c[3];
          for (int a = 0; a < 3; ++a) c[a] = std::llround((x[a] - g.origin_um[a]) / g.spacing_um[a]);
          // A point carried out of the field of view is a part of the throat the scan no longer sees.
          if (c[0] < 0 || c[1] < 0 || c[2] < 0 || c[0] >= g.shape[0] || c[1] >= g.shape[1] || c[2] >= g.shape[2]) continue;
          found = true;
          float best = 0;
          for (const Index3& d : ball) {
            const std::int64_t z = c[0] + d[0], y = c[1] + d[1], xx = c[2] + d[2];
            if (z < 0 || y < 0 || xx < 0 || z >= g.shape[0] || y >= g.shape[1] || xx >= g.shape[2]) continue;
            best = std::max(best, edt(z, y, xx));
          }
          radius = std::min(radius, best);
        }
        out[t] = found ? radius : NAN;
      }
    });
  });
  return out;
}

ThroatGraph ThroatGraphOf(const PoreNetwork& net, std::uint8_t inlet_face, std::uint8_t outlet_face) {
  ThroatGraph g;
  g.nodes = std::int64_t(net.nodes.size());
  for (const PoreThroat& t : net.throats) g.conns.push_back({t.a, t.b});
  for (const PoreNode& n : net.nodes) {
    g.inlet.push_back((n.faces & inlet_face) ? 1 : 0);
    g.outlet.push_back((n.faces & outlet_face) ? 1 : 0);
  }
  return g;
}

}  // namespace op4d
