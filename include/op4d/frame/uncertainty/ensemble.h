// Statistics of a metric over an ensemble of label samples, and the two baselines the coherent
// sampler (label_sampler.h) is measured against: independent per-voxel draws from the mixture's
// posteriors, and the closed-form expected phase fractions of those posteriors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

// One metric over N samples, beside its value on the point segmentation.
struct EnsembleStat {
  double point = 0;          // the metric on the point (single) segmentation
  double mean = 0, sd = 0;   // over the finite sample values (sd with N - 1); NaN when none is finite
  double p05 = 0, p95 = 0;   // 5 % and 95 % quantiles (linear interpolation between order statistics) of
                             // all values, +inf counted as the largest (a non-percolating tau)
  int samples = 0;           // N
  int finite = 0;            // samples with a finite value
};
// Throws InvalidArgument for fewer than 2 values or a NaN among them (a metric that failed).
EnsembleStat SummarizeEnsemble(double point, const std::vector<double>& values);

// The ensemble of a whole table: `point` computed on the point segmentation, samples[s] the same
// table computed on label sample s. The rows are the point table's, found in every sample by the
// values of the `keys` columns (e.g. a phase label, an axis; no keys: row by row). The key columns are
// copied; every other column M gives M (the point value), M_mean, M_sd, M_p05, M_p95 in M's unit
// (SummarizeEnsemble over the samples where the row exists and M is not NaN; NaN when fewer than 2
// are); then "samples" [1], the number of samples. Throws InvalidArgument for fewer than 2 samples or
// a key column the point table lacks.
ResultTable SummarizeTableEnsemble(const std::string& name, const ResultTable& point, const std::vector<ResultTable>& samples,
                                   const std::vector<std::string>& keys);

// Quantile q in [0, 1] of sorted values, linear interpolation between order statistics (type 7).
double SortedQuantile(const std::vector<double>& sorted, double q);

// A label volume with every voxel's class drawn independently from the posteriors (uint8 per class,
// round(255 p), classes in class_labels order), seeded by (seed, voxel): the per-voxel baseline.
PhaseVolume IndependentLabelSample(const std::vector<Volume<std::uint8_t>>& posteriors,
                                   const std::vector<std::uint8_t>& class_labels, std::uint64_t seed,
                                   ThreadBudget threads = {});

// The expected volume fraction of every class under the posteriors: the mean of p over the frame
// (the soft-label estimate, closed form). One value per class.
std::vector<double> ExpectedFractions(const std::vector<Volume<std::uint8_t>>& posteriors);

}  // namespace op4d
