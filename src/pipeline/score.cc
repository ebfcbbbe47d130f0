#include "op4d/pipeline/score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <variant>

#include "op4d/core/error.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/geometry/volume_fractions.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/network/pore_network.h"
#include "op4d/frame/transport/diffusion.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/pipeline/network.h"
#include "op4d/pipeline/transport.h"
#include "op4d/store/frame_store.h"
#include "op4d/track/throats/carry.h"
#include "op4d/track/throats/percolation_history.h"

namespace op4d {

bool Scorecard::AllPass() const { return Failed() == 0 && !rows.empty(); }

std::int64_t Scorecard::Failed() const {
  std::int64_t n = 0;
  for (const ScoreRow& r : rows) n += !r.pass;
  return n;
}

ResultTable Scorecard::Table() const {
  ResultTable t{"scorecard",
                {{"row", "1", {}}, {"frame", "1", {}}, {"measured", "", {}}, {"truth", "", {}}, {"error", "", {}},
                 {"target", "", {}}, {"pass", "1", {}}, {"measured_p05", "", {}}, {"measured_p95", "", {}},
                 {"interval_calibrated", "1", {}}}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ScoreRow& r = rows[i];
    const double v[] = {double(i), double(r.frame), r.measured, r.truth, r.error, r.target, r.pass ? 1.0 : 0.0,
                        r.p05, r.p95, r.interval_calibrated ? 1.0 : 0.0};
    for (int c = 0; c < 10; ++c) t.columns[std::size_t(c)].values.push_back(v[c]);
  }
  for (int c : {2, 3, 4, 5, 7, 8}) t.columns[std::size_t(c)].unit = "per row (see provenance rows)";
  return t;
}

std::string Scorecard::RowsJson() const {
  nlohmann::json j = nlohmann::json::array();
  for (const ScoreRow& r : rows)
    j.push_back({{"quantity", r.quantity}, {"unit", r.unit}, {"frame", r.frame}, {"rule", r.rule}, {"at_least", r.at_least}});
  nlohmann::json o;
  o["truth"] = truth_path;
  o["rows"] = j;
  return o.dump();
}

ScoreRow ScoreValue(const std::string& quantity, const std::string& unit, std::int64_t frame, double measured,
                    double truth, double target, bool relative, const std::string& rule) {
  ScoreRow r;
  r.quantity = quantity;
  r.unit = unit;
  r.frame = frame;
  r.measured = measured;
  r.truth = truth;
  r.target = target;
  r.rule = rule;
  r.error = relative ? (measured - truth) / std::abs(truth) : measured - truth;
  r.pass = std::isfinite(r.error) && std::abs(r.error) <= target;
  return r;
}

namespace {

ScoreRow AtLeast(const std::string& quantity, const std::string& unit, double measured, double truth, double target,
                 const std::string& rule) {
  ScoreRow r;
  r.quantity = quantity;
  r.unit = unit;
  r.measured = measured;
  r.truth = truth;
  r.error = measured - truth;
  r.target = target;
  r.rule = rule;
  r.at_least = true;
  r.pass = std::isfinite(measured) && measured >= target;
  return r;
}


bool HasTable(const FrameStore& s, std::int64_t k, const std::string& name) {
  for (const std::string& t : s.ListFrameTables(k))
    if (t == name) return true;
  return false;
}

bool HasSeries(const FrameStore& s, const std::string& name) {
  for (const std::string& t : s.ListSeriesTables())
    if (t == name) return true;
  return false;
}

std::string FrameGroup(std::int64_t k, const std::string& table) {
  char b[16];
  std::snprintf(b, sizeof b, "%06lld", static_cast<long long>(k));
  return "/results/" + std::string(b) + "/" + table;
}

nlohmann::json Options(const FrameStore& s, const std::string& group) {
  const auto j = nlohmann::json::parse(s.ReadTableProvenance(group), nullptr, false);
  if (j.is_discarded() || !j.contains("options")) return nlohmann::json::object();
  const auto& o = j["options"];
  if (o.is_string()) {
    const auto p = nlohmann::json::parse(o.get<std::string>(), nullptr, false);
    return p.is_discarded() ? nlohmann::json::object() : p;
  }
  return o;
}

const ResultColumn& Column(const ResultTable& t, const std::string& name, const std::string& where) {
  const ResultColumn* c = t.Find(name);
  if (!c) throw IoError(where, t.name, "no column " + name);
  return *c;
}

// Worst-frame tracker of one quantity.
// `lo`, `hi`: the measured value's 5-95 % interval of the label ensemble (NaN without one).
struct Worst {
  double error = -1, measured = NAN, truth = NAN, signed_error = NAN, lo = NAN, hi = NAN;
  bool calibrated = true;
  std::int64_t frame = -1;
  void Add(std::int64_t k, double m, double t, bool relative, std::pair<double, double> interval = {NAN, NAN},
           bool interval_calibrated = true) {
    const double e = relative ? (m - t) / std::abs(t) : m - t;
    if (!(std::abs(e) <= error)) {  // NaN errors win: they fail
      error = std::isnan(e) ? INFINITY : std::abs(e);
      measured = m, truth = t, signed_error = e, frame = k;
      lo = interval.first, hi = interval.second, calibrated = interval_calibrated;
    }
  }
};

ScoreRow FromWorst(const std::string& quantity, const std::string& unit, const Worst& w, double target, bool relative,
                   const std::string& rule) {
  ScoreRow r = ScoreValue(quantity, unit, w.frame, w.measured, w.truth, target, relative, rule);
  r.p05 = w.lo, r.p95 = w.hi, r.interval_calibrated = w.calibrated;
  return r;
}

// One frame's label ensemble (the segment step's table segment_ensemble), with the later steps'
// per-axis ensembles where they ran.
struct FrameEnsemble {
  ResultTable segment, tortuosity, conductivity;
  bool calibrated = true;
  // The 5-95 % interval of a segment_ensemble metric; NaN when absent.
  std::pair<double, double> Of(const std::string& metric) const {
    const ResultColumn* lo = segment.Find(metric + "_p05");
    const ResultColumn* hi = segment.Find(metric + "_p95");
    if (!lo || !hi || lo->values.empty() || hi->values.empty()) return {NAN, NAN};
    return {lo->values[0], hi->values[0]};
  }
  // Of a per-axis table's column on the row of `axis`.
  static std::pair<double, double> OfAxis(const ResultTable& t, const std::string& column, double axis) {
    const ResultColumn* ax = t.Find("axis");
    const ResultColumn* lo = t.Find(column + "_p05");
    const ResultColumn* hi = t.Find(column + "_p95");
    if (!ax || !lo || !hi) return {NAN, NAN};
    for (std::size_t i = 0; i < ax->values.size() && i < lo->values.size() && i < hi->values.size(); ++i)
      if (ax->values[i] == axis) return {lo->values[i], hi->values[i]};
    return {NAN, NAN};
  }
};

// Coverage of one metric's interval over the frames: frames whose interval holds the truth, of the
// frames inside the calibrated domain (and how many were outside it).
struct Coverage {
  std::string label;
  std::int64_t covered = 0, frames = 0, outside = 0;
};

}  // namespace

Scorecard ScoreCampaign(const std::string& store_path, const ScoreOptions& o) {
  std::string truth_path = o.truth_path;
  if (truth_path.empty()) {
    truth_path = store_path;
    if (truth_path.size() > 3 && truth_path.compare(truth_path.size() - 3, 3, ".h5") == 0) truth_path.resize(truth_path.size() - 3);
    truth_path += ".truth.h5";
  }
  if (!std::ifstream(truth_path)) throw IoError(truth_path, "", "no ground-truth file (give --truth)");
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const FrameStore truth = FrameStore::OpenRead(truth_path);
  const std::int64_t n = store.frame_count();
  if (truth.frame_count() != n)
    throw IoError(truth_path, "/frames", std::to_string(truth.frame_count()) + " truth frames for " + std::to_string(n) +
                                             " frames in " + store_path + ": not this campaign's truth");
  if (n == 0) throw IoError(store_path, "/frames/volume", "the campaign has no frames");
  const Geometry& g = store.layout()->geometry;
  if (truth.layout()->geometry.shape != g.shape)
    throw IoError(truth_path, "/frames/volume", "truth frames " + truth.layout()->geometry.ToString() + " are not on the grid of " +
                                                    store_path + " " + g.ToString());
  const PhaseTable phases = truth.layout()->phases ? *truth.layout()->phases : PhaseTable::Electrode();
  const std::uint8_t pore = phases.WithRole(PhaseRole::kPore).front().label;
  const std::uint8_t active = phases.WithRole(PhaseRole::kActive).front().label;
  const std::vector<Phase> binders = phases.WithRole(PhaseRole::kBinder);
  const double voxel_um3 = g.spacing_um[0] * g.spacing_um[1] * g.spacing_um[2];
  const double h_min = std::min({g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]});
  const std::int64_t ref = 0;

  Scorecard card;
  card.truth_path = truth_path;
  Progress progress("score (frames)", n + 1, o.progress);

  // Frame-level quantities, worst frame of each.
  std::map<std::string, Worst> fraction;  // by phase name
  Worst a_s, sigma;
  std::map<int, Worst> tau;
  // The label ensemble's coverage of the truth, for the metrics the calibration measured.
  std::vector<Coverage> coverage;
  {
    const std::string pn = phases.FindLabel(pore) ? phases.FindLabel(pore)->name : "pore";
    const std::string an = phases.FindLabel(active) ? phases.FindLabel(active)->name : "active";
    coverage.push_back({"fraction_" + pn});
    if (!binders.empty()) coverage.push_back({"fraction_" + binders.front().name});
    coverage.push_back({pore < active ? "a_s_" + pn + "_" + an : "a_s_" + an + "_" + pn});
    coverage.push_back({"tau_z_" + pn});
  }
  std::vector<LabelVolume> truth_particles{std::size_t(n)};
  std::vector<PhaseVolume> truth_phases{std::size_t(n)};
  for (std::int64_t k = 0; k < n; ++k) {
    const AnyVolume tv = truth.ReadFrame(k, o.threads);
    if (!std::holds_alternative<Volume<std::uint8_t>>(tv))
      throw IoError(truth_path, "/frames/volume", "truth frames do not hold phase labels");
    truth_phases[std::size_t(k)] = std::get<Volume<std::uint8_t>>(tv);
    const PhaseVolume& T = truth_phases[std::size_t(k)];
    truth_particles[std::size_t(k)] = ToLabels(truth.ReadFrameVolume(k, "particle_labels"));
    FrameEnsemble fe;
    const bool has_ensemble = HasTable(store, k, "segment_ensemble");
    if (has_ensemble) {
      fe.segment = store.ReadFrameTable(k, "segment_ensemble");
      const ResultColumn* cal = fe.segment.Find("calibrated");
      fe.calibrated = cal && !cal->values.empty() && cal->values[0] == 1;
      if (HasTable(store, k, "tortuosity_ensemble")) fe.tortuosity = store.ReadFrameTable(k, "tortuosity_ensemble");
      if (HasTable(store, k, "conductivity_ensemble")) fe.conductivity = store.ReadFrameTable(k, "conductivity_ensemble");
    }
    std::map<std::string, double> truth_metric;  // segment_ensemble metric name -> truth value
    if (HasTable(store, k, "volume_fractions")) {
      const ResultTable m = store.ReadFrameTable(k, "volume_fractions");
      const VolumeFractions vf = ComputeVolumeFractions(T, phases, o.threads);
      const ResultColumn& ml = Column(m, "label", store_path);
      const ResultColumn& mf = Column(m, "volume_fraction", store_path);
      for (const PhaseFraction& pf : vf.phases)
        for (std::size_t i = 0; i < ml.values.size(); ++i)
          if (ml.values[i] == pf.label) {
            const std::optional<Phase> ph = phases.FindLabel(pf.label);
            const std::string name = ph ? ph->name : std::to_string(pf.label);
            fraction[name].Add(k, mf.values[i], pf.fraction, false, fe.Of("fraction_" + name), fe.calibrated);
            truth_metric["fraction_" + name] = pf.fraction;
          }
    }
    if (HasTable(store, k, "interface_areas")) {
      const ResultTable m = store.ReadFrameTable(k, "interface_areas");
      SurfaceAreaOptions so;
      so.threads = o.threads;
      const std::vector<InterfaceArea> areas = ComputeInterfaceAreas(T, phases, so);
      const ResultColumn& a = Column(m, "phase_a", store_path);
      const ResultColumn& b = Column(m, "phase_b", store_path);
      const ResultColumn& s = Column(m, "specific_area_per_um", store_path);
      for (const InterfaceArea& ia : areas)
        if ((ia.a == pore && ia.b == active) || (ia.a == active && ia.b == pore))
          for (std::size_t i = 0; i < a.values.size(); ++i)
            if ((a.values[i] == ia.a && b.values[i] == ia.b) || (a.values[i] == ia.b && b.values[i] == ia.a))
              a_s.Add(k, s.values[i], ia.specific_area_per_um, true, fe.Of("a_s_" + ia.name_a + "_" + ia.name_b), fe.calibrated);
      for (const InterfaceArea& ia : areas) truth_metric["a_s_" + ia.name_a + "_" + ia.name_b] = ia.specific_area_per_um;
    }
    if (HasTable(store, k, "tortuosity")) {
      const ResultTable m = store.ReadFrameTable(k, "tortuosity");
      const nlohmann::json opt = Options(store, FrameGroup(k, "tortuosity"));
      const std::string phase = opt.value("phase", std::string("pore"));
      const std::optional<Phase> ph = phases.FindName(phase);
      if (ph) {
        Volume<std::uint8_t> mask(T.geometry(), 0);
        for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = T[i] == ph->label;
        std::string axes;
        const ResultColumn& ax = Column(m, "axis", store_path);
        for (double v : ax.values) axes += "zyx"[int(v)];
        DiffusionOptions d;
        d.threads = o.threads;
        if (opt.contains("tolerance")) d.tolerance = opt["tolerance"].get<double>();
        const ResultTable t = TortuosityTable(mask, axes, d);
        const ResultColumn& mt = Column(m, "tau", store_path);
        const ResultColumn& tt = Column(t, "tau", truth_path);
        for (std::size_t i = 0; i < mt.values.size(); ++i) {
          // The tortuosity step's own ensemble where it ran, else the segment step's (axis z, the pore).
          std::pair<double, double> iv = FrameEnsemble::OfAxis(fe.tortuosity, "tau", ax.values[i]);
          if (std::isnan(iv.first) && ax.values[i] == 0 && ph->label == pore) iv = fe.Of("tau_z_" + ph->name);
          tau[int(ax.values[i])].Add(k, mt.values[i], tt.values[i], true, iv, fe.calibrated);
          // The segment step's tau_z is this solve at the default tolerance: its truth is this one.
          if (ax.values[i] == 0 && ph->label == pore && d.tolerance == DiffusionOptions{}.tolerance)
            truth_metric["tau_z_" + ph->name] = tt.values[i];
        }
      }
    }
    if (HasTable(store, k, "conductivity")) {
      const ResultTable m = store.ReadFrameTable(k, "conductivity");
      const nlohmann::json opt = Options(store, FrameGroup(k, "conductivity"));
      const double sa = opt.value("sigma_active_S_per_m", 1.0), sb = opt.value("sigma_binder_S_per_m", 100.0);
      Volume<float> s(T.geometry(), 0.0f);
      for (std::int64_t i = 0; i < s.size(); ++i) {
        if (T[i] == active) s[i] = float(sa);
        else if (!binders.empty() && T[i] == binders.front().label) s[i] = float(sb);
      }
      LabelVolume particles = truth_particles[std::size_t(k)];
      for (std::int64_t i = 0; i < particles.size(); ++i)
        if (T[i] != active) particles[i] = 0;
      const ResultColumn& ax = Column(m, "axis", store_path);
      const ResultColumn& ms = Column(m, "sigma_eff", store_path);
      for (std::size_t i = 0; i < ax.values.size(); ++i) {
        ConductivityOptions co;
        co.solver.threads = o.threads;
        co.solver.axis = int(ax.values[i]);
        if (opt.contains("tolerance")) co.solver.tolerance = opt["tolerance"].get<double>();
        co.contact_resistance_ohm_m2 = opt.value("contact_resistance_ohm_m2", 0.0);
        sigma.Add(k, ms.values[i], ComputeConductivity(s, particles, co).sigma_eff_S_per_m, true,
                  FrameEnsemble::OfAxis(fe.conductivity, "sigma_eff", ax.values[i]), fe.calibrated);
      }
    }
    if (has_ensemble) {
      // The truth of every metric the ensemble carries, by the kernel and options the segment step
      // measured it with (SegmentLabelMetrics), unless the rows above solved it already.
      const bool missing = std::any_of(coverage.begin(), coverage.end(), [&](const Coverage& c) {
        return !std::isnan(fe.Of(c.label).first) && !truth_metric.count(c.label);
      });
      if (missing) {
        QuickLookOptions q;
        q.phases = phases;
        q.threads = o.threads;
        for (const LabelMetric& m : SegmentLabelMetrics(T, q)) truth_metric.emplace(m.name, m.value);
      }
      for (Coverage& c : coverage) {
        const std::pair<double, double> iv = fe.Of(c.label);
        const auto t = truth_metric.find(c.label);
        if (std::isnan(iv.first) || t == truth_metric.end()) continue;
        if (!fe.calibrated) {
          ++c.outside;
          continue;
        }
        ++c.frames;
        c.covered += iv.first <= t->second && t->second <= iv.second;
      }
    }
    progress.Advance();
  }
  const std::string worst = "worst of the frames";
  for (const auto& [name, w] : fraction) {
    const bool is_pore = phases.FindName(name) && phases.FindName(name)->label == pore;
    const bool is_binder = !binders.empty() && name == binders.front().name;
    const double target = is_binder ? 0.02 : 0.01;
    char rule[96];
    std::snprintf(rule, sizeof rule, "|error| <= %.2f, %s", target, worst.c_str());
    card.rows.push_back(FromWorst(is_pore ? "porosity (" + name + " fraction)" : name + " fraction", "1", w, target, false, rule));
  }
  if (a_s.frame >= 0)
    card.rows.push_back(FromWorst("a_s pore|active", "um^-1", a_s, 0.05, true, "relative error <= 5 %, " + worst));
  for (const auto& [axis, w] : tau)
    card.rows.push_back(FromWorst(std::string("tau pore, axis ") + "zyx"[axis], "1", w, 0.03, true,
                                  "relative error <= 3 % against tau solved on the truth labels, " + worst));
  if (sigma.frame >= 0)
    card.rows.push_back(FromWorst("sigma_eff", "S/m", sigma, 0.10, true,
                                  "relative error <= 10 % against the truth phases and truth particle contacts (the "
                                  "binder carries the current: sigma_eff follows its thin necks), " + worst));
  // The error bars' honesty: a 90 % interval holds the truth in 5 or more of 7 frames with probability
  // 0.97, so a share below 0.7 says the intervals are too narrow (or biased). Frames outside the
  // calibrated domain are left out (their intervals are not error bars) and counted in the rule.
  std::int64_t ensemble_frames = 0, calibrated_frames = 0;
  for (const Coverage& c : coverage) {
    ensemble_frames = std::max(ensemble_frames, c.frames + c.outside);
    calibrated_frames = std::max(calibrated_frames, c.frames);
  }
  if (ensemble_frames > 0 && calibrated_frames == 0)
    card.rows.push_back(AtLeast("label ensemble: frames in its calibrated domain", "frames", 0, double(ensemble_frames), 1,
                                "every frame lies outside the domain the ensemble was calibrated in (segment_ensemble's "
                                "chord_ and contrast_to_noise columns): its intervals are the model's spread, not error "
                                "bars, and their coverage is not scored"));
  for (const Coverage& c : coverage) {
    if (c.frames == 0) continue;
    const std::string rule = "share of frames whose 5-95 % label-ensemble interval holds the truth >= 0.7, over " +
                             std::to_string(c.frames) + " frames inside the calibrated domain" +
                             (c.outside ? " (" + std::to_string(c.outside) + " outside, not counted)" : std::string());
    const double share = double(c.covered) / double(c.frames);
    card.rows.push_back(AtLeast("interval holds the truth: " + c.label, "share", share, 0.9, 0.7, rule));
  }

  // Particles: the reference particles of the register step against the truth particles.
  // (the register step's: its reference particle labels and kinematics)
  const bool have_particles = HasTable(store, ref, "particle_kinematics") && [&] {
    for (const std::string& v : store.ListFrameVolumes(ref))
      if (v == "particle_labels") return true;
    return false;
  }();
  std::map<int, int> truth_of;  // measured reference label -> truth id (IoU >= 0.5)
  if (have_particles) {
    const LabelVolume M = ToLabels(store.ReadFrameVolume(ref, "particle_labels"));
    const LabelVolume& T = truth_particles[std::size_t(ref)];
    std::map<std::pair<int, int>, std::int64_t> overlap;
    std::map<int, std::int64_t> msize, tsize;
    for (std::int64_t i = 0; i < M.size(); ++i) {
      if (M[i] > 0) ++msize[M[i]];
      if (T[i] > 0) ++tsize[T[i]];
      if (M[i] > 0 && T[i] > 0) ++overlap[{M[i], T[i]}];
    }
    for (const auto& [mt, c] : overlap) {
      const double iou = double(c) / double(msize[mt.first] + tsize[mt.second] - c);
      if (iou >= 0.5) truth_of[mt.first] = mt.second;
    }
    // Count: particles in view of at least an eighth of the median truth particle volume.
    std::vector<double> full;
    const ResultTable tp = truth.ReadFrameTable(ref, "particles");
    const ResultColumn& sx = Column(tp, "semi_x_um", truth_path);
    const ResultColumn& sy = Column(tp, "semi_y_um", truth_path);
    const ResultColumn& sz = Column(tp, "semi_z_um", truth_path);
    for (std::size_t i = 0; i < sx.values.size(); ++i) full.push_back(4.0 / 3.0 * M_PI * sx.values[i] * sy.values[i] * sz.values[i]);
    std::nth_element(full.begin(), full.begin() + std::ptrdiff_t(full.size() / 2), full.end());
    const double min_voxels = full.empty() ? 0 : full[full.size() / 2] / 8 / voxel_um3;
    std::int64_t mc = 0, tc = 0;
    for (const auto& [l, c] : msize) mc += double(c) >= min_voxels;
    for (const auto& [l, c] : tsize) tc += double(c) >= min_voxels;
    card.rows.push_back(ScoreValue("particles in view", "1", ref, double(mc), double(tc), 0.05, true,
                                   "relative error <= 5 %; particles of at least 1/8 of the median truth volume"));
    // Identity: truth particles inside the view in every frame, tracked one-to-one through all frames.
    std::set<int> inside;
    for (const auto& [l, c] : tsize) inside.insert(l);
    std::vector<std::map<int, Eigen::Vector3d>> centroid(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) {
      const LabelVolume& L = truth_particles[std::size_t(k)];
      std::map<int, std::int64_t> count;
      std::set<int> border;
      for (std::int64_t z = 0; z < L.nz(); ++z)
        for (std::int64_t y = 0; y < L.ny(); ++y)
          for (std::int64_t x = 0; x < L.nx(); ++x) {
            const int l = L(z, y, x);
            if (l <= 0) continue;
            if (z == 0 || y == 0 || x == 0 || z == L.nz() - 1 || y == L.ny() - 1 || x == L.nx() - 1) border.insert(l);
            Eigen::Vector3d& c = centroid[std::size_t(k)][l];
            if (!count[l]) c.setZero();
            ++count[l];
            c += Eigen::Vector3d(g.origin_um[0] + double(z) * g.spacing_um[0], g.origin_um[1] + double(y) * g.spacing_um[1],
                                 g.origin_um[2] + double(x) * g.spacing_um[2]);
          }
      for (auto& [l, c] : centroid[std::size_t(k)]) c /= double(count[l]);
      for (auto it = inside.begin(); it != inside.end();)
        it = (border.count(*it) || !count.count(*it)) ? inside.erase(it) : std::next(it);
    }
    std::map<int, int> measured_of;  // truth id -> measured label
    for (const auto& [m, t] : truth_of) measured_of[t] = m;
    std::int64_t tracked = 0;
    const double tol_um = std::max(1.0, 2 * h_min);
    std::vector<ResultTable> kin(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k)
      if (HasTable(store, k, "particle_kinematics")) kin[std::size_t(k)] = store.ReadFrameTable(k, "particle_kinematics");
    for (int t : inside) {
      auto mi = measured_of.find(t);
      if (mi == measured_of.end()) continue;
      bool ok = true;
      for (std::int64_t k = 0; k < n && ok; ++k) {
        const ResultTable& kt = kin[std::size_t(k)];
        if (kt.columns.empty()) { ok = false; break; }
        const ResultColumn& lab = Column(kt, "label", store_path);
        const auto row = std::find(lab.values.begin(), lab.values.end(), double(mi->second));
        if (row == lab.values.end()) { ok = false; break; }
        const std::size_t r = std::size_t(row - lab.values.begin());
        const Eigen::Vector3d c(Column(kt, "centroid_z", store_path).values[r], Column(kt, "centroid_y", store_path).values[r],
                                Column(kt, "centroid_x", store_path).values[r]);
        ok = (c - centroid[std::size_t(k)].at(t)).norm() <= tol_um;
      }
      tracked += ok;
    }
    char rule[160];
    std::snprintf(rule, sizeof rule,
                  ">= 98 %% of the %zu truth particles inside the view in every frame: one-to-one at the reference "
                  "(IoU >= 0.5), tracked within %.2g um in every frame", inside.size(), tol_um);
    card.rows.push_back(AtLeast("particle identity", "share", inside.empty() ? NAN : double(tracked) / double(inside.size()),
                                1.0, 0.98, rule));
  }

  // Per-particle strain and SOC: the particles the SOC step reports (valid), mapped to the truth.
  if (have_particles && HasTable(store, ref, "particle_soc")) {
    std::int64_t outside = 0, reported = 0;
    for (std::int64_t k = 0; k < n; ++k) {
      if (!HasTable(store, k, "particle_soc") || !HasTable(store, k, "particle_kinematics")) continue;
      const ResultTable ps = store.ReadFrameTable(k, "particle_soc");
      const ResultTable kt = store.ReadFrameTable(k, "particle_kinematics");
      const ResultTable tp = truth.ReadFrameTable(k, "particles");
      std::map<int, std::pair<double, double>> truth_at;  // id -> (soc, eps_v)
      {
        const ResultColumn& id = Column(tp, "id", truth_path);
        for (std::size_t i = 0; i < id.values.size(); ++i)
          truth_at[int(id.values[i])] = {Column(tp, "soc", truth_path).values[i], Column(tp, "eps_v", truth_path).values[i]};
      }
      std::map<int, double> eps_of;
      {
        const ResultColumn& lab = Column(kt, "label", store_path);
        for (std::size_t i = 0; i < lab.values.size(); ++i) eps_of[int(lab.values[i])] = Column(kt, "eps_v", store_path).values[i];
      }
      const ResultColumn& lab = Column(ps, "label", store_path);
      const ResultColumn& soc = Column(ps, "soc", store_path);
      const ResultColumn& se = Column(ps, "soc_std", store_path);
      const ResultColumn& valid = Column(ps, "valid", store_path);
      const ResultColumn* flag = ps.Find("out_of_range");
      double e2 = 0, s2 = 0, sm = 0, mean_m = 0, mean_t = 0;
      std::int64_t used = 0, unmapped = 0;
      for (std::size_t i = 0; i < lab.values.size(); ++i) {
        if (valid.values[i] == 0 || (flag && flag->values[i] != 0)) continue;
        ++reported;
        if (soc.values[i] < -2 * se.values[i] || soc.values[i] > 1 + 2 * se.values[i]) ++outside;
        const auto m = truth_of.find(int(lab.values[i]));
        if (m == truth_of.end() || !truth_at.count(m->second)) { ++unmapped; continue; }
        const auto& [ts, te] = truth_at.at(m->second);
        const double de = eps_of.at(int(lab.values[i])) - te, ds = soc.values[i] - ts;
        e2 += de * de, s2 += ds * ds, sm += ds, mean_m += soc.values[i], mean_t += ts;
        ++used;
      }
      if (used == 0) continue;
      const double u = double(used);
      char rule[128];
      std::snprintf(rule, sizeof rule, "<= %%s over the %lld reported particles matched to the truth (%lld unmatched)",
                    static_cast<long long>(used), static_cast<long long>(unmapped));
      char r1[160], r2[160], r3[160];
      std::snprintf(r1, sizeof r1, rule, "5e-3");
      std::snprintf(r2, sizeof r2, rule, "0.03");
      std::snprintf(r3, sizeof r3, "|mean error| %s", rule);
      std::snprintf(r3, sizeof r3, "|mean SOC - truth mean| <= 0.03 over the same %lld particles", static_cast<long long>(used));
      ScoreRow re = ScoreValue("per-particle eps_v RMS", "1", k, std::sqrt(e2 / u), 0, 5e-3, false, r1);
      ScoreRow rs = ScoreValue("per-particle SOC RMS", "1", k, std::sqrt(s2 / u), 0, 0.03, false, r2);
      ScoreRow rm = ScoreValue("SOC mean", "1", k, mean_m / u, mean_t / u, 0.03, false, r3);
      card.rows.push_back(re);
      card.rows.push_back(rs);
      card.rows.push_back(rm);
    }
    ScoreRow r = ScoreValue("reported SOC outside [0, 1] beyond 2 se", "particle-frames", -1, double(outside), 0, 0, false,
                            "none of the " + std::to_string(reported) + " reported particle SOCs");
    card.rows.push_back(r);
  }
  if (HasSeries(store, "soc_calibration")) {
    const ResultTable c = store.ReadSeriesTable("soc_calibration");
    const nlohmann::json opt = Options(truth, FrameGroup(ref, "particles"));
    if (opt.contains("strain_per_soc"))
      card.rows.push_back(ScoreValue("calibrated k", "1", -1, Column(c, "k", store_path).values[0],
                                     opt["strain_per_soc"].get<double>(), 0.02, true, "relative error <= 2 %"));
  }

  // Throats: the stored reference network carried through the truth frames with the exact drift.
  if (HasSeries(store, "throat_history") && HasSeries(store, "throat_radii")) {
    const nlohmann::json opt = [&] {
      const auto j = nlohmann::json::parse(store.ReadTableProvenance("/series/throat_history"), nullptr, false);
      nlohmann::json o2 = j.is_discarded() || !j.contains("options") ? nlohmann::json::object() : j["options"];
      if (o2.is_string()) o2 = nlohmann::json::parse(o2.get<std::string>(), nullptr, false);
      return o2;
    }();
    YoungLaplace law;
    law.surface_tension_N_per_m = opt.value("surface_tension_N_per_m", 0.0);
    law.contact_angle_deg = opt.value("contact_angle_deg", 0.0);
    law.r_min_um = opt.value("r_min_um", 0.0);
    CarryOptions co;
    co.search_tolerance_um = opt.value("search_tolerance_um", 0.0);
    co.threads = o.threads;
    const std::int64_t tref = opt.value("reference", std::int64_t(0));
    const ResultTable radii = store.ReadSeriesTable("throat_radii");
    const ResultTable frames_t = store.ReadSeriesTable("throat_frames");
    const ResultTable drift = truth.ReadSeriesTable("drift");
    // The reference network as the throats step extracted it (its pore phase as stored).
    QuickLookOptions seg;
    seg.method = SegmentMethodFromString(opt.value("segment", std::string("multi-otsu")));
    seg.threads = o.threads;
    seg.progress = ProgressStyle::kOff;
    const AnyVolume reference_frame = store.ReadFrame(tref, o.threads);
    NetworkOptions no;
    no.threads = o.threads;
    no.progress = ProgressStyle::kOff;
    const PoreNetwork net =
        ExtractPoreNetwork(PhaseMaskOfFrame(reference_frame, -1, seg, pore, &store, tref), no);
    const std::int64_t m = std::int64_t(net.throats.size());
    if (std::int64_t(radii.rows()) != m)
      throw IoError(store_path, "throat_radii", std::to_string(radii.rows()) + " throats stored, " + std::to_string(m) +
                                                    " in the re-extracted reference network: the throats step ran on other labels");
    ThroatSeries ts;
    ts.throats = m;
    ts.radius_um.assign(std::size_t(n * m), NAN);
    ThroatSeries ms = ts;
    ts.time_s = Column(frames_t, "time_s", store_path).values;
    ts.p_app_Pa = Column(frames_t, "p_app_Pa", store_path).values;
    ms.time_s = ts.time_s;
    ms.p_app_Pa = ts.p_app_Pa;
    const double* d[3] = {Column(drift, "drift_z_um", truth_path).values.data(), Column(drift, "drift_y_um", truth_path).values.data(),
                          Column(drift, "drift_x_um", truth_path).values.data()};
    for (std::int64_t k = 0; k < n; ++k) {
      AffineMap map;
      for (int a = 0; a < 3; ++a) map.t[a] = d[a][k] - d[a][tref];
      Volume<std::uint8_t> mask(g, 0);
      const PhaseVolume& T = truth_phases[std::size_t(k)];
      for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = T[i] == pore;
      const std::vector<float> r = CarryThroatRadii(net, map, DistanceTransform(mask, {o.threads}), co);
      std::copy(r.begin(), r.end(), ts.radius_um.begin() + std::ptrdiff_t(k * m));
      const ResultColumn& mr = Column(radii, "radius_" + std::to_string(k), store_path);
      for (std::int64_t t = 0; t < m; ++t) ms.radius_um[std::size_t(k * m + t)] = float(mr.values[std::size_t(t)]);
    }
    const ThroatGraph graph = ThroatGraphOf(net);
    const PercolationHistory th = AnalysePercolationHistory(graph, ts, law, o.threads);
    const PercolationHistory mh = AnalysePercolationHistory(graph, ms, law, o.threads);
    // Events: a throat's change of state between consecutive frames. Within half a voxel of the
    // Young–Laplace critical radius (or of r_min) in either frame the data cannot decide the state:
    // such truth events are not asked for and such detected events are not invented.
    const double margin = 0.5 * h_min;
    auto r_crit = [&](double p) { return 2 * law.surface_tension_N_per_m * std::abs(std::cos(law.contact_angle_deg * M_PI / 180)) / p * 1e6; };
    auto decidable = [&](std::int64_t k, std::int64_t t) {
      const double r = ts.radius_um[std::size_t(k * m + t)];
      if (std::isnan(r)) return true;
      return std::abs(r - r_crit(ts.p_app_Pa[std::size_t(k)])) > margin && std::abs(r - law.r_min_um) > margin;
    };
    // A throat whose bottleneck ball (reference radius) reaches a face of the view is cut by it: its
    // radius is that of a truncated pore, the same for no two segmentations of the face.
    std::vector<std::uint8_t> cut(std::size_t(m), 0);
    for (std::int64_t t = 0; t < m; ++t) {
      const PoreThroat& pt = net.throats[std::size_t(t)];
      for (int a = 0; a < 3; ++a) {
        const double lo = pt.bottleneck_um[a] - g.origin_um[a], hi = g.origin_um[a] + double(g.shape[a] - 1) * g.spacing_um[a] - pt.bottleneck_um[a];
        cut[std::size_t(t)] |= std::min(lo, hi) <= pt.min_radius_um;
      }
    }
    std::int64_t excluded_cut = 0;
    std::int64_t truth_close = 0, truth_open = 0, found_close = 0, found_open = 0, inv_close = 0, inv_open = 0, marginal = 0;
    for (std::int64_t k = 1; k < n; ++k)
      for (std::int64_t t = 0; t < m; ++t) {
        const bool t0 = th.open[std::size_t((k - 1) * m + t)], t1 = th.open[std::size_t(k * m + t)];
        const bool m0 = mh.open[std::size_t((k - 1) * m + t)], m1 = mh.open[std::size_t(k * m + t)];
        const int te = t0 == t1 ? 0 : t1 ? 2 : 1, me = m0 == m1 ? 0 : m1 ? 2 : 1;  // 1 closure, 2 reopening
        if (cut[std::size_t(t)]) { excluded_cut += te != 0 || me != 0; continue; }
        const bool sure = decidable(k - 1, t) && decidable(k, t);
        if (!sure) { marginal += te != 0 || me != 0; continue; }
        if (te == 1) ++truth_close, found_close += me == 1;
        if (te == 2) ++truth_open, found_open += me == 2;
        if (std::getenv("OP4D_SCORE_DEBUG") && me != te)  // the disagreements, for a look at their radii
          std::fprintf(stderr, "throat %lld frames %lld-%lld truth %d measured %d: truth r %.3f %.3f measured r %.3f %.3f p %.0f %.0f\n",
                       (long long)t, (long long)k - 1, (long long)k, te, me, ts.radius_um[std::size_t((k - 1) * m + t)],
                       ts.radius_um[std::size_t(k * m + t)], ms.radius_um[std::size_t((k - 1) * m + t)],
                       ms.radius_um[std::size_t(k * m + t)], ts.p_app_Pa[std::size_t(k - 1)], ts.p_app_Pa[std::size_t(k)]);
        if (me == 1 && te != 1) ++inv_close;
        if (me == 2 && te != 2) ++inv_open;
      }
    char rule[320];
    std::snprintf(rule, sizeof rule,
                  ">= 95 %% of the scripted events found and at least one (events within %.3g um of the critical radius in "
                  "either frame are not scored: %lld; events of throats cut by the view's faces: %lld)", margin,
                  static_cast<long long>(marginal), static_cast<long long>(excluded_cut));
    auto found = [&](const char* what, std::int64_t f, std::int64_t of) {
      card.rows.push_back(AtLeast(std::string("throat ") + what + " found (" + std::to_string(f) + " of " + std::to_string(of) + ")",
                                  "share", of ? double(f) / double(of) : 0.0, 1.0, 0.95, rule));  // none scripted: fails "at least one"
    };
    found("closures", found_close, truth_close);
    found("reopenings", found_open, truth_open);
    card.rows.push_back(ScoreValue("throat events invented", "events", -1, double(inv_close + inv_open), 0, 0, false,
                                   "none: closures " + std::to_string(inv_close) + ", reopenings " + std::to_string(inv_open)));
    const ResultTable summary = store.ReadSeriesTable("percolation_summary");
    card.rows.push_back(ScoreValue("percolation fraction", "1", -1, Column(summary, "percolation_fraction", store_path).values[0],
                                   th.percolation_fraction, 0.05, false, "|error| <= 0.05 (time-weighted share percolating)"));
  }
  progress.Advance();
  store.WriteSeriesTable(card.Table(), Provenance{"score", "results of " + store_path + " against " + truth_path, card.RowsJson(), ""});
  return card;
}

std::string FormatScorecard(const Scorecard& card) {
  std::ostringstream s;
  char line[512];
  std::snprintf(line, sizeof line, "%-42s %5s  %12s %-23s %12s %12s  %-9s %s\n", "quantity", "frame", "measured",
                "5-95 % (ensemble)", "truth", "error", "target", "");
  s << "truth scorecard (against " << card.truth_path << ")\n" << line;
  for (const ScoreRow& r : card.rows) {
    char frame[16] = "all", target[32];
    if (r.frame >= 0) std::snprintf(frame, sizeof frame, "%lld", static_cast<long long>(r.frame));
    const bool relative = r.rule.rfind("relative", 0) == 0;
    if (r.at_least) std::snprintf(target, sizeof target, ">= %.3g", r.target);
    else if (relative) std::snprintf(target, sizeof target, "<= %.3g %%", 100 * r.target);
    else std::snprintf(target, sizeof target, "<= %.3g", r.target);
    char err[32];
    if (relative) std::snprintf(err, sizeof err, "%+.2f %%", 100 * r.error);
    else std::snprintf(err, sizeof err, "%.4g", r.error);
    char interval[40] = "";
    if (std::isfinite(r.p05) && std::isfinite(r.p95))
      std::snprintf(interval, sizeof interval, "%.5g-%.5g%s", r.p05, r.p95, r.interval_calibrated ? "" : " (uncal.)");
    std::snprintf(line, sizeof line, "%-42s %5s  %12.5g %-23s %12.5g %12s  %-9s %s\n", r.quantity.c_str(), frame, r.measured,
                  interval, r.truth, err, target, r.pass ? "pass" : "FAIL");
    s << line;
  }
  s << card.rows.size() - std::size_t(card.Failed()) << " of " << card.rows.size() << " rows pass";
  if (card.Failed()) s << "; " << card.Failed() << " FAIL";
  s << "\n";
  return s.str();
}

Scorecard ReadScorecard(const std::string& store_path) {
  Scorecard card;
  const FrameStore store = FrameStore::OpenRead(store_path);
  if (!HasSeries(store, "scorecard")) return card;
  const ResultTable t = store.ReadSeriesTable("scorecard");
  const auto j = nlohmann::json::parse(store.ReadTableProvenance("/series/scorecard"), nullptr, false);
  nlohmann::json opt = j.is_discarded() || !j.contains("options") ? nlohmann::json::object() : j["options"];
  if (opt.is_string()) opt = nlohmann::json::parse(opt.get<std::string>(), nullptr, false);
  card.truth_path = opt.value("truth", std::string());
  const nlohmann::json rows = opt.contains("rows") ? opt["rows"] : nlohmann::json::array();
  for (std::size_t i = 0; i < t.rows(); ++i) {
    ScoreRow r;
    if (i < rows.size()) {
      r.quantity = rows[i].value("quantity", std::string());
      r.unit = rows[i].value("unit", std::string());
      r.rule = rows[i].value("rule", std::string());
      r.at_least = rows[i].value("at_least", false);
    }
    r.frame = std::int64_t(t.columns[1].values[i]);
    r.measured = t.columns[2].values[i];
    r.truth = t.columns[3].values[i];
    r.error = t.columns[4].values[i];
    r.target = t.columns[5].values[i];
    r.pass = t.columns[6].values[i] != 0;
    // Scorecards stored before the intervals have no interval columns.
    if (const ResultColumn* c = t.Find("measured_p05"); c && i < c->values.size()) r.p05 = c->values[i];
    if (const ResultColumn* c = t.Find("measured_p95"); c && i < c->values.size()) r.p95 = c->values[i];
    if (const ResultColumn* c = t.Find("interval_calibrated"); c && i < c->values.size()) r.interval_calibrated = c->values[i] != 0;
    card.rows.push_back(r);
  }
  return card;
}

}  // namespace op4d
