#include "op4d/track/throats/carry.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Dense>
#include <open3d/geometry/KDTreeFlann.h>
#include <open3d/geometry/PointCloud.h>
#include <algorithm>
#include <cmath>
#include <unordered_map>

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

ThroatMatch MatchThroats(const PoreNetwork& reference, const AffineMap& map, const PoreNetwork& current,
                         const CarryOptions& o) {
  if (!(o.search_tolerance_um >= 0)) throw InvalidArgument("search_tolerance_um must be >= 0");
  const Geometry& g = current.geometry;
  ThroatMatch m;
  m.current_of.assign(reference.throats.size(), -1);
  m.reference_of.assign(current.throats.size(), -1);
  // Frame-k bottlenecks in a k-d tree (Open3D, as the particle matching uses).
  open3d::geometry::PointCloud bottlenecks;
  for (const PoreThroat& u : current.throats)
    bottlenecks.points_.emplace_back(u.bottleneck_um[0], u.bottleneck_um[1], u.bottleneck_um[2]);
  const open3d::geometry::KDTreeFlann tree(bottlenecks);
  std::vector<int> found;
  std::vector<double> found_d2;
  struct Pair {
    double d;
    std::int64_t t, u;
  };
  std::vector<Pair> pairs;
  std::vector<std::uint8_t> in_view(reference.throats.size(), 0);
  for (std::size_t t = 0; t < reference.throats.size(); ++t) {
    const PoreThroat& h = reference.throats[t];
    const double reach = h.min_radius_um + o.search_tolerance_um;
    std::vector<std::int64_t> points{h.bottleneck_voxel};
    for (std::int64_t p = h.path_begin; p < h.path_end; ++p) points.push_back(reference.path[std::size_t(p)]);
    std::unordered_map<std::int64_t, double> best;  // frame-k throat -> nearest carried point
    for (std::int64_t v : points) {
      const Vec3 X = reference.VoxelPosition(v);
      const Eigen::Vector3d xe = map.Apply(Eigen::Vector3d(X[0], X[1], X[2]));
      const Vec3 x{xe[0], xe[1], xe[2]};
      bool inside = true;
      for (int a = 0; a < 3; ++a) {
        const double c = (x[a] - g.origin_um[a]) / g.spacing_um[a];
        inside = inside && c >= -0.5 && c < double(g.shape[a]) - 0.5;
      }
      in_view[t] = in_view[t] || inside;
      if (current.throats.empty() || tree.SearchRadius(xe, reach, found, found_d2) <= 0) continue;
      for (std::size_t j = 0; j < found.size(); ++j) {
        auto [pos, fresh] = best.emplace(std::int64_t(found[j]), std::sqrt(found_d2[j]));
        if (!fresh) pos->second = std::min(pos->second, std::sqrt(found_d2[j]));
      }
    }
    for (const auto& [u, d] : best) pairs.push_back({d, std::int64_t(t), u});
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return a.d != b.d ? a.d < b.d : a.t != b.t ? a.t < b.t : a.u < b.u;
  });
  for (const Pair& p : pairs)
    if (m.current_of[std::size_t(p.t)] < 0 && m.reference_of[std::size_t(p.u)] < 0) {
      m.current_of[std::size_t(p.t)] = p.u;
      m.reference_of[std::size_t(p.u)] = p.t;
      ++m.matched;
    }
  for (std::size_t t = 0; t < reference.throats.size(); ++t)
    if (m.current_of[t] < 0) (in_view[t] ? m.died : m.lost)++;
  // A frame-k throat left over that lies on a reference throat's carried path is a further segment
  // of it (the extraction put a node on the path); only one near no reference throat is born.
  for (const Pair& p : pairs)
    if (m.reference_of[std::size_t(p.u)] < 0) {
      m.reference_of[std::size_t(p.u)] = p.t;
      ++m.segments;
    }
  for (std::int64_t r : m.reference_of) m.born += r < 0 ? 1 : 0;
  return m;
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
