// Probabilistic segmentation: a Gaussian mixture fitted by EM to the grey-value histogram, then
// per-voxel posterior probabilities and maximum-a-posteriori labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d {

enum class GmmInit {
  kQuantiles,  // means at the (k + 1/2)/K quantiles, refined by k-means on the histogram
  kKMeansPP,   // k-means++ seeding on the histogram (seeded), refined by k-means
};
const char* ToString(GmmInit i);                  // "quantiles", "kmeans++"
GmmInit GmmInitFromString(const std::string& s);  // throws ConfigError

struct GmmOptions {
  int components = 3;         // K, one per phase (from the phase table)
  int bins = 2048;            // histogram bins between the minimum and maximum grey value
  int max_iterations = 5000;  // EM iterations at most (each costs one pass over the histogram)
  double tolerance = 1e-9;    // stop when the mean log-likelihood per voxel changes less than this
  GmmInit init = GmmInit::kQuantiles;
  std::uint64_t seed = 1;     // for kKMeansPP
  // One sigma shared by all components ("tied"): right for a denoised frame, where every phase keeps
  // about the same residual noise. Untied, the interface voxels of a denoised frame (every grey value
  // between pore and active material) widen the intermediate class until it swallows them.
  bool tied_sigma = false;
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

struct GmmModel {
  std::vector<double> weights, means, sigmas;  // per component, sorted by increasing mean (grey values)
  int iterations = 0;
  bool converged = false;      // tolerance reached within max_iterations
  double log_likelihood = 0;   // mean per voxel, at the end (binned data)
  std::string message;         // how the fit ended
};

// Fits the mixture to the histogram of the finite grey values. Never throws for a fit that does not
// converge (see converged/message); throws InvalidArgument for an empty or constant volume.
GmmModel FitGaussianMixture(const AnyVolume& grey, const GmmOptions& options);

struct ProbabilisticSegmentation {
  PhaseVolume labels;                           // class_labels[c] of the most probable class c
  std::vector<Volume<std::uint8_t>> posteriors; // per class, round(255 p): 1 byte per voxel and class
};

// Posterior P(class | grey) per voxel, and MAP labels. class_labels maps class index (increasing
// mean) to phase label. Posteriors are kept when keep_posteriors (K bytes per voxel).
ProbabilisticSegmentation ClassifyGaussianMixture(const AnyVolume& grey, const GmmModel& model,
                                                  const std::vector<std::uint8_t>& class_labels,
                                                  bool keep_posteriors, ThreadBudget threads = {});

// Partial-volume correction by position. On an interface between two classes a and b (a < b in grey
// value) blurred, partly filled voxels take every grey value between their means, and those that look
// like an intermediate class m (binder between pore and active material) are labelled m. Such a voxel
// lies between an a voxel and a b voxel: along one of the three grid axes through it, the first voxel
// not of class m within `reach` steps is of class a on one side and of class b on the other. It is
// relabelled to a or b, whichever mean its grey value is nearer to. A genuine layer of m between a
// and b no thicker than 2·reach - 1 voxels is taken for an interface too, so reach is 1 or 2.
// Decisions use the input labels only (deterministic). Returns the number of voxels relabelled.
std::int64_t ResolvePartialVolume(PhaseVolume& labels, const AnyVolume& grey, const GmmModel& model,
                                  const std::vector<std::uint8_t>& class_labels, int reach = 1,
                                  ThreadBudget threads = {});

}  // namespace op4d
