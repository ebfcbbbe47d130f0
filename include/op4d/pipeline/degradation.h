// The degradation step over a campaign store: particle cracking, fragmentation and debonding
// through the frames (track/degradation/damage.h, on each reference particle's own motion from the
// register step), and the per-cycle statistics of the per-frame results with their drift per cycle.
//
// Needs the register step with particles (`op4d register STORE --particles`: the reference's
// `particle_labels`, each frame's `particle_kinematics`) and the frames' phase labels (the segment
// step's, or segmented here as FrameLabels does). Cycles come from the time table's `cycle` column,
// or, without it, from the sign changes of `current_A` (a cycle starts where the current turns
// positive after a discharge; stated in the provenance and the summary).
//
// Written per frame: table `particle_damage` (one row per reference particle, damage.h's columns plus
// fragment ids kept through frames in `fragment_ids`'s companion table `fragments`: particle,
// fragment id, voxels, pulled-back centroid). Series tables:
//  - damage_events: per reference particle the crack onset (the first frame from which the particle
//    is cracked in every later measured frame) with its cycle, the fragmentation frame (the same for
//    two or more fragments) and the final fragment count, the debonding onset (tested at
//    each cycle's state frame, CycleStateFrames, against the first cycle's: the first from which its
//    binder contact stays below (1 - debond_drop) of that baseline with a fall beyond twice the
//    counting sd of the difference; comparing like states keeps reversible swelling out), and the contact in the reference and the last frame; crack_clear_frame
//    and debond_clear_frame: the last measured frame before the onset, where the particle was still
//    clear (the change happened after it: frames between whose fit failed were not read);
//  - damage_series: per frame the cycle, measured particles, cracked, fragmented, fragments, debonded
//    and their shares, total binder contact;
//  - cycle_statistics: per cycle the frame at the chosen state (CycleStateFrames: the cycle's frame
//    of lowest or highest SOC) and there every quantity found:
//    porosity (volume_fractions), a_s pore|active (interface_areas), tau_z (tortuosity; DESIGN.md's
//    tau = eps D_bulk / D_eff with eps the whole phase) and tau_z_percolating (eps of the percolating
//    pore only: tau times the percolating fraction; isolated pores such as an internal crack raise
//    tau_z without carrying flux, and a segmentation that misses them moves tau_z's drift by 8-17 %
//    on the scripted campaigns while this one stays within 8 %, bench/RESULTS.md), sigma_eff_z
//    (conductivity), active-binder contact (contacts), open throats and percolation (the throats
//    step's throat_frames row at the frame's time), and the damage counts;
//  - cycle_drift: one row; per quantity Q the least-squares slope per cycle (Q_slope), its standard
//    error (Q_slope_se), 95 % interval (Q_slope_p025, Q_slope_p975; Student t, n - 2 degrees of
//    freedom; NaN below 3 cycles) and the cycles used (Q_cycles);
//  - throat_closures_summary (when the throats step ran): throats, permanent_closures (open in the
//    first frame, closed in the last: closed for good within the campaign) and their share.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "op4d/core/progress.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/frame/segment/watershed.h"
#include "op4d/track/degradation/damage.h"
#include "op4d/track/degradation/events.h"

namespace op4d {

enum class CycleState { kEndOfDischarge, kEndOfCharge };
CycleState CycleStateFromString(const std::string& s);  // "discharge", "charge"; throws ConfigError
const char* ToString(CycleState s);

struct DegradationRunOptions {
  std::int64_t reference = 0;
  std::vector<std::int64_t> frames;  // empty = all
  QuickLookOptions segment;          // the phases' roles and the segmentation FrameLabels reads
  DamageOptions damage;
  double debond_drop = 0.25;         // relative loss of binder contact that counts as debonding
  CycleState state = CycleState::kEndOfDischarge;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Least-squares slope of y against x with its standard error and the 95 % half-width (Student t,
// n - 2 degrees of freedom); NaN where n < 2 (slope) or n < 3 (se, interval).
struct Drift {
  double slope = NAN, se = NAN, half_width_95 = NAN;
  int n = 0;
};
Drift FitDrift(const std::vector<double>& x, const std::vector<double>& y);

struct DriftRow {
  std::string quantity, unit;
  Drift drift;
  double first = NAN, last = NAN;  // the quantity at the first and last cycle
};

struct DegradationSummary {
  std::int64_t frames = 0, particles = 0;
  std::int64_t cracked = 0, fragmented = 0, debonded = 0;  // particles with an onset
  int cycles = 0;
  std::string cycle_source;  // "time table cycle" or "current_A sign changes"
  std::vector<DriftRow> drift;
  std::int64_t throats = -1, permanent_closures = 0;  // from the throats step's throat_history (-1: not run)  // one per quantity found (cycle_drift)
};

// Per cycle, the frame (of `frames`) at `state`: end of discharge = the frame of lowest SOC in the
// cycle, end of charge = highest (time table soc_ref, else charge_Ah; ties go to the later frame);
// without either column the cycle's last frame (discharge) or throws IoError (charge).
std::map<int, std::int64_t> CycleStateFrames(const TimeTable& times, const std::vector<int>& cycle_of,
                                             const std::vector<std::int64_t>& frames, CycleState state,
                                             const std::string& store_path);

DegradationSummary RunDegradation(const std::string& store_path, const DegradationRunOptions& options);

// Cycle numbers (1-based) of the time table's rows: its `cycle` column, else from `current_A` (a new
// cycle where the current turns positive after negative rows). `source` says which. Throws IoError
// naming the store when neither column is there.
std::vector<int> CyclesOfFrames(const TimeTable& times, const std::string& store_path, std::string* source);

// The truth's per-cycle statistics of a synthetic campaign, solved on its truth labels (the truth
// store `truth_path` beside the campaign `store_path`, whose time table gives the cycles and states):
// at each cycle's state frame (CycleStateFrames) the porosity, tau_z and tau_z_percolating (the
// diffusion solve of the tortuosity step on the truth pore, default tolerance), and sigma_eff_z (the
// conductivity step's defaults: active 1 S/m, binder 100 S/m, no contact resistance, the truth
// particles). Written into the truth store by `op4d synth` for a campaign with damage or residual
// swelling as series tables `cycle_truth` (one row per cycle) and `cycle_truth_drift` (cycle_drift's
// columns), so the degradation step's drift is checked against the truth's own.
struct TruthCycleOptions {
  CycleState state = CycleState::kEndOfDischarge;
  double sigma_active_S_per_m = 1.0, sigma_binder_S_per_m = 100.0;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};
struct TruthCycles {
  ResultTable cycles, drift;  // cycle_truth, cycle_truth_drift
};
TruthCycles ComputeTruthCycles(const std::string& truth_path, const std::string& store_path, const TruthCycleOptions& options);
// Computes and writes both tables into the truth store.
TruthCycles WriteTruthCycles(const std::string& truth_path, const std::string& store_path, const TruthCycleOptions& options);

// Merge / split / vanish / birth events of the objects of one phase between consecutive frames
// (track/degradation/events.h): bubbles of a foam, particles of an electrode. The objects of each
// frame are the watershed of the phase with the active role in its phase labels (stored or segmented
// as FrameLabels does); consecutive frames are related by the register step's maps when it ran
// (`registration`: A_prev ∘ A_cur^-1), else by the identity (stated). Written per frame (from the
// second): table label_fates (events.h) and volume event_labels (the frame's objects, to look at);
// series label_event_series: per frame the objects and the continued, merges, merged, splits,
// split_pieces, vanished, born and left_out counts against the previous frame (frame 0: objects only)
// and motion_converged (the register step's converged flag of the frame's map; NaN: identity). A
// map that did not converge relates the frames poorly: its events are suspect (said by the CLI).
struct LabelEventRunOptions {
  std::vector<std::int64_t> frames;  // empty = all, in order
  QuickLookOptions segment;
  WatershedOptions watershed;
  LabelEventOptions events;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};
struct LabelEventSummary {
  std::int64_t frames = 0, merges = 0, merged = 0, splits = 0, vanished = 0, born = 0;
  std::string motion;  // "register step's maps" or "identity (no registration stored)"
  ResultTable series;  // label_event_series
};
LabelEventSummary RunLabelEvents(const std::string& store_path, const LabelEventRunOptions& options);

// The drift columns of one quantity (Q_slope, Q_slope_se, Q_slope_p025, Q_slope_p975, Q_cycles) and
// the relative drift Q_rel_slope (the slope over the first cycle's value, per cycle: the share of the
// starting value lost or gained each cycle; a multiplicative bias of the measurement cancels in it).
void AppendDriftColumns(ResultTable& t, const std::string& quantity, const std::string& unit, const Drift& d, double first);


}  // namespace op4d
