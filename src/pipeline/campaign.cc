#include "op4d/pipeline/campaign.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/frame/segment/denoise.h"
#include "op4d/frame/segment/forward_model.h"
#include "op4d/frame/segment/gmm.h"
#include "op4d/frame/segment/morphology.h"
#include "op4d/frame/segment/threshold.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/transport/diffusion.h"
#include "op4d/frame/uncertainty/ensemble.h"
#include "op4d/frame/uncertainty/label_sampler.h"
#include "op4d/core/random.h"
#include <chrono>
#include "op4d/pipeline/manifest.h"

namespace op4d {
namespace {

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

FrameStore OpenTarget(const std::string& store_path, const CampaignImportOptions& o) {
  if (o.append) return FrameStore::OpenReadWrite(store_path);
  if (Exists(store_path) && !o.overwrite)
    throw IoError(store_path, "", "already exists (use --append to add frames or --overwrite to replace it)");
  return FrameStore::Create(store_path, o.overwrite);
}

std::string ImportOptionsJson(const ImportOptions& in, const std::string& dataset) {
  nlohmann::json j;
  j["format"] = ToString(in.format);
  if (in.spacing_um) j["spacing_um"] = {(*in.spacing_um)[0], (*in.spacing_um)[1], (*in.spacing_um)[2]};
  if (in.format == InputFormat::kRaw)
    j["raw"] = {{"shape", {in.raw.shape[0], in.raw.shape[1], in.raw.shape[2]}},
                {"dtype", ToString(in.raw.dtype)},
                {"big_endian", in.raw.big_endian},
                {"header_bytes", in.raw.header_bytes}};
  if (!dataset.empty()) j["dataset"] = dataset;
  return j.dump();
}

std::string SynthOptionsJson(const SynthOptions& o) {
  nlohmann::json j;
  j["seed"] = o.seed;
  j["shape"] = {o.shape[0], o.shape[1], o.shape[2]};
  j["spacing_um"] = {o.spacing_um[0], o.spacing_um[1], o.spacing_um[2]};
  j["frames"] = o.frames;
  if (!o.frame_times_s.empty()) j["frame_times_s"] = o.frame_times_s;
  j["radius_um"] = o.radius_um;
  j["radius_sigma"] = o.radius_sigma;
  j["solid_fraction"] = o.solid_fraction;
  j["overlap"] = o.overlap;
  j["calendering"] = o.calendering;
  j["binder_neck_um"] = o.binder_neck_um;
  j["binder"] = o.binder_carried ? "carried" : "regrow";
  j["grey"] = {o.grey_pore, o.grey_active, o.grey_binder};
  j["snr"] = o.snr;
  j["blur_sigma_vox"] = o.blur_sigma_vox;
  j["supersample"] = o.supersample;
  j["dtype"] = ToString(o.dtype);
  j["duration_s"] = o.duration_s;
  j["soc"] = {o.soc_start, o.soc_end};
  j["soc_gradient"] = o.soc_gradient;
  j["strain_per_soc"] = o.strain_per_soc;
  j["drift_um_per_frame"] = {o.drift_um_per_frame[0], o.drift_um_per_frame[1], o.drift_um_per_frame[2]};
  j["p_app_Pa"] = {o.p_app_start_Pa, o.p_app_end_Pa};
  j["capacity_Ah"] = o.capacity_Ah;
  j["throat_max_gap_um"] = o.throat_max_gap_um;
  if (o.cycles > 0) {  // written only when cycling, so a campaign without cycles reads as before
    j["cycles"] = o.cycles;
    j["charge_share"] = o.charge_share;
  }
  if (o.crack_share > 0 || o.debond_share > 0 || !o.damage.empty() || o.residual_strain_per_cycle != 0) {
    j["damage"] = {{"crack_share", o.crack_share},       {"fragment_share", o.fragment_share},
                   {"crack_width_um", o.crack_width_um}, {"debond_share", o.debond_share},
                   {"debond_loss", o.debond_loss},       {"debond_gap_um", o.debond_gap_um},
                   {"residual_strain_per_cycle", o.residual_strain_per_cycle}};
    if (!o.damage.empty()) {
      nlohmann::json list = nlohmann::json::array();
      for (const SynthDamage& d : o.damage)
        list.push_back({{"particle", d.particle}, {"crack_cycle", d.crack_cycle}, {"fragment_cycle", d.fragment_cycle},
                        {"fragments", d.fragments}, {"debond_cycle", d.debond_cycle}, {"debond_loss", d.debond_loss}});
      j["damage"]["script"] = list;
    }
  }
  return j.dump();
}

}  // namespace

ImportSummary ImportFiles(const std::vector<std::string>& inputs, const std::string& store_path,
                          const CampaignImportOptions& options) {
  if (inputs.empty()) throw ConfigError("inputs", "no input files given");
  for (const std::string& in : inputs)
    if (!Exists(in)) throw IoError(in, "", "does not exist");
  std::vector<std::unique_ptr<FrameSource>> sources;
  std::int64_t total = 0;
  for (const std::string& in : inputs) {
    sources.push_back(OpenInput(in, options.input));
    total += sources.back()->frame_count();
  }
  FrameStore store = OpenTarget(store_path, options);
  double t0 = 0;
  if (store.frame_count() > 0) t0 = store.ReadTimeTable().values[0].back() + options.time_step_s;
  ImportSummary sum;
  Progress progress("import", total, options.progress);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    for (std::int64_t k = 0; k < sources[i]->frame_count(); ++k) {
      AnyVolume v = sources[i]->ReadFrame(k);
      const double t = t0 + double(sum.frames_added) * options.time_step_s;
      Provenance p{"import", inputs[i] + (sources[i]->frame_count() > 1 ? " frame " + std::to_string(k) : ""),
                   ImportOptionsJson(options.input, options.input.dataset), ""};
      store.AppendFrame(v, {{"time_s", t}}, p, options.store);
      ++sum.frames_added;
      progress.Advance();
    }
    sum.notes.push_back(inputs[i] + ": " + sources[i]->Describe());
  }
  sum.frames_total = store.frame_count();
  return sum;
}

ImportSummary ImportManifest(const std::string& manifest_path, const std::string& store_path,
                             const CampaignImportOptions& options) {
  const Manifest m = ReadManifest(manifest_path);
  for (const ManifestEntry& e : m.entries)
    if (!Exists(e.file)) throw IoError(manifest_path, "line " + std::to_string(e.line), "file '" + e.file + "' does not exist");
  CampaignImportOptions target = options;
  if (options.resume && FrameStore::IsCampaignStore(store_path)) target.append = true;
  FrameStore store = OpenTarget(store_path, target);
  for (const TimeColumnSpec& c : m.user_columns) store.AddTimeColumn(c);
  ImportSummary sum;
  std::size_t first = 0;
  if (options.resume) {
    // The frames already stored must be the manifest's first entries, in order.
    first = std::size_t(std::min<std::int64_t>(store.frame_count(), std::int64_t(m.entries.size())));
    if (store.frame_count() > std::int64_t(m.entries.size()))
      throw IoError(store_path, "/frames/volume",
                    "has " + std::to_string(store.frame_count()) + " frames, more than the manifest '" + manifest_path +
                        "' lists (" + std::to_string(m.entries.size()) + "); not resuming");
    for (std::size_t k = 0; k < first; ++k) {
      const ManifestEntry& e = m.entries[k];
      const nlohmann::json p = nlohmann::json::parse(store.ReadFrameProvenance(std::int64_t(k)), nullptr, false);
      const std::string source = p.is_object() ? p.value("source", "") : "";
      if (source.rfind(e.file, 0) != 0)
        throw IoError(store_path, "/frames/provenance",
                      "frame " + std::to_string(k) + " came from '" + source + "', but line " + std::to_string(e.line) + " of '" +
                          manifest_path + "' names '" + e.file + "'; not resuming");
    }
  }
  Progress progress("import", std::int64_t(m.entries.size() - first), options.progress);
  for (std::size_t i = first; i < m.entries.size(); ++i) {
    const ManifestEntry& e = m.entries[i];
    ImportOptions in = options.input;
    if (!e.dataset.empty()) in.dataset = e.dataset;
    const auto src = OpenInput(e.file, in);
    if (e.frame >= src->frame_count())
      throw IoError(manifest_path, "line " + std::to_string(e.line),
                    "frame " + std::to_string(e.frame) + " of '" + e.file + "' does not exist (it has " +
                        std::to_string(src->frame_count()) + ")");
    AnyVolume v = src->ReadFrame(e.frame);
    Provenance p{"import", e.file + (src->frame_count() > 1 ? " frame " + std::to_string(e.frame) : ""),
                 ImportOptionsJson(in, in.dataset), ""};
    store.AppendFrame(v, e.row, p, options.store);
    sum.notes.push_back(e.file + ": " + src->Describe());
    ++sum.frames_added;
    progress.Advance();
  }
  sum.frames_total = store.frame_count();
  return sum;
}

std::string TruthPathFor(const std::string& store_path) {
  const std::string ext = ".h5";
  if (store_path.size() > ext.size() && store_path.compare(store_path.size() - ext.size(), ext.size(), ext) == 0)
    return store_path.substr(0, store_path.size() - ext.size()) + ".truth.h5";
  return store_path + ".truth.h5";
}

namespace {

// Writes the frames render(k) of a synthetic campaign and their ground truth (phase labels as
// frames, particle labels when there are any, per-frame particle and throat tables, the drift).
template <class Render>
void WriteSynthFrames(int frames, const Render& render, const std::function<double(int)>& time_of, const std::string& opts,
                      const PhaseTable& truth_phases, const std::string& throats_description, const std::string& store_path,
                      const StoreOptions& store_options, bool overwrite, ProgressStyle progress_style, SynthSummary* sum) {
  sum->truth_path = TruthPathFor(store_path);
  if (!overwrite)
    for (const std::string& p : {store_path, sum->truth_path})
      if (Exists(p)) throw IoError(p, "", "already exists (use --overwrite to replace it)");
  FrameStore store = FrameStore::Create(store_path, overwrite);
  FrameStore truth = FrameStore::Create(sum->truth_path, overwrite);
  StoreOptions truth_options = store_options;
  truth_options.phases = truth_phases;
  truth_options.codec = store_options.codec == Codec::kNone ? Codec::kNone : Codec::kGzip;
  ResultTable drift{"drift", {{"time_s", "s", {}}, {"drift_z_um", "um", {}}, {"drift_y_um", "um", {}}, {"drift_x_um", "um", {}}}};
  Progress progress("synth", frames, progress_style);
  for (int k = 0; k < frames; ++k) {
    SynthFrame fr = render(k);
    TimeRow row(fr.time_row.begin(), fr.time_row.end());
    store.AppendFrame(fr.grey, row, {"synth", "op4d synthetic campaign", opts, ""}, store_options);
    truth.AppendFrame(fr.phases, row, {"synth.truth", "ground-truth phase labels", opts, ""}, truth_options);
    if (fr.particle_labels.geometry().voxel_count() > 0)
      truth.WriteFrameVolume(k, "particle_labels", fr.particle_labels, {"synth.truth", "ground-truth particle ids", opts, ""});
    if (!fr.particles.columns.empty()) truth.WriteFrameTable(k, fr.particles, {"synth.truth", "ground-truth particles", opts, ""});
    truth.WriteFrameTable(k, fr.throats, {"synth.truth", throats_description, opts, ""});
    drift.columns[0].values.push_back(time_of(k));
    for (int a = 0; a < 3; ++a) drift.columns[a + 1].values.push_back(fr.drift_um[a]);
    progress.Advance();
  }
  truth.WriteSeriesTable(drift, {"synth.truth", "rigid drift per frame", opts, ""});
  sum->frames = frames;
}

std::string LatticeOptionsJson(const ThroatLatticeOptions& o) {
  nlohmann::json j;
  j["kind"] = "throat-lattice";
  j["seed"] = o.seed;
  j["bodies"] = {o.bodies[0], o.bodies[1], o.bodies[2]};
  j["spacing_um"] = {o.spacing_um[0], o.spacing_um[1], o.spacing_um[2]};
  j["pitch_um"] = o.pitch_um;
  j["body_radius_um"] = o.body_radius_um;
  j["throat_radii_um"] = {o.wide_radius_um, o.narrow_radius_um};
  j["narrow_share"] = o.narrow_share;
  j["closure_share"] = o.closure_share;
  j["margin_um"] = o.margin_um;
  j["face_length_um"] = o.face_length_um;
  j["frames"] = o.frames;
  if (!o.frame_times_s.empty()) j["frame_times_s"] = o.frame_times_s;
  j["duration_s"] = o.duration_s;
  if (!o.p_app_Pa.empty()) j["p_app_Pa"] = o.p_app_Pa;
  j["design_law"] = {{"surface_tension_N_per_m", o.design_gamma_N_per_m}, {"contact_angle_deg", o.design_theta_deg}};
  j["drift_um_per_frame"] = {o.drift_um_per_frame[0], o.drift_um_per_frame[1], o.drift_um_per_frame[2]};
  j["grey"] = {o.grey_pore, o.grey_solid};
  j["snr"] = o.snr;
  j["blur_sigma_vox"] = o.blur_sigma_vox;
  j["supersample"] = o.supersample;
  j["dtype"] = ToString(o.dtype);
  return j.dump();
}

}  // namespace

SynthSummary WriteSynthCampaign(const SynthOptions& synth, const std::string& store_path, const StoreOptions& store_options,
                                bool overwrite, ProgressStyle progress_style) {
  const SynthCampaign campaign(synth);
  SynthSummary sum;
  WriteSynthFrames(
      campaign.frame_count(), [&](int k) { return campaign.Render(k, store_options.threads); },
      [&](int k) { return campaign.FrameTime(k); }, SynthOptionsJson(synth), PhaseTable::Electrode(),
      "ground-truth throats (centre-line gaps)", store_path, store_options, overwrite, progress_style, &sum);
  sum.particles = campaign.particles().size();
  sum.throats = campaign.throats().size();
  sum.damaged = campaign.damage().size();
  sum.achieved_solid_fraction = campaign.achieved_solid_fraction();
  return sum;
}

PhaseTable LatticePhases() { return PhaseTable({{"pore", 0, PhaseRole::kPore}, {"solid", 1, PhaseRole::kActive}}); }

SynthSummary WriteThroatLatticeCampaign(const ThroatLatticeOptions& lattice, const std::string& store_path,
                                        const StoreOptions& store_options, bool overwrite, ProgressStyle progress_style) {
  const SynthThroatLattice campaign(lattice);
  SynthSummary sum;
  WriteSynthFrames(
      campaign.frame_count(), [&](int k) { return campaign.Render(k, store_options.threads); },
      [&](int k) { return campaign.FrameTime(k); }, LatticeOptionsJson(lattice), LatticePhases(),
      "ground-truth throats (lattice cylinders; radius 0 while swollen shut)", store_path, store_options, overwrite,
      progress_style, &sum);
  sum.throats = campaign.throats().size();
  return sum;
}

const char* ToString(SegmentMethod m) {
  switch (m) {
    case SegmentMethod::kMultiOtsu: return "multi-otsu";
    case SegmentMethod::kNlmGmm: return "nlm+gmm";
    default: return "gmm";
  }
}

SegmentMethod SegmentMethodFromString(const std::string& s) {
  if (s == "gmm") return SegmentMethod::kGaussianMixture;
  if (s == "multi-otsu") return SegmentMethod::kMultiOtsu;
  if (s == "nlm+gmm") return SegmentMethod::kNlmGmm;
  throw ConfigError("--method", "'" + s + "' is not one of gmm, multi-otsu, nlm+gmm");
}

PhaseVolume SegmentFrame(const AnyVolume& grey, const QuickLookOptions& options, QuickLookRow* report_out,
                         std::vector<Volume<std::uint8_t>>* posteriors, AnyVolume* model_frame) {
  if (options.class_labels.size() < 2) throw ConfigError("class_labels", "at least two classes are needed");
  QuickLookRow report;
  PhaseVolume phases;
  ThresholdOptions topt;
  topt.classes = int(options.class_labels.size());
  topt.bins = options.bins;
  topt.threads = options.threads;
  if (options.method == SegmentMethod::kMultiOtsu) {
    const ThresholdResult th = MultiOtsu(grey, topt);
    phases = ApplyThresholds(grey, th.thresholds, options.class_labels, options.threads);
    report.thresholds = th.thresholds;
    report.status = "multi-Otsu";
  } else if (options.method == SegmentMethod::kGaussianMixture) {
    GmmOptions go;
    go.components = int(options.class_labels.size());
    go.threads = options.threads;
    const GmmModel m = FitGaussianMixture(grey, go);
    ProbabilisticSegmentation ps = ClassifyGaussianMixture(grey, m, options.class_labels, posteriors != nullptr, options.threads);
    phases = std::move(ps.labels);
    if (posteriors) *posteriors = std::move(ps.posteriors);
    if (model_frame) *model_frame = grey;
    report.thresholds = m.means;
    report.status = m.message;
  } else {
    NlmOptions no = options.nlm;
    no.threads = options.threads;
    no.progress = ProgressStyle::kOff;
    NlmReport nr;
    const AnyVolume den = NonLocalMeans(grey, no, &nr);
    GmmOptions go;
    go.components = int(options.class_labels.size());
    go.tied_sigma = true;
    go.threads = options.threads;
    const GmmModel m = FitGaussianMixture(den, go);
    ProbabilisticSegmentation ps = ClassifyGaussianMixture(den, m, options.class_labels, posteriors != nullptr, options.threads);
    phases = std::move(ps.labels);
    if (posteriors) *posteriors = std::move(ps.posteriors);
    const std::int64_t pv = ResolvePartialVolume(phases, den, m, options.class_labels, 1, options.threads);
    ForwardModelReport fm;
    if (options.refine.max_sweeps > 0) RefineByForwardModel(phases, den, options.refine, &fm);
    const std::vector<Phase> pores = options.phases.WithRole(PhaseRole::kPore);
    if (pores.size() != 1)
      throw ConfigError("phases", "nlm+gmm needs exactly one phase with the pore role (for the dual connectivity), got " +
                                      std::to_string(pores.size()));
    const std::int64_t isl =
        RemovePhaseIslands(phases, pores.front().label, DualConnectivity{}, options.min_island_voxels);
    if (model_frame) *model_frame = den;
    report.thresholds = m.means;
    report.status = m.message + "; NLM sigma " + std::to_string(nr.sigma) + ", " + std::to_string(pv) +
               " partial-volume voxels, " + std::to_string(fm.changed()) + " relabelled by the forward model, " +
               std::to_string(isl) + " island voxels relabelled";
  }
  for (const PhaseCleanUp& c : options.clean_up) {
    const std::optional<Phase> ph = options.phases.FindName(c.phase);
    if (!ph) throw ConfigError("clean_up", "no phase named '" + c.phase + "' in " + options.phases.ToSpec());
    MorphologyOptions mo;
    mo.op = c.op;
    mo.radius_um = c.radius_um;
    mo.threads = options.threads;
    std::int64_t changed = 0;
    try {
      changed = CleanPhase(phases, ph->label, mo);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("clean_up/") + ToString(c.op) + ":" + c.phase, e.what());
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "; %s of %s (%g um) relabelled %lld voxels", ToString(c.op), c.phase.c_str(), c.radius_um,
                  static_cast<long long>(changed));
    report.status += buf;
  }
  if (report_out) {
    report_out->thresholds = report.thresholds;
    report_out->status = report.status;
  }
  return phases;
}

std::string SegmentationJson(const QuickLookOptions& options) {
  nlohmann::json j;
  j["method"] = ToString(options.method);
  j["bins"] = options.bins;
  j["class_labels"] = options.class_labels;
  j["phases"] = options.phases.ToSpec();
  if (options.method == SegmentMethod::kNlmGmm) {
    j["min_island_voxels"] = options.min_island_voxels;
    // Only the tuning that differs from the defaults: the provenance of a default run reads as it
    // did before the chain could be tuned. (FrameLabels compares the identity keys only.)
    const NlmOptions dn;
    const ForwardModelOptions dr;
    if (options.nlm.h_factor != dn.h_factor) j["nlm_h_factor"] = options.nlm.h_factor;
    if (options.nlm.sigma != dn.sigma) j["nlm_sigma"] = options.nlm.sigma;
    if (options.nlm.patch_radius_um != dn.patch_radius_um) j["nlm_patch_um"] = options.nlm.patch_radius_um;
    if (options.nlm.search_radius_um != dn.search_radius_um) j["nlm_search_um"] = options.nlm.search_radius_um;
    if (options.refine.max_sweeps != dr.max_sweeps) j["refine_sweeps"] = options.refine.max_sweeps;
    if (options.refine.psf_sigma_vox != dr.psf_sigma_vox) j["psf_sigma_vox"] = options.refine.psf_sigma_vox;
    if (options.refine.smoothness != dr.smoothness) j["refine_smoothness"] = options.refine.smoothness;
  }
  if (!options.clean_up.empty()) {
    nlohmann::json c = nlohmann::json::array();
    for (const PhaseCleanUp& u : options.clean_up)
      c.push_back({{"op", ToString(u.op)}, {"phase", u.phase}, {"radius_um", u.radius_um}});
    j["clean_up"] = c;
  }
  return j.dump();
}

std::vector<PhaseCleanUp> PhaseCleanUpsFromSpec(const std::string& spec, const std::string& key) {
  std::vector<PhaseCleanUp> out;
  std::size_t start = 0;
  while (start <= spec.size()) {
    const std::size_t end = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, end - start);
    const std::size_t a = item.find(':'), b = a == std::string::npos ? a : item.find(':', a + 1);
    if (b == std::string::npos)
      throw ConfigError(key, "'" + item + "' is not op:phase:radius_um (e.g. opening:binder:0.3)");
    PhaseCleanUp c;
    try {
      c.op = MorphologyOpFromString(item.substr(0, a));
    } catch (const ConfigError&) {
      throw ConfigError(key, "'" + item + "': the operation must be opening or closing");
    }
    c.phase = item.substr(a + 1, b - a - 1);
    const std::string r = item.substr(b + 1);
    char* stop = nullptr;
    c.radius_um = std::strtod(r.c_str(), &stop);
    if (c.phase.empty() || r.empty() || *stop != '\0' || !(c.radius_um > 0) || !std::isfinite(c.radius_um))
      throw ConfigError(key, "'" + item + "': need a phase name and a radius in um > 0");
    out.push_back(c);
    start = end + 1;
  }
  return out;
}

namespace {

// SegmentLabelMetrics, also handing out the fractions and areas it measured (for the domain check).
std::vector<LabelMetric> LabelMetricsOf(const PhaseVolume& l, const QuickLookOptions& options, VolumeFractions* fractions,
                                        std::vector<InterfaceArea>* areas) {
  std::vector<LabelMetric> v;
  const VolumeFractions f = ComputeVolumeFractions(l, options.phases, options.threads);
  for (const PhaseFraction& p : f.phases) v.push_back({"fraction_" + p.name, "1", p.fraction});
  SurfaceAreaOptions so;
  so.threads = options.threads;
  const std::vector<InterfaceArea> as = ComputeInterfaceAreas(l, options.phases, so);
  for (const InterfaceArea& a : as) v.push_back({"a_s_" + a.name_a + "_" + a.name_b, "um^-1", a.specific_area_per_um});
  if (fractions) *fractions = f;
  if (areas) *areas = as;
  const std::vector<Phase> pores = options.phases.WithRole(PhaseRole::kPore);
  if (pores.size() == 1) {
    Volume<std::uint8_t> mask(l.geometry(), 0);
    for (std::int64_t i = 0; i < l.size(); ++i) mask[i] = l[i] == pores.front().label;
    DiffusionOptions d;
    d.axis = 0;
    d.threads = options.threads;
    v.push_back({"tau_z_" + pores.front().name, "1", ComputeTortuosity(mask, d).tau});
  }
  return v;
}

// The point segmentation's place in the calibrated domain (frame/uncertainty/label_sampler.h).
CalibrationDomain DomainOf(const VolumeFractions& f, const std::vector<InterfaceArea>& areas, const Geometry& g,
                           double contrast_to_noise) {
  std::vector<PhaseChord> chords;
  for (const PhaseFraction& p : f.phases) {
    PhaseChord c;
    c.name = p.name;
    c.fraction = p.fraction;
    for (const InterfaceArea& a : areas)
      if (a.a == p.label || a.b == p.label) c.area_per_um += a.specific_area_per_um;
    chords.push_back(c);
  }
  const double edge = std::cbrt(g.spacing_um[0] * g.spacing_um[1] * g.spacing_um[2]);
  return CheckCalibrationDomain(std::move(chords), edge, contrast_to_noise);
}

}  // namespace

std::vector<LabelMetric> SegmentLabelMetrics(const PhaseVolume& l, const QuickLookOptions& options) {
  return LabelMetricsOf(l, options, nullptr, nullptr);
}

ResultTable SegmentEnsemble(const PhaseVolume& point, const AnyVolume& model_frame,
                            const std::vector<Volume<std::uint8_t>>& posteriors, const QuickLookOptions& options,
                            std::int64_t frame, const std::function<void(int, const PhaseVolume&)>& on_sample,
                            CalibrationDomain* domain_out) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Phase> pores = options.phases.WithRole(PhaseRole::kPore);
  VolumeFractions point_fractions;
  std::vector<InterfaceArea> point_areas;
  const std::vector<LabelMetric> at_point = LabelMetricsOf(point, options, &point_fractions, &point_areas);
  LabelSamplerOptions so;
  so.model.psf_sigma_vox = options.refine.psf_sigma_vox;
  so.model.smoothness = options.refine.smoothness;
  so.temperature = options.ensemble_temperature;
  so.grey_jitter = options.ensemble_grey_jitter;
  so.grey_jitter_correlation = options.ensemble_jitter_correlation;
  so.seed = Mix64(options.ensemble_seed ^ Mix64(std::uint64_t(frame)));
  so.threads = options.threads;
  LabelSampler sampler(point, model_frame, so);
  const CalibrationDomain domain =
      DomainOf(point_fractions, point_areas, point.geometry(), sampler.min_contrast() / sampler.noise_sigma());
  std::vector<std::vector<double>> values(at_point.size());
  Progress progress("ensemble frame " + std::to_string(frame), options.ensemble, options.progress);
  for (int s = 0; s < options.ensemble; ++s) {
    PhaseVolume l = sampler.Next();
    if (options.method == SegmentMethod::kNlmGmm && pores.size() == 1)
      RemovePhaseIslands(l, pores.front().label, DualConnectivity{}, options.min_island_voxels);
    const std::vector<LabelMetric> v = SegmentLabelMetrics(l, options);
    if (v.size() != at_point.size()) throw std::logic_error("SegmentEnsemble: a sample's metrics differ in number");
    for (std::size_t m = 0; m < v.size(); ++m) values[m].push_back(v[m].value);
    if (on_sample) on_sample(s, l);
    progress.Advance();
  }
  ResultTable t;
  t.name = "segment_ensemble";
  for (std::size_t m = 0; m < at_point.size(); ++m) {
    const EnsembleStat st = SummarizeEnsemble(at_point[m].value, values[m]);
    const std::string& name = at_point[m].name;
    const std::string& unit = at_point[m].unit;
    t.columns.push_back({name, unit, {st.point}});
    t.columns.push_back({name + "_mean", unit, {st.mean}});
    t.columns.push_back({name + "_sd", unit, {st.sd}});
    t.columns.push_back({name + "_p05", unit, {st.p05}});
    t.columns.push_back({name + "_p95", unit, {st.p95}});
  }
  const std::vector<double> expected = ExpectedFractions(posteriors);
  for (std::size_t c = 0; c < expected.size() && c < options.class_labels.size(); ++c) {
    const auto ph = options.phases.FindLabel(options.class_labels[c]);
    t.columns.push_back({"expected_fraction_" + (ph ? ph->name : std::to_string(int(options.class_labels[c]))), "1", {expected[c]}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.columns.push_back({"samples", "1", {double(options.ensemble)}});
  t.columns.push_back({"temperature", "1", {options.ensemble_temperature}});
  t.columns.push_back({"grey_jitter", "1", {options.ensemble_grey_jitter}});
  t.columns.push_back({"jitter_correlation", "1", {options.ensemble_jitter_correlation}});
  t.columns.push_back({"noise_sigma", "grey", {sampler.noise_sigma()}});
  t.columns.push_back({"seconds_per_sample", "s", {seconds / double(options.ensemble)}});
  for (const PhaseChord& c : domain.chords) t.columns.push_back({"chord_" + c.name, "voxel", {c.chord_vox}});
  t.columns.push_back({"contrast_to_noise", "1", {domain.contrast_to_noise}});
  t.columns.push_back({"calibrated", "1", {domain.inside ? 1.0 : 0.0}});
  if (domain_out) *domain_out = domain;
  return t;
}

std::string LabelSampleName(int s) { return "label_sample_" + std::to_string(s); }

namespace {

// Whether a stored result's provenance names the segmentation `options` asks for (method, bins,
// class labels, phases; not its tuning).
bool SameSegmentation(const nlohmann::json& p, const QuickLookOptions& options) {
  if (!p.is_object() || !p.contains("options") || !p["options"].is_object() || !p["options"].contains("segmentation"))
    return false;
  const nlohmann::json& stored = p["options"]["segmentation"];
  const nlohmann::json want = nlohmann::json::parse(SegmentationJson(options));
  if (!stored.is_object()) return false;
  for (const char* key : {"method", "bins", "class_labels", "phases"})
    if (!stored.contains(key) || stored[key] != want[key]) return false;
  return true;
}

// Removes frame k's label samples numbered `from` and up.
void RemoveLabelSamples(FrameStore& store, std::int64_t k, int from) {
  const std::vector<std::string> volumes = store.ListFrameVolumes(k);
  for (int s = from; std::find(volumes.begin(), volumes.end(), LabelSampleName(s)) != volumes.end(); ++s)
    store.RemoveFrameResult(k, LabelSampleName(s));
}

}  // namespace

std::vector<QuickLookRow> RunSegment(const std::string& store_path, const QuickLookOptions& options, bool probabilities) {
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, options.frames);
  const nlohmann::json segmentation = nlohmann::json::parse(SegmentationJson(options));
  const bool ensemble = options.ensemble != 0;
  if (ensemble && options.ensemble < 2)
    throw ConfigError("ensemble", "an ensemble needs at least 2 samples, got " + std::to_string(options.ensemble));
  if (ensemble && options.method == SegmentMethod::kMultiOtsu)
    throw ConfigError("ensemble", "multi-Otsu has no posterior to sample: give --method gmm or nlm+gmm");
  if (ensemble && !(options.ensemble_temperature > 0))
    throw ConfigError("ensemble_temperature", "must be > 0, got " + std::to_string(options.ensemble_temperature));
  std::vector<QuickLookRow> rows;
  Progress progress("segment", std::int64_t(frames.size()), options.progress);
  for (std::int64_t k : frames) {
    const AnyVolume grey = store.ReadFrame(k, options.threads);
    QuickLookRow r;
    r.frame = k;
    std::vector<Volume<std::uint8_t>> posteriors;
    AnyVolume model_frame;
    const PhaseVolume labels =
        SegmentFrame(grey, options, &r, probabilities || ensemble ? &posteriors : nullptr, ensemble ? &model_frame : nullptr);
    ResultTable ens;
    CalibrationDomain domain;
    if (ensemble) {
      // Samples are stored as they are drawn (one in memory at a time); the ensemble's table, written
      // after the labels below, marks them complete (StoredLabelSamples). A failure before it leaves
      // the samples without their table: no later step reads them.
      store.RemoveFrameResult(k, "segment_ensemble");
      nlohmann::json sj;
      sj["segmentation"] = segmentation;
      sj["ensemble"] = {{"temperature", options.ensemble_temperature},
                        {"grey_jitter", options.ensemble_grey_jitter},
                        {"jitter_correlation", options.ensemble_jitter_correlation},
                        {"seed", options.ensemble_seed}};
      ens = SegmentEnsemble(
          labels, model_frame, posteriors, options, k,
          [&](int s, const PhaseVolume& l) {
            sj["sample"] = s;
            store.WriteFrameVolume(k, LabelSampleName(s), l, Provenance{"segment", "frame " + std::to_string(k), sj.dump(), ""});
          },
          &domain);
      r.outside_calibration = domain.why;
      RemoveLabelSamples(store, k, options.ensemble);
    }
    if (!probabilities) posteriors.clear();
    r.measured = ComputeVolumeFractions(labels, options.phases, options.threads);
    nlohmann::json pj;
    pj["segmentation"] = segmentation;
    pj[options.method == SegmentMethod::kMultiOtsu ? "thresholds" : "means"] = r.thresholds;
    pj["status"] = r.status;
    const Provenance prov{"segment", "frame " + std::to_string(k), pj.dump(), ""};
    // Everything is computed: now write (a failure above leaves the store as it was).
    std::set<std::string> written{"labels"};
    for (std::size_t c = 0; c < posteriors.size(); ++c) {
      const auto phase = options.phases.FindLabel(options.class_labels[c]);
      const std::string name = "probability_" + (phase ? phase->name : std::to_string(int(options.class_labels[c])));
      store.WriteFrameVolume(k, name, posteriors[c], prov);
      written.insert(name);
    }
    store.WriteFrameVolume(k, "labels", labels, prov);
    if (!ensemble) {  // an ensemble of earlier labels no longer describes these
      store.RemoveFrameResult(k, "segment_ensemble");
      RemoveLabelSamples(store, k, 0);
    } else {
      nlohmann::json ej = pj;
      ej["ensemble"] = {{"samples", options.ensemble},
                        {"temperature", options.ensemble_temperature},
                        {"grey_jitter", options.ensemble_grey_jitter},
                        {"grey_jitter_calibrated", kCalibratedGreyJitter},
                        {"jitter_correlation", options.ensemble_jitter_correlation},
                        {"jitter_correlation_calibrated", kCalibratedJitterCorrelation},
                        {"seed", options.ensemble_seed},
                        {"calibration", "bench/uncertainty.cc, bench/RESULTS.md 'Label ensembles'"},
                        {"calibrated_min_chord_voxels", kCalibratedMinChordVoxels},
                        {"calibrated_min_contrast_to_noise", kCalibratedMinContrastToNoise}};
      ej["domain"] = domain.inside ? "inside the calibrated domain" : "outside the calibrated domain: " + domain.why;
      store.WriteFrameTable(k, ens, Provenance{"segment", "frame " + std::to_string(k), ej.dump(), ""});
    }
    // Maps of an earlier segmentation of this frame would not belong to these labels.
    for (const std::string& name : store.ListFrameVolumes(k))
      if (name.rfind("probability_", 0) == 0 && !written.count(name)) store.RemoveFrameResult(k, name);
    rows.push_back(std::move(r));
    progress.Advance();
  }
  return rows;
}

int StoredLabelSamples(const FrameStore& store, std::int64_t k, const QuickLookOptions& options) {
  const std::vector<std::string> tables = store.ListFrameTables(k);
  if (std::find(tables.begin(), tables.end(), "segment_ensemble") == tables.end()) return 0;
  const nlohmann::json p =
      nlohmann::json::parse(store.ReadTableProvenance(FrameResultsGroup(k) + "/segment_ensemble"), nullptr, false);
  if (!SameSegmentation(p, options)) return 0;
  const ResultTable t = store.ReadFrameTable(k, "segment_ensemble");
  const ResultColumn* n = t.Find("samples");
  if (!n || n->values.empty()) return 0;
  const std::vector<std::string> volumes = store.ListFrameVolumes(k);
  const int count = int(n->values[0]);
  for (int s = 0; s < count; ++s)
    if (std::find(volumes.begin(), volumes.end(), LabelSampleName(s)) == volumes.end()) return 0;
  return count;
}

PhaseVolume ReadLabelSample(const FrameStore& store, std::int64_t k, int s) {
  AnyVolume stored = store.ReadFrameVolume(k, LabelSampleName(s));
  auto* l = std::get_if<PhaseVolume>(&stored);
  if (!l) throw IoError(store.path(), FrameResultsGroup(k) + "/" + LabelSampleName(s), "a label sample must be uint8");
  return std::move(*l);
}

Volume<std::uint8_t> LabelSampleMask(const FrameStore& store, std::int64_t k, int s, std::uint8_t label) {
  const PhaseVolume l = ReadLabelSample(store, k, s);
  Volume<std::uint8_t> mask(l.geometry(), 0);
  for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = l[i] == label;
  return mask;
}

void RequireLabelSamples(const FrameStore& store, const std::string& store_path, const std::vector<std::int64_t>& frames,
                         const QuickLookOptions& segment, int n, bool labels_input) {
  if (n == 0) return;
  if (n < 2) throw ConfigError("ensemble", "an ensemble needs at least 2 samples, got " + std::to_string(n));
  if (labels_input)
    throw ConfigError("ensemble", "label samples come from the segment step's ensemble (op4d segment --ensemble N); "
                                  "frames that hold labels have none");
  for (std::int64_t k : frames) {
    const int stored = StoredLabelSamples(store, k, segment);
    if (stored < n)
      throw ConfigError("ensemble", store_path + ": frame " + std::to_string(k) + " holds " + std::to_string(stored) +
                                        " label samples of the " + ToString(segment.method) + " segmentation, asked for " +
                                        std::to_string(n) + ": run op4d segment --method " + ToString(segment.method) +
                                        " --ensemble N (N >= " + std::to_string(n) + ") first");
  }
}

PhaseVolume FrameLabels(const FrameStore& store, std::int64_t k, const AnyVolume& grey, const QuickLookOptions& options,
                        QuickLookRow* report) {
  const std::vector<std::string> volumes = store.ListFrameVolumes(k);
  if (std::find(volumes.begin(), volumes.end(), "labels") != volumes.end()) {
    const nlohmann::json p = nlohmann::json::parse(store.ReadTableProvenance(FrameResultsGroup(k) + "/labels"), nullptr, false);
    if (SameSegmentation(p, options)) {
      AnyVolume stored = store.ReadFrameVolume(k, "labels");
      if (auto* labels = std::get_if<Volume<std::uint8_t>>(&stored))
        if (labels->shape() == std::visit([](const auto& v) { return v.shape(); }, grey)) {
          if (report) {
            const nlohmann::json& o = p["options"];
            const char* key = o.contains("thresholds") ? "thresholds" : "means";
            if (o.contains(key)) report->thresholds = o[key].get<std::vector<double>>();
            report->status = o.value("status", "") + " (labels stored by the segment step)";
          }
          return std::move(*labels);
        }
    }
  }
  return SegmentFrame(grey, options, report);
}

std::vector<QuickLookRow> RunQuickLook(const std::string& store_path, const QuickLookOptions& options) {
  if (options.class_labels.size() < 2) throw ConfigError("class_labels", "at least two classes are needed");
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, options.frames);
  std::optional<FrameStore> truth;
  if (!options.truth_path.empty()) truth = FrameStore::OpenRead(options.truth_path);
  const TimeTable tt = store.ReadTimeTable();
  nlohmann::json j;
  j["method"] = ToString(options.method);
  j["bins"] = options.bins;
  j["class_labels"] = options.class_labels;
  j["phases"] = options.phases.ToSpec();
  std::vector<QuickLookRow> rows;
  Progress progress("quicklook", std::int64_t(frames.size()), options.progress);
  for (std::int64_t k : frames) {
    const AnyVolume grey = store.ReadFrame(k, options.threads);
    QuickLookRow r;
    const PhaseVolume phases = FrameLabels(store, k, grey, options, &r);
    r.frame = k;
    r.time_s = tt.values[0][std::size_t(k)];
    r.voltage_V = (*tt.Find("voltage_V"))[std::size_t(k)];
    r.p_app_Pa = (*tt.Find("p_app_Pa"))[std::size_t(k)];
    r.measured = ComputeVolumeFractions(phases, options.phases, options.threads);
    if (truth && k < truth->frame_count()) {
      const AnyVolume t = truth->ReadFrame(k, options.threads);
      r.truth = ComputeVolumeFractions(std::get<Volume<std::uint8_t>>(t), options.phases, options.threads);
    }
    ResultTable table = r.measured.ToTable();
    table.name = "quicklook_fractions";
    nlohmann::json pj = j;
    pj[options.method == SegmentMethod::kMultiOtsu ? "thresholds" : "means"] = r.thresholds;
    pj["status"] = r.status;
    store.WriteFrameTable(k, table, {"quicklook", "frame " + std::to_string(k), pj.dump(), ""});
    rows.push_back(std::move(r));
    progress.Advance();
  }
  return rows;
}

std::vector<std::int64_t> FramesToRun(const FrameStore& store, const std::string& store_path,
                                      const std::vector<std::int64_t>& frames) {
  if (store.frame_count() == 0) throw IoError(store_path, "/frames/volume", "the campaign has no frames");
  std::vector<std::int64_t> out = frames;
  if (out.empty())
    for (std::int64_t k = 0; k < store.frame_count(); ++k) out.push_back(k);
  for (std::int64_t k : out)
    if (k < 0 || k >= store.frame_count())
      throw ConfigError("frames", "frame " + std::to_string(k) + " is not in " + store_path + " (it has " +
                                      std::to_string(store.frame_count()) + " frames)");
  return out;
}

ResultTable MergeFrameRows(const FrameStore& store, const ResultTable& fresh, const std::string& options_json) {
  const ResultColumn* frame = fresh.Find("frame");
  if (!frame) throw InvalidArgument("table '" + fresh.name + "' has no frame column to merge by");
  const std::vector<std::string> names = store.ListSeriesTables();
  if (std::find(names.begin(), names.end(), fresh.name) == names.end()) return fresh;
  const nlohmann::json prov = nlohmann::json::parse(store.ReadTableProvenance("/series/" + fresh.name), nullptr, false);
  if (!prov.is_object() || !prov.contains("options") || prov["options"] != nlohmann::json::parse(options_json)) return fresh;
  const ResultTable old = store.ReadSeriesTable(fresh.name);
  const ResultColumn* old_frame = old.Find("frame");
  if (!old_frame) return fresh;
  for (const ResultColumn& c : fresh.columns)
    if (!old.Find(c.name)) return fresh;
  // Rows by frame: the fresh ones win.
  std::map<double, std::pair<const ResultTable*, std::size_t>> rows;
  for (std::size_t r = 0; r < old.rows(); ++r) rows[old_frame->values[r]] = {&old, r};
  for (std::size_t r = 0; r < fresh.rows(); ++r) rows[frame->values[r]] = {&fresh, r};
  ResultTable merged{fresh.name, {}};
  for (const ResultColumn& c : fresh.columns) {
    ResultColumn m{c.name, c.unit, {}};
    for (const auto& [f, at] : rows) m.values.push_back(at.first->Find(c.name)->values[at.second]);
    merged.columns.push_back(std::move(m));
  }
  return merged;
}

std::string OutputStem(const std::string& out_dir, const std::string& stem) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw IoError(out_dir, "", "cannot create directory: " + ec.message());
  return out_dir + "/" + stem;
}

std::string FrameFileStem(const std::string& out_dir, std::int64_t k) {
  char stem[32];
  std::snprintf(stem, sizeof stem, "frame_%06lld", static_cast<long long>(k));
  return OutputStem(out_dir, stem);
}

}  // namespace op4d
