#include "op4d/frame/segment/forward_model.h"

#include <cmath>

#include "op4d/core/filter.h"
#include "op4d/frame/segment/denoise.h"
#include "op4d/frame/segment/gmm.h"
#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

TEST_CASE("the forward model moves a misplaced boundary back where the blurred image puts it", "[frame][segment]") {
  // A ball of radius 6 voxels (grey 3000) in a background of 1000, blurred by the PSF; the labels
  // start as the ball grown by one voxel, or shrunk by one.
  Geometry g;
  g.shape = {24, 24, 24};
  PhaseVolume truth(g, 0);
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 24; ++y)
      for (std::int64_t x = 0; x < 24; ++x) truth(z, y, x) = std::hypot(z - 11.5, y - 12.0, x - 11.8) <= 6.0;
  Volume<float> grey(g);
  for (std::int64_t i = 0; i < grey.size(); ++i) grey[i] = truth[i] ? 3000.0f : 1000.0f;
  GaussianSmooth(grey.values().data(), g.shape, {0.6, 0.6, 0.6});
  for (double r : {7.0, 5.0}) {
    PhaseVolume labels(g, 0);
    for (std::int64_t z = 0; z < 24; ++z)
      for (std::int64_t y = 0; y < 24; ++y)
        for (std::int64_t x = 0; x < 24; ++x) labels(z, y, x) = std::hypot(z - 11.5, y - 12.0, x - 11.8) <= r;
    ForwardModelOptions o;
    o.smoothness = 0;
    ForwardModelReport rep;
    const std::int64_t changed = RefineByForwardModel(labels, AnyVolume{grey}, o, &rep);
    INFO("start radius " << r << ": " << changed << " changed in " << rep.changes.size() << " sweeps");
    REQUIRE(changed > 100);
    REQUIRE(rep.changes.back() == 0);
    REQUIRE(labels.values() == truth.values());
    REQUIRE(rep.labels == std::vector<std::uint8_t>{0, 1});
  }
}

TEST_CASE("on a synthetic electrode frame the forward model lowers the porosity error and raises every Dice",
          "[frame][segment]") {
  SynthOptions so;
  so.shape = {64, 64, 64};
  so.spacing_um = {0.25, 0.25, 0.25};
  so.frames = 1;
  const SynthFrame f = SynthCampaign(so).Render(0);
  NlmOptions no;
  const AnyVolume den = NonLocalMeans(f.grey, no);
  GmmOptions go;
  go.components = 3;
  go.tied_sigma = true;
  const GmmModel m = FitGaussianMixture(den, go);
  PhaseVolume labels = ClassifyGaussianMixture(den, m, {0, 2, 1}, false).labels;
  ResolvePartialVolume(labels, den, m, {0, 2, 1}, 1);
  auto score = [&](const PhaseVolume& l, double dice[3]) {
    std::int64_t inter[3] = {}, a[3] = {}, b[3] = {};
    for (std::int64_t i = 0; i < l.size(); ++i) {
      ++a[f.phases[i]];
      ++b[l[i]];
      inter[f.phases[i]] += f.phases[i] == l[i];
    }
    for (int p = 0; p < 3; ++p) dice[p] = 2.0 * double(inter[p]) / double(a[p] + b[p]);
    return double(b[0] - a[0]) / double(l.size());
  };
  double before[3], after[3];
  const double porosity_before = score(labels, before);
  const std::int64_t changed = RefineByForwardModel(labels, den);
  const double porosity_after = score(labels, after);
  INFO("porosity error " << porosity_before << " -> " << porosity_after << "; Dice pore " << before[0] << " -> " << after[0]
                         << ", active " << before[1] << " -> " << after[1] << ", binder " << before[2] << " -> " << after[2]);
  REQUIRE(changed > 0);
  REQUIRE(std::abs(porosity_after) < 0.5 * std::abs(porosity_before));
  REQUIRE(std::abs(porosity_after) <= 0.005);
  for (int p = 0; p < 3; ++p) REQUIRE(after[p] > before[p]);
}
