// Kinematics of one deformation gradient F (DESIGN.md convention: F = dx/dX maps the reference
// configuration to the current one; J = det F; eps_v = J - 1).
#pragma once

#include <Eigen/Core>
#include <string>

namespace op4d {

struct Kinematics {
  bool valid = false;           // false when det F <= 0 (not a physical deformation) or F is not finite
  std::string message;          // why not valid
  double J = 0;                 // det F: local volume ratio (1 = no volume change)
  double eps_v = 0;             // volumetric strain J - 1
  Eigen::Matrix3d E = Eigen::Matrix3d::Zero();  // Green–Lagrange strain (F^T F - I) / 2
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();  // rotation of the polar decomposition F = R U
  Eigen::Matrix3d U = Eigen::Matrix3d::Identity();  // right stretch tensor (symmetric positive definite)
  Eigen::Vector3d principal_stretches = Eigen::Vector3d::Ones();  // eigenvalues of U, descending
};

// Matrices are in op4d's axis order (z, y, x).
Kinematics AnalyseDeformation(const Eigen::Matrix3d& F);

}  // namespace op4d
