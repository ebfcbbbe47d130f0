#include "op4d/track/deformation/field.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "op4d/core/error.h"
#include "op4d/core/interpolate.h"
#include "op4d/track/deformation/kinematics.h"
#include "track/grid_loop.h"

namespace op4d {

DisplacementField::DisplacementField(const Geometry& g) : u{Volume<float>(g), Volume<float>(g), Volume<float>(g)} {}

Eigen::Vector3d DisplacementField::At(const Eigen::Vector3d& X) const {
  const Geometry& g = geometry();
  double c[3];
  for (int a = 0; a < 3; ++a)
    c[a] = std::clamp((X[a] - g.origin_um[a]) / g.spacing_um[a], 0.0, double(g.shape[a] - 1));
  return Eigen::Vector3d(SampleLinear(u[0], c[0], c[1], c[2], 0.0f), SampleLinear(u[1], c[0], c[1], c[2], 0.0f),
                         SampleLinear(u[2], c[0], c[1], c[2], 0.0f));
}

DisplacementField DisplacementFromAffine(const AffineMap& map, const Geometry& g, ThreadBudget threads) {
  DisplacementField d(g);
  ForEachVoxel(g, threads, [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    const Eigen::Vector3d X = VoxelCentre(g, z, y, x);
    const Eigen::Vector3d u = map.Apply(X) - X;
    for (int a = 0; a < 3; ++a) d.u[a](z, y, x) = float(u[a]);
  });
  return d;
}

DisplacementField Compose(const DisplacementField& first, const DisplacementField& second,
                          ThreadBudget threads) {
  if (first.empty() || second.empty()) throw InvalidArgument("cannot compose an empty displacement field");
  const Geometry& g = first.geometry();
  DisplacementField d(g);
  ForEachVoxel(g, threads, [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    const Eigen::Vector3d u1(first.u[0](z, y, x), first.u[1](z, y, x), first.u[2](z, y, x));
    const Eigen::Vector3d u = u1 + second.At(VoxelCentre(g, z, y, x) + u1);
    for (int a = 0; a < 3; ++a) d.u[a](z, y, x) = float(u[a]);
  });
  return d;
}

bool StrainFieldOptions::IsValid(std::string* why) const {
  if (stride < 1) {
    if (why) *why = "stride must be >= 1, got " + std::to_string(stride);
    return false;
  }
  return true;
}

Eigen::Matrix3d DeformationGradientAt(const DisplacementField& d, std::int64_t z, std::int64_t y,
                                      std::int64_t x) {
  const Geometry& g = d.geometry();
  const std::int64_t idx[3] = {z, y, x};
  Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
  for (int j = 0; j < 3; ++j) {  // derivative along axis j
    std::int64_t lo[3] = {z, y, x}, hi[3] = {z, y, x};
    if (idx[j] > 0) --lo[j];
    if (idx[j] < g.shape[j] - 1) ++hi[j];
    const double h = double(hi[j] - lo[j]) * g.spacing_um[j];
    if (h == 0) continue;  // a one-voxel axis has no derivative along it
    for (int i = 0; i < 3; ++i)
      F(i, j) += (double(d.u[i](hi[0], hi[1], hi[2])) - double(d.u[i](lo[0], lo[1], lo[2]))) / h;
  }
  return F;
}

StrainField ComputeStrainField(const DisplacementField& d, const StrainFieldOptions& o) {
  std::string why;
  if (!o.IsValid(&why)) throw InvalidArgument("strain field options: " + why);
  if (d.empty()) throw InvalidArgument("strain field of an empty displacement field");
  const Geometry& g = d.geometry();
  StrainField s;
  s.grid = g;
  for (int a = 0; a < 3; ++a) {
    s.grid.shape[a] = (g.shape[a] + o.stride - 1) / o.stride;
    s.grid.spacing_um[a] = g.spacing_um[a] * o.stride;
  }
  s.J = Volume<float>(s.grid);
  if (o.tensors) {
    for (auto& v : s.F) v = Volume<float>(s.grid);
    for (auto& v : s.E) v = Volume<float>(s.grid);
    for (auto& v : s.stretch) v = Volume<float>(s.grid);
  }
  std::vector<std::int64_t> invalid_per_slice(std::size_t(s.grid.shape[0]), 0);
  static constexpr int kE[6][2] = {{0, 0}, {1, 1}, {2, 2}, {0, 1}, {0, 2}, {1, 2}};
  ForEachVoxel(s.grid, o.threads, [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    const Eigen::Matrix3d F = DeformationGradientAt(d, z * o.stride, y * o.stride, x * o.stride);
    const double J = F.determinant();
    s.J(z, y, x) = float(J);
    if (!(J > 0) || !std::isfinite(J)) ++invalid_per_slice[std::size_t(z)];  // one slice per task
    if (!o.tensors) return;
    for (int i = 0; i < 9; ++i) s.F[std::size_t(i)](z, y, x) = float(F(i / 3, i % 3));
    const Kinematics k = AnalyseDeformation(F);
    for (int i = 0; i < 6; ++i) s.E[std::size_t(i)](z, y, x) = k.valid ? float(k.E(kE[i][0], kE[i][1])) : NAN;
    for (int i = 0; i < 3; ++i) s.stretch[std::size_t(i)](z, y, x) = k.valid ? float(k.principal_stretches[i]) : NAN;
  });
  for (std::int64_t n : invalid_per_slice) s.invalid += n;
  return s;
}

namespace {

// RMS of current(motion(X)) - reference(X) over the voxels `use` accepts whose image lies inside.
template <class Motion, class Use>
double Residual(const Volume<float>& reference, const Volume<float>& current, Motion motion, Use use,
                std::int64_t* samples, ThreadBudget threads) {
  const Geometry& gr = reference.geometry();
  std::vector<double> sum2(std::size_t(gr.shape[0]), 0.0);
  std::vector<std::int64_t> count(std::size_t(gr.shape[0]), 0);
  ForEachVoxel(gr, threads, [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    if (!use(z, y, x)) return;
    const Eigen::Vector3d p = motion(z, y, x, VoxelCentre(gr, z, y, x));
    const float v = SampleLinearAt(current, p, NAN);
    if (std::isnan(v)) return;
    const double d = double(v) - double(reference(z, y, x));
    sum2[std::size_t(z)] += d * d;  // one slice per task
    ++count[std::size_t(z)];
  });
  double s2 = 0;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < sum2.size(); ++i) {
    s2 += sum2[i];
    n += count[i];
  }
  if (samples) *samples = n;
  return n ? std::sqrt(s2 / double(n)) : NAN;
}

}  // namespace

double ResidualRms(const Volume<float>& reference, const Volume<float>& current, const DisplacementField& u,
                   std::int64_t* samples, ThreadBudget threads) {
  if (!u.empty() && u.geometry().shape != reference.shape())
    throw InvalidArgument("residual: the displacement field is not on the reference grid");
  return Residual(
      reference, current,
      [&](std::int64_t z, std::int64_t y, std::int64_t x, const Eigen::Vector3d& X) -> Eigen::Vector3d {
        if (u.empty()) return X;
        return X + Eigen::Vector3d(u.u[0](z, y, x), u.u[1](z, y, x), u.u[2](z, y, x));
      },
      [](std::int64_t, std::int64_t, std::int64_t) { return true; }, samples, threads);
}

double ResidualRms(const Volume<float>& reference, const Volume<float>& current, const AffineMap& map,
                   const Volume<std::uint8_t>* mask, std::int64_t* samples, ThreadBudget threads) {
  if (mask && mask->shape() != reference.shape()) throw InvalidArgument("residual: the mask is not on the reference grid");
  return Residual(
      reference, current,
      [&](std::int64_t, std::int64_t, std::int64_t, const Eigen::Vector3d& X) -> Eigen::Vector3d { return map.Apply(X); },
      [&](std::int64_t z, std::int64_t y, std::int64_t x) { return !mask || (*mask)(z, y, x) != 0; }, samples, threads);
}

ResultTable SummariseStrain(const StrainField& s, double margin_um) {
  std::vector<double> J;
  J.reserve(std::size_t(s.J.size()));
  const Geometry& g = s.grid;
  for (std::int64_t z = 0; z < g.shape[0]; ++z)
    for (std::int64_t y = 0; y < g.shape[1]; ++y)
      for (std::int64_t x = 0; x < g.shape[2]; ++x) {
        const std::int64_t i[3] = {z, y, x};
        bool inside = true;
        for (int a = 0; a < 3; ++a) {
          const double p = double(i[a]) * g.spacing_um[a];
          const double extent = double(g.shape[a] - 1) * g.spacing_um[a];
          inside = inside && p >= margin_um && p <= extent - margin_um;
        }
        const float v = s.J(z, y, x);
        if (inside && std::isfinite(v)) J.push_back(v);
      }
  ResultTable t;
  t.name = "strain_summary";
  auto add = [&](const std::string& name, const std::string& unit, double v) {
    t.columns.push_back({name, unit, {v}});
  };
  add("samples", "1", double(J.size()));
  add("invalid_samples", "1", double(s.invalid));
  add("margin", "um", margin_um);
  if (J.empty()) {
    for (const char* n : {"J_mean", "J_sd", "J_p05", "J_p50", "J_p95", "eps_v_mean"}) add(n, "1", NAN);
    return t;
  }
  double sum = 0, sum2 = 0;
  for (double v : J) sum += v;
  const double mean = sum / double(J.size());
  for (double v : J) sum2 += (v - mean) * (v - mean);
  std::sort(J.begin(), J.end());
  auto pct = [&](double p) { return J[std::size_t(std::lround(p * double(J.size() - 1)))]; };
  add("J_mean", "1", mean);
  add("J_sd", "1", J.size() > 1 ? std::sqrt(sum2 / double(J.size() - 1)) : 0.0);
  add("J_p05", "1", pct(0.05));
  add("J_p50", "1", pct(0.50));
  add("J_p95", "1", pct(0.95));
  add("eps_v_mean", "1", mean - 1.0);
  return t;
}

}  // namespace op4d
