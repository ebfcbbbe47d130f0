// Affine maps, warps and the affine registration driver (the ITK part is itk_affine.cc).
#include "op4d/track/registration/affine.h"


#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <Eigen/Dense>
#include <unsupported/Eigen/FFT>
#include <algorithm>
#include <cmath>
#include <complex>
#include <sstream>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/core/interpolate.h"
#include "itk_affine.h"
#include "op4d/track/deformation/field.h"
#include "track/grid_loop.h"

namespace op4d {

AffineMap AffineMap::Inverse() const {
  const double det = F.determinant();
  if (!(det > 0) || !std::isfinite(det))
    throw InvalidArgument("affine map is not invertible (det F = " + std::to_string(det) + ")");
  AffineMap inv;
  inv.F = F.inverse();
  inv.t = -inv.F * t;
  return inv;
}

AffineMap AffineMap::Then(const AffineMap& next) const {
  AffineMap out;
  out.F = next.F * F;
  out.t = next.F * t + next.t;
  return out;
}

AffineMap AffineMap::AboutCentre(const Eigen::Matrix3d& F, const Eigen::Vector3d& c,
                                 const Eigen::Vector3d& translation) {
  AffineMap m;
  m.F = F;
  m.t = c - F * c + translation;
  return m;
}

Eigen::Matrix3d RotationZYX(const Eigen::Vector3d& axis, double angle_deg) {
  return Eigen::AngleAxisd(angle_deg * M_PI / 180.0, axis.normalized()).toRotationMatrix();
}

Eigen::Vector3d GridCentre(const Geometry& g) {
  Eigen::Vector3d c;
  for (int a = 0; a < 3; ++a) c[a] = g.origin_um[a] + 0.5 * double(g.shape[a] - 1) * g.spacing_um[a];
  return c;
}

namespace {

// out(X) = in(map(X)) for X on out_grid.
Volume<float> Pull(const Volume<float>& in, const AffineMap& map, const Geometry& out_grid, float outside,
                   ThreadBudget threads) {
  Volume<float> out(out_grid);
  ForEachVoxel(out_grid, threads, [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    out(z, y, x) = SampleLinearAt(in, map.Apply(VoxelCentre(out_grid, z, y, x)), outside);
  });
  return out;
}

}  // namespace

namespace {

using Spectrum = std::vector<std::complex<float>>;

// In-place 3D DFT of a (n0, n1, n2) row-major complex array, line by line along each axis (Eigen's FFT,
// kissfft backend: any length). inverse: unnormalised backward transform's sign, scaled by 1/N.
void Fft3(Spectrum& a, const std::int64_t n[3], bool inverse, ThreadBudget threads) {
  struct Work {
    Eigen::FFT<float> fft;
    std::vector<std::complex<float>> in, out;
  };
  tbb::enumerable_thread_specific<Work> work;
  const std::int64_t stride[3] = {n[1] * n[2], n[2], 1};
  RunInArena(threads, [&] {
    for (int axis = 0; axis < 3; ++axis) {
      const int u = axis == 0 ? 1 : 0, v = axis == 2 ? 1 : 2;  // the two other axes
      const std::int64_t lines = n[u] * n[v], len = n[axis];
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, lines, 64), [&](const auto& r) {
        Work& w = work.local();
        w.in.resize(std::size_t(len));
        w.out.resize(std::size_t(len));
        for (std::int64_t line = r.begin(); line != r.end(); ++line) {
          const std::int64_t base = (line / n[v]) * stride[u] + (line % n[v]) * stride[v];
          for (std::int64_t i = 0; i < len; ++i) w.in[std::size_t(i)] = a[std::size_t(base + i * stride[axis])];
          if (inverse)
            w.fft.inv(w.out, w.in);
          else
            w.fft.fwd(w.out, w.in);
          for (std::int64_t i = 0; i < len; ++i) a[std::size_t(base + i * stride[axis])] = w.out[std::size_t(i)];
        }
      });
    }
  });
}

// Block average by `f` (the remainder of each axis dropped), mean removed, Hann window per axis.
Spectrum CoarseWindowed(const Volume<float>& v, std::int64_t f, const std::int64_t n[3]) {
  Spectrum out(std::size_t(n[0] * n[1] * n[2]));
  double sum = 0;
  for (std::int64_t z = 0; z < n[0]; ++z)
    for (std::int64_t y = 0; y < n[1]; ++y)
      for (std::int64_t x = 0; x < n[2]; ++x) {
        double s = 0;
        for (std::int64_t dz = 0; dz < f; ++dz)
          for (std::int64_t dy = 0; dy < f; ++dy)
            for (std::int64_t dx = 0; dx < f; ++dx) s += v(z * f + dz, y * f + dy, x * f + dx);
        s /= double(f * f * f);
        out[std::size_t((z * n[1] + y) * n[2] + x)] = float(s);
        sum += s;
      }
  const float mean = float(sum / double(out.size()));
  std::vector<float> w[3];
  for (int a = 0; a < 3; ++a) {
    w[a].resize(std::size_t(n[a]));
    for (std::int64_t i = 0; i < n[a]; ++i)
      w[a][std::size_t(i)] = n[a] > 1 ? float(0.5 - 0.5 * std::cos(2 * M_PI * (double(i) + 0.5) / double(n[a]))) : 1.0f;
  }
  for (std::int64_t z = 0; z < n[0]; ++z)
    for (std::int64_t y = 0; y < n[1]; ++y)
      for (std::int64_t x = 0; x < n[2]; ++x) {
        std::complex<float>& c = out[std::size_t((z * n[1] + y) * n[2] + x)];
        c = (c.real() - mean) * w[0][std::size_t(z)] * w[1][std::size_t(y)] * w[2][std::size_t(x)];
      }
  return out;
}

}  // namespace

Eigen::Vector3d PhaseCorrelationShift(const Volume<float>& reference, const Volume<float>& current, double* peak,
                                      std::int64_t max_edge, ThreadBudget threads) {
  if (reference.shape() != current.shape())
    throw InvalidArgument("phase correlation needs frames of one shape: reference " + reference.geometry().ToString() +
                          ", current " + current.geometry().ToString());
  for (int a = 0; a < 3; ++a)
    if (std::abs(reference.spacing_um()[a] - current.spacing_um()[a]) > 1e-6 * reference.spacing_um()[a])
      throw InvalidArgument("phase correlation needs frames of one spacing: reference " +
                            reference.geometry().ToString() + ", current " + current.geometry().ToString());
  if (max_edge < 8) throw InvalidArgument("phase correlation: max_edge must be >= 8, got " + std::to_string(max_edge));
  const Index3 s = reference.shape();
  const std::int64_t longest = std::max({s[0], s[1], s[2]});
  const std::int64_t f = std::max<std::int64_t>(1, (longest + max_edge - 1) / max_edge);
  std::int64_t n[3];
  for (int a = 0; a < 3; ++a) n[a] = std::max<std::int64_t>(1, s[a] / f);
  Spectrum A = CoarseWindowed(reference, f, n), B = CoarseWindowed(current, f, n);
  Fft3(A, n, false, threads);
  Fft3(B, n, false, threads);
  // Normalised cross-power spectrum B conj(A) / |B conj(A)|: its inverse peaks at +t (current(x) =
  // reference(x - t) gives B = A exp(-i k t)).
  for (std::size_t i = 0; i < A.size(); ++i) {
    const std::complex<float> c = B[i] * std::conj(A[i]);
    const float m = std::abs(c);
    A[i] = m > 0 ? c / m : std::complex<float>(0, 0);
  }
  Fft3(A, n, true, threads);
  std::size_t best = 0;
  for (std::size_t i = 1; i < A.size(); ++i)
    if (A[i].real() > A[best].real()) best = i;
  const std::int64_t at[3] = {std::int64_t(best) / (n[1] * n[2]), (std::int64_t(best) / n[2]) % n[1],
                              std::int64_t(best) % n[2]};
  auto value = [&](std::int64_t z, std::int64_t y, std::int64_t x) {
    z = (z % n[0] + n[0]) % n[0], y = (y % n[1] + n[1]) % n[1], x = (x % n[2] + n[2]) % n[2];
    return double(A[std::size_t((z * n[1] + y) * n[2] + x)].real());
  };
  const double top = value(at[0], at[1], at[2]);
  if (peak) *peak = top;
  Eigen::Vector3d t;
  for (int a = 0; a < 3; ++a) {
    double shift = double(at[a] > n[a] / 2 ? at[a] - n[a] : at[a]);
    if (n[a] >= 3) {  // parabola through the peak and its two neighbours along this axis
      std::int64_t lo[3] = {at[0], at[1], at[2]}, hi[3] = {at[0], at[1], at[2]};
      --lo[a], ++hi[a];
      const double vm = value(lo[0], lo[1], lo[2]), vp = value(hi[0], hi[1], hi[2]);
      const double den = vm - 2 * top + vp;
      if (den < 0) shift += std::clamp(0.5 * (vm - vp) / den, -0.5, 0.5);
    }
    t[a] = shift * double(f) * reference.spacing_um()[a] + (current.geometry().origin_um[a] - reference.geometry().origin_um[a]);
  }
  return t;
}

bool AffineRegistrationOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (levels < 1 || levels > 6) return fail("levels must be in 1..6, got " + std::to_string(levels));
  if (iterations < 1) return fail("iterations must be >= 1, got " + std::to_string(iterations));
  if (!(min_step > 0) || !(max_step > min_step))
    return fail("steps must satisfy 0 < min_step < max_step");
  if (mattes_bins < 8) return fail("mattes_bins must be >= 8, got " + std::to_string(mattes_bins));
  if (!(sampling_fraction > 0 && sampling_fraction <= 1))
    return fail("sampling_fraction must be in (0, 1], got " + std::to_string(sampling_fraction));
  if (max_samples < 0) return fail("max_samples must be >= 0, got " + std::to_string(max_samples));
  if (max_samples_mutual_information < 0)
    return fail("max_samples_mutual_information must be >= 0, got " + std::to_string(max_samples_mutual_information));
  return true;
}

Volume<float> WarpAffine(const Volume<float>& in, const AffineMap& map, const Geometry& out_grid,
                         float outside, ThreadBudget threads) {
  return Pull(in, map.Inverse(), out_grid, outside, threads);
}

Volume<float> ResampleOnReference(const Volume<float>& current, const AffineMap& map,
                                  const Geometry& reference_grid, float outside, ThreadBudget threads) {
  return Pull(current, map, reference_grid, outside, threads);
}

AffineRegistrationResult RegisterAffine(const Volume<float>& reference, const Volume<float>& current,
                                        const AffineRegistrationOptions& options,
                                        const Volume<std::uint8_t>* reference_mask) {
  std::string why;
  if (!options.IsValid(&why)) throw InvalidArgument("affine registration options: " + why);
  for (int a = 0; a < 3; ++a)
    if (std::abs(reference.spacing_um()[a] - current.spacing_um()[a]) >
        1e-6 * reference.spacing_um()[a])
      throw InvalidArgument("frames to register have different spacings: reference " +
                            reference.geometry().ToString() + ", current " +
                            current.geometry().ToString());
  if (reference_mask) {
    if (reference_mask->shape() != reference.shape())
      throw InvalidArgument("registration mask shape differs from the reference frame");
    if (std::none_of(reference_mask->data(), reference_mask->data() + reference_mask->size(),
                     [](std::uint8_t m) { return m != 0; }))
      throw InvalidArgument("registration mask is empty");
  }

  AffineRegistrationResult result;
  result.rms_before = ResidualRms(reference, current, AffineMap{}, reference_mask, nullptr, options.threads);
  // The start: the phase-correlation translation when it lowers the residual, else the identity.
  Eigen::Vector3d start = Eigen::Vector3d::Zero();
  if (options.phase_correlation_start && reference.shape() == current.shape()) {
    double peak = NAN;
    const Eigen::Vector3d t = PhaseCorrelationShift(reference, current, &peak, 128, options.threads);
    AffineMap shifted;
    shifted.t = t;
    std::int64_t overlap = 0;
    const double rms = ResidualRms(reference, current, shifted, reference_mask, &overlap, options.threads);
    const bool taken = overlap > 0 && rms < result.rms_before;
    if (taken) start = t;
    std::ostringstream d;
    d << (taken ? "start" : "not taken (the residual did not fall)") << ": t = (" << t[0] << ", " << t[1] << ", " << t[2]
      << ") um, peak " << peak << ", rms " << rms << " (identity " << result.rms_before << ")";
    result.start = d.str();
  }
  const ItkAffineRun run = RunItkAffine(reference, current, reference_mask, options,
                                       GridCentre(reference.geometry()).data(), start.data());
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) result.map.F(i, j) = run.F[i][j];
    result.map.t[i] = run.t[i];
  }
  result.stages = run.stages;
  result.start_t_um = start;
  result.converged = run.converged;

  result.rms_after = ResidualRms(reference, current, result.map, reference_mask, &result.overlap_voxels, options.threads);
  std::ostringstream s;
  const AffineStageReport& last = result.stages.back();
  if (result.overlap_voxels == 0) {
    result.converged = false;
    s << "no overlap between the frames after registration";
  } else if (result.rms_after > result.rms_before) {
    result.converged = false;
    s << "failed: the grey residual rose from " << result.rms_before << " to " << result.rms_after
      << " (a local minimum; try more levels, mutual information or a mask)";
  } else if (result.converged) {
    s << "converged (" << last.stage << ": " << last.stop_condition << ")";
  } else {
    s << "not converged: " << last.stage << " stage stopped on '" << last.stop_condition << "' after "
      << options.iterations << " iterations at full resolution";
  }
  result.status = s.str();
  return result;
}

}  // namespace op4d
