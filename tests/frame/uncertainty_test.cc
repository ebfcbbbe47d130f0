#include <cmath>
#include <limits>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"
#include "op4d/core/random.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/frame/segment/denoise.h"
#include "op4d/frame/segment/gmm.h"
#include "op4d/frame/segment/morphology.h"
#include "op4d/frame/uncertainty/ensemble.h"
#include "op4d/frame/uncertainty/label_sampler.h"
#include "op4d/synth/campaign.h"
#include "test_util.h"

using namespace op4d;

namespace {

// A ball (label 1, grey 3000) in 1000, blurred by the PSF, with Gaussian noise of sigma 150.
struct BallFrame {
  PhaseVolume labels;
  Volume<float> grey;
};
BallFrame Ball(std::int64_t edge = 20, double radius = 5.0) {
  Geometry g;
  g.shape = {edge, edge, edge};
  BallFrame f{PhaseVolume(g, 0), Volume<float>(g)};
  const double c = 0.5 * double(edge) - 0.3;
  for (std::int64_t z = 0; z < edge; ++z)
    for (std::int64_t y = 0; y < edge; ++y)
      for (std::int64_t x = 0; x < edge; ++x) f.labels(z, y, x) = std::hypot(z - c, y - c - 0.2, x - c + 0.1) <= radius;
  for (std::int64_t i = 0; i < f.grey.size(); ++i) f.grey[i] = f.labels[i] ? 3000.0f : 1000.0f;
  GaussianSmooth(f.grey.values().data(), g.shape, {0.6, 0.6, 0.6});
  for (std::int64_t i = 0; i < f.grey.size(); ++i) f.grey[i] += float(150.0 * HashNormal(7, 0, std::uint64_t(i)));
  return f;
}

// E(L) = ||grey - PSF * pure(L)||^2 + beta * (unlike 6-neighbour pairs), computed from scratch.
double BruteEnergy(const PhaseVolume& l, const Volume<float>& grey, const ForwardModelTerms& t, const Vec3& psf) {
  const Index3 n = l.shape();
  std::vector<float> m(std::size_t(l.size()));
  for (std::int64_t i = 0; i < l.size(); ++i) m[std::size_t(i)] = float(t.pure[l[i]]);
  GaussianSmooth(m.data(), n, psf);
  double e = 0;
  for (std::int64_t i = 0; i < l.size(); ++i) e += (double(grey[i]) - m[std::size_t(i)]) * (double(grey[i]) - m[std::size_t(i)]);
  std::int64_t unlike = 0;
  for (std::int64_t z = 0; z < n[0]; ++z)
    for (std::int64_t y = 0; y < n[1]; ++y)
      for (std::int64_t x = 0; x < n[2]; ++x) {
        if (z + 1 < n[0]) unlike += l(z, y, x) != l(z + 1, y, x);
        if (y + 1 < n[1]) unlike += l(z, y, x) != l(z, y + 1, x);
        if (x + 1 < n[2]) unlike += l(z, y, x) != l(z, y, x + 1);
      }
  return e + t.beta * double(unlike);
}

// The sd of the ball's voxel count over `samples` samples of a sampler with options `o`.
double BallVoxelSd(const BallFrame& f, const LabelSamplerOptions& o, int samples) {
  LabelSampler s(f.labels, AnyVolume{f.grey}, o);
  std::vector<double> v;
  for (int k = 0; k < samples; ++k) {
    const PhaseVolume& l = s.Next();
    std::int64_t n = 0;
    for (std::int64_t i = 0; i < l.size(); ++i) n += l[i];
    v.push_back(double(n));
  }
  return SummarizeEnsemble(0, v).sd;
}

std::int64_t Components(const PhaseVolume& l, std::uint8_t phase, Connectivity c) {
  ComponentOptions o;
  o.connectivity = c;
  return std::int64_t(LabelPhase(l, phase, o).components.size());
}

}  // namespace

TEST_CASE("the sampler's energy change of a move equals E(L') - E(L) computed from scratch", "[frame][uncertainty]") {
  BallFrame f = Ball();
  LabelSamplerOptions o;
  LabelSampler s(f.labels, AnyVolume{f.grey}, o);
  const ForwardModelTerms& t = s.terms();
  REQUIRE(t.labels == std::vector<std::uint8_t>{0, 1});
  REQUIRE(t.beta > 0);
  // sigma from the residual: the noise (150) plus what the model cannot explain.
  INFO("sigma " << s.noise_sigma());
  REQUIRE(s.noise_sigma() > 140);
  REQUIRE(s.noise_sigma() < 170);
  auto check = [&](const PhaseVolume& labels, const LabelSampler& sampler) {
    const double e0 = BruteEnergy(labels, f.grey, t, o.model.psf_sigma_vox);
    int checked = 0;
    for (std::int64_t z = 4; z < 16; z += 3)
      for (std::int64_t y = 4; y < 16; ++y)
        for (std::int64_t x = 4; x < 16; ++x) {
          const std::int64_t i = (z * 20 + y) * 20 + x;
          if (labels[i] == labels[i + 1] && labels[i] == labels[i - 1] && labels[i] == labels[i + 20]) continue;
          const std::uint8_t q = std::uint8_t(1 - labels[i]);
          PhaseVolume moved = labels;
          moved[i] = q;
          const double brute = BruteEnergy(moved, f.grey, t, o.model.psf_sigma_vox) - e0;
          INFO("voxel " << z << " " << y << " " << x << ": brute " << brute << ", sampler " << sampler.DeltaAt(i, q));
          REQUIRE(std::abs(sampler.DeltaAt(i, q) - brute) <= 1e-3 * std::abs(brute) + 5.0);
          ++checked;
        }
    REQUIRE(checked >= 20);
  };
  check(f.labels, s);
  // After sweeps the work space, updated move by move, still gives the exact energy changes.
  for (int k = 0; k < 5; ++k) s.Sweep();
  REQUIRE(s.changes().size() == 5);
  REQUIRE(s.changes()[0] > 0);
  REQUIRE(s.labels().values() != f.labels.values());
  check(s.labels(), s);
}

TEST_CASE("label samples are identical for one and several threads and differ between seeds", "[frame][uncertainty]") {
  SynthOptions so;
  so.shape = {40, 48, 48};
  so.spacing_um = {0.25, 0.25, 0.25};
  so.frames = 1;
  const SynthFrame f = SynthCampaign(so).Render(0);
  auto run = [&](int threads, std::uint64_t seed) {
    LabelSamplerOptions o;
    o.threads.threads = threads;
    o.seed = seed;
    LabelSampler s(f.phases_majority, f.grey, o);
    s.Next();
    return s.Next().values();
  };
  const auto one = run(1, 3);
  REQUIRE(run(2, 3) == one);
  REQUIRE(run(4, 3) == one);
  REQUIRE(run(2, 4) != one);
}

TEST_CASE("coherent samples keep the pore phase's components where per-voxel draws shatter it", "[frame][uncertainty]") {
  SynthOptions so;
  so.shape = {48, 64, 64};
  so.spacing_um = {0.25, 0.25, 0.25};
  so.frames = 1;
  const SynthFrame f = SynthCampaign(so).Render(0);
  NlmOptions no;
  const AnyVolume den = NonLocalMeans(f.grey, no);
  GmmOptions go;
  go.components = 3;
  go.tied_sigma = true;
  const GmmModel m = FitGaussianMixture(den, go);
  ProbabilisticSegmentation ps = ClassifyGaussianMixture(den, m, {0, 2, 1}, true);
  PhaseVolume point = ps.labels;
  ResolvePartialVolume(point, den, m, {0, 2, 1}, 1);
  RefineByForwardModel(point, den);
  RemovePhaseIslands(point, 0, DualConnectivity{}, 27);
  LabelSamplerOptions o;
  o.seed = 11;
  LabelSampler s(point, den, o);
  // Each sample finished as the point segmentation was (islands under 27 voxels removed).
  std::int64_t worst[3] = {0, 0, 0};
  std::int64_t point_count[3];
  const Connectivity conn[3] = {Connectivity::k26, Connectivity::k6, Connectivity::k6};
  for (std::uint8_t p = 0; p < 3; ++p) point_count[p] = Components(point, p, conn[p]);
  for (int k = 0; k < 4; ++k) {
    PhaseVolume l = s.Next();
    RemovePhaseIslands(l, 0, DualConnectivity{}, 27);
    for (std::uint8_t p = 0; p < 3; ++p) worst[p] = std::max(worst[p], std::abs(Components(l, p, conn[p]) - point_count[p]));
  }
  const std::int64_t c0 = point_count[0];
  // Per-voxel draws from the mixture's posteriors scatter specks: the binder shatters.
  const PhaseVolume indep = IndependentLabelSample(ps.posteriors, {0, 2, 1}, 11);
  const std::int64_t binder_indep = Components(indep, 2, Connectivity::k6);
  INFO("components (pore, active, binder) of the point segmentation " << point_count[0] << ", " << point_count[1] << ", "
       << point_count[2] << "; coherent samples within " << worst[0] << ", " << worst[1] << ", " << worst[2]
       << "; binder components of an independent draw " << binder_indep);
  for (int p = 0; p < 3; ++p) REQUIRE(double(worst[p]) <= std::max(1.0, 0.1 * double(point_count[p])));
  REQUIRE(binder_indep > 5 * point_count[2]);
}

TEST_CASE("the sampler's spread of the phase fraction grows with its temperature", "[frame][uncertainty]") {
  BallFrame f = Ball(24, 6.0);
  auto spread = [&](double t) {
    LabelSamplerOptions o;
    o.temperature = t;
    return BallVoxelSd(f, o, 12);
  };
  const double cold = spread(0.1), warm = spread(1.0), hot = spread(8.0);
  INFO("sd of the ball's voxels at T 0.1, 1, 8: " << cold << " " << warm << " " << hot);
  REQUIRE(warm > cold);
  REQUIRE(hot > 1.5 * warm);
}

TEST_CASE("ensemble statistics are exact and bad ensembles are refused", "[frame][uncertainty]") {
  std::vector<double> v;
  for (int i = 1; i <= 10; ++i) v.push_back(i);
  EnsembleStat s = SummarizeEnsemble(4.0, v);
  REQUIRE(s.point == 4.0);
  REQUIRE(s.samples == 10);
  REQUIRE(s.finite == 10);
  op4d::test::RequireClose(s.mean, 5.5, 1e-12);
  op4d::test::RequireClose(s.sd, std::sqrt(82.5 / 9.0), 1e-12);
  op4d::test::RequireClose(s.p05, 1.45, 1e-12);
  op4d::test::RequireClose(s.p95, 9.55, 1e-12);
  v.back() = std::numeric_limits<double>::infinity();  // a non-percolating sample
  s = SummarizeEnsemble(4.0, v);
  REQUIRE(s.finite == 9);
  op4d::test::RequireClose(s.mean, 5.0, 1e-12);
  REQUIRE(std::isinf(s.p95));
  REQUIRE_THROWS_WITH(SummarizeEnsemble(1, {2.0}), Catch::Contains("at least 2 samples, got 1"));
  REQUIRE_THROWS_WITH(SummarizeEnsemble(1, {2.0, std::nan("")}), Catch::Contains("NaN"));
  LabelSamplerOptions bad;
  bad.temperature = 0;
  BallFrame f = Ball();
  REQUIRE_THROWS_WITH(LabelSampler(f.labels, AnyVolume{f.grey}, bad), Catch::Contains("temperature must be"));
  REQUIRE_THROWS_WITH(IndependentLabelSample({}, {0, 1}, 1), Catch::Contains("multi-Otsu frame has none"));
}

TEST_CASE("a table's ensemble matches rows by their keys and summarises every other column", "[frame][uncertainty]") {
  // The point table: two phases (label 0, 2), a fraction and an area per phase.
  const ResultTable point{"t", {{"label", "1", {0, 2}}, {"fraction", "1", {0.4, 0.2}}, {"area", "um^2", {10, 20}}}};
  std::vector<ResultTable> samples;
  for (int s = 0; s < 4; ++s) {  // rows in the other order, label 2 first; values 0.1 s and 100 + s
    samples.push_back({"t", {{"label", "1", {2, 0}}, {"fraction", "1", {0.2 + 0.01 * s, 0.4 + 0.1 * s}}, {"area", "um^2", {100.0 + s, 11}}}});
  }
  samples[3].columns[1].values[1] = std::nan("");  // an undefined value is left out
  samples.push_back({"t", {{"label", "1", {2}}, {"fraction", "1", {0.25}}, {"area", "um^2", {104}}}});  // no row for label 0
  const ResultTable e = SummarizeTableEnsemble("t_ensemble", point, samples, {"label"});
  REQUIRE(e.name == "t_ensemble");
  REQUIRE(e.rows() == 2);
  REQUIRE(e.Find("label")->values == std::vector<double>{0, 2});
  REQUIRE(e.Find("area_p95")->unit == "um^2");
  REQUIRE(e.Find("fraction")->values == std::vector<double>{0.4, 0.2});
  // Label 0: fractions 0.4, 0.5, 0.6 (sample 3 NaN, sample 4 without the row).
  op4d::test::RequireClose(e.Find("fraction_mean")->values[0], 0.5, 1e-12);
  op4d::test::RequireClose(e.Find("fraction_sd")->values[0], 0.1, 1e-12);
  op4d::test::RequireClose(e.Find("fraction_p05")->values[0], 0.41, 1e-12);
  op4d::test::RequireClose(e.Find("area_mean")->values[0], 11, 1e-12);
  REQUIRE(e.Find("area_sd")->values[0] == 0);
  // Label 2: areas 100..104 over all five samples.
  op4d::test::RequireClose(e.Find("area_mean")->values[1], 102, 1e-12);
  op4d::test::RequireClose(e.Find("area_p95")->values[1], 103.8, 1e-12);
  op4d::test::RequireClose(e.Find("fraction_mean")->values[1], (0.2 + 0.21 + 0.22 + 0.23 + 0.25) / 5, 1e-12);
  REQUIRE(e.Find("samples")->values == std::vector<double>{5, 5});
  // Without keys the rows are matched by position; fewer than 2 defined values give NaN.
  const ResultTable one{"o", {{"x", "1", {1.0}}}};
  const ResultTable nan_row{"o", {{"x", "1", {std::nan("")}}}};
  const ResultTable u = SummarizeTableEnsemble("o_ensemble", one, {one, nan_row}, {});
  REQUIRE(std::isnan(u.Find("x_mean")->values[0]));
  REQUIRE(u.Find("x")->values[0] == 1.0);
  REQUIRE_THROWS_WITH(SummarizeTableEnsemble("o_ensemble", one, {one}, {}), Catch::Contains("at least 2 samples, got 1"));
  REQUIRE_THROWS_WITH(SummarizeTableEnsemble("o_ensemble", one, {one, one}, {"phase"}), Catch::Contains("no key column 'phase'"));
}

TEST_CASE("independent draws follow the posteriors and the expected fractions are their means", "[frame][uncertainty]") {
  Geometry g;
  g.shape = {20, 50, 50};
  Volume<std::uint8_t> p0(g, 0), p1(g, 0);
  for (std::int64_t i = 0; i < p0.size(); ++i) {
    const bool left = (i % 50) < 25;
    p0[i] = left ? 51 : 255;  // p = 0.2 on the left half, 1 on the right
    p1[i] = std::uint8_t(255 - p0[i]);
  }
  const std::vector<double> e = ExpectedFractions({p0, p1});
  op4d::test::RequireClose(e[0], 0.5 * 0.2 + 0.5, 1e-9);
  op4d::test::RequireClose(e[1], 0.5 * 0.8, 1e-9);
  const PhaseVolume l = IndependentLabelSample({p0, p1}, {3, 7}, 5);
  std::int64_t left3 = 0, right3 = 0;
  for (std::int64_t i = 0; i < l.size(); ++i) ((i % 50) < 25 ? left3 : right3) += l[i] == 3;
  const double n = 0.5 * double(l.size());
  INFO("left share of label 3: " << left3 / n);
  REQUIRE(std::abs(left3 / n - 0.2) < 4 * std::sqrt(0.2 * 0.8 / n));
  REQUIRE(right3 == std::int64_t(n));
}

TEST_CASE("with grey jitter every sample draws new pure grey values and the energy changes stay exact", "[frame][uncertainty]") {
  BallFrame f = Ball();
  LabelSamplerOptions o;
  o.grey_jitter = 0.1;
  o.seed = 5;
  LabelSampler s(f.labels, AnyVolume{f.grey}, o);
  const double g0 = s.pure_grey(0), g1 = s.pure_grey(1), d = std::abs(g1 - g0);
  REQUIRE(d > 1500);  // the fitted values: about 1000 and 3000
  std::vector<std::pair<double, double>> drawn;
  for (int k = 0; k < 6; ++k) {
    const PhaseVolume& l = s.Next();
    drawn.push_back({s.pure_grey(0), s.pure_grey(1)});
    // Each draw is the model's value plus 0.1 d z: within 5 sd of it.
    REQUIRE(std::abs(s.pure_grey(0) - g0) < 5 * 0.1 * d);
    REQUIRE(std::abs(s.pure_grey(1) - g1) < 5 * 0.1 * d);
    if (k == 5) {
      // The work space follows the new values: DeltaAt is the brute-force change under them.
      const double e0 = BruteEnergy(l, f.grey, s.terms(), o.model.psf_sigma_vox);
      int checked = 0;
      for (std::int64_t i = 0; i < l.size() && checked < 30; i += 7) {
        const Index3 n = l.shape();
        const std::int64_t z = i / (n[1] * n[2]), y = (i / n[2]) % n[1], x = i % n[2];
        if (z < 4 || z >= 16 || y < 4 || y >= 16 || x < 4 || x >= 16) continue;
        if (l[i] == l[i + 1] && l[i] == l[i - 1] && l[i] == l[i + 20] && l[i] == l[i - 20]) continue;
        PhaseVolume moved = l;
        moved[i] = std::uint8_t(1 - l[i]);
        const double brute = BruteEnergy(moved, f.grey, s.terms(), o.model.psf_sigma_vox) - e0;
        INFO("voxel " << i << ": brute " << brute << ", sampler " << s.DeltaAt(i, moved[i]));
        REQUIRE(std::abs(s.DeltaAt(i, moved[i]) - brute) <= 1e-3 * std::abs(brute) + 5.0);
        ++checked;
      }
      REQUIRE(checked >= 10);
    }
  }
  REQUIRE(s.samples() == 6);
  REQUIRE(drawn[0] != drawn[1]);
  // The same seed draws the same values.
  LabelSampler again(f.labels, AnyVolume{f.grey}, o);
  again.Next();
  REQUIRE(again.pure_grey(0) == drawn[0].first);
  REQUIRE(again.pure_grey(1) == drawn[0].second);
  o.grey_jitter = -0.1;
  REQUIRE_THROWS_WITH(LabelSampler(f.labels, AnyVolume{f.grey}, o), Catch::Contains("grey_jitter must be"));
  o.grey_jitter = std::nan("");
  REQUIRE_THROWS_WITH(LabelSampler(f.labels, AnyVolume{f.grey}, o), Catch::Contains("grey_jitter must be"));
}

TEST_CASE("grey jitter moves whole interfaces: the ball's volume spreads far more than at the model's own values", "[frame][uncertainty]") {
  BallFrame f = Ball(24, 6.0);
  auto spread = [&](double jitter) {
    LabelSamplerOptions o;
    o.grey_jitter = jitter;
    return BallVoxelSd(f, o, 16);
  };
  const double none = spread(0), some = spread(0.05), more = spread(0.15);
  INFO("sd of the ball's voxels at grey jitter 0, 0.05, 0.15: " << none << " " << some << " " << more);
  REQUIRE(some > 1.5 * none);
  REQUIRE(more > 2 * some);
}

TEST_CASE("correlated grey jitter moves a middle phase's two interfaces together and keeps its volume", "[frame][uncertainty]") {
  // Three layers along z: label 0 (grey 1000), a middle layer 1 (2000, 5 voxels thick) and 2 (3000),
  // with two interfaces of equal area: the middle layer is the binder between pore and active.
  const std::int64_t edge = 24;
  Geometry g;
  g.shape = {edge, edge, edge};
  PhaseVolume labels(g, 0);
  Volume<float> grey(g);
  for (std::int64_t z = 0; z < edge; ++z)
    for (std::int64_t y = 0; y < edge; ++y)
      for (std::int64_t x = 0; x < edge; ++x) labels(z, y, x) = z < 9 ? 0 : z < 14 ? 1 : 2;
  for (std::int64_t i = 0; i < grey.size(); ++i) grey[i] = 1000.0f + 1000.0f * float(labels[i]);
  GaussianSmooth(grey.values().data(), g.shape, {0.6, 0.6, 0.6});
  for (std::int64_t i = 0; i < grey.size(); ++i) grey[i] += float(150.0 * HashNormal(9, 0, std::uint64_t(i)));
  // sd over 16 samples of the middle layer's and the top layer's voxel counts.
  auto spread = [&](double rho) {
    LabelSamplerOptions o;
    o.grey_jitter = 0.1;
    o.grey_jitter_correlation = rho;
    LabelSampler s(labels, AnyVolume{grey}, o);
    std::vector<double> shell, ball;
    for (int k = 0; k < 16; ++k) {
      const PhaseVolume& l = s.Next();
      std::int64_t n1 = 0, n2 = 0;
      for (std::int64_t i = 0; i < l.size(); ++i) n1 += l[i] == 1, n2 += l[i] == 2;
      shell.push_back(double(n1));
      ball.push_back(double(n2));
    }
    return std::pair{SummarizeEnsemble(0, shell).sd, SummarizeEnsemble(0, ball).sd};
  };
  const auto [shell_0, ball_0] = spread(0);
  const auto [shell_1, ball_1] = spread(1);
  INFO("independent: middle sd " << shell_0 << ", top sd " << ball_0 << "; fully correlated: " << shell_1 << ", " << ball_1);
  REQUIRE(shell_1 < 0.5 * shell_0);  // both of the middle layer's interfaces move the same way
  REQUIRE(ball_1 > 0.5 * ball_0);    // the top layer's interface still moves
  LabelSamplerOptions bad;
  bad.grey_jitter_correlation = 1.5;
  REQUIRE_THROWS_WITH(LabelSampler(labels, AnyVolume{grey}, bad), Catch::Contains("grey_jitter_correlation must be in [0, 1]"));
}

TEST_CASE("the calibration domain judges every present phase's mean chord and the contrast-to-noise", "[frame][uncertainty]") {
  const double edge = 0.25, cnr = 2 * kCalibratedMinContrastToNoise + 1;
  // A phase of fraction f with interface area S per volume has mean chord 4 f / S: area for a chord c.
  auto area = [&](double f, double chord_vox) { return 4 * f / (chord_vox * edge); };
  const double thick = 2 * kCalibratedMinChordVoxels + 1;
  std::vector<PhaseChord> c{{"pore", 0.5, area(0.5, thick)}, {"active", 0.4, area(0.4, thick)}, {"binder", 0.1, area(0.1, thick)}};
  CalibrationDomain d = CheckCalibrationDomain(c, edge, cnr);
  REQUIRE(d.inside);
  REQUIRE(d.why.empty());
  REQUIRE(d.chords.size() == 3);
  op4d::test::RequireClose(d.chords[2].chord_vox, thick, 1e-12);
  REQUIRE(d.contrast_to_noise == cnr);
  // A voxel-thin binder film (the NMC cathode's) is outside; the message names the phase and the bound.
  c[2].area_per_um = area(0.1, 0.9 * kCalibratedMinChordVoxels);
  d = CheckCalibrationDomain(c, edge, cnr);
  REQUIRE(!d.inside);
  REQUIRE(d.why.find("binder mean chord") == 0);
  REQUIRE(d.why.find("calibrated") != std::string::npos);
  op4d::test::RequireClose(d.chords[2].chord_vox, 0.9 * kCalibratedMinChordVoxels, 1e-12);
  // An absent phase is not judged; a phase without interfaces has an unbounded chord.
  c[2] = {"binder", 0.0, 0.0};
  c[0].area_per_um = 0;
  d = CheckCalibrationDomain(c, edge, cnr);
  REQUIRE(d.inside);
  REQUIRE(d.chords[2].chord_vox == 0);
  REQUIRE(std::isinf(d.chords[0].chord_vox));
  // The chords are counted in voxels: the same microstructure at twice the voxel edge is half as many.
  c[0].area_per_um = area(0.5, thick);
  REQUIRE(CheckCalibrationDomain(c, 2 * edge, cnr).chords[0].chord_vox == Approx(thick / 2));
  // Too little contrast for the noise.
  d = CheckCalibrationDomain(c, edge, 0.5 * kCalibratedMinContrastToNoise);
  REQUIRE(!d.inside);
  REQUIRE(d.why.find("contrast-to-noise") == 0);
  REQUIRE_THROWS_WITH(CheckCalibrationDomain(c, 0, cnr), Catch::Contains("voxel edge"));
  REQUIRE_THROWS_WITH(CheckCalibrationDomain(c, edge, std::nan("")), Catch::Contains("contrast-to-noise is NaN"));
  c[1].fraction = std::nan("");
  REQUIRE_THROWS_WITH(CheckCalibrationDomain(c, edge, cnr), Catch::Contains("phase active has a NaN"));
}
