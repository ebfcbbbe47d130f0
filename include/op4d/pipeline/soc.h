// The SOC step over a campaign store: per-particle strains from the register step (tables
// particle_kinematics, `op4d register --particles`), the frames' SOC from the time table (soc_ref,
// or coulomb counting of current_A with the cell capacity), the strain–SOC law (given or calibrated),
// and per frame the particles' SOC with uncertainty and the heterogeneity statistics.
//
// Written per frame: tables particle_soc (label, depth, soc, soc_std, valid) and soc_summary, and
// the region map soc_map (float32 on the reference grid: each reference particle's voxels hold its
// SOC, NaN elsewhere) when the reference frame has the register step's particle_labels; once:
// series table soc_series (frame, time_s, soc_cycler, soc_mean, soc_sd, profile_slope, eps_v_mean)
// and soc_calibration (k, k_std, rms_residual, frames) when calibrated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/track/soc/soc.h"

namespace op4d {

struct SocRunOptions {
  std::int64_t reference = 0;
  bool calibrate = true;          // fit k from the frames' mean strain and SOC; else use `law`
  double k = 0;                   // linear law when not calibrating and no table is given
  std::vector<double> table_soc, table_eps;  // a tabulated law (not calibrated)
  double capacity_Ah = 0;         // coulomb counting when soc_ref is absent (> 0 then)
  double soc0 = 0;                // SOC at the first log row for coulomb counting
  bool charge_positive = true;
  // Per-particle strain uncertainty (1 sigma) for the SOC standard error; < 0: each particle's
  // Cramér–Rao bound from the register step (particle_kinematics eps_v_crb). The calibration's k_std
  // is added in quadrature ((soc - soc_ref) k_std / k).
  double eps_std = -1;
  int histogram_bins = 10, profile_bins = 5;
  // Which fitted particles count: converged ones, not cut by the field of view in the reference or
  // drifting out of it in the frame (touches_border, leaves_view: such fits see part of the surface
  // and read the swelling poorly), of at least this volume (µm³; watershed fragments and specks are
  // small and their strains noisy).
  bool include_border = false;
  double min_particle_um3 = 0;
};

struct SocRunResult {
  std::vector<double> soc_cycler;  // per frame
  LinearCalibration calibration;   // when calibrated
  std::vector<SocStatistics> frames;
  std::vector<std::int64_t> flagged;  // per frame: SOCs outside [-0.05, 1.05] beyond 2 se, left out
  bool eps_v_resolved = true;         // the register step's guard; false: no SOC is reported
};

SocRunResult RunSoc(const std::string& store_path, const SocRunOptions& options);

}  // namespace op4d
