#include "op4d/track/deformation/kinematics.h"

#include <Eigen/Dense>

namespace op4d {

Kinematics AnalyseDeformation(const Eigen::Matrix3d& F) {
  Kinematics k;
  if (!F.allFinite()) {
    k.message = "F has a non-finite entry";
    return k;
  }
  k.J = F.determinant();
  k.eps_v = k.J - 1.0;
  if (!(k.J > 0)) {
    k.message = "det F = " + std::to_string(k.J) + " <= 0: the mapping inverts or collapses volume";
    return k;
  }
  k.E = 0.5 * (F.transpose() * F - Eigen::Matrix3d::Identity());
  // Polar decomposition from the SVD F = W S V^T: R = W V^T, U = V S V^T (det F > 0 keeps R proper).
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(F, Eigen::ComputeFullU | Eigen::ComputeFullV);
  k.R = svd.matrixU() * svd.matrixV().transpose();
  k.U = svd.matrixV() * svd.singularValues().asDiagonal() * svd.matrixV().transpose();
  k.principal_stretches = svd.singularValues();
  k.valid = true;
  return k;
}

}  // namespace op4d
