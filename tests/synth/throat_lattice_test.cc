#include "op4d/synth/throat_lattice.h"

#include <algorithm>
#include <cmath>

#include "op4d/frame/network/pore_network.h"
#include "test_util.h"

using namespace op4d;

namespace {
std::int64_t VoxelAt(const Volume<std::uint8_t>& v, const Vec3& p_um) {
  const Vec3& s = v.geometry().spacing_um;
  return v(std::lround(p_um[0] / s[0]), std::lround(p_um[1] / s[1]), std::lround(p_um[2] / s[2]));
}
}  // namespace

TEST_CASE("the throat lattice: throats, the closure script, the pressure schedule and the truth", "[synth][throats]") {
  ThroatLatticeOptions o;  // 5 x 4 x 4 bodies, pitch 8 um, 10 frames
  const SynthThroatLattice l(o);
  // Interior throats: z 4*4*4, y 5*3*4, x 5*4*3; face throats 2 * 4*4.
  REQUIRE(l.throats().size() == 64 + 60 + 60 + 32);
  REQUIRE(l.shape() == Index3{(40 + 6) * 2, (32 + 4) * 2, (32 + 4) * 2});
  int faces = 0, narrow = 0, scripted = 0;
  for (const LatticeThroat& t : l.throats()) {
    if (t.face) {
      ++faces;
      REQUIRE_FALSE(t.narrow);
      REQUIRE(t.close_frame < 0);
      REQUIRE((t.body_a == 80 || t.body_b == 81));
    }
    narrow += t.narrow;
    if (t.close_frame >= 0) {
      ++scripted;
      REQUIRE(t.close_frame >= 1);
      REQUIRE((t.reopen_frame < 0 || t.reopen_frame > t.close_frame));
      REQUIRE(l.RadiusAt(t, t.close_frame - 1) == t.radius_um);
      REQUIRE(l.RadiusAt(t, t.close_frame) == 0.0);
      if (t.reopen_frame > 0) REQUIRE(l.RadiusAt(t, t.reopen_frame) == t.radius_um);
    }
  }
  REQUIRE(faces == 32);
  REQUIRE(narrow > 30);    // about 0.3 of 184
  REQUIRE(scripted > 20);  // about 0.2 of 184
  // Default schedule: 0.4 x the wide entry pressure (2 * 0.072 / 2 um = 72 kPa), raised at frames 5
  // and 6 to the geometric mean of the wide and narrow (144 kPa) entry pressures.
  for (int k = 0; k < o.frames; ++k)
    REQUIRE(l.PressurePa(k) == Approx(k == 5 || k == 6 ? std::sqrt(72e3 * 144e3) : 0.4 * 72e3));
  // Rendered truth: body centres and open throat centres are pore, shut throats solid.
  for (int k : {0, 4, 9}) {
    const SynthFrame f = l.Render(k, ThreadBudget{1});
    REQUIRE(f.time_row.back().first == "p_app_Pa");
    REQUIRE(VoxelAt(f.phases, l.BodyCentre(0, k)) == 0);
    REQUIRE(VoxelAt(f.phases, l.BodyCentre(79, k)) == 0);
    const std::vector<double>& radius = f.throats.Find("radius_um")->values;
    for (const LatticeThroat& t : l.throats()) {
      REQUIRE(radius[std::size_t(t.id - 1)] == l.RadiusAt(t, k));
      REQUIRE(VoxelAt(f.phases, l.ThroatCentre(t, k)) == (l.RadiusAt(t, k) > 0 ? 0 : 1));
    }
    // The drift moves the lattice: body 0 at frame k is drift(k) from frame 0's.
    for (int a = 0; a < 3; ++a) REQUIRE(l.BodyCentre(0, k)[a] - l.BodyCentre(0, 0)[a] == Approx(o.drift_um_per_frame[a] * k));
    if (k == 4) REQUIRE(std::get<Volume<std::uint16_t>>(f.grey).values() ==
                        std::get<Volume<std::uint16_t>>(l.Render(k, ThreadBudget{0}).grey).values());
  }
}

TEST_CASE("the pore network of a lattice frame is the lattice: bodies, throats and boundary throats", "[synth][throats][network]") {
  ThroatLatticeOptions o;
  o.bodies = {3, 3, 2};
  o.frames = 1;
  const SynthThroatLattice l(o);
  const SynthFrame f = l.Render(0);
  Volume<std::uint8_t> pore(f.phases.geometry());
  for (std::int64_t i = 0; i < pore.size(); ++i) pore[i] = f.phases[i] == 0;
  NetworkOptions no;
  no.progress = ProgressStyle::kOff;
  const PoreNetwork net = ExtractPoreNetwork(pore, no);
  // 18 bodies and 2 * 6 face ends; throats z 2*3*2, y 3*2*2, x 3*3*1, faces 2*6.
  REQUIRE(net.nodes.size() == 18 + 12);
  REQUIRE(net.throats.size() == 12 + 12 + 9 + 12);
  int zmin = 0, zmax = 0;
  for (const PoreNode& n : net.nodes) {
    zmin += (n.faces & 1) ? 1 : 0;
    zmax += (n.faces & 2) ? 1 : 0;
  }
  REQUIRE(zmin == 6);
  REQUIRE(zmax == 6);
  // Every throat's bottleneck lies on a truth throat's axis, its radius near the truth's, and every
  // truth throat has its network throat.
  auto segment_distance = [](const Vec3& p, const std::pair<Vec3, Vec3>& ab) {
    const Vec3 &a = ab.first, &b = ab.second;
    double ab2 = 0, t = 0;
    for (int i = 0; i < 3; ++i) ab2 += (b[i] - a[i]) * (b[i] - a[i]), t += (p[i] - a[i]) * (b[i] - a[i]);
    t = std::clamp(t / ab2, 0.0, 1.0);
    return std::hypot(p[0] - a[0] - t * (b[0] - a[0]), p[1] - a[1] - t * (b[1] - a[1]), p[2] - a[2] - t * (b[2] - a[2]));
  };
  std::vector<int> found(l.throats().size(), 0);
  for (const PoreThroat& t : net.throats) {
    double best = INFINITY;
    std::size_t match = 0;
    for (std::size_t i = 0; i < l.throats().size(); ++i) {
      const double d = segment_distance(t.bottleneck_um, l.ThroatEnds(l.throats()[i], 0));
      if (d < best) best = d, match = i;
    }
    INFO("bottleneck " << t.bottleneck_um[0] << " " << t.bottleneck_um[1] << " " << t.bottleneck_um[2]);
    REQUIRE(best < 0.5);
    REQUIRE(t.min_radius_um == Approx(l.throats()[match].radius_um).margin(0.5));
    ++found[match];
  }
  for (int f : found) REQUIRE(f == 1);
}

TEST_CASE("bad lattice options are refused with the reason", "[synth][errors]") {
  auto why = [](auto edit) {
    ThroatLatticeOptions o;
    edit(o);
    std::string w;
    REQUIRE_FALSE(o.IsValid(&w));
    REQUIRE_THROWS_AS(SynthThroatLattice(o), ConfigError);
    return w;
  };
  REQUIRE(why([](auto& o) { o.body_radius_um = 4.5; }).find("body radius") != std::string::npos);
  REQUIRE(why([](auto& o) { o.narrow_radius_um = 2.5; }).find("throat radii") != std::string::npos);
  REQUIRE(why([](auto& o) { o.p_app_Pa = {1, 2}; }).find("one per frame") != std::string::npos);
  REQUIRE(why([](auto& o) { o.design_theta_deg = 90; }).find("contact angle") != std::string::npos);
  REQUIRE(why([](auto& o) { o.frame_times_s = {0, 1, 1, 2, 3, 4, 5, 6, 7, 8}; }).find("increasing") != std::string::npos);
}
