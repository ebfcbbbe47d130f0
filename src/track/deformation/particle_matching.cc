// Particle identity across frames: Open3D ICP (point-to-point, optional uniform scale) on the
// centroids, then one-to-one mutual nearest neighbours within a distance.
#include <open3d/geometry/KDTreeFlann.h>
#include <open3d/geometry/PointCloud.h>
#include <open3d/pipelines/registration/TransformationEstimation.h>

#include <Eigen/Dense>
#include <cmath>

#include "op4d/core/error.h"
#include "op4d/track/deformation/particles.h"

namespace op4d {

ParticleMatching MatchParticles(const std::vector<int>& ref_labels, const std::vector<Eigen::Vector3d>& ref_c,
                                const std::vector<int>& cur_labels, const std::vector<Eigen::Vector3d>& cur_c,
                                const AffineMap& initial, const ParticleMatchOptions& o) {
  if (ref_labels.size() != ref_c.size() || cur_labels.size() != cur_c.size())
    throw InvalidArgument("particle matching: labels and centroids differ in count");
  if (!(o.max_distance_um > 0)) throw InvalidArgument("particle matching: max_distance_um must be > 0");
  ParticleMatching out;
  out.alignment = initial;
  out.matches.resize(ref_labels.size());
  for (std::size_t i = 0; i < ref_labels.size(); ++i) out.matches[i].reference_label = ref_labels[i];
  if (ref_c.empty() || cur_c.empty()) {
    out.new_labels = cur_labels;
    return out;
  }
  open3d::geometry::PointCloud source, target;
  source.points_ = ref_c;
  target.points_ = cur_c;
  Eigen::Matrix4d init = Eigen::Matrix4d::Identity();
  init.topLeftCorner<3, 3>() = initial.F;
  init.topRightCorner<3, 1>() = initial.t;
  // ICP, point-to-point with an optional uniform scale (Open3D's estimation, Umeyama). The loop is
  // written out rather than Open3D's RegistrationICP, whose OpenMP correspondence search returns the
  // pairs in a thread-dependent order: the sums, hence the last bits of the result, would change
  // from run to run, and the pipeline's results must not.
  if (ref_c.size() >= 3 && cur_c.size() >= 3) {
    namespace reg = open3d::pipelines::registration;
    const open3d::geometry::KDTreeFlann tree(target);
    const reg::TransformationEstimationPointToPoint estimation(o.with_scaling);
    Eigen::Matrix4d T = init;
    open3d::geometry::PointCloud moved;
    moved.points_.resize(ref_c.size());
    std::vector<int> idx;
    std::vector<double> d2;
    double previous_fitness = -1, previous_rmse = -1;
    for (int it = 0; it <= o.icp_iterations; ++it) {
      for (std::size_t i = 0; i < ref_c.size(); ++i)
        moved.points_[i] = T.topLeftCorner<3, 3>() * ref_c[i] + T.topRightCorner<3, 1>();
      reg::CorrespondenceSet pairs;
      double error2 = 0;
      for (std::size_t i = 0; i < ref_c.size(); ++i)
        if (tree.SearchHybrid(moved.points_[i], o.max_distance_um, 1, idx, d2) > 0) {
          pairs.push_back(Eigen::Vector2i(int(i), idx[0]));
          error2 += d2[0];
        }
      out.fitness = double(pairs.size()) / double(ref_c.size());
      out.inlier_rmse_um = pairs.empty() ? 0.0 : std::sqrt(error2 / double(pairs.size()));
      const bool settled = std::abs(out.fitness - previous_fitness) < 1e-9 && std::abs(out.inlier_rmse_um - previous_rmse) < 1e-9;
      if (pairs.size() < 3 || settled || it == o.icp_iterations) break;
      previous_fitness = out.fitness;
      previous_rmse = out.inlier_rmse_um;
      T = estimation.ComputeTransformation(moved, target, pairs) * T;
    }
    if (out.fitness > 0) {
      out.alignment.F = T.topLeftCorner<3, 3>();
      out.alignment.t = T.topRightCorner<3, 1>();
    }
  }
  // Mutual nearest neighbours of the aligned reference centroids and the current centroids.
  std::vector<Eigen::Vector3d> moved(ref_c.size());
  for (std::size_t i = 0; i < ref_c.size(); ++i) moved[i] = out.alignment.Apply(ref_c[i]);
  open3d::geometry::PointCloud moved_cloud;
  moved_cloud.points_ = moved;
  const open3d::geometry::KDTreeFlann to_current(target), to_reference(moved_cloud);
  std::vector<int> idx;
  std::vector<double> d2;
  std::vector<bool> taken(cur_c.size(), false);
  for (std::size_t i = 0; i < moved.size(); ++i) {
    if (to_current.SearchKNN(moved[i], 1, idx, d2) < 1) continue;
    const int j = idx[0];
    const double d = std::sqrt(d2[0]);
    if (d > o.max_distance_um) continue;
    if (to_reference.SearchKNN(cur_c[std::size_t(j)], 1, idx, d2) < 1 || std::size_t(idx[0]) != i) continue;
    ParticleMatch& m = out.matches[i];
    m.current_label = cur_labels[std::size_t(j)];
    m.distance_um = d;
    m.quality = 1.0 - d / o.max_distance_um;
    taken[std::size_t(j)] = true;
  }
  for (std::size_t j = 0; j < cur_c.size(); ++j)
    if (!taken[j]) out.new_labels.push_back(cur_labels[j]);
  return out;
}

}  // namespace op4d
