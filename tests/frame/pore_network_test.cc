#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "op4d/core/filter.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/network/pore_network.h"
#include "op4d/frame/network/skeleton.h"
#include "op4d/frame/network/topology.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/io/import.h"
#include "op4d/synth/campaign.h"
#include "op4d/synth/throat_lattice.h"
#include "test_util.h"

using namespace op4d;
using op4d::test::RequireClose;

namespace {

std::uint32_t Bit(int dz, int dy, int dx) { return 1u << ((dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)); }

Volume<std::uint8_t> Shape(const Index3& n, const Vec3& spacing, double (*inside)(double, double, double)) {
  Geometry g;
  g.shape = n;
  g.spacing_um = spacing;
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < n[0]; ++z)
    for (std::int64_t y = 0; y < n[1]; ++y)
      for (std::int64_t x = 0; x < n[2]; ++x) m(z, y, x) = inside(z * spacing[0], y * spacing[1], x * spacing[2]) <= 0;
  return m;
}

// Random blobs: smoothed noise above a level, with anisotropic spacing.
Volume<std::uint8_t> RandomBlobs(std::uint32_t seed, const Index3& n, double level) {
  Geometry g;
  g.shape = n;
  g.spacing_um = {1.5, 1.0, 0.8};
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise;
  std::vector<float> f(std::size_t(g.voxel_count()));
  for (float& v : f) v = noise(rng);
  GaussianSmooth(f.data(), n, {1.5, 1.5, 1.5});
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t i = 0; i < m.size(); ++i) m[i] = f[std::size_t(i)] > level;
  return m;
}

// A cubic lattice: spheres of radius 4.5 µm at the points 10 + 20 i µm (i = 0, 1, 2) joined by
// cylinders of radius 3 µm along all three axes: 27 junctions, 54 throats of length 20 µm.
double Lattice(double z, double y, double x) {
  auto nearest = [](double a) { return std::clamp(10 + 20 * std::round((a - 10) / 20), 10.0, 50.0); };
  const double p[3] = {z, y, x};
  const double q[3] = {nearest(z), nearest(y), nearest(x)};
  double best = std::sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2])) - 4.5;
  for (int axis = 0; axis < 3; ++axis) {
    const int u = (axis + 1) % 3, v = (axis + 2) % 3;
    if (p[axis] < 10 || p[axis] > 50) continue;
    best = std::min(best, std::hypot(p[u] - q[u], p[v] - q[v]) - 3.0);
  }
  return best;
}

double Torus(double z, double y, double x) {  // ring radius 12, tube radius 4, centre (10, 20, 20)
  const double rho = std::hypot(y - 20, x - 20) - 12;
  return std::hypot(rho, z - 10) - 4;
}

void RequireMatchesPoreTopology(const PoreNetwork& net) {
  INFO("graph components " << net.graph_components << " loops " << net.graph_loops << ", pore components "
                           << net.pore.components << " loops " << net.pore.loops << " cavities " << net.pore.cavities);
  REQUIRE(net.pore.cavities == 0);  // filled before the skeleton
  REQUIRE(net.graph_components == net.pore.components);
  REQUIRE(net.graph_loops == net.pore.loops);
}

}  // namespace

TEST_CASE("simple points for the (26, 6) pair", "[frame][network][skeleton]") {
  REQUIRE_FALSE(IsSimplePoint26(0));                                   // an isolated voxel
  REQUIRE(IsSimplePoint26(Bit(0, 0, 1)));                               // the end of a line
  REQUIRE_FALSE(IsSimplePoint26(Bit(0, 0, 1) | Bit(0, 0, -1)));         // inside a line
  REQUIRE(IsSimplePoint26(Bit(0, 0, 1) | Bit(0, 1, 0)));                // the corner of an L (neighbours touch)
  std::uint32_t all = 0, half = 0, sheet = 0;
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        if (dz == 0 && dy == 0 && dx == 0) continue;
        all |= Bit(dz, dy, dx);
        if (dz >= 0) half |= Bit(dz, dy, dx);
        if (dz == 0) sheet |= Bit(dz, dy, dx);
      }
  REQUIRE_FALSE(IsSimplePoint26(all));   // removing it would open a cavity
  REQUIRE(IsSimplePoint26(half));        // on a flat face of a block
  REQUIRE_FALSE(IsSimplePoint26(sheet)); // inside a one-voxel sheet: would punch a tunnel
  // The diagonal pair: removing the centre splits the set.
  REQUIRE_FALSE(IsSimplePoint26(Bit(-1, -1, -1) | Bit(1, 1, 1)));
}

TEST_CASE("the skeleton keeps the topology of random sets and is thin", "[frame][network][skeleton]") {
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    for (double level : {-0.05, 0.1}) {
      const Volume<std::uint8_t> m = RandomBlobs(seed, {24, 32, 36}, level);
      const Skeleton s = Skeletonize(m, DistanceTransform(m), {});
      const Topology tm = MeasureTopology(m), ts = MeasureTopology(s.voxels);
      INFO("seed " << seed << " level " << level << ": set chi " << tm.euler << " b0 " << tm.components << " b1 "
                   << tm.loops << " b2 " << tm.cavities << ", skeleton chi " << ts.euler << " b0 " << ts.components
                   << " b1 " << ts.loops << " b2 " << ts.cavities);
      REQUIRE(tm.components > 0);
      REQUIRE(ts.euler == tm.euler);
      REQUIRE(ts.components == tm.components);
      REQUIRE(ts.loops == tm.loops);
      REQUIRE(ts.cavities == tm.cavities);
      REQUIRE(s.voxel_count < std::count(m.values().begin(), m.values().end(), 1) / 4);
      // Thin: what is left is curve ends, or not simple.
      const Index3 n = m.shape();
      for (std::int64_t z = 0; z < n[0]; ++z)
        for (std::int64_t y = 0; y < n[1]; ++y)
          for (std::int64_t x = 0; x < n[2]; ++x) {
            if (!s.voxels(z, y, x)) continue;
            REQUIRE(m(z, y, x));
            std::uint32_t nb = 0;
            for (int b = 0; b < 27; ++b) {
              const std::int64_t zz = z + b / 9 - 1, yy = y + b / 3 % 3 - 1, xx = x + b % 3 - 1;
              if (b != 13 && zz >= 0 && yy >= 0 && xx >= 0 && zz < n[0] && yy < n[1] && xx < n[2] && s.voxels(zz, yy, xx))
                nb |= 1u << b;
            }
            if (__builtin_popcount(nb) > 1) REQUIRE_FALSE(IsSimplePoint26(nb));
          }
    }
  }
}

TEST_CASE("a torus gives one loop", "[frame][network]") {
  const Volume<std::uint8_t> m = Shape({21, 41, 41}, {1, 1, 1}, Torus);
  const PoreNetwork net = ExtractPoreNetwork(m, {{}, true, true, {}, ProgressStyle::kOff});
  RequireMatchesPoreTopology(net);
  REQUIRE(net.pore.loops == 1);
  REQUIRE(net.graph_loops == 1);
  // One closed curve: a node on it and the loop split into three throats for a simple graph.
  REQUIRE(net.nodes.size() == 3);
  REQUIRE(net.throats.size() == 3);
  double length = 0;
  for (const PoreThroat& t : net.throats) {
    length += t.length_um;
    REQUIRE(t.min_radius_um >= 3.5);
    REQUIRE(t.min_radius_um <= 5.0);
  }
  // The centre line is a circle of radius 12: 75.4 µm; a digital curve is a little longer.
  REQUIRE(length > 2 * M_PI * 12 * 0.97);
  REQUIRE(length < 2 * M_PI * 12 * 1.10);
  // Without splitting: one node with a self-loop.
  const PoreNetwork raw = ExtractPoreNetwork(m, {{}, true, false, {}, ProgressStyle::kOff});
  REQUIRE(raw.nodes.size() == 1);
  REQUIRE(raw.throats.size() == 1);
  REQUIRE(raw.throats[0].a == raw.throats[0].b);
  REQUIRE(raw.graph_loops == 1);
}

TEST_CASE("a cubic lattice of cylinders gives the lattice graph", "[frame][network]") {
  for (const Vec3 spacing : {Vec3{1, 1, 1}, Vec3{2, 1, 1}}) {
    const Index3 n{std::int64_t(61 / spacing[0]) + 1, 61, 61};
    const Volume<std::uint8_t> m = Shape(n, spacing, Lattice);
    const PoreNetwork net = ExtractPoreNetwork(m, {{}, true, true, {}, ProgressStyle::kOff});
    INFO("spacing z " << spacing[0] << ": " << net.nodes.size() << " nodes, " << net.throats.size() << " throats");
    RequireMatchesPoreTopology(net);
    REQUIRE(net.nodes.size() == 27);
    REQUIRE(net.throats.size() == 54);
    REQUIRE(net.graph_loops == 28);
    // Nodes within one voxel of the lattice points, with 3 to 6 throats each.
    std::map<int, int> coordination;
    for (const PoreNode& node : net.nodes) {
      for (int a = 0; a < 3; ++a) {
        const double nearest = 10 + 20 * std::round((node.position_um[a] - 10) / 20);
        REQUIRE(std::abs(node.position_um[a] - nearest) <= spacing[a] + 1e-9);
      }
      ++coordination[node.coordination];
    }
    REQUIRE(coordination[3] == 8);   // corners
    REQUIRE(coordination[4] == 12);  // edges
    REQUIRE(coordination[5] == 6);   // faces
    REQUIRE(coordination[6] == 1);   // centre
    const double coarse = std::max({spacing[0], spacing[1], spacing[2]});
    for (const PoreThroat& t : net.throats) {
      INFO("throat " << t.a << "-" << t.b << " length " << t.length_um << " r_min " << t.min_radius_um);
      REQUIRE(std::abs(t.length_um - 20) <= coarse + 1e-9);
      REQUIRE(std::abs(t.direct_length_um - 20) <= coarse + 1e-9);
      // Radius 3 cylinder: the distance to the nearest solid voxel centre is between 3 and 3 + a voxel.
      REQUIRE(t.min_radius_um >= 3.0 - 1e-6);
      REQUIRE(t.min_radius_um <= 3.0 + coarse + 1e-6);
    }
    // The partition covers the pore space exactly once.
    std::int64_t owned = 0;
    for (const PoreNode& node : net.nodes) owned += node.region_voxels;
    REQUIRE(owned == std::count(m.values().begin(), m.values().end(), 1));
  }
}

TEST_CASE("network tables and the OpenPNM dictionary", "[frame][network]") {
  const Volume<std::uint8_t> m = Shape({61, 61, 61}, {1, 1, 1}, Lattice);
  const PoreNetwork net = ExtractPoreNetwork(m, {{}, true, true, {}, ProgressStyle::kOff});
  REQUIRE(net.NodeTable().rows() == 27);
  REQUIRE(net.ThroatTable().rows() == 54);
  REQUIRE(net.PathTable().rows() == net.path.size());
  const ResultTable summary = net.SummaryTable();
  REQUIRE(summary.Find("graph_loops")->values[0] == 28);
  REQUIRE(summary.Find("pore_loops")->values[0] == 28);
  const std::vector<NamedArray> arrays = net.OpenPnmArrays();
  auto find = [&](const std::string& name) -> const NamedArray& {
    for (const NamedArray& a : arrays)
      if (a.name == name) return a;
    FAIL("no array " << name);
    return arrays[0];
  };
  const NamedArray& coords = find("pore.coords");
  REQUIRE(coords.rows == 27);
  REQUIRE(coords.cols == 3);
  REQUIRE(coords.unit == "m");
  // x, y, z in metres.
  RequireClose(coords.values[0], net.nodes[0].position_um[2] * 1e-6, 1e-12);
  RequireClose(coords.values[2], net.nodes[0].position_um[0] * 1e-6, 1e-12);
  const NamedArray& conns = find("throat.conns");
  REQUIRE(conns.rows == 54);
  REQUIRE(conns.cols == 2);
  REQUIRE(conns.integer);
  for (std::int64_t t = 0; t < 54; ++t) REQUIRE(conns.values[std::size_t(2 * t)] < conns.values[std::size_t(2 * t + 1)]);
  RequireClose(find("throat.diameter").values[0], 2 * net.throats[0].min_radius_um * 1e-6, 1e-12);
  // The lattice is inside the volume: no node on a face.
  for (double v : find("pore.xmin").values) REQUIRE(v == 0);
}

TEST_CASE("boundary nodes sit on the faces a channel crosses", "[frame][network]") {
  // A straight channel of radius 4 along x through the whole volume: two boundary nodes, one throat.
  Geometry g;
  g.shape = {21, 21, 40};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 21; ++z)
    for (std::int64_t y = 0; y < 21; ++y)
      for (std::int64_t x = 0; x < 40; ++x) m(z, y, x) = std::hypot(z - 10.0, y - 10.0) <= 4;
  const PoreNetwork net = ExtractPoreNetwork(m, {{}, true, true, {}, ProgressStyle::kOff});
  REQUIRE(net.nodes.size() == 2);
  REQUIRE(net.throats.size() == 1);
  std::uint8_t faces = net.nodes[0].faces | net.nodes[1].faces;
  REQUIRE(faces == (kFaceXMin | kFaceXMax));
  RequireClose(net.throats[0].length_um, 39, 1e-9);
  REQUIRE(net.throats[0].min_radius_um >= 4.0);
  REQUIRE(net.throats[0].min_radius_um <= 5.0);
}

TEST_CASE("a short, wide stub from a pore to a face keeps its boundary throat", "[frame][network][skeleton]") {
  // A sphere of radius 6 at z = 12 and a cylinder of radius 3 from it to the z = 0 face: 6 voxels
  // long, half as long as wide. Thinning alone would fold the stub into the sphere's node.
  Geometry g;
  g.shape = {24, 21, 21};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 21; ++y)
      for (std::int64_t x = 0; x < 21; ++x)
        m(z, y, x) = std::hypot(z - 12.0, y - 10.0, x - 10.0) <= 6 || (z <= 12 && std::hypot(y - 10.0, x - 10.0) <= 3);
  const PoreNetwork net = ExtractPoreNetwork(m, {{}, true, true, {}, ProgressStyle::kOff});
  REQUIRE(net.nodes.size() == 2);
  REQUIRE(net.throats.size() == 1);
  REQUIRE((net.nodes[0].faces | net.nodes[1].faces) == kFaceZMin);
  REQUIRE(net.throats[0].min_radius_um >= 3.0);
  REQUIRE(net.throats[0].min_radius_um <= 4.0);
}

TEST_CASE("one pore split into two junction clusters by a noisy wall is one node", "[frame][network]") {
  // A rendered lattice frame at SNR 10 thresholded at 17000 (pore 8000, solid 30000): the wall noise
  // leaves some bodies as two junction clusters whose centres lie inside each other's ball.
  ThroatLatticeOptions o;
  o.frames = 1;
  o.seed = 2;
  const SynthThroatLattice l(o);
  const SynthFrame f = l.Render(0);
  const auto& grey = std::get<Volume<std::uint16_t>>(f.grey);
  Volume<std::uint8_t> m(grey.geometry());
  for (std::int64_t i = 0; i < m.size(); ++i) m[i] = grey[i] < 17000;
  NetworkOptions merged, split;
  merged.progress = split.progress = ProgressStyle::kOff;
  split.merge_inside_balls = false;
  const PoreNetwork a = ExtractPoreNetwork(m, merged), b = ExtractPoreNetwork(m, split);
  INFO("merged: " << a.nodes.size() << " nodes " << a.throats.size() << " throats, " << a.nodes_merged
                  << " merged; without: " << b.nodes.size() << " nodes " << b.throats.size() << " throats");
  RequireMatchesPoreTopology(a);
  RequireMatchesPoreTopology(b);
  REQUIRE(a.nodes_merged > 0);
  REQUIRE(a.nodes.size() == b.nodes.size() - std::size_t(a.nodes_merged));
  REQUIRE(a.throats.size() == b.throats.size() - std::size_t(a.nodes_merged));
  REQUIRE(a.nodes.size() == 112);  // 80 bodies and 32 face ends, as in the noise-free frame
  REQUIRE(a.throats.size() == 216);
}

TEST_CASE("empty, full and cavity-holding pore spaces", "[frame][network]") {
  Geometry g;
  g.shape = {12, 12, 12};
  const PoreNetwork empty = ExtractPoreNetwork(Volume<std::uint8_t>(g, 0), {{}, true, true, {}, ProgressStyle::kOff});
  REQUIRE(empty.nodes.empty());
  REQUIRE(empty.throats.empty());
  REQUIRE(empty.graph_loops == 0);
  // A block of pore with a floating solid grain: the grain is filled, the block thins to a tree.
  Volume<std::uint8_t> m(g, 1);
  for (std::int64_t z = 5; z < 7; ++z)
    for (std::int64_t y = 5; y < 7; ++y)
      for (std::int64_t x = 5; x < 7; ++x) m(z, y, x) = 0;
  const PoreNetwork net = ExtractPoreNetwork(m, {{}, true, true, {}, ProgressStyle::kOff});
  REQUIRE(net.cavities_filled == 1);
  RequireMatchesPoreTopology(net);
  REQUIRE(net.graph_loops == 0);
  std::int64_t owned = 0;
  for (const PoreNode& node : net.nodes) owned += node.region_voxels;
  REQUIRE(owned == 12 * 12 * 12 - 8);  // the filled grain is not pore volume
}

TEST_CASE("graph loops equal the pore space's Betti number on a synthetic electrode", "[frame][network]") {
  SynthOptions so;
  so.shape = {48, 64, 64};
  so.frames = 1;
  const SynthFrame f = SynthCampaign(so).Render(0);
  Volume<std::uint8_t> pore(f.phases.geometry(), 0);
  for (std::int64_t i = 0; i < pore.size(); ++i) pore[i] = f.phases[i] == 0;
  const PoreNetwork net = ExtractPoreNetwork(pore, {{}, true, true, {}, ProgressStyle::kOff});
  INFO(net.nodes.size() << " nodes, " << net.throats.size() << " throats, loops " << net.graph_loops);
  RequireMatchesPoreTopology(net);
  REQUIRE(net.graph_loops > 10);
  std::int64_t owned = 0;
  for (const PoreNode& node : net.nodes) owned += node.region_voxels;
  REQUIRE(owned == std::count(pore.values().begin(), pore.values().end(), 1));
}

TEST_CASE("graph loops equal the pore space's Betti number on real Berea sandstone", "[frame][network][data]") {
  const std::string zip = test::SharedData("berea/berea.zip");
  if (zip.empty()) {
    WARN("../shared/data/berea absent: skipped");
    return;
  }
  test::TempDir dir;
  std::string out;
  REQUIRE(test::RunCommand("cd " + dir.path() + " && unzip -q " + zip, &out) == 0);
  const AnyVolume v = OpenInput(dir / "berea.tif", {})->ReadFrame(0);
  const Volume<std::uint8_t>& labels = std::get<Volume<std::uint8_t>>(v);
  // A 160^3 corner (the whole 400^3 image: bench/RESULTS.md), 5.3 um voxels.
  Volume<std::uint8_t> pore = labels.Crop({{0, 0, 0}, {160, 160, 160}});
  for (std::int64_t i = 0; i < pore.size(); ++i) pore[i] = pore[i] == 0;
  pore.set_spacing_um({5.3, 5.3, 5.3});
  const PoreNetwork net = ExtractPoreNetwork(pore, {{}, true, true, {}, ProgressStyle::kOff});
  INFO(net.nodes.size() << " nodes, " << net.throats.size() << " throats, loops " << net.graph_loops << ", "
                        << net.cavities_filled << " cavities filled");
  RequireMatchesPoreTopology(net);
  REQUIRE(net.graph_loops > 100);
  std::int64_t owned = 0;
  for (const PoreNode& node : net.nodes) owned += node.region_voxels;
  REQUIRE(owned == std::count(pore.values().begin(), pore.values().end(), 1));
}
