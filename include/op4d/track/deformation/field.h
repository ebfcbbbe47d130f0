// Displacement fields and the deformation-gradient field computed from them.
//
// Convention (DESIGN.md): u is defined on the reference grid, x = phi(X) = X + u(X), so
// F = dx/dX = I + grad_X u, J = det F, eps_v = J - 1. Components and derivatives are in op4d's axis
// order (z, y, x) and µm. Finite differences honour the anisotropic spacing.
#pragma once

#include <Eigen/Core>
#include <array>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"
#include "op4d/track/registration/affine.h"

namespace op4d {

struct DisplacementField {
  std::array<Volume<float>, 3> u;  // u_z, u_y, u_x (µm) at the reference voxel centres

  DisplacementField() = default;
  explicit DisplacementField(const Geometry& reference_grid);
  const Geometry& geometry() const { return u[0].geometry(); }
  bool empty() const { return u[0].empty(); }
  // u at a physical point by trilinear interpolation; points beyond the grid take the value at the
  // nearest grid point (constant extrapolation), so compositions near the faces stay defined.
  Eigen::Vector3d At(const Eigen::Vector3d& X_um) const;
  std::int64_t bytes() const { return 3 * u[0].size() * std::int64_t(sizeof(float)); }
};

// u(X) = map(X) - X on the grid.
DisplacementField DisplacementFromAffine(const AffineMap& map, const Geometry& reference_grid,
                                         ThreadBudget threads = {});

// phi_total = phi_second ∘ phi_first: u(X) = u1(X) + u2(X + u1(X)). `second` is defined on the
// configuration `first` maps into (frame k-1 -> k after 0 -> k-1: the incremental strategy).
DisplacementField Compose(const DisplacementField& first, const DisplacementField& second,
                          ThreadBudget threads = {});

struct StrainFieldOptions {
  int stride = 1;       // evaluate at every stride-th reference voxel along each axis (coarse grid)
  bool tensors = false; // also F (9), Green-Lagrange E (6) and principal stretches (3)
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

// Fields on the coarse grid (the reference voxels with indices multiple of stride; geometry with
// spacing * stride, same origin). Memory: J alone is one float per sample, a third of the
// displacement field at stride 1; the tensor fields add 18 floats per sample (use a stride).
struct StrainField {
  Geometry grid;
  Volume<float> J;                         // det F (1 = no volume change)
  std::array<Volume<float>, 9> F;          // F_ij row-major in (z, y, x); empty without tensors
  std::array<Volume<float>, 6> E;          // E_zz, E_yy, E_xx, E_zy, E_zx, E_yx; empty without tensors
  std::array<Volume<float>, 3> stretch;    // principal stretches, descending; empty without tensors
  std::int64_t invalid = 0;                // samples with det F <= 0 or non-finite F
};

// F = I + grad u by central differences (one-sided on the faces) on the reference grid.
StrainField ComputeStrainField(const DisplacementField& u, const StrainFieldOptions& options = {});

// F at one reference voxel (central differences, one-sided on the faces).
Eigen::Matrix3d DeformationGradientAt(const DisplacementField& u, std::int64_t z, std::int64_t y,
                                      std::int64_t x);

// RMS of current(X + u(X)) - reference(X) over the reference voxels whose image lies inside the
// current frame (grey units); `samples` receives their count. An empty u means the identity.
double ResidualRms(const Volume<float>& reference, const Volume<float>& current, const DisplacementField& u,
                   std::int64_t* samples = nullptr, ThreadBudget threads = {});
// The same for an affine motion, over the reference voxels where `mask` (optional) is nonzero.
double ResidualRms(const Volume<float>& reference, const Volume<float>& current, const AffineMap& map,
                   const Volume<std::uint8_t>* mask = nullptr, std::int64_t* samples = nullptr,
                   ThreadBudget threads = {});

// Statistics of J over the samples at least `margin_um` inside the grid (the interior: B-spline and
// finite-difference edge effects excluded): one-row table with mean, sd, p05, p50, p95 of J and
// eps_v, and the count; units in the column unit fields.
ResultTable SummariseStrain(const StrainField& field, double margin_um);

}  // namespace op4d
