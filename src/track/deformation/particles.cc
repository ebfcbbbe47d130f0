#include "op4d/track/deformation/particles.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"
#include "op4d/core/interpolate.h"

namespace op4d {

const char* ToString(ParticleModel m) { return m == ParticleModel::kSimilarity ? "similarity" : "affine"; }

ParticleModel ParticleModelFromString(const std::string& s) {
  if (s == "affine") return ParticleModel::kAffine;
  if (s == "similarity") return ParticleModel::kSimilarity;
  throw ConfigError("particle model", "'" + s + "' is not affine or similarity");
}

const char* ToString(ParticleInterpolation m) { return m == ParticleInterpolation::kCubic ? "cubic" : "linear"; }

ParticleInterpolation ParticleInterpolationFromString(const std::string& s) {
  if (s == "linear") return ParticleInterpolation::kLinear;
  if (s == "cubic") return ParticleInterpolation::kCubic;
  throw ConfigError("particle interpolation", "'" + s + "' is not linear or cubic");
}

bool ParticleFitOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (!(margin_um >= 0)) return fail("margin_um must be >= 0");
  if (translation_iterations < 0 || max_iterations < 1) return fail("iteration counts must be >= 0 and >= 1");
  if (!(tolerance > 0)) return fail("tolerance must be > 0");
  if (min_voxels < 1) return fail("min_voxels must be >= 1");
  if (!(smooth_um >= 0)) return fail("smooth_um must be >= 0");
  if (!(contact_um >= 0)) return fail("contact_um must be >= 0");
  return true;
}

namespace {

struct LabelStats {
  std::int64_t voxels = 0;
  Index3 lo{INT64_MAX, INT64_MAX, INT64_MAX}, hi{-1, -1, -1};
  Eigen::Vector3d sum = Eigen::Vector3d::Zero();
};

std::map<int, LabelStats> CollectLabels(const LabelVolume& labels) {
  std::map<int, LabelStats> out;
  const Geometry& g = labels.geometry();
  for (std::int64_t z = 0; z < labels.nz(); ++z)
    for (std::int64_t y = 0; y < labels.ny(); ++y)
      for (std::int64_t x = 0; x < labels.nx(); ++x) {
        const int l = labels(z, y, x);
        if (l <= 0) continue;
        LabelStats& s = out[l];
        ++s.voxels;
        const std::int64_t i[3] = {z, y, x};
        for (int a = 0; a < 3; ++a) {
          s.lo[a] = std::min(s.lo[a], i[a]);
          s.hi[a] = std::max(s.hi[a], i[a]);
          s.sum[a] += g.origin_um[a] + double(i[a]) * g.spacing_um[a];
        }
      }
  return out;
}

// The labels within a ball of every voxel, summarised: 0 none, l > 0 exactly one (l), -1 two or more
// (labels 0 ignored; the ball includes the voxel itself). The masks of the fits ask, for every voxel of
// a particle's box, "is this particle / another particle within r?". One pass over the volume (with an
// early stop at a second label) replaces a full ball scan at every voxel of every box (the boxes cover
// the volume 2.3 times on the 256^3 bench frame); the answers are the same.
LabelVolume NeighbourLabels(const LabelVolume& labels, double radius_um, ThreadBudget threads) {
  const std::vector<Index3> ball = BallOffsets(labels.geometry(), radius_um);
  const Index3 s = labels.shape();
  LabelVolume out(labels.geometry(), 0);
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s[0] * s[1], 8), [&](const auto& r) {
      for (std::int64_t row = r.begin(); row != r.end(); ++row) {
        const std::int64_t z = row / s[1], y = row % s[1];
        for (std::int64_t x = 0; x < s[2]; ++x) {
          std::int32_t found = 0;
          for (const Index3& d : ball) {
            const std::int64_t zz = z + d[0], yy = y + d[1], xx = x + d[2];
            if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
            const std::int32_t q = labels(zz, yy, xx);
            if (q <= 0 || q == found) continue;
            if (found != 0) {
              found = -1;
              break;
            }
            found = q;
          }
          out(z, y, x) = found;
        }
      }
    });
  });
  return out;
}

// Whether `label` lies within the ball of voxel (z, y, x), from its summary (a scan of the ball only
// where two or more labels are near).
bool Near(const LabelVolume& labels, const LabelVolume& summary, const std::vector<Index3>& ball, std::int64_t z,
          std::int64_t y, std::int64_t x, int label) {
  const std::int32_t v = summary(z, y, x);
  if (v >= 0) return v == label;
  const Index3 s = labels.shape();
  for (const Index3& d : ball) {
    const std::int64_t zz = z + d[0], yy = y + d[1], xx = x + d[2];
    if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
    if (labels(zz, yy, xx) == label) return true;
  }
  return false;
}

// Whether a label other than 0 and `label` lies within the ball, from the summary alone.
bool NearOther(const LabelVolume& summary, std::int64_t z, std::int64_t y, std::int64_t x, int label) {
  const std::int32_t v = summary(z, y, x);
  return v < 0 || (v > 0 && v != label);
}

struct Sample {
  Eigen::Vector3d dX;  // X - c (µm)
  float ref;
};

// The current frame as sampled: its grey values (trilinear) or its cubic B-spline coefficients.
struct Current {
  const Volume<float>& v;
  bool cubic;
  // Grey value at a physical point (NaN outside).
  float Value(const Eigen::Vector3d& p) const {
    return cubic ? SampleCubicBSplineAt(v, p, nullptr, NAN) : SampleLinearAt(v, p, NAN);
  }
  // Grey value and physical gradient at a physical point (NaN outside).
  float ValueAndGradient(const Eigen::Vector3d& p, Eigen::Vector3d* grad) const {
    return cubic ? SampleCubicBSplineAt(v, p, grad->data(), NAN) : SampleLinearGradientAt(v, p, grad->data());
  }
};

// Sum of squared residuals over the samples for the map (F, t) about c; count of samples inside.
double Ssd(const Current& current, const std::vector<Sample>& samples, const Eigen::Vector3d& c,
           const Eigen::Matrix3d& F, const Eigen::Vector3d& t, std::int64_t* inside) {
  double s = 0;
  *inside = 0;
  for (const Sample& q : samples) {
    const float v = current.Value(Eigen::Vector3d(c + t + F * q.dX));
    if (std::isnan(v)) continue;
    s += (double(v) - q.ref) * (double(v) - q.ref);
    ++*inside;
  }
  return s;
}

void FitOne(const Volume<float>& reference, const Current& current, const LabelVolume& labels, const LabelVolume& near_grow,
            const std::vector<Index3>& grow, const LabelVolume& near_contact, int label, const LabelStats& st,
            const AffineMap& initial, const ParticleFitOptions& o, ParticleKinematics* out) {
  const Geometry& g = reference.geometry();
  ParticleKinematics& k = *out;
  k.label = label;
  k.voxels = st.voxels;
  k.centroid_ref_um = st.sum / double(st.voxels);
  for (int a = 0; a < 3; ++a) k.touches_border = k.touches_border || st.lo[a] == 0 || st.hi[a] == g.shape[a] - 1;
  const Eigen::Vector3d& c = k.centroid_ref_um;
  k.F = initial.F;
  Eigen::Vector3d t = initial.Apply(c) - c;
  k.centroid_um = c + t;
  if (st.voxels < o.min_voxels) {
    k.status = "skipped: " + std::to_string(st.voxels) + " voxels < min_voxels " + std::to_string(o.min_voxels);
    return;
  }
  // Mask: the particle dilated by margin_um (near_grow, near_contact: the volume's neighbour-label
  // summaries for margin_um and contact_um).
  std::int64_t m[3];
  for (int a = 0; a < 3; ++a) m[a] = std::int64_t(std::floor(o.margin_um / g.spacing_um[a]));
  std::vector<Sample> samples;
  for (std::int64_t z = std::max<std::int64_t>(0, st.lo[0] - m[0]); z <= std::min(g.shape[0] - 1, st.hi[0] + m[0]); ++z)
    for (std::int64_t y = std::max<std::int64_t>(0, st.lo[1] - m[1]); y <= std::min(g.shape[1] - 1, st.hi[1] + m[1]); ++y)
      for (std::int64_t x = std::max<std::int64_t>(0, st.lo[2] - m[2]); x <= std::min(g.shape[2] - 1, st.hi[2] + m[2]); ++x) {
        const int l = labels(z, y, x);
        bool use = l == label || (l == 0 && Near(labels, near_grow, grow, z, y, x, label));
        // Near a contact the image shows the union of two particles, whose surfaces move apart
        // differently: such voxels belong to neither particle's own motion.
        if (use && o.contact_um > 0) use = !NearOther(near_contact, z, y, x, label);
        if (!use) continue;
        const Eigen::Vector3d X(g.origin_um[0] + double(z) * g.spacing_um[0], g.origin_um[1] + double(y) * g.spacing_um[1],
                                g.origin_um[2] + double(x) * g.spacing_um[2]);
        samples.push_back({X - c, reference(z, y, x)});
      }
  // A particle whose mask reaches beyond the current frame's faces at the start (it drifts out of the
  // view) is fitted on what remains but flagged: such fits read the swelling poorly (+0.02 to +0.04
  // on the synthetic campaigns; leaving those voxels out from the start was worse).
  {
    const Geometry& gc = current.v.geometry();
    for (const Sample& q : samples) {
      const Eigen::Vector3d p = c + t + k.F * q.dX;
      for (int a = 0; a < 3; ++a)
        k.leaves_view = k.leaves_view || p[a] < gc.origin_um[a] ||
                        p[a] > gc.origin_um[a] + double(gc.shape[a] - 1) * gc.spacing_um[a];
      if (k.leaves_view) break;
    }
  }
  k.mask_voxels = std::int64_t(samples.size());
  const double h = std::min({g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]});
  std::int64_t inside = 0;
  k.rms_before = std::sqrt(Ssd(current, samples, c, k.F, t, &inside) / double(std::max<std::int64_t>(inside, 1)));

  // Levenberg–Marquardt: translation only, then the 12 affine parameters (F row-major, then t). A
  // step is taken only if it lowers the mean squared residual; the damping grows until one does (a
  // near-sphere's rotation is barely observable, and plain Gauss–Newton wanders along it). No step
  // lowering the residual at any damping means the fit sits in its minimum: converged.
  auto mean_ssd = [&](const Eigen::Matrix3d& F, const Eigen::Vector3d& tt) {
    std::int64_t in = 0;
    const double s2 = Ssd(current, samples, c, F, tt, &in);
    return in < k.mask_voxels / 2 ? INFINITY : s2 / double(in);
  };
  // Stages: 0 translation (3 parameters), 1 similarity (log-scale, small rotation, translation: 7;
  // F <- exp(ds) Rot(dw) F), 2 affine (F row-major, then t: 12).
  auto iterate = [&](int stage, int max_it, int* done) {
    const bool affine = stage == 2, similarity = stage == 1;
    const int n = affine ? 12 : similarity ? 7 : 3;
    double cost = mean_ssd(k.F, t), lambda = 1e-4;
    for (int it = 0; it < max_it; ++it) {
      Eigen::Matrix<double, 12, 12> H = Eigen::Matrix<double, 12, 12>::Zero();
      Eigen::Matrix<double, 12, 1> b = Eigen::Matrix<double, 12, 1>::Zero();
      Eigen::Matrix<double, 12, 1> J;
      Eigen::Vector3d grad;
      std::int64_t used = 0;
      for (const Sample& q : samples) {
        const float v = current.ValueAndGradient(c + t + k.F * q.dX, &grad);
        if (std::isnan(v)) continue;
        const double r = double(v) - q.ref;
        if (affine) {
          for (int a = 0; a < 3; ++a)
            for (int bb = 0; bb < 3; ++bb) J[3 * a + bb] = grad[a] * q.dX[bb];
          J.segment<3>(9) = grad;
        } else if (similarity) {
          const Eigen::Vector3d FdX = k.F * q.dX;
          J[0] = grad.dot(FdX);             // d/ds of exp(s) F dX
          J.segment<3>(1) = FdX.cross(grad);  // d/dw_k of (I + [w]x) F dX, dotted with grad
          J.segment<3>(4) = grad;
        } else {
          J.head<3>() = grad;
        }
        H.topLeftCorner(n, n).noalias() += J.head(n) * J.head(n).transpose();
        b.head(n) += J.head(n) * r;
        ++used;
      }
      ++*done;
      if (used < std::int64_t(n) * 4) return false;
      const Eigen::MatrixXd Hn = H.topLeftCorner(n, n);
      for (int attempt = 0;; ++attempt) {
        if (attempt == 12) return true;  // no damping lowers the residual: the minimum
        Eigen::MatrixXd A = Hn;
        A.diagonal() += lambda * Hn.diagonal();
        const Eigen::VectorXd step = A.ldlt().solve(-b.head(n));
        if (!step.allFinite()) return false;
        Eigen::Matrix3d F = k.F;
        Eigen::Vector3d tt = t;
        double change = 0;
        if (affine) {
          for (int i = 0; i < 9; ++i) F(i / 3, i % 3) += step[i];
          tt += step.segment<3>(9);
          change = std::max(step.head<9>().cwiseAbs().maxCoeff(), step.segment<3>(9).cwiseAbs().maxCoeff() / h);
        } else if (similarity) {
          const Eigen::Vector3d w = step.segment<3>(1);
          const Eigen::Matrix3d R = w.norm() > 0 ? Eigen::AngleAxisd(w.norm(), w / w.norm()).toRotationMatrix()
                                                 : Eigen::Matrix3d::Identity();
          F = std::exp(step[0]) * R * F;
          tt += step.segment<3>(4);
          change = std::max(step.head<4>().cwiseAbs().maxCoeff(), step.segment<3>(4).cwiseAbs().maxCoeff() / h);
        } else {
          tt += step.head<3>();
          change = step.head<3>().cwiseAbs().maxCoeff() / h;
        }
        const double next = mean_ssd(F, tt);
        if (next <= cost) {
          k.F = F;
          t = tt;
          cost = next;
          lambda = std::max(lambda * 0.1, 1e-7);
          if (change < o.tolerance) return true;
          break;
        }
        lambda *= 10;
      }
    }
    return false;
  };
  int iterations = 0;
  iterate(0, o.translation_iterations, &iterations);
  const bool converged = o.model == ParticleModel::kSimilarity ? iterate(1, o.max_iterations, &iterations)
                                                                : iterate(2, o.max_iterations, &iterations);
  k.iterations = iterations;
  k.J = k.F.determinant();
  k.eps_v = k.J - 1;
  k.centroid_um = c + t;
  k.rms_after = std::sqrt(Ssd(current, samples, c, k.F, t, &inside) / double(std::max<std::int64_t>(inside, 1)));
  const double shift = (k.centroid_um - initial.Apply(c)).norm();
  std::ostringstream s;
  if (!(k.J > 0) || !k.F.allFinite()) {
    s << "failed: det F = " << k.J;
  } else if (inside < k.mask_voxels / 2) {
    s << "failed: only " << inside << " of " << k.mask_voxels << " mask voxels map inside the current frame";
  } else if (o.max_shift_um > 0 && shift > o.max_shift_um) {
    s << "failed: moved " << shift << " µm from the start (max_shift_um " << o.max_shift_um << ")";
  } else if (!converged) {
    s << "not converged after " << o.max_iterations << (o.model == ParticleModel::kSimilarity ? " similarity" : " affine")
      << " iterations";
  } else {
    k.converged = true;
    s << "converged";
  }
  k.status = s.str();
}

}  // namespace

std::vector<ParticleKinematics> FitParticleKinematics(const Volume<float>& reference, const Volume<float>& current,
                                                      const LabelVolume& labels, const AffineMap& initial,
                                                      const ParticleFitOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw InvalidArgument("particle fit options: " + why);
  if (labels.shape() != reference.shape())
    throw InvalidArgument("particle labels " + labels.geometry().ToString() + " are not on the reference grid " +
                          reference.geometry().ToString());
  for (int a = 0; a < 3; ++a)
    if (std::abs(reference.spacing_um()[a] - current.spacing_um()[a]) > 1e-6 * reference.spacing_um()[a])
      throw InvalidArgument("frames have different spacings: reference " + reference.geometry().ToString() +
                            ", current " + current.geometry().ToString());
  const std::map<int, LabelStats> stats = CollectLabels(labels);
  Volume<float> ref_smooth, cur_smooth;
  const Volume<float>* ref = &reference;
  const Volume<float>* cur = &current;
  if (options.smooth_um > 0) {
    const Vec3& h = reference.spacing_um();
    const Vec3 sigma{options.smooth_um / h[0], options.smooth_um / h[1], options.smooth_um / h[2]};
    ref_smooth = reference;
    cur_smooth = current;
    GaussianSmooth(ref_smooth.data(), ref_smooth.shape(), sigma, options.threads);
    GaussianSmooth(cur_smooth.data(), cur_smooth.shape(), sigma, options.threads);
    ref = &ref_smooth;
    cur = &cur_smooth;
  }
  Volume<float> cur_coefficients;
  const bool cubic = options.interpolation == ParticleInterpolation::kCubic;
  if (cubic) {
    cur_coefficients = *cur;
    CubicBSplinePrefilter(cur_coefficients.data(), cur_coefficients.shape(), options.threads);
    cur = &cur_coefficients;
  }
  const Current sampled{*cur, cubic};
  std::vector<std::pair<int, const LabelStats*>> list;
  for (const auto& [l, s] : stats) list.push_back({l, &s});
  const std::vector<Index3> grow = BallOffsets(labels.geometry(), options.margin_um);
  const LabelVolume near_grow = NeighbourLabels(labels, options.margin_um, options.threads);
  const LabelVolume near_contact =
      options.contact_um > 0 ? NeighbourLabels(labels, options.contact_um, options.threads) : LabelVolume{};
  std::vector<ParticleKinematics> out(list.size());
  RunInArena(options.threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, list.size(), 1), [&](const auto& r) {
      for (std::size_t i = r.begin(); i < r.end(); ++i)
        FitOne(*ref, sampled, labels, near_grow, grow, near_contact, list[i].first, *list[i].second, initial, options,
               &out[i]);
    });
  });
  return out;
}

ResultTable ParticleKinematicsTable(const std::vector<ParticleKinematics>& ps) {
  ResultTable t;
  t.name = "particle_kinematics";
  auto col = [&](const std::string& name, const std::string& unit, auto get) {
    ResultColumn c{name, unit, {}};
    for (const ParticleKinematics& p : ps) c.values.push_back(double(get(p)));
    t.columns.push_back(std::move(c));
  };
  col("label", "1", [](const auto& p) { return p.label; });
  col("voxels", "1", [](const auto& p) { return p.voxels; });
  const char* axes = "zyx";
  for (int a = 0; a < 3; ++a)
    col(std::string("centroid_ref_") + axes[a], "um", [a](const auto& p) { return p.centroid_ref_um[a]; });
  for (int a = 0; a < 3; ++a)
    col(std::string("centroid_") + axes[a], "um", [a](const auto& p) { return p.centroid_um[a]; });
  for (int i = 0; i < 9; ++i)
    col(std::string("F_") + axes[i / 3] + axes[i % 3], "1", [i](const auto& p) { return p.F(i / 3, i % 3); });
  col("J", "1", [](const auto& p) { return p.J; });
  col("eps_v", "1", [](const auto& p) { return p.eps_v; });
  col("rms_before", "grey", [](const auto& p) { return p.rms_before; });
  col("rms_after", "grey", [](const auto& p) { return p.rms_after; });
  col("iterations", "1", [](const auto& p) { return p.iterations; });
  col("converged", "1", [](const auto& p) { return p.converged ? 1 : 0; });
  col("touches_border", "1", [](const auto& p) { return p.touches_border ? 1 : 0; });
  col("leaves_view", "1", [](const auto& p) { return p.leaves_view ? 1 : 0; });
  return t;
}

void LabelCentroids(const LabelVolume& labels, std::vector<int>* ids, std::vector<Eigen::Vector3d>* centroids) {
  ids->clear();
  centroids->clear();
  for (const auto& [l, s] : CollectLabels(labels)) {
    ids->push_back(l);
    centroids->push_back(s.sum / double(s.voxels));
  }
}

}  // namespace op4d
