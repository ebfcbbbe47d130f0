// The block-wise nlm+gmm chain (issue 30) against the whole-volume chain: identical labels for any
// slab size, on a rendered synthetic electrode frame with anisotropic spacing.
#include "op4d/frame/segment/segment_streamed.h"

#include <cstring>
#include <random>

#include "op4d/frame/segment/morphology.h"

#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

namespace {
struct Chain {
  PhaseVolume labels;
  GmmModel model;
  double sigma = 0;
  std::int64_t partial = 0, refined = 0;
};

Chain WholeChain(const AnyVolume& grey, const std::vector<std::uint8_t>& classes, const ForwardModelOptions& fo) {
  Chain c;
  NlmOptions no;
  no.threads = ThreadBudget{2};
  NlmReport nr;
  const AnyVolume den = NonLocalMeans(grey, no, &nr);
  c.sigma = nr.sigma;
  GmmOptions go;
  go.components = int(classes.size());
  go.tied_sigma = true;
  c.model = FitGaussianMixture(den, go);
  c.labels = ClassifyGaussianMixture(den, c.model, classes, false).labels;
  c.partial = ResolvePartialVolume(c.labels, den, c.model, classes, 1);
  if (fo.max_sweeps > 0) c.refined = RefineByForwardModel(c.labels, den, fo);
  return c;
}
}  // namespace

TEST_CASE("the block-wise nlm+gmm chain gives the whole-volume chain's labels for any slab size", "[frame][segment][blockwise]") {
  SynthOptions so;
  so.shape = {45, 40, 42};
  so.spacing_um = {0.3, 0.25, 0.25};
  so.frames = 1;
  const SynthFrame f = SynthCampaign(so).Render(0);
  const std::vector<std::uint8_t> classes{0, 2, 1};
  const Geometry g = GeometryOf(f.grey);
  const RegionReader read = [&](const Box& box) {
    return std::visit([&](const auto& v) -> AnyVolume { return v.Crop(box); }, f.grey);
  };
  for (int sweeps : {10, 0}) {
    ForwardModelOptions fo;
    fo.max_sweeps = sweeps;
    const Chain whole = WholeChain(f.grey, classes, fo);
    REQUIRE(whole.partial > 0);
    if (sweeps > 0) REQUIRE(whole.refined > 0);
    for (std::int64_t slab : {1, 7, 16, 45, 64}) {
      StreamedSegmentationOptions o;
      o.class_labels = classes;
      o.refine = fo;
      o.slab_z = slab;
      o.nlm.slab_z = slab == 1 ? 3 : slab;
      o.threads = ThreadBudget{2};
      o.progress = ProgressStyle::kOff;
      PhaseVolume labels(g, 255);
      const StreamedSegmentationReport r = SegmentNlmGmmStreamed(g, read, WriteInto(labels), o);
      INFO("refinement sweeps " << sweeps << ", slab " << slab);
      REQUIRE(r.nlm.sigma == whole.sigma);
      REQUIRE(r.model.means == whole.model.means);
      REQUIRE(r.model.sigmas == whole.model.sigmas);
      REQUIRE(r.partial_volume == whole.partial);
      REQUIRE(r.refined == whole.refined);
      REQUIRE(std::memcmp(labels.data(), whole.labels.data(), std::size_t(labels.size())) == 0);
    }
  }
}

TEST_CASE("the block-wise segmentation names what is wrong with its input", "[frame][segment][blockwise]") {
  Geometry g;
  g.shape = {8, 8, 8};
  const Volume<std::uint16_t> flat(g, 1000);
  const RegionReader read = [&](const Box& box) -> AnyVolume { return flat.Crop(box); };
  PhaseVolume out(g);
  StreamedSegmentationOptions o;
  o.class_labels = {0, 1};
  o.progress = ProgressStyle::kOff;
  REQUIRE_THROWS_WITH(SegmentNlmGmmStreamed(g, read, WriteInto(out), o), Catch::Contains("noise sigma is 0"));
  o.nlm.sigma = 5;
  REQUIRE_THROWS_WITH(SegmentNlmGmmStreamed(g, read, WriteInto(out), o), Catch::Contains("constant"));
  o.class_labels = {0};
  REQUIRE_THROWS_WITH(SegmentNlmGmmStreamed(g, read, WriteInto(out), o), Catch::Contains("at least 2"));
  o.class_labels = {0, 1};
  o.scratch_dir = "/nonexistent/dir";
  REQUIRE_THROWS_WITH(SegmentNlmGmmStreamed(g, read, WriteInto(out), o), Catch::Contains("/nonexistent/dir"));
}

TEST_CASE("block-wise island removal equals RemovePhaseIslands for any slab size", "[frame][segment][blockwise]") {
  Geometry g;
  g.shape = {23, 19, 21};
  g.spacing_um = {0.7, 0.45, 0.325};
  PhaseVolume p(g);
  std::mt19937 rng(4);
  for (auto& v : p.values()) {
    const std::uint32_t r = rng() % 100;
    v = r < 45 ? 0 : r < 85 ? 1 : 2;
  }
  for (std::int64_t min_voxels : {27, 4, 1}) {
    PhaseVolume whole = p;
    const std::int64_t moved = RemovePhaseIslands(whole, 0, DualConnectivity{}, min_voxels);
    if (min_voxels > 1) REQUIRE(moved > 0);
    for (std::int64_t slab : {1, 5, 23, 40}) {
      PhaseVolume out(g, 255);
      const std::int64_t m = RemovePhaseIslandsStreamed(g, SlabsOf(p), WriteInto(out), 0, DualConnectivity{}, min_voxels, slab);
      INFO("min_voxels " << min_voxels << ", slab " << slab);
      REQUIRE(m == moved);
      REQUIRE(std::memcmp(out.data(), whole.data(), std::size_t(out.size())) == 0);
    }
  }
}
