#include "op4d/track/deformation/field.h"

#include <Eigen/Dense>

#include "registration_cases.h"
#include "test_util.h"

using namespace op4d;

namespace {
Geometry Grid(Index3 shape, Vec3 spacing) {
  Geometry g;
  g.shape = shape;
  g.spacing_um = spacing;
  g.origin_um = {1.0, -2.0, 0.5};
  return g;
}
}  // namespace

TEST_CASE("the F field of an affine displacement is F everywhere, faces included", "[track][deformation]") {
  const Geometry g = Grid({12, 10, 14}, {0.5, 0.8, 1.3});
  const AffineMap m = AffineMap::AboutCentre(KnownMotion().F, GridCentre(g), Eigen::Vector3d(0.3, -0.2, 0.9));
  const DisplacementField u = DisplacementFromAffine(m, g);
  StrainFieldOptions o;
  o.tensors = true;
  const StrainField s = ComputeStrainField(u, o);
  REQUIRE(s.invalid == 0);
  double worst = 0;
  for (std::int64_t z = 0; z < g.shape[0]; ++z)
    for (std::int64_t y = 0; y < g.shape[1]; ++y)
      for (std::int64_t x = 0; x < g.shape[2]; ++x) {
        worst = std::max(worst, (DeformationGradientAt(u, z, y, x) - m.F).norm());
        worst = std::max(worst, std::abs(s.J(z, y, x) - m.F.determinant()));
      }
  REQUIRE(worst < 2e-5);  // float storage of u
  REQUIRE(s.F[5](3, 4, 5) == Approx(m.F(1, 2)).margin(2e-5));  // row-major (z, y, x)
  const Eigen::Vector3d sv = Eigen::JacobiSVD<Eigen::Matrix3d>(m.F).singularValues();  // descending
  for (int i = 0; i < 3; ++i) REQUIRE(s.stretch[std::size_t(i)](3, 4, 5) == Approx(sv[i]).margin(2e-5));
  const Eigen::Matrix3d E = 0.5 * (m.F.transpose() * m.F - Eigen::Matrix3d::Identity());
  REQUIRE(s.E[4](6, 5, 7) == Approx(E(0, 2)).margin(2e-5));  // E_zx
}

TEST_CASE("central differences are exact for a quadratic displacement on an anisotropic grid",
          "[track][deformation]") {
  const Geometry g = Grid({9, 11, 13}, {0.7, 1.1, 0.4});
  DisplacementField u(g);
  const double a = 0.004;  // u_x = a * z_um^2: dF_xz = 2 a z
  for (std::int64_t z = 0; z < g.shape[0]; ++z)
    for (std::int64_t y = 0; y < g.shape[1]; ++y)
      for (std::int64_t x = 0; x < g.shape[2]; ++x) {
        const double zu = g.origin_um[0] + double(z) * g.spacing_um[0];
        u.u[2](z, y, x) = float(a * zu * zu);
      }
  const Eigen::Matrix3d F = DeformationGradientAt(u, 4, 5, 6);
  const double zu = g.origin_um[0] + 4 * g.spacing_um[0];
  REQUIRE(F(2, 0) == Approx(2 * a * zu).margin(1e-5));
  REQUIRE(F(2, 2) == Approx(1.0).margin(1e-9));
  // On the face the one-sided difference is off by a * h (first-order): stated, and measured here.
  const Eigen::Matrix3d F0 = DeformationGradientAt(u, 0, 5, 6);
  REQUIRE(F0(2, 0) == Approx(2 * a * g.origin_um[0] + a * g.spacing_um[0]).margin(1e-5));
}

TEST_CASE("a coarse stride samples the same F at the coarse points", "[track][deformation]") {
  const Geometry g = Grid({16, 16, 16}, {1, 1, 1});
  DisplacementField u(g);
  for (std::int64_t i = 0; i < u.u[0].size(); ++i) u.u[0][i] = float(0.01 * double(i % 7));
  StrainFieldOptions o;
  o.stride = 4;
  const StrainField coarse = ComputeStrainField(u, o);
  const StrainField fine = ComputeStrainField(u);
  REQUIRE(coarse.grid.shape == Index3{4, 4, 4});
  REQUIRE(coarse.grid.spacing_um[0] == 4.0);
  REQUIRE(coarse.J(1, 2, 3) == fine.J(4, 8, 12));
  o.stride = 0;
  REQUIRE_THROWS_WITH(ComputeStrainField(u, o), Catch::Contains("stride"));
}

TEST_CASE("composition of two affine fields is the composed map (incremental strategy)", "[track][deformation]") {
  const Geometry g = Grid({20, 20, 20}, {0.5, 0.5, 0.5});
  const AffineMap a = AffineMap::AboutCentre(1.01 * Eigen::Matrix3d::Identity(), GridCentre(g), Eigen::Vector3d(0.2, 0, 0));
  const AffineMap b = AffineMap::AboutCentre(KnownMotion().F, GridCentre(g), Eigen::Vector3d(0, 0.1, -0.1));
  const DisplacementField total =
      Compose(DisplacementFromAffine(a, g), DisplacementFromAffine(b, g));
  const DisplacementField exact = DisplacementFromAffine(a.Then(b), g);
  double worst = 0;
  // Interior points (a and b stay inside the grid): trilinear interpolation of a linear field is exact.
  for (std::int64_t z = 3; z < 17; ++z)
    for (std::int64_t y = 3; y < 17; ++y)
      for (std::int64_t x = 3; x < 17; ++x)
        for (int c = 0; c < 3; ++c) worst = std::max(worst, double(std::abs(total.u[c](z, y, x) - exact.u[c](z, y, x))));
  REQUIRE(worst < 1e-5);
  const StrainField s = ComputeStrainField(total);
  REQUIRE(s.J(10, 10, 10) == Approx((a.Then(b)).F.determinant()).epsilon(1e-5));
}

TEST_CASE("strain summary: interior statistics, folded samples counted", "[track][deformation]") {
  const Geometry g = Grid({10, 10, 10}, {1, 1, 1});
  AffineMap m;
  m.F = 1.02 * Eigen::Matrix3d::Identity();
  DisplacementField u = DisplacementFromAffine(m, g);
  // Fold near a corner: u_z of voxel (0, 0, 1) moves it 3 voxels past its neighbours along z.
  u.u[0](0, 0, 1) += 3.0f;
  const StrainField s = ComputeStrainField(u);
  REQUIRE(s.invalid >= 1);
  const ResultTable t = SummariseStrain(s, 2.0);
  REQUIRE(t.Find("samples")->values[0] == 6 * 6 * 6);
  REQUIRE(t.Find("J_mean")->values[0] == Approx(std::pow(1.02, 3)).epsilon(1e-6));
  REQUIRE(t.Find("J_sd")->values[0] == Approx(0.0).margin(1e-6));
  REQUIRE(t.Find("eps_v_mean")->unit == "1");
  const ResultTable none = SummariseStrain(s, 100.0);
  REQUIRE(none.Find("samples")->values[0] == 0);
  REQUIRE(std::isnan(none.Find("J_mean")->values[0]));
}
