// The registration step over a campaign store: every frame registered to the reference frame
// (total) or to its predecessor and composed (incremental), rigid/affine in-process with ITK or
// non-rigid through elastix; the motion turned into F, J and volumetric strain and written back.
//
// Written per frame k (frame k's results): table `registration` (F, t, det F of the linear part, grey
// residual before/after, converged, status code) and, for the non-rigid method, the J field on the
// coarse grid (`J`, float32) and table `strain_summary` (interior statistics of J and eps_v).
// With particles: table `particle_kinematics` (one row per reference particle: centroids, F, J, eps_v,
// residuals, status, and its identity in frame k: the label of frame k's own watershed particle it
// matched (0 = lost), that particle's centroid, the match distance and quality); in the reference
// frame's results also the volume `particle_labels` (uint16, or float32 beyond 65535 particles). Written once: series table `registration_series` (one row per frame, time in s).
// A frame's results are written only after its registration finished, so a failure (elastix missing
// or failing) leaves everything already stored as it was.
#pragma once

#include <cstdint>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "op4d/core/progress.h"
#include "op4d/frame/segment/watershed.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/track/deformation/particles.h"
#include "op4d/track/registration/affine.h"
#include "op4d/track/registration/elastix.h"

namespace op4d {

enum class RegisterMethod { kRigid, kAffine, kElastix };
enum class RegisterStrategy { kTotal, kIncremental };
RegisterMethod RegisterMethodFromString(const std::string& s);      // "rigid", "affine", "elastix"
RegisterStrategy RegisterStrategyFromString(const std::string& s);  // "total", "incremental"
const char* ToString(RegisterMethod m);
const char* ToString(RegisterStrategy s);

struct RegisterRunOptions {
  std::int64_t reference = 0;         // the reference configuration (DESIGN.md: frame 0 by default)
  std::vector<std::int64_t> frames;   // frames to register; empty = all (the reference gets identity)
  RegisterMethod method = RegisterMethod::kAffine;
  RegisterStrategy strategy = RegisterStrategy::kTotal;
  AffineRegistrationOptions affine;   // rigid/affine method
  ElastixOptions elastix;             // elastix method
  int strain_stride = 2;              // J field stored every stride voxels
  bool tensors = false;               // elastix: also store Green-Lagrange E (E_zz, E_yy, E_xx, E_zy, E_zx,
                                      // E_yx) and principal stretches (stretch_1 >= stretch_2 >= stretch_3)
  double interior_margin_um = -1;     // summaries skip this margin; < 0: 10 % of the smallest extent
  std::string out_dir;                // if set: frame_<k>_J.vti (ParaView) and registration_series.csv
  // Per-particle kinematics: the reference frame is segmented (`segment`), its active phase split into
  // particles (`watershed`), and every particle's affine F fitted in each frame (started from the
  // frame's linear motion): table particle_kinematics in each frame's results.
  bool particles = false;
  QuickLookOptions segment;
  WatershedOptions watershed;
  ParticleFitOptions particle_fit;
  ParticleMatchOptions match;         // identity: frame k's own particles matched to the reference's
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct RegisterRunRow {
  std::int64_t frame = 0;
  AffineMap map;                      // linear part, reference -> frame k
  bool converged = true;
  std::string status;
  double rms_before = 0, rms_after = 0;
  double J_linear = 1;                // det F of the linear part
  ResultTable strain_summary;         // elastix method only
  std::int64_t particles = 0, particles_converged = 0;  // with options.particles
  double particle_eps_v_median = NAN;                    // over converged particles
  std::int64_t particles_matched = 0, particles_lost = 0;  // reference particles found / not found in frame k
  std::int64_t particles_new = 0;                         // frame k's particles no reference particle matched
  // Resolution guard (with particles): the reference particles' volume-weighted median (over
  // particles of at least min_voxels) equivalent radius in voxels and Cramér–Rao bound of eps_v (one sigma; from the reference grey gradient over each
  // particle's fit mask and the image noise, both frames noisy), the campaign's strain so far (range
  // of the frames' median eps_v over every registered frame), and whether per-particle eps_v is
  // resolved: the bound at most a tenth of that range. `guard` is the one-line verdict.
  double radius_vox_median = NAN, eps_v_crb_median = NAN, strain_range = NAN, noise_sigma = NAN;
  bool eps_v_resolved = true;
  std::string guard;
  std::vector<std::string> files;
};

std::vector<RegisterRunRow> RunRegistration(const std::string& store_path, const RegisterRunOptions& options);

// The map (reference -> frame k) of a frame's `registration` table as RunRegistration writes it
// (F_zz ... F_xx, t_z, t_y, t_x); nullopt when a column is missing or not finite.
std::optional<AffineMap> RegistrationMap(const ResultTable& registration);

// The register step's resolution guard, read from a stored registration_series (made with
// --particles): the campaign's strain is the range of the frames' median eps_v over every stored row
// (the reference counts as 0), and per-particle eps_v is resolved when the reference's median
// Cramér–Rao bound is at most a tenth of it. Computed from the stored rows, not stored, so parts of a
// campaign registered on frame ranges and merged give the verdict of one run. A series without the
// bound (no --particles, or written by an older op4d) has `known` false and `resolved` true.
struct EpsVGuard {
  bool known = false;
  bool resolved = true;
  double strain_range = NAN, crb_median = NAN, radius_vox_median = NAN, noise_sigma = NAN;
  std::string line;  // the one-line verdict
};
EpsVGuard EvaluateEpsVGuard(const ResultTable& registration_series);

}  // namespace op4d
