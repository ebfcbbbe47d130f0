#include "op4d/frame/segment/threshold.h"

#include <random>

#include "test_util.h"

using namespace op4d;

TEST_CASE("Otsu separates two well-separated classes exactly", "[frame][segment]") {
  Geometry g;
  g.shape = {4, 8, 8};
  Volume<std::uint16_t> v(g);
  for (std::int64_t i = 0; i < v.size(); ++i) v[i] = i < 100 ? 1000 + std::uint16_t(i % 7) : 5000 + std::uint16_t(i % 5);
  ThresholdOptions o;
  const ThresholdResult r = MultiOtsu(v, o);
  REQUIRE(r.thresholds.size() == 1);
  REQUIRE(r.thresholds[0] > 1006);
  REQUIRE(r.thresholds[0] < 5000);
  const PhaseVolume p = ApplyThresholds(v, r.thresholds, {0, 1});
  for (std::int64_t i = 0; i < v.size(); ++i) REQUIRE(p[i] == (i < 100 ? 0 : 1));
}

TEST_CASE("multi-Otsu finds three classes of a three-level volume", "[frame][segment]") {
  Geometry g;
  g.shape = {10, 10, 30};
  Volume<float> v(g);
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0.f, 20.f);
  for (std::int64_t i = 0; i < v.size(); ++i) v[i] = float((i % 30) / 10) * 1000.f + n(rng);  // levels 0, 1000, 2000
  ThresholdOptions o;
  o.classes = 3;
  const ThresholdResult r = MultiOtsu(v, o);
  REQUIRE(r.thresholds.size() == 2);
  REQUIRE(r.thresholds[0] == Approx(500).margin(150));
  REQUIRE(r.thresholds[1] == Approx(1500).margin(150));
  const PhaseVolume p = ApplyThresholds(v, r.thresholds, {0, 2, 1});
  REQUIRE(p(0, 0, 5) == 0);
  REQUIRE(p(0, 0, 15) == 2);
  REQUIRE(p(0, 0, 25) == 1);
}

TEST_CASE("thresholding refuses bad options and empty volumes", "[frame][segment][errors]") {
  ThresholdOptions o;
  o.classes = 1;
  Geometry g;
  g.shape = {1, 1, 2};
  REQUIRE_THROWS_AS(MultiOtsu(Volume<float>(g), o), ConfigError);
  REQUIRE_THROWS_AS(ApplyThresholds(Volume<float>(g), {1.0}, {0}), InvalidArgument);
}
