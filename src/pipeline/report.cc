#include "op4d/pipeline/report.h"
#include "op4d/pipeline/score.h"

#include <libdeflate.h>
#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "op4d/core/error.h"
#include "op4d/core/hash.h"
#include "op4d/core/version.h"
#include "op4d/io/export.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/track/degradation/damage.h"

namespace op4d {

namespace {

// ------------------------------------------------------------------------------------------------
// Digest

std::string TableHash(const ResultTable& t) {
  Fnv1a f;
  f.AddField(t.name);
  for (const ResultColumn& c : t.columns) {
    if (IsRunMeasurement(t.name, c.name)) continue;
    f.AddField(c.name);
    f.AddField(c.unit);
    f.Add(c.values.data(), c.values.size() * sizeof(double));
  }
  return f.Hex();
}

// ------------------------------------------------------------------------------------------------
// Text helpers

std::string Html(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&') o += "&amp;";
    else if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string Num(double v, int digits = 4) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (unsigned(std::uint8_t(in[i])) << 16) | (unsigned(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i < in.size()) {
    unsigned v = unsigned(std::uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= unsigned(std::uint8_t(in[i + 1])) << 8;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw IoError(path, "", "cannot create");
  out << text;
  if (!out) throw IoError(path, "", "cannot write");
}

// ------------------------------------------------------------------------------------------------
// SVG plots

const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

struct Line {
  std::string label;
  std::vector<double> x, y, lo, hi;  // lo/hi: an optional band
};

struct Plot {
  std::string title;  // "tortuosity · tau"
  std::string unit;   // of y
  std::string note;   // caption: source table, provenance step
  std::vector<Line> lines;
};

// Round tick positions covering [lo, hi].
std::vector<double> Ticks(double lo, double hi, int target = 5) {
  const double span = hi - lo;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) t.push_back(std::abs(v) < 1e-12 * step ? 0 : v);
  return t;
}

struct TimeAxis {
  double scale = 1;  // seconds per unit shown
  std::string unit = "s";
  std::string label = "time";  // the x axis (the advice section plots against the cube edge)
  std::vector<std::pair<double, double>> cycles;  // (time_s where a cycle starts, cycle number)
};

std::string RenderPlot(const Plot& p, const TimeAxis& ta) {
  const double W = 330, H = 210, L = 58, R = 10, T = 26, B = 36;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Line& l : p.lines)
    for (std::size_t i = 0; i < l.x.size(); ++i) {
      if (!std::isfinite(l.x[i])) continue;
      for (double v : {l.y[i], l.lo.empty() ? l.y[i] : l.lo[i], l.hi.empty() ? l.y[i] : l.hi[i]})
        if (std::isfinite(v)) {
          x0 = std::min(x0, l.x[i] / ta.scale), x1 = std::max(x1, l.x[i] / ta.scale);
          y0 = std::min(y0, v), y1 = std::max(y1, v);
        }
    }
  std::ostringstream s;
  s << "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\">";
  s << "<text x=\"" << W / 2 << "\" y=\"15\" text-anchor=\"middle\" class=\"t\">" << Html(p.title)
    << (p.unit.empty() || p.unit == "1" ? "" : " [" + Html(p.unit) + "]") << "</text>";
  if (!std::isfinite(x0)) {
    s << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\" class=\"n\">no finite values</text></svg>";
    return s.str();
  }
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12 * std::max(1.0, std::abs(y0))) {
    const double pad = std::max(std::abs(y0) * 0.05, 1e-9);
    y0 -= pad, y1 += pad;
  } else {
    const double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
  }
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  s << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#888\"/>";
  for (double t : Ticks(x0, x1))
    s << "<line x1=\"" << X(t) << "\" x2=\"" << X(t) << "\" y1=\"" << H - B << "\" y2=\"" << H - B + 4
      << "\" stroke=\"#888\"/><text x=\"" << X(t) << "\" y=\"" << H - B + 15 << "\" text-anchor=\"middle\">" << Num(t, 4) << "</text>";
  for (double t : Ticks(y0, y1, 4))
    s << "<line x1=\"" << L - 4 << "\" x2=\"" << W - R << "\" y1=\"" << Y(t) << "\" y2=\"" << Y(t)
      << "\" stroke=\"#eee\"/><text x=\"" << L - 6 << "\" y=\"" << Y(t) + 4 << "\" text-anchor=\"end\">" << Num(t, 4) << "</text>";
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 4 << "\" text-anchor=\"middle\">" << Html(ta.label) << " [" << ta.unit << "]</text>";
  for (const auto& [t, c] : ta.cycles) {
    const double x = t / ta.scale;
    if (x < x0 || x > x1) continue;
    s << "<line x1=\"" << X(x) << "\" x2=\"" << X(x) << "\" y1=\"" << T << "\" y2=\"" << H - B
      << "\" stroke=\"#999\" stroke-dasharray=\"3,3\"/><text x=\"" << X(x) + 2 << "\" y=\"" << T + 10 << "\" class=\"c\">cycle "
      << Num(c) << "</text>";
  }
  for (std::size_t li = 0; li < p.lines.size(); ++li) {
    const Line& l = p.lines[li];
    const char* colour = kColours[li % 8];
    if (!l.lo.empty()) {  // band: upper edge forward, lower edge back
      std::string d;
      for (std::size_t i = 0; i < l.x.size(); ++i)
        if (std::isfinite(l.hi[i])) d += (d.empty() ? "M" : "L") + Num(X(l.x[i] / ta.scale), 6) + "," + Num(Y(l.hi[i]), 6);
      for (std::size_t i = l.x.size(); i-- > 0;)
        if (std::isfinite(l.lo[i])) d += "L" + Num(X(l.x[i] / ta.scale), 6) + "," + Num(Y(l.lo[i]), 6);
      if (!d.empty()) s << "<path d=\"" << d << "Z\" fill=\"" << colour << "\" fill-opacity=\"0.18\" stroke=\"none\"/>";
    }
    std::string d;
    bool pen = false;
    for (std::size_t i = 0; i < l.x.size(); ++i) {
      if (!std::isfinite(l.y[i])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + Num(X(l.x[i] / ta.scale), 6) + "," + Num(Y(l.y[i]), 6);
      pen = true;
    }
    s << "<path d=\"" << d << "\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\"/>";
    for (std::size_t i = 0; i < l.x.size(); ++i)
      if (std::isfinite(l.y[i]))
        s << "<circle cx=\"" << Num(X(l.x[i] / ta.scale), 6) << "\" cy=\"" << Num(Y(l.y[i]), 6) << "\" r=\"2.5\" fill=\"" << colour << "\"/>";
  }
  if (p.lines.size() > 1) {  // legend, top right, over a white box
    std::size_t longest = 0;
    for (const Line& l : p.lines) longest = std::max(longest, l.label.size());
    const double lw = 6.0 * double(longest) + 8;
    s << "<rect x=\"" << W - R - lw - 2 << "\" y=\"" << T + 2 << "\" width=\"" << lw << "\" height=\"" << 11 * p.lines.size() + 4
      << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>";
    for (std::size_t li = 0; li < p.lines.size(); ++li)
      s << "<text x=\"" << W - R - 6 << "\" y=\"" << T + 12 + 11 * li << "\" text-anchor=\"end\" fill=\"" << kColours[li % 8] << "\">"
        << Html(p.lines[li].label) << "</text>";
  }
  s << "</svg>";
  return s.str();
}

// ------------------------------------------------------------------------------------------------
// Slice images

struct Rgb {
  std::uint8_t r, g, b;
};

// A 2D plane of a volume: plane 0 = the middle z slice (y down, x right), 1 = the middle x slice
// (z down, y right).
template <class T, class F>
void ForPlane(const Volume<T>& v, int plane, int& w, int& h, F&& f) {
  if (plane == 0) {
    w = int(v.nx()), h = int(v.ny());
    const std::int64_t z = v.nz() / 2;
    for (std::int64_t y = 0; y < v.ny(); ++y)
      for (std::int64_t x = 0; x < v.nx(); ++x) f(int(y), int(x), double(v(z, y, x)));
  } else {
    w = int(v.ny()), h = int(v.nz());
    const std::int64_t x = v.nx() / 2;
    for (std::int64_t z = 0; z < v.nz(); ++z)
      for (std::int64_t y = 0; y < v.ny(); ++y) f(int(z), int(y), double(v(z, y, x)));
  }
}

std::vector<double> PlaneValues(const AnyVolume& v, int plane, int& w, int& h) {
  std::vector<double> out;
  std::visit(
      [&](const auto& vol) {
        w = int(plane == 0 ? vol.nx() : vol.ny());
        h = int(plane == 0 ? vol.ny() : vol.nz());
        out.assign(std::size_t(w) * std::size_t(h), 0.0);
        int ww = 0, hh = 0;
        ForPlane(vol, plane, ww, hh, [&](int r, int c, double val) { out[std::size_t(r) * std::size_t(w) + std::size_t(c)] = val; });
      },
      v);
  return out;
}

std::vector<std::uint8_t> GreyImage(const std::vector<double>& vals) {
  std::vector<double> sorted;
  for (double v : vals)
    if (std::isfinite(v)) sorted.push_back(v);
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted.empty() ? 0 : sorted[sorted.size() / 200];
  const double hi = sorted.empty() ? 1 : sorted[sorted.size() - 1 - sorted.size() / 200];
  std::vector<std::uint8_t> rgb(vals.size() * 3);
  for (std::size_t i = 0; i < vals.size(); ++i) {
    const double t = hi > lo && std::isfinite(vals[i]) ? std::clamp((vals[i] - lo) / (hi - lo), 0.0, 1.0) : 0.0;
    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = std::uint8_t(std::lround(255 * t));
  }
  return rgb;
}

Rgb RoleColour(PhaseRole role) {
  switch (role) {
    case PhaseRole::kPore: return {40, 90, 220};
    case PhaseRole::kActive: return {240, 140, 30};
    case PhaseRole::kBinder: return {40, 190, 70};
    case PhaseRole::kOther: return {200, 60, 200};
  }
  return {128, 128, 128};
}

// Diverging blue-white-red for v in [-1, 1].
Rgb Diverging(double v) {
  v = std::clamp(v, -1.0, 1.0);
  if (v < 0) return {std::uint8_t(255 * (1 + v)), std::uint8_t(255 * (1 + v)), 255};
  return {255, std::uint8_t(255 * (1 - v)), std::uint8_t(255 * (1 - v))};
}

std::string ImgTag(const std::vector<std::uint8_t>& rgb, int w, int h, const std::string& alt) {
  const int scale = std::max(1, 256 / std::max(w, h));
  return "<img alt=\"" + Html(alt) + "\" width=\"" + std::to_string(w * scale) + "\" height=\"" + std::to_string(h * scale) +
         "\" src=\"data:image/png;base64," + Base64(EncodePng(rgb, w, h)) + "\"/>";
}

// The last frame the degradation step read, one z slice through the most damaged particles: grey with
// the phases, every particle with an onset by then outlined (cracked red, fragmented magenta,
// debonded cyan), each carried into the frame by its own motion (particle_kinematics) as the step
// read it.
void DamagedParticleSlice(const FrameStore& store, const ReportOptions& o, std::ostream* out, ReportSummary* sum) {
  const std::vector<std::string> series = store.ListSeriesTables();
  if (std::find(series.begin(), series.end(), "damage_events") == series.end() ||
      std::find(series.begin(), series.end(), "damage_series") == series.end())
    return;
  const ResultTable ev = store.ReadSeriesTable("damage_events");
  const ResultTable ds = store.ReadSeriesTable("damage_series");
  const ResultColumn* frames = ds.Find("frame");
  const ResultColumn *label = ev.Find("label"), *crack = ev.Find("crack_onset_frame"), *frag = ev.Find("fragment_frame"),
                     *debond = ev.Find("debond_onset_frame");
  if (!frames || frames->values.empty() || !label || !crack || !frag || !debond) return;
  const std::int64_t k = std::int64_t(frames->values.back());
  const nlohmann::json prov = nlohmann::json::parse(store.ReadTableProvenance("/series/damage_events"), nullptr, false);
  nlohmann::json opt = prov.is_object() && prov.contains("options") ? prov["options"] : nlohmann::json::object();
  if (opt.is_string()) opt = nlohmann::json::parse(opt.get<std::string>(), nullptr, false);
  const std::int64_t ref = opt.is_object() ? opt.value("reference", std::int64_t(0)) : 0;
  bool has_kin = false, has_labels = false;
  for (const std::string& t : store.ListFrameTables(k)) has_kin = has_kin || t == "particle_kinematics";
  for (const std::string& v : store.ListFrameVolumes(ref)) has_labels = has_labels || v == "particle_labels";
  if (!has_kin || !has_labels) return;
  // Damage class per label by frame k: 1 debonded, 2 cracked, 3 fragmented (the worst).
  std::map<int, int> cls;
  for (std::size_t r = 0; r < ev.rows(); ++r) {
    int c = 0;
    if (std::isfinite(debond->values[r]) && debond->values[r] <= double(k)) c = 1;
    if (std::isfinite(crack->values[r]) && crack->values[r] <= double(k)) c = 2;
    if (std::isfinite(frag->values[r]) && frag->values[r] <= double(k)) c = 3;
    if (c) cls[int(label->values[r])] = c;
  }
  const LabelVolume reference = ToLabels(store.ReadFrameVolume(ref, "particle_labels"));
  const Geometry rg = reference.geometry();
  std::map<int, std::int64_t> voxels;
  for (std::int64_t i = 0; i < reference.size(); ++i)
    if (reference[i] > 0 && cls.count(reference[i])) ++voxels[reference[i]];
  struct Carried {
    ParticleMotion m;
    Eigen::Matrix3d Finv;
    double radius_um;
    int cls;
  };
  std::vector<Carried> carried;
  for (const ParticleMotion& m : MotionsFromKinematics(store.ReadFrameTable(k, "particle_kinematics"))) {
    const auto c = cls.find(m.label);
    if (c == cls.end() || !m.valid || !voxels.count(m.label)) continue;
    const Eigen::Matrix3d Finv = m.F.inverse();
    if (!Finv.allFinite()) continue;
    const double r = std::cbrt(3.0 * double(voxels[m.label]) * rg.voxel_volume_um3() / (4.0 * M_PI));
    carried.push_back({m, Finv, 1.5 * r, c->second});
  }
  *out << "<h3>Damaged particles, frame " << k << "</h3>\n";
  if (carried.empty()) {
    *out << "<p>No particle has a crack, fragments or a debonding onset by frame " << k << ".</p>\n";
    return;
  }
  const AnyVolume grey = store.ReadFrame(k, o.segment.threads);
  const Geometry g = std::visit([](const auto& v) { return v.geometry(); }, grey);
  // The z slice crossing the most damaged particles.
  std::vector<int> hits(std::size_t(g.shape[0]), 0);
  for (const Carried& c : carried)
    for (std::int64_t z = 0; z < g.shape[0]; ++z)
      hits[std::size_t(z)] += std::abs(g.origin_um[0] + g.spacing_um[0] * double(z) - c.m.centroid_um[0]) < c.radius_um / 1.5;
  const std::int64_t z = std::max_element(hits.begin(), hits.end()) - hits.begin();
  QuickLookOptions seg = o.segment;
  seg.progress = ProgressStyle::kOff;
  const PhaseTable& phases = store.layout()->phases ? *store.layout()->phases : seg.phases;
  seg.phases = phases;
  const PhaseVolume labels = FrameLabels(store, k, grey, seg);
  const int w = int(g.shape[2]), h = int(g.shape[1]);
  std::vector<double> gv(std::size_t(w) * std::size_t(h));
  std::visit([&](const auto& v) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) gv[std::size_t(y) * std::size_t(w) + std::size_t(x)] = double(v(z, y, x));
  }, grey);
  std::vector<std::uint8_t> rgb = GreyImage(gv);
  std::vector<int> owner(gv.size(), 0), owner_cls(gv.size(), 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = std::size_t(y) * std::size_t(w) + std::size_t(x);
      const auto ph = phases.FindLabel(labels(z, y, x));
      const Rgb pc = RoleColour(ph ? ph->role : PhaseRole::kOther);
      rgb[3 * i] = std::uint8_t(0.6 * rgb[3 * i] + 0.4 * pc.r);
      rgb[3 * i + 1] = std::uint8_t(0.6 * rgb[3 * i + 1] + 0.4 * pc.g);
      rgb[3 * i + 2] = std::uint8_t(0.6 * rgb[3 * i + 2] + 0.4 * pc.b);
      const Eigen::Vector3d xp(g.origin_um[0] + g.spacing_um[0] * double(z), g.origin_um[1] + g.spacing_um[1] * double(y),
                               g.origin_um[2] + g.spacing_um[2] * double(x));
      for (const Carried& c : carried) {
        if ((xp - c.m.centroid_um).norm() > c.radius_um) continue;
        const Eigen::Vector3d X = c.m.centroid_ref_um + c.Finv * (xp - c.m.centroid_um);
        std::int64_t j[3];
        bool in = true;
        for (int a = 0; a < 3; ++a) {
          j[a] = std::int64_t(std::llround((X[a] - rg.origin_um[a]) / rg.spacing_um[a]));
          in = in && j[a] >= 0 && j[a] < rg.shape[a];
        }
        if (in && reference(j[0], j[1], j[2]) == c.m.label) {
          owner[i] = c.m.label;
          owner_cls[i] = c.cls;
          break;
        }
      }
    }
  const Rgb outline[4] = {{0, 0, 0}, {0, 230, 230}, {230, 20, 20}, {230, 0, 230}};
  int shown = 0;
  std::set<int> seen;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = std::size_t(y) * std::size_t(w) + std::size_t(x);
      if (!owner[i]) continue;
      if (seen.insert(owner[i]).second) ++shown;
      const bool edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || owner[i - 1] != owner[i] || owner[i + 1] != owner[i] ||
                        owner[i - std::size_t(w)] != owner[i] || owner[i + std::size_t(w)] != owner[i];
      if (!edge) continue;
      const Rgb c = outline[owner_cls[i]];
      rgb[3 * i] = c.r, rgb[3 * i + 1] = c.g, rgb[3 * i + 2] = c.b;
    }
  *out << "<p>z slice " << z << " of frame " << k << " (x right, y down), phases over grey; the " << shown
       << " particles in it with an onset by this frame outlined as the step read them (each reference particle carried by "
          "its own motion): <span style=\"color:rgb(230,20,20)\">&#9632; cracked</span> <span "
          "style=\"color:rgb(230,0,230)\">&#9632; fragmented</span> <span style=\"color:rgb(0,170,170)\">&#9632; "
          "debonded</span>.</p><div class=\"slices\">"
       << ImgTag(rgb, w, h, "frame " + std::to_string(k) + " damaged particles") << "</div>\n";
  ++sum->slices;
}

// ------------------------------------------------------------------------------------------------
// What the store holds, gathered for plotting

// Leading columns of a small per-frame table that name its rows.
const std::set<std::string> kKeyColumns{"label", "axis", "phase_a", "phase_b", "phase", "connectivity"};
// Columns of per-particle (many-row) tables plotted as median and 10-90 % band.
const std::map<std::string, std::set<std::string>> kDistributionColumns{
    {"particle_kinematics", {"eps_v", "J"}}, {"particle_soc", {"soc"}}, {"particles", {"equivalent_diameter_um"}}};
constexpr std::size_t kMaxLines = 8;

std::string RowLabel(const ResultTable& t, std::size_t r, const PhaseTable& phases) {
  std::string label;
  for (const ResultColumn& c : t.columns) {
    if (!kKeyColumns.count(c.name)) break;
    const double v = c.values[r];
    std::string part;
    if (c.name == "axis" && v >= 0 && v <= 2) part = std::string(1, "zyx"[int(v)]);
    else if ((c.name == "label" || c.name.rfind("phase", 0) == 0) && v >= 0 && v < 256 && phases.FindLabel(std::uint8_t(v)))
      part = phases.FindLabel(std::uint8_t(v))->name;
    else if (c.name == "connectivity") continue;
    else part = c.name + " " + Num(v);
    label += (label.empty() ? "" : "|") + part;
  }
  return label.empty() ? "row " + std::to_string(r) : label;
}

double Quantile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t i = std::size_t(pos);
  return i + 1 < v.size() ? v[i] + (pos - double(i)) * (v[i + 1] - v[i]) : v[i];
}

std::string StepOf(const std::string& provenance) {
  const nlohmann::json j = nlohmann::json::parse(provenance, nullptr, false);
  if (!j.is_object()) return "";
  return j.value("step", "") + (j.contains("op4d_version") ? ", op4d " + j["op4d_version"].get<std::string>() : "") +
         (j.contains("written_utc") ? ", " + j["written_utc"].get<std::string>() : "");
}

}  // namespace

bool IsRunMeasurement(const std::string& table, const std::string& column) {
  if (table == "pipeline_run") return true;
  if (table.size() > 7 && table.compare(table.size() - 7, 7, "_timing") == 0) return true;
  return column == "seconds" || column == "seconds_per_sample";
}

std::vector<ResultDigest> DigestResults(const FrameStore& store) {
  std::vector<ResultDigest> out;
  for (std::int64_t k = 0; k < store.frame_count(); ++k) {
    const std::string g = FrameResultsGroup(k);
    for (const std::string& t : store.ListFrameTables(k)) {
      if (IsRunMeasurement(t, "")) continue;
      out.push_back({g + "/" + t, TableHash(store.ReadFrameTable(k, t))});
    }
    for (const std::string& name : store.ListFrameVolumes(k)) {
      Fnv1a f;
      f.AddField(name);
      std::visit(
          [&](const auto& v) {
            f.Add(v.shape().data(), sizeof(Index3));
            f.Add(v.spacing_um().data(), sizeof(Vec3));
            f.Add(v.data(), std::size_t(v.size()) * sizeof(*v.data()));
          },
          store.ReadFrameVolume(k, name));
      out.push_back({g + "/" + name, f.Hex()});
    }
  }
  for (const std::string& t : store.ListSeriesTables()) {
    if (IsRunMeasurement(t, "")) continue;
    out.push_back({"/series/" + t, TableHash(store.ReadSeriesTable(t))});
  }
  return out;
}

std::string EncodePng(const std::vector<std::uint8_t>& rgb, int width, int height) {
  if (width <= 0 || height <= 0 || rgb.size() != std::size_t(width) * std::size_t(height) * 3)
    throw InvalidArgument("EncodePng: " + std::to_string(rgb.size()) + " bytes for " + std::to_string(width) + "x" +
                          std::to_string(height) + " RGB pixels");
  // Scanlines with filter type 0 (none).
  std::string raw;
  raw.reserve(std::size_t(height) * (std::size_t(width) * 3 + 1));
  for (int y = 0; y < height; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(rgb.data()) + std::size_t(y) * std::size_t(width) * 3, std::size_t(width) * 3);
  }
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string z(libdeflate_zlib_compress_bound(c, raw.size()), '\0');
  z.resize(libdeflate_zlib_compress(c, raw.data(), raw.size(), z.data(), z.size()));
  libdeflate_free_compressor(c);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  auto be32 = [](std::uint32_t v) {
    return std::string{char(v >> 24), char((v >> 16) & 255), char((v >> 8) & 255), char(v & 255)};
  };
  auto chunk = [&](const char* type, const std::string& data) {
    png += be32(std::uint32_t(data.size()));
    const std::string body = std::string(type, 4) + data;
    png += body;
    png += be32(libdeflate_crc32(0, body.data(), body.size()));
  };
  chunk("IHDR", be32(std::uint32_t(width)) + be32(std::uint32_t(height)) + std::string("\x08\x02\x00\x00\x00", 5));
  chunk("IDAT", z);
  chunk("IEND", "");
  return png;
}

ReportSummary WriteReport(const std::string& store_path, const ReportOptions& o) {
  if (o.out_dir.empty()) throw ConfigError("out_dir", "give the report's output directory");
  const FrameStore store = FrameStore::OpenRead(store_path);
  if (store.frame_count() == 0) throw IoError(store_path, "/frames/volume", "the campaign has no frames");
  const std::int64_t n = store.frame_count();
  std::vector<std::int64_t> slices = o.slice_frames;
  if (slices.empty()) slices = n > 1 ? std::vector<std::int64_t>{0, n - 1} : std::vector<std::int64_t>{0};
  for (std::int64_t k : slices)
    if (k < 0 || k >= n) throw ConfigError("slice_frames", "frame " + std::to_string(k) + " is not in " + store_path + " (" + std::to_string(n) + " frames)");
  std::error_code ec;
  for (const std::string& d : {o.out_dir, o.out_dir + "/csv", o.out_dir + "/vtk"}) {
    std::filesystem::create_directories(d, ec);
    if (ec) throw IoError(d, "", "cannot create directory: " + ec.message());
  }
  ReportSummary sum;
  const FrameLayout layout = *store.layout();
  const PhaseTable phases = layout.phases ? *layout.phases : o.segment.phases;
  const TimeTable tt = store.ReadTimeTable();
  const std::vector<double>& time = tt.values[0];
  Progress progress("report", 3 + std::int64_t(slices.size()), o.progress);

  // Time axis: unit from the duration; cycle starts from the cycle column.
  TimeAxis ta;
  const double span = time.back() - time.front();
  if (span > 36000) ta.scale = 3600, ta.unit = "h";
  else if (span > 600) ta.scale = 60, ta.unit = "min";
  if (const std::vector<double>* cyc = tt.Find("cycle"))
    for (std::size_t r = 1; r < cyc->size(); ++r)
      if (std::isfinite((*cyc)[r]) && (*cyc)[r] != (*cyc)[r - 1]) ta.cycles.push_back({time[r], (*cyc)[r]});

  struct Section {
    std::string id, title;
    std::ostringstream html;
  };
  std::vector<std::unique_ptr<Section>> sections;
  std::ostringstream* out = nullptr;
  auto section = [&](const std::string& id, const std::string& title) {
    sections.push_back(std::make_unique<Section>());
    sections.back()->id = id;
    sections.back()->title = title;
    out = &sections.back()->html;
  };
  std::map<std::string, Plot> plotted;  // by title ("table · column")
  auto render = [&](std::ostringstream& o, const Plot& p) {
    o << "<figure>" << RenderPlot(p, ta) << "<figcaption>" << Html(p.note) << "</figcaption></figure>\n";
    ++sum.plots;
  };
  auto figure = [&](const Plot& p) {
    render(*out, p);
    plotted[p.title] = p;
  };
  auto csv = [&](const std::string& name, const ResultTable& t) {
    const std::string path = o.out_dir + "/csv/" + name + ".csv";
    WriteCsv(path, t);
    sum.files.push_back(path);
    return "csv/" + name + ".csv";
  };

  // Time table.
  {
    ResultTable t{"time", {}};
    for (std::size_t c = 0; c < tt.columns.size(); ++c) t.columns.push_back({tt.columns[c].name, tt.columns[c].unit, tt.values[c]});
    const std::string link = csv("time", t);
    section("cycler", "Cycler log");
    *out << "<p>" << n << " frames over " << Num(span / ta.scale) << " " << ta.unit << "; table: <a href=\"" << link << "\">" << link
         << "</a></p>\n<div class=\"grid\">";
    for (std::size_t c = 1; c < tt.columns.size(); ++c) {
      if (std::none_of(tt.values[c].begin(), tt.values[c].end(), [](double v) { return std::isfinite(v); })) continue;
      figure({tt.columns[c].name, tt.columns[c].unit, "time table", {{tt.columns[c].name, time, tt.values[c], {}, {}}}});
    }
    *out << "</div>\n";
  }
  progress.Advance();

  // Per-frame tables: gathered across frames by name.
  std::map<std::string, std::vector<std::pair<std::int64_t, ResultTable>>> per_frame;
  std::map<std::string, std::string> provenance;
  for (std::int64_t k = 0; k < n; ++k)
    for (const std::string& name : store.ListFrameTables(k)) {
      per_frame[name].push_back({k, store.ReadFrameTable(k, name)});
      provenance[name] = StepOf(store.ReadTableProvenance(FrameResultsGroup(k) + "/" + name));
    }
  section("frames", "Per-frame results");
  if (per_frame.empty()) *out << "<p>No per-frame results in the store yet (run a pipeline first).</p>\n";
  for (const auto& [name, frames] : per_frame) {
    // CSV: all frames stacked.
    ResultTable stacked{name, {{"frame", "1", {}}}};
    for (const ResultColumn& c : frames.front().second.columns) stacked.columns.push_back({c.name, c.unit, {}});
    for (const auto& [k, t] : frames)
      for (std::size_t r = 0; r < t.rows(); ++r) {
        stacked.columns[0].values.push_back(double(k));
        for (std::size_t c = 1; c < stacked.columns.size(); ++c) {
          const ResultColumn* col = t.Find(stacked.columns[c].name);
          stacked.columns[c].values.push_back(col ? col->values[r] : NAN);
        }
      }
    const std::string link = csv(name, stacked);
    *out << "<h3>" << Html(name) << "</h3><p class=\"src\">" << frames.size() << " frames; " << Html(provenance[name]) << "; <a href=\""
         << link << "\">" << link << "</a></p>\n";
    // A label ensemble outside its calibrated domain (segment_ensemble's calibrated column): say so
    // where the bands are drawn.
    std::string uncalibrated;
    for (const auto& [k, t] : frames)
      if (const ResultColumn* cal = t.Find("calibrated"); cal && !cal->values.empty() && cal->values[0] != 1)
        uncalibrated += (uncalibrated.empty() ? "" : ", ") + std::to_string(k);
    if (!uncalibrated.empty())
      *out << "<p class=\"warn\">Frames " << uncalibrated
           << " lie outside the domain the ensemble was calibrated in (see the chord_ and contrast_to_noise columns): "
              "their bands are the model's spread, not calibrated error bars.</p>\n";
    *out << "<div class=\"grid\">";
    std::size_t max_rows = 0;
    for (const auto& f : frames) max_rows = std::max(max_rows, f.second.rows());
    const ResultTable& first = frames.front().second;
    // An ensemble's statistics (M_mean, M_sd, M_p05, M_p95 beside M): one plot of M with its 5-95 % band.
    auto ensemble_part = [&](const std::string& col) {
      for (const char* suffix : {"_mean", "_sd", "_p05", "_p95"}) {
        const std::size_t n = std::char_traits<char>::length(suffix);
        if (col.size() > n && col.compare(col.size() - n, n, suffix) == 0 && first.Find(col.substr(0, col.size() - n)))
          return true;
      }
      return false;
    };
    for (const ResultColumn& c : first.columns) {
      if (kKeyColumns.count(c.name) || ensemble_part(c.name)) continue;
      // An ensemble table's bookkeeping (sample count, cost) is in its CSV, not worth a plot.
      const bool ensemble_table = name.size() > 9 && name.compare(name.size() - 9, 9, "_ensemble") == 0;
      if (ensemble_table && (c.name == "samples" || c.name == "seconds_per_sample" || c.name == "temperature" ||
                             c.name == "grey_jitter" || c.name == "jitter_correlation" || c.name == "noise_sigma"))
        continue;
      const bool band = first.Find(c.name + "_p05") && first.Find(c.name + "_p95");
      Plot p{name + " · " + c.name + (band ? " (point, 5-95 % band of the label samples)" : ""), c.unit,
             name + " (" + provenance[name] + ")", {}};
      if (max_rows <= kMaxLines) {
        // One line per row key.
        std::map<std::string, Line> lines;
        std::vector<std::string> order;
        for (const auto& [k, t] : frames) {
          const ResultColumn* col = t.Find(c.name);
          const ResultColumn* lo = band ? t.Find(c.name + "_p05") : nullptr;
          const ResultColumn* hi = band ? t.Find(c.name + "_p95") : nullptr;
          for (std::size_t r = 0; r < t.rows() && col; ++r) {
            const std::string key = RowLabel(t, r, phases);
            if (!lines.count(key)) order.push_back(key), lines[key].label = key;
            lines[key].x.push_back(time[std::size_t(k)]);
            lines[key].y.push_back(col->values[r]);
            if (lo && hi) lines[key].lo.push_back(lo->values[r]), lines[key].hi.push_back(hi->values[r]);
          }
        }
        for (auto& [key, l] : lines)
          if (l.lo.size() != l.x.size()) l.lo.clear(), l.hi.clear();  // a frame without the band: none
        for (const std::string& key : order) p.lines.push_back(lines[key]);
      } else {
        const auto it = kDistributionColumns.find(name);
        if (it == kDistributionColumns.end() || !it->second.count(c.name)) continue;
        Line l{"median", {}, {}, {}, {}};
        for (const auto& [k, t] : frames) {
          const ResultColumn* col = t.Find(c.name);
          if (!col) continue;
          l.x.push_back(time[std::size_t(k)]);
          l.y.push_back(Quantile(col->values, 0.5));
          l.lo.push_back(Quantile(col->values, 0.1));
          l.hi.push_back(Quantile(col->values, 0.9));
        }
        p.title += " (median, 10-90 %)";
        p.lines.push_back(std::move(l));
      }
      figure(p);
    }
    *out << "</div>\n";
  }
  progress.Advance();

  // Series tables.
  section("series", "Series results");
  const std::vector<std::string> series = store.ListSeriesTables();
  if (series.empty()) *out << "<p>No series results in the store yet.</p>\n";
  for (const std::string& name : series) {
    if (name == "advice" || name == "advice_rve") {
      *out << "<h3>" << Html(name) << "</h3><p class=\"src\">Shown in <a href=\"#advice\">imaging-technique advice</a>.</p>\n";
      continue;
    }
    const ResultTable t = store.ReadSeriesTable(name);
    const std::string prov = StepOf(store.ReadTableProvenance("/series/" + name));
    const std::string link = csv("series_" + name, t);
    *out << "<h3>" << Html(name) << "</h3><p class=\"src\">" << t.rows() << " rows; " << Html(prov) << "; <a href=\"" << link << "\">"
         << link << "</a></p>\n";
    // Time of each row: its time_s column, or the time of its frame column.
    std::vector<double> x;
    if (const ResultColumn* ts = t.Find("time_s")) x = ts->values;
    else if (const ResultColumn* fr = t.Find("frame"))
      for (double f : fr->values) x.push_back(f >= 0 && f < double(n) ? time[std::size_t(f)] : NAN);
    if (!x.empty() && t.rows() > 1 && name != "pipeline_run") {
      *out << "<div class=\"grid\">";
      for (const ResultColumn& c : t.columns) {
        if (c.name == "time_s" || c.name == "frame") continue;
        figure({name + " · " + c.name, c.unit, name + " (" + prov + ")", {{c.name, x, c.values, {}, {}}}});
      }
      *out << "</div>\n";
    } else if (t.rows() <= 40) {  // a small table as it is
      *out << "<table><tr>";
      for (const ResultColumn& c : t.columns) *out << "<th>" << Html(c.name) << (c.unit == "1" ? "" : " [" + Html(c.unit) + "]") << "</th>";
      *out << "</tr>";
      for (std::size_t r = 0; r < t.rows(); ++r) {
        *out << "<tr>";
        for (const ResultColumn& c : t.columns) *out << "<td>" << Num(c.values[r], 6) << "</td>";
        *out << "</tr>";
      }
      *out << "</table>\n";
    } else {
      *out << "<p>" << t.rows() << " rows (one per throat, particle, ...): see the CSV.</p>\n";
    }
  }
  progress.Advance();

  // Degradation across cycles (op4d degradation): the onsets, the drift per cycle with its interval,
  // and every per-cycle quantity against the cycle number.
  if (std::find(series.begin(), series.end(), "cycle_statistics") != series.end()) {
    section("degradation", "Degradation across cycles");
    const ResultTable cs = store.ReadSeriesTable("cycle_statistics");
    const std::string prov = StepOf(store.ReadTableProvenance("/series/cycle_statistics"));
    if (std::find(series.begin(), series.end(), "damage_events") != series.end()) {
      const ResultTable ev = store.ReadSeriesTable("damage_events");
      auto count = [&](const char* c) {
        int n = 0;
        if (const ResultColumn* col = ev.Find(c))
          for (double v : col->values) n += std::isfinite(v);
        return n;
      };
      *out << "<p>" << ev.rows() << " reference particles: " << count("crack_onset_frame") << " cracked, "
           << count("fragment_frame") << " fragmented, " << count("debond_onset_frame")
           << " debonded during the campaign (onsets per particle in <code>damage_events</code>).</p>\n";
    }
    if (std::find(series.begin(), series.end(), "cycle_drift") != series.end()) {
      const ResultTable dr = store.ReadSeriesTable("cycle_drift");
      *out << "<table><tr><th>quantity</th><th>drift per cycle</th><th>95 % interval</th><th>relative to the first cycle, "
              "% per cycle</th><th>cycles</th></tr>";
      for (const ResultColumn& c : dr.columns) {
        const std::string suffix = "_slope";
        if (c.name.size() <= suffix.size() || c.name.compare(c.name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
        const std::string q = c.name.substr(0, c.name.size() - suffix.size());
        if (q.size() > 4 && q.compare(q.size() - 4, 4, "_rel") == 0) continue;  // shown in its quantity's row
        const ResultColumn *lo = dr.Find(q + "_slope_p025"), *hi = dr.Find(q + "_slope_p975"), *n = dr.Find(q + "_cycles");
        const ResultColumn *rel = dr.Find(q + "_rel_slope"), *rlo = dr.Find(q + "_rel_slope_p025"), *rhi = dr.Find(q + "_rel_slope_p975");
        *out << "<tr><td>" << Html(q) << "</td><td>" << Num(c.values[0], 4) << " " << Html(c.unit) << "</td><td>"
             << (lo && hi ? Num(lo->values[0], 4) + " to " + Num(hi->values[0], 4) : std::string("-")) << "</td><td>"
             << (rel && std::isfinite(rel->values[0])
                     ? Num(100 * rel->values[0], 3) +
                           (rlo && rhi && std::isfinite(rlo->values[0])
                                ? " (" + Num(100 * rlo->values[0], 3) + " to " + Num(100 * rhi->values[0], 3) + ")"
                                : std::string())
                     : std::string("-"))
             << "</td><td>" << (n ? Num(n->values[0], 3) : std::string("-")) << "</td></tr>";
      }
      *out << "</table>\n";
    }
    TimeAxis cycle_axis;
    cycle_axis.unit = "number";
    cycle_axis.label = "cycle";
    const ResultColumn* x = cs.Find("cycle");
    *out << "<div class=\"grid\">";
    for (const ResultColumn& c : cs.columns) {
      if (!x || c.name == "cycle" || c.name == "frame") continue;
      const Plot p{"cycle_statistics · " + c.name, c.unit, "cycle_statistics (" + prov + ")", {{c.name, x->values, c.values, {}, {}}}};
      *out << "<figure>" << RenderPlot(p, cycle_axis) << "<figcaption>" << Html(p.note) << "</figcaption></figure>\n";
      ++sum.plots;
    }
    *out << "</div>\n";
    DamagedParticleSlice(store, o, out, &sum);
  }

  // Imaging-technique advice (op4d advise --store): the ranking with its reasons, the feature sizes and
  // the RVE curves of the frame it was computed from.
  if (std::find(series.begin(), series.end(), "advice") != series.end()) {
    section("advice", "Imaging-technique advice");
    const ResultTable t = store.ReadSeriesTable("advice");
    csv("series_advice", t);
    const nlohmann::json prov = nlohmann::json::parse(store.ReadTableProvenance("/series/advice"), nullptr, false);
    nlohmann::json j = prov.is_object() && prov.contains("options") ? prov["options"] : nlohmann::json::object();
    if (j.is_string()) j = nlohmann::json::parse(j.get<std::string>(), nullptr, false);
    if (!j.is_object() || !j.contains("ranking")) {
      *out << "<p>The advice table's provenance holds no ranking (written by another tool?): see the CSV.</p>\n";
    } else {
      const nlohmann::json& in = j["input"];
      *out << "<p class=\"src\">" << Html(StepOf(prov.dump())) << "; from frame " << j.value("frame", -1) << "'s labels. Smallest feature "
           << Num(in.value("smallest_feature_um", NAN)) << " um (" << Num(in.value("min_voxels_per_feature", NAN), 2)
           << " voxels across it needed), representative volume " << Num(in.value("rve_edge_um", NAN)) << " um edge, sample "
           << Num(in.value("sample_thickness_um", NAN)) << " um thick" << (in.value("in_operando", false) ? ", in operando" : "")
           << (in.value("destructive_allowed", false) ? ", destructive allowed" : ", not destructive") << ".</p>\n";
      if (j.contains("features")) {
        *out << "<table><tr><th>feature</th><th>d10 [um]</th><th>d50 [um]</th></tr>";
        for (const nlohmann::json& f : j["features"])
          *out << "<tr><td style=\"text-align:left\">" << Html(f.value("phase", "")) << "</td><td>" << Num(f.value("p10_um", NAN))
               << "</td><td>" << Num(f.value("p50_um", NAN)) << "</td></tr>";
        *out << "</table>\n";
      }
      *out << "<table><tr><th>rank</th><th style=\"text-align:left\">technique</th><th>voxel [um]</th><th>voxels per feature</th>"
           << "<th>field of view [um]</th><th>scans for the RVE</th><th>energy</th><th>transmission</th>"
           << "<th style=\"text-align:left\">reasons</th></tr>\n";
      for (const nlohmann::json& r : j["ranking"]) {
        std::string reasons;
        for (const nlohmann::json& why : r.value("reasons", nlohmann::json::array())) reasons += (reasons.empty() ? "" : "; ") + why.get<std::string>();
        const std::string unit = r.value("energy_unit", "");
        *out << "<tr><td>" << r.value("rank", 0) << "</td><td style=\"text-align:left\">" << Html(r.value("name", "")) << "</td><td>"
             << Num(r.value("voxel_um", NAN)) << "</td><td>" << Num(r.value("voxels_per_feature", NAN), 3) << "</td><td>"
             << Num(r.value("fov_um", NAN)) << "</td><td>" << Num(r.value("scans_for_rve", NAN), 3) << "</td><td>"
             << (unit.empty() ? std::string("-") : Num(r.value("energy", NAN), 3) + " " + unit) << "</td><td>"
             << Num(r.value("transmission", NAN), 3) << "</td><td style=\"text-align:left\">" << Html(reasons) << "</td></tr>\n";
      }
      *out << "</table>\n";
      // Phase pairs below the detectability threshold for the first-ranked technique.
      const nlohmann::json& best = j["ranking"].front();
      std::string flagged;
      for (const nlohmann::json& c : best.value("contrast", nlohmann::json::array()))
        if (!c.value("detectable", true))
          flagged += (flagged.empty() ? "" : ", ") + c.value("a", "") + " | " + c.value("b", "") + " (CNR " + Num(c.value("cnr", NAN), 3) +
                     (c.value("phase_detectable", false) ? ", phase contrast separates it: CNR " + Num(c.value("phase_cnr", NAN), 3) : "") + ")";
      *out << "<p>Absorption contrast for " << Html(best.value("name", "")) << ": "
           << (flagged.empty() ? std::string("every phase pair detectable") : "below the Rose threshold: " + Html(flagged)) << ".</p>\n";
    }
    if (std::find(series.begin(), series.end(), "advice_rve") != series.end()) {
      const ResultTable rt = store.ReadSeriesTable("advice_rve");
      csv("series_advice_rve", rt);
      const nlohmann::json rj = j.is_object() && j.contains("rve") ? j["rve"] : nlohmann::json::object();
      *out << "<p>Representative volume of label " << rj.value("label", 0) << " on " << rj.value("samples", 0)
           << " random cubes per edge (mean and &plusmn; one standard deviation; the whole frame's value as the second line): "
           << (rj.value("reached", false) ? "every metric within " + Num(rj.value("tolerance", NAN), 2) + " from " +
                                                Num(rj.value("rve_edge_um", NAN)) + " um on"
                                          : "NOT reached in this volume (" + Html(rj.value("limiting", std::string("?"))) + " does not settle)")
           << ".</p>\n<div class=\"grid\">";
      TimeAxis edge_axis;
      edge_axis.unit = "um";
      edge_axis.label = "cube edge";
      const ResultColumn* x = rt.Find("edge_um");
      struct Metric {
        const char *mean, *cv, *whole, *title, *unit;
      };
      for (const Metric& m : {Metric{"fraction_mean", "fraction_cv", "fraction", "RVE · volume fraction", "1"},
                              Metric{"as_mean", "as_cv", "as_per_um", "RVE · a_s", "1/um"},
                              Metric{"tau_mean", "tau_cv", "tau_z", "RVE · tau_z", "1"}}) {
        const ResultColumn *mean = rt.Find(m.mean), *cv = rt.Find(m.cv);
        if (!x || !mean || !cv) continue;
        Line l{"cubes", x->values, mean->values, {}, {}};
        for (std::size_t i = 0; i < l.y.size(); ++i) {
          l.lo.push_back(l.y[i] * (1 - cv->values[i]));
          l.hi.push_back(l.y[i] * (1 + cv->values[i]));
        }
        Plot p{m.title, m.unit, "advice_rve (" + StepOf(store.ReadTableProvenance("/series/advice_rve")) + ")", {l}};
        const double whole = rj.value(m.whole, NAN);
        if (std::isfinite(whole) && !x->values.empty())
          p.lines.push_back({"whole frame", {x->values.front(), x->values.back()}, {whole, whole}, {}, {}});
        *out << "<figure>" << RenderPlot(p, edge_axis) << "<figcaption>" << Html(p.note) << "</figcaption></figure>\n";
        ++sum.plots;
      }
      *out << "</div>\n";
    }
  }

  // Slices: grey, labels over grey, J - 1 over grey (when a J field is stored).
  section("slices", "Slices");
  *out << "<p>Middle z slice (x right, y down) and middle x slice (y right, z down). Labels: ";
  for (const Phase& ph : phases.phases()) {
    const Rgb c = RoleColour(ph.role);
    *out << "<span style=\"color:rgb(" << int(c.r) << "," << int(c.g) << "," << int(c.b) << ")\">&#9632; " << Html(ph.name) << "</span> ";
  }
  *out << "(" << (layout.phases ? std::string("the stored labels") : "segmented by " + std::string(ToString(o.segment.method)))
       << "). Strain: J &minus; 1, blue &lt; 0 &lt; red.</p>\n";
  for (std::int64_t k : slices) {
    const AnyVolume grey = store.ReadFrame(k, o.segment.threads);
    QuickLookOptions seg = o.segment;
    seg.phases = phases;
    // A label campaign (phases in the store) is its own segmentation.
    const PhaseVolume labels = layout.phases && std::holds_alternative<Volume<std::uint8_t>>(grey)
                                   ? std::get<Volume<std::uint8_t>>(grey)
                                   : SegmentFrame(grey, seg);
    const std::vector<std::string> vols = store.ListFrameVolumes(k);
    const bool has_j = std::find(vols.begin(), vols.end(), "J") != vols.end();
    AnyVolume J;
    if (has_j) J = store.ReadFrameVolume(k, "J");
    *out << "<h3>Frame " << k << " (t = " << Num(time[std::size_t(k)] / ta.scale) << " " << ta.unit << ")</h3><div class=\"slices\">";
    for (int plane = 0; plane < 2; ++plane) {
      int w = 0, h = 0;
      const std::vector<double> g = PlaneValues(grey, plane, w, h);
      const std::vector<std::uint8_t> grey_rgb = GreyImage(g);
      *out << ImgTag(grey_rgb, w, h, "frame " + std::to_string(k) + " grey");
      const std::vector<double> lab = PlaneValues(AnyVolume(labels), plane, w, h);
      std::vector<std::uint8_t> over = grey_rgb;
      for (std::size_t i = 0; i < lab.size(); ++i) {
        const auto ph = phases.FindLabel(std::uint8_t(lab[i]));
        const Rgb c = RoleColour(ph ? ph->role : PhaseRole::kOther);
        over[3 * i] = std::uint8_t(0.45 * over[3 * i] + 0.55 * c.r);
        over[3 * i + 1] = std::uint8_t(0.45 * over[3 * i + 1] + 0.55 * c.g);
        over[3 * i + 2] = std::uint8_t(0.45 * over[3 * i + 2] + 0.55 * c.b);
      }
      *out << ImgTag(over, w, h, "frame " + std::to_string(k) + " labels");
      ++sum.slices;
      if (has_j) {
        const std::vector<double> jv = PlaneValues(J, plane, w, h);
        double amp = 0;
        for (double v : jv)
          if (std::isfinite(v)) amp = std::max(amp, std::abs(v - 1));
        std::vector<std::uint8_t> sj = grey_rgb;
        for (std::size_t i = 0; i < jv.size() && i * 3 < sj.size(); ++i) {
          const Rgb c = Diverging(amp > 0 && std::isfinite(jv[i]) ? (jv[i] - 1) / amp : 0);
          sj[3 * i] = std::uint8_t(0.35 * sj[3 * i] + 0.65 * c.r);
          sj[3 * i + 1] = std::uint8_t(0.35 * sj[3 * i + 1] + 0.65 * c.g);
          sj[3 * i + 2] = std::uint8_t(0.35 * sj[3 * i + 2] + 0.65 * c.b);
        }
        if (jv.size() * 3 == sj.size()) *out << ImgTag(sj, w, h, "frame " + std::to_string(k) + " J - 1 (+-" + Num(amp, 3) + ")");
      }
    }
    *out << "</div>";
    if (!has_j) *out << "<p class=\"src\">No J field stored for this frame (register with --method elastix stores one).</p>";
    if (o.vtk) {
      char name[64];
      std::snprintf(name, sizeof name, "/vtk/frame_%06lld.vti", static_cast<long long>(k));
      WriteVti(o.out_dir + name, ConstVolumeView(grey), "grey");
      sum.files.push_back(o.out_dir + name);
      std::snprintf(name, sizeof name, "/vtk/labels_%06lld.vti", static_cast<long long>(k));
      WriteVti(o.out_dir + name, ConstVolumeView(AnyVolume(labels)), "labels");
      sum.files.push_back(o.out_dir + name);
      if (has_j) {
        std::snprintf(name, sizeof name, "/vtk/J_%06lld.vti", static_cast<long long>(k));
        WriteVti(o.out_dir + name, ConstVolumeView(J), "J");
        sum.files.push_back(o.out_dir + name);
      }
    }
    progress.Advance();
  }

  // The quantities a battery study looks at first, from the plots above, in one section after the
  // cycler log.
  {
    section("key", "Key quantities");
    *out << "<p>The quantities of the campaign at a glance (each also in its table's section).</p><div class=\"grid\">";
    static const char* kKey[] = {"volume_fractions · volume_fraction", "quicklook_fractions · volume_fraction", "tortuosity · tau",
                                 "tortuosity · d_eff_over_d_bulk", "conductivity · sigma_eff", "conductivity · sigma_eff_over_sigma_active",
                                 "interface_areas · specific_area_per_um",
                                 "registration_series · J_linear", "particle_kinematics · eps_v (median, 10-90 %)",
                                 "soc_series · soc_mean", "soc_series · soc_sd", "throat_frames · percolates",
                                 "throat_frames · open_throats", "throat_frames · critical_pressure_Pa"};
    int shown = 0;
    for (const char* k : kKey)
      if (plotted.count(k) && !(std::string(k).rfind("quicklook", 0) == 0 && plotted.count(kKey[0]))) {
        Plot p = plotted.at(k);
        if (std::string(k) == "tortuosity · d_eff_over_d_bulk") p.title = "tortuosity · D_eff/D (ionic sigma_eff/sigma_0 of the phase)";
        render(*out, p);
        ++shown;
      }
    *out << "</div>\n";
    if (!shown) *out << "<p>None stored yet (run a pipeline first).</p>\n";
    // After the cycler log.
    std::rotate(sections.begin() + 1, sections.end() - 1, sections.end());
  }
  std::string toc, html;
  {
    // The truth scorecard first, when the score step stored one.
    const Scorecard card = ReadScorecard(store_path);
    if (!card.rows.empty()) {
      std::ostringstream t;
      t << "<p>Against <code>" << Html(card.truth_path) << "</code>: " << card.rows.size() - std::size_t(card.Failed()) << " of "
        << card.rows.size() << " rows pass.</p>\n<table><tr><th>quantity</th><th>frame</th><th>measured</th><th>truth</th>"
        << "<th>error</th><th>target</th><th>verdict</th><th style=\"text-align:left\">rule</th></tr>\n";
      for (const ScoreRow& r : card.rows) {
        char b[4][32];
        std::snprintf(b[0], 32, "%.5g", r.measured);
        std::snprintf(b[1], 32, "%.5g", r.truth);
        std::snprintf(b[2], 32, "%.4g", r.error);
        std::snprintf(b[3], 32, "%s %.3g", r.at_least ? "&ge;" : "&le;", r.target);
        t << "<tr><td style=\"text-align:left\">" << Html(r.quantity) << "</td><td>" << (r.frame >= 0 ? std::to_string(r.frame) : "all")
          << "</td><td>" << b[0] << "</td><td>" << b[1] << "</td><td>" << b[2] << "</td><td>" << b[3] << "</td><td>"
          << (r.pass ? "pass" : "<b style=\"color:#b00\">FAIL</b>") << "</td><td style=\"text-align:left\">" << Html(r.rule)
          << "</td></tr>\n";
      }
      t << "</table>\n";
      toc += "<a href=\"#scorecard\">truth scorecard</a> ";
      html += "<h2 id=\"scorecard\">truth scorecard</h2>\n" + t.str();
    }
  }
  for (const auto& sec : sections) {
    toc += "<a href=\"#" + sec->id + "\">" + Html(sec->title) + "</a> ";
    html += "<h2 id=\"" + sec->id + "\">" + Html(sec->title) + "</h2>\n" + sec->html.str();
  }

  const std::string utc = UtcNow();
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>op4d report: " << Html(store_path) << "</title>\n"
       << "<style>body{font:14px sans-serif;margin:20px;color:#222}h2{border-bottom:1px solid #ccc;margin-top:28px}"
          ".grid{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;border:1px solid #ddd;padding:2px}"
          "figcaption{font-size:10px;color:#666;max-width:330px}svg.plot text{font-size:10px;fill:#333}svg.plot text.t{font-size:11px;"
          "font-weight:bold}svg.plot text.c{fill:#777}.src{color:#666;font-size:12px}.warn{color:#a33}table{border-collapse:collapse;font-size:12px}"
          "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}.slices img{image-rendering:pixelated;margin:3px;"
          "border:1px solid #ccc}nav a{margin-right:12px}</style></head><body>\n"
       << "<h1>op4d campaign report</h1>\n<p>Store <code>" << Html(store_path) << "</code>: " << n << " frames of "
       << Html(layout.geometry.ToString()) << " (" << ToString(layout.dtype) << "). Written " << utc << " by op4d " << Version()
       << ".</p>\n<nav>" << toc << "</nav>\n"
       << html << "</body></html>\n";
  sum.html = o.out_dir + "/report.html";
  WriteText(sum.html, page.str());
  sum.files.insert(sum.files.begin(), sum.html);
  return sum;
}

}  // namespace op4d
