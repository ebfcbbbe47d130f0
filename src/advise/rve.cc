#include <algorithm>
#include <cmath>
#include <random>

#include "op4d/advise/advise.h"
#include "op4d/core/error.h"
#include "op4d/frame/geometry/size_distribution.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/transport/diffusion.h"

namespace op4d {
namespace {

struct Metrics {
  double porosity = 0, as = 0, tau = 0;
};

Metrics Measure(const Volume<std::uint8_t>& labels, const Box& box, const RveOptions& o) {
  const Volume<std::uint8_t> cube = labels.Crop(box);
  Volume<std::uint8_t> mask(cube.geometry(), 0);
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < cube.size(); ++i) n += (mask[i] = cube[i] == o.label);
  Metrics m;
  const Vec3& s = cube.geometry().spacing_um;
  const double volume = double(cube.size()) * s[0] * s[1] * s[2];
  m.porosity = double(n) / double(cube.size());
  SurfaceAreaOptions a;
  a.threads = o.threads;
  m.as = n ? MaskSurfaceArea(mask, a) / volume : 0;
  m.tau = std::nan("");
  if (o.tortuosity && n) {
    DiffusionOptions d;
    d.axis = 0;
    d.threads = o.threads;
    const DiffusionResult r = ComputeTortuosity(mask, d);
    if (r.status == SolverStatus::kConverged) m.tau = r.tau;
  }
  return m;
}

void MeanCv(const std::vector<double>& v, double* mean, double* cv) {
  double s = 0, q = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, q += x * x, ++n;
  *mean = n ? s / n : std::nan("");
  const double var = n > 1 ? std::max(0.0, (q - s * s / n) / (n - 1)) : 0;
  *cv = n && *mean != 0 ? std::sqrt(var) / std::abs(*mean) : std::nan("");
}

}  // namespace

RveResult ComputeRve(const Volume<std::uint8_t>& labels, const RveOptions& o) {
  if (labels.empty()) throw ConfigError("labels", "an empty volume");
  if (o.samples < 2) throw ConfigError("samples", "at least 2 cubes per edge are needed for a spread");
  if (!(o.tolerance > 0 && o.tolerance < 1)) throw ConfigError("tolerance", "must be in (0, 1)");
  const Index3 shape = labels.geometry().shape;
  const std::int64_t shortest = std::min({shape[0], shape[1], shape[2]});
  std::vector<std::int64_t> edges = o.edges;
  if (edges.empty())
    for (std::int64_t e : {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512})
      if (e < shortest) edges.push_back(e);
  edges.erase(std::remove_if(edges.begin(), edges.end(), [&](std::int64_t e) { return e < 4 || e > shortest; }), edges.end());
  std::sort(edges.begin(), edges.end());
  if (edges.empty()) throw ConfigError("edges", "no cube edge between 4 and the shortest axis (" + std::to_string(shortest) + " voxels)");
  RveResult r;
  const Metrics whole = Measure(labels, Box{{0, 0, 0}, shape}, o);
  r.porosity = whole.porosity;
  r.as_per_um = whole.as;
  r.tau = whole.tau;
  const double h = labels.geometry().spacing_um[0];
  std::mt19937_64 rng(o.seed);
  for (std::int64_t e : edges) {
    std::vector<double> p, a, t;
    RvePoint pt;
    pt.edge_vox = e;
    pt.edge_um = double(e) * h;
    for (int k = 0; k < o.samples; ++k) {
      Box b;
      b.size = {e, e, e};
      for (int ax = 0; ax < 3; ++ax) b.begin[std::size_t(ax)] = std::int64_t(rng() % std::uint64_t(shape[std::size_t(ax)] - e + 1));
      const Metrics m = Measure(labels, b, o);
      p.push_back(m.porosity);
      a.push_back(m.as);
      t.push_back(m.tau);
      pt.tau_percolating += std::isfinite(m.tau);
    }
    MeanCv(p, &pt.porosity_mean, &pt.porosity_cv);
    MeanCv(a, &pt.as_mean, &pt.as_cv);
    MeanCv(t, &pt.tau_mean, &pt.tau_cv);
    r.curve.push_back(pt);
  }
  // The RVE: the smallest edge from which on every metric is within tolerance (spread and bias).
  auto within = [&](const RvePoint& q, std::string* which) {
    auto ok = [&](double mean, double cv, double ref, const char* name) {
      const bool good = std::isfinite(mean) && std::isfinite(cv) && cv <= o.tolerance && std::abs(mean - ref) <= o.tolerance * std::abs(ref);
      if (!good && which->empty()) *which = name;
      return good;
    };
    bool g = ok(q.porosity_mean, q.porosity_cv, r.porosity, "porosity");
    g = ok(q.as_mean, q.as_cv, r.as_per_um, "a_s") && g;
    if (o.tortuosity) g = (q.tau_percolating == o.samples && ok(q.tau_mean, q.tau_cv, r.tau, "tau_z")) && g;
    if (o.tortuosity && q.tau_percolating != o.samples && which->empty()) *which = "tau_z (not percolating in every cube)";
    return g;
  };
  for (std::size_t i = r.curve.size(); i-- > 0;) {
    std::string which;
    if (!within(r.curve[i], &which)) {
      r.limiting = which;
      break;
    }
    r.reached = true;
    r.rve_edge_um = r.curve[i].edge_um;
  }
  return r;
}

std::vector<FeatureSize> FeatureSizes(const Volume<std::uint8_t>& labels, const std::vector<std::pair<std::string, std::uint8_t>>& phases,
                                      ThreadBudget threads) {
  std::vector<FeatureSize> out;
  for (const auto& [name, label] : phases) {
    Volume<std::uint8_t> mask(labels.geometry(), 0);
    for (std::int64_t i = 0; i < labels.size(); ++i) mask[i] = labels[i] == label;
    const Volume<float> t = LocalThickness(mask, threads);
    std::vector<float> v;
    for (std::int64_t i = 0; i < t.size(); ++i)
      if (mask[i]) v.push_back(t[i]);
    if (v.empty()) continue;
    auto q = [&](double f) {
      const std::size_t k = std::min(v.size() - 1, std::size_t(f * double(v.size())));
      std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
      return double(v[k]);
    };
    out.push_back({name, q(0.1), q(0.5)});
  }
  return out;
}

ResultTable RveTable(const RveResult& r) {
  ResultTable t{"advice_rve",
                {{"edge_vox", "1", {}}, {"edge_um", "um", {}}, {"fraction_mean", "1", {}}, {"fraction_cv", "1", {}},
                 {"as_mean", "1/um", {}}, {"as_cv", "1", {}}, {"tau_mean", "1", {}}, {"tau_cv", "1", {}}, {"tau_percolating", "1", {}}}};
  for (const RvePoint& q : r.curve) {
    const double row[] = {double(q.edge_vox), q.edge_um, q.porosity_mean, q.porosity_cv, q.as_mean, q.as_cv, q.tau_mean, q.tau_cv,
                          double(q.tau_percolating)};
    for (std::size_t c = 0; c < t.columns.size(); ++c) t.columns[c].values.push_back(row[c]);
  }
  return t;
}

}  // namespace op4d
