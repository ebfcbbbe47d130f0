#include "op4d/core/interpolate.h"

#include <Eigen/Core>
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "op4d/core/filter.h"

using namespace op4d;

namespace {

Volume<float> Coefficients(const Volume<float>& v) {
  Volume<float> c = v;
  CubicBSplinePrefilter(c.data(), c.shape());
  return c;
}

}  // namespace

TEST_CASE("cubic B-spline: the spline through the prefiltered coefficients passes through every sample",
          "[core][interpolate]") {
  // Short lines (exact mirrored initial value) and a long one (truncated), single-sample axes.
  for (const Index3 shape : {Index3{5, 7, 40}, Index3{1, 2, 3}, Index3{30, 1, 9}}) {
    Volume<float> v(Geometry{shape, {0.5, 0.5, 0.5}, {0, 0, 0}}, 0.0f);
    std::mt19937 rng(7);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (std::int64_t i = 0; i < v.size(); ++i) v[i] = n(rng);
    const Volume<float> c = Coefficients(v);
    double worst = 0;
    for (std::int64_t z = 0; z < shape[0]; ++z)
      for (std::int64_t y = 0; y < shape[1]; ++y)
        for (std::int64_t x = 0; x < shape[2]; ++x)
          worst = std::max(worst, std::abs(double(SampleCubicBSpline(c, double(z), double(y), double(x), nullptr, NAN)) - v(z, y, x)));
    INFO("shape " << shape[0] << "x" << shape[1] << "x" << shape[2] << ": worst |spline - sample| " << worst);
    REQUIRE(worst < 2e-5);
  }
}

TEST_CASE("cubic B-spline: a cubic polynomial and its gradient are reproduced between the samples",
          "[core][interpolate]") {
  // p = cubic in x times linear in y plus quadratic in z: degree <= 3 per axis, reproduced exactly by
  // cubic spline interpolation away from the mirrored borders (their influence decays as 0.268^k).
  const Index3 shape{40, 36, 44};
  Volume<float> v(Geometry{shape, {0.25, 0.5, 1.0}, {1, 2, 3}}, 0.0f);
  auto p = [](double z, double y, double x) {
    return 1e-3 * x * x * x - 0.02 * x * x + 0.3 * x + 0.05 * y * (1 + 0.1 * x) + 0.01 * (z - 20) * (z - 20);
  };
  auto grad = [](double z, double y, double x) {
    return Eigen::Vector3d(0.02 * (z - 20), 0.05 * (1 + 0.1 * x), 3e-3 * x * x - 0.04 * x + 0.3 + 0.005 * y);
  };
  for (std::int64_t z = 0; z < shape[0]; ++z)
    for (std::int64_t y = 0; y < shape[1]; ++y)
      for (std::int64_t x = 0; x < shape[2]; ++x) v(z, y, x) = float(p(double(z), double(y), double(x)));
  const Volume<float> c = Coefficients(v);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(15, 21);
  double worst_v = 0, worst_g = 0, worst_linear = 0;
  for (int i = 0; i < 500; ++i) {
    const double z = u(rng), y = u(rng), x = u(rng);
    double g[3];
    const double f = SampleCubicBSpline(c, z, y, x, g, NAN);
    worst_v = std::max(worst_v, std::abs(f - p(z, y, x)));
    const Eigen::Vector3d gt = grad(z, y, x);
    for (int a = 0; a < 3; ++a) worst_g = std::max(worst_g, std::abs(g[a] - gt[a]));
    worst_linear = std::max(worst_linear, std::abs(double(SampleLinear(v, z, y, x, NAN)) - p(z, y, x)));
  }
  INFO("worst value error " << worst_v << " (trilinear " << worst_linear << "), worst gradient error " << worst_g);
  REQUIRE(worst_v < 2e-4);  // float samples of values up to ~5
  REQUIRE(worst_g < 2e-4);
  REQUIRE(worst_linear > 100 * worst_v);
  // The physical form: gradient per µm through the spacing, the same value.
  double gu[3];
  const Eigen::Vector3d at(1 + 18.3 * 0.25, 2 + 17.6 * 0.5, 3 + 19.1 * 1.0);
  const float fu = SampleCubicBSplineAt(c, at, gu, NAN);
  REQUIRE(fu == Approx(p(18.3, 17.6, 19.1)).margin(2e-4));
  const Eigen::Vector3d gt = grad(18.3, 17.6, 19.1);
  REQUIRE(gu[0] == Approx(gt[0] / 0.25).margin(1e-3));
  REQUIRE(gu[1] == Approx(gt[1] / 0.5).margin(1e-3));
  REQUIRE(gu[2] == Approx(gt[2] / 1.0).margin(1e-3));
}

TEST_CASE("cubic B-spline: outside the hull of the voxel centres gives the fill value", "[core][interpolate]") {
  Volume<float> v(Geometry{{4, 5, 6}, {1, 1, 1}, {0, 0, 0}}, 2.0f);
  const Volume<float> c = Coefficients(v);
  double g[3] = {7, 7, 7};
  REQUIRE(SampleCubicBSpline(c, 3.0, 4.0, 5.0, g, -1.0f) == Approx(2.0f));  // the far corner is inside
  REQUIRE(g[0] == Approx(0).margin(1e-6));
  REQUIRE(SampleCubicBSpline(c, 3.01, 1.0, 1.0, nullptr, -1.0f) == -1.0f);
  REQUIRE(std::isnan(SampleCubicBSpline(c, 1.0, -0.01, 1.0, nullptr, NAN)));
  REQUIRE(std::isnan(SampleCubicBSpline(c, 1.0, 1.0, NAN, nullptr, NAN)));
}
