#include "op4d/track/soc/soc.h"

#include <cmath>
#include <random>

#include "op4d/core/error.h"
#include "op4d/synth/campaign.h"
#include "op4d/track/deformation/particles.h"
#include "test_util.h"

using namespace op4d;

namespace {
// A staged (graphite-like) law: a plateau between SOC 0.5 and 0.6.
StrainSocLaw Staged() { return StrainSocLaw::Tabulated({0, 0.2, 0.5, 0.6, 1.0}, {0, 0.01, 0.03, 0.03, 0.06}); }
}  // namespace

TEST_CASE("a tabulated staged law round-trips SOC -> eps -> SOC to 1e-9 off its plateau", "[track][soc]") {
  const StrainSocLaw law = Staged();
  double worst = 0;
  int n = 0;
  for (int i = 0; i <= 1000; ++i) {
    const double soc = i / 1000.0;
    if (soc >= 0.5 && soc <= 0.6) continue;  // the plateau
    const StrainSocLaw::Inverse inv = law.Soc(law.Strain(soc));
    REQUIRE(inv.status == StrainSocLaw::Inverse::Status::kOk);
    worst = std::max(worst, std::abs(inv.soc - soc));
    ++n;
  }
  REQUIRE(n == 900);
  REQUIRE(worst <= 1e-9);
  const StrainSocLaw::Inverse flat = law.Soc(law.Strain(0.55));
  REQUIRE(flat.status == StrainSocLaw::Inverse::Status::kAmbiguous);
  REQUIRE(flat.soc_low == 0.5);
  REQUIRE(flat.soc_high == 0.6);
  REQUIRE(flat.message.find("plateau") != std::string::npos);
  REQUIRE(law.Soc(0.07).status == StrainSocLaw::Inverse::Status::kOutOfRange);
  // A table that turns back (silicon-like hysteresis branch) is ambiguous where two SOCs give one strain.
  const StrainSocLaw back = StrainSocLaw::Tabulated({0, 0.5, 1.0}, {0, 0.04, 0.02});
  const StrainSocLaw::Inverse two = back.Soc(0.03);
  REQUIRE(two.status == StrainSocLaw::Inverse::Status::kAmbiguous);
  REQUIRE(two.soc_low == Approx(0.375));
  REQUIRE(two.soc_high == Approx(0.75));
  REQUIRE_THROWS_WITH(StrainSocLaw::Tabulated({0, 0.5, 0.5}, {0, 1, 2}), Catch::Contains("soc_law/table/2"));
  REQUIRE_THROWS_WITH(StrainSocLaw::Linear(0.0), Catch::Contains("soc_law/k"));
}

TEST_CASE("coulomb counting of a constant-current step, both sign conventions", "[track][soc]") {
  // 1 mA for 30 min into a 2 mAh cell: +0.25 of SOC on charge.
  const std::vector<double> t{0, 600, 1200, 1800}, I{1e-3, 1e-3, 1e-3, 1e-3};
  const std::vector<double> soc = CoulombCount(t, I, 2e-3, 0.1);
  REQUIRE(soc.back() == Approx(0.35).epsilon(1e-12));
  REQUIRE(soc[1] == Approx(0.1 + 0.25 / 3).epsilon(1e-12));
  // A log that counts discharge positive: the same numbers are a discharge.
  REQUIRE(CoulombCount(t, I, 2e-3, 0.5, false).back() == Approx(0.25).epsilon(1e-12));
  REQUIRE_THROWS_WITH(CoulombCount({0, 0}, {1, 1}, 1, 0), Catch::Contains("row 1"));
  REQUIRE_THROWS_WITH(CoulombCount({0, 1}, {1, NAN}, 1, 0), Catch::Contains("row 1"));
}

TEST_CASE("calibration of k on a synthetic campaign and per-particle SOC with its through-thickness profile",
          "[track][soc]") {
  SynthOptions o;
  o.frames = 9;
  const SynthCampaign c(o);
  std::mt19937_64 rng(5);
  const double eps_noise = 0.001;  // per-particle strain uncertainty fed to the kernels
  std::normal_distribution<double> noise(0.0, eps_noise);
  // Frame means: the cycler's mean SOC against the mean measured particle strain.
  std::vector<double> soc, eps;
  for (int k = 0; k < c.frame_count(); ++k) {
    const double t = c.FrameTime(k);
    double sum = 0, sum_soc = 0;
    for (const SynthParticle& p : c.particles()) {
      sum += c.ParticleStrain(p, t) + noise(rng);
      sum_soc += c.ParticleSoc(p, t);
    }
    soc.push_back(sum_soc / double(c.particles().size()));
    eps.push_back(sum / double(c.particles().size()));
  }
  const LinearCalibration cal = CalibrateLinearLaw(soc, eps, soc[0]);
  INFO("k = " << cal.k << " +- " << cal.k_std << " (true " << o.strain_per_soc << ")");
  REQUIRE(std::abs(cal.k - o.strain_per_soc) <= 0.02 * o.strain_per_soc);
  REQUIRE(cal.k_std > 0);
  REQUIRE(cal.k_std < 0.01 * o.strain_per_soc);
  // Per-particle SOC at mid-campaign, where the separator side runs ahead.
  const int mid = 4;
  const double t = c.FrameTime(mid);
  std::vector<double> e, e_std, depth, truth;
  for (const SynthParticle& p : c.particles()) {
    e.push_back(c.ParticleStrain(p, t) + noise(rng));
    e_std.push_back(eps_noise);
    depth.push_back(p.zeta);
    truth.push_back(c.ParticleSoc(p, t));
  }
  const double theta_ref = c.MeanSoc(0);  // the reference frame's SOC, known from the cycler
  const StrainSocLaw law = StrainSocLaw::Linear(cal.k);
  std::vector<double> particle_ref;
  for (const SynthParticle& p : c.particles()) particle_ref.push_back(c.ParticleSoc(p, c.FrameTime(0)));
  std::vector<SocEstimate> est;
  for (std::size_t i = 0; i < e.size(); ++i) est.push_back(InferSoc(law, {e[i]}, {e_std[i]}, particle_ref[i])[0]);
  double ss = 0;
  for (std::size_t i = 0; i < est.size(); ++i) {
    REQUIRE(est[i].valid);
    ss += std::pow(est[i].soc - truth[i], 2);
  }
  const double rms = std::sqrt(ss / double(est.size()));
  REQUIRE(rms <= 0.03);
  REQUIRE(est[0].soc_std == Approx(eps_noise / cal.k));
  const SocStatistics stats = SummariseSoc(est, depth);
  // theta_i = theta_mean + G (0.5 - zeta): the profile's slope is -G (clamping aside).
  const double tau = t / o.duration_s, G = o.soc_gradient * 4 * tau * (1 - tau);
  INFO("profile slope " << stats.profile_slope << ", true " << -G << ", rms " << rms);
  REQUIRE(std::abs(stats.profile_slope + G) <= 0.1 * G);
  REQUIRE(stats.Table().Find("soc_mean")->values[0] == Approx(c.MeanSoc(t)).margin(0.02));
  // Inverse check: the true law on the true SOC map predicts the exact strains (every particle starts
  // at the mean SOC: the gradient is zero at t = 0) and the noisy ones to within their noise.
  std::vector<double> exact;
  for (const SynthParticle& p : c.particles()) exact.push_back(c.ParticleStrain(p, t));
  const StrainSocLaw true_law = StrainSocLaw::Linear(o.strain_per_soc);
  REQUIRE(PredictionResidual(true_law, truth, exact, theta_ref) <= 1e-12);
  REQUIRE(PredictionResidual(true_law, truth, e, theta_ref) == Approx(eps_noise).epsilon(0.2));
}

// Per-particle SOC from strains measured in the images (not fed): 5 µm particles at 0.25 µm voxels
// (20 voxels per radius), SNR 10, frame 2 (mid-campaign, the steepest through-thickness gradient)
// against frame 0, similarity fits on the generator's particles; particles cut by the field of view or
// drifting out of it, and under 50 µm³, are left out as the soc step does. The whole pipeline
// (segmentation, watershed, registration, calibration) on a larger box: op4d_bench_soc.
TEST_CASE("per-particle SOC from imaged swelling at 20 voxels per particle radius: RMS within 0.03, profile slope within 10 %",
          "[track][soc][particles]") {
  SynthOptions o;
  o.seed = 4;
  o.snr = 10;
  o.dtype = DataType::kFloat32;
  o.spacing_um = {0.25, 0.25, 0.25};
  o.radius_um = 5;
  o.shape = {160, 208, 208};
  const SynthCampaign c(o);
  const int k = 2;
  const SynthFrame f0 = c.Render(0), fk = c.Render(k);
  LabelVolume labels(f0.particle_labels.geometry());
  for (std::int64_t i = 0; i < labels.size(); ++i) labels[i] = f0.particle_labels[i];
  AffineMap start;
  for (int a = 0; a < 3; ++a) start.t[a] = fk.drift_um[a];
  ParticleFitOptions po;
  po.model = ParticleModel::kSimilarity;
  po.contact_um = 1;
  po.smooth_um = 0.25;
  const std::vector<ParticleKinematics> fits =
      FitParticleKinematics(std::get<Volume<float>>(f0.grey), std::get<Volume<float>>(fk.grey), labels, start, po);
  const double z_extent = double(o.shape[0] - 1) * o.spacing_um[0];
  std::vector<double> eps, depth, truth;
  for (const ParticleKinematics& p : fits) {
    if (!p.converged || p.touches_border || p.leaves_view || double(p.voxels) * std::pow(0.25, 3) < 50) continue;
    const SynthParticle& sp = c.particles()[std::size_t(p.label - 1)];
    eps.push_back(p.eps_v);
    depth.push_back(p.centroid_ref_um[0] / z_extent);
    truth.push_back(c.ParticleSoc(sp, c.FrameTime(k)));
  }
  const std::vector<SocEstimate> est =
      InferSoc(StrainSocLaw::Linear(o.strain_per_soc), eps, std::vector<double>(eps.size(), 0.002), c.MeanSoc(0));
  double ss = 0;
  for (std::size_t i = 0; i < est.size(); ++i) {
    REQUIRE(est[i].valid);
    ss += std::pow(est[i].soc - truth[i], 2);
  }
  const double rms = std::sqrt(ss / double(est.size()));
  const SocStatistics stats = SummariseSoc(est, depth);
  const double tau = c.FrameTime(k) / o.duration_s, G = o.soc_gradient * 4 * tau * (1 - tau);
  INFO(est.size() << " particles: SOC RMS " << rms << ", profile slope " << stats.profile_slope << " (true " << -G << ")");
  REQUIRE(est.size() >= 25);
  REQUIRE(rms <= 0.03);
  REQUIRE(std::abs(stats.profile_slope + G) <= 0.1 * G);
}

TEST_CASE("calibration without data or with every frame at one SOC is refused", "[track][soc]") {
  REQUIRE_THROWS_WITH(CalibrateLinearLaw({0.5, NAN}, {0.01, 0.02}, 0.0), Catch::Contains("at least two frames"));
  REQUIRE_THROWS_WITH(CalibrateLinearLaw({0.5, 0.5, 0.5}, {0.01, 0.02, 0.0}, 0.0), Catch::Contains("degenerate"));
  REQUIRE_THROWS_WITH(CalibrateLinearLaw({0.2, 0.2}, {0.01, 0.02}, 0.2), Catch::Contains("reference SOC"));
}
