#include "op4d/frame/segment/denoise.h"

#include <cmath>
#include <random>

#include "op4d/frame/segment/gmm.h"
#include "op4d/frame/segment/morphology.h"
#include "op4d/io/import.h"
#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

namespace {

// Two half-spaces (x < nx/2: lo, else hi) plus white Gaussian noise of sigma.
Volume<float> NoisyStep(Index3 shape, double lo, double hi, double sigma, std::uint32_t seed) {
  Geometry g;
  g.shape = shape;
  Volume<float> v(g);
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0, sigma);
  for (std::int64_t z = 0; z < shape[0]; ++z)
    for (std::int64_t y = 0; y < shape[1]; ++y)
      for (std::int64_t x = 0; x < shape[2]; ++x) v(z, y, x) = float((x < shape[2] / 2 ? lo : hi) + n(rng));
  return v;
}

struct Dice {
  double phase[3] = {0, 0, 0};
  double porosity_error = 0;
};

Dice Score(const PhaseVolume& truth, const PhaseVolume& seg) {
  std::int64_t inter[3] = {0, 0, 0}, a[3] = {0, 0, 0}, b[3] = {0, 0, 0};
  for (std::int64_t i = 0; i < truth.size(); ++i) {
    ++a[truth[i]];
    ++b[seg[i]];
    if (truth[i] == seg[i]) ++inter[truth[i]];
  }
  Dice d;
  for (int p = 0; p < 3; ++p) d.phase[p] = 2.0 * double(inter[p]) / double(a[p] + b[p]);
  d.porosity_error = double(b[0] - a[0]) / double(truth.size());
  return d;
}

// Denoised (or not) frame -> tied-sigma mixture -> MAP labels -> partial-volume correction -> islands.
PhaseVolume Segment(const AnyVolume& grey, ThreadBudget threads = {}) {
  GmmOptions go;
  go.components = 3;
  go.tied_sigma = true;
  go.threads = threads;
  const GmmModel m = FitGaussianMixture(grey, go);
  const std::vector<std::uint8_t> labels{0, 2, 1};  // by increasing grey: pore, binder, active
  ProbabilisticSegmentation s = ClassifyGaussianMixture(grey, m, labels, false, threads);
  ResolvePartialVolume(s.labels, grey, m, labels, 1, threads);
  RemovePhaseIslands(s.labels, 0, DualConnectivity{}, 27);
  return std::move(s.labels);
}

}  // namespace

TEST_CASE("the noise estimate recovers the sigma of white noise on a piecewise-constant volume", "[frame][segment][nlm]") {
  const Volume<float> flat = NoisyStep({40, 40, 60}, 1000, 1000, 100, 1);
  test::RequireClose(EstimateNoiseSigma(flat), 100, 0.02);
  test::RequireClose(EstimateNoiseSigma(flat, 3), 100, 0.03);
  // A strong edge (40 sigma) makes 2 of 58 planes outliers; the median absolute deviation keeps the
  // estimate within 7 %.
  const Volume<float> v = NoisyStep({40, 40, 60}, 1000, 5000, 100, 1);
  test::RequireClose(EstimateNoiseSigma(v), 100, 0.07);
  Geometry g;
  g.shape = {2, 10, 10};
  REQUIRE_THROWS_AS(EstimateNoiseSigma(Volume<float>(g)), InvalidArgument);
}

TEST_CASE("radii in micrometres become per-axis voxel radii on an anisotropic grid", "[frame][segment][nlm]") {
  NlmOptions o;
  NlmRadii r = ResolveNlmRadii(o, {2.0, 1.0, 1.0});
  REQUIRE(r.patch == Index3{1, 1, 1});   // 0.5 voxel along z rounds to 1
  REQUIRE(r.search == Index3{2, 3, 3});  // 3 µm: 1.5 voxels along z round to 2
  o.patch_radius_um = 2;
  o.search_radius_um = 4;
  r = ResolveNlmRadii(o, {2.0, 1.0, 1.0});
  REQUIRE(r.patch == Index3{1, 2, 2});
  REQUIRE(r.search == Index3{2, 4, 4});
}

TEST_CASE("non-local means removes noise, keeps the mean and keeps a step edge sharp", "[frame][segment][nlm]") {
  const double sigma = 200;
  const Volume<float> v = NoisyStep({24, 32, 48}, 1000, 3000, sigma, 2);
  NlmReport rep;
  const Volume<float> d = std::get<Volume<float>>(NonLocalMeans(v, NlmOptions{}, &rep));
  REQUIRE(rep.sigma_estimated);
  test::RequireClose(rep.sigma, sigma, 0.05);
  // Residual noise on each side, away from the edge, and the mean level.
  double s1 = 0, s2 = 0, m = 0;
  std::int64_t cnt = 0;
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 32; ++y)
      for (std::int64_t x = 4; x < 20; ++x) {
        s1 += d(z, y, x);
        s2 += double(d(z, y, x)) * d(z, y, x);
        ++cnt;
      }
  m = s1 / double(cnt);
  const double resid = std::sqrt(s2 / double(cnt) - m * m);
  CAPTURE(m, resid);
  REQUIRE(std::abs(m - 1000) < 10);
  REQUIRE(resid < sigma / 4);
  // Edge: the 2000 contour stays between voxels 23 and 24 and the voxels next to it keep their side.
  // A Gaussian filter of about the same noise reduction smears it.
  const Volume<float> gs = std::get<Volume<float>>(GaussianFilter(v, 1.5));
  double nlm_err = 0, gauss_err = 0;
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 32; ++y) {
      nlm_err += std::abs(d(z, y, 23) - 1000) + std::abs(d(z, y, 24) - 3000);
      gauss_err += std::abs(gs(z, y, 23) - 1000) + std::abs(gs(z, y, 24) - 3000);
    }
  nlm_err /= 2 * 24 * 32;
  gauss_err /= 2 * 24 * 32;
  CAPTURE(nlm_err, gauss_err);
  REQUIRE(nlm_err < 100);      // within half a noise sigma of the true level at the edge
  REQUIRE(gauss_err > 400);    // the Gaussian filter mixes the two sides
}

TEST_CASE("non-local means leaves a voxel alone when no patch in its window resembles its own", "[frame][segment][nlm]") {
  // Low noise (sigma 10) around one bright voxel (+2000 = 200 sigma): every candidate patch of the
  // bright voxel and of its neighbours differs from theirs by far more than h, so their weights are
  // below the smallest float. Such a voxel must keep its value; when each far-off weight was rounded
  // up to 2^-126 instead of 0, the voxel itself got that weight too and took the plain mean of its
  // 7^3 window (about 1006).
  Volume<float> v = NoisyStep({16, 16, 16}, 1000, 1000, 10, 3);
  const float bright = v(8, 8, 8) + 2000;
  v(8, 8, 8) = bright;
  NlmReport rep;
  const Volume<float> d = std::get<Volume<float>>(NonLocalMeans(v, NlmOptions{}, &rep));
  CAPTURE(rep.sigma, rep.h, d(8, 8, 8), d(8, 8, 9), v(8, 8, 9));
  test::RequireClose(rep.sigma, 10, 0.15);
  REQUIRE(std::abs(d(8, 8, 8) - bright) < 1);
  // Its face neighbours have patches that hold the bright voxel at a position no candidate has.
  REQUIRE(std::abs(d(8, 8, 9) - v(8, 8, 9)) < 1);
  REQUIRE(std::abs(d(9, 8, 8) - v(9, 8, 8)) < 1);
  // Away from it the noise is still removed: 4 voxels off, the patch of the flat background matches.
  double s2 = 0;
  for (std::int64_t x = 1; x < 4; ++x) s2 += (d(4, 4, x) - 1000.0) * (d(4, 4, x) - 1000.0);
  REQUIRE(std::sqrt(s2 / 3) < 5);
}

TEST_CASE("non-local means gives the same voxels for any thread count, slab size and streaming", "[frame][segment][nlm]") {
  const Volume<float> f = NoisyStep({21, 37, 70}, 100, 900, 60, 3);
  Volume<std::uint16_t> v(f.geometry());
  for (std::int64_t i = 0; i < v.size(); ++i) v[i] = std::uint16_t(std::lround(f[i]));
  NlmOptions o;
  o.sigma = 60;
  o.threads = {1};
  o.slab_z = 32;
  const auto one = std::get<Volume<std::uint16_t>>(NonLocalMeans(v, o));
  o.threads = {2};
  o.slab_z = 5;
  const auto two = std::get<Volume<std::uint16_t>>(NonLocalMeans(v, o));
  REQUIRE(one.values() == two.values());
  // Streamed: slabs read by region, written as float.
  Volume<float> streamed(v.geometry());
  std::int64_t next = 0;
  const NlmReport rep = NonLocalMeansStreamed(
      v.geometry(), [&](const Box& b) -> AnyVolume { return v.Crop(b); },
      [&](std::int64_t z0, const Volume<float>& slab) {
        REQUIRE(z0 == next);
        std::copy(slab.values().begin(), slab.values().end(), streamed.data() + z0 * v.ny() * v.nx());
        next = z0 + slab.nz();
      },
      o);
  REQUIRE(next == v.nz());
  REQUIRE(rep.h == Approx(0.45 * 60));
  for (std::int64_t i = 0; i < v.size(); ++i) REQUIRE(std::uint16_t(std::lround(streamed[i])) == one[i]);
  o.sigma = 0;
  REQUIRE_THROWS_AS(NonLocalMeansStreamed(v.geometry(), nullptr, nullptr, o), ConfigError);
  o.h_factor = -1;
  REQUIRE_THROWS_WITH(NonLocalMeans(v, o), Catch::Contains("h_factor"));
}

TEST_CASE("the Gaussian filter has unit gain and the requested width", "[frame][segment][nlm]") {
  Geometry g;
  g.shape = {21, 21, 41};
  g.spacing_um = {1, 1, 0.5};
  Volume<float> v(g, 0.0f);
  v(10, 10, 20) = 1000;
  const auto f = std::get<Volume<float>>(GaussianFilter(v, 1.5));  // 1.5 µm: 3 voxels along x
  double sum = 0, mx2 = 0;
  for (std::int64_t i = 0; i < f.size(); ++i) sum += f[i];
  for (std::int64_t z = 0; z < 21; ++z)
    for (std::int64_t y = 0; y < 21; ++y)
      for (std::int64_t x = 0; x < 41; ++x) mx2 += f(z, y, x) * double(x - 20) * double(x - 20);
  test::RequireClose(sum, 1000, 1e-5);
  test::RequireClose(std::sqrt(mx2 / sum), 3.0, 0.01);
  REQUIRE_THROWS_AS(GaussianFilter(v, 0), InvalidArgument);
}

TEST_CASE("partial-volume voxels between pore and active material go back to them, binder layers stay", "[frame][segment][gmm]") {
  Geometry g;
  g.shape = {3, 3, 9};
  PhaseVolume lab(g, 0);
  Volume<float> grey(g, 10.0f);
  GmmModel m;
  m.means = {10, 20, 30};  // pore, binder, active
  m.sigmas = {1, 1, 1};
  m.weights = {0.4, 0.2, 0.4};
  const std::vector<std::uint8_t> cls{0, 2, 1};
  // Along x: pore pore | 'binder' 17 | active active | binder binder binder | active
  const std::uint8_t row[9] = {0, 0, 2, 1, 1, 2, 2, 2, 1};
  const float val[9] = {10, 10, 17, 30, 30, 20, 20, 20, 30};
  for (std::int64_t z = 0; z < 3; ++z)
    for (std::int64_t y = 0; y < 3; ++y)
      for (std::int64_t x = 0; x < 9; ++x) {
        lab(z, y, x) = row[x];
        grey(z, y, x) = val[x];
      }
  PhaseVolume one = lab;
  REQUIRE(ResolvePartialVolume(one, grey, m, cls, 1) == 9);
  for (std::int64_t z = 0; z < 3; ++z)
    for (std::int64_t y = 0; y < 3; ++y) {
      REQUIRE(one(z, y, 2) == 0);  // 17 is nearer the pore mean than the active one
      for (std::int64_t x = 5; x < 8; ++x) REQUIRE(one(z, y, x) == 2);  // binder between active and active
    }
  grey(1, 1, 2) = 23;
  PhaseVolume two = lab;
  ResolvePartialVolume(two, grey, m, cls, 1);
  REQUIRE(two(1, 1, 2) == 1);
  REQUIRE_THROWS_AS(ResolvePartialVolume(two, grey, m, cls, 0), InvalidArgument);
}

TEST_CASE("small islands of any phase go to the phase around them", "[frame][segment][morphology]") {
  Geometry g;
  g.shape = {8, 8, 8};
  PhaseVolume p(g, 1);                 // active everywhere
  for (std::int64_t z = 0; z < 8; ++z)  // a pore slab (large)
    for (std::int64_t y = 0; y < 8; ++y)
      for (std::int64_t x = 0; x < 3; ++x) p(z, y, x) = 0;
  p(4, 4, 6) = 0;  // two pore voxels touching at a corner: one 26-connected island of 2
  p(5, 5, 7) = 0;
  p(2, 2, 1) = 2;  // one binder voxel inside the pore slab
  p(1, 6, 5) = 2;  // a binder island of 2 in the active material
  p(1, 6, 6) = 2;
  PhaseVolume q = p;
  REQUIRE(RemovePhaseIslands(q, 0, DualConnectivity{}, 3) == 5);
  REQUIRE(q(4, 4, 6) == 1);
  REQUIRE(q(5, 5, 7) == 1);
  REQUIRE(q(2, 2, 1) == 0);
  REQUIRE(q(1, 6, 5) == 1);
  REQUIRE(q(0, 0, 0) == 0);
  // With a minimum of 2 voxels the corner-connected pore pair is one component and stays.
  PhaseVolume r = p;
  REQUIRE(RemovePhaseIslands(r, 0, DualConnectivity{}, 2) == 1);
  REQUIRE(r(4, 4, 6) == 0);
  REQUIRE(r(2, 2, 1) == 0);
}

TEST_CASE("NLM + tied Gaussian mixture segment a noisy synthetic electrode against its truth", "[frame][segment][nlm][synth]") {
  // 0.25 µm voxels: 3 µm particles are 12 voxels in radius, the resolution of electrode tomography.
  SynthOptions so;
  so.shape = {80, 80, 80};
  so.spacing_um = {0.25, 0.25, 0.25};
  so.frames = 1;
  for (double snr : {10.0, 5.0}) {
    so.snr = snr;
    const SynthFrame f = SynthCampaign(so).Render(0);
    const PhaseVolume seg = Segment(NonLocalMeans(f.grey, NlmOptions{}));
    NlmOptions one_thread;
    one_thread.threads = {1};
    REQUIRE(Segment(NonLocalMeans(f.grey, one_thread), {1}).values() == seg.values());  // whole chain, 1 vs N threads
    const Dice nlm = Score(f.phases, seg);
    const Dice gauss = Score(f.phases, Segment(GaussianFilter(f.grey, 0.25)));
    CAPTURE(snr, nlm.phase[0], nlm.phase[1], nlm.phase[2], nlm.porosity_error, gauss.phase[0], gauss.phase[1],
            gauss.phase[2]);
    const double target = snr >= 10 ? 0.97 : 0.93;
    REQUIRE(nlm.phase[0] >= target);  // pore
    REQUIRE(nlm.phase[1] >= target);  // active material
    REQUIRE(nlm.phase[2] >= (snr >= 10 ? 0.84 : 0.78));  // binder: thin wedges, see bench/RESULTS.md
    REQUIRE(std::abs(nlm.porosity_error) <= 0.015);
    for (int p = 0; p < 3; ++p) REQUIRE(nlm.phase[p] > gauss.phase[p]);
  }
}

TEST_CASE("the real foam frames segment into liquid and gas after NLM", "[frame][segment][nlm][data]") {
  const std::string dir = test::SharedData("foam4d");
  if (dir.empty()) {
    WARN("../shared/data is absent: skipping the foam segmentation");
    return;
  }
  std::vector<double> fractions;
  for (const char* name : {"Raw_001.tiff", "Raw_010.tiff"}) {
    const AnyVolume grey = ReadTiffStack(dir + "/" + name);
    NlmReport rep;
    const AnyVolume d = NonLocalMeans(grey, NlmOptions{}, &rep);
    GmmOptions go;
    go.components = 2;
    go.tied_sigma = true;
    const GmmModel m = FitGaussianMixture(d, go);
    const PhaseVolume lab = ClassifyGaussianMixture(d, m, {0, 1}, false).labels;
    std::int64_t bright = 0;
    for (std::int64_t i = 0; i < lab.size(); ++i) bright += lab[i];
    const double frac = double(bright) / double(lab.size());
    CAPTURE(name, rep.sigma, m.means[0], m.means[1], m.sigmas[0], frac);
    WARN(name << ": noise sigma " << rep.sigma << ", class means " << m.means[0] << " / " << m.means[1]
              << ", tied sigma " << m.sigmas[0] << ", bright (liquid) fraction " << frac);
    REQUIRE(m.converged);
    REQUIRE(m.means[1] - m.means[0] > 5 * m.sigmas[0]);  // two well separated classes after NLM
    REQUIRE(frac > 0.05);
    REQUIRE(frac < 0.95);
    fractions.push_back(frac);
  }
  REQUIRE(std::abs(fractions[0] - fractions[1]) < 0.01);  // the liquid is conserved while the foam flows
}
