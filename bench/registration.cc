// Registration and deformation benchmarks (issue 7), one case per run so peak memory is the case's own:
//   op4d_bench_registration --case rigid       [--edge 256] [--threads T]   ITK rigid, known motion
//   op4d_bench_registration --case nonrigid    [--edge 256] [--threads T]   elastix affine + B-spline
//   op4d_bench_registration --case particles   [--particles 1000] [--threads T]  per-particle F
//        [--spacing-um 0.5] [--snr 10] [--neck-um 1.4] [--frame 4] [--smooth-um 0.25] [--contact-um 1]
//        [--crb] [--binder-regrow]   (the box keeps its size in µm; --crb adds the Cramér–Rao bound of eps_v)
//   op4d_bench_registration --case ffield      [--edge 512] [--threads T]   F field from a displacement field
//   op4d_bench_registration --case incremental [--frames 10] [--threads T]  incremental vs total (elastix)
// Prints seconds, accuracy against the known motion, and the peak resident memory of the step.
#include <sys/resource.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "bench_util.h"
#include "op4d/synth/campaign.h"
#include "op4d/track/deformation/field.h"
#include "op4d/track/deformation/particles.h"
#include "op4d/track/registration/affine.h"
#include "op4d/track/registration/elastix.h"
#include "registration_cases.h"

using namespace op4d;
using Clock = std::chrono::steady_clock;

namespace {
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double MiB(long kib) { return double(kib) / 1024.0; }
}  // namespace

int main(int argc, char** argv) {
  std::string which = "rigid";
  std::int64_t edge = 0;
  int threads = 0, particles = 1000, frames = 10, frame = 4;
  double spacing_um = 0.5, snr = 10, neck_um = -1;
  bool crb = false, carried = true;
  double smooth_um = -1, contact_um = -1;
  int supersample = 0;
  double drift[3] = {NAN, NAN, NAN};
  std::string model = "affine", interpolation = "linear";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--case") && i + 1 < argc) which = argv[++i];
    else if (!std::strcmp(argv[i], "--edge") && i + 1 < argc) edge = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--particles") && i + 1 < argc) particles = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--frames") && i + 1 < argc) frames = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--frame") && i + 1 < argc) frame = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--spacing-um") && i + 1 < argc) spacing_um = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--snr") && i + 1 < argc) snr = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--neck-um") && i + 1 < argc) neck_um = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--crb")) crb = true;
    else if (!std::strcmp(argv[i], "--binder-regrow")) carried = false;
    else if (!std::strcmp(argv[i], "--smooth-um") && i + 1 < argc) smooth_um = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--contact-um") && i + 1 < argc) contact_um = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--supersample") && i + 1 < argc) supersample = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else if (!std::strcmp(argv[i], "--interpolation") && i + 1 < argc) interpolation = argv[++i];
    else if (!std::strcmp(argv[i], "--drift") && i + 3 < argc) for (double& d : drift) d = std::atof(argv[++i]);
  }
  const ThreadBudget budget{threads};
  std::printf("case %s, %d threads\n", which.c_str(), budget.Resolve());

  if (which == "rigid" || which == "nonrigid") {
    if (edge == 0) edge = 256;
    // A clean (edge + 32)^3 synthetic world, moved and cropped to edge^3, noise SNR 10.
    AffineMap motion = KnownMotion();
    if (which == "rigid") motion.F = RotationZYX(Eigen::Vector3d::UnitX(), 3.0);
    const KnownMotionCase c = MakeSyntheticMotionCase(motion, 10.0, 7, edge + 32);
    const double voxels = double(c.reference.size());
    bench::ResetPeakRss();
    const long base = bench::StatusKiB("VmRSS:");
    const auto t0 = Clock::now();
    if (which == "rigid") {
      AffineRegistrationOptions o;
      o.model = AffineModel::kRigid;
      o.threads = budget;
      const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
      const double s = Since(t0);
      std::printf("rigid %lld^3: %.2f s, |F - F_true| %.2e, centre error %.3f um, %s\n", static_cast<long long>(edge), s,
                  (r.map.F - c.truth.F).norm(),
                  (r.map.Apply(GridCentre(c.reference.geometry())) - c.truth.Apply(GridCentre(c.reference.geometry()))).norm(),
                  r.status.c_str());
    } else {
      ElastixOptions o;
      o.threads = budget;
      const ElastixResult r = RegisterElastix(c.reference, c.current, o);
      const double s = Since(t0);
      const StrainField f = ComputeStrainField(r.displacement, {1, false, budget});
      const double Jm = SummariseStrain(f, 8.0).Find("J_mean")->values[0];
      rusage children{};
      getrusage(RUSAGE_CHILDREN, &children);
      std::printf("non-rigid %lld^3 (affine + B-spline, 8 um grid, 3 x 500 iterations): %.1f s (elastix + transformix "
                  "%.1f s), interior J mean %.5f (true %.5f); largest child (elastix/transformix) peak %.0f MiB\n",
                  static_cast<long long>(edge), s, r.seconds, Jm, c.truth.F.determinant(), double(children.ru_maxrss) / 1024.0);
    }
    std::printf("peak memory above the two frames: %.0f MiB (%.1f B/voxel; elastix runs in its own process)\n",
                MiB(bench::PeakRssKiB() - base), double(bench::PeakRssKiB() - base) * 1024.0 / voxels);
    return 0;
  }

  if (which == "particles") {
    // A campaign box holding about `particles` particles (424 in 64 x 96 x 96 at 0.5 µm and the default radius).
    SynthOptions so;
    so.seed = 4;
    so.snr = snr;
    so.dtype = DataType::kFloat32;
    so.spacing_um = {spacing_um, spacing_um, spacing_um};
    if (neck_um >= 0) so.binder_neck_um = neck_um;
    so.binder_carried = carried;
    if (supersample > 0) so.supersample = supersample;
    if (!std::isnan(drift[0])) so.drift_um_per_frame = {drift[0], drift[1], drift[2]};
    const double scale = std::cbrt(double(particles) / 424.0) * 0.5 / spacing_um;
    so.shape = {std::int64_t(64 * scale), std::int64_t(96 * scale), std::int64_t(96 * scale)};
    const SynthCampaign campaign(so);
    const SynthFrame f0 = campaign.Render(0, budget), fk = campaign.Render(frame, budget);
    LabelVolume labels(f0.particle_labels.geometry());
    for (std::int64_t i = 0; i < labels.size(); ++i) labels[i] = f0.particle_labels[i];
    AffineMap start;
    for (int a = 0; a < 3; ++a) start.t[a] = fk.drift_um[a];
    ParticleFitOptions po;
    po.threads = budget;
    if (smooth_um >= 0) po.smooth_um = smooth_um;
    if (contact_um >= 0) po.contact_um = contact_um;
    po.model = ParticleModelFromString(model);
    po.interpolation = ParticleInterpolationFromString(interpolation);
    bench::ResetPeakRss();
    const long base = bench::StatusKiB("VmRSS:");
    const auto t0 = Clock::now();
    const std::vector<ParticleKinematics> fits =
        FitParticleKinematics(std::get<Volume<float>>(f0.grey), std::get<Volume<float>>(fk.grey), labels, start, po);
    const double s = Since(t0);
    std::map<int, const SynthParticle*> truth;
    for (const SynthParticle& p : campaign.particles()) truth[p.id] = &p;
    double sum2 = 0, mean = 0;
    int n = 0, converged = 0, interior = 0;
    std::vector<double> abs_err;
    const double min_voxels = 400.0 * std::pow(0.5 / spacing_um, 3);  // the same particles at any spacing
    for (const ParticleKinematics& p : fits) {
      converged += p.converged;
      if (p.touches_border || double(p.voxels) < min_voxels) continue;
      ++interior;
      const double e = p.eps_v - campaign.ParticleStrain(*truth.at(p.label), campaign.FrameTime(frame));
      if (!p.converged) {
        std::printf("  not converged: particle %d (%lld voxels, mask %lld): %s; eps_v error %+.4f\n", p.label,
                    static_cast<long long>(p.voxels), static_cast<long long>(p.mask_voxels), p.status.c_str(), e);
        continue;
      }
      sum2 += e * e;
      mean += e;
      abs_err.push_back(std::abs(e));
      ++n;
    }
    if (n == 0) {
      std::printf("per-particle F: no interior particle converged (%d interior)\n", interior);
      return 1;
    }
    std::sort(abs_err.begin(), abs_err.end());
    if (crb && snr > 0) {
      // Cramér–Rao bound of eps_v for an isotropic swelling about the particle's centroid, both frames
      // noisy: var = 2 * 9 / sum over the particle's voxels and its own shell (1 µm, no other particle
      // within it) of (grad I . (X - c))^2 / sigma^2, from the noise-free reference frame.
      SynthOptions clean = so;
      clean.snr = 0;
      const Volume<float> I = std::get<Volume<float>>(SynthCampaign(clean).Render(0, budget).grey);
      const double sigma = (so.grey_active - so.grey_pore) / snr;
      const Geometry& g = I.geometry();
      const std::vector<Index3> ball = BallOffsets(g, 1.0);
      std::map<int, double> fisher;
      std::map<int, Eigen::Vector3d> centre;
      std::map<int, double> count;
      for (std::int64_t z = 0; z < g.shape[0]; ++z)
        for (std::int64_t y = 0; y < g.shape[1]; ++y)
          for (std::int64_t x = 0; x < g.shape[2]; ++x)
            if (labels(z, y, x) > 0) {
              if (!count.count(labels(z, y, x))) centre[labels(z, y, x)] = Eigen::Vector3d::Zero();
              centre[labels(z, y, x)] += Eigen::Vector3d(double(z), double(y), double(x));
              count[labels(z, y, x)] += 1;
            }
      for (auto& [l, c] : centre) c /= count[l];
      for (std::int64_t z = 1; z + 1 < g.shape[0]; ++z)
        for (std::int64_t y = 1; y + 1 < g.shape[1]; ++y)
          for (std::int64_t x = 1; x + 1 < g.shape[2]; ++x) {
            int owner = labels(z, y, x);
            if (owner == 0) {
              for (const Index3& d : ball) {
                const std::int64_t zz = z + d[0], yy = y + d[1], xx = x + d[2];
                if (zz < 0 || yy < 0 || xx < 0 || zz >= g.shape[0] || yy >= g.shape[1] || xx >= g.shape[2]) continue;
                const int l = labels(zz, yy, xx);
                if (l == 0 || l == owner) continue;
                if (owner != 0) { owner = -1; break; }
                owner = l;
              }
            }
            if (owner <= 0) continue;
            const Eigen::Vector3d grad((I(z + 1, y, x) - I(z - 1, y, x)) / (2 * g.spacing_um[0]),
                                       (I(z, y + 1, x) - I(z, y - 1, x)) / (2 * g.spacing_um[1]),
                                       (I(z, y, x + 1) - I(z, y, x - 1)) / (2 * g.spacing_um[2]));
            const Eigen::Vector3d r = (Eigen::Vector3d(double(z), double(y), double(x)) - centre[owner])
                                          .cwiseProduct(Eigen::Vector3d(g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]));
            const double gr = grad.dot(r) / sigma;
            fisher[owner] += gr * gr;
          }
      double bound2 = 0;
      int m = 0;
      for (const ParticleKinematics& p : fits) {
        if (p.touches_border || double(p.voxels) < min_voxels || !p.converged) continue;
        bound2 += 18.0 / fisher[p.label];
        ++m;
      }
      std::printf("Cramer-Rao bound of eps_v (isotropic swelling, both frames noisy), RMS over the same %d particles: %.4f\n",
                  m, std::sqrt(bound2 / m));
    }
    std::printf("per-particle F, %zu particles in %lldx%lldx%lld (%.3g um voxels, SNR %g, binder neck %g um%s): %.2f s, "
                "%d converged; eps_v error over %d of %d interior particles (frame %d vs 0): RMS %.4f, mean %+.4f, "
                "median abs %.4f, p90 %.4f; peak memory above the frames %.0f MiB\n",
                fits.size(), static_cast<long long>(so.shape[0]), static_cast<long long>(so.shape[1]),
                static_cast<long long>(so.shape[2]), spacing_um, snr, so.binder_neck_um,
                so.binder_carried ? ", carried" : ", regrown", s, converged, n, interior, frame,
                std::sqrt(sum2 / n), mean / n, abs_err[abs_err.size() / 2], abs_err[abs_err.size() * 9 / 10],
                MiB(bench::PeakRssKiB() - base));
    return 0;
  }

  if (which == "ffield") {
    if (edge == 0) edge = 512;
    Geometry g;
    g.shape = {edge, edge, edge};
    g.spacing_um = {0.5, 0.5, 0.5};
    const AffineMap m = AffineMap::AboutCentre(KnownMotion().F, GridCentre(g), Eigen::Vector3d(0.3, 0.2, 0.1));
    const DisplacementField u = DisplacementFromAffine(m, g, budget);
    const double field_mib = double(u.bytes()) / 1048576.0;
    for (int stride : {1, 4}) {
      bench::ResetPeakRss();
      const long base = bench::StatusKiB("VmRSS:");
      const auto t0 = Clock::now();
      StrainFieldOptions o;
      o.stride = stride;
      o.tensors = stride > 1;
      o.threads = budget;
      const StrainField s = ComputeStrainField(u, o);
      const double sec = Since(t0);
      const double extra = MiB(bench::PeakRssKiB() - base);
      std::printf("F field of a %lld^3 displacement field (%.0f MiB), stride %d%s: %.2f s, J(centre) error %.1e, peak "
                  "memory of the step %.0f MiB = %.2f x the displacement field\n",
                  static_cast<long long>(edge), field_mib, stride, o.tensors ? " with F, E, stretches" : " (J)", sec,
                  std::abs(s.J(s.grid.shape[0] / 2, s.grid.shape[1] / 2, s.grid.shape[2] / 2) - m.F.determinant()), extra,
                  extra / field_mib);
    }
    return 0;
  }

  if (which == "incremental") {
    std::vector<double> J_true;
    const std::vector<Volume<float>> series = ExpansionSeries(frames, 0.002, &J_true);
    ElastixOptions o;
    o.resolutions = 2;
    o.iterations = 300;
    o.spatial_samples = 16384;
    o.threads = budget;
    const auto t0 = Clock::now();
    const IncrementalComparison c = CompareIncrementalTotal(series, J_true, o, 6.0);
    std::printf("incremental vs total over %d frames (64^3, expansion 0.2 %%/frame, SNR 10): worst |J_inc - J_total| "
                "%.2e, worst |J - J_true| %.2e (interior means); %.0f s (elastix %.0f s)\n",
                frames, c.worst_inc_vs_total, c.worst_vs_truth, Since(t0), c.seconds);
    return 0;
  }
  std::fprintf(stderr, "unknown --case %s\n", which.c_str());
  return 2;
}
