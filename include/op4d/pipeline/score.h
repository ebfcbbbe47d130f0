// The truth scorecard: a campaign store's stored results against the ground truth written beside a
// synthetic campaign (`<store>.truth.h5`: phase labels, particle ids and per-particle SOC and eps_v
// per frame, the drift). Every truth counterpart is computed with the same kernel and options the
// measured number came from, on the truth labels: fractions and a_s on the truth phases, tau by the
// same finite-volume solver on the truth pore, sigma_eff with the truth particles' contacts, the
// reference pore network of the store carried through the truth frames with the exact drift for the
// throat events. Each row has a target; the card passes when every scored row does.
//
// With a label ensemble (segment --ensemble N) the fraction, a_s and tau rows carry the worst
// frame's 5-95 % interval, and one row per metric the ensemble was calibrated for (porosity,
// binder fraction, a_s pore|active, tau_z) gives the share of frames whose interval holds the truth.
//
// Written: series table `scorecard` (one row per quantity: frame (-1 = whole campaign), measured,
// truth, error, target, pass (1/0), measured_p05, measured_p95, interval_calibrated); the quantity names, units and rules are in its provenance
// ("rows"), for the report.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/progress.h"
#include "op4d/core/table.h"

namespace op4d {

struct ScoreRow {
  std::string quantity;      // e.g. "binder fraction (worst frame)"
  std::string unit;          // of measured/truth/error
  std::int64_t frame = -1;   // -1: the campaign as a whole (or the worst frame, named in `rule`)
  double measured = 0, truth = 0, error = 0;  // error = measured - truth, or as `rule` says
  double target = 0;         // |error| <= target passes (for share rows: error >= target)
  std::string rule;          // how the row is scored, one line
  bool at_least = false;     // passes when measured >= target (shares, counts of events)
  bool pass = false;
  // The measured value's 5-95 % interval from the label ensemble (segment --ensemble; NaN without
  // one) and whether that frame lies in the ensemble's calibrated domain (else the interval is the
  // model's spread, not an error bar, and is printed "(uncal.)").
  double p05 = NAN, p95 = NAN;
  bool interval_calibrated = true;
};

struct Scorecard {
  std::vector<ScoreRow> rows;
  std::string truth_path;
  bool AllPass() const;
  std::int64_t Failed() const;
  ResultTable Table() const;        // "scorecard"
  std::string RowsJson() const;     // quantity, unit, frame, rule per row (the table's provenance)
};

struct ScoreOptions {
  std::string truth_path;           // default: <store without .h5>.truth.h5
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Scores every stored result the truth can check; throws IoError naming the file and table when the
// truth is missing or not of this campaign (other shape or frame count). Rows whose measured tables
// are absent are left out (the table says which steps to run). Writes the series table into the store.
Scorecard ScoreCampaign(const std::string& store_path, const ScoreOptions& options);

// Scores a measured result set against the truth without a store: the kernel the command uses, and
// what the tests drive (set a quantity to the truth: zero error; perturb one: exactly that row fails).
ScoreRow ScoreValue(const std::string& quantity, const std::string& unit, std::int64_t frame, double measured,
                    double truth, double target, bool relative, const std::string& rule);

// The table as printed at the end of the main job.
std::string FormatScorecard(const Scorecard& card);

// The stored scorecard of a store (for the report); empty rows when none.
Scorecard ReadScorecard(const std::string& store_path);

}  // namespace op4d
