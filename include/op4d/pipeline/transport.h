// The transport step: a frame of the store (labels, or grey values segmented as the quick look does)
// → tortuosity factor of one phase along the chosen axes by the finite-volume solver → table
// "tortuosity" in the frame's results, CSV, and optionally the concentration fields for ParaView.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/frame/segment/watershed.h"
#include "op4d/frame/transport/diffusion.h"
#include "op4d/pipeline/campaign.h"

namespace op4d {

struct TransportRunOptions {
  std::vector<std::int64_t> frames;  // frames to analyse; empty = all
  // >= 0: the frames hold labels and the phase is where the value equals `value` (an imported
  // segmentation); < 0: the frames are grey values, segmented with `segment`, and the phase is the
  // one of segment.phases named `phase` ("pore", "active", "binder" in the electrode table).
  int value = -1;
  std::string phase = "pore";
  QuickLookOptions segment;
  std::string axes = "zyx";  // driving directions, any of z, y, x
  DiffusionOptions solver;   // tolerances, preconditioner, threads (axis is set per direction)
  std::string out_dir;       // if set: <out_dir>/frame_<k>_tortuosity.csv
  bool write_field = false;  // and <out_dir>/frame_<k>_c_<axis>.vti, the concentration field per axis
  // >= 2: also the tortuosity of the first `ensemble` label samples the segment step stored
  // (segment --ensemble N, N >= ensemble; segmented frames only): the per-frame table
  // "tortuosity_ensemble", one row per axis: axis, then for volume_fraction, percolating_fraction,
  // d_eff_over_d_bulk and tau the point value (the stored labels) and _mean, _sd, _p05, _p95 over the
  // samples (a sample whose phase does not percolate counts tau +inf, D_eff 0), then samples,
  // non_percolating (samples), seconds_per_sample [s] and iterations_per_sample (each solve is
  // warm-started from the previous sample's field, the first from the point labels'). 0 = none.
  int ensemble = 0;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct TransportRunRow {
  std::int64_t frame = 0;
  ResultTable table;               // one row per axis: DiffusionResult::ToTable() and seconds
  ResultTable ensemble;            // "tortuosity_ensemble" when options.ensemble (empty otherwise)
  std::vector<std::string> files;  // files written
};

// The tortuosity table of a phase mask along each axis of `axes` (one row per axis; a column
// "seconds" with the solve time). Fields, if `fields` is given, receive the concentration per axis.
// `initial`, if given, holds one field per axis of `axes` to warm-start each solve from
// (DiffusionOptions::initial; e.g. the fields of the previous label sample).
ResultTable TortuosityTable(const Volume<std::uint8_t>& mask, const std::string& axes, const DiffusionOptions& solver,
                            std::vector<Volume<float>>* fields = nullptr, ProgressStyle progress = ProgressStyle::kOff,
                            const std::vector<Volume<float>>* initial = nullptr);

// Writes <base>_tortuosity.csv and, per axis of `axes` with a field, <base>_c_<axis>.vti (the
// concentration, NaN outside the phase). Returns the paths written.
std::vector<std::string> WriteTortuosityFiles(const std::string& base, const ResultTable& table,
                                              const std::vector<Volume<float>>& fields, const std::string& axes);

// Runs TortuosityTable on each frame and writes it into the frame's results (with provenance).
std::vector<TransportRunRow> RunTransport(const std::string& store_path, const TransportRunOptions& options);

}  // namespace op4d

namespace op4d {

// The conductivity step: effective electronic conductivity of the solid of every frame along each
// axis, with a contact resistance between touching active particles. The frame is segmented (or its
// stored labels used; a label campaign's frames are the labels); the active phase conducts with sigma_active, the carbon-binder with
// sigma_binder, the pore not at all; active particles are separated by the watershed, and every voxel
// face between two different particles has r_c in series. Table "conductivity" per frame, one row per
// axis: ConductivityResult::ToTable() (sigma_eff in S/m, tau_electronic, contact faces and power share)
// and the ratio sigma_eff / sigma_active.
struct ConductivityRunOptions {
  std::vector<std::int64_t> frames;  // empty = every frame
  QuickLookOptions segment;
  std::string axes = "z";
  double sigma_active_S_per_m = 1.0;     // e.g. NMC
  double sigma_binder_S_per_m = 100.0;   // carbon-binder domain
  double contact_resistance_ohm_m2 = 0;  // r_c between touching particles
  WatershedOptions watershed;
  DiffusionOptions solver;               // tolerances, threads (axis from `axes`)
  // >= 2: also the conductivity of the first `ensemble` label samples the segment step stored
  // (segment --ensemble N, N >= ensemble): the per-frame table "conductivity_ensemble", one row per
  // axis: axis, then for volume_fraction, percolating_fraction, sigma_eff [S/m], tau_electronic,
  // contact_faces, contact_power_share and sigma_eff_over_sigma_active the point value and _mean,
  // _sd, _p05, _p95 over the samples (SummarizeTableEnsemble), samples and seconds_per_sample [s].
  int ensemble = 0;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Returns frame -> table, as written into the frames' results.
std::vector<std::pair<std::int64_t, ResultTable>> RunConductivity(const std::string& store_path, const ConductivityRunOptions& options);

}  // namespace op4d
