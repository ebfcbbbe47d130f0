#include "op4d/pipeline/throats.h"
#include "op4d/pipeline/register.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/uncertainty/ensemble.h"
#include "op4d/io/export.h"
#include "op4d/pipeline/network.h"
#include "op4d/store/frame_store.h"

namespace op4d {
namespace {

// The pore mask of frame k: labels equal to pore_value, or the segmented pore phase.
Volume<std::uint8_t> PoreOf(const FrameStore& store, std::int64_t k, const AnyVolume& frame, const ThroatRunOptions& o) {
  if (o.pore_value >= 0) return PoreMaskFromLabels(frame, o.pore_value);
  const std::vector<Phase> pores = o.segment.phases.WithRole(PhaseRole::kPore);
  if (pores.size() != 1)
    throw ConfigError("phases", "the throat history needs exactly one phase with the pore role, got " +
                                    std::to_string(pores.size()));
  QuickLookOptions so = o.segment;
  so.threads = o.threads;
  so.progress = ProgressStyle::kOff;
  return PhaseMaskOfFrame(frame, -1, so, pores.front().label, &store, k);
}

// The registration of frame k stored by the register step, if any.
bool StoredMotion(const FrameStore& store, std::int64_t k, std::int64_t reference, AffineMap* map) {
  for (const std::string& name : store.ListFrameTables(k))
    if (name == "registration") {
      const std::optional<AffineMap> m = RegistrationMap(store.ReadFrameTable(k, name));
      if (!m) return false;
      *map = *m;
      const std::string prov = store.ReadTableProvenance("/results/" + [&] {
        char b[16];
        std::snprintf(b, sizeof b, "%06lld", static_cast<long long>(k));
        return std::string(b);
      }() + "/registration");
      // A registration onto another reference frame does not carry this network.
      const auto j = nlohmann::json::parse(prov, nullptr, false);
      if (!j.is_discarded() && j.contains("options") && j["options"].is_object()) {
        const auto& opts = j["options"];
        if (opts.contains("reference") && opts["reference"].get<std::int64_t>() != reference)
          throw ConfigError("reference", "frame " + std::to_string(k) + " was registered onto frame " +
                                             std::to_string(opts["reference"].get<std::int64_t>()) + ", not onto " +
                                             std::to_string(reference) + ": run op4d register --reference " +
                                             std::to_string(reference));
      }
      return true;
    }
  return false;
}

}  // namespace

ThroatRunResult RunThroatHistory(const std::string& store_path, const ThroatRunOptions& o) {
  o.law.Validate();
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::int64_t n = store.frame_count();
  if (n == 0) throw IoError(store_path, "/frames/volume", "the campaign has no frames");
  if (o.reference < 0 || o.reference >= n)
    throw ConfigError("reference", "frame " + std::to_string(o.reference) + " is not in " + store_path);
  const TimeTable times = store.ReadTimeTable();
  const std::vector<double>* time_s = times.Find("time_s");
  const std::vector<double>* p_app = times.Find("p_app_Pa");
  if (!p_app) throw IoError(store_path, "time table", "no p_app_Pa column: the Young-Laplace rule needs the applied pressure");
  ThroatRunResult result;
  ThroatSeries& s = result.series;
  for (std::int64_t k = 0; k < n; ++k) {
    if (std::isnan((*p_app)[std::size_t(k)]))
      throw IoError(store_path, "time table p_app_Pa", "frame " + std::to_string(k) + " has no applied pressure (NaN)");
    s.time_s.push_back((*time_s)[std::size_t(k)]);
    s.p_app_Pa.push_back((*p_app)[std::size_t(k)]);
  }

  if (o.ensemble) {
    std::vector<std::int64_t> all(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) all[std::size_t(k)] = k;
    RequireLabelSamples(store, store_path, all, o.segment, o.ensemble, o.pore_value >= 0);
  }
  std::vector<ThroatSeries> sample_series(std::size_t(std::max(o.ensemble, 0)));
  NetworkOptions no = o.network;
  no.threads = o.threads;
  no.progress = ProgressStyle::kOff;
  const Volume<std::uint8_t> reference_pore = PoreOf(store, o.reference, store.ReadFrame(o.reference, o.threads), o);
  result.network = ExtractPoreNetwork(reference_pore, no);
  const PoreNetwork& net = result.network;
  s.throats = std::int64_t(net.throats.size());
  s.radius_um.assign(std::size_t(n * s.throats), NAN);
  for (ThroatSeries& ss : sample_series) {
    ss = s;
    ss.radius_um.assign(std::size_t(n * s.throats), NAN);
  }
  const std::vector<Phase> pore_phases = o.segment.phases.WithRole(PhaseRole::kPore);

  Progress progress("throats (frames)", n, o.progress);
  CarryOptions co = o.carry;
  co.threads = o.threads;
  for (std::int64_t k = 0; k < n; ++k) {
    AffineMap map;
    if (k != o.reference && StoredMotion(store, k, o.reference, &map)) ++result.frames_with_registration;
    Volume<std::uint8_t> pore_k;
    if (k != o.reference) pore_k = PoreOf(store, k, store.ReadFrame(k, o.threads), o);
    const Volume<std::uint8_t>& pore = k == o.reference ? reference_pore : pore_k;
    const Volume<float> edt = DistanceTransform(pore, {o.threads});
    const std::vector<float> r = CarryThroatRadii(net, map, edt, co);
    std::copy(r.begin(), r.end(), s.radius_um.begin() + std::ptrdiff_t(k * s.throats));
    for (int e = 0; e < o.ensemble; ++e) {  // the same throats measured on each label sample of frame k
      const Volume<std::uint8_t> m = LabelSampleMask(store, k, e, pore_phases.front().label);
      const std::vector<float> re = CarryThroatRadii(net, map, DistanceTransform(m, {o.threads}), co);
      ThroatSeries& ss = sample_series[std::size_t(e)];
      std::copy(re.begin(), re.end(), ss.radius_um.begin() + std::ptrdiff_t(k * s.throats));
    }
    if (o.reextract) {
      ThroatMatch m;
      if (k == o.reference) {
        for (std::int64_t t = 0; t < s.throats; ++t) m.current_of.push_back(t);
        m.reference_of = m.current_of;
        m.matched = s.throats;
      } else {
        m = MatchThroats(net, map, ExtractPoreNetwork(pore, no), co);
      }
      result.births_deaths.push_back(m);
    }
    progress.Advance();
  }
  const ThroatGraph graph = ThroatGraphOf(net, o.inlet_face, o.outlet_face);
  result.history = AnalysePercolationHistory(graph, s, o.law, o.threads);
  for (const ThroatSeries& ss : sample_series) result.ensemble.push_back(AnalysePercolationHistory(graph, ss, o.law, o.threads));

  nlohmann::json j;
  j["reference"] = o.reference;
  j["surface_tension_N_per_m"] = o.law.surface_tension_N_per_m;
  j["contact_angle_deg"] = o.law.contact_angle_deg;
  j["r_min_um"] = o.law.r_min_um;
  j["search_tolerance_um"] = o.carry.search_tolerance_um;
  j["rule"] = "open when r > r_min and p_app < 2 gamma |cos theta| / r";
  j["motion"] = "registration table of each frame (identity when absent)";
  j["frames_with_registration"] = result.frames_with_registration;
  j["reextract"] = o.reextract;
  if (o.ensemble) j["ensemble"] = o.ensemble;
  if (o.pore_value >= 0) j["pore_value"] = o.pore_value;
  else j["segment"] = ToString(o.segment.method);
  const Provenance prov{"throats", "frames of " + store_path, j.dump(), ""};
  ResultTable radii;
  radii.name = "throat_radii";
  radii.columns.push_back({"throat", "1", {}});
  for (std::int64_t t = 0; t < s.throats; ++t) radii.columns[0].values.push_back(double(t));
  for (std::int64_t k = 0; k < n; ++k) {
    ResultColumn c{"radius_" + std::to_string(k), "um", {}};
    for (std::int64_t t = 0; t < s.throats; ++t) c.values.push_back(s.radius_um[std::size_t(k * s.throats + t)]);
    radii.columns.push_back(std::move(c));
  }
  // Where each throat is: its end nodes and bottleneck in the reference network.
  ResultTable history = result.history.ThroatTable();
  const char* where[][2] = {{"node_a", "1"}, {"node_b", "1"}, {"bottleneck_z_um", "um"}, {"bottleneck_y_um", "um"},
                            {"bottleneck_x_um", "um"}, {"reference_radius_um", "um"}};
  for (auto& w : where) history.columns.push_back({w[0], w[1], {}});
  const std::size_t c0 = history.columns.size() - 6;
  for (const PoreThroat& t : net.throats) {
    const double row[] = {double(t.a), double(t.b), t.bottleneck_um[0], t.bottleneck_um[1], t.bottleneck_um[2], t.min_radius_um};
    for (std::size_t c = 0; c < 6; ++c) history.columns[c0 + c].values.push_back(row[c]);
  }
  std::vector<ResultTable> tables{result.history.FrameTable(), history, result.history.SummaryTable(), radii};
  if (o.reextract) {
    // Per frame: the re-extracted network's throats, matched, further segments, born, died and lost; per reference
    // throat: the frames in which it had died.
    ResultTable bd{"throat_births_deaths",
                   {{"time_s", "s", {}}, {"throats", "1", {}}, {"matched", "1", {}}, {"segments", "1", {}}, {"born", "1", {}},
                    {"died", "1", {}}, {"lost", "1", {}}}};
    ResultColumn died{"frames_died", "1", std::vector<double>(std::size_t(s.throats), 0.0)};
    for (std::int64_t k = 0; k < n; ++k) {
      const ThroatMatch& m = result.births_deaths[std::size_t(k)];
      const double row[] = {s.time_s[std::size_t(k)], double(m.reference_of.size()), double(m.matched), double(m.segments),
                            double(m.born), double(m.died), double(m.lost)};
      for (int c = 0; c < 7; ++c) bd.columns[std::size_t(c)].values.push_back(row[c]);
      for (std::int64_t t = 0; t < s.throats; ++t)
        if (m.current_of[std::size_t(t)] < 0 && !std::isnan(s.radius_um[std::size_t(k * s.throats + t)])) died.values[std::size_t(t)] += 1;
    }
    tables[1].columns.push_back(std::move(died));
    tables.push_back(std::move(bd));
  }
  if (o.ensemble) {
    ResultTable p{"throat_open_probability", {{"throat", "1", {}}}};
    for (std::int64_t t = 0; t < s.throats; ++t) p.columns[0].values.push_back(double(t));
    for (std::int64_t k = 0; k < n; ++k) {
      ResultColumn c{"open_" + std::to_string(k), "1", {}};
      for (std::int64_t t = 0; t < s.throats; ++t) {
        double open = 0;
        for (const PercolationHistory& h : result.ensemble) open += h.open[std::size_t(k * s.throats + t)];
        c.values.push_back(open / double(result.ensemble.size()));
      }
      p.columns.push_back(std::move(c));
    }
    std::vector<ResultTable> frames, summaries;
    for (const PercolationHistory& h : result.ensemble) {
      frames.push_back(h.FrameTable());
      summaries.push_back(h.SummaryTable());
    }
    tables.push_back(std::move(p));
    tables.push_back(SummarizeTableEnsemble("throat_frames_ensemble", result.history.FrameTable(), frames, {"time_s", "p_app_Pa"}));
    tables.push_back(SummarizeTableEnsemble("percolation_summary_ensemble", result.history.SummaryTable(), summaries, {"frames", "throats"}));
  } else {
    for (const char* stale : {"throat_open_probability", "throat_frames_ensemble", "percolation_summary_ensemble"})
      store.RemoveSeriesResult(stale);
  }
  for (const ResultTable& t : tables) store.WriteSeriesTable(t, prov);

  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec) throw IoError(o.out_dir, "", "cannot create directory: " + ec.message());
    for (const ResultTable& t : tables) {
      result.files.push_back(o.out_dir + "/" + t.name + ".csv");
      WriteCsv(result.files.back(), t);
    }
    // ParaView: the reference throats with one radius and one open/closed array per frame.
    PolyData pd = NetworkPolyData(net);
    for (std::int64_t k = 0; k < n; ++k) {
      NamedArray radius{"radius_" + std::to_string(k), "um", s.throats, 1, false, {}};
      NamedArray open{"open_" + std::to_string(k), "1", s.throats, 1, true, {}};
      for (std::int64_t t = 0; t < s.throats; ++t) {
        radius.values.push_back(s.radius_um[std::size_t(k * s.throats + t)]);
        open.values.push_back(result.history.open[std::size_t(k * s.throats + t)]);
      }
      pd.cell_data.push_back(std::move(radius));
      pd.cell_data.push_back(std::move(open));
    }
    result.files.push_back(o.out_dir + "/throat_history.vtp");
    WriteVtp(result.files.back(), pd);
  }
  return result;
}

double ThroatTruthCheck::EventRecall() const {
  const std::int64_t truth = truth_closures + truth_reopenings;
  return truth == 0 ? 1.0 : double(found_closures + found_reopenings) / double(truth);
}

ResultTable ThroatTruthCheck::Table() const {
  return {"throat_truth_check",
          {{"truth_throats", "1", {double(truth_throats)}},
           {"detected_throats", "1", {double(detected_throats)}},
           {"matched_throats", "1", {double(matched_throats)}},
           {"unmatched_detected", "1", {double(unmatched_detected)}},
           {"truth_closures", "1", {double(truth_closures)}},
           {"found_closures", "1", {double(found_closures)}},
           {"truth_reopenings", "1", {double(truth_reopenings)}},
           {"found_reopenings", "1", {double(found_reopenings)}},
           {"event_recall", "1", {EventRecall()}},
           {"invented_closures", "1", {double(invented_closures)}},
           {"invented_reopenings", "1", {double(invented_reopenings)}},
           {"frames", "1", {double(frames)}},
           {"percolation_agrees", "1", {double(percolation_agrees)}},
           {"truth_percolation_fraction", "1", {truth_percolation_fraction}},
           {"detected_percolation_fraction", "1", {detected_percolation_fraction}},
           {"truth_shut", "1", {reextracted ? double(truth_shut) : NAN}},
           {"shut_found_dead", "1", {reextracted ? double(shut_found) : NAN}},
           {"deaths_invented", "1", {reextracted ? double(deaths_invented) : NAN}},
           {"born", "1", {reextracted ? double(born) : NAN}}}};
}

ThroatTruthCheck CheckThroatHistory(const ThroatRunResult& run, const std::string& truth_path, const YoungLaplace& law,
                                    std::int64_t reference) {
  const FrameStore truth = FrameStore::OpenRead(truth_path);
  const std::int64_t n = std::int64_t(run.series.time_s.size());
  if (truth.frame_count() != n)
    throw IoError(truth_path, "/frames", "has " + std::to_string(truth.frame_count()) + " frames, the campaign " + std::to_string(n));
  // Truth radii and graph.
  ThroatSeries ts;
  ts.time_s = run.series.time_s;
  ts.p_app_Pa = run.series.p_app_Pa;
  ThroatGraph graph;
  std::vector<Vec3> axis_a, axis_b;  // each truth throat's axis in the reference frame
  std::vector<double> reach;         // and its radius there
  for (std::int64_t k = 0; k < n; ++k) {
    const ResultTable t = truth.ReadFrameTable(k, "throats");
    const std::string where = "frame " + std::to_string(k) + " table throats";
    const ResultColumn* r = t.Find("radius_um");
    const ResultColumn* a = t.Find("body_a");
    const ResultColumn* b = t.Find("body_b");
    if (!r || !a || !b)
      throw IoError(truth_path, where, "no radius_um/body_a/body_b columns: not a throat-lattice campaign's truth (op4d synth --kind lattice)");
    if (k == 0) {
      ts.throats = std::int64_t(r->values.size());
      std::int32_t faces = 0;
      for (std::size_t i = 0; i < b->values.size(); ++i) {
        graph.conns.push_back({std::int32_t(a->values[i]), std::int32_t(b->values[i])});
        faces = std::max(faces, std::int32_t(b->values[i]) - 1);
      }
      graph.nodes = faces + 2;  // bodies, then the separator and the collector face nodes
      graph.inlet.assign(std::size_t(graph.nodes), 0);
      graph.outlet.assign(std::size_t(graph.nodes), 0);
      graph.inlet[std::size_t(faces)] = 1;
      graph.outlet[std::size_t(faces + 1)] = 1;
    }
    if (std::int64_t(r->values.size()) != ts.throats) throw IoError(truth_path, where, "throat count differs from frame 0");
    for (double v : r->values) ts.radius_um.push_back(float(v));
    if (k == reference) {
      std::vector<const ResultColumn*> e;
      for (const char* name : {"end_a_z_um", "end_a_y_um", "end_a_x_um", "end_b_z_um", "end_b_y_um", "end_b_x_um"}) {
        e.push_back(t.Find(name));
        if (!e.back()) throw IoError(truth_path, where, std::string("no ") + name + " column");
      }
      for (std::size_t i = 0; i < r->values.size(); ++i) {
        axis_a.push_back({e[0]->values[i], e[1]->values[i], e[2]->values[i]});
        axis_b.push_back({e[3]->values[i], e[4]->values[i], e[5]->values[i]});
        reach.push_back(r->values[i]);
      }
    }
  }
  const PercolationHistory th = AnalysePercolationHistory(graph, ts, law);
  const PercolationHistory& dh = run.history;
  const std::int64_t nd = std::int64_t(run.network.throats.size());
  // Squared distance from p to the segment a-b.
  auto dist2 = [](const Vec3& p, const Vec3& a, const Vec3& b) {
    double ab2 = 0, t = 0;
    for (int i = 0; i < 3; ++i) {
      ab2 += (b[i] - a[i]) * (b[i] - a[i]);
      t += (p[i] - a[i]) * (b[i] - a[i]);
    }
    t = ab2 > 0 ? std::clamp(t / ab2, 0.0, 1.0) : 0.0;
    double d = 0;
    for (int i = 0; i < 3; ++i) d += (p[i] - a[i] - t * (b[i] - a[i])) * (p[i] - a[i] - t * (b[i] - a[i]));
    return d;
  };
  // Every detected throat goes to the truth throat whose axis is nearest to its bottleneck, when the
  // bottleneck lies within that throat's radius (plus half a voxel diagonal); a truth throat is open
  // in the detection when all the detected throats assigned to it are (segments in series).
  const Vec3& sp = run.network.geometry.spacing_um;
  const double half_diagonal = 0.5 * std::sqrt(sp[0] * sp[0] + sp[1] * sp[1] + sp[2] * sp[2]);
  std::vector<std::int64_t> truth_of(std::size_t(nd), -1);
  std::vector<std::vector<std::int64_t>> segments(std::size_t(ts.throats));
  for (std::int64_t d = 0; d < nd; ++d) {
    double best = INFINITY;
    for (std::size_t i = 0; i < axis_a.size(); ++i) {
      const double e = dist2(run.network.throats[std::size_t(d)].bottleneck_um, axis_a[i], axis_b[i]);
      const double limit = reach[i] + half_diagonal;
      if (reach[i] > 0 && e < limit * limit && e < best) best = e, truth_of[std::size_t(d)] = std::int64_t(i);
    }
    if (truth_of[std::size_t(d)] >= 0) segments[std::size_t(truth_of[std::size_t(d)])].push_back(d);
  }
  ThroatTruthCheck c;
  c.truth_throats = ts.throats;
  c.detected_throats = nd;
  c.frames = n;
  for (const auto& s : segments) c.matched_throats += s.empty() ? 0 : 1;
  for (std::int64_t t : truth_of) c.unmatched_detected += t < 0 ? 1 : 0;
  // Detected state of every truth throat with segments (series), per frame.
  std::vector<std::uint8_t> detected_open(std::size_t(n * ts.throats), 0);
  for (std::int64_t k = 0; k < n; ++k)
    for (std::int64_t t = 0; t < ts.throats; ++t) {
      bool open = !segments[std::size_t(t)].empty();
      for (std::int64_t d : segments[std::size_t(t)]) open = open && dh.open[std::size_t(k * nd + d)];
      detected_open[std::size_t(k * ts.throats + t)] = open;
    }
  // Event of throat t between frames k - 1 and k: +1 closure, -1 reopening, 0 none.
  auto event = [](const std::vector<std::uint8_t>& open, std::int64_t throats, std::int64_t t, std::int64_t k) {
    const int before = open[std::size_t((k - 1) * throats + t)], now = open[std::size_t(k * throats + t)];
    return before && !now ? 1 : !before && now ? -1 : 0;
  };
  for (std::int64_t k = 1; k < n; ++k) {
    for (std::int64_t t = 0; t < ts.throats; ++t) {
      const int e = event(th.open, ts.throats, t, k);
      const int f = segments[std::size_t(t)].empty() ? 0 : event(detected_open, ts.throats, t, k);
      if (e != 0) {
        (e > 0 ? c.truth_closures : c.truth_reopenings)++;
        if (f == e) (e > 0 ? c.found_closures : c.found_reopenings)++;
      }
      if (f != 0 && f != e) (f > 0 ? c.invented_closures : c.invented_reopenings)++;
    }
    // A detected throat assigned to no truth throat: every event of it is invented.
    for (std::int64_t d = 0; d < nd; ++d) {
      if (truth_of[std::size_t(d)] >= 0) continue;
      const int e = event(dh.open, nd, d, k);
      if (e != 0) (e > 0 ? c.invented_closures : c.invented_reopenings)++;
    }
  }
  for (std::int64_t k = 0; k < n; ++k)
    if (th.frames[std::size_t(k)].percolates == dh.frames[std::size_t(k)].percolates) ++c.percolation_agrees;
  // Re-extraction: a truth throat swollen shut (radius 0) should have died in the frame's network
  // (any of its segments without a partner), an open one not.
  if (std::int64_t(run.births_deaths.size()) == n) {
    c.reextracted = true;
    for (std::int64_t k = 0; k < n; ++k) {
      const ThroatMatch& m = run.births_deaths[std::size_t(k)];
      c.born += m.born;
      for (std::int64_t t = 0; t < ts.throats; ++t) {
        if (segments[std::size_t(t)].empty()) continue;
        bool died = false;
        for (std::int64_t d : segments[std::size_t(t)]) died = died || m.current_of[std::size_t(d)] < 0;
        const bool shut = ts.radius_um[std::size_t(k * ts.throats + t)] == 0;
        c.truth_shut += shut;
        c.shut_found += shut && died;
        c.deaths_invented += died && !shut;
      }
    }
  }
  c.truth_percolation_fraction = th.percolation_fraction;
  c.detected_percolation_fraction = dh.percolation_fraction;
  return c;
}

}  // namespace op4d
