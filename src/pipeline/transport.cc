#include "op4d/pipeline/transport.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/frame/uncertainty/ensemble.h"
#include "op4d/io/export.h"
#include "op4d/pipeline/network.h"
#include "op4d/store/frame_store.h"

namespace op4d {

namespace {

int AxisOf(char c) {
  switch (c) {
    case 'z': return 0;
    case 'y': return 1;
    case 'x': return 2;
  }
  throw ConfigError("axes", std::string("'") + c + "' is not an axis: use z, y and x (e.g. zyx)");
}

// The table tortuosity_ensemble of one frame (TransportRunOptions::ensemble documents it). A sample
// whose phase does not percolate has tau +inf in its table, as SummarizeEnsemble counts it.
ResultTable TortuosityEnsemble(const FrameStore& store, std::int64_t k, std::uint8_t label, const ResultTable& point,
                               std::vector<Volume<float>> fields, const TransportRunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  static const char* kMetrics[] = {"axis", "volume_fraction", "percolating_fraction", "d_eff_over_d_bulk", "tau"};
  auto metrics = [](const ResultTable& t) {
    ResultTable m{t.name, {}};
    for (const char* name : kMetrics) m.columns.push_back(*t.Find(name));
    return m;
  };
  const std::size_t axes = options.axes.size();
  std::vector<ResultTable> samples;
  std::vector<double> non_percolating(axes, 0.0), iterations(axes, 0.0);
  Progress progress("tortuosity ensemble frame " + std::to_string(k), options.ensemble, options.progress);
  for (int s = 0; s < options.ensemble; ++s) {
    // Warm start from the previous sample's fields (the point's for the first): they differ only
    // near the interfaces that moved.
    std::vector<Volume<float>> next;
    const ResultTable t = TortuosityTable(LabelSampleMask(store, k, s, label), options.axes, options.solver, &next,
                                          ProgressStyle::kOff, fields.size() == axes ? &fields : nullptr);
    fields = std::move(next);
    for (std::size_t a = 0; a < axes; ++a) {
      iterations[a] += t.Find("iterations")->values[a];
      non_percolating[a] += !(t.Find("percolating_fraction")->values[a] > 0);
    }
    samples.push_back(metrics(t));
    progress.Advance();
  }
  ResultTable out = SummarizeTableEnsemble("tortuosity_ensemble", metrics(point), samples, {"axis"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (double& it : iterations) it /= double(options.ensemble);
  out.columns.push_back({"non_percolating", "1", non_percolating});
  out.columns.push_back({"seconds_per_sample", "s", std::vector<double>(axes, seconds / double(options.ensemble))});
  out.columns.push_back({"iterations_per_sample", "1", iterations});
  return out;
}

}  // namespace

ResultTable TortuosityTable(const Volume<std::uint8_t>& mask, const std::string& axes, const DiffusionOptions& solver,
                            std::vector<Volume<float>>* fields, ProgressStyle progress_style,
                            const std::vector<Volume<float>>* initial) {
  if (initial && initial->size() != axes.size())
    throw InvalidArgument("tortuosity warm start: " + std::to_string(initial->size()) + " fields for " +
                          std::to_string(axes.size()) + " axes");
  if (axes.empty()) throw ConfigError("axes", "give at least one of z, y, x");
  ResultTable table;
  Progress progress("tortuosity (axes)", std::int64_t(axes.size()), progress_style);
  for (std::size_t ai = 0; ai < axes.size(); ++ai) {
    DiffusionOptions o = solver;
    o.axis = AxisOf(axes[ai]);
    o.keep_concentration = fields != nullptr;
    if (initial) o.initial = &(*initial)[ai];
    const auto t0 = std::chrono::steady_clock::now();
    DiffusionResult r = ComputeTortuosity(mask, o);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ResultTable row = r.ToTable();
    row.columns.push_back({"seconds", "s", {seconds}});
    if (table.columns.empty()) {
      table = row;
    } else {
      for (std::size_t i = 0; i < row.columns.size(); ++i) table.columns[i].values.push_back(row.columns[i].values[0]);
    }
    if (fields) fields->push_back(std::move(r.concentration));
    progress.Advance();
  }
  return table;
}

std::vector<std::string> WriteTortuosityFiles(const std::string& base, const ResultTable& table,
                                              const std::vector<Volume<float>>& fields, const std::string& axes) {
  std::vector<std::string> files{base + "_tortuosity.csv"};
  WriteCsv(files.back(), table);
  for (std::size_t a = 0; a < fields.size() && a < axes.size(); ++a) {
    files.push_back(base + "_c_" + axes[a] + ".vti");
    WriteVti(files.back(), fields[a], "concentration");
  }
  return files;
}

std::vector<TransportRunRow> RunTransport(const std::string& store_path, const TransportRunOptions& options) {
  for (char c : options.axes) AxisOf(c);
  std::string why;
  if (!options.solver.IsValid(&why)) throw ConfigError("solver", why);
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, options.frames);
  std::uint8_t label = 0;
  if (options.value < 0) {
    const std::optional<Phase> p = options.segment.phases.FindName(options.phase);
    if (!p) throw ConfigError("phase", "no phase named '" + options.phase + "' in " + options.segment.phases.ToSpec());
    label = p->label;
  }
  nlohmann::json j;
  j["axes"] = options.axes;
  j["tolerance"] = options.solver.tolerance;
  j["flux_tolerance"] = options.solver.flux_tolerance;
  j["preconditioner"] = ToString(options.solver.preconditioner);
  j["convention"] = DiffusionResult().convention;
  if (options.value >= 0) j["value"] = options.value;
  else {
    j["phase"] = options.phase;
    j["segment"] = ToString(options.segment.method);
  }
  RequireLabelSamples(store, store_path, frames, options.segment, options.ensemble, options.value >= 0);
  if (options.ensemble != 0) j["ensemble"] = options.ensemble;
  std::vector<TransportRunRow> rows;
  Progress progress("tortuosity (frames)", std::int64_t(frames.size()), options.progress);
  for (std::int64_t k : frames) {
    const AnyVolume frame = store.ReadFrame(k, options.solver.threads);
    const Volume<std::uint8_t> mask = PhaseMaskOfFrame(frame, options.value, options.segment, label, &store, k);
    std::vector<Volume<float>> fields;
    TransportRunRow row;
    row.frame = k;
    row.table = TortuosityTable(mask, options.axes, options.solver, options.write_field || options.ensemble ? &fields : nullptr,
                                frames.size() > 1 ? ProgressStyle::kOff : options.progress);
    if (options.ensemble)  // the point's fields start the samples' solves (moved unless written below)
      row.ensemble = TortuosityEnsemble(store, k, label, row.table, options.write_field ? fields : std::move(fields), options);
    if (!options.write_field) fields.clear();
    store.WriteFrameTable(k, row.table, {"transport", "frame " + std::to_string(k), j.dump(), ""});
    if (options.ensemble) store.WriteFrameTable(k, row.ensemble, {"transport", "frame " + std::to_string(k), j.dump(), ""});
    else store.RemoveFrameResult(k, "tortuosity_ensemble");  // an earlier run's ensemble is stale now
    if (!options.out_dir.empty())
      row.files = WriteTortuosityFiles(FrameFileStem(options.out_dir, k), row.table, fields, options.axes);
    rows.push_back(std::move(row));
    progress.Advance();
  }
  return rows;
}

}  // namespace op4d

namespace op4d {

namespace {

// The conductivity table of one label volume, one row per axis (RunConductivity documents it).
ResultTable ConductivityTable(const PhaseVolume& labels, const ConductivityRunOptions& options, std::uint8_t active,
                              int binder) {
  Volume<float> sigma(labels.geometry(), 0.0f);
  Volume<std::uint8_t> mask(labels.geometry(), 0);
  for (std::int64_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == active) sigma[i] = float(options.sigma_active_S_per_m), mask[i] = 1;
    else if (binder >= 0 && labels[i] == binder) sigma[i] = float(options.sigma_binder_S_per_m);
  }
  WatershedOptions wo = options.watershed;
  wo.threads = options.solver.threads;
  const LabelVolume particles = SeparateParticles(mask, wo).labels;
  ResultTable table;
  for (char c : options.axes) {
    ConductivityOptions co;
    co.solver = options.solver;
    co.solver.axis = AxisOf(c);
    co.contact_resistance_ohm_m2 = options.contact_resistance_ohm_m2;
    const ConductivityResult r = ComputeConductivity(sigma, particles, co);
    ResultTable row = r.ToTable();
    row.columns.push_back({"sigma_eff_over_sigma_active", "1", {r.sigma_eff_S_per_m / options.sigma_active_S_per_m}});
    if (table.columns.empty()) table = row;
    else
      for (std::size_t i = 0; i < row.columns.size(); ++i) table.columns[i].values.push_back(row.columns[i].values[0]);
  }
  return table;
}

// The table conductivity_ensemble of frame k (ConductivityRunOptions::ensemble documents it).
ResultTable ConductivityEnsemble(const FrameStore& store, std::int64_t k, const ResultTable& point,
                                 const ConductivityRunOptions& options, std::uint8_t active, int binder) {
  const auto start = std::chrono::steady_clock::now();
  static const char* kMetrics[] = {"axis", "volume_fraction", "percolating_fraction", "sigma_eff", "tau_electronic",
                                   "contact_faces", "contact_power_share", "sigma_eff_over_sigma_active"};
  auto metrics = [](const ResultTable& t) {
    ResultTable m{t.name, {}};
    for (const char* name : kMetrics) m.columns.push_back(*t.Find(name));
    return m;
  };
  std::vector<ResultTable> samples;
  Progress progress("conductivity ensemble frame " + std::to_string(k), options.ensemble, options.progress);
  for (int s = 0; s < options.ensemble; ++s) {
    samples.push_back(metrics(ConductivityTable(ReadLabelSample(store, k, s), options, active, binder)));
    progress.Advance();
  }
  ResultTable out = SummarizeTableEnsemble("conductivity_ensemble", metrics(point), samples, {"axis"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.columns.push_back({"seconds_per_sample", "s", std::vector<double>(out.rows(), seconds / options.ensemble)});
  return out;
}

}  // namespace

std::vector<std::pair<std::int64_t, ResultTable>> RunConductivity(const std::string& store_path, const ConductivityRunOptions& options) {
  if (!(options.sigma_active_S_per_m > 0) || !std::isfinite(options.sigma_active_S_per_m))
    throw ConfigError("sigma-active", "must be a finite conductivity > 0 S/m");
  if (!(options.sigma_binder_S_per_m >= 0) || !std::isfinite(options.sigma_binder_S_per_m))
    throw ConfigError("sigma-binder", "must be a finite conductivity >= 0 S/m");
  if (!(options.contact_resistance_ohm_m2 >= 0) || !std::isfinite(options.contact_resistance_ohm_m2))
    throw ConfigError("contact-resistance", "must be a finite resistance >= 0 ohm m^2");
  for (char c : options.axes) AxisOf(c);
  if (options.axes.empty()) throw ConfigError("axes", "give at least one of z, y, x");
  const PhaseTable& phases = options.segment.phases;
  const std::vector<Phase> active = phases.WithRole(PhaseRole::kActive), binder = phases.WithRole(PhaseRole::kBinder);
  if (active.size() != 1) throw ConfigError("phases", "the conductivity needs exactly one phase with the active role");
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, options.frames);
  nlohmann::json j;
  j["axes"] = options.axes;
  j["sigma_active_S_per_m"] = options.sigma_active_S_per_m;
  j["sigma_binder_S_per_m"] = options.sigma_binder_S_per_m;
  j["contact_resistance_ohm_m2"] = options.contact_resistance_ohm_m2;
  j["segment"] = ToString(options.segment.method);
  j["tolerance"] = options.solver.tolerance;
  RequireLabelSamples(store, store_path, frames, options.segment, options.ensemble, store.layout()->phases.has_value());
  if (options.ensemble) j["ensemble"] = options.ensemble;
  std::vector<std::pair<std::int64_t, ResultTable>> out;
  Progress progress("conductivity (frames)", std::int64_t(frames.size()), options.progress);
  for (std::int64_t k : frames) {
    const AnyVolume grey = store.ReadFrame(k, options.solver.threads);
    // A label campaign (phases in the store) is its own segmentation.
    const PhaseVolume labels = store.layout()->phases && std::holds_alternative<Volume<std::uint8_t>>(grey)
                                   ? std::get<Volume<std::uint8_t>>(grey)
                                   : FrameLabels(store, k, grey, options.segment);
    const int binder_label = binder.empty() ? -1 : binder.front().label;
    const ResultTable table = ConductivityTable(labels, options, active.front().label, binder_label);
    const Provenance prov{"conductivity", "frame " + std::to_string(k), j.dump(), ""};
    if (options.ensemble)
      store.WriteFrameTable(k, ConductivityEnsemble(store, k, table, options, active.front().label, binder_label), prov);
    else store.RemoveFrameResult(k, "conductivity_ensemble");  // an earlier run's ensemble is stale now
    store.WriteFrameTable(k, table, prov);
    out.push_back({k, std::move(table)});
    progress.Advance();
  }
  return out;
}

}  // namespace op4d
