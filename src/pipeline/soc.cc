#include "op4d/pipeline/soc.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/pipeline/register.h"
#include "op4d/store/frame_store.h"

namespace op4d {

SocRunResult RunSoc(const std::string& store_path, const SocRunOptions& o) {
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::int64_t n = store.frame_count();
  if (n == 0) throw IoError(store_path, "/frames/volume", "the campaign has no frames");
  if (o.reference < 0 || o.reference >= n) throw ConfigError("reference", "frame " + std::to_string(o.reference) + " is not in the store");
  const TimeTable times = store.ReadTimeTable();
  const std::vector<double>* time_s = times.Find("time_s");
  SocRunResult result;
  // The frames' SOC: the cycler's reference column, else coulomb counting.
  const std::vector<double>* soc_ref = times.Find("soc_ref");
  bool have_ref = soc_ref != nullptr;
  if (have_ref)
    for (double v : *soc_ref) have_ref = have_ref && std::isfinite(v);
  std::string soc_source;
  if (have_ref) {
    result.soc_cycler = *soc_ref;
    soc_source = "time table soc_ref";
  } else {
    const std::vector<double>* current = times.Find("current_A");
    if (!current) throw IoError(store_path, "time table", "neither soc_ref nor current_A: no SOC for the frames");
    if (!(o.capacity_Ah > 0))
      throw ConfigError("capacity_Ah", "the time table has no complete soc_ref column: give the cell capacity (Ah) "
                                       "for coulomb counting of current_A");
    result.soc_cycler = CoulombCount(*time_s, *current, o.capacity_Ah, o.soc0, o.charge_positive);
    soc_source = "coulomb counting of current_A";
  }
  const double theta_ref = result.soc_cycler[std::size_t(o.reference)];

  // Per-particle strains (relative to the reference) and depths of every frame.
  struct FrameData {
    std::vector<double> label, eps, depth, eps_err;
    bool present = false;
  };
  std::vector<FrameData> data(static_cast<std::size_t>(n));
  const Geometry grid = store.layout()->geometry;
  const double z0 = grid.origin_um[0], zlen = double(grid.shape[0] - 1) * grid.spacing_um[0];
  const double voxel_um3 = grid.spacing_um[0] * grid.spacing_um[1] * grid.spacing_um[2];
  for (std::int64_t k = 0; k < n; ++k) {
    bool has = false;
    for (const std::string& t : store.ListFrameTables(k)) has = has || t == "particle_kinematics";
    if (!has) continue;
    const ResultTable t = store.ReadFrameTable(k, "particle_kinematics");
    const ResultColumn *label = t.Find("label"), *eps = t.Find("eps_v"), *conv = t.Find("converged"),
                       *z = t.Find("centroid_ref_z"), *voxels = t.Find("voxels"), *border = t.Find("touches_border"),
                       *leaves = t.Find("leaves_view"), *crb = t.Find("eps_v_crb");  // absent in stores registered before it existed
    if (!label || !eps || !conv || !z || !voxels || !border)
      throw IoError(store_path, "frame " + std::to_string(k) + " particle_kinematics",
                    "missing label/eps_v/converged/centroid_ref_z/voxels/touches_border");
    FrameData& d = data[std::size_t(k)];
    d.present = true;
    for (std::size_t i = 0; i < t.rows(); ++i) {
      const bool cut = border->values[i] != 0 || (leaves && leaves->values[i] != 0);
      if (conv->values[i] == 0 || (!o.include_border && cut) ||
          voxels->values[i] * voxel_um3 < o.min_particle_um3)
        continue;
      d.label.push_back(label->values[i]);
      d.eps.push_back(eps->values[i]);
      // The strain's error: the given constant, else the register step's Cramér–Rao bound of the
      // particle (0.005 for stores registered before it was stored).
      d.eps_err.push_back(o.eps_std >= 0 ? o.eps_std : crb && std::isfinite(crb->values[i]) ? crb->values[i] : 0.005);
      d.depth.push_back(zlen > 0 ? (z->values[i] - z0) / zlen : 0.0);
    }
  }
  std::int64_t with_particles = 0;
  for (const FrameData& d : data) with_particles += d.present;
  if (with_particles == 0)
    throw IoError(store_path, "particle_kinematics", "no frame has per-particle strains: run op4d register --particles first");

  // The register step's resolution guard: per-particle eps_v below its Cramér–Rao level gives no SOC.
  bool resolved = true;
  for (const std::string& t : store.ListSeriesTables())
    if (t == "registration_series") {
      const ResultTable rs = store.ReadSeriesTable(t);
      resolved = EvaluateEpsVGuard(rs).resolved;
    }
  result.eps_v_resolved = resolved;
  // The law.
  StrainSocLaw law = StrainSocLaw::Linear(1.0);
  nlohmann::json j;
  j["reference"] = o.reference;
  j["soc_source"] = soc_source;
  if (o.eps_std >= 0) j["eps_std"] = o.eps_std;
  else j["eps_std"] = "per particle: the register step's Cramer-Rao bound (eps_v_crb)";
  j["include_border"] = o.include_border;
  j["min_particle_um3"] = o.min_particle_um3;
  if (!o.table_soc.empty()) {
    law = StrainSocLaw::Tabulated(o.table_soc, o.table_eps);
    j["law"] = {{"tabulated", {{"soc", o.table_soc}, {"eps", o.table_eps}}}};
  } else if (o.calibrate) {
    std::vector<double> soc, eps;
    for (std::int64_t k = 0; k < n; ++k) {
      const FrameData& d = data[std::size_t(k)];
      if (!d.present || d.eps.empty()) continue;
      double sum = 0;
      for (double e : d.eps) sum += e;
      soc.push_back(result.soc_cycler[std::size_t(k)]);
      eps.push_back(sum / double(d.eps.size()));
    }
    result.calibration = CalibrateLinearLaw(soc, eps, theta_ref);
    law = StrainSocLaw::Linear(result.calibration.k);
    j["law"] = {{"linear_calibrated", {{"k", result.calibration.k}, {"k_std", result.calibration.k_std}}}};
  } else {
    law = StrainSocLaw::Linear(o.k);
    j["law"] = {{"linear", {{"k", o.k}}}};
  }
  const Provenance prov{"soc", "particle_kinematics of " + store_path, j.dump(), ""};
  // The reference particles (stored by register --particles), for the per-voxel region map.
  Volume<float> reference_labels;
  for (const std::string& v : store.ListFrameVolumes(o.reference))
    if (v == "particle_labels") reference_labels = ToFloat(store.ReadFrameVolume(o.reference, "particle_labels"));
  std::size_t label_end = 1;  // one past the largest label
  for (std::int64_t i = 0; i < reference_labels.size(); ++i)
    label_end = std::max(label_end, std::size_t(reference_labels[i]) + 1);

  ResultTable series;
  series.name = "soc_series";
  for (const char* c : {"frame", "time_s", "soc_cycler", "soc_mean", "soc_sd", "profile_slope", "eps_v_mean", "particles", "out_of_range"})
    series.columns.push_back({c, std::string(c) == "time_s" ? "s" : "1", {}});
  for (std::int64_t k = 0; k < n; ++k) {
    const FrameData& d = data[std::size_t(k)];
    if (!d.present) continue;
    std::vector<SocEstimate> est = InferSoc(law, d.eps, d.eps_err, theta_ref);
    // The standard error carries the calibration's k uncertainty too: d soc = (soc - soc_ref) dk / k.
    const double k_rel = o.calibrate && o.table_soc.empty() && result.calibration.k != 0
                             ? result.calibration.k_std / std::abs(result.calibration.k) : 0;
    std::vector<double> out_of_range(est.size(), 0.0);
    std::int64_t flagged = 0;
    for (std::size_t i = 0; i < est.size(); ++i) {
      SocEstimate& e = est[i];
      if (!e.valid) continue;
      e.soc_std = std::hypot(e.soc_std, (e.soc - theta_ref) * k_rel);
      if (!resolved) {
        e.valid = false;
        e.message = "eps_v unresolved at this resolution (register step)";
      } else if (e.soc < -0.05 - 2 * e.soc_std || e.soc > 1.05 + 2 * e.soc_std) {
        // Outside [-0.05, 1.05] beyond twice its error: no SOC, a failed fit or a wrong law.
        out_of_range[i] = 1;
        e.valid = false;
        e.message = "outside [-0.05, 1.05] beyond 2 standard errors";
        ++flagged;
      }
    }
    result.flagged.push_back(flagged);
    const SocStatistics stats = SummariseSoc(est, d.depth, o.histogram_bins, o.profile_bins);
    ResultTable pt;
    pt.name = "particle_soc";
    pt.columns = {{"label", "1", d.label}, {"depth", "1", d.depth}, {"soc", "1", {}}, {"soc_std", "1", {}}, {"valid", "1", {}},
                  {"out_of_range", "1", out_of_range}};
    for (const SocEstimate& e : est) {
      pt.columns[2].values.push_back(e.valid ? e.soc : NAN);
      pt.columns[3].values.push_back(e.valid ? e.soc_std : NAN);
      pt.columns[4].values.push_back(e.valid ? 1.0 : 0.0);
    }
    store.WriteFrameTable(k, pt, prov);
    if (!reference_labels.empty()) {
      // The region map: each reference particle's voxels hold its SOC (NaN elsewhere and for
      // particles left out or without a valid SOC).
      std::vector<float> soc_of(label_end, NAN);  // by label
      for (std::size_t i = 0; i < est.size(); ++i)
        if (est[i].valid && d.label[i] >= 0 && d.label[i] < double(soc_of.size())) soc_of[std::size_t(d.label[i])] = float(est[i].soc);
      Volume<float> map(reference_labels.geometry(), NAN);
      for (std::int64_t i = 0; i < map.size(); ++i)
        if (reference_labels[i] > 0) map[i] = soc_of[std::size_t(reference_labels[i])];
      store.WriteFrameVolume(k, "soc_map", map, prov);
    }
    store.WriteFrameTable(k, stats.Table(), prov);
    double eps_mean = 0;
    for (double e : d.eps) eps_mean += e;
    eps_mean = d.eps.empty() ? NAN : eps_mean / double(d.eps.size());
    const double row[] = {double(k), (*time_s)[std::size_t(k)], result.soc_cycler[std::size_t(k)], stats.mean, stats.sd,
                          stats.profile_slope, eps_mean, double(stats.count), double(flagged)};
    for (std::size_t c = 0; c < series.columns.size(); ++c) series.columns[c].values.push_back(row[c]);
    result.frames.push_back(stats);
  }
  store.WriteSeriesTable(series, prov);
  if (o.calibrate && o.table_soc.empty()) {
    ResultTable cal;
    cal.name = "soc_calibration";
    cal.columns = {{"k", "1", {result.calibration.k}},
                   {"k_std", "1", {result.calibration.k_std}},
                   {"rms_residual", "1", {result.calibration.rms_residual}},
                   {"frames", "1", {double(result.calibration.frames)}}};
    store.WriteSeriesTable(cal, prov);
  }
  return result;
}

}  // namespace op4d
