#include "op4d/frame/segment/gmm.h"

#include <random>

#include "op4d/frame/segment/threshold.h"
#include "test_util.h"

using namespace op4d;

namespace {
struct Truth {
  double w, mu, sigma;
};
// A volume of samples from a known mixture, with the generating class of every voxel.
template <class T>
std::pair<Volume<T>, std::vector<int>> Sample(const std::vector<Truth>& mix, Index3 shape, std::uint32_t seed) {
  Geometry g;
  g.shape = shape;
  Volume<T> v(g);
  std::vector<int> cls(std::size_t(v.size()));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> n(0, 1);
  for (std::int64_t i = 0; i < v.size(); ++i) {
    double r = u(rng);
    int k = 0;
    while (k + 1 < int(mix.size()) && (r -= mix[std::size_t(k)].w) > 0) ++k;
    cls[std::size_t(i)] = k;
    const double x = mix[std::size_t(k)].mu + mix[std::size_t(k)].sigma * n(rng);
    if constexpr (std::is_same_v<T, float>) v[i] = float(x);
    else v[i] = T(std::clamp(std::lround(x), 0L, 65535L));
  }
  return {std::move(v), std::move(cls)};
}
}  // namespace

TEST_CASE("EM recovers the parameters of a known mixture", "[frame][segment][gmm]") {
  const std::vector<Truth> mix = {{0.5, 1000, 150}, {0.3, 2500, 200}, {0.2, 4000, 250}};
  const auto [v, cls] = Sample<float>(mix, {40, 50, 100}, 3);  // 200 000 samples
  for (GmmInit init : {GmmInit::kQuantiles, GmmInit::kKMeansPP}) {
    INFO(ToString(init));
    GmmOptions o;
    o.init = init;
    const GmmModel m = FitGaussianMixture(v, o);
    REQUIRE(m.converged);
    for (int k = 0; k < 3; ++k) {
      // Sampling error of 200 000 draws is far below these tolerances.
      REQUIRE(m.weights[k] == Approx(mix[k].w).margin(0.005));
      REQUIRE(m.means[k] == Approx(mix[k].mu).epsilon(0.005));
      REQUIRE(m.sigmas[k] == Approx(mix[k].sigma).epsilon(0.02));
    }
  }
}

TEST_CASE("with overlapping binder and active histograms the mixture beats multi-Otsu", "[frame][segment][gmm]") {
  // pore 40 %, binder 10 %, active 50 %; the binder and active histograms overlap (means 3.3 sigma
  // apart, each tail reaching well into the other). Multi-Otsu ignores the 1:5 weights and cuts
  // midway; the mixture's Bayes boundary moves toward the binder.
  const std::vector<Truth> mix = {{0.4, 8000, 1500}, {0.1, 17000, 1800}, {0.5, 23000, 1800}};
  const auto [v, cls] = Sample<std::uint16_t>(mix, {50, 60, 60}, 7);
  const std::vector<std::uint8_t> labels{0, 2, 1};  // darkest first: pore, binder, active
  const GmmModel m = FitGaussianMixture(v, GmmOptions{});
  REQUIRE(m.converged);
  const ProbabilisticSegmentation seg = ClassifyGaussianMixture(v, m, labels, true);
  ThresholdOptions to;
  to.classes = 3;
  const PhaseVolume otsu = ApplyThresholds(v, MultiOtsu(v, to).thresholds, labels);
  std::int64_t ok_gmm = 0, ok_otsu = 0;
  for (std::int64_t i = 0; i < v.size(); ++i) {
    const std::uint8_t want = labels[std::size_t(cls[std::size_t(i)])];
    ok_gmm += seg.labels[i] == want;
    ok_otsu += otsu[i] == want;
  }
  const double acc_gmm = double(ok_gmm) / double(v.size()), acc_otsu = double(ok_otsu) / double(v.size());
  WARN("voxel accuracy: GMM " << acc_gmm << ", multi-Otsu " << acc_otsu);
  REQUIRE(acc_gmm > acc_otsu + 0.02);
  // Posteriors are stored in one byte per class and sum to 255 up to rounding.
  REQUIRE(seg.posteriors.size() == 3);
  for (std::int64_t i = 0; i < v.size(); i += 997) {
    const int s = seg.posteriors[0][i] + seg.posteriors[1][i] + seg.posteriors[2][i];
    REQUIRE(std::abs(s - 255) <= 2);
  }
  // The same with one thread.
  REQUIRE(ClassifyGaussianMixture(v, m, labels, false, ThreadBudget{1}).labels.values() == seg.labels.values());
}

TEST_CASE("a fit that does not converge is a status and bad input is an error", "[frame][segment][gmm]") {
  const auto [v, cls] = Sample<float>({{0.5, 0, 1}, {0.5, 10, 1}}, {10, 10, 10}, 1);
  GmmOptions o;
  o.components = 2;
  o.max_iterations = 1;
  const GmmModel m = FitGaussianMixture(v, o);
  REQUIRE_FALSE(m.converged);
  REQUIRE(m.message.find("max_iterations") != std::string::npos);
  Geometry g;
  g.shape = {2, 2, 2};
  REQUIRE_THROWS_WITH(FitGaussianMixture(Volume<float>(g, 3.0f), o), Catch::Contains("constant"));
  REQUIRE_THROWS_AS(FitGaussianMixture(Volume<float>(g, NAN), o), InvalidArgument);
  o.components = 0;
  REQUIRE_THROWS_AS(FitGaussianMixture(v, o), ConfigError);
  REQUIRE_THROWS_AS(ClassifyGaussianMixture(v, m, {0}, false), InvalidArgument);
}
