// Steady diffusion by finite volumes on the voxel grid: effective diffusivity and tortuosity factor.
//
//   div(-D grad c) = 0 in the conducting voxels, c = 1 on the inlet face and c = 0 on the outlet face
//   normal to the chosen axis, no flux through every other boundary and every interface with a
//   non-conducting voxel. Boundary values sit on the outer faces of the end layers (half a cell from
//   the first cell centre). Face conductances use the anisotropic spacing: A_face D / spacing, with
//   the harmonic mean of the two cells' coefficients. Only voxels 6-connected (through faces, the FVM
//   adjacency) to both driven faces take part: isolated clusters and dead-end-free islands are left
//   out (dead ends attached to the network carry no flux and are solved exactly).
//
// Storage: the conducting cells only, as runs along x per (z, y) row, with 9 bytes per cell for the
// stencil (where the y and z neighbours sit in their rows, which neighbours exist); the solution,
// residual and search direction of the conjugate gradients take 24 bytes per cell, the coarse levels
// about a fifth of the finest. Rows may hold at most 65536 voxels.
//
// Convention (stated in every result): tau = eps * D_bulk / D_eff with eps the phase's total volume
// fraction. A uniform block gives tau = 1 exactly. A non-percolating phase gives D_eff = 0 and
// tau = +infinity with a status, never an exception or a NaN.
#pragma once

#include <string>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

enum class SolverStatus {
  kConverged,       // residual and flux balance within tolerance
  kNotConverged,    // max_iterations reached (values are the last iterate)
  kNotPercolating,  // no conducting path joins the two faces: D_eff = 0
};
const char* ToString(SolverStatus s);  // "converged", "not-converged", "not-percolating"

enum class Preconditioner {
  kMultigrid,  // V-cycle of aggregation multigrid: 2x2x2 blocks, Galerkin coarse operators, red-black
               // Gauss-Seidel smoothing, over-corrected coarse correction, single precision
  kJacobi,     // diagonal scaling (the baseline)
};
const char* ToString(Preconditioner p);  // "multigrid", "jacobi"

struct DiffusionOptions {
  int axis = 0;                     // driving direction: 0 = z, 1 = y, 2 = x
  double tolerance = 1e-8;          // stop when ||r|| <= tolerance * ||b|| (2-norms)
  double flux_tolerance = 1e-4;     // converged also needs |Q_in - Q_out| <= this * |Q_in|
  int max_iterations = 100000;
  Preconditioner preconditioner = Preconditioner::kMultigrid;
  bool keep_concentration = false;  // return the solved field (for export)
  // Warm start: the concentration of a solve on a nearby structure (e.g. the previous label sample's,
  // DiffusionResult::concentration along the same axis, same grid) as the first iterate; cells where
  // it is NaN (not part of that solve) start on the linear profile between the faces. The answer is
  // the same solve's to the tolerance; only the iterations differ. Not owned; nullptr = cold (x = 0).
  const Volume<float>* initial = nullptr;
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct DiffusionResult {
  SolverStatus status = SolverStatus::kNotConverged;
  std::string message;
  int axis = 0;
  double volume_fraction = 0;      // eps: conducting voxels / all voxels (coefficient > 0)
  double percolating_fraction = 0; // share of the conducting voxels that joins both faces
  double d_eff = 0;                // effective diffusivity, units of the coefficients (D_bulk = 1 for a mask)
  double tau = 0;                  // eps * D_bulk / D_eff (+inf when not percolating); D_bulk = 1
  double flux_in = 0, flux_out = 0;  // through the inlet and outlet faces (coefficient * um, c drop 1)
  double flux_balance = 0;         // |Q_in - Q_out| / |Q_in|
  double relative_residual = 0;
  int iterations = 0;
  // With keep_concentration: c per voxel, 1 on the inlet face to 0 on the outlet face (dimensionless),
  // NaN outside the cells that take part (other phases, isolated clusters).
  Volume<float> concentration;
  std::string convention =
      "tau = eps * D_bulk / D_eff; eps = total volume fraction of the phase; c = 1 and 0 on the outer "
      "faces of the end layers";
  ResultTable ToTable() const;  // one row: axis, eps, percolating fraction, D_eff/D_bulk, tau, flux balance, iterations
};

// Effective diffusivity of a field of coefficients (0 = does not conduct). D_eff is per unit bulk
// coefficient when all conducting coefficients are 1.
DiffusionResult ComputeEffectiveDiffusivity(const Volume<float>& coefficient, const DiffusionOptions& options);

// Tortuosity factor of the phase where mask != 0 (D_bulk = 1).
DiffusionResult ComputeTortuosity(const Volume<std::uint8_t>& mask, const DiffusionOptions& options);

// Effective electronic conductivity of the solid network, with an inter-particle contact resistance.
struct ConductivityOptions {
  DiffusionOptions solver;                // axis, tolerances, preconditioner, threads
  double contact_resistance_ohm_m2 = 0;   // r_c, in series on every face between two different particles
  bool IsValid(std::string* why) const;
};

struct ConductivityResult {
  DiffusionResult transport;          // the solve; d_eff is sigma_eff in S/m
  double sigma_eff_S_per_m = 0;       // effective conductivity along the axis
  double contact_resistance_ohm_m2 = 0;
  std::int64_t contact_faces = 0;     // voxel faces between two different particles on the network
  double contact_power_share = 0;     // share of the dissipated power (potential drop × current) in contacts
  ResultTable ToTable() const;
};

// sigma: conductivity of each voxel in S/m (0 = insulating: pore); particles: particle id per voxel
// (0 = not a particle, e.g. the carbon-binder domain, which has no contact resistance to anything).
// A face between two cells with different particle ids p, q > 0 conducts as
// 1 / (s / (sigma_h A) + r_c / A): the bulk face conductance in series with the contact.
ConductivityResult ComputeConductivity(const Volume<float>& sigma, const LabelVolume& particles,
                                       const ConductivityOptions& options);

}  // namespace op4d
