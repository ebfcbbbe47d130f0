#include "op4d/track/deformation/kinematics.h"

#include <Eigen/Geometry>
#include <cmath>

#include "test_util.h"

using namespace op4d;

TEST_CASE("a known stretch, shear and rotation decomposes exactly", "[track][deformation]") {
  // F = R(3 deg about z) * (stretch 1.02 along x, shear 0.05 of x by y).
  Eigen::Matrix3d S = Eigen::Matrix3d::Identity();
  S(2, 2) = 1.02;
  S(2, 1) = 0.05;
  const Eigen::Matrix3d R = Eigen::AngleAxisd(3.0 * M_PI / 180.0, Eigen::Vector3d::UnitX()).toRotationMatrix();
  const Eigen::Matrix3d F = R * S;
  const Kinematics k = AnalyseDeformation(F);
  REQUIRE(k.valid);
  REQUIRE(k.J == Approx(1.02).epsilon(1e-12));  // shear and rotation keep volume
  REQUIRE(k.eps_v == Approx(0.02).epsilon(1e-10));
  REQUIRE((k.R * k.U - F).norm() < 1e-12);
  REQUIRE((k.R.transpose() * k.R - Eigen::Matrix3d::Identity()).norm() < 1e-12);
  REQUIRE(k.R.determinant() == Approx(1.0));
  REQUIRE((k.U - k.U.transpose()).norm() < 1e-12);
  REQUIRE((k.E - 0.5 * (S.transpose() * S - Eigen::Matrix3d::Identity())).norm() < 1e-12);  // E ignores rotation
}

TEST_CASE("a pure expansion of the current frame gives J > 1 (the F convention)", "[track][deformation]") {
  const Kinematics k = AnalyseDeformation(1.01 * Eigen::Matrix3d::Identity());
  REQUIRE(k.J > 1.0);
  REQUIRE(k.J == Approx(1.01 * 1.01 * 1.01));
  REQUIRE(k.principal_stretches(0) == Approx(1.01));
}

TEST_CASE("an inverting or non-finite F is reported, not thrown", "[track][deformation]") {
  Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
  F(0, 0) = -1;
  const Kinematics k = AnalyseDeformation(F);
  REQUIRE_FALSE(k.valid);
  REQUIRE(k.message.find("det F") != std::string::npos);
  F(0, 0) = NAN;
  REQUIRE_FALSE(AnalyseDeformation(F).valid);
}
