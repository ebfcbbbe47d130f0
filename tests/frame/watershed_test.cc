#include "op4d/frame/segment/watershed.h"

#include <map>

#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

namespace {
struct Match {
  int truth = 0, matched = 0, predicted = 0;  // particles of >= 30 voxels; matched one-to-one, IoU >= 0.5
};
Match Compare(const Volume<std::uint16_t>& truth, const LabelVolume& pred) {
  std::map<int, std::int64_t> ts, ps;
  std::map<std::pair<int, int>, std::int64_t> inter;
  for (std::int64_t i = 0; i < truth.size(); ++i) {
    const int a = truth[i], b = pred[i];
    if (a) ++ts[a];
    if (b) ++ps[b];
    if (a && b) ++inter[{a, b}];
  }
  std::map<int, std::pair<int, std::int64_t>> best_t, best_p;
  for (const auto& [k, n] : inter) {
    if (n > best_t[k.first].second) best_t[k.first] = {k.second, n};
    if (n > best_p[k.second].second) best_p[k.second] = {k.first, n};
  }
  Match m;
  for (const auto& [b, n] : ps) m.predicted += n >= 30;
  for (const auto& [a, n] : ts) {
    if (n < 30) continue;  // slivers cut by the field of view
    ++m.truth;
    const auto [b, ov] = best_t[a];
    if (b && double(ov) / double(n + ps[b] - ov) >= 0.5 && best_p[b].first == a) ++m.matched;
  }
  return m;
}
}  // namespace

TEST_CASE("two touching spheres are two particles, one sphere is one", "[frame][segment][watershed]") {
  Geometry g;
  g.shape = {24, 24, 40};
  Volume<std::uint8_t> m(g, 0);
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 24; ++y)
      for (std::int64_t x = 0; x < 40; ++x) {
        const double a = (z - 12.) * (z - 12.) + (y - 12.) * (y - 12.) + (x - 12.) * (x - 12.);
        const double b = (z - 12.) * (z - 12.) + (y - 12.) * (y - 12.) + (x - 27.) * (x - 27.);
        m(z, y, x) = a <= 64 || b <= 64;  // radius 8, centres 15 apart: overlapping necks
      }
  const WatershedResult r = SeparateParticles(m, {});
  REQUIRE(r.particles == 2);
  REQUIRE(r.labels(12, 12, 12) != r.labels(12, 12, 27));
  REQUIRE(r.labels(12, 12, 12) == 1);  // scan order
  Volume<std::uint8_t> one(g, 0);
  for (std::int64_t i = 0; i < one.size(); ++i) one[i] = m[i] && (i % 40) < 20;
  REQUIRE(SeparateParticles(one, {}).particles == 1);
}

TEST_CASE("watershed separates the synthetic electrode's particles (>= 90 % matched one-to-one)", "[frame][segment][watershed]") {
  // Active phase of synthetic packings against their ground-truth particle ids. Reported: matched
  // share, and predicted vs true counts (over-segmentation would inflate the prediction).
  for (double calendering : {1.0, 0.7}) {
    SynthOptions so;
    so.shape = {40, 56, 56};
    so.frames = 1;
    so.radius_um = 3;
    so.calendering = calendering;
    const SynthFrame f = SynthCampaign(so).Render(0);
    Volume<std::uint8_t> active(f.phases.geometry());
    for (std::int64_t i = 0; i < active.size(); ++i) active[i] = f.phases[i] == 1;
    WatershedOptions o;
    if (calendering < 1) o.h_um = 0.1;  // flattened particles: shallower distance maxima
    const WatershedResult r = SeparateParticles(active, o);
    const Match m = Compare(f.particle_labels, r.labels);
    INFO("calendering " << calendering << ", h " << o.h_um << " um: " << m.matched << " of " << m.truth
                        << " matched, " << m.predicted << " predicted");
    WARN("watershed, calendering " << calendering << ": " << m.matched << "/" << m.truth << " matched, " << m.predicted
                                   << " predicted");
    REQUIRE(double(m.matched) >= 0.9 * m.truth);
    REQUIRE(std::abs(m.predicted - m.truth) <= 0.15 * m.truth);
    o.threads.threads = 1;
    REQUIRE(SeparateParticles(active, o).labels.values() == r.labels.values());
  }
}
