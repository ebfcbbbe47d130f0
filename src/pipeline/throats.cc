#include "op4d/pipeline/throats.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/frame/network/distance_transform.h"
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
      const ResultTable t = store.ReadFrameTable(k, name);
      const char* axes = "zyx";
      for (int i = 0; i < 9; ++i) {
        const ResultColumn* c = t.Find(std::string("F_") + axes[i / 3] + axes[i % 3]);
        if (!c || c->values.empty()) return false;
        map->F(i / 3, i % 3) = c->values[0];
      }
      for (int a = 0; a < 3; ++a) {
        const ResultColumn* c = t.Find(std::string("t_") + axes[a]);
        if (!c || c->values.empty()) return false;
        map->t[a] = c->values[0];
      }
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

  NetworkOptions no = o.network;
  no.threads = o.threads;
  no.progress = ProgressStyle::kOff;
  const Volume<std::uint8_t> reference_pore = PoreOf(store, o.reference, store.ReadFrame(o.reference, o.threads), o);
  result.network = ExtractPoreNetwork(reference_pore, no);
  const PoreNetwork& net = result.network;
  s.throats = std::int64_t(net.throats.size());
  s.radius_um.assign(std::size_t(n * s.throats), NAN);

  Progress progress("throats (frames)", n, o.progress);
  CarryOptions co = o.carry;
  co.threads = o.threads;
  for (std::int64_t k = 0; k < n; ++k) {
    AffineMap map;
    if (k != o.reference && StoredMotion(store, k, o.reference, &map)) ++result.frames_with_registration;
    const Volume<float> edt = DistanceTransform(
        k == o.reference ? reference_pore : PoreOf(store, k, store.ReadFrame(k, o.threads), o), {o.threads});
    const std::vector<float> r = CarryThroatRadii(net, map, edt, co);
    std::copy(r.begin(), r.end(), s.radius_um.begin() + std::ptrdiff_t(k * s.throats));
    progress.Advance();
  }
  result.history = AnalysePercolationHistory(ThroatGraphOf(net, o.inlet_face, o.outlet_face), s, o.law, o.threads);

  nlohmann::json j;
  j["reference"] = o.reference;
  j["surface_tension_N_per_m"] = o.law.surface_tension_N_per_m;
  j["contact_angle_deg"] = o.law.contact_angle_deg;
  j["r_min_um"] = o.law.r_min_um;
  j["search_tolerance_um"] = o.carry.search_tolerance_um;
  j["rule"] = "open when r > r_min and p_app < 2 gamma |cos theta| / r";
  j["motion"] = "registration table of each frame (identity when absent)";
  j["frames_with_registration"] = result.frames_with_registration;
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
  const std::vector<ResultTable> tables{result.history.FrameTable(), result.history.ThroatTable(),
                                        result.history.SummaryTable(), radii};
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

}  // namespace op4d
