// Spatially coherent samples of a segmentation's posterior: heat-bath Gibbs sweeps of the forward
// model's Markov random field (frame/segment/forward_model.h) at its own energy.
//
// The refinement finds a local minimum of
//   E(L) = || grey - PSF * pure(L) ||^2 + beta * (unlike 6-neighbour pairs),
// the sampler draws from P(L) ∝ exp(-E(L) / (2 sigma^2 T)): the Gaussian likelihood of the grey
// values under the imaging model (noise sigma) with the smoothness term as the prior, at temperature
// T (T = 1 is the model taken literally; T is calibrated on synthetic frames, see RESULTS). Each
// visit of a voxel on a boundary (a 6-neighbour of another label) draws its label from the
// conditional distribution over its own label and its 6-neighbours' labels; interior voxels keep
// theirs. So boundaries move, necks open and close and thin layers thicken or thin, but no speck is
// born inside a phase (independent per-voxel coin flips scatter specks and destroy connectivity).
// Where the voxel's label is among its neighbours' the candidate set is the same before and after
// the move and the step is an exact heat-bath update (detailed balance); an isolated single voxel
// can only be absorbed, never created: the chain lives on segmentations without 6-isolated voxels.
//
// The work space is C = PSF * (grey - PSF * pure(L)) (4 bytes per voxel) and the labels (1 byte),
// updated in place by every move: memory O(frame) for any number of samples. The grey frame is read
// once, at construction. Parallel and deterministic: a sweep visits fixed slabs of z-slices (at
// least 2 R thick, R the PSF * PSF support) in two phases, even slabs then odd, the slabs of a phase
// in parallel (their writes to C are disjoint); within a slab in scan order; the random number of a
// visit is a hash of (seed, sweep, voxel). Identical samples for any thread count. Voxels closer to
// a face than R keep their labels, as in the refinement.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"
#include "op4d/frame/segment/forward_model.h"

namespace op4d {

// The grey jitter calibrated on synthetic frames (bench/uncertainty.cc; bench/RESULTS.md, "Label
// ensembles"): chosen on 20 frames (seeds 1-5, SNR 10 and 5, z spacing 0.25 and 0.35 um) as the
// smallest whose 5-95 % intervals hold the truth's porosity and binder fraction in at least 90 % of
// frames, and checked on 40 others. The segment step's default.
inline constexpr double kCalibratedGreyJitter = 0.05;
// The correlation of the labels' jitter calibrated with it (the segment step's default).
inline constexpr double kCalibratedJitterCorrelation = 0.0;

// The domain the calibration was measured in (bench/RESULTS.md, "Label ensembles": the synthetic
// electrodes of the calibration and hold-out frames). A frame outside it (thinner phases in voxels,
// less contrast for its noise) gets intervals that are the model's spread, not calibrated error bars.
// Inside it is necessary, not sufficient: 35 of 36 frames of the NMC cathode (18 cubes of 96^3 at
// SNR 10 and 5) rendered through the detector lie inside (binder mean chord >= 5.89 voxels;
// contrast-to-noise 13.21 and up at SNR 10, 10.95 and up at SNR 5; forward-model boundary residuals
// smaller than the synthetic frames') and still no frame's interval held its truth: a bias the frame
// itself does not show.
// The 60 synthetic frames (seeds 1-15, SNR 10 and 5, z spacing 0.25 and 0.35 um) measured at least
// 4.66 voxels for the binder's mean chord (pore 22.96, active 15.08) and 11.18 for the contrast-to-
// noise (the SNR 5 frames; NLM raises it); the bounds are those, rounded down.
// Every phase's mean chord (Cauchy: 4 f / S, f its volume fraction, S its interface area per frame
// volume, in voxels of edge (dz dy dx)^(1/3)) at least this:
inline constexpr double kCalibratedMinChordVoxels = 4.5;
// and the model's contrast-to-noise (smallest difference of two labels' pure grey values over the
// noise sigma of the frame the model explains) at least this:
inline constexpr double kCalibratedMinContrastToNoise = 11.0;

// One phase's mean chord for the domain check.
struct PhaseChord {
  std::string name;
  double fraction = 0;   // volume fraction
  double area_per_um = 0;  // the phase's interface area (with every other phase) per frame volume, um^-1
  double chord_vox = 0;  // 4 fraction / area_per_um over the voxel edge; +inf without interfaces, 0 when absent
};

struct CalibrationDomain {
  std::vector<PhaseChord> chords;
  double contrast_to_noise = 0;
  bool inside = false;
  std::string why;  // empty when inside; else what is outside, with the calibrated bound
};

// Whether a frame lies in the calibrated domain: phases with fraction 0 are not judged (nothing to
// place). `voxel_edge_um` the edge the chords are counted in ((dz dy dx)^(1/3)); InvalidArgument for
// a non-positive edge or a NaN.
CalibrationDomain CheckCalibrationDomain(std::vector<PhaseChord> chords, double voxel_edge_um, double contrast_to_noise);

struct LabelSamplerOptions {
  ForwardModelOptions model;   // psf_sigma_vox and smoothness of the refinement (max_sweeps unused)
  double temperature = 1.0;    // T > 0
  double noise_sigma = 0;      // grey-value noise sigma of the likelihood; 0 = the RMS of the model's
                               // residual grey - PSF * pure(L) on the starting labels
  int burn_in_sweeps = 4;      // sweeps before the first sample (before every sample with grey_jitter)
  int thin_sweeps = 2;         // sweeps between samples (>= 1) without grey_jitter
  // The model's own uncertainty. Every sample draws new pure grey values, each label's the model's
  // plus grey_jitter * d * z (z standard normal, independent per label and sample; d the smallest
  // difference between two labels' pure values), and re-equilibrates the labels under them
  // (burn_in_sweeps): the sub-voxel placement of every interface (partial volume, the mixture's
  // means) enters the samples as a coherent shift of whole interfaces, which the model's own noise
  // posterior cannot give. 0 = the model's values in every sample. Calibrated on synthetic frames
  // (bench/RESULTS.md, "Label ensembles").
  double grey_jitter = 0;
  // Correlation rho in [0, 1] of the labels' draws: z_l = sqrt(rho) z_0 + sqrt(1 - rho) z'_l, z_0
  // common to all labels of a sample. A common shift of every pure value (a grey offset: beam
  // intensity, normalisation) moves all interfaces the same way and leaves a phase between two others
  // (the binder) nearly as it is; independent draws also change the contrasts and move both sides
  // of that phase. 0 = independent.
  double grey_jitter_correlation = 0;
  std::uint64_t seed = 1;
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

class LabelSampler {
 public:
  // start: the point segmentation (the chain's first state); grey: the frame the model explains (for
  // nlm+gmm the denoised frame the refinement saw). Throws InvalidArgument for invalid options or
  // grids that differ.
  LabelSampler(PhaseVolume start, const AnyVolume& grey, const LabelSamplerOptions& options);

  // The next sample: burn_in_sweeps on the first call, thin_sweeps on every later one.
  const PhaseVolume& Next();
  // Runs one sweep; returns the number of voxels whose label changed.
  std::int64_t Sweep();

  const PhaseVolume& labels() const { return labels_; }
  double noise_sigma() const { return sigma_; }    // the sigma in use (grey values)
  int sweeps() const { return sweeps_; }
  int slab() const { return slab_; }               // slab thickness, z-slices
  const ForwardModelTerms& terms() const { return terms_; }
  const std::vector<std::int64_t>& changes() const { return changes_; }  // per sweep
  int samples() const { return samples_; }         // Next() calls so far
  // The pure grey value of `label` in the current sample (the model's before the first Next()).
  double pure_grey(std::uint8_t label) const { return terms_.pure[label]; }
  // The smallest difference between two labels' pure grey values of the model (the contrast the
  // jitter is scaled by; +inf with one label).
  double min_contrast() const { return d_min_; }
  // Energy change (grey² units) of relabelling voxel i from its label to q, from the work space:
  // for tests against a brute-force E(L).
  double DeltaAt(std::int64_t i, std::uint8_t q) const;

 private:
  std::int64_t SweepSlab(std::int64_t z0, std::int64_t z1);
  void JitterPureGrey();
  PhaseVolume labels_;
  LabelSamplerOptions options_;
  ForwardModelTerms terms_;
  std::vector<float> c_;
  double sigma_ = 0, inv_2s2t_ = 0;
  std::array<double, 256> model_pure_{};
  double d_min_ = 0;
  int sweeps_ = 0, slab_ = 8, samples_ = 0;
  bool started_ = false;
  std::vector<std::int64_t> changes_;
};

}  // namespace op4d
