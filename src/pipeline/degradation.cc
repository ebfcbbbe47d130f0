#include "op4d/pipeline/degradation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/core/volume.h"
#include "op4d/frame/transport/diffusion.h"
#include "op4d/pipeline/register.h"
#include "op4d/store/frame_store.h"

namespace op4d {

CycleState CycleStateFromString(const std::string& s) {
  if (s == "discharge") return CycleState::kEndOfDischarge;
  if (s == "charge") return CycleState::kEndOfCharge;
  throw ConfigError("--state", "'" + s + "' is not discharge or charge");
}

const char* ToString(CycleState s) { return s == CycleState::kEndOfCharge ? "charge" : "discharge"; }

std::vector<int> CyclesOfFrames(const TimeTable& times, const std::string& store_path, std::string* source) {
  if (const std::vector<double>* c = times.Find("cycle")) {
    bool complete = !c->empty();
    for (double v : *c) complete = complete && std::isfinite(v) && v >= 0;
    if (complete) {
      if (source) *source = "time table cycle";
      std::vector<int> out;
      for (double v : *c) out.push_back(int(std::lround(v)));
      return out;
    }
  }
  const std::vector<double>* current = times.Find("current_A");
  bool usable = current && !current->empty();
  if (usable)
    for (double v : *current) usable = usable && std::isfinite(v);
  if (!usable)
    throw IoError(store_path, "time table",
                  "no complete 'cycle' column and no complete 'current_A' column: the frames cannot be put into cycles "
                  "(add a cycle column to the cycler log, e.g. op4d import --manifest with a cycle column)");
  if (source) *source = "current_A sign changes (a cycle starts where the current turns positive after a discharge)";
  std::vector<int> out;
  int cycle = 1;
  bool discharged = false;
  for (double i : *current) {
    if (i < 0) discharged = true;
    if (i > 0 && discharged) ++cycle, discharged = false;
    out.push_back(cycle);
  }
  return out;
}

static double StudentT975(int df) {
  static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                             2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return NAN;
  if (df <= 30) return t[df - 1];
  const double z = 1.959964;
  return z + (z * z * z + z) / (4.0 * df);  // Cornish-Fisher, < 1e-3 off beyond 30
}

Drift FitDrift(const std::vector<double>& x, const std::vector<double>& y) {
  Drift d;
  std::vector<std::pair<double, double>> p;
  for (std::size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) p.push_back({x[i], y[i]});
  d.n = int(p.size());
  if (d.n < 2) return d;
  double mx = 0, my = 0;
  for (auto& [a, b] : p) mx += a, my += b;
  mx /= d.n, my /= d.n;
  double sxx = 0, sxy = 0;
  for (auto& [a, b] : p) sxx += (a - mx) * (a - mx), sxy += (a - mx) * (b - my);
  if (!(sxx > 0)) return d;
  d.slope = sxy / sxx;
  if (d.n < 3) return d;
  double ss = 0;
  for (auto& [a, b] : p) {
    const double r = b - my - d.slope * (a - mx);
    ss += r * r;
  }
  d.se = std::sqrt(ss / (d.n - 2) / sxx);
  d.half_width_95 = StudentT975(d.n - 2) * d.se;
  return d;
}

std::map<int, std::int64_t> CycleStateFrames(const TimeTable& times, const std::vector<int>& cycle_of,
                                             const std::vector<std::int64_t>& frames, CycleState state,
                                             const std::string& store_path) {
  const std::vector<double>* soc = times.Find("soc_ref");
  if (soc)
    for (std::int64_t k : frames) soc = std::size_t(k) < soc->size() && std::isfinite((*soc)[std::size_t(k)]) ? soc : nullptr;
  const std::vector<double>* s = soc ? soc : times.Find("charge_Ah");
  if (s)
    for (std::int64_t k : frames) s = s && std::size_t(k) < s->size() && std::isfinite((*s)[std::size_t(k)]) ? s : nullptr;
  if (!s && state == CycleState::kEndOfCharge)
    throw IoError(store_path, "time table", "end of charge needs a complete soc_ref or charge_Ah column");
  std::map<int, std::int64_t> pick;
  for (std::int64_t k : frames) {
    const int c = cycle_of[std::size_t(k)];
    auto it = pick.find(c);
    if (it == pick.end() || !s) {
      pick[c] = k;
      continue;
    }
    const double v = (*s)[std::size_t(k)], best = (*s)[std::size_t(it->second)];
    if (state == CycleState::kEndOfDischarge ? v <= best : v >= best) it->second = k;
  }
  return pick;
}

void AppendDriftColumns(ResultTable& t, const std::string& q, const std::string& unit, const Drift& d, double first) {
  const std::string per = unit == "1" ? "per cycle" : unit + " per cycle";
  t.columns.push_back({q + "_slope", per, {d.slope}});
  t.columns.push_back({q + "_slope_se", per, {d.se}});
  t.columns.push_back({q + "_slope_p025", per, {d.slope - d.half_width_95}});
  t.columns.push_back({q + "_slope_p975", per, {d.slope + d.half_width_95}});
  t.columns.push_back({q + "_cycles", "1", {double(d.n)}});
  const double f = std::isfinite(first) && first != 0 ? std::abs(first) : NAN;
  t.columns.push_back({q + "_rel_slope", "per cycle", {d.slope / f}});
  t.columns.push_back({q + "_rel_slope_p025", "per cycle", {(d.slope - d.half_width_95) / f}});
  t.columns.push_back({q + "_rel_slope_p975", "per cycle", {(d.slope + d.half_width_95) / f}});
}

namespace {

bool HasTable(const FrameStore& s, std::int64_t k, const std::string& name) {
  for (const std::string& t : s.ListFrameTables(k))
    if (t == name) return true;
  return false;
}

// A quantity of frame k read from its stored tables; NaN when absent.
double ReadQuantity(const FrameStore& s, std::int64_t k, const std::string& q, std::uint8_t pore, std::uint8_t active,
                    const double* frame_time) {
  auto table = [&](const std::string& name) -> std::optional<ResultTable> {
    if (!HasTable(s, k, name)) return std::nullopt;
    return s.ReadFrameTable(k, name);
  };
  auto row_where = [](const ResultTable& t, const std::string& col, double v) -> long {
    const ResultColumn* c = t.Find(col);
    if (!c) return -1;
    for (std::size_t r = 0; r < c->values.size(); ++r)
      if (c->values[r] == v) return long(r);
    return -1;
  };
  auto at = [](const ResultTable& t, const std::string& col, long r) {
    const ResultColumn* c = t.Find(col);
    return c && r >= 0 && std::size_t(r) < c->values.size() ? c->values[std::size_t(r)] : NAN;
  };
  if (q == "porosity") {
    if (auto t = table("volume_fractions")) return at(*t, "volume_fraction", row_where(*t, "label", pore));
  } else if (q == "a_s_pore_active") {
    if (auto t = table("interface_areas")) {
      const ResultColumn *a = t->Find("phase_a"), *b = t->Find("phase_b");
      if (a && b)
        for (std::size_t r = 0; r < t->rows(); ++r)
          if ((a->values[r] == pore && b->values[r] == active) || (a->values[r] == active && b->values[r] == pore))
            return at(*t, "specific_area_per_um", long(r));
    }
  } else if (q == "tau_z") {
    if (auto t = table("tortuosity")) return at(*t, "tau", row_where(*t, "axis", 0));
  } else if (q == "tau_z_percolating") {
    if (auto t = table("tortuosity")) {
      const long r = row_where(*t, "axis", 0);
      return at(*t, "tau", r) * at(*t, "percolating_fraction", r);
    }
  } else if (q == "sigma_eff_z") {
    if (auto t = table("conductivity")) return at(*t, "sigma_eff", row_where(*t, "axis", 0));
  } else if (q == "active_binder_contact_um2") {
    if (auto t = table("contacts")) return at(*t, "area_um2", 0);
  } else if (q == "open_throats" || q == "percolates") {
    // The throats step's series table, one row per frame it ran on: the row at frame k's time.
    bool has = false;
    for (const std::string& t : s.ListSeriesTables()) has = has || t == "throat_frames";
    if (!has || !frame_time || !std::isfinite(*frame_time)) return NAN;
    const ResultTable t = s.ReadSeriesTable("throat_frames");
    const ResultColumn* ts = t.Find("time_s");
    if (!ts) return NAN;
    for (std::size_t r = 0; r < ts->values.size(); ++r)
      if (std::abs(ts->values[r] - *frame_time) <= 1e-6 * std::max(1.0, std::abs(*frame_time))) return at(t, q, long(r));
  }
  return NAN;
}

}  // namespace

DegradationSummary RunDegradation(const std::string& store_path, const DegradationRunOptions& o) {
  std::string why;
  if (!o.damage.IsValid(&why)) throw ConfigError("damage", why);
  if (!(o.debond_drop > 0 && o.debond_drop < 1)) throw ConfigError("debond_drop", "must be in (0, 1)");
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::int64_t n = store.frame_count();
  if (n < 2)
    throw IoError(store_path, "/frames",
                  "the campaign has " + std::to_string(n) + " frame" + (n == 1 ? "" : "s") +
                      ": degradation compares frames with the reference, it needs at least two");
  if (o.reference < 0 || o.reference >= n) throw ConfigError("reference", "frame " + std::to_string(o.reference) + " is not in the store");
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, o.frames);
  const TimeTable times = store.ReadTimeTable();
  DegradationSummary sum;
  const std::vector<int> cycle_of = CyclesOfFrames(times, store_path, &sum.cycle_source);
  const std::vector<double>* time_s = times.Find("time_s");
  // Inputs: the reference's particle labels, every frame's particle kinematics.
  bool has_labels = false;
  for (const std::string& v : store.ListFrameVolumes(o.reference)) has_labels = has_labels || v == "particle_labels";
  if (!has_labels)
    throw IoError(store_path, "frame " + std::to_string(o.reference) + " results/particle_labels",
                  "no reference particle labels: run `op4d register " + store_path + " --particles` first");
  for (std::int64_t k : frames)
    if (!HasTable(store, k, "particle_kinematics"))
      throw IoError(store_path, "frame " + std::to_string(k) + " results/particle_kinematics",
                    "no per-particle motion: run `op4d register " + store_path + " --particles` first");
  const LabelVolume reference = ToLabels(store.ReadFrameVolume(o.reference, "particle_labels"));
  QuickLookOptions so = o.segment;
  so.threads = o.threads;
  so.progress = ProgressStyle::kOff;
  const auto actives = so.phases.WithRole(PhaseRole::kActive), binders = so.phases.WithRole(PhaseRole::kBinder),
             pores = so.phases.WithRole(PhaseRole::kPore);
  if (actives.size() != 1) throw ConfigError("phases", "degradation needs exactly one phase with the active role");
  DamageOptions dopt = o.damage;
  dopt.active = actives.front().label;
  dopt.binder = binders.empty() ? std::uint8_t(255) : binders.front().label;  // no binder: no contact
  dopt.threads = o.threads;
  const std::uint8_t pore = pores.empty() ? 0 : pores.front().label;

  nlohmann::json j;
  j["reference"] = o.reference;
  j["cycles_from"] = sum.cycle_source;
  j["interior_vox"] = dopt.interior_vox;
  j["crack_component_min"] = dopt.crack_component_min;
  j["crack_min_voxels"] = dopt.crack_min_voxels;
  j["crack_min_fraction"] = dopt.crack_min_fraction;
  j["fragment_min_share"] = dopt.fragment_min_share;
  j["min_reference_voxels"] = dopt.min_reference_voxels;
  j["debond_drop"] = o.debond_drop;
  j["state"] = ToString(o.state);
  j["phases"] = so.phases.ToSpec();
  const Provenance prov{"degradation", "particle_labels of frame " + std::to_string(o.reference) + ", particle_kinematics",
                        j.dump(), ""};

  // Per frame: the damage, fragment identity by nearest pulled-back centroid to the previous frame's.
  struct Track {
    std::vector<int> ids;
    std::vector<Eigen::Vector3d> centroids;
    int next_id = 1;
  };
  std::map<int, Track> tracks;
  std::map<std::int64_t, std::vector<ParticleDamage>> by_frame;
  Progress progress("degradation (frames)", std::int64_t(frames.size()), o.progress);
  for (std::int64_t k : frames) {
    const std::vector<ParticleMotion> motions = MotionsFromKinematics(store.ReadFrameTable(k, "particle_kinematics"));
    const AnyVolume grey = store.ReadFrame(k, o.threads);
    const PhaseVolume phases = FrameLabels(store, k, grey, so);
    std::vector<ParticleDamage> d = MeasureParticleDamage(reference, phases, motions, dopt);
    ResultTable frag;
    frag.name = "fragments";
    ResultColumn fp{"particle", "1", {}}, fi{"fragment", "1", {}}, fv{"voxels", "1", {}}, fz{"centroid_ref_z", "um", {}},
        fy{"centroid_ref_y", "um", {}}, fx{"centroid_ref_x", "um", {}};
    for (const ParticleDamage& p : d) {
      if (!p.measured) continue;
      Track& t = tracks[p.label];
      std::vector<int> ids(p.fragments.size(), 0);
      std::vector<bool> taken(t.ids.size(), false);
      for (std::size_t f = 0; f < p.fragments.size(); ++f) {
        int best = -1;
        double bd = 1e300;
        for (std::size_t q = 0; q < t.ids.size(); ++q) {
          if (taken[q]) continue;
          const double dist = (t.centroids[q] - p.fragments[f].centroid_ref_um).norm();
          if (dist < bd) bd = dist, best = int(q);
        }
        if (best >= 0) ids[f] = t.ids[std::size_t(best)], taken[std::size_t(best)] = true;
        else ids[f] = t.next_id++;
      }
      t.ids = ids;
      t.centroids.clear();
      for (std::size_t f = 0; f < p.fragments.size(); ++f) {
        t.centroids.push_back(p.fragments[f].centroid_ref_um);
        fp.values.push_back(p.label);
        fi.values.push_back(ids[f]);
        fv.values.push_back(double(p.fragments[f].voxels));
        fz.values.push_back(p.fragments[f].centroid_ref_um[0]);
        fy.values.push_back(p.fragments[f].centroid_ref_um[1]);
        fx.values.push_back(p.fragments[f].centroid_ref_um[2]);
      }
    }
    for (ResultColumn* c : {&fp, &fi, &fv, &fz, &fy, &fx}) frag.columns.push_back(std::move(*c));
    ResultTable table = ParticleDamageTable(d);
    ResultColumn cyc{"cycle", "1", std::vector<double>(d.size(), double(cycle_of[std::size_t(k)]))};
    table.columns.push_back(std::move(cyc));
    store.WriteFrameTable(k, table, prov);
    store.WriteFrameTable(k, frag, prov);
    by_frame[k] = std::move(d);
    progress.Advance();
  }
  progress.Finish();

  // Events per reference particle (frames in order).
  std::vector<std::int64_t> order(frames);
  std::sort(order.begin(), order.end());
  std::map<int, std::size_t> row_of;
  const std::vector<ParticleDamage>& first = by_frame.begin()->second;
  for (std::size_t i = 0; i < first.size(); ++i) row_of[first[i].label] = i;
  const std::vector<ParticleDamage>* ref_damage = by_frame.count(o.reference) ? &by_frame.at(o.reference) : nullptr;
  ResultTable ev;
  ev.name = "damage_events";
  ResultColumn el{"label", "1", {}}, eco{"crack_onset_frame", "1", {}}, ecc{"crack_onset_cycle", "1", {}},
      efo{"fragment_frame", "1", {}}, efc{"fragment_cycle", "1", {}}, efn{"fragments", "1", {}},
      edo{"debond_onset_frame", "1", {}}, edc{"debond_onset_cycle", "1", {}}, ecr{"binder_contact_ref_um2", "um^2", {}},
      ecl{"binder_contact_last_um2", "um^2", {}}, ecv{"crack_volume_last_um3", "um^3", {}},
      ecl0{"crack_clear_frame", "1", {}}, edl0{"debond_clear_frame", "1", {}};
  std::vector<std::array<double, 3>> onset_frame(first.size(), {NAN, NAN, NAN});  // crack, fragment, debond; by row
  // Debonding compares like with like: the contact at each cycle's state frame (the per-cycle
  // statistics' frames) against the first cycle's, so the particles' reversible swelling with the
  // SOC, which moved small contacts by 14-19 % between neighbouring charge and discharge frames
  // (seed 5, bench/RESULTS.md), is not read as a loss.
  std::vector<std::int64_t> state_frames;
  for (const auto& [c, k] : CycleStateFrames(times, cycle_of, order, o.state, store_path)) state_frames.push_back(k);
  std::sort(state_frames.begin(), state_frames.end());
  for (const auto& [label, i] : row_of) {
    double c_ref = NAN;
    if (ref_damage && i < ref_damage->size() && (*ref_damage)[i].measured) c_ref = (*ref_damage)[i].binder_contact_um2;
    // The baseline of the debonding test: the first state frame where the particle was measured
    // (the reference's contact when no state frame was).
    double c_base = c_ref, sd_base = ref_damage && i < ref_damage->size() ? (*ref_damage)[i].binder_contact_sd_um2 : NAN;
    std::int64_t base_frame = o.reference;
    for (std::int64_t k : state_frames)
      if (by_frame.at(k)[i].measured) {
        c_base = by_frame.at(k)[i].binder_contact_um2;
        sd_base = by_frame.at(k)[i].binder_contact_sd_um2;
        base_frame = k;
        break;
      }
    // Persistent onsets: scan backwards while the condition holds in every measured frame.
    // The last measured frame before an onset, where the condition did not hold (-1: none): the
    // onset happened after it, at or before the onset frame (frames between were not measured).
    std::int64_t clear = -1;
    auto onset = [&](auto cond, const std::vector<std::int64_t>& in) -> std::int64_t {
      std::int64_t start = -1;
      clear = -1;
      for (auto it = in.rbegin(); it != in.rend(); ++it) {
        const ParticleDamage& p = by_frame.at(*it)[i];
        if (!p.measured) continue;
        if (!cond(p)) {
          clear = *it;
          break;
        }
        start = *it;
      }
      return start;
    };
    const std::int64_t crack = onset([](const ParticleDamage& p) { return p.cracked; }, order);
    const std::int64_t crack_clear = clear;
    const std::int64_t frag = onset([](const ParticleDamage& p) { return p.fragments.size() >= 2; }, order);
    // Debonded: the contact's point value below (1 - debond_drop) of the baseline, and its fall
    // beyond twice the counting sd of the difference.
    const std::int64_t debond = std::isfinite(c_base) && c_base > 0 ? onset([&](const ParticleDamage& p) {
      const double sd = std::sqrt(sd_base * sd_base + p.binder_contact_sd_um2 * p.binder_contact_sd_um2);
      return p.binder_contact_um2 < (1 - o.debond_drop) * c_base && c_base - p.binder_contact_um2 > 2 * sd;
    }, state_frames) : -1;
    const std::int64_t debond_clear = debond >= 0 ? clear : -1;
    // An onset at the reference (or the debonding baseline) means the state was there from the
    // start: not damage seen forming.
    auto as_event = [&](std::int64_t f, std::int64_t start) { return f < 0 || f == start ? NAN : double(f); };
    const double cf = as_event(crack, order.front()), ff = as_event(frag, order.front()), df = as_event(debond, base_frame);
    onset_frame[i] = {cf, ff, df};
    const ParticleDamage* last = nullptr;
    for (auto it = order.rbegin(); it != order.rend() && !last; ++it)
      if (by_frame.at(*it)[i].measured) last = &by_frame.at(*it)[i];
    el.values.push_back(label);
    eco.values.push_back(cf);
    ecl0.values.push_back(std::isfinite(cf) && crack_clear >= 0 ? double(crack_clear) : NAN);
    ecc.values.push_back(std::isfinite(cf) ? cycle_of[std::size_t(cf)] : NAN);
    efo.values.push_back(ff);
    efc.values.push_back(std::isfinite(ff) ? cycle_of[std::size_t(ff)] : NAN);
    efn.values.push_back(last ? double(last->fragments.size()) : NAN);
    edo.values.push_back(df);
    edl0.values.push_back(std::isfinite(df) && debond_clear >= 0 ? double(debond_clear) : NAN);
    edc.values.push_back(std::isfinite(df) ? cycle_of[std::size_t(df)] : NAN);
    ecr.values.push_back(c_ref);
    ecl.values.push_back(last ? last->binder_contact_um2 : NAN);
    ecv.values.push_back(last ? last->crack_volume_um3 : NAN);
    sum.cracked += std::isfinite(cf);
    sum.fragmented += std::isfinite(ff);
    sum.debonded += std::isfinite(df);
  }
  for (ResultColumn* c : {&el, &eco, &ecl0, &ecc, &efo, &efc, &efn, &edo, &edl0, &edc, &ecr, &ecl, &ecv}) ev.columns.push_back(std::move(*c));
  store.WriteSeriesTable(ev, prov);
  sum.particles = std::int64_t(row_of.size());
  sum.frames = std::int64_t(frames.size());

  // Per frame series.
  ResultTable ds;
  ds.name = "damage_series";
  ResultColumn sf{"frame", "1", {}}, st{"time_s", "s", {}}, sc{"cycle", "1", {}}, sm{"particles_tracked", "1", {}},
      scr{"cracked", "1", {}}, scs{"cracked_share", "1", {}}, sfr{"fragmented", "1", {}}, sfn{"fragments", "1", {}},
      sdb{"debonded", "1", {}}, sds{"debonded_share", "1", {}}, sbc{"binder_contact_um2", "um^2", {}};
  // Totals over the particles measured in every frame, so that frames compare (a particle drifting
  // out of the view in some frames would change the totals, not the electrode).
  std::vector<bool> tracked(first.size(), true);
  for (std::int64_t k : order)
    for (std::size_t i = 0; i < tracked.size(); ++i) tracked[i] = tracked[i] && by_frame.at(k)[i].measured;
  std::map<std::int64_t, std::int64_t> cracked_at, fragmented_at, debonded_at;  // tracked particles, per frame
  for (std::size_t i = 0; i < tracked.size(); ++i) {
    if (!tracked[i]) continue;
    const double cf = onset_frame[i][0], ff = onset_frame[i][1], df = onset_frame[i][2];
    for (std::int64_t k : order) {
      cracked_at[k] += std::isfinite(cf) && double(k) >= cf;
      fragmented_at[k] += std::isfinite(ff) && double(k) >= ff;
      debonded_at[k] += std::isfinite(df) && double(k) >= df;
    }
  }
  for (std::int64_t k : order) {
    std::int64_t measured = 0, fragments = 0;
    double contact = 0;
    const std::vector<ParticleDamage>& dk = by_frame.at(k);
    for (std::size_t i = 0; i < dk.size(); ++i)
      if (tracked[i]) ++measured, fragments += std::int64_t(dk[i].fragments.size()), contact += dk[i].binder_contact_um2;
    sf.values.push_back(double(k));
    st.values.push_back(time_s && std::size_t(k) < time_s->size() ? (*time_s)[std::size_t(k)] : NAN);
    sc.values.push_back(cycle_of[std::size_t(k)]);
    sm.values.push_back(double(measured));
    scr.values.push_back(double(cracked_at[k]));
    scs.values.push_back(measured ? double(cracked_at[k]) / double(measured) : NAN);
    sfr.values.push_back(double(fragmented_at[k]));
    sfn.values.push_back(double(fragments));
    sdb.values.push_back(double(debonded_at[k]));
    sds.values.push_back(measured ? double(debonded_at[k]) / double(measured) : NAN);
    sbc.values.push_back(contact);
  }
  for (ResultColumn* c : {&sf, &st, &sc, &sm, &scr, &scs, &sfr, &sfn, &sdb, &sds, &sbc}) ds.columns.push_back(std::move(*c));
  store.WriteSeriesTable(ds, prov);

  // Per cycle: the frame at the chosen state.
  const std::map<int, std::int64_t> pick = CycleStateFrames(times, cycle_of, order, o.state, store_path);
  const std::vector<std::string> quantities{"porosity",    "a_s_pore_active",           "tau_z",       "tau_z_percolating",
                                            "sigma_eff_z", "active_binder_contact_um2", "open_throats", "percolates"};
  const std::map<std::string, std::string> unit{{"porosity", "1"}, {"a_s_pore_active", "um^-1"}, {"tau_z", "1"},
                                                {"tau_z_percolating", "1"}, {"sigma_eff_z", "S/m"}, {"active_binder_contact_um2", "um^2"},
                                                {"open_throats", "1"}, {"percolates", "1"}, {"cracked_share", "1"}, {"fragments", "1"},
                                                {"debonded_share", "1"}, {"particle_binder_contact_um2", "um^2"}};
  ResultTable cs;
  cs.name = "cycle_statistics";
  std::map<std::string, std::vector<double>> series;
  std::vector<double> cycles_x;
  ResultColumn cc{"cycle", "1", {}}, cf{"frame", "1", {}};
  for (const auto& [c, k] : pick) {
    cc.values.push_back(c);
    cf.values.push_back(double(k));
    cycles_x.push_back(c);
    const double tk = time_s && std::size_t(k) < time_s->size() ? (*time_s)[std::size_t(k)] : NAN;
    for (const std::string& q : quantities) series[q].push_back(ReadQuantity(store, k, q, pore, dopt.active, &tk));
    const std::size_t r = std::size_t(std::find(order.begin(), order.end(), k) - order.begin());
    series["cracked_share"].push_back(ds.Find("cracked_share")->values[r]);
    series["fragments"].push_back(ds.Find("fragments")->values[r]);
    series["debonded_share"].push_back(ds.Find("debonded_share")->values[r]);
    series["particle_binder_contact_um2"].push_back(ds.Find("binder_contact_um2")->values[r]);
  }
  cs.columns.push_back(std::move(cc));
  cs.columns.push_back(std::move(cf));
  ResultTable dr;
  dr.name = "cycle_drift";
  for (const auto& [q, v] : series) {
    bool any = false;
    for (double x : v) any = any || std::isfinite(x);
    if (!any) continue;
    cs.columns.push_back({q, unit.at(q), v});
    DriftRow row;
    row.quantity = q;
    row.unit = unit.at(q);
    row.drift = FitDrift(cycles_x, v);
    for (double x : v)
      if (std::isfinite(x)) row.last = x, row.first = std::isfinite(row.first) ? row.first : x;
    AppendDriftColumns(dr, q, row.unit, row.drift, row.first);
    sum.drift.push_back(row);
  }
  store.WriteSeriesTable(cs, prov);
  store.WriteSeriesTable(dr, prov);
  // Permanent closures: throats of the throats step's history open in the first frame and closed in
  // the last (closed for good within the campaign).
  {
    bool has = false;
    for (const std::string& t : store.ListSeriesTables()) has = has || t == "throat_history";
    if (has) {
      const ResultTable th = store.ReadSeriesTable("throat_history");
      const ResultColumn *start = th.Find("open_at_start"), *end = th.Find("open_at_end");
      if (start && end) {
        sum.throats = std::int64_t(th.rows());
        for (std::size_t r = 0; r < th.rows(); ++r) sum.permanent_closures += start->values[r] != 0 && end->values[r] == 0;
        ResultTable pc;
        pc.name = "throat_closures_summary";
        pc.columns = {{"throats", "1", {double(sum.throats)}}, {"permanent_closures", "1", {double(sum.permanent_closures)}},
                      {"permanent_share", "1", {sum.throats ? double(sum.permanent_closures) / double(sum.throats) : NAN}}};
        store.WriteSeriesTable(pc, Provenance{"degradation", "throat_history of the throats step", prov.options_json, ""});
      }
    }
  }
  sum.cycles = int(pick.size());
  return sum;
}

TruthCycles ComputeTruthCycles(const std::string& truth_path, const std::string& store_path, const TruthCycleOptions& o) {
  const FrameStore store = FrameStore::OpenRead(store_path);
  const FrameStore truth = FrameStore::OpenRead(truth_path);
  const std::int64_t n = store.frame_count();
  if (truth.frame_count() != n)
    throw IoError(truth_path, "/frames", std::to_string(truth.frame_count()) + " truth frames for " + std::to_string(n) +
                                             " frames in " + store_path + ": not this campaign's truth");
  if (n < 2) throw IoError(store_path, "/frames", "per-cycle statistics need at least two frames");
  const TimeTable times = store.ReadTimeTable();
  std::string source;
  const std::vector<int> cycle_of = CyclesOfFrames(times, store_path, &source);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) order[std::size_t(k)] = k;
  const std::map<int, std::int64_t> pick = CycleStateFrames(times, cycle_of, order, o.state, store_path);
  const PhaseTable phases = truth.layout()->phases ? *truth.layout()->phases : PhaseTable::Electrode();
  const std::uint8_t pore = phases.WithRole(PhaseRole::kPore).front().label;
  const std::uint8_t active = phases.WithRole(PhaseRole::kActive).front().label;
  const std::vector<Phase> binders = phases.WithRole(PhaseRole::kBinder);
  Progress progress("truth per cycle", std::int64_t(pick.size()), o.progress);
  TruthCycles out;
  out.cycles.name = "cycle_truth";
  ResultColumn cc{"cycle", "1", {}}, cf{"frame", "1", {}}, cp{"porosity", "1", {}}, ct{"tau_z", "1", {}},
      ctp{"tau_z_percolating", "1", {}}, cs{"sigma_eff_z", "S/m", {}};
  for (const auto& [c, k] : pick) {
    const AnyVolume tv = truth.ReadFrame(k, o.threads);
    if (!std::holds_alternative<Volume<std::uint8_t>>(tv))
      throw IoError(truth_path, "/frames/volume", "truth frames do not hold phase labels");
    const Volume<std::uint8_t>& T = std::get<Volume<std::uint8_t>>(tv);
    Volume<std::uint8_t> mask(T.geometry(), 0);
    Volume<float> sigma(T.geometry(), 0.0f);
    LabelVolume particles = ToLabels(truth.ReadFrameVolume(k, "particle_labels"));
    std::int64_t pores = 0;
    for (std::int64_t i = 0; i < T.size(); ++i) {
      mask[i] = T[i] == pore;
      pores += mask[i];
      if (T[i] == active) sigma[i] = float(o.sigma_active_S_per_m);
      else if (!binders.empty() && T[i] == binders.front().label) sigma[i] = float(o.sigma_binder_S_per_m);
      if (T[i] != active) particles[i] = 0;
    }
    DiffusionOptions d;
    d.axis = 0;
    d.threads = o.threads;
    const DiffusionResult r = ComputeTortuosity(mask, d);
    ConductivityOptions co;
    co.solver.axis = 0;
    co.solver.threads = o.threads;
    cc.values.push_back(c);
    cf.values.push_back(double(k));
    cp.values.push_back(double(pores) / double(T.size()));
    ct.values.push_back(r.tau);
    ctp.values.push_back(r.tau * r.percolating_fraction);
    cs.values.push_back(ComputeConductivity(sigma, particles, co).sigma_eff_S_per_m);
    progress.Advance();
  }
  progress.Finish();
  out.drift.name = "cycle_truth_drift";
  for (ResultColumn* col : {&cp, &ct, &ctp, &cs}) {
    AppendDriftColumns(out.drift, col->name, col->unit, FitDrift(cc.values, col->values), col->values.empty() ? NAN : col->values[0]);
  }
  out.cycles.columns = {std::move(cc), std::move(cf), std::move(cp), std::move(ct), std::move(ctp), std::move(cs)};
  return out;
}

TruthCycles WriteTruthCycles(const std::string& truth_path, const std::string& store_path, const TruthCycleOptions& o) {
  TruthCycles t = ComputeTruthCycles(truth_path, store_path, o);
  FrameStore truth = FrameStore::OpenReadWrite(truth_path);
  nlohmann::json opt{{"state", ToString(o.state)}, {"sigma_active_S_per_m", o.sigma_active_S_per_m},
                     {"sigma_binder_S_per_m", o.sigma_binder_S_per_m}, {"contact_resistance_ohm_m2", 0.0}, {"axis", "z"}};
  const Provenance prov{"synth.truth_cycles", "truth labels at each cycle's " + std::string(ToString(o.state)) + " frame of " + store_path,
                        opt.dump(), ""};
  truth.WriteSeriesTable(t.cycles, prov);
  truth.WriteSeriesTable(t.drift, prov);
  return t;
}

namespace {

// The register step's map of frame k and its converged flag (NaN when the table has none).
struct StoredFrameMap {
  AffineMap map;
  double converged = NAN;
};
std::optional<StoredFrameMap> StoredMap(const FrameStore& s, std::int64_t k) {
  if (!HasTable(s, k, "registration")) return std::nullopt;
  const ResultTable t = s.ReadFrameTable(k, "registration");
  const std::optional<AffineMap> m = RegistrationMap(t);
  if (!m) return std::nullopt;
  const ResultColumn* c = t.Find("converged");
  return StoredFrameMap{*m, c && !c->values.empty() ? c->values[0] : NAN};
}

}  // namespace

LabelEventSummary RunLabelEvents(const std::string& store_path, const LabelEventRunOptions& o) {
  std::string why;
  if (!o.events.IsValid(&why)) throw ConfigError("events", why);
  if (!o.watershed.IsValid(&why)) throw ConfigError("watershed", why);
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::int64_t n = store.frame_count();
  if (n < 2)
    throw IoError(store_path, "/frames",
                  "the campaign has " + std::to_string(n) + " frame" + (n == 1 ? "" : "s") +
                      ": events compare consecutive frames, they need at least two");
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, o.frames);
  if (frames.size() < 2) throw ConfigError("frames", "events compare consecutive frames: give at least two");
  QuickLookOptions so = o.segment;
  so.threads = o.threads;
  so.progress = ProgressStyle::kOff;
  const auto actives = so.phases.WithRole(PhaseRole::kActive);
  if (actives.size() != 1)
    throw ConfigError("phases", "events follow the objects of the phase with the active role: give exactly one (e.g. gas=0:active)");
  const std::uint8_t active = actives.front().label;
  WatershedOptions wo = o.watershed;
  wo.threads = o.threads;
  std::map<std::int64_t, StoredFrameMap> maps;
  for (std::int64_t k : frames)
    if (const auto m = StoredMap(store, k)) maps[k] = *m;
  const bool all_maps = maps.size() == frames.size();
  LabelEventSummary sum;
  sum.motion = all_maps ? "register step's maps" : "identity (no registration stored for every frame)";
  nlohmann::json j;
  j["phase"] = actives.front().name;
  j["phases"] = so.phases.ToSpec();
  j["watershed_h_um"] = wo.h_um;
  j["continue_share"] = o.events.continue_share;
  j["split_share"] = o.events.split_share;
  j["min_voxels"] = o.events.min_voxels;
  j["motion"] = sum.motion;
  const Provenance prov{"degradation.events", "phase labels of each frame, watershed of " + actives.front().name, j.dump(), ""};
  const TimeTable times = store.ReadTimeTable();
  const std::vector<double>* time_s = times.Find("time_s");

  ResultColumn cf{"frame", "1", {}}, ct{"time_s", "s", {}}, cn{"objects", "1", {}}, cc{"continued", "1", {}}, cm{"merges", "1", {}},
      cmd{"merged", "1", {}}, csp{"splits", "1", {}}, csq{"split_pieces", "1", {}}, cv{"vanished", "1", {}}, cb{"born", "1", {}},
      cl{"left_out", "1", {}}, cmc{"motion_converged", "1", {}};
  LabelVolume previous;
  std::optional<AffineMap> prev_map;
  Progress progress("events (frames)", std::int64_t(frames.size()), o.progress);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    const std::int64_t k = frames[f];
    const AnyVolume grey = store.ReadFrame(k, o.threads);
    const PhaseVolume phases = FrameLabels(store, k, grey, so);
    Volume<std::uint8_t> mask(phases.geometry(), 0);
    for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = phases[i] == active;
    LabelVolume labels = SeparateParticles(mask, wo).labels;
    const std::optional<AffineMap> map = all_maps ? std::optional<AffineMap>(maps.at(k).map) : std::nullopt;
    cmc.values.push_back(all_maps ? maps.at(k).converged : NAN);
    cf.values.push_back(double(k));
    ct.values.push_back(time_s && std::size_t(k) < time_s->size() ? (*time_s)[std::size_t(k)] : NAN);
    std::int64_t objects = 0;
    {
      std::unordered_map<int, std::int64_t> size;
      for (std::int64_t i = 0; i < labels.size(); ++i)
        if (labels[i] > 0) ++size[labels[i]];
      for (const auto& [l, v] : size) objects += v >= o.events.min_voxels;
    }
    cn.values.push_back(double(objects));
    if (f == 0) {
      for (ResultColumn* c : {&cc, &cm, &cmd, &csp, &csq, &cv, &cb, &cl}) c->values.push_back(NAN);
    } else {
      const AffineMap to_prev = map && prev_map ? map->Inverse().Then(*prev_map) : AffineMap{};
      const LabelEvents ev = TrackLabelEvents(previous, labels, to_prev, o.events);
      cc.values.push_back(double(ev.continued));
      cm.values.push_back(double(ev.merges));
      cmd.values.push_back(double(ev.merged));
      csp.values.push_back(double(ev.splits));
      csq.values.push_back(double(ev.split_pieces));
      cv.values.push_back(double(ev.vanished));
      cb.values.push_back(double(ev.born));
      cl.values.push_back(double(ev.left_out));
      sum.merges += ev.merges;
      sum.merged += ev.merged;
      sum.splits += ev.splits;
      sum.vanished += ev.vanished;
      sum.born += ev.born;
      store.WriteFrameTable(k, ev.FateTable(), prov);
    }
    const AnyVolume stored = StorableLabels(labels);
    std::visit([&](const auto& v) { store.WriteFrameVolume(k, "event_labels", v, prov); }, stored);
    previous = std::move(labels);
    prev_map = map;
    ++sum.frames;
    progress.Advance();
  }
  progress.Finish();
  sum.series.name = "label_event_series";
  sum.series.columns = {std::move(cf), std::move(ct), std::move(cn), std::move(cc), std::move(cm), std::move(cmd),
                        std::move(csp), std::move(csq), std::move(cv), std::move(cb), std::move(cl), std::move(cmc)};
  store.WriteSeriesTable(sum.series, prov);
  return sum;
}

}  // namespace op4d
