#include "op4d/frame/transport/diffusion.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <functional>
#include <memory>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {
namespace {

constexpr std::int64_t kGrain = 4096;

// Deterministic sum over [0, n): the same partition and order for any thread count.
template <class F>
double Sum(std::int64_t n, ThreadBudget threads, F&& term) {
  return RunInArena(threads, [&] {
    return tbb::parallel_deterministic_reduce(
        tbb::blocked_range<std::int64_t>(0, n, kGrain), 0.0,
        [&](const tbb::blocked_range<std::int64_t>& r, double acc) {
          for (std::int64_t i = r.begin(); i != r.end(); ++i) acc += term(i);
          return acc;
        },
        [](double a, double b) { return a + b; });
  });
}

template <class F>
void ForEach(std::int64_t n, ThreadBudget threads, F&& body) {
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kGrain), [&](const tbb::blocked_range<std::int64_t>& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) body(i);
    });
  });
}

// One level of the operator: cells of a grid, each with up to 6 face neighbours.
//   (A x)_i = diag_i x_i - sum_k g_ik x_nbr(i,k)
struct Level {
  Index3 shape{0, 0, 0};
  std::vector<std::int64_t> pos;                // cell -> linear index in this level's grid
  std::vector<std::array<std::int32_t, 6>> nbr;  // -z, +z, -y, +y, -x, +x neighbour cell or -1
  std::vector<std::array<double, 6>> g;         // conductance to each neighbour (0 if none)
  std::vector<double> diag;
  // Towards the next coarser level: parent aggregate of every cell; children of each coarse cell.
  std::vector<std::int32_t> parent;
  std::vector<std::int64_t> child_start;  // on the coarse level: children of cell I are
  std::vector<std::int32_t> children;     // children[child_start[I] .. child_start[I+1])
  std::int64_t size() const { return std::int64_t(diag.size()); }
};

void Apply(const Level& L, const std::vector<double>& x, std::vector<double>& y, ThreadBudget t) {
  ForEach(L.size(), t, [&](std::int64_t i) {
    double acc = L.diag[std::size_t(i)] * x[std::size_t(i)];
    const auto& nb = L.nbr[std::size_t(i)];
    const auto& gg = L.g[std::size_t(i)];
    for (int k = 0; k < 6; ++k)
      if (nb[k] >= 0) acc -= gg[k] * x[std::size_t(nb[k])];
    y[std::size_t(i)] = acc;
  });
}

// Aggregates 2x2x2 blocks of the grid; the Galerkin operator P^T A P of a piecewise-constant P is
// again a face-neighbour grid operator (blocks are aligned, so only face-adjacent blocks couple).
Level Coarsen(Level& fine) {
  Level c;
  for (int a = 0; a < 3; ++a) c.shape[a] = (fine.shape[a] + 1) / 2;
  const std::int64_t fs[3] = {fine.shape[1] * fine.shape[2], fine.shape[2], 1};
  const std::int64_t cs[3] = {c.shape[1] * c.shape[2], c.shape[2], 1};
  std::vector<std::int64_t> block(std::size_t(fine.size()));
  for (std::int64_t i = 0; i < fine.size(); ++i) {
    const std::int64_t p = fine.pos[std::size_t(i)];
    std::int64_t cp = 0;
    for (int a = 0; a < 3; ++a) cp += ((p / fs[a]) % fine.shape[a]) / 2 * cs[a];
    block[std::size_t(i)] = cp;
  }
  // Coarse cells in scan order of their block (deterministic).
  std::vector<std::int64_t> order(block);
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  c.pos = order;
  const std::int64_t nc = std::int64_t(order.size());
  fine.parent.resize(std::size_t(fine.size()));
  for (std::int64_t i = 0; i < fine.size(); ++i)
    fine.parent[std::size_t(i)] = std::int32_t(std::lower_bound(order.begin(), order.end(), block[std::size_t(i)]) - order.begin());
  c.child_start.assign(std::size_t(nc) + 1, 0);
  for (std::int64_t i = 0; i < fine.size(); ++i) ++c.child_start[std::size_t(fine.parent[std::size_t(i)]) + 1];
  for (std::int64_t I = 0; I < nc; ++I) c.child_start[std::size_t(I) + 1] += c.child_start[std::size_t(I)];
  c.children.resize(std::size_t(fine.size()));
  {
    std::vector<std::int64_t> fill(c.child_start.begin(), c.child_start.end() - 1);
    for (std::int64_t i = 0; i < fine.size(); ++i) c.children[std::size_t(fill[std::size_t(fine.parent[std::size_t(i)])]++)] = std::int32_t(i);
  }
  c.nbr.assign(std::size_t(nc), {-1, -1, -1, -1, -1, -1});
  c.g.assign(std::size_t(nc), {0, 0, 0, 0, 0, 0});
  c.diag.assign(std::size_t(nc), 0.0);
  for (std::int64_t I = 0; I < nc; ++I) {
    double d = 0;
    for (std::int64_t k = c.child_start[std::size_t(I)]; k < c.child_start[std::size_t(I) + 1]; ++k) {
      const std::int32_t i = c.children[std::size_t(k)];
      d += fine.diag[std::size_t(i)];
      for (int dir = 0; dir < 6; ++dir) {
        const std::int32_t j = fine.nbr[std::size_t(i)][dir];
        if (j < 0) continue;
        const std::int32_t J = fine.parent[std::size_t(j)];
        if (J == I) {
          d -= fine.g[std::size_t(i)][dir];  // internal edge: counted once from each end
        } else {
          c.nbr[std::size_t(I)][dir] = J;
          c.g[std::size_t(I)][dir] += fine.g[std::size_t(i)][dir];
        }
      }
    }
    c.diag[std::size_t(I)] = d;
  }
  return c;
}

// Symmetric V-cycle (damped Jacobi before and after, exact coarsest solve): an SPD preconditioner.
class Multigrid {
 public:
  Multigrid(Level fine, ThreadBudget threads) : threads_(threads) {
    levels_.push_back(std::move(fine));
    while (levels_.back().size() > kCoarsest) {
      Level c = Coarsen(levels_.back());
      if (c.size() >= levels_.back().size()) break;
      levels_.push_back(std::move(c));
    }
    const Level& L = levels_.back();
    const std::int64_t n = L.size();
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n, n);
    for (std::int64_t i = 0; i < n; ++i) {
      A(i, i) = L.diag[std::size_t(i)];
      for (int k = 0; k < 6; ++k)
        if (L.nbr[std::size_t(i)][k] >= 0) A(i, L.nbr[std::size_t(i)][k]) -= L.g[std::size_t(i)][k];
    }
    coarse_.compute(A);
    OP4D_CHECK_MSG(coarse_.info() == Eigen::Success, "coarsest multigrid operator is not positive definite");
    work_.resize(levels_.size());
    for (std::size_t l = 0; l < levels_.size(); ++l)
      for (auto* v : {&work_[l].x, &work_[l].b, &work_[l].r}) v->assign(std::size_t(levels_[l].size()), 0.0);
  }
  const Level& fine() const { return levels_[0]; }
  int depth() const { return int(levels_.size()); }
  // z = M^-1 r
  void Precondition(const std::vector<double>& r, std::vector<double>& z) {
    work_[0].b = r;
    Cycle(0);
    z = work_[0].x;
  }

 private:
  static constexpr std::int64_t kCoarsest = 1500;
  static constexpr double kOmega = 0.6;
  static constexpr int kSweeps = 2;
  struct Work {
    std::vector<double> x, b, r;
  };

  void Smooth(std::size_t l) {
    const Level& L = levels_[l];
    Work& w = work_[l];
    for (int s = 0; s < kSweeps; ++s) {
      Apply(L, w.x, w.r, threads_);
      ForEach(L.size(), threads_, [&](std::int64_t i) {
        w.x[std::size_t(i)] += kOmega * (w.b[std::size_t(i)] - w.r[std::size_t(i)]) / L.diag[std::size_t(i)];
      });
    }
  }

  void Cycle(std::size_t l) {
    Work& w = work_[l];
    const Level& L = levels_[l];
    if (l + 1 == levels_.size()) {
      Eigen::Map<const Eigen::VectorXd> b(w.b.data(), L.size());
      Eigen::Map<Eigen::VectorXd>(w.x.data(), L.size()) = coarse_.solve(b);
      return;
    }
    std::fill(w.x.begin(), w.x.end(), 0.0);
    Smooth(l);
    Apply(L, w.x, w.r, threads_);
    const Level& C = levels_[l + 1];
    Work& cw = work_[l + 1];
    ForEach(C.size(), threads_, [&](std::int64_t I) {  // restriction: sum over each aggregate
      double s = 0;
      for (std::int64_t k = C.child_start[std::size_t(I)]; k < C.child_start[std::size_t(I) + 1]; ++k) {
        const std::int32_t i = C.children[std::size_t(k)];
        s += w.b[std::size_t(i)] - w.r[std::size_t(i)];
      }
      cw.b[std::size_t(I)] = s;
    });
    Cycle(l + 1);
    ForEach(L.size(), threads_, [&](std::int64_t i) { w.x[std::size_t(i)] += cw.x[std::size_t(L.parent[std::size_t(i)])]; });
    Smooth(l);
  }

  ThreadBudget threads_;
  std::vector<Level> levels_;
  std::vector<Work> work_;
  Eigen::LLT<Eigen::MatrixXd> coarse_;
};

}  // namespace

const char* ToString(SolverStatus s) {
  switch (s) {
    case SolverStatus::kConverged: return "converged";
    case SolverStatus::kNotConverged: return "not-converged";
    case SolverStatus::kNotPercolating: return "not-percolating";
  }
  return "not-converged";
}

const char* ToString(Preconditioner p) { return p == Preconditioner::kJacobi ? "jacobi" : "multigrid"; }

bool DiffusionOptions::IsValid(std::string* why) const {
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (axis < 0 || axis > 2) return bad("axis must be 0 (z), 1 (y) or 2 (x)");
  if (!(tolerance > 0 && tolerance < 1)) return bad("tolerance must be in (0, 1)");
  if (!(flux_tolerance > 0)) return bad("flux_tolerance must be > 0");
  if (max_iterations < 1) return bad("max_iterations must be >= 1");
  return true;
}

ResultTable DiffusionResult::ToTable() const {
  ResultTable t{"tortuosity",
                {{"axis", "1", {double(axis)}},
                 {"volume_fraction", "1", {volume_fraction}},
                 {"percolating_fraction", "1", {percolating_fraction}},
                 {"d_eff_over_d_bulk", "1", {d_eff}},
                 {"tau", "1", {tau}},
                 {"flux_balance", "1", {flux_balance}},
                 {"relative_residual", "1", {relative_residual}},
                 {"iterations", "1", {double(iterations)}},
                 {"converged", "1", {status == SolverStatus::kConverged ? 1.0 : 0.0}}}};
  return t;
}

namespace internal_transport {

// Conductance of the face between voxels v and w (neighbours along `axis`), given the harmonic-mean
// face conductance g (coefficient × µm); identity for plain diffusion.
using FaceConductance = std::function<double(std::int64_t v, std::int64_t w, int axis, double g)>;
// Called with the level-0 operator, its cells' voxel indices and the solution, after convergence.
using Inspect = std::function<void(const Level& A, const std::vector<std::int64_t>& voxel, const std::vector<double>& x)>;

DiffusionResult SolveTransport(const Volume<float>& D, const DiffusionOptions& o, const FaceConductance& face,
                               const Inspect& inspect) {
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("diffusion", why);
  if (D.empty()) throw InvalidArgument("diffusion on an empty volume");
  const Index3 s = D.shape();
  const Vec3 sp = D.spacing_um();
  const int a = o.axis;
  DiffusionResult res;
  res.axis = a;
  // Conducting voxels; coefficients must be finite and non-negative.
  Volume<std::uint8_t> cond(D.geometry());
  for (std::int64_t i = 0; i < D.size(); ++i) {
    if (!(D[i] >= 0.0f) || !std::isfinite(D[i])) {
      const std::int64_t z = i / (s[1] * s[2]), y = (i / s[2]) % s[1], x = i % s[2];
      throw InvalidArgument("diffusion coefficient at voxel (" + std::to_string(z) + ", " + std::to_string(y) + ", " +
                            std::to_string(x) + ") is " + std::to_string(D[i]) + ": must be finite and >= 0");
    }
    cond[i] = D[i] > 0.0f;
  }
  // Cells: conducting voxels in 6-connected components that touch both driven faces.
  const ComponentLabels cl = LabelComponents(cond, {Connectivity::k6, o.threads});
  std::int64_t conducting = 0, spanning = 0;
  for (const Component& c : cl.components) {
    conducting += c.voxels;
    if (c.Spans(a)) spanning += c.voxels;
  }
  res.volume_fraction = double(conducting) / double(D.size());
  res.percolating_fraction = conducting > 0 ? double(spanning) / double(conducting) : 0.0;
  if (spanning == 0) {
    res.status = SolverStatus::kNotPercolating;
    res.d_eff = 0;
    res.tau = std::numeric_limits<double>::infinity();
    static const char* kAxis[3] = {"z", "y", "x"};
    res.message = std::string("the phase does not connect the two faces normal to ") + kAxis[a] +
                  ": D_eff = 0, tau = infinity";
    return res;
  }
  if (spanning >= std::int64_t(INT32_MAX)) throw InvalidArgument("more than 2^31 conducting cells");
  std::vector<std::int64_t> voxel;  // cell -> voxel index
  voxel.reserve(std::size_t(spanning));
  Volume<std::int32_t> cell(D.geometry(), -1);
  for (std::int64_t i = 0; i < D.size(); ++i) {
    const std::int32_t l = cl.labels[i];
    if (l > 0 && cl.components[std::size_t(l - 1)].Spans(a)) {
      cell[i] = std::int32_t(voxel.size());
      voxel.push_back(i);
    }
  }
  const std::int64_t n = std::int64_t(voxel.size());
  const std::int64_t stride[3] = {s[1] * s[2], s[2], 1};
  // Face conductance factor A_face / spacing per axis (µm): face area is the product of the other two.
  double gfac[3];
  for (int ax = 0; ax < 3; ++ax) gfac[ax] = sp[0] * sp[1] * sp[2] / (sp[ax] * sp[ax]);
  auto coord = [&](std::int64_t v, int ax) { return (v / stride[ax]) % s[ax]; };
  // Boundary conductance of a cell to the inlet/outlet face: half a cell, D_i A / (s/2).
  auto g_bound = [&](std::int64_t v) { return 2.0 * gfac[a] * double(D[v]); };
  // Level 0 of the operator: neighbours with harmonic-mean face conductances, boundary terms in diag.
  const std::size_t cells = static_cast<std::size_t>(n);
  Level L0;
  L0.shape = s;
  L0.pos = voxel;
  L0.nbr.assign(cells, {-1, -1, -1, -1, -1, -1});
  L0.g.assign(cells, {0, 0, 0, 0, 0, 0});
  L0.diag.assign(cells, 0.0);
  std::vector<double> b(cells, 0.0);
  ForEach(n, o.threads, [&](std::int64_t i) {
    const std::int64_t v = voxel[std::size_t(i)];
    double d = 0;
    for (int ax = 0; ax < 3; ++ax) {
      const std::int64_t c = coord(v, ax);
      for (int side = 0; side < 2; ++side) {
        const std::int64_t cc = c + (side ? 1 : -1);
        if (cc < 0 || cc >= s[ax]) continue;
        const std::int64_t w = v + (side ? 1 : -1) * stride[ax];
        if (cell[w] < 0) continue;
        double g = gfac[ax] * 2.0 * double(D[v]) * double(D[w]) / (double(D[v]) + double(D[w]));
        if (face) g = face(v, w, ax, g);
        L0.nbr[std::size_t(i)][2 * ax + side] = cell[w];
        L0.g[std::size_t(i)][2 * ax + side] = g;
        d += g;
      }
    }
    const std::int64_t ca = coord(v, a);
    if (ca == 0) {
      d += g_bound(v);
      b[std::size_t(i)] = g_bound(v);  // c = 1 on the inlet face
    }
    if (ca == s[a] - 1) d += g_bound(v);  // c = 0 on the outlet face
    L0.diag[std::size_t(i)] = d;
  });
  // Preconditioned conjugate gradients.
  std::unique_ptr<Multigrid> mg;
  if (o.preconditioner == Preconditioner::kMultigrid) mg = std::make_unique<Multigrid>(std::move(L0), o.threads);
  const Level& A = mg ? mg->fine() : L0;
  auto precondition = [&](const std::vector<double>& r, std::vector<double>& z) {
    if (mg) mg->Precondition(r, z);
    else ForEach(n, o.threads, [&](std::int64_t i) { z[std::size_t(i)] = r[std::size_t(i)] / A.diag[std::size_t(i)]; });
  };
  std::vector<double> x(cells, 0.0), r = b, z(cells), p(cells), q(cells);
  const double bnorm = std::sqrt(Sum(n, o.threads, [&](std::int64_t i) { return b[std::size_t(i)] * b[std::size_t(i)]; }));
  precondition(r, z);
  p = z;
  double rz = Sum(n, o.threads, [&](std::int64_t i) { return r[std::size_t(i)] * z[std::size_t(i)]; });
  double rnorm = bnorm;
  int it = 0;
  while (it < o.max_iterations && rnorm > o.tolerance * bnorm) {
    Apply(A, p, q, o.threads);
    const double alpha = rz / Sum(n, o.threads, [&](std::int64_t i) { return p[std::size_t(i)] * q[std::size_t(i)]; });
    ForEach(n, o.threads, [&](std::int64_t i) {
      x[std::size_t(i)] += alpha * p[std::size_t(i)];
      r[std::size_t(i)] -= alpha * q[std::size_t(i)];
    });
    rnorm = std::sqrt(Sum(n, o.threads, [&](std::int64_t i) { return r[std::size_t(i)] * r[std::size_t(i)]; }));
    precondition(r, z);
    const double rz_new = Sum(n, o.threads, [&](std::int64_t i) { return r[std::size_t(i)] * z[std::size_t(i)]; });
    const double beta = rz_new / rz;
    rz = rz_new;
    ForEach(n, o.threads, [&](std::int64_t i) { p[std::size_t(i)] = z[std::size_t(i)] + beta * p[std::size_t(i)]; });
    ++it;
  }
  res.iterations = it;
  res.relative_residual = rnorm / bnorm;
  // Fluxes through the two driven faces.
  res.flux_in = Sum(n, o.threads, [&](std::int64_t i) {
    const std::int64_t v = voxel[std::size_t(i)];
    return coord(v, a) == 0 ? g_bound(v) * (1.0 - x[std::size_t(i)]) : 0.0;
  });
  res.flux_out = Sum(n, o.threads, [&](std::int64_t i) {
    const std::int64_t v = voxel[std::size_t(i)];
    return coord(v, a) == s[a] - 1 ? g_bound(v) * x[std::size_t(i)] : 0.0;
  });
  res.flux_balance = std::abs(res.flux_in - res.flux_out) / std::abs(res.flux_in);
  // D_eff from the mean flux: Q = D_eff * A_cross * (1 / L).
  const double length = double(s[a]) * sp[a];
  double area = 1;
  for (int ax = 0; ax < 3; ++ax)
    if (ax != a) area *= double(s[ax]) * sp[ax];
  res.d_eff = 0.5 * (res.flux_in + res.flux_out) * length / area;
  res.tau = res.volume_fraction / res.d_eff;
  const bool ok = res.relative_residual <= o.tolerance && res.flux_balance <= o.flux_tolerance;
  res.status = ok ? SolverStatus::kConverged : SolverStatus::kNotConverged;
  res.message = std::string(ok ? "converged" : "not converged") + " after " + std::to_string(it) +
                " iterations (relative residual " + std::to_string(res.relative_residual) + ", flux balance " +
                std::to_string(res.flux_balance) + ")";
  if (inspect) inspect(A, voxel, x);
  return res;
}

}  // namespace internal_transport

DiffusionResult ComputeEffectiveDiffusivity(const Volume<float>& D, const DiffusionOptions& o) {
  return internal_transport::SolveTransport(D, o, nullptr, nullptr);
}

bool ConductivityOptions::IsValid(std::string* why) const {
  if (!solver.IsValid(why)) return false;
  if (!(contact_resistance_ohm_m2 >= 0) || !std::isfinite(contact_resistance_ohm_m2)) {
    if (why) *why = "contact_resistance_ohm_m2 must be a finite number >= 0";
    return false;
  }
  return true;
}

ResultTable ConductivityResult::ToTable() const {
  ResultTable t = transport.ToTable();
  t.name = "conductivity";
  for (ResultColumn& c : t.columns) {  // the solve's D_eff is sigma_eff here
    if (c.name == "d_eff_over_d_bulk") c = {"sigma_eff", "S/m", {sigma_eff_S_per_m}};
    if (c.name == "tau") c.name = "tau_electronic";
  }
  t.columns.push_back({"contact_resistance", "ohm m^2", {contact_resistance_ohm_m2}});
  t.columns.push_back({"contact_faces", "1", {double(contact_faces)}});
  t.columns.push_back({"contact_power_share", "1", {contact_power_share}});
  return t;
}

ConductivityResult ComputeConductivity(const Volume<float>& sigma, const LabelVolume& particles,
                                       const ConductivityOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("conductivity", why);
  if (particles.shape() != sigma.shape())
    throw InvalidArgument("particle labels and conductivities have different shapes");
  const Vec3 sp = sigma.spacing_um();
  const double rc = options.contact_resistance_ohm_m2;
  // Face area (µm²) normal to each axis.
  const double area[3] = {sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1]};
  // Contact conductance in the solver's units (S/m × µm): G_SI = A / r_c with A in m², and the solver
  // works in G_SI / 1e-6 (conductivity in S/m times lengths in µm).
  auto contact_g = [&](int axis) { return area[axis] * 1e-6 / rc; };
  auto is_contact = [&](std::int64_t v, std::int64_t w) {
    return particles[v] > 0 && particles[w] > 0 && particles[v] != particles[w];
  };
  ConductivityResult out;
  out.contact_resistance_ohm_m2 = rc;
  internal_transport::FaceConductance face;
  if (rc > 0)
    face = [&](std::int64_t v, std::int64_t w, int axis, double g) {
      return is_contact(v, w) ? 1.0 / (1.0 / g + 1.0 / contact_g(axis)) : g;
    };
  double contact_power = 0;
  const auto inspect = [&](const Level& A, const std::vector<std::int64_t>& voxel, const std::vector<double>& x) {
    // Every contact face once (from its lower cell): current I = g dx, power in the contact I^2 / G_c.
    for (std::int64_t i = 0; i < A.size(); ++i)
      for (int ax = 0; ax < 3; ++ax) {
        const std::int32_t j = A.nbr[std::size_t(i)][2 * ax + 1];
        if (j < 0 || !is_contact(voxel[std::size_t(i)], voxel[std::size_t(j)])) continue;
        ++out.contact_faces;
        if (rc > 0) {
          const double I = A.g[std::size_t(i)][2 * ax + 1] * (x[std::size_t(i)] - x[std::size_t(j)]);
          contact_power += I * I / contact_g(ax);
        }
      }
  };
  out.transport = internal_transport::SolveTransport(sigma, options.solver, face, inspect);
  out.sigma_eff_S_per_m = out.transport.d_eff;
  // Total dissipated power for a unit potential difference is the current Q.
  const double q = 0.5 * (out.transport.flux_in + out.transport.flux_out);
  out.contact_power_share = q > 0 ? contact_power / q : 0.0;
  return out;
}

DiffusionResult ComputeTortuosity(const Volume<std::uint8_t>& mask, const DiffusionOptions& options) {
  Volume<float> d(mask.geometry());
  for (std::int64_t i = 0; i < mask.size(); ++i) d[i] = mask[i] ? 1.0f : 0.0f;
  return ComputeEffectiveDiffusivity(d, options);
}

}  // namespace op4d
