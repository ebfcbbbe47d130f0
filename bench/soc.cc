// State of charge from strain through the whole pipeline (issue 8), scored against the generator's
// truth:
//   op4d_bench_soc [--dir DIR] [--spacing-um 0.25] [--radius-um 5] [--box-um 48 64 64]
//                  [--model similarity|affine] [--min-particle 50] [--threads T]
// Runs synth (SNR 10, 5 frames) -> segment (nlm+gmm) -> register --particles (rigid, contact 1 µm,
// smoothing 0.25 µm) -> soc (k calibrated), then prints k against the truth, the through-thickness
// profile slope against the generator's, and per frame the per-particle SOC and eps_v RMS error over
// the interior watershed particles that are truth particles (centroid within 0.5 µm, voxel count
// within 20 %), with the seconds of each step.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "op4d/pipeline/campaign.h"
#include "op4d/pipeline/register.h"
#include "op4d/pipeline/soc.h"
#include "op4d/store/frame_store.h"
#include "op4d/synth/campaign.h"
#include "op4d/track/deformation/particles.h"

using namespace op4d;
using Clock = std::chrono::steady_clock;

namespace {
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/op4d_bench_soc", model = "similarity";
  double spacing = 0.25, radius = 5, min_particle = 50;
  double box[3] = {48, 64, 64};
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--spacing-um") && i + 1 < argc) spacing = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--radius-um") && i + 1 < argc) radius = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--box-um") && i + 3 < argc) for (double& b : box) b = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else if (!std::strcmp(argv[i], "--min-particle") && i + 1 < argc) min_particle = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
  }
  SynthOptions o;
  o.seed = 4;
  o.snr = 10;
  o.spacing_um = {spacing, spacing, spacing};
  o.radius_um = radius;
  for (int a = 0; a < 3; ++a) o.shape[a] = std::int64_t(std::lround(box[a] / spacing));
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/campaign.h5";
  std::filesystem::remove(path);
  std::filesystem::remove(dir + "/campaign.truth.h5");
  const ThreadBudget budget{threads};
  std::printf("campaign %lldx%lldx%lld at %g um, particle radius %g um (%.0f voxels), SNR 10, model %s, %d threads\n",
              static_cast<long long>(o.shape[0]), static_cast<long long>(o.shape[1]), static_cast<long long>(o.shape[2]),
              spacing, radius, radius / spacing, model.c_str(), budget.Resolve());
  auto t0 = Clock::now();
  StoreOptions store_options;
  WriteSynthCampaign(o, path, store_options, true, ProgressStyle::kOff);
  std::printf("synth: %.1f s\n", Since(t0));
  QuickLookOptions seg;
  seg.method = SegmentMethod::kNlmGmm;
  seg.threads = budget;
  seg.progress = ProgressStyle::kOff;
  t0 = Clock::now();
  RunSegment(path, seg, false);
  std::printf("segment (nlm+gmm): %.1f s\n", Since(t0));
  RegisterRunOptions r;
  r.method = RegisterMethod::kRigid;
  r.particles = true;
  r.segment = seg;
  r.particle_fit.contact_um = 1;
  r.particle_fit.smooth_um = 0.25;
  r.particle_fit.model = ParticleModelFromString(model);
  r.threads = budget;
  r.progress = ProgressStyle::kOff;
  t0 = Clock::now();
  RunRegistration(path, r);
  std::printf("register --particles: %.1f s\n", Since(t0));
  SocRunOptions so;
  so.min_particle_um3 = min_particle;
  t0 = Clock::now();
  const SocRunResult res = RunSoc(path, so);
  std::printf("soc: %.1f s\n", Since(t0));
  std::printf("k %.5f +- %.5f (true %.3f: %+.2f %%)\n", res.calibration.k, res.calibration.k_std, o.strain_per_soc,
              100 * (res.calibration.k / o.strain_per_soc - 1));

  const SynthCampaign truth(o);
  const SynthFrame f0 = truth.Render(0, budget);
  LabelVolume labels(f0.particle_labels.geometry());
  for (std::int64_t i = 0; i < labels.size(); ++i) labels[i] = f0.particle_labels[i];
  std::vector<int> ids;
  std::vector<Eigen::Vector3d> centres;
  LabelCentroids(labels, &ids, &centres);
  std::map<int, double> truth_voxels;
  for (std::int64_t i = 0; i < labels.size(); ++i)
    if (labels[i]) truth_voxels[labels[i]] += 1;
  std::map<int, const SynthParticle*> particle;
  for (const SynthParticle& p : truth.particles()) particle[p.id] = &p;
  const FrameStore store = FrameStore::OpenRead(path);
  for (int k = 1; k < truth.frame_count(); ++k) {
    const ResultTable kin = store.ReadFrameTable(k, "particle_kinematics");
    const ResultTable ps = store.ReadFrameTable(k, "particle_soc");
    std::map<double, double> soc_of;
    for (std::size_t i = 0; i < ps.rows(); ++i)
      if (ps.Find("valid")->values[i] != 0) soc_of[ps.Find("label")->values[i]] = ps.Find("soc")->values[i];
    double soc2 = 0, eps2 = 0;
    int n = 0;
    for (std::size_t i = 0; i < kin.rows(); ++i) {
      const double label = kin.Find("label")->values[i];
      if (!soc_of.count(label)) continue;  // not used by the soc step
      const Eigen::Vector3d c(kin.Find("centroid_ref_z")->values[i], kin.Find("centroid_ref_y")->values[i],
                              kin.Find("centroid_ref_x")->values[i]);
      std::size_t best = 0;
      for (std::size_t j = 1; j < ids.size(); ++j)
        if ((centres[j] - c).norm() < (centres[best] - c).norm()) best = j;
      const int id = ids[best];
      const double voxels = kin.Find("voxels")->values[i];
      if ((centres[best] - c).norm() > 0.5 || voxels < 0.8 * truth_voxels[id] || voxels > 1.2 * truth_voxels[id]) continue;
      const double e_soc = soc_of[label] - truth.ParticleSoc(*particle[id], truth.FrameTime(k));
      const double e_eps = kin.Find("eps_v")->values[i] - truth.ParticleStrain(*particle[id], truth.FrameTime(k));
      soc2 += e_soc * e_soc;
      eps2 += e_eps * e_eps;
      ++n;
    }
    const double tau = truth.FrameTime(k) / o.duration_s;
    const double slope = -o.soc_gradient * 4 * tau * (1 - tau);
    std::printf("frame %d: %d particles, SOC RMS %.4f, eps_v RMS %.4f; profile slope %.4f (true %.4f)\n", k, n,
                std::sqrt(soc2 / std::max(n, 1)), std::sqrt(eps2 / std::max(n, 1)), res.frames[std::size_t(k)].profile_slope,
                slope);
  }
  return 0;
}
