#include "op4d/track/soc/soc.h"

#include <ceres/ceres.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "op4d/core/error.h"

namespace op4d {

StrainSocLaw StrainSocLaw::Linear(double k) {
  if (!std::isfinite(k) || k == 0) throw ConfigError("soc_law/k", "must be finite and non-zero, got " + std::to_string(k));
  StrainSocLaw law;
  law.k_ = k;
  return law;
}

StrainSocLaw StrainSocLaw::Tabulated(std::vector<double> soc, std::vector<double> eps) {
  if (soc.size() != eps.size())
    throw ConfigError("soc_law/table", "soc has " + std::to_string(soc.size()) + " entries, eps " + std::to_string(eps.size()));
  if (soc.size() < 2) throw ConfigError("soc_law/table", "needs at least two points");
  for (std::size_t i = 0; i < soc.size(); ++i) {
    if (!std::isfinite(soc[i]) || !std::isfinite(eps[i]))
      throw ConfigError("soc_law/table/" + std::to_string(i), "not a finite (soc, eps) pair");
    if (i > 0 && !(soc[i] > soc[i - 1]))
      throw ConfigError("soc_law/table/" + std::to_string(i), "soc must increase strictly (" + std::to_string(soc[i - 1]) +
                                                                   " then " + std::to_string(soc[i]) + ")");
  }
  StrainSocLaw law;
  law.soc_ = std::move(soc);
  law.eps_ = std::move(eps);
  return law;
}

double StrainSocLaw::Strain(double soc) const {
  if (linear()) return k_ * soc;
  std::size_t i = std::size_t(std::upper_bound(soc_.begin(), soc_.end(), soc) - soc_.begin());
  i = std::clamp<std::size_t>(i, 1, soc_.size() - 1);
  const double f = (soc - soc_[i - 1]) / (soc_[i] - soc_[i - 1]);
  return eps_[i - 1] + f * (eps_[i] - eps_[i - 1]);
}

StrainSocLaw::Inverse StrainSocLaw::Soc(double eps) const {
  Inverse r;
  if (!std::isfinite(eps)) {
    r.status = Inverse::Status::kOutOfRange;
    r.message = "strain is not finite";
    return r;
  }
  if (linear()) {
    r.soc = eps / k_;
    return r;
  }
  std::vector<double> solutions;
  for (std::size_t i = 1; i < soc_.size(); ++i) {
    const double e0 = eps_[i - 1], e1 = eps_[i];
    if (e0 == e1) {
      if (eps == e0) {
        r.status = Inverse::Status::kAmbiguous;
        r.soc_low = soc_[i - 1];
        r.soc_high = soc_[i];
        std::ostringstream m;
        m << "strain " << eps << " lies on the plateau soc " << soc_[i - 1] << " to " << soc_[i] << ": SOC not determined";
        r.message = m.str();
        return r;
      }
      continue;
    }
    if (eps < std::min(e0, e1) || eps > std::max(e0, e1)) continue;
    const double s = soc_[i - 1] + (eps - e0) / (e1 - e0) * (soc_[i] - soc_[i - 1]);
    if (solutions.empty() || std::abs(s - solutions.back()) > 1e-12) solutions.push_back(s);
  }
  if (solutions.empty()) {
    r.status = Inverse::Status::kOutOfRange;
    std::ostringstream m;
    m << "strain " << eps << " is outside the table's range [" << *std::min_element(eps_.begin(), eps_.end()) << ", "
      << *std::max_element(eps_.begin(), eps_.end()) << "]";
    r.message = m.str();
    return r;
  }
  if (solutions.size() > 1) {
    r.status = Inverse::Status::kAmbiguous;
    r.soc_low = solutions.front();
    r.soc_high = solutions.back();
    std::ostringstream m;
    m << "strain " << eps << " is reached at " << solutions.size() << " SOCs (" << r.soc_low << " to " << r.soc_high
      << "): the table is not monotonic there";
    r.message = m.str();
    return r;
  }
  r.soc = solutions.front();
  return r;
}

std::vector<double> CoulombCount(const std::vector<double>& t, const std::vector<double>& I, double capacity_Ah,
                                 double soc0, bool charge_positive) {
  if (t.size() != I.size()) throw InvalidArgument("coulomb counting: time and current differ in length");
  if (!(capacity_Ah > 0)) throw InvalidArgument("coulomb counting: capacity must be > 0 Ah, got " + std::to_string(capacity_Ah));
  std::vector<double> soc(t.size());
  const double sign = charge_positive ? 1.0 : -1.0;
  double charge_As = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t[i]) || !std::isfinite(I[i]))
      throw InvalidArgument("coulomb counting: row " + std::to_string(i) + " has a NaN time or current");
    if (i > 0) {
      if (!(t[i] > t[i - 1]))
        throw InvalidArgument("coulomb counting: time does not increase at row " + std::to_string(i));
      charge_As += 0.5 * (I[i] + I[i - 1]) * (t[i] - t[i - 1]);
    }
    soc[i] = soc0 + sign * charge_As / (3600.0 * capacity_Ah);
  }
  return soc;
}

namespace {
struct LinearResidual {
  double dtheta, eps;
  template <class T>
  bool operator()(const T* k, T* r) const {
    r[0] = T(eps) - k[0] * T(dtheta);
    return true;
  }
};
}  // namespace

LinearCalibration CalibrateLinearLaw(const std::vector<double>& soc, const std::vector<double>& eps_v, double theta_ref,
                                     double huber_scale) {
  if (soc.size() != eps_v.size()) throw InvalidArgument("calibration: soc and strain differ in length");
  std::vector<double> dth, eps;
  for (std::size_t i = 0; i < soc.size(); ++i)
    if (std::isfinite(soc[i]) && std::isfinite(eps_v[i])) {
      dth.push_back(soc[i] - theta_ref);
      eps.push_back(eps_v[i]);
    }
  if (dth.size() < 2)
    throw InvalidArgument("calibration needs at least two frames with a known SOC and a measured strain, got " +
                          std::to_string(dth.size()) + " (of " + std::to_string(soc.size()) + ")");
  const double lo = *std::min_element(dth.begin(), dth.end()), hi = *std::max_element(dth.begin(), dth.end());
  if (hi - lo < 1e-9 && std::abs(hi) < 1e-9)
    throw InvalidArgument("calibration is degenerate: every frame is at the reference SOC " + std::to_string(theta_ref));
  if (hi - lo < 1e-9)
    throw InvalidArgument("calibration is degenerate: all " + std::to_string(dth.size()) + " frames are at the same SOC " +
                          std::to_string(lo + theta_ref));
  // Start from the least-squares slope through the origin.
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < dth.size(); ++i) {
    sxy += dth[i] * eps[i];
    sxx += dth[i] * dth[i];
  }
  double k = sxy / sxx;
  ceres::Problem problem;
  for (std::size_t i = 0; i < dth.size(); ++i)
    problem.AddResidualBlock(new ceres::AutoDiffCostFunction<LinearResidual, 1, 1>(new LinearResidual{dth[i], eps[i]}),
                             huber_scale > 0 ? new ceres::HuberLoss(huber_scale) : nullptr, &k);
  ceres::Solver::Options opts;
  opts.linear_solver_type = ceres::DENSE_QR;
  opts.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(opts, &problem, &summary);
  LinearCalibration out;
  out.k = k;
  out.frames = int(dth.size());
  double ss = 0;
  for (std::size_t i = 0; i < dth.size(); ++i) ss += std::pow(eps[i] - k * dth[i], 2);
  out.rms_residual = std::sqrt(ss / double(dth.size()));
  ceres::Covariance::Options co;
  ceres::Covariance cov(co);
  std::vector<std::pair<const double*, const double*>> blocks{{&k, &k}};
  double var = NAN;
  if (cov.Compute(blocks, &problem)) cov.GetCovarianceBlock(&k, &k, &var);
  // Ceres assumes unit residual variance: scale by the residual variance (n - 1 degrees of freedom).
  const double s2 = dth.size() > 1 ? ss / double(dth.size() - 1) : 0.0;
  out.k_std = std::sqrt(var * s2);
  return out;
}

std::vector<SocEstimate> InferSoc(const StrainSocLaw& law, const std::vector<double>& eps_v,
                                  const std::vector<double>& eps_std, double theta_ref) {
  if (!eps_std.empty() && eps_std.size() != eps_v.size())
    throw InvalidArgument("SOC inference: strain and uncertainty differ in length");
  const double eps_ref = law.Strain(theta_ref);
  std::vector<SocEstimate> out(eps_v.size());
  for (std::size_t i = 0; i < eps_v.size(); ++i) {
    const StrainSocLaw::Inverse inv = law.Soc(eps_v[i] + eps_ref);
    SocEstimate& e = out[i];
    if (inv.status != StrainSocLaw::Inverse::Status::kOk) {
      e.message = inv.message;
      continue;
    }
    e.soc = inv.soc;
    e.valid = true;
    // Local slope of the law by a central difference (exact on a linear segment away from vertices).
    const double h = 1e-6;
    const double slope = (law.Strain(inv.soc + h) - law.Strain(inv.soc - h)) / (2 * h);
    e.soc_std = eps_std.empty() ? 0.0 : eps_std[i] / std::abs(slope);
  }
  return out;
}

SocStatistics SummariseSoc(const std::vector<SocEstimate>& soc, const std::vector<double>& depth, int bins,
                           int profile_bins) {
  if (depth.size() != soc.size()) throw InvalidArgument("SOC statistics: estimates and depths differ in length");
  if (bins < 1 || profile_bins < 1) throw InvalidArgument("SOC statistics: bin counts must be >= 1");
  SocStatistics s;
  s.histogram.assign(std::size_t(bins), 0);
  std::vector<double> v, d;
  for (std::size_t i = 0; i < soc.size(); ++i)
    if (soc[i].valid) {
      v.push_back(soc[i].soc);
      d.push_back(depth[i]);
    }
  s.count = int(v.size());
  std::vector<double> sum(std::size_t(profile_bins), 0.0);
  std::vector<int> n(std::size_t(profile_bins), 0);
  for (int b = 0; b < profile_bins; ++b) s.profile_depth.push_back((b + 0.5) / profile_bins);
  if (v.empty()) {
    s.mean = s.sd = s.p05 = s.p50 = s.p95 = s.profile_slope = NAN;
    s.profile_soc.assign(std::size_t(profile_bins), NAN);
    return s;
  }
  double total = 0;
  for (double x : v) total += x;
  s.mean = total / double(v.size());
  double ss = 0, sdd = 0, sdv = 0, dmean = 0;
  for (double x : d) dmean += x;
  dmean /= double(d.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    ss += (v[i] - s.mean) * (v[i] - s.mean);
    sdd += (d[i] - dmean) * (d[i] - dmean);
    sdv += (d[i] - dmean) * (v[i] - s.mean);
    s.histogram[std::size_t(std::clamp(int(v[i] * bins), 0, bins - 1))]++;
    const int b = std::clamp(int(d[i] * profile_bins), 0, profile_bins - 1);
    sum[std::size_t(b)] += v[i];
    ++n[std::size_t(b)];
  }
  s.sd = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : 0.0;
  s.profile_slope = sdd > 0 ? sdv / sdd : NAN;
  for (int b = 0; b < profile_bins; ++b) s.profile_soc.push_back(n[std::size_t(b)] ? sum[std::size_t(b)] / n[std::size_t(b)] : NAN);
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::size_t(std::lround(p * double(v.size() - 1)))]; };
  s.p05 = pct(0.05);
  s.p50 = pct(0.5);
  s.p95 = pct(0.95);
  return s;
}

ResultTable SocStatistics::Table() const {
  ResultTable t;
  t.name = "soc_summary";
  t.columns = {{"count", "1", {double(count)}}, {"soc_mean", "1", {mean}},   {"soc_sd", "1", {sd}},
               {"soc_p05", "1", {p05}},          {"soc_p50", "1", {p50}},     {"soc_p95", "1", {p95}},
               {"profile_slope", "1", {profile_slope}}};
  return t;
}

double PredictionResidual(const StrainSocLaw& law, const std::vector<double>& soc, const std::vector<double>& eps_v,
                          double theta_ref, std::vector<double>* predicted) {
  if (soc.size() != eps_v.size()) throw InvalidArgument("inverse check: SOC map and strains differ in length");
  const double eps_ref = law.Strain(theta_ref);
  if (predicted) predicted->assign(soc.size(), NAN);
  double ss = 0;
  int n = 0;
  for (std::size_t i = 0; i < soc.size(); ++i) {
    if (!std::isfinite(soc[i])) continue;
    const double p = law.Strain(soc[i]) - eps_ref;
    if (predicted) (*predicted)[i] = p;
    if (!std::isfinite(eps_v[i])) continue;
    ss += (p - eps_v[i]) * (p - eps_v[i]);
    ++n;
  }
  return n ? std::sqrt(ss / n) : NAN;
}

}  // namespace op4d
