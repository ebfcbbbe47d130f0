// Campaign-level jobs: import an archive into a store, write a synthetic campaign with its ground
// truth, and the quick-look analysis of every frame. These are the only places that wire kernels
// and importers to the store (DESIGN.md).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "op4d/core/progress.h"
#include "op4d/frame/geometry/volume_fractions.h"
#include "op4d/frame/segment/denoise.h"
#include "op4d/frame/segment/forward_model.h"
#include "op4d/frame/segment/morphology.h"
#include "op4d/frame/uncertainty/label_sampler.h"
#include "op4d/io/import.h"
#include "op4d/store/frame_store.h"
#include "op4d/synth/campaign.h"
#include "op4d/synth/throat_lattice.h"

namespace op4d {

struct CampaignImportOptions {
  ImportOptions input;         // format, spacing override, raw layout, dataset
  StoreOptions store;          // codec, chunks, threads (used if the store is new)
  bool append = false;         // add to an existing store instead of creating one
  bool overwrite = false;      // replace an existing store
  // Manifest import only: frames already in the store (from an earlier, perhaps interrupted import
  // of the same manifest) are kept and their entries skipped; a store whose frames came from other
  // files is refused, naming the first frame that differs. A missing store is created.
  bool resume = false;
  double time_step_s = 1.0;    // without a manifest: frame k gets time t0 + k * time_step_s
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct ImportSummary {
  std::int64_t frames_added = 0;
  std::int64_t frames_total = 0;
  std::vector<std::string> notes;  // one per input: what was read and how
};

// Imports input files (each may hold several frames) in order, one frame per time step.
ImportSummary ImportFiles(const std::vector<std::string>& inputs, const std::string& store_path,
                          const CampaignImportOptions& options);
// Imports the frames a manifest lists, with their time-table rows.
ImportSummary ImportManifest(const std::string& manifest_path, const std::string& store_path,
                             const CampaignImportOptions& options);

// The ground-truth store written beside a synthetic campaign: "<name>.truth.h5".
std::string TruthPathFor(const std::string& store_path);

struct SynthSummary {
  int frames = 0;
  std::size_t particles = 0;
  std::size_t throats = 0;
  std::size_t damaged = 0;  // particles with scripted damage
  double achieved_solid_fraction = 0;
  std::string truth_path;
};

// Renders every frame of the campaign into store_path (grey frames + cycler log) and its ground
// truth into TruthPathFor(store_path): phase labels as frames, particle labels as a per-frame result
// volume, per-frame "particles" and "throats" tables, and a series table "drift".
SynthSummary WriteSynthCampaign(const SynthOptions& synth, const std::string& store_path, const StoreOptions& store,
                                bool overwrite, ProgressStyle progress = ProgressStyle::kAuto);

// The throat-lattice campaign (synth/throat_lattice.h): grey frames and cycler log (time_s, p_app_Pa)
// into store_path; truth beside it as for WriteSynthCampaign, with phases LatticePhases() and the
// per-frame "throats" table of the lattice (radius_um, body_a, body_b, ...), no particles.
SynthSummary WriteThroatLatticeCampaign(const ThroatLatticeOptions& lattice, const std::string& store_path,
                                        const StoreOptions& store, bool overwrite,
                                        ProgressStyle progress = ProgressStyle::kAuto);
// Two phases, darkest first: pore = 0 (pore role), solid = 1 (active role).
PhaseTable LatticePhases();

// How the quick look segments a frame.
enum class SegmentMethod {
  kGaussianMixture,  // EM fit of one Gaussian per phase, maximum-a-posteriori labels
  kMultiOtsu,        // global multi-level Otsu thresholds (the baseline)
  kNlmGmm,           // non-local means, tied-sigma mixture, partial-volume correction, forward-model
                     // refinement (frame/segment/forward_model.h), island removal
};
const char* ToString(SegmentMethod m);                        // "gmm", "multi-otsu", "nlm+gmm"
SegmentMethod SegmentMethodFromString(const std::string& s);  // throws ConfigError

// One morphological clean-up of a phase after the segmentation (frame/segment/morphology.h,
// CleanPhase): an opening or closing with a ball of radius_um, refused when not small against the
// phase's (opening) or its gaps' (closing) feature radius.
struct PhaseCleanUp {
  std::string phase;  // a phase name of the table
  MorphologyOp op = MorphologyOp::kOpening;
  double radius_um = 0;
};
// "opening:binder:0.3,closing:pore:0.5" (op:phase:radius in um, comma-separated); ConfigError (with
// `key` as its pointer) names the item at fault.
std::vector<PhaseCleanUp> PhaseCleanUpsFromSpec(const std::string& spec, const std::string& key = "clean_up");

struct QuickLookOptions {
  // Multi-Otsu by default: on blurred frames a grey-value-only mixture gives the partial-volume
  // voxels of pore/active interfaces to the binder (demo: binder 0.27 vs 0.14 true; Otsu 0.22).
  SegmentMethod method = SegmentMethod::kMultiOtsu;
  PhaseTable phases = PhaseTable::Electrode();
  // Phase label of each intensity class, darkest first (pore, binder, active for electrode CT).
  std::vector<std::uint8_t> class_labels{0, 2, 1};
  // nlm+gmm: islands smaller than this (voxels) go to the phase around them; the phase with the pore
  // role is labelled 26-connected, the others 6-connected.
  std::int64_t min_island_voxels = 27;
  // nlm+gmm tuning for the frames at hand: the denoising (h_factor, sigma, patch and search radii;
  // threads and progress are the chain's) and the forward-model refinement (psf_sigma_vox, the
  // beamline's PSF in voxels, and smoothness; max_sweeps 0 = no refinement).
  NlmOptions nlm;
  ForwardModelOptions refine;
  // Openings and closings of phases, in this order, after everything else (any method).
  std::vector<PhaseCleanUp> clean_up;
  int bins = 256;
  // Label ensemble (frame/uncertainty/label_sampler.h), segment step only: with ensemble >= 2 the
  // step draws that many coherent samples of the mixture methods' posterior (heat-bath sweeps of the
  // forward model's MRF on the frame the mixture saw, at ensemble_temperature, seeded) and stores
  // the per-frame table "segment_ensemble" (see RunSegment). 0 = none. ensemble_grey_jitter: the
  // model's pure grey values drawn anew for every sample (LabelSamplerOptions::grey_jitter; the
  // calibrated value by default).
  int ensemble = 0;
  double ensemble_temperature = 1.0;
  double ensemble_grey_jitter = kCalibratedGreyJitter;
  // LabelSamplerOptions::grey_jitter_correlation (calibrated with the jitter).
  double ensemble_jitter_correlation = kCalibratedJitterCorrelation;
  std::uint64_t ensemble_seed = 1;
  ThreadBudget threads;
  std::string truth_path;  // optional ground-truth store to compare against
  std::vector<std::int64_t> frames;  // frames to segment; empty = every frame
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct QuickLookRow {
  std::int64_t frame = 0;
  double time_s = 0, voltage_V = 0, p_app_Pa = 0;
  VolumeFractions measured;
  std::optional<VolumeFractions> truth;
  std::vector<double> thresholds;  // multi-Otsu thresholds, or the mixture's means (grey values)
  std::string status;              // how the segmentation ended (the mixture's convergence report)
  std::string outside_calibration;  // with an ensemble: why its intervals are not calibrated (empty: they are)
};

// Segments one grey frame the way the quick look does (options.method, class_labels, phases);
// `report`, if given, receives the thresholds or means and the status line; `posteriors`, if given,
// the mixture's posterior probability per class (round(255 p), classes by increasing mean; for
// nlm+gmm before its partial-volume and island corrections, which change labels, not probabilities;
// left empty by multi-Otsu).
// `model_frame`, if given, receives the frame the mixture was fitted to (the NLM-denoised frame for
// nlm+gmm, the grey frame for gmm; left empty by multi-Otsu): what the label sampler explains.
PhaseVolume SegmentFrame(const AnyVolume& grey, const QuickLookOptions& options, QuickLookRow* report = nullptr,
                         std::vector<Volume<std::uint8_t>>* posteriors = nullptr, AnyVolume* model_frame = nullptr);

// What a segmentation was made with (JSON text): method, bins, class labels and phases identify it
// (FrameLabels compares these), then its tuning: for nlm+gmm the island size and the NLM and
// refinement parameters that differ from the defaults, and the clean-ups.
std::string SegmentationJson(const QuickLookOptions& options);

// The segment step: every frame (or options.frames) segmented once and stored for the later steps,
// as per-frame result volumes "labels" (uint8 phase labels) and, for the mixture methods unless
// probabilities is false, "probability_<phase name>" (uint8, round(255 p): the probability map,
// one byte per voxel and phase). The provenance holds SegmentationJson under "segmentation".
// With options.ensemble = N >= 2 (mixture methods only; ConfigError("ensemble") otherwise, before
// any frame is touched) it also writes the per-frame table "segment_ensemble", one row: for every
// metric M (fraction_<phase> [1], expected_fraction_<phase> [1] from the posteriors (closed form,
// its point value only), a_s_<a>_<b> [um^-1], tau_z_<pore phase> [1]) the columns M (point
// segmentation), M_mean, M_sd, M_p05, M_p95, then samples, temperature, noise_sigma (grey) and
// seconds_per_sample [s], then the frame's place in the domain the ensemble was calibrated in
// (CheckCalibrationDomain on the point labels): chord_<phase> [voxel] each phase's mean chord,
// contrast_to_noise [1] and calibrated [1] (1 inside the domain; 0: the intervals are the model's
// spread but not calibrated error bars, the provenance's "domain" says why). Each sample is finished as the point labels are (islands removed for
// nlm+gmm; the clean-ups are not applied to samples) and stored as the result volume
// LabelSampleName(s) as it is drawn (stale samples of an earlier, larger ensemble are removed).
std::vector<QuickLookRow> RunSegment(const std::string& store_path, const QuickLookOptions& options, bool probabilities = true);

// The label-derived metrics the segment step's ensemble carries, on one label volume: phase fractions,
// a_s per pair and the pore phase's tau_z (name, unit, value each, in the table's order).
struct LabelMetric {
  std::string name, unit;
  double value = 0;
};
std::vector<LabelMetric> SegmentLabelMetrics(const PhaseVolume& labels, const QuickLookOptions& options);

// The table "segment_ensemble" of one frame (RunSegment documents it): `point` the frame's point
// labels, `model_frame` and `posteriors` as SegmentFrame returns them. `on_sample`, if given, receives
// every finished sample as it is drawn (number s from 0, labels): one sample in memory at a time.
ResultTable SegmentEnsemble(const PhaseVolume& point, const AnyVolume& model_frame,
                            const std::vector<Volume<std::uint8_t>>& posteriors, const QuickLookOptions& options,
                            std::int64_t frame, const std::function<void(int, const PhaseVolume&)>& on_sample = {},
                            CalibrationDomain* domain = nullptr);

// The label samples the segment step stores per frame (segment --ensemble N): the result volumes
// "label_sample_<s>", s = 0..N-1, read by the later steps' ensembles (tortuosity --ensemble).
std::string LabelSampleName(int s);
// N when frame k holds a complete ensemble (its table segment_ensemble is written after the last
// sample) of the segmentation `options` asks for (method, bins, class labels and phases, as
// FrameLabels compares them); 0 otherwise.
int StoredLabelSamples(const FrameStore& store, std::int64_t k, const QuickLookOptions& options);
// Label sample s of frame k as the segment step stored it (IoError naming the dataset if it is not
// uint8 or is missing).
PhaseVolume ReadLabelSample(const FrameStore& store, std::int64_t k, int s);
// The mask (1 where the label equals `label`) of label sample s of frame k.
Volume<std::uint8_t> LabelSampleMask(const FrameStore& store, std::int64_t k, int s, std::uint8_t label);
// The later steps' --ensemble n: nothing for n = 0; ConfigError("ensemble") for n < 2, for frames
// that hold labels (`labels_input`: no posterior, so no samples) and for a frame holding fewer than n
// samples of `segment`'s segmentation (naming the store, the frame and the command that makes them).
// Called before any frame is touched.
void RequireLabelSamples(const FrameStore& store, const std::string& store_path, const std::vector<std::int64_t>& frames,
                         const QuickLookOptions& segment, int n, bool labels_input);

// The phase labels of frame k: the stored "labels" volume when the segment step wrote it with the
// same method, bins, class labels and phases (whatever its tuning: the segment step is where the
// chain is tuned to the frames), otherwise SegmentFrame(grey, options). `report` as for SegmentFrame
// (from the stored provenance).
PhaseVolume FrameLabels(const FrameStore& store, std::int64_t k, const AnyVolume& grey, const QuickLookOptions& options,
                        QuickLookRow* report = nullptr);

// Segments every frame (multi-Otsu by default, or a Gaussian mixture), computes phase
// volume fractions, writes table "quicklook_fractions" into each frame's results (with provenance),
// and returns one row per frame.
std::vector<QuickLookRow> RunQuickLook(const std::string& store_path, const QuickLookOptions& options);

// The frames a per-frame step runs on: `frames`, or every frame of the store if empty. Throws IoError
// for a store without frames and ConfigError("frames") naming a frame that is not in it.
std::vector<std::int64_t> FramesToRun(const FrameStore& store, const std::string& store_path,
                                      const std::vector<std::int64_t>& frames);

// A series table with one row per frame (column "frame"), written by a step that may run on some
// frames at a time: the rows of `fresh` plus the rows of the stored table of the same name for other
// frames, when that table was written with the same options (its provenance's "options" equals
// `options_json`); sorted by frame. Otherwise `fresh` alone.
ResultTable MergeFrameRows(const FrameStore& store, const ResultTable& fresh, const std::string& options_json);

// Creates out_dir (IoError naming it if that fails) and returns "<out_dir>/<stem>", the stem of output
// files.
std::string OutputStem(const std::string& out_dir, const std::string& stem);

// OutputStem(out_dir, "frame_<k>") with k in six digits: the stem of a frame's output files.
std::string FrameFileStem(const std::string& out_dir, std::int64_t k);

}  // namespace op4d
