#include "op4d/pipeline/geometry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/frame/uncertainty/ensemble.h"
#include "op4d/io/export.h"
#include "op4d/store/frame_store.h"

namespace op4d {

namespace {

// Quantile q of sorted values by linear interpolation between order statistics (NaN if empty).
double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return std::nan("");
  const double pos = q * double(sorted.size() - 1);
  const std::size_t i = std::size_t(pos);
  const double f = pos - double(i);
  return i + 1 < sorted.size() ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

std::optional<Phase> OneWithRole(const PhaseTable& t, PhaseRole role) {
  const std::vector<Phase> p = t.WithRole(role);
  if (p.size() != 1) return std::nullopt;
  return p.front();
}

// The geometry tables an ensemble summarises, with the key columns that identify their rows.
const std::pair<const char*, std::vector<std::string>> kEnsembleTables[] = {
    {"volume_fractions", {"label"}},       {"percolation", {"label", "connectivity"}},
    {"interface_areas", {"phase_a", "phase_b"}}, {"thickness_distribution", {"phase"}},
    {"particle_size_summary", {}},        {"contacts", {}}};

// FrameGeometry::ensemble of frame k (GeometryRunOptions::ensemble documents it).
std::vector<ResultTable> GeometryEnsemble(const FrameStore& store, std::int64_t k, const FrameGeometry& point,
                                          const GeometryRunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ResultTable> point_tables = point.Tables();
  auto find = [](const std::vector<ResultTable>& tables, const std::string& name) -> const ResultTable* {
    for (const ResultTable& t : tables)
      if (t.name == name) return &t;
    return nullptr;
  };
  std::vector<std::vector<ResultTable>> samples(std::size(kEnsembleTables));
  GeometryRunOptions o = options;
  o.progress = ProgressStyle::kOff;
  Progress progress("geometry ensemble frame " + std::to_string(k), options.ensemble, options.progress);
  for (int s = 0; s < options.ensemble; ++s) {
    const std::vector<ResultTable> tables = DescribeFrame(ReadLabelSample(store, k, s), o).Tables();
    for (std::size_t t = 0; t < std::size(kEnsembleTables); ++t)
      if (const ResultTable* found = find(tables, kEnsembleTables[t].first)) samples[t].push_back(*found);
    progress.Advance();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<ResultTable> out;
  for (std::size_t t = 0; t < std::size(kEnsembleTables); ++t) {
    const ResultTable* p = find(point_tables, kEnsembleTables[t].first);
    if (!p || p->rows() == 0 || samples[t].size() < 2) continue;  // e.g. no particles without an active phase
    out.push_back(SummarizeTableEnsemble(p->name + "_ensemble", *p, samples[t], kEnsembleTables[t].second));
    out.back().columns.push_back({"seconds_per_sample", "s", std::vector<double>(p->rows(), seconds / options.ensemble)});
  }
  return out;
}

}  // namespace

std::vector<ResultTable> FrameGeometry::Tables() const {
  std::vector<ResultTable> t{fractions.ToTable(), percolation.ToTable(), InterfaceAreaTable(interfaces), thickness,
                             particle_sizes};
  if (!particles.empty()) {
    ResultTable p = ParticleTable(particles);
    p.name = "particles";
    t.push_back(p);
  }
  ResultTable c = contacts.ToTable();
  c.name = "contacts";
  t.push_back(c);
  if (!contacts.particles.empty()) t.push_back(contacts.ParticleTable());
  t.push_back(seconds);
  t.insert(t.end(), ensemble.begin(), ensemble.end());
  return t;
}

FrameGeometry DescribeFrame(const PhaseVolume& phases, const GeometryRunOptions& o) {
  const PhaseTable& table = o.segment.phases;
  std::string why;
  if (!table.IsValid(&why)) throw ConfigError("phases", why);
  for (const std::string& name : o.thickness_phases)
    if (!table.FindName(name)) throw ConfigError("thickness_phases", "no phase named '" + name + "' in " + table.ToSpec());
  FrameGeometry g;
  g.seconds.name = "geometry_timing";
  auto timed = [&](const char* what, auto&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    g.seconds.columns.push_back({what, "s", {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});
  };
  timed("fractions", [&] { g.fractions = ComputeVolumeFractions(phases, table, o.threads); });
  timed("percolation", [&] { g.percolation = ComputePercolation(phases, table, o.connectivity, o.threads); });
  SurfaceAreaOptions so = o.surface;
  so.threads = o.threads;
  timed("interface_areas", [&] { g.interfaces = ComputeInterfaceAreas(phases, table, so); });
  // Continuous size distribution: local thickness (diameter, µm) over each phase's voxels.
  g.thickness = {"thickness_distribution",
                 {{"phase", "1", {}}, {"voxels", "1", {}}, {"mean", "um", {}}, {"p10", "um", {}}, {"median", "um", {}},
                  {"p90", "um", {}}, {"max", "um", {}}}};
  timed("local_thickness", [&] {
    for (const Phase& ph : table.phases()) {
      if (!o.thickness_phases.empty() &&
          std::find(o.thickness_phases.begin(), o.thickness_phases.end(), ph.name) == o.thickness_phases.end())
        continue;
      Volume<std::uint8_t> m(phases.geometry());
      for (std::int64_t i = 0; i < m.size(); ++i) m[i] = phases[i] == ph.label;
      const Volume<float> lt = LocalThickness(m, o.threads);
      std::vector<double> d;
      for (std::int64_t i = 0; i < m.size(); ++i)
        if (m[i]) d.push_back(lt[i]);
      std::sort(d.begin(), d.end());
      double mean = 0;
      for (double v : d) mean += v;
      mean = d.empty() ? std::nan("") : mean / double(d.size());
      const double row[7] = {double(ph.label), double(d.size()), mean, Quantile(d, 0.1), Quantile(d, 0.5), Quantile(d, 0.9),
                             d.empty() ? std::nan("") : d.back()};
      for (int c = 0; c < 7; ++c) g.thickness.columns[std::size_t(c)].values.push_back(row[c]);
    }
  });
  // Discrete sizes: the active phase separated into particles; contacts with the binder.
  const std::optional<Phase> active = OneWithRole(table, PhaseRole::kActive), binder = OneWithRole(table, PhaseRole::kBinder);
  g.particle_sizes = {"particle_size_summary",
                      {{"particles", "1", {}}, {"touching_border", "1", {}}, {"p10_diameter", "um", {}},
                       {"median_diameter", "um", {}}, {"p90_diameter", "um", {}}, {"median_sphericity", "1", {}}}};
  LabelVolume particle_labels;
  if (o.particles && active) {
    timed("particles", [&] {
      Volume<std::uint8_t> m(phases.geometry());
      for (std::int64_t i = 0; i < m.size(); ++i) m[i] = phases[i] == active->label;
      WatershedOptions wo = o.watershed;
      wo.threads = o.threads;
      particle_labels = SeparateParticles(m, wo).labels;
      g.particles = MeasureParticles(particle_labels, o.threads);
    });
    std::vector<double> d, s;
    double border = 0;
    for (const ParticleStats& p : g.particles) {
      d.push_back(p.equivalent_diameter_um);
      s.push_back(p.sphericity);
      border += p.touches_border;
    }
    std::sort(d.begin(), d.end());
    std::sort(s.begin(), s.end());
    const double row[6] = {double(g.particles.size()), border, Quantile(d, 0.1), Quantile(d, 0.5), Quantile(d, 0.9), Quantile(s, 0.5)};
    for (int c = 0; c < 6; ++c) g.particle_sizes.columns[std::size_t(c)].values.push_back(row[c]);
  }
  if (active && binder)
    timed("contacts", [&] {
      g.contacts = ComputeContacts(phases, active->label, binder->label, particle_labels.empty() ? nullptr : &particle_labels,
                                   o.adhesion);
    });
  return g;
}

std::vector<std::string> WriteGeometryFiles(const std::string& base, const FrameGeometry& g) {
  std::vector<std::string> files;
  for (const ResultTable& t : g.Tables()) {
    files.push_back(base + "_" + t.name + ".csv");
    WriteCsv(files.back(), t);
  }
  return files;
}

std::vector<GeometryRunRow> RunGeometry(const std::string& store_path, const GeometryRunOptions& options) {
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, options.frames);
  nlohmann::json j;
  j["phases"] = options.segment.phases.ToSpec();
  j["input"] = options.labels ? "labels" : std::string("segmented: ") + ToString(options.segment.method);
  j["smoothing_sigma_vox"] = options.surface.smoothing_sigma_vox;
  j["watershed_h_um"] = options.watershed.h_um;
  j["adhesion_energy_J_per_m2"] = options.adhesion.adhesion_energy_J_per_m2;
  j["adhesion_strength_Pa"] = options.adhesion.adhesion_strength_Pa;
  j["connectivity"] = std::string("pore ") + ToString(options.connectivity.pore) + ", solid " + ToString(options.connectivity.solid);
  RequireLabelSamples(store, store_path, frames, options.segment, options.ensemble, options.labels);
  if (options.ensemble) j["ensemble"] = options.ensemble;
  std::vector<GeometryRunRow> rows;
  Progress progress("geometry (frames)", std::int64_t(frames.size()), options.progress);
  for (std::int64_t k : frames) {
    const AnyVolume frame = store.ReadFrame(k, options.threads);
    PhaseVolume phases;
    if (options.labels) {
      phases = std::visit(
          [&](const auto& v) -> PhaseVolume {
            using T = typename std::decay_t<decltype(v)>::value_type;
            if constexpr (std::is_floating_point_v<T>) {
              throw InvalidArgument(store_path + ": frame " + std::to_string(k) + " holds float32 grey values, not labels");
            } else {
              PhaseVolume p(v.geometry());
              for (std::int64_t i = 0; i < v.size(); ++i) {
                if (v[i] < 0 || v[i] > 255)
                  throw InvalidArgument(store_path + ": frame " + std::to_string(k) + " holds value " + std::to_string(v[i]) +
                                        ", not a phase label (0..255)");
                p[i] = std::uint8_t(v[i]);
              }
              return p;
            }
          },
          frame);
    } else {
      phases = FrameLabels(store, k, frame, options.segment);
    }
    GeometryRunRow row;
    row.frame = k;
    row.geometry = DescribeFrame(phases, options);
    if (options.ensemble) row.geometry.ensemble = GeometryEnsemble(store, k, row.geometry, options);
    const Provenance prov{"geometry", "frame " + std::to_string(k), j.dump(), ""};
    for (const auto& [name, keys] : kEnsembleTables)  // an earlier run's ensemble is stale now
      store.RemoveFrameResult(k, std::string(name) + "_ensemble");
    for (const ResultTable& t : row.geometry.Tables()) store.WriteFrameTable(k, t, prov);
    if (!options.out_dir.empty()) row.files = WriteGeometryFiles(FrameFileStem(options.out_dir, k), row.geometry);
    rows.push_back(std::move(row));
    progress.Advance();
  }
  return rows;
}

}  // namespace op4d
