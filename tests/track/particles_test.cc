#include "op4d/track/deformation/particles.h"

#include <Eigen/Dense>
#include <algorithm>
#include <map>
#include <random>

#include "op4d/track/registration/affine.h"

#include "op4d/frame/segment/threshold.h"
#include "op4d/frame/segment/watershed.h"
#include "op4d/synth/campaign.h"
#include "test_util.h"
#include "test_volumes.h"

using namespace op4d;

namespace {

LabelVolume ToLabels(const Volume<std::uint16_t>& v) {
  LabelVolume out(v.geometry());
  for (std::int64_t i = 0; i < v.size(); ++i) out[i] = v[i];
  return out;
}

// A noise-free synthetic frame warped exactly by F about the grid centre (plus a translation), noise
// of SNR 10 added to the warped copy; the start is the translation of the centre only.
struct KnownWarp {
  SynthFrame f;
  Volume<float> cur;
  AffineMap truth, start;
  const Volume<float>& ref() const { return std::get<Volume<float>>(f.grey); }
};

KnownWarp MakeKnownWarp(const Eigen::Matrix3d& F) {
  SynthOptions o;
  o.seed = 9;
  o.snr = 0;
  o.dtype = DataType::kFloat32;
  KnownWarp w;
  w.f = SynthCampaign(o).Render(0);
  const Geometry& g = w.ref().geometry();
  w.truth = AffineMap::AboutCentre(F, GridCentre(g), Eigen::Vector3d(0.4, -0.3, 0.7));
  w.cur = WarpAffine(w.ref(), w.truth, g, 0.0f);
  std::mt19937_64 rng(3);
  std::normal_distribution<float> noise(0.0f, float((o.grey_active - o.grey_pore) / 10.0));
  for (std::int64_t i = 0; i < w.cur.size(); ++i) w.cur[i] += noise(rng);
  w.start.t = w.truth.t + w.truth.F * GridCentre(g) - GridCentre(g);
  return w;
}

}  // namespace

TEST_CASE("a known affine motion is recovered particle by particle", "[track][deformation][particles]") {
  Eigen::Matrix3d F = 1.01 * Eigen::Matrix3d::Identity();
  F(2, 1) = 0.02;
  const KnownWarp w = MakeKnownWarp(F);
  const AffineMap& truth = w.truth;
  // The current frame is a trilinear resampling of the reference: the trilinear fit samples it as it
  // was made (the cubic fit is scored on rendered frames, below).
  ParticleFitOptions po;
  po.interpolation = ParticleInterpolation::kLinear;
  const std::vector<ParticleKinematics> fits =
      FitParticleKinematics(w.ref(), w.cur, ToLabels(w.f.particle_labels), w.start, po);
  std::vector<double> err, shift;
  for (const ParticleKinematics& p : fits) {
    if (p.touches_border || p.voxels < 400 || !p.converged) continue;
    // J, not F: the rotation of a near-spherical particle is barely observable, its volume change is.
    err.push_back(std::abs(p.J - F.determinant()));
    shift.push_back((p.centroid_um - truth.Apply(p.centroid_ref_um)).norm());
  }
  std::sort(err.begin(), err.end());
  std::sort(shift.begin(), shift.end());
  INFO(err.size() << " particles, median |dJ| " << err[err.size() / 2] << ", p90 " << err[err.size() * 9 / 10]
                  << "; centroid error median " << shift[shift.size() / 2] << " um, max " << shift.back());
  REQUIRE(shift[shift.size() / 2] < 0.05);  // 0.1 voxel
  REQUIRE(shift.back() < 0.25);
  REQUIRE(err.size() >= 100);
  REQUIRE(err[err.size() / 2] < 0.01);
  REQUIRE(err[err.size() * 9 / 10] < 0.04);
}

// The similarity model on an exact similarity warp (isotropic stretch 1.01, rotation 3°
// about x, translation): J and the centroids recovered, and every fitted F is a scaled rotation.
TEST_CASE("a known similarity motion is recovered particle by particle with the similarity model",
          "[track][deformation][particles]") {
  const Eigen::Matrix3d F = 1.01 * RotationZYX(Eigen::Vector3d::UnitX(), 3.0);
  const KnownWarp w = MakeKnownWarp(F);
  const AffineMap& truth = w.truth;
  ParticleFitOptions po;
  po.model = ParticleModel::kSimilarity;
  po.interpolation = ParticleInterpolation::kLinear;  // a trilinear resampling, as above
  const std::vector<ParticleKinematics> fits =
      FitParticleKinematics(w.ref(), w.cur, ToLabels(w.f.particle_labels), w.start, po);
  std::vector<double> err, shift;
  double worst_shape = 0;
  for (const ParticleKinematics& p : fits) {
    if (p.touches_border || p.voxels < 400 || !p.converged) continue;
    err.push_back(std::abs(p.J - F.determinant()));
    shift.push_back((p.centroid_um - truth.Apply(p.centroid_ref_um)).norm());
    const double s2 = std::pow(p.J, 2.0 / 3.0);  // F^T F = s^2 I for a similarity
    worst_shape = std::max(worst_shape, (p.F.transpose() * p.F - s2 * Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff());
  }
  std::sort(err.begin(), err.end());
  std::sort(shift.begin(), shift.end());
  INFO(err.size() << " particles, median |dJ| " << err[err.size() / 2] << ", p90 " << err[err.size() * 9 / 10]
                  << "; centroid error median " << shift[shift.size() / 2] << " um; worst |F^T F - s^2 I| " << worst_shape);
  REQUIRE(err.size() >= 100);
  REQUIRE(worst_shape < 1e-9);
  REQUIRE(shift[shift.size() / 2] < 0.05);
  REQUIRE(err[err.size() / 2] < 0.006);
  REQUIRE(err[err.size() * 9 / 10] < 0.02);
}

namespace {

struct SwellingErrors {
  int interior = 0, converged = 0;
  double rms = 0, mean = 0, worst = 0;
};

// Frame `frame` against frame 0 of the campaign, started from ITK's global translation (the drift),
// scored on the interior particles (not cut by the field of view, at least min_voxels).
SwellingErrors MeasureSwelling(const SynthOptions& o, int frame, std::int64_t min_voxels,
                               ParticleFitOptions po = {}) {
  const SynthCampaign campaign(o);
  const SynthFrame f0 = campaign.Render(0), fk = campaign.Render(frame);
  const Volume<float>& ref = std::get<Volume<float>>(f0.grey);
  const Volume<float>& cur = std::get<Volume<float>>(fk.grey);
  AffineRegistrationOptions ro;
  ro.model = AffineModel::kTranslation;
  const AffineRegistrationResult global = RegisterAffine(ref, cur, ro);
  const Eigen::Vector3d drift(fk.drift_um[0], fk.drift_um[1], fk.drift_um[2]);
  REQUIRE((global.map.t - drift).norm() < 0.25);  // swelling biases the global fit a little
  const std::vector<ParticleKinematics> fits = FitParticleKinematics(ref, cur, ToLabels(f0.particle_labels), global.map, po);
  std::map<int, const SynthParticle*> truth;
  for (const SynthParticle& p : campaign.particles()) truth[p.id] = &p;
  SwellingErrors out;
  double sum2 = 0;
  for (const ParticleKinematics& p : fits) {
    if (p.touches_border || p.voxels < min_voxels) continue;  // cut by the field of view
    ++out.interior;
    if (!p.converged) continue;
    ++out.converged;
    const double e = p.eps_v - campaign.ParticleStrain(*truth.at(p.label), campaign.FrameTime(frame));
    sum2 += e * e;
    out.mean += e;
    out.worst = std::max(out.worst, std::abs(e));
  }
  out.rms = std::sqrt(sum2 / out.converged);
  out.mean /= out.converged;
  const ResultTable t = ParticleKinematicsTable(fits);
  REQUIRE(t.rows() == fits.size());
  REQUIRE(t.Find("eps_v")->unit == "1");
  REQUIRE(t.Find("centroid_x")->unit == "um");
  return out;
}

SynthOptions SwellingOptions(double spacing_um, double neck_um, Index3 shape, bool carried = true) {
  SynthOptions o;
  o.seed = 4;
  o.snr = 10;
  o.dtype = DataType::kFloat32;
  o.spacing_um = {spacing_um, spacing_um, spacing_um};
  o.binder_neck_um = neck_um;
  o.binder_carried = carried;
  o.shape = shape;
  return o;
}

}  // namespace

// The target (eps_v RMS <= 5e-3 at SNR 10) where it is reachable: 3 µm particles at 0.25 µm
// voxels (12 voxels per radius), with the binder necks (1.4 µm) carried by the particles. The
// Cramér–Rao bound of this case is 0.0022 (op4d_bench_registration --case particles --crb); at
// 0.5 µm voxels it is 0.0088, above the target.
TEST_CASE("per-particle swelling at 12 voxels per particle radius with binder necks: eps_v RMS error at SNR 10 within 5e-3",
          "[track][deformation][particles]") {
  ParticleFitOptions po;
  po.contact_um = 1.0;
  po.smooth_um = 0.25;
  const Index3 box{96, 128, 128};
  const SwellingErrors e = MeasureSwelling(SwellingOptions(0.25, 1.4, box), 4, 3200, po);
  INFO(e.converged << " of " << e.interior << " particles, eps_v RMS error " << e.rms << ", mean " << e.mean
                   << ", worst " << e.worst);
  REQUIRE(e.interior >= 20);
  REQUIRE(e.converged >= 0.9 * e.interior);
  REQUIRE(e.rms <= 5e-3);
  REQUIRE(std::abs(e.mean) <= 2e-3);
  // The similarity model (the particles swell isotropically) has 5 parameters fewer to spend on noise.
  ParticleFitOptions sim = po;
  sim.model = ParticleModel::kSimilarity;
  const SwellingErrors similar = MeasureSwelling(SwellingOptions(0.25, 1.4, box), 4, 3200, sim);
  INFO("similarity model: RMS " << similar.rms << ", mean " << similar.mean << ", " << similar.converged << " converged");
  REQUIRE(similar.converged >= 0.9 * similar.interior);
  REQUIRE(similar.rms < e.rms);
  // Without the contact exclusion the neighbours' surfaces, swelling about their own centres, pull the
  // fit towards contraction.
  ParticleFitOptions keep = po;
  keep.contact_um = 0;
  const SwellingErrors with_contacts = MeasureSwelling(SwellingOptions(0.25, 1.4, box), 4, 3200, keep);
  INFO("with the contact voxels: RMS " << with_contacts.rms << ", mean " << with_contacts.mean);
  REQUIRE(with_contacts.mean < e.mean - 2.5e-3);
  // Binder that is not material but re-grown by the neck rule in every frame widens as the gaps
  // close; the fit reads the growing bright neck beside a particle as more swelling.
  const SwellingErrors regrown = MeasureSwelling(SwellingOptions(0.25, 1.4, box, false), 4, 3200, po);
  INFO("necks re-grown each frame: RMS " << regrown.rms << ", mean " << regrown.mean);
  REQUIRE(regrown.mean > 8e-3);
}

// Trilinear interpolation blurs the current frame's edges by f (1 - f) voxel^2 at the sub-voxel offset
// f; at a whole-voxel drift that pulls the scale fit (noise-free, 4 voxels of drift at frame 4:
// measured mean eps_v error +0.0027 trilinear, +0.0006 with the cubic B-spline; bench/RESULTS.md).
TEST_CASE("per-particle swelling at a whole-voxel drift: the cubic B-spline removes the trilinear scale bias",
          "[track][deformation][particles]") {
  SynthOptions o = SwellingOptions(0.25, 1.4, {64, 96, 96});
  o.snr = 0;  // no noise: the bias is the interpolation's alone
  o.drift_um_per_frame = {0.25, 0.25, 0.25};
  ParticleFitOptions po;
  po.model = ParticleModel::kSimilarity;
  po.contact_um = 1.0;
  po.smooth_um = 0.25;
  po.interpolation = ParticleInterpolation::kLinear;
  const SwellingErrors linear = MeasureSwelling(o, 4, 3200, po);
  po.interpolation = ParticleInterpolation::kCubic;
  const SwellingErrors cubic = MeasureSwelling(o, 4, 3200, po);
  INFO(cubic.converged << " particles; mean eps_v error trilinear " << linear.mean << " (RMS " << linear.rms
                       << "), cubic " << cubic.mean << " (RMS " << cubic.rms << ")");
  REQUIRE(cubic.converged >= 8);
  REQUIRE(linear.mean > 1.5e-3);
  REQUIRE(std::abs(cubic.mean) < 1e-3);
  REQUIRE(cubic.rms < 0.6 * linear.rms);
}

// Measured state at 0.5 µm voxels (6 voxels per radius, where the Cramér–Rao bound, 0.0088, is
// above the target), default options: bench/RESULTS.md has the figures.
TEST_CASE("per-particle swelling of a synthetic campaign with binder necks at 6 voxels per radius: eps_v RMS error at SNR 10",
          "[track][deformation][particles]") {
  const SwellingErrors e = MeasureSwelling(SwellingOptions(0.5, 1.4, {64, 96, 96}), 4, 400);
  INFO(e.converged << " of " << e.interior << " particles, eps_v RMS error " << e.rms << ", mean " << e.mean
                   << ", worst " << e.worst);
  REQUIRE(e.interior >= 20);
  REQUIRE(e.converged >= 0.9 * e.interior);
  REQUIRE(e.rms <= 0.02);
}

TEST_CASE("particles keep their identity across the campaign (centroid ICP + mutual nearest neighbours)",
          "[track][deformation][particles]") {
  SynthOptions o;
  o.seed = 4;
  o.snr = 0;
  const SynthCampaign campaign(o);
  std::vector<int> ref_ids;
  std::vector<Eigen::Vector3d> ref_c;
  LabelCentroids(ToLabels(campaign.Render(0).particle_labels), &ref_ids, &ref_c);
  int correct = 0, common = 0;
  for (int k = 1; k < campaign.frame_count(); ++k) {
    const SynthFrame f = campaign.Render(k);
    std::vector<int> ids;
    std::vector<Eigen::Vector3d> cs;
    LabelCentroids(ToLabels(f.particle_labels), &ids, &cs);
    // Start from the identity: ICP finds the drift (up to ~3 µm by the last frame) and the swelling.
    ParticleMatchOptions mo;
    mo.max_distance_um = 2.5;
    const ParticleMatching m = MatchParticles(ref_ids, ref_c, ids, cs, AffineMap{}, mo);
    for (const ParticleMatch& p : m.matches) {
      if (std::find(ids.begin(), ids.end(), p.reference_label) == ids.end()) continue;  // left the view
      ++common;
      if (p.current_label == p.reference_label) ++correct;
      if (p.current_label != 0) REQUIRE(p.quality > 0);
    }
  }
  INFO(correct << " of " << common);
  REQUIRE(double(correct) >= 0.98 * double(common));
}

namespace {

// Watershed particles of a frame's active phase, each with the truth particle it is (intersection
// over union >= 0.5, the particle-separation criterion of the segmentation tests; 0 for fragments,
// merges and specks).
struct SeparatedFrame {
  std::vector<int> ids;
  std::vector<Eigen::Vector3d> centroids;
  std::map<int, int> truth_of;
};

SeparatedFrame Separate(const SynthFrame& f, bool segment) {
  Volume<std::uint8_t> mask(f.phases.geometry(), 0);
  if (segment) {
    ThresholdOptions to;
    to.classes = 3;
    const PhaseVolume classes = ApplyThresholds(f.grey, MultiOtsu(f.grey, to).thresholds, {0, 1, 2});
    for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = classes[i] == 2;
  } else {
    for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = f.phases[i] == 1;
  }
  const LabelVolume labels = SeparateParticles(mask, WatershedOptions{}).labels;
  SeparatedFrame out;
  LabelCentroids(labels, &out.ids, &out.centroids);
  out.truth_of = test::TruthParticleOf(labels, f.particle_labels);
  return out;
}

}  // namespace

// Identity on the labels the pipeline has (watershed of the active phase), not on the generator's:
// a reference particle counts when its watershed label is a truth particle (IoU >= 0.5) and that
// particle has a watershed label in frame k (IoU >= 0.5). Phases from the generator, and segmented
// at SNR 10 by multi-Otsu. Fragments and specks are not particles and are not counted.
TEST_CASE("watershed particles keep their identity across the campaign", "[track][deformation][particles]") {
  const bool segment = GENERATE(false, true);
  SynthOptions o;
  o.seed = 4;
  o.snr = segment ? 10 : 0;
  const SynthCampaign campaign(o);
  const SeparatedFrame ref = Separate(campaign.Render(0), segment);
  int correct = 0, common = 0;
  for (int k = 1; k < campaign.frame_count(); ++k) {
    const SeparatedFrame cur = Separate(campaign.Render(k), segment);
    std::map<int, int> label_of_truth;  // truth particle -> its watershed label in frame k
    for (const auto& [l, t] : cur.truth_of)
      if (t != 0) label_of_truth[t] = label_of_truth.count(t) ? -1 : l;  // -1: split in frame k
    ParticleMatchOptions mo;
    mo.max_distance_um = 2.5;
    const ParticleMatching m = MatchParticles(ref.ids, ref.centroids, cur.ids, cur.centroids, AffineMap{}, mo);
    for (const ParticleMatch& p : m.matches) {
      const int t = ref.truth_of.at(p.reference_label);
      if (t == 0 || !label_of_truth.count(t) || label_of_truth[t] < 0) continue;
      ++common;
      if (p.current_label == label_of_truth[t]) ++correct;
    }
  }
  INFO((segment ? "segmented: " : "generator's phases: ") << correct << " of " << common);
  REQUIRE(common >= 400);
  // Measured: 1691 of 1691 with the generator's phases, 1401 of 1418 (0.988) segmented.
  REQUIRE(double(correct) >= 0.98 * double(common));
}

TEST_CASE("particle matching reports lost and new particles", "[track][deformation][particles]") {
  const std::vector<int> ref{1, 2, 3, 4};
  const std::vector<Eigen::Vector3d> rc{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}};
  // Particle 4 is gone, 7 is new (far away), the rest moved by (1, 0, 0).
  const std::vector<int> cur{1, 2, 3, 7};
  const std::vector<Eigen::Vector3d> cc{{1, 0, 0}, {11, 0, 0}, {1, 10, 0}, {40, 40, 40}};
  AffineMap start;
  start.t = Eigen::Vector3d(1, 0, 0);
  const ParticleMatching m = MatchParticles(ref, rc, cur, cc, start);
  REQUIRE(m.matches[0].current_label == 1);
  REQUIRE(m.matches[2].current_label == 3);
  REQUIRE(m.matches[3].current_label == 0);
  REQUIRE(m.new_labels == std::vector<int>{7});
  REQUIRE(m.matches[1].distance_um == Approx(0).margin(1e-6));
}

TEST_CASE("particle fits refuse labels off the reference grid and report tiny particles",
          "[track][deformation][particles]") {
  Geometry g;
  g.shape = {12, 12, 12};
  Volume<float> a(g, 1.0f);
  LabelVolume labels(g, 0);
  labels(5, 5, 5) = 3;
  const auto fits = FitParticleKinematics(a, a, labels, AffineMap{});
  REQUIRE(fits.size() == 1);
  REQUIRE_FALSE(fits[0].converged);
  REQUIRE(fits[0].status.find("skipped") != std::string::npos);
  Geometry h = g;
  h.shape = {12, 12, 13};
  REQUIRE_THROWS_WITH(FitParticleKinematics(a, a, LabelVolume(h, 0), AffineMap{}),
                      Catch::Contains("not on the reference grid"));
}
