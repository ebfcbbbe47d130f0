// Affine maps, warps and the affine registration driver (the ITK part is itk_affine.cc).
#include "op4d/track/registration/affine.h"


#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "op4d/core/error.h"
#include "op4d/core/interpolate.h"
#include "itk_affine.h"
#include "op4d/track/deformation/field.h"
#include "track/grid_loop.h"

namespace op4d {

AffineMap AffineMap::Inverse() const {
  const double det = F.determinant();
  if (!(det > 0) || !std::isfinite(det))
    throw InvalidArgument("affine map is not invertible (det F = " + std::to_string(det) + ")");
  AffineMap inv;
  inv.F = F.inverse();
  inv.t = -inv.F * t;
  return inv;
}

AffineMap AffineMap::Then(const AffineMap& next) const {
  AffineMap out;
  out.F = next.F * F;
  out.t = next.F * t + next.t;
  return out;
}

AffineMap AffineMap::AboutCentre(const Eigen::Matrix3d& F, const Eigen::Vector3d& c,
                                 const Eigen::Vector3d& translation) {
  AffineMap m;
  m.F = F;
  m.t = c - F * c + translation;
  return m;
}

Eigen::Matrix3d RotationZYX(const Eigen::Vector3d& axis, double angle_deg) {
  return Eigen::AngleAxisd(angle_deg * M_PI / 180.0, axis.normalized()).toRotationMatrix();
}

Eigen::Vector3d GridCentre(const Geometry& g) {
  Eigen::Vector3d c;
  for (int a = 0; a < 3; ++a) c[a] = g.origin_um[a] + 0.5 * double(g.shape[a] - 1) * g.spacing_um[a];
  return c;
}

namespace {

// out(X) = in(map(X)) for X on out_grid.
Volume<float> Pull(const Volume<float>& in, const AffineMap& map, const Geometry& out_grid, float outside,
                   ThreadBudget threads) {
  Volume<float> out(out_grid);
  ForEachVoxel(out_grid, threads, [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    out(z, y, x) = SampleLinearAt(in, map.Apply(VoxelCentre(out_grid, z, y, x)), outside);
  });
  return out;
}

}  // namespace

bool AffineRegistrationOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (levels < 1 || levels > 6) return fail("levels must be in 1..6, got " + std::to_string(levels));
  if (iterations < 1) return fail("iterations must be >= 1, got " + std::to_string(iterations));
  if (!(min_step > 0) || !(max_step > min_step))
    return fail("steps must satisfy 0 < min_step < max_step");
  if (mattes_bins < 8) return fail("mattes_bins must be >= 8, got " + std::to_string(mattes_bins));
  if (!(sampling_fraction > 0 && sampling_fraction <= 1))
    return fail("sampling_fraction must be in (0, 1], got " + std::to_string(sampling_fraction));
  if (max_samples < 0) return fail("max_samples must be >= 0, got " + std::to_string(max_samples));
  if (max_samples_mutual_information < 0)
    return fail("max_samples_mutual_information must be >= 0, got " + std::to_string(max_samples_mutual_information));
  return true;
}

Volume<float> WarpAffine(const Volume<float>& in, const AffineMap& map, const Geometry& out_grid,
                         float outside, ThreadBudget threads) {
  return Pull(in, map.Inverse(), out_grid, outside, threads);
}

Volume<float> ResampleOnReference(const Volume<float>& current, const AffineMap& map,
                                  const Geometry& reference_grid, float outside, ThreadBudget threads) {
  return Pull(current, map, reference_grid, outside, threads);
}

AffineRegistrationResult RegisterAffine(const Volume<float>& reference, const Volume<float>& current,
                                        const AffineRegistrationOptions& options,
                                        const Volume<std::uint8_t>* reference_mask) {
  std::string why;
  if (!options.IsValid(&why)) throw InvalidArgument("affine registration options: " + why);
  for (int a = 0; a < 3; ++a)
    if (std::abs(reference.spacing_um()[a] - current.spacing_um()[a]) >
        1e-6 * reference.spacing_um()[a])
      throw InvalidArgument("frames to register have different spacings: reference " +
                            reference.geometry().ToString() + ", current " +
                            current.geometry().ToString());
  if (reference_mask) {
    if (reference_mask->shape() != reference.shape())
      throw InvalidArgument("registration mask shape differs from the reference frame");
    if (std::none_of(reference_mask->data(), reference_mask->data() + reference_mask->size(),
                     [](std::uint8_t m) { return m != 0; }))
      throw InvalidArgument("registration mask is empty");
  }

  const ItkAffineRun run = RunItkAffine(reference, current, reference_mask, options,
                                       GridCentre(reference.geometry()).data());
  AffineRegistrationResult result;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) result.map.F(i, j) = run.F[i][j];
    result.map.t[i] = run.t[i];
  }
  result.stages = run.stages;
  result.converged = run.converged;

  result.rms_before = ResidualRms(reference, current, AffineMap{}, reference_mask, nullptr, options.threads);
  result.rms_after = ResidualRms(reference, current, result.map, reference_mask, &result.overlap_voxels, options.threads);
  std::ostringstream s;
  const AffineStageReport& last = result.stages.back();
  if (result.overlap_voxels == 0) {
    result.converged = false;
    s << "no overlap between the frames after registration";
  } else if (result.rms_after > result.rms_before) {
    result.converged = false;
    s << "failed: the grey residual rose from " << result.rms_before << " to " << result.rms_after
      << " (a local minimum; try more levels, mutual information or a mask)";
  } else if (result.converged) {
    s << "converged (" << last.stage << ": " << last.stop_condition << ")";
  } else {
    s << "not converged: " << last.stage << " stage stopped on '" << last.stop_condition << "' after "
      << options.iterations << " iterations at full resolution";
  }
  result.status = s.str();
  return result;
}

}  // namespace op4d
