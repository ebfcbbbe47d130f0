// The throat-history step over a campaign store: the pore network of the reference frame, every
// throat carried into every frame with that frame's registration (table `registration`, written by
// the register step; identity when absent) and its radius measured on the frame's distance
// transform, the Young–Laplace open/closed rule with the frame's applied pressure (time-table column
// p_app_Pa), percolation per frame and the history.
//
// Written: series tables throat_frames, throat_history, percolation_summary and throat_radii (one
// row per throat, one column per frame), with reextract throat_births_deaths; with out_dir, CSV files and throat_history.vtp (the
// reference throats along their skeleton paths, radius_<k> and open_<k> per frame for ParaView).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/frame/network/pore_network.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/track/throats/carry.h"
#include "op4d/track/throats/percolation_history.h"

namespace op4d {

struct ThroatRunOptions {
  std::int64_t reference = 0;
  int pore_value = -1;            // >= 0: frames hold labels, pore = value; < 0: segment with `segment`
  QuickLookOptions segment;
  NetworkOptions network;
  YoungLaplace law;               // γ (N/m), θ (degrees), r_min (µm)
  CarryOptions carry;             // search tolerance (µm)
  // Also extract the network of every frame and match its throats to the carried reference ones
  // (MatchThroats): series table throat_births_deaths (per frame: throats, matched, segments, born, died, lost)
  // and the column frames_died of throat_history.
  bool reextract = false;
  std::uint8_t inlet_face = 1;    // Face bits: separator z = 0
  std::uint8_t outlet_face = 2;   // current collector z = max
  std::string out_dir;
  // >= 2: the history carries the segmentation's spread. The reference network stays the point
  // labels'; every frame's radii are measured again on each of its first `ensemble` label samples
  // (segment --ensemble N, N >= ensemble; segmented frames only), giving N histories. Series tables:
  // throat_open_probability (one row per throat, open_<k> = the share of samples in which throat t is
  // open in frame k), throat_frames_ensemble (throat_frames' columns per frame with _mean, _sd, _p05,
  // _p95: percolates_mean is the probability that frame k percolates) and percolation_summary_ensemble
  // (the percolation fraction with its interval). 0 = none.
  int ensemble = 0;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct ThroatRunResult {
  PoreNetwork network;            // of the reference frame
  ThroatSeries series;
  PercolationHistory history;
  std::int64_t frames_with_registration = 0;  // frames whose motion came from the store
  std::vector<ThroatMatch> births_deaths;      // per frame, with reextract
  std::vector<PercolationHistory> ensemble;    // per label sample, with options.ensemble
  std::vector<std::string> files;
};

ThroatRunResult RunThroatHistory(const std::string& store_path, const ThroatRunOptions& options);

// The detected history against a throat-lattice campaign's truth (synth/throat_lattice.h). Every
// reference-network throat is assigned to the truth throat whose axis (in the reference frame) is
// nearest to its bottleneck, if the bottleneck lies within that throat's radius plus half a voxel
// diagonal; a truth throat the extraction split into segments gets them all, and is open in the
// detection when all its segments are (in series). The truth history is the same rule (ThroatOpen) on the truth
// radii and the truth lattice graph. An event is a throat's change of state between consecutive
// frames: a closure (open -> closed) or a reopening. A truth event is found when the detection has
// the same event for that throat at the same frame; a detected event that the truth does not have
// (including every event of a throat assigned to no truth throat) is invented.
struct ThroatTruthCheck {
  std::int64_t truth_throats = 0, detected_throats = 0;
  std::int64_t matched_throats = 0;     // truth throats with at least one detected throat
  std::int64_t unmatched_detected = 0;  // detected throats near no truth throat
  std::int64_t truth_closures = 0, truth_reopenings = 0;
  std::int64_t found_closures = 0, found_reopenings = 0;
  std::int64_t invented_closures = 0, invented_reopenings = 0;
  std::int64_t frames = 0, percolation_agrees = 0;  // frames whose percolates flag equals the truth's
  double truth_percolation_fraction = 0, detected_percolation_fraction = 0;
  // With a re-extracted run (reextract): throat-frames where the truth throat is swollen shut, those
  // where the detection has it dead (a segment without a partner in the frame's network), detected
  // deaths of open truth throats, and throats born, summed over frames.
  bool reextracted = false;
  std::int64_t truth_shut = 0, shut_found = 0, deaths_invented = 0, born = 0;
  // Found events over truth events (1 when the truth has none).
  double EventRecall() const;
  ResultTable Table() const;  // "throat_truth_check", one row
};

// Throws IoError naming the truth file and table when the truth is not a throat-lattice campaign's
// (no radius_um column) or does not have the run's frames.
ThroatTruthCheck CheckThroatHistory(const ThroatRunResult& run, const std::string& truth_path, const YoungLaplace& law,
                                    std::int64_t reference);

}  // namespace op4d
