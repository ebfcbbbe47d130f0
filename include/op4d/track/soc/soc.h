// State of charge from volumetric strain (issue 8): the strain–SOC law (linear or tabulated), its
// inverse with plateaus reported as ambiguous, coulomb counting from the cycler log, calibration of
// the linear coefficient with Ceres (robust loss, standard error), per-particle inference with
// propagated uncertainty, heterogeneity statistics and the inverse check.
//
// Convention: the law gives eps(theta) of the active material; the strain op4d measures is relative
// to the reference frame, eps_v = eps(theta_k) - eps(theta_ref), theta_ref the SOC of the reference.
#pragma once

#include <string>
#include <vector>

#include "op4d/core/table.h"

namespace op4d {

class StrainSocLaw {
 public:
  // eps(theta) = k * theta (linear, small strain). k must be finite and non-zero.
  static StrainSocLaw Linear(double k);
  // Piecewise linear through (soc[i], eps[i]); soc strictly increasing, all finite. Flat segments
  // (staging plateaus) are allowed: the inverse reports them as ambiguous. Throws ConfigError naming
  // the entry at fault.
  static StrainSocLaw Tabulated(std::vector<double> soc, std::vector<double> eps);

  double Strain(double soc) const;  // eps at soc (a table extrapolates linearly from its end segments)

  struct Inverse {
    enum class Status { kOk, kAmbiguous, kOutOfRange };
    Status status = Status::kOk;
    double soc = 0;          // valid when kOk
    double soc_low = 0, soc_high = 0;  // kAmbiguous: the SOC interval (or span of solutions) giving eps
    std::string message;     // why not kOk
  };
  // The SOC giving eps. kAmbiguous when eps lies on a plateau or is reached on more than one branch
  // (a non-monotonic table), kOutOfRange outside a table's eps range. Never guesses.
  Inverse Soc(double eps) const;

  bool linear() const { return soc_.empty(); }
  double k() const { return k_; }

 private:
  double k_ = 0;
  std::vector<double> soc_, eps_;
};

// SOC at each log sample by coulomb counting: theta(t) = soc0 + sign * integral(I dt) / (3600 C),
// trapezoidal. `charge_positive`: the log's current is positive on charge (op4d's convention); set
// false for a log that counts discharge positive. Throws InvalidArgument naming the row for a NaN,
// times not increasing, or a capacity <= 0.
std::vector<double> CoulombCount(const std::vector<double>& time_s, const std::vector<double>& current_A,
                                 double capacity_Ah, double soc0, bool charge_positive = true);

struct LinearCalibration {
  double k = 0;          // eps_v = k * (theta - theta_ref)
  double k_std = 0;      // standard error (Ceres covariance, scaled by the residual variance)
  double rms_residual = 0;
  int frames = 0;
};

// Fits k from frames with known mean SOC (soc) and measured mean strain relative to the reference
// frame (eps_v), theta_ref the reference SOC: Ceres, Huber loss of scale `huber_scale` (strain units).
// Throws InvalidArgument for fewer than two usable frames (NaN rows are skipped, the message says how
// many remain) or a degenerate fit (all frames at the same SOC).
LinearCalibration CalibrateLinearLaw(const std::vector<double>& soc, const std::vector<double>& eps_v,
                                     double theta_ref, double huber_scale = 0.005);

struct SocEstimate {
  double soc = 0;
  double soc_std = 0;    // from the strain uncertainty through the law's local slope
  bool valid = false;
  std::string message;   // why not valid (ambiguous plateau, out of the table's range, NaN strain)
};

// SOC of each particle (or region) from its strain relative to the reference, with eps_std its
// standard uncertainty.
std::vector<SocEstimate> InferSoc(const StrainSocLaw& law, const std::vector<double>& eps_v,
                                  const std::vector<double>& eps_std, double theta_ref);

// Heterogeneity of one frame: mean, sd, percentiles, a histogram over [0, 1] and the profile through
// the thickness (mean SOC per bin of normalised depth, 0 = separator, 1 = current collector) with its
// least-squares slope. Only valid estimates count.
struct SocStatistics {
  int count = 0;
  double mean = 0, sd = 0, p05 = 0, p50 = 0, p95 = 0;
  std::vector<int> histogram;             // `bins` bins over [0, 1]
  std::vector<double> profile_depth, profile_soc;  // bin centres and mean SOC (NaN for an empty bin)
  double profile_slope = 0;               // d soc / d depth (per unit normalised depth)
  ResultTable Table() const;              // one row: count, mean, sd, p05, p50, p95, profile_slope
};
SocStatistics SummariseSoc(const std::vector<SocEstimate>& soc, const std::vector<double>& depth, int bins = 10,
                           int profile_bins = 5);

// The inverse check: strains the law predicts from an SOC map, and the RMS residual against the
// measured strains (NaN entries skipped).
double PredictionResidual(const StrainSocLaw& law, const std::vector<double>& soc, const std::vector<double>& eps_v,
                          double theta_ref, std::vector<double>* predicted = nullptr);

}  // namespace op4d
