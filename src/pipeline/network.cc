#include "op4d/pipeline/network.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <type_traits>
#include <variant>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/core/version.h"
#include "op4d/frame/uncertainty/ensemble.h"
#include "op4d/io/export.h"
#include "op4d/store/frame_store.h"

namespace op4d {

Volume<std::uint8_t> PoreMaskFromLabels(const AnyVolume& labels, int pore_value) {
  return std::visit(
      [&](const auto& v) -> Volume<std::uint8_t> {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_floating_point_v<T>) {
          throw InvalidArgument("pore value: the frame holds float32 grey values, not labels (segment it instead)");
        } else {
          if (pore_value < 0 || pore_value > int(std::numeric_limits<T>::max()))
            throw InvalidArgument("pore value " + std::to_string(pore_value) + " is outside the range of the frame's type");
          Volume<std::uint8_t> m(v.geometry(), 0);
          for (std::int64_t i = 0; i < v.size(); ++i) m[i] = v[i] == T(pore_value);
          return m;
        }
      },
      labels);
}

Volume<std::uint8_t> PhaseMaskOfFrame(const AnyVolume& frame, int value, const QuickLookOptions& segment, std::uint8_t label,
                                      const FrameStore* store, std::int64_t k) {
  if (value >= 0) return PoreMaskFromLabels(frame, value);
  const PhaseVolume phases = store ? FrameLabels(*store, k, frame, segment) : SegmentFrame(frame, segment);
  Volume<std::uint8_t> mask(phases.geometry(), 0);
  for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = phases[i] == label;
  return mask;
}

PolyData NetworkPolyData(const PoreNetwork& net) {
  PolyData pd;
  NamedArray radius{"radius", "um", 0, 1, false, {}}, node{"node", "1", 0, 1, true, {}},
      coordination{"coordination", "1", 0, 1, true, {}};
  for (std::size_t n = 0; n < net.nodes.size(); ++n) {
    pd.points.push_back(net.nodes[n].position_um);
    radius.values.push_back(net.nodes[n].radius_um);
    node.values.push_back(double(n));
    coordination.values.push_back(net.nodes[n].coordination);
  }
  NamedArray min_r{"min_radius", "um", 0, 1, false, {}}, mean_r{"mean_radius", "um", 0, 1, false, {}},
      length{"length", "um", 0, 1, false, {}}, throat{"throat", "1", 0, 1, true, {}};
  for (std::size_t t = 0; t < net.throats.size(); ++t) {
    const PoreThroat& h = net.throats[t];
    std::vector<std::int64_t> line{h.a};
    for (std::int64_t p = h.path_begin; p < h.path_end; ++p) {
      line.push_back(std::int64_t(pd.points.size()));
      pd.points.push_back(net.VoxelPosition(net.path[std::size_t(p)]));
      radius.values.push_back(net.path_radius_um[std::size_t(p)]);
      node.values.push_back(-1);
      coordination.values.push_back(2);
    }
    line.push_back(h.b);
    pd.lines.push_back(std::move(line));
    min_r.values.push_back(h.min_radius_um);
    mean_r.values.push_back(h.mean_radius_um);
    length.values.push_back(h.length_um);
    throat.values.push_back(double(t));
  }
  for (NamedArray* a : {&radius, &node, &coordination}) a->rows = std::int64_t(pd.points.size());
  for (NamedArray* a : {&min_r, &mean_r, &length, &throat}) a->rows = std::int64_t(pd.lines.size());
  pd.point_data = {radius, node, coordination};
  pd.cell_data = {throat, min_r, mean_r, length};
  return pd;
}

std::vector<std::string> WriteNetworkFiles(const PoreNetwork& net, const std::string& out_dir, const std::string& stem) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw IoError(out_dir, "", "cannot create directory: " + ec.message());
  const std::string base = out_dir + "/" + stem;
  std::vector<std::string> files{base + "_pores.csv", base + "_throats.csv", base + "_summary.csv", base + ".vtp",
                                 base + "_openpnm.h5"};
  WriteCsv(files[0], net.NodeTable());
  WriteCsv(files[1], net.ThroatTable());
  WriteCsv(files[2], net.SummaryTable());

  WriteVtp(files[3], NetworkPolyData(net));

  WriteNamedArraysHdf5(files[4], net.OpenPnmArrays(),
                       {{"creator", std::string("op4d ") + Version()},
                        {"layout", "OpenPNM/PoreSpy network dictionary: pore.coords is Np x 3 (x, y, z) in m, "
                                   "throat.conns is Nt x 2; load with {k: f[k][()] for k in f} and "
                                   "openpnm.io.network_from_porespy"}});
  return files;
}

ResultTable NetworkEnsembleMetrics(const PoreNetwork& net) {
  const ResultTable summary = net.SummaryTable();
  ResultTable t{"network_ensemble_metrics", {}};
  for (const char* name : {"nodes", "throats", "mean_coordination", "graph_components", "graph_loops", "pore_components",
                           "pore_loops"})
    t.columns.push_back(*summary.Find(name));
  std::vector<double> throat_r, node_r;
  for (const PoreThroat& h : net.throats) throat_r.push_back(h.min_radius_um);
  for (const PoreNode& n : net.nodes) node_r.push_back(n.radius_um);
  std::sort(throat_r.begin(), throat_r.end());
  std::sort(node_r.begin(), node_r.end());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto q = [&](const std::vector<double>& v, double p) { return v.empty() ? nan : SortedQuantile(v, p); };
  t.columns.push_back({"throat_radius_p10", "um", {q(throat_r, 0.1)}});
  t.columns.push_back({"throat_radius_median", "um", {q(throat_r, 0.5)}});
  t.columns.push_back({"throat_radius_p90", "um", {q(throat_r, 0.9)}});
  t.columns.push_back({"node_radius_median", "um", {q(node_r, 0.5)}});
  return t;
}

std::vector<NetworkRunRow> RunNetwork(const std::string& store_path, const NetworkRunOptions& options) {
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::vector<std::int64_t> frames = FramesToRun(store, store_path, options.frames);
  std::uint8_t pore_phase = 0;
  if (options.pore_value < 0) {
    const std::vector<Phase> pores = options.segment.phases.WithRole(PhaseRole::kPore);
    if (pores.size() != 1)
      throw ConfigError("phases", "the network needs exactly one phase with the pore role, got " + std::to_string(pores.size()));
    pore_phase = pores.front().label;
  }
  nlohmann::json j;
  j["prune_length_um"] = options.network.skeleton.prune_length_um;
  j["trim_inside_ball"] = options.network.skeleton.trim_inside_ball;
  j["fill_cavities"] = options.network.fill_cavities;
  j["simple_graph"] = options.network.simple_graph;
  j["connectivity"] = "pore 26, solid 6";
  if (options.pore_value >= 0) {
    j["pore_value"] = options.pore_value;
  } else {
    j["segment"] = ToString(options.segment.method);
  }
  RequireLabelSamples(store, store_path, frames, options.segment, options.ensemble, options.pore_value >= 0);
  if (options.ensemble) j["ensemble"] = options.ensemble;
  std::vector<NetworkRunRow> rows;
  Progress progress("network (frames)", std::int64_t(frames.size()), options.network.progress);
  for (std::int64_t k : frames) {
    const AnyVolume frame = store.ReadFrame(k, options.network.threads);
    const Volume<std::uint8_t> pore = PhaseMaskOfFrame(frame, options.pore_value, options.segment, pore_phase, &store, k);
    NetworkOptions no = options.network;
    if (frames.size() > 1) no.progress = ProgressStyle::kOff;  // one line per frame is enough
    const PoreNetwork net = ExtractPoreNetwork(pore, no);
    const Provenance prov{"network", "frame " + std::to_string(k), j.dump(), ""};
    for (const ResultTable& t : {net.NodeTable(), net.ThroatTable(), net.PathTable(), net.SummaryTable()})
      store.WriteFrameTable(k, t, prov);
    if (options.ensemble) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<ResultTable> samples;
      Progress sp("network ensemble frame " + std::to_string(k), options.ensemble, options.network.progress);
      for (int s = 0; s < options.ensemble; ++s) {
        NetworkOptions so = options.network;
        so.progress = ProgressStyle::kOff;
        samples.push_back(NetworkEnsembleMetrics(ExtractPoreNetwork(LabelSampleMask(store, k, s, pore_phase), so)));
        sp.Advance();
      }
      ResultTable e = SummarizeTableEnsemble("network_ensemble", NetworkEnsembleMetrics(net), samples, {});
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      e.columns.push_back({"seconds_per_sample", "s", {seconds / options.ensemble}});
      store.WriteFrameTable(k, e, prov);
    } else {
      store.RemoveFrameResult(k, "network_ensemble");  // an earlier run's ensemble is stale now
    }
    NetworkRunRow row{k, net.SummaryTable(), {}};
    if (!options.out_dir.empty()) {
      char stem[32];
      std::snprintf(stem, sizeof stem, "frame_%06lld", static_cast<long long>(k));
      row.files = WriteNetworkFiles(net, options.out_dir, stem);
    }
    rows.push_back(std::move(row));
    progress.Advance();
  }
  return rows;
}

}  // namespace op4d
