#include "op4d/frame/network/pore_network.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "op4d/core/error.h"
#include "op4d/core/progress.h"
#include "op4d/core/union_find.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"
#include "skeleton_grid.h"

namespace op4d {
namespace {

// Marks the complement voxels that are 6-connected to the border (or outside) with 2, turns the
// others (cavities) into set voxels, clears the marks, and returns the number of cavities filled.
std::int64_t FillCavities(Volume<std::uint8_t>& m) {
  const SkeletonGrid g(m.geometry());
  std::vector<std::int64_t> queue;
  auto flood = [&](std::int64_t seed, std::uint8_t from, std::uint8_t to) {
    m[seed] = to;
    queue.assign(1, seed);
    while (!queue.empty()) {
      const std::int64_t i = queue.back();
      queue.pop_back();
      const Index3 c = g.Coords(i);
      for (int b : {4, 10, 12, 14, 16, 22}) {  // the 6 face neighbours
        if (!g.InBounds(c, b)) continue;
        const std::int64_t n = i + g.offset[b];
        if (m[n] == from) {
          m[n] = to;
          queue.push_back(n);
        }
      }
    }
  };
  for (std::int64_t i = 0; i < m.size(); ++i)
    if (m[i] == 0 && g.OnFace(i)) flood(i, 0, 2);
  std::int64_t cavities = 0;
  for (std::int64_t i = 0; i < m.size(); ++i)
    if (m[i] == 0) {
      ++cavities;
      flood(i, 0, 3);
    }
  for (std::int64_t i = 0; i < m.size(); ++i) m[i] = m[i] == 2 ? 0 : 1;
  return cavities;
}

Vec3 Position(const Geometry& geo, std::int64_t i) {
  const std::int64_t nyx = geo.shape[1] * geo.shape[2];
  const Index3 c{i / nyx, i / geo.shape[2] % geo.shape[1], i % geo.shape[2]};
  return {geo.origin_um[0] + c[0] * geo.spacing_um[0], geo.origin_um[1] + c[1] * geo.spacing_um[1],
          geo.origin_um[2] + c[2] * geo.spacing_um[2]};
}
double Distance(const Vec3& p, const Vec3& q) {
  return std::sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]));
}

std::uint8_t FaceBits(const SkeletonGrid& g, std::int64_t i) {
  const Index3 c = g.Coords(i);
  std::uint8_t f = 0;
  if (c[0] == 0) f |= kFaceZMin;
  if (c[0] == g.nz - 1) f |= kFaceZMax;
  if (c[1] == 0) f |= kFaceYMin;
  if (c[1] == g.ny - 1) f |= kFaceYMax;
  if (c[2] == 0) f |= kFaceXMin;
  if (c[2] == g.nx - 1) f |= kFaceXMax;
  return f;
}

// A skeleton branch between two node clusters, before its properties are measured.
struct Branch {
  std::int32_t a, b;
  std::int64_t end_a, end_b;         // the cluster voxels the branch leaves from and arrives at
  std::vector<std::int64_t> voxels;  // the branch's own voxels, from a to b
};

class GraphBuilder {
 public:
  GraphBuilder(const Volume<std::uint8_t>& skeleton, const Volume<float>& distance, Volume<std::int32_t>& owner)
      : skel_(skeleton), dist_(distance), owner_(owner), g_(skeleton.geometry()) {}

  void Build(PoreNetwork& net) {
    std::vector<std::int64_t> voxels;
    for (std::int64_t i = 0; i < skel_.size(); ++i)
      if (skel_[i]) voxels.push_back(i);
    // Node clusters: 26-connected groups of skeleton voxels that do not have exactly two neighbours.
    for (std::int64_t v : voxels)
      if (!IsPathVoxel(v) && owner_[v] == 0) NewCluster(v);
    // Branches from every cluster to the next cluster.
    for (std::size_t n = 0; n < clusters_.size(); ++n)
      for (std::int64_t v : clusters_[n])
        for (std::uint32_t f = g_.Gather(skel_.values(), v, 1); f; f &= f - 1) {
          const std::int64_t u = v + g_.offset[__builtin_ctz(f)];
          if (owner_[u] == 0) Trace(std::int32_t(n), v, u);
        }
    // Closed curves without any junction or end: a node on the curve, a branch around it.
    for (std::int64_t v : voxels)
      if (owner_[v] == 0) {
        const std::int32_t n = std::int32_t(clusters_.size());
        clusters_.push_back({v});
        owner_[v] = n + 1;
        const std::uint32_t m = g_.Gather(skel_.values(), v, 1);
        Trace(n, v, v + g_.offset[__builtin_ctz(m)]);
      }
    MakeNodes(net);
  }

  std::vector<Branch>& branches() { return branches_; }

 private:
  bool IsPathVoxel(std::int64_t v) const { return __builtin_popcount(g_.Gather(skel_.values(), v, 1)) == 2; }

  void NewCluster(std::int64_t seed) {
    const std::int32_t id = std::int32_t(clusters_.size()) + 1;
    std::vector<std::int64_t> members{seed};
    owner_[seed] = id;
    for (std::size_t k = 0; k < members.size(); ++k)
      for (std::uint32_t f = g_.Gather(skel_.values(), members[k], 1); f; f &= f - 1) {
        const std::int64_t u = members[k] + g_.offset[__builtin_ctz(f)];
        if (owner_[u] == 0 && !IsPathVoxel(u)) {
          owner_[u] = id;
          members.push_back(u);
        }
      }
    clusters_.push_back(std::move(members));
    AddClusterLoops(id - 1);
  }

  // A cluster of junction voxels can itself hold loops (a ring of junctions around a thin solid
  // pillar). Its voxels' union of closed cubes is homotopy equivalent to the flag complex of their
  // 26-adjacency graph (nerve theorem; unit cubes have the Helly property), so the loops are the
  // cycles of that graph modulo its triangles. Every independent loop becomes a branch from the
  // cluster back to itself along the cycle's voxels (split into three throats for a simple graph).
  void AddClusterLoops(std::int32_t n) {
    const std::vector<std::int64_t>& members = clusters_[std::size_t(n)];
    const std::size_t m = members.size();
    if (m < 4) return;  // three mutually adjacent voxels bound a triangle: no loop
    std::unordered_map<std::int64_t, int> index;
    for (std::size_t i = 0; i < m; ++i) index[members[i]] = int(i);
    std::vector<std::vector<std::pair<int, int>>> adj(m);  // (neighbour, edge id)
    std::vector<std::pair<int, int>> edges;
    for (std::size_t i = 0; i < m; ++i)
      for (std::uint32_t f = g_.Gather(skel_.values(), members[i], 1); f; f &= f - 1) {
        const auto it = index.find(members[i] + g_.offset[__builtin_ctz(f)]);
        if (it == index.end() || it->second <= int(i)) continue;
        adj[i].push_back({it->second, int(edges.size())});
        adj[std::size_t(it->second)].push_back({int(i), int(edges.size())});
        edges.push_back({int(i), it->second});
      }
    if (edges.size() < m) return;  // a tree
    // Spanning tree by breadth-first search from the first voxel.
    std::vector<int> parent(m, -1), parent_edge(m, -1), depth(m, -1);
    std::vector<int> order{0};
    depth[0] = 0;
    for (std::size_t k = 0; k < order.size(); ++k)
      for (const auto& [v, e] : adj[std::size_t(order[k])])
        if (depth[std::size_t(v)] < 0) {
          depth[std::size_t(v)] = depth[std::size_t(order[k])] + 1;
          parent[std::size_t(v)] = order[k];
          parent_edge[std::size_t(v)] = e;
          order.push_back(v);
        }
    // GF(2) elimination: triangles first, then the fundamental cycles of the non-tree edges.
    const std::size_t words = (edges.size() + 63) / 64;
    std::unordered_map<std::size_t, std::vector<std::uint64_t>> basis;  // by pivot bit
    auto independent = [&](std::vector<std::uint64_t> v) {
      while (true) {
        std::size_t w = 0;
        while (w < words && v[w] == 0) ++w;
        if (w == words) return false;
        const std::size_t pivot = w * 64 + std::size_t(__builtin_ctzll(v[w]));
        const auto it = basis.find(pivot);
        if (it == basis.end()) {
          basis.emplace(pivot, std::move(v));
          return true;
        }
        for (std::size_t k = 0; k < words; ++k) v[k] ^= it->second[k];
      }
    };
    auto flip = [](std::vector<std::uint64_t>& v, int e) { v[std::size_t(e) / 64] ^= std::uint64_t(1) << (e % 64); };
    auto edge_between = [&](int a, int b) {
      for (const auto& [v, e] : adj[std::size_t(a)])
        if (v == b) return e;
      return -1;
    };
    for (const auto& [a, b] : edges)
      for (const auto& [c, e_ac] : adj[std::size_t(a)]) {
        if (c <= b) continue;
        const int e_bc = edge_between(b, c);
        if (e_bc < 0) continue;
        std::vector<std::uint64_t> v(words, 0);
        flip(v, edge_between(a, b));
        flip(v, e_ac);
        flip(v, e_bc);
        independent(std::move(v));
      }
    for (std::size_t e = 0; e < edges.size(); ++e) {
      int a = edges[e].first, b = edges[e].second;
      if (parent_edge[std::size_t(a)] == int(e) || parent_edge[std::size_t(b)] == int(e)) continue;
      std::vector<std::uint64_t> v(words, 0);
      flip(v, int(e));
      std::vector<int> up_a{a}, up_b{b};  // tree paths to the common ancestor
      while (a != b) {
        if (depth[std::size_t(a)] >= depth[std::size_t(b)]) {
          flip(v, parent_edge[std::size_t(a)]);
          a = parent[std::size_t(a)];
          up_a.push_back(a);
        } else {
          flip(v, parent_edge[std::size_t(b)]);
          b = parent[std::size_t(b)];
          up_b.push_back(b);
        }
      }
      if (!independent(std::move(v))) continue;
      // The loop's voxels in order: a … ancestor … b (and the edge b–a closes it).
      Branch br{n, n, members[std::size_t(up_a[0])], members[std::size_t(up_a[0])], {}};
      for (std::size_t k = 1; k < up_a.size(); ++k) br.voxels.push_back(members[std::size_t(up_a[k])]);
      for (std::size_t k = up_b.size() - 1; k-- > 0;) br.voxels.push_back(members[std::size_t(up_b[k])]);
      branches_.push_back(std::move(br));
    }
  }

  // Follows the path voxels from `first` (a neighbour of cluster voxel `from` of node a) to the
  // next cluster voxel. Path voxels get owner -1 (visited) until the partition assigns them.
  void Trace(std::int32_t a, std::int64_t from, std::int64_t first) {
    Branch br{a, -1, from, -1, {}};
    std::int64_t prev = from, cur = first;
    while (owner_[cur] <= 0) {
      if (owner_[cur] < 0)  // a thinned skeleton has no such branching inside a path; never seen
        throw InvalidArgument("pore network: skeleton branch at voxel " + std::to_string(cur) +
                              " runs into a visited branch (skeleton not thin)");
      owner_[cur] = -1;
      br.voxels.push_back(cur);
      std::int64_t next = -1;
      for (std::uint32_t f = g_.Gather(skel_.values(), cur, 1); f; f &= f - 1) {
        const std::int64_t u = cur + g_.offset[__builtin_ctz(f)];
        if (u != prev) next = u;
      }
      prev = cur;
      cur = next;
    }
    // cur is a cluster voxel (owner > 0): the branch ends there.
    br.b = owner_[cur] - 1;
    br.end_b = cur;
    branches_.push_back(std::move(br));
  }

  void MakeNodes(PoreNetwork& net) {
    net.nodes.resize(clusters_.size());
    for (std::size_t n = 0; n < clusters_.size(); ++n) {
      // The centre: the centroid of the cluster (where its branches meet), the voxel nearest to it,
      // and the largest inscribed radius over the cluster.
      PoreNode& node = net.nodes[n];
      Vec3 centroid{0, 0, 0};
      for (std::int64_t v : clusters_[n]) {
        const Vec3 p = Position(skel_.geometry(), v);
        for (int a = 0; a < 3; ++a) centroid[a] += p[a] / double(clusters_[n].size());
        node.radius_um = std::max(node.radius_um, double(dist_[v]));
        node.faces |= FaceBits(g_, v);
      }
      node.voxel = clusters_[n][0];
      for (std::int64_t v : clusters_[n])
        if (Distance(Position(skel_.geometry(), v), centroid) <
            Distance(Position(skel_.geometry(), node.voxel), centroid))
          node.voxel = v;
      node.position_um = centroid;
      node.skeleton_voxels = std::int64_t(clusters_[n].size());
    }
  }

  const Volume<std::uint8_t>& skel_;
  const Volume<float>& dist_;
  Volume<std::int32_t>& owner_;
  SkeletonGrid g_;
  std::vector<std::vector<std::int64_t>> clusters_;
  std::vector<Branch> branches_;
};

// Merges two nodes joined by a single branch when the centre of one lies inside the other's inscribed
// ball: one pore that the thinning left as two junction clusters (noise on its wall, a flattened
// body). Pairs are taken nearest first, each node at most once, so no branch becomes a self-loop;
// the node with the larger ball keeps its centre and takes the other's voxels, faces and branches,
// and the branch between them becomes part of it. Returns the number of nodes merged away.
std::int64_t MergeNodesInsideBalls(PoreNetwork& net, std::vector<Branch>& branches, Volume<std::int32_t>& owner) {
  std::map<std::pair<std::int32_t, std::int32_t>, int> pair_count;
  for (const Branch& br : branches)
    if (br.a != br.b) ++pair_count[std::minmax(br.a, br.b)];
  std::vector<std::pair<double, std::size_t>> candidates;
  for (std::size_t i = 0; i < branches.size(); ++i) {
    const Branch& br = branches[i];
    if (br.a == br.b || pair_count[std::minmax(br.a, br.b)] != 1) continue;
    const PoreNode &a = net.nodes[std::size_t(br.a)], &b = net.nodes[std::size_t(br.b)];
    const double d = Distance(a.position_um, b.position_um);
    if (d < std::max(a.radius_um, b.radius_um)) candidates.push_back({d, i});
  }
  std::sort(candidates.begin(), candidates.end());
  const std::size_t n = net.nodes.size();
  std::vector<std::int32_t> into(n);
  for (std::size_t k = 0; k < n; ++k) into[k] = std::int32_t(k);
  std::vector<std::uint8_t> used(n, 0), contracted(branches.size(), 0);
  std::int64_t merged = 0;
  for (const auto& [d, i] : candidates) {
    const Branch& br = branches[i];
    if (used[std::size_t(br.a)] || used[std::size_t(br.b)]) continue;
    used[std::size_t(br.a)] = used[std::size_t(br.b)] = 1;
    const PoreNode &a = net.nodes[std::size_t(br.a)], &b = net.nodes[std::size_t(br.b)];
    const bool keep_a = a.radius_um > b.radius_um || (a.radius_um == b.radius_um && br.a < br.b);
    const std::int32_t keep = keep_a ? br.a : br.b, drop = keep_a ? br.b : br.a;
    into[std::size_t(drop)] = keep;
    PoreNode& k = net.nodes[std::size_t(keep)];
    const PoreNode& o = net.nodes[std::size_t(drop)];
    k.faces |= o.faces;
    k.skeleton_voxels += o.skeleton_voxels + std::int64_t(br.voxels.size());
    contracted[i] = 1;
    ++merged;
  }
  if (merged == 0) return 0;
  std::vector<std::int32_t> index(n, -1);
  std::vector<PoreNode> nodes;
  for (std::size_t k = 0; k < n; ++k)
    if (into[k] == std::int32_t(k)) {
      index[k] = std::int32_t(nodes.size());
      nodes.push_back(net.nodes[k]);
    }
  auto final_index = [&](std::int32_t x) { return index[std::size_t(into[std::size_t(x)])]; };
  for (std::int64_t v = 0; v < owner.size(); ++v)
    if (owner[v] > 0) owner[v] = final_index(owner[v] - 1) + 1;
  std::vector<Branch> kept;
  for (std::size_t i = 0; i < branches.size(); ++i) {
    Branch& br = branches[i];
    if (contracted[i]) {
      for (std::int64_t v : br.voxels) owner[v] = final_index(br.a) + 1;
      continue;
    }
    br.a = final_index(br.a);
    br.b = final_index(br.b);
    kept.push_back(std::move(br));
  }
  branches = std::move(kept);
  net.nodes = std::move(nodes);
  return merged;
}

// Splits self-loops (into three throats) and repeated throats between the same pair (into two),
// by nodes inserted at the widest voxel of the branch (of each third, for loops).
void MakeSimple(PoreNetwork& net, std::vector<Branch>& branches, const Volume<float>& dist) {
  auto widest = [&](const Branch& br, std::size_t lo, std::size_t hi) {
    std::size_t best = lo;
    for (std::size_t k = lo; k < hi; ++k)
      if (dist[br.voxels[k]] > dist[br.voxels[best]]) best = k;
    return best;
  };
  auto insert_node = [&](std::int64_t v) {
    PoreNode node;
    node.voxel = v;
    node.skeleton_voxels = 1;
    node.inserted = true;
    net.nodes.push_back(node);
    ++net.nodes_inserted;
    return std::int32_t(net.nodes.size() - 1);
  };
  // Split branch at voxel index k (which becomes node n): returns the part after k.
  auto split = [&](Branch& br, std::size_t k, std::int32_t n) {
    Branch tail{n, br.b, br.voxels[k], br.end_b,
                std::vector<std::int64_t>(br.voxels.begin() + std::ptrdiff_t(k) + 1, br.voxels.end())};
    br.voxels.resize(k);
    br.b = n;
    br.end_b = tail.end_a;
    return tail;
  };
  std::vector<Branch> out;
  std::map<std::pair<std::int32_t, std::int32_t>, int> seen;
  for (Branch& br : branches) {
    if (br.a == br.b && br.voxels.size() >= 2) {
      // At the widest voxels near a third and two thirds of the way round.
      const std::size_t n = br.voxels.size(), w = n / 6;
      const std::size_t k1 = w == 0 ? 0 : widest(br, n / 3 - w, n / 3 + w);
      const std::size_t k2 = w == 0 ? n - 1 : widest(br, 2 * n / 3 - w, 2 * n / 3 + w);
      const std::int32_t n1 = insert_node(br.voxels[k1]);
      const std::int32_t n2 = insert_node(br.voxels[k2]);
      Branch rest = split(br, k2, n2);
      Branch mid = split(br, k1, n1);
      out.push_back(std::move(br));
      out.push_back(std::move(mid));
      out.push_back(std::move(rest));
      continue;
    }
    const auto key = std::minmax(br.a, br.b);
    if (seen[{key.first, key.second}]++ > 0 && !br.voxels.empty()) {
      const std::size_t k = widest(br, 0, br.voxels.size());
      Branch rest = split(br, k, insert_node(br.voxels[k]));
      out.push_back(std::move(br));
      out.push_back(std::move(rest));
      continue;
    }
    out.push_back(std::move(br));
  }
  branches = std::move(out);
}

// Multi-source shortest paths through the pore space (26-neighbour steps of physical length,
// quantised to 1/16 of the finest spacing; Dial's buckets): every pore voxel joins the owner of the
// skeleton voxel nearest along the pore space.
void Partition(const Volume<std::uint8_t>& pore, Volume<std::int32_t>& owner) {
  const SkeletonGrid g(pore.geometry());
  std::array<std::uint32_t, 27> cost{};
  std::uint32_t max_cost = 0;
  for (int b = 0; b < 27; ++b) {
    cost[b] = std::uint32_t(std::lround(g.step_um[b] / (g.min_spacing / 16)));
    max_cost = std::max(max_cost, cost[b]);
  }
  Volume<std::uint32_t> best(pore.geometry(), std::numeric_limits<std::uint32_t>::max());
  std::vector<std::vector<std::int64_t>> ring(max_cost + 1);
  std::int64_t pending = 0;
  for (std::int64_t i = 0; i < owner.size(); ++i)
    if (owner[i] > 0) {
      best[i] = 0;
      ring[0].push_back(i);
      ++pending;
    }
  for (std::uint64_t d = 0; pending > 0; ++d) {
    std::vector<std::int64_t>& bucket = ring[d % ring.size()];
    for (std::size_t k = 0; k < bucket.size(); ++k) {
      const std::int64_t i = bucket[k];
      --pending;
      if (best[i] != d) continue;  // a stale entry
      for (std::uint32_t f = g.Gather(pore.values(), i, 1); f; f &= f - 1) {
        const int bit = __builtin_ctz(f);
        const std::int64_t n = i + g.offset[bit];
        const std::uint64_t nd = d + cost[bit];
        if (nd < best[n]) {
          best[n] = std::uint32_t(nd);
          owner[n] = owner[i];
          ring[nd % ring.size()].push_back(n);
          ++pending;
        }
      }
    }
    bucket.clear();
  }
}

std::int64_t GraphComponents(std::size_t nodes, const std::vector<PoreThroat>& throats) {
  UnionFind sets(static_cast<std::int64_t>(nodes));
  std::int64_t components = std::int64_t(nodes);
  for (const PoreThroat& t : throats)
    if (sets.Find(t.a) != sets.Find(t.b)) {
      sets.Union(t.a, t.b);
      --components;
    }
  return components;
}

}  // namespace

PoreNetwork ExtractPoreNetwork(const Volume<std::uint8_t>& pore_mask, const NetworkOptions& options) {
  Progress progress("pore network (steps)", 5, options.progress);
  PoreNetwork net;
  net.geometry = pore_mask.geometry();
  Volume<std::uint8_t> pore(pore_mask.geometry());
  for (std::int64_t i = 0; i < pore.size(); ++i) pore[i] = pore_mask[i] != 0;
  if (options.fill_cavities) net.cavities_filled = FillCavities(pore);
  net.pore = MeasureTopology(pore, options.threads);
  progress.Advance();
  Volume<float> distance = DistanceTransform(pore, {options.threads});
  progress.Advance();
  Skeleton skeleton = Skeletonize(pore, distance, options.skeleton);
  net.skeleton_voxels = skeleton.voxel_count;
  net.spurs_removed = skeleton.spurs_removed;
  progress.Advance();

  Volume<std::int32_t> owner(pore.geometry(), 0);
  GraphBuilder builder(skeleton.voxels, distance, owner);
  builder.Build(net);
  std::vector<Branch>& branches = builder.branches();
  if (options.merge_inside_balls) net.nodes_merged = MergeNodesInsideBalls(net, branches, owner);
  if (options.simple_graph) MakeSimple(net, branches, distance);
  skeleton.voxels = Volume<std::uint8_t>();
  for (PoreNode& node : net.nodes)
    if (node.inserted) {
      node.position_um = Position(net.geometry, node.voxel);
      node.radius_um = distance[node.voxel];
    }
  // Throats, and the owners of branch voxels (split at the bottleneck) for the partition.
  for (const Branch& br : branches) {
    PoreThroat t;
    const bool flip = br.a > br.b;
    t.a = flip ? br.b : br.a;
    t.b = flip ? br.a : br.b;
    // Node a's centre, the end voxels, the branch, node b's centre.
    std::vector<Vec3> chain{net.nodes[br.a].position_um, Position(net.geometry, br.end_a)};
    for (std::int64_t v : br.voxels) chain.push_back(Position(net.geometry, v));
    chain.push_back(Position(net.geometry, br.end_b));
    chain.push_back(net.nodes[br.b].position_um);
    for (std::size_t k = 1; k < chain.size(); ++k) t.length_um += Distance(chain[k - 1], chain[k]);
    t.direct_length_um = Distance(net.nodes[br.a].position_um, net.nodes[br.b].position_um);
    // The bottleneck over the branch's own voxels; a branch without voxels (an end next to a
    // junction) has its bottleneck at the narrower end voxel.
    std::vector<std::int64_t> along = br.voxels;
    if (along.empty()) along = {br.end_a, br.end_b};
    std::size_t kmin = 0;
    double sum = 0;
    for (std::size_t k = 0; k < along.size(); ++k) {
      sum += distance[along[k]];
      if (distance[along[k]] < distance[along[kmin]]) kmin = k;
    }
    t.min_radius_um = distance[along[kmin]];
    t.mean_radius_um = sum / double(along.size());
    t.bottleneck_voxel = along[kmin];
    t.bottleneck_um = Position(net.geometry, t.bottleneck_voxel);
    t.path_begin = std::int64_t(net.path.size());
    if (flip) {
      for (auto it = br.voxels.rbegin(); it != br.voxels.rend(); ++it) net.path.push_back(*it);
    } else {
      net.path.insert(net.path.end(), br.voxels.begin(), br.voxels.end());
    }
    t.path_end = std::int64_t(net.path.size());
    for (std::size_t k = 0; k < br.voxels.size(); ++k) owner[br.voxels[k]] = (k <= kmin ? br.a : br.b) + 1;
    ++net.nodes[br.a].coordination;
    ++net.nodes[br.b].coordination;
    net.throats.push_back(t);
  }
  for (std::int64_t v : net.path) net.path_radius_um.push_back(distance[v]);
  // Inserted nodes own their voxel.
  for (std::size_t n = 0; n < net.nodes.size(); ++n)
    if (net.nodes[n].inserted) owner[net.nodes[n].voxel] = std::int32_t(n) + 1;
  progress.Advance();

  distance = Volume<float>();  // the partition's work space takes its place
  Partition(pore, owner);
  const double voxel_um3 = net.geometry.voxel_volume_um3();
  for (std::int64_t i = 0; i < owner.size(); ++i)
    if (owner[i] > 0 && pore_mask[i]) ++net.nodes[owner[i] - 1].region_voxels;
  for (PoreNode& node : net.nodes) node.region_volume_um3 = double(node.region_voxels) * voxel_um3;
  net.graph_components = GraphComponents(net.nodes.size(), net.throats);
  net.graph_loops = std::int64_t(net.throats.size()) - std::int64_t(net.nodes.size()) + net.graph_components;
  progress.Advance();
  return net;
}

Vec3 PoreNetwork::VoxelPosition(std::int64_t i) const { return Position(geometry, i); }

ResultTable PoreNetwork::NodeTable() const {
  ResultTable t{"network_pores", {{"node", "1", {}}, {"z_um", "um", {}}, {"y_um", "um", {}}, {"x_um", "um", {}},
                                  {"radius_um", "um", {}}, {"region_volume_um3", "um^3", {}}, {"region_voxels", "1", {}},
                                  {"coordination", "1", {}}, {"skeleton_voxels", "1", {}}, {"inserted", "1", {}},
                                  {"touches_zmin", "1", {}}, {"touches_zmax", "1", {}}, {"touches_ymin", "1", {}},
                                  {"touches_ymax", "1", {}}, {"touches_xmin", "1", {}}, {"touches_xmax", "1", {}}}};
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const PoreNode& p = nodes[n];
    const double row[] = {double(n), p.position_um[0], p.position_um[1], p.position_um[2], p.radius_um,
                          p.region_volume_um3, double(p.region_voxels), double(p.coordination),
                          double(p.skeleton_voxels), double(p.inserted)};
    for (int c = 0; c < 10; ++c) t.columns[c].values.push_back(row[c]);
    for (int f = 0; f < 6; ++f) t.columns[10 + f].values.push_back((p.faces >> f) & 1);
  }
  return t;
}

ResultTable PoreNetwork::ThroatTable() const {
  ResultTable t{"network_throats",
                {{"throat", "1", {}}, {"node_a", "1", {}}, {"node_b", "1", {}}, {"length_um", "um", {}},
                 {"direct_length_um", "um", {}}, {"min_radius_um", "um", {}}, {"mean_radius_um", "um", {}},
                 {"bottleneck_z_um", "um", {}}, {"bottleneck_y_um", "um", {}}, {"bottleneck_x_um", "um", {}},
                 {"path_voxels", "1", {}}}};
  for (std::size_t k = 0; k < throats.size(); ++k) {
    const PoreThroat& h = throats[k];
    const double row[] = {double(k), double(h.a), double(h.b), h.length_um, h.direct_length_um, h.min_radius_um,
                          h.mean_radius_um, h.bottleneck_um[0], h.bottleneck_um[1], h.bottleneck_um[2],
                          double(h.path_end - h.path_begin)};
    for (int c = 0; c < 11; ++c) t.columns[c].values.push_back(row[c]);
  }
  return t;
}

ResultTable PoreNetwork::PathTable() const {
  ResultTable t{"network_throat_paths",
                {{"throat", "1", {}}, {"z", "voxel", {}}, {"y", "voxel", {}}, {"x", "voxel", {}}, {"radius_um", "um", {}}}};
  const SkeletonGrid g(geometry);
  for (std::size_t k = 0; k < throats.size(); ++k)
    for (std::int64_t p = throats[k].path_begin; p < throats[k].path_end; ++p) {
      const Index3 c = g.Coords(path[std::size_t(p)]);
      t.columns[0].values.push_back(double(k));
      for (int a = 0; a < 3; ++a) t.columns[1 + a].values.push_back(double(c[a]));
      t.columns[4].values.push_back(path_radius_um[std::size_t(p)]);
    }
  return t;
}

ResultTable PoreNetwork::SummaryTable() const {
  double coordination = 0;
  for (const PoreNode& n : nodes) coordination += n.coordination;
  const std::pair<const char*, double> rows[] = {
      {"nodes", double(nodes.size())},
      {"throats", double(throats.size())},
      {"mean_coordination", nodes.empty() ? 0.0 : coordination / double(nodes.size())},
      {"graph_components", double(graph_components)},
      {"graph_loops", double(graph_loops)},
      {"pore_components", double(pore.components)},
      {"pore_loops", double(pore.loops)},
      {"pore_cavities", double(pore.cavities)},
      {"pore_euler", double(pore.euler)},
      {"cavities_filled", double(cavities_filled)},
      {"skeleton_voxels", double(skeleton_voxels)},
      {"spurs_removed", double(spurs_removed)},
      {"nodes_inserted", double(nodes_inserted)},
      {"nodes_merged", double(nodes_merged)}};
  ResultTable t{"network_summary", {}};
  for (const auto& [name, value] : rows) t.columns.push_back({name, "1", {value}});
  return t;
}

std::vector<NamedArray> PoreNetwork::OpenPnmArrays() const {
  const std::int64_t np = std::int64_t(nodes.size()), nt = std::int64_t(throats.size());
  auto column = [](const char* name, const char* unit, std::int64_t rows, std::int64_t cols, bool integer) {
    NamedArray a{name, unit, rows, cols, integer, {}};
    a.values.reserve(std::size_t(rows * cols));
    return a;
  };
  NamedArray coords = column("pore.coords", "m", np, 3, false);
  NamedArray pdiam = column("pore.inscribed_diameter", "m", np, 1, false);
  NamedArray pvol = column("pore.region_volume", "m^3", np, 1, false);
  NamedArray conns = column("throat.conns", "1", nt, 2, true);
  NamedArray tdiam = column("throat.inscribed_diameter", "m", nt, 1, false);
  NamedArray tlen = column("throat.total_length", "m", nt, 1, false);
  NamedArray tdirect = column("throat.direct_length", "m", nt, 1, false);
  NamedArray tcoords = column("throat.coords", "m", nt, 3, false);
  std::vector<NamedArray> faces;
  const char* face_names[] = {"pore.zmin", "pore.zmax", "pore.ymin", "pore.ymax", "pore.xmin", "pore.xmax"};
  for (const char* f : face_names) {
    faces.push_back(column(f, "1", np, 1, true));
    faces.back().boolean = true;  // OpenPNM labels are boolean arrays
  }
  constexpr double kM = 1e-6, kM3 = 1e-18;  // µm → m, µm³ → m³
  for (const PoreNode& n : nodes) {
    for (int a = 2; a >= 0; --a) coords.values.push_back(n.position_um[a] * kM);  // x, y, z
    pdiam.values.push_back(2 * n.radius_um * kM);
    pvol.values.push_back(n.region_volume_um3 * kM3);
    for (int f = 0; f < 6; ++f) faces[f].values.push_back((n.faces >> f) & 1);
  }
  for (const PoreThroat& t : throats) {
    conns.values.push_back(t.a);
    conns.values.push_back(t.b);
    tdiam.values.push_back(2 * t.min_radius_um * kM);
    tlen.values.push_back(t.length_um * kM);
    tdirect.values.push_back(t.direct_length_um * kM);
    for (int a = 2; a >= 0; --a) tcoords.values.push_back(t.bottleneck_um[a] * kM);
  }
  // OpenPNM's geometry models read pore.diameter / throat.diameter: the inscribed ones.
  NamedArray pd = pdiam, td = tdiam;
  pd.name = "pore.diameter";
  td.name = "throat.diameter";
  std::vector<NamedArray> out{std::move(coords), std::move(conns), std::move(pdiam), std::move(pd), std::move(pvol),
                              std::move(tdiam), std::move(td), std::move(tlen), std::move(tdirect), std::move(tcoords)};
  for (NamedArray& f : faces) out.push_back(std::move(f));
  return out;
}

}  // namespace op4d
