#include "op4d/track/throats/percolation_history.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "op4d/core/error.h"
#include "op4d/core/union_find.h"

namespace op4d {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// Sets of nodes joined by throats, with inlet/outlet flags (bit 0 inlet, bit 1 outlet) per set.
class Clusters {
 public:
  explicit Clusters(const ThroatGraph& g) : sets_(g.nodes), flags_(std::size_t(g.nodes), 0) {
    for (std::size_t n = 0; n < flags_.size(); ++n) flags_[n] = std::uint8_t((g.inlet[n] ? 1 : 0) | (g.outlet[n] ? 2 : 0));
  }
  // Joins the sets of a and b; returns the flags of the joined set.
  std::uint8_t Union(std::int32_t a, std::int32_t b) {
    const std::uint8_t f = std::uint8_t(flags_[std::size_t(sets_.Find(a))] | flags_[std::size_t(sets_.Find(b))]);
    return flags_[std::size_t(sets_.Union(a, b))] = f;
  }
  std::uint8_t Flags(std::int32_t x) { return flags_[std::size_t(sets_.Find(x))]; }

 private:
  UnionFind sets_;
  std::vector<std::uint8_t> flags_;
};

void AnalyseFrame(const ThroatGraph& g, const ThroatSeries& s, const YoungLaplace& law, std::size_t k,
                  FramePercolation& f, std::uint8_t* open) {
  const std::size_t nt = std::size_t(s.throats);
  const float* r = s.radius_um.data() + k * nt;
  f.time_s = s.time_s[k];
  f.p_app_Pa = s.p_app_Pa[k];
  Clusters c(g);
  std::vector<std::pair<double, std::int32_t>> candidates;  // (entry pressure, throat) of throats wider than r_min
  for (std::size_t t = 0; t < nt; ++t) {
    if (std::isnan(r[t])) {
      ++f.lost_throats;
      open[t] = 0;
      continue;
    }
    open[t] = ThroatOpen(r[t], f.p_app_Pa, law);
    if (open[t]) {
      ++f.open_throats;
      c.Union(g.conns[t].first, g.conns[t].second);
    }
    if (r[t] > law.r_min_um) candidates.push_back({EntryPressurePa(r[t], law), std::int32_t(t)});
  }
  for (std::int32_t n = 0; n < std::int32_t(g.nodes); ++n) {
    const std::uint8_t fl = c.Flags(n);
    if (fl == 3) {
      f.percolates = true;
      ++f.spanning_nodes;
    }
    if (fl & 1) ++f.inlet_nodes;
  }
  f.cut_off_nodes = g.nodes - f.inlet_nodes;
  // Critical pressure: add throats from the largest entry pressure down until the faces join.
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  Clusters inv(g);
  f.critical_pressure_Pa = 0;
  bool joined = false;
  for (std::int32_t n = 0; n < std::int32_t(g.nodes) && !joined; ++n) joined = inv.Flags(n) == 3;
  if (joined) {
    f.critical_pressure_Pa = std::numeric_limits<double>::infinity();  // a node on both faces
    return;
  }
  for (const auto& [pc, t] : candidates)
    if (inv.Union(g.conns[std::size_t(t)].first, g.conns[std::size_t(t)].second) == 3) {
      f.critical_pressure_Pa = pc;
      break;
    }
}

}  // namespace

void YoungLaplace::Validate() const {
  if (!(surface_tension_N_per_m > 0) || !std::isfinite(surface_tension_N_per_m))
    throw ConfigError("surface_tension_N_per_m", "must be a finite value > 0 N/m, got " + Num(surface_tension_N_per_m));
  if (!(contact_angle_deg >= 0 && contact_angle_deg <= 180))
    throw ConfigError("contact_angle_deg", "must be in [0, 180] degrees, got " + Num(contact_angle_deg));
  if (!(r_min_um >= 0) || !std::isfinite(r_min_um))
    throw ConfigError("r_min_um", "must be a finite value >= 0 um, got " + Num(r_min_um));
}

double EntryPressurePa(double radius_um, const YoungLaplace& law) {
  const double c = 2.0 * law.surface_tension_N_per_m * std::abs(std::cos(law.contact_angle_deg * kPi / 180.0));
  if (radius_um <= 0) return c > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  return c * 1e6 / radius_um;  // µm → m
}

bool ThroatOpen(double radius_um, double p_app_Pa, const YoungLaplace& law) {
  return radius_um > law.r_min_um && p_app_Pa < EntryPressurePa(radius_um, law);
}

std::vector<double> InterpolateLog(const std::vector<double>& log_t, const std::vector<double>& log_v,
                                   const std::vector<double>& frame_t, const std::string& what) {
  if (log_t.size() != log_v.size())
    throw InvalidArgument(what + ": " + std::to_string(log_t.size()) + " log times but " + std::to_string(log_v.size()) + " values");
  if (log_t.empty()) throw InvalidArgument(what + ": the log is empty (the rule needs it at every frame)");
  for (std::size_t i = 0; i < log_t.size(); ++i) {
    if (!std::isfinite(log_v[i]))
      throw InvalidArgument(what + ": no value at log row " + std::to_string(i) + " (t = " + Num(log_t[i]) +
                            " s); the time table lacks this column or this sample");
    if (i > 0 && !(log_t[i] > log_t[i - 1]))
      throw InvalidArgument(what + ": log times must increase (row " + std::to_string(i) + ")");
  }
  std::vector<double> out;
  out.reserve(frame_t.size());
  for (std::size_t k = 0; k < frame_t.size(); ++k) {
    const double t = frame_t[k];
    if (!(t >= log_t.front() && t <= log_t.back()))
      throw InvalidArgument(what + ": frame " + std::to_string(k) + " at t = " + Num(t) + " s is outside the log (" +
                            Num(log_t.front()) + " to " + Num(log_t.back()) + " s)");
    const std::size_t j = std::size_t(std::upper_bound(log_t.begin(), log_t.end(), t) - log_t.begin());
    if (j == log_t.size()) {
      out.push_back(log_v.back());
    } else {
      const double a = (t - log_t[j - 1]) / (log_t[j] - log_t[j - 1]);
      out.push_back(log_v[j - 1] + a * (log_v[j] - log_v[j - 1]));
    }
  }
  return out;
}

std::vector<double> FrameWeights(const std::vector<double>& t) {
  std::vector<double> w(t.size(), 0.0);
  if (t.size() < 2) return w;
  for (std::size_t k = 0; k < t.size(); ++k) {
    const double lo = k == 0 ? t[0] : 0.5 * (t[k - 1] + t[k]);
    const double hi = k + 1 == t.size() ? t[k] : 0.5 * (t[k] + t[k + 1]);
    w[k] = hi - lo;
  }
  return w;
}

PercolationHistory AnalysePercolationHistory(const ThroatGraph& g, const ThroatSeries& s, const YoungLaplace& law,
                                             ThreadBudget threads) {
  law.Validate();
  const std::size_t nk = s.time_s.size(), nt = std::size_t(s.throats);
  if (s.p_app_Pa.size() != nk)
    throw InvalidArgument("throat series: " + std::to_string(nk) + " frame times but " + std::to_string(s.p_app_Pa.size()) +
                          " p_app values");
  if (s.radius_um.size() != nk * nt)
    throw InvalidArgument("throat series: " + std::to_string(s.radius_um.size()) + " radii for " + std::to_string(nk) +
                          " frames x " + std::to_string(nt) + " throats");
  if (g.conns.size() != nt)
    throw InvalidArgument("throat graph has " + std::to_string(g.conns.size()) + " throats, the series " + std::to_string(nt));
  if (g.inlet.size() != std::size_t(g.nodes) || g.outlet.size() != std::size_t(g.nodes))
    throw InvalidArgument("throat graph: inlet/outlet flags must have one entry per node");
  for (std::size_t t = 0; t < nt; ++t)
    for (std::int32_t n : {g.conns[t].first, g.conns[t].second})
      if (n < 0 || n >= g.nodes)
        throw InvalidArgument("throat " + std::to_string(t) + " joins node " + std::to_string(n) + " of " + std::to_string(g.nodes));
  for (std::size_t k = 0; k < nk; ++k) {
    if (k > 0 && !(s.time_s[k] > s.time_s[k - 1]))
      throw InvalidArgument("frame " + std::to_string(k) + ": frame times must increase (t = " + Num(s.time_s[k]) + " s)");
    if (!std::isfinite(s.p_app_Pa[k]))
      throw InvalidArgument("frame " + std::to_string(k) + ": p_app_Pa is missing (NaN); the Young-Laplace rule needs the applied pressure");
    for (std::size_t t = 0; t < nt; ++t)
      if (s.radius_um[k * nt + t] < 0)
        throw InvalidArgument("frame " + std::to_string(k) + ", throat " + std::to_string(t) + ": negative radius " +
                              Num(s.radius_um[k * nt + t]) + " um");
  }
  PercolationHistory h;
  h.frames.resize(nk);
  h.open.assign(nk * nt, 0);
  RunInArena(threads, [&] {
    tbb::parallel_for(std::size_t(0), nk, [&](std::size_t k) { AnalyseFrame(g, s, law, k, h.frames[k], h.open.data() + k * nt); });
  });
  const std::vector<double> w = FrameWeights(s.time_s);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  double perc = 0;
  for (std::size_t k = 0; k < nk; ++k) {
    perc += h.frames[k].percolates ? w[k] : 0.0;
    if (!h.frames[k].percolates && !h.ever_lost) {
      h.ever_lost = true;
      h.first_loss_time_s = h.frames[k].time_s;
    }
  }
  if (!h.ever_lost) h.first_loss_time_s = std::numeric_limits<double>::infinity();
  h.percolation_fraction = total > 0 ? perc / total : (nk > 0 && h.frames[0].percolates ? 1.0 : 0.0);
  h.throats.resize(nt);
  for (std::size_t t = 0; t < nt; ++t) {
    ThroatHistory& th = h.throats[t];
    double run = 0;
    for (std::size_t k = 0; k < nk; ++k) {
      const bool o = h.open[k * nt + t];
      if (std::isnan(s.radius_um[k * nt + t])) ++th.frames_lost;
      if (k > 0) {
        const bool before = h.open[(k - 1) * nt + t];
        th.closures += before && !o;
        th.reopenings += !before && o;
      }
      if (!o) {
        th.time_closed_s += w[k];
        run += w[k];
        th.longest_closure_s = std::max(th.longest_closure_s, run);
      } else {
        run = 0;
      }
    }
    if (nk > 0) {
      th.open_at_start = h.open[t];
      th.open_at_end = h.open[(nk - 1) * nt + t];
    }
    h.reopen_events += th.reopenings;
  }
  return h;
}

ResultTable PercolationHistory::FrameTable() const {
  ResultTable t{"throat_frames",
                {{"time_s", "s", {}}, {"p_app_Pa", "Pa", {}}, {"open_throats", "1", {}}, {"lost_throats", "1", {}},
                 {"percolates", "1", {}}, {"spanning_nodes", "1", {}}, {"inlet_nodes", "1", {}},
                 {"cut_off_nodes", "1", {}}, {"critical_pressure_Pa", "Pa", {}}}};
  for (const FramePercolation& f : frames) {
    const double row[] = {f.time_s, f.p_app_Pa, double(f.open_throats), double(f.lost_throats), double(f.percolates),
                          double(f.spanning_nodes), double(f.inlet_nodes), double(f.cut_off_nodes), f.critical_pressure_Pa};
    for (int c = 0; c < 9; ++c) t.columns[std::size_t(c)].values.push_back(row[c]);
  }
  return t;
}

ResultTable PercolationHistory::ThroatTable() const {
  ResultTable t{"throat_history",
                {{"throat", "1", {}}, {"closures", "1", {}}, {"reopenings", "1", {}}, {"time_closed_s", "s", {}},
                 {"longest_closure_s", "s", {}}, {"frames_lost", "1", {}}, {"open_at_start", "1", {}}, {"open_at_end", "1", {}}}};
  for (std::size_t i = 0; i < throats.size(); ++i) {
    const ThroatHistory& h = throats[i];
    const double row[] = {double(i), double(h.closures), double(h.reopenings), h.time_closed_s, h.longest_closure_s,
                          double(h.frames_lost), double(h.open_at_start), double(h.open_at_end)};
    for (int c = 0; c < 8; ++c) t.columns[std::size_t(c)].values.push_back(row[c]);
  }
  return t;
}

ResultTable PercolationHistory::SummaryTable() const {
  return {"percolation_summary",
          {{"frames", "1", {double(frames.size())}},
           {"throats", "1", {double(throats.size())}},
           {"percolation_fraction", "1", {percolation_fraction}},
           {"reopen_events", "1", {double(reopen_events)}},
           {"ever_lost", "1", {double(ever_lost)}},
           {"first_loss_time_s", "s", {first_loss_time_s}}}};
}

}  // namespace op4d
