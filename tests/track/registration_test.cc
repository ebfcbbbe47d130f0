#include <Eigen/Dense>

#include "op4d/track/deformation/kinematics.h"
#include "op4d/track/registration/affine.h"
#include "registration_cases.h"
#include "test_util.h"

using namespace op4d;

TEST_CASE("affine maps compose, invert and keep the centre fixed", "[track][registration]") {
  const Eigen::Matrix3d F = KnownMotion().F;
  const Eigen::Vector3d c(10, 20, 30), shift(1, -2, 0.5);
  const AffineMap m = AffineMap::AboutCentre(F, c, shift);
  REQUIRE((m.Apply(c) - (c + shift)).norm() < 1e-12);
  const AffineMap id = m.Then(m.Inverse());
  REQUIRE((id.F - Eigen::Matrix3d::Identity()).norm() < 1e-12);
  REQUIRE(id.t.norm() < 1e-12);
  Eigen::Matrix3d singular = Eigen::Matrix3d::Identity();
  singular(1, 1) = 0;
  const AffineMap collapse{singular, Eigen::Vector3d::Zero()};
  REQUIRE_THROWS_WITH(collapse.Inverse(), Catch::Contains("not invertible"));
}

TEST_CASE("a warp by a pure translation of whole voxels moves values exactly", "[track][registration]") {
  Geometry g;
  g.shape = {8, 9, 10};
  g.spacing_um = {0.5, 1.0, 2.0};
  Volume<float> v(g);
  for (std::int64_t i = 0; i < v.size(); ++i) v[i] = float(i);
  // Move by (1, 2, 3) voxels: out(z, y, x) = in(z - 1, y - 2, x - 3).
  const AffineMap m{Eigen::Matrix3d::Identity(), Eigen::Vector3d(0.5, 2.0, 6.0)};
  const Volume<float> w = WarpAffine(v, m, g, -1.0f);
  REQUIRE(w(4, 5, 6) == v(3, 3, 3));
  REQUIRE(w(0, 5, 6) == -1.0f);  // from outside the input
  const Volume<float> back = ResampleOnReference(w, m, g, -1.0f);
  REQUIRE(back(3, 3, 3) == v(3, 3, 3));
}

TEST_CASE("a known affine motion of a synthetic frame is recovered (F within 2e-3)",
          "[track][registration]") {
  const KnownMotionCase c = MakeSyntheticMotionCase(KnownMotion(), 10.0, 7);
  AffineRegistrationOptions o;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  INFO(r.status << "\nF =\n" << r.map.F << "\ntruth\n" << c.truth.F);
  REQUIRE(r.converged);
  REQUIRE((r.map.F - c.truth.F).norm() < 2e-3);
  // Translation at the grid centre within 0.05 voxel.
  const Eigen::Vector3d centre = GridCentre(c.reference.geometry());
  REQUIRE((r.map.Apply(centre) - c.truth.Apply(centre)).norm() < 0.05 * c.reference.spacing_um()[0]);
  REQUIRE(r.rms_after < 0.6 * r.rms_before);
  REQUIRE(r.stages.size() == 2);
  REQUIRE(r.stages[0].iterations.size() == 3);
}

TEST_CASE("an expansion of the current frame gives det F > 1 (the elastix/ITK direction is converted)",
          "[track][registration]") {
  AffineMap expansion;
  expansion.F = 1.01 * Eigen::Matrix3d::Identity();
  const KnownMotionCase c = MakeSyntheticMotionCase(expansion, 0.0, 3);
  AffineRegistrationOptions o;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  const Kinematics k = AnalyseDeformation(r.map.F);
  INFO(r.status);
  REQUIRE(k.J > 1.0);
  REQUIRE(k.J == Approx(std::pow(1.01, 3)).margin(3e-3));
}

TEST_CASE("rigid registration recovers a drift and a rotation and corrects it", "[track][registration]") {
  AffineMap rigid;
  rigid.F = RotationZYX(Eigen::Vector3d(1, 0.5, 0.2), 2.0);
  rigid.t = Eigen::Vector3d(1.1, -0.7, 0.45);  // µm at the grid centre
  const KnownMotionCase c = MakeSyntheticMotionCase(rigid, 10.0, 11);
  AffineRegistrationOptions o;
  o.model = AffineModel::kRigid;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  INFO(r.status);
  REQUIRE(r.stages.size() == 1);
  REQUIRE((r.map.F - c.truth.F).norm() < 2e-3);
  REQUIRE((r.map.F.transpose() * r.map.F - Eigen::Matrix3d::Identity()).norm() < 1e-9);  // a rotation
  const Volume<float> corrected = ResampleOnReference(c.current, r.map, c.reference.geometry(), NAN);
  double d2 = 0, n = 0;
  for (std::int64_t i = 0; i < corrected.size(); ++i)
    if (!std::isnan(corrected[i])) {
      d2 += double(corrected[i] - c.reference[i]) * (corrected[i] - c.reference[i]);
      ++n;
    }
  REQUIRE(std::sqrt(d2 / n) == Approx(r.rms_after).epsilon(1e-6));
}

TEST_CASE("Mattes mutual information registers frames of inverted contrast", "[track][registration]") {
  AffineMap shift;
  shift.t = Eigen::Vector3d(0.8, -0.6, 1.2);
  KnownMotionCase c = MakeSyntheticMotionCase(shift, 10.0, 5);
  for (std::int64_t i = 0; i < c.current.size(); ++i) c.current[i] = 40000.0f - c.current[i];
  AffineRegistrationOptions o;
  o.model = AffineModel::kTranslation;
  o.metric = RegistrationMetric::kMattesMutualInformation;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  INFO(r.status << " t = " << r.map.t.transpose());
  REQUIRE((r.map.F - Eigen::Matrix3d::Identity()).norm() == 0.0);
  REQUIRE((r.map.t - c.truth.t).norm() < 0.05 * c.reference.spacing_um()[0]);
}

TEST_CASE("registration refuses frames of different spacing and an empty mask", "[track][registration]") {
  Geometry g;
  g.shape = {16, 16, 16};
  Volume<float> a(g, 1.0f);
  g.spacing_um = {1.0, 1.0, 1.1};
  Volume<float> b(g, 1.0f);
  REQUIRE_THROWS_WITH(RegisterAffine(a, b, {}), Catch::Contains("different spacings"));
  Volume<std::uint8_t> empty(a.geometry(), 0);
  REQUIRE_THROWS_WITH(RegisterAffine(a, a, {}, &empty), Catch::Contains("mask is empty"));
  AffineRegistrationOptions bad;
  bad.levels = 0;
  REQUIRE_THROWS_WITH(RegisterAffine(a, a, bad), Catch::Contains("levels"));
}

TEST_CASE("an iteration budget too small is reported as not converged", "[track][registration]") {
  const KnownMotionCase c = MakeSyntheticMotionCase(KnownMotion(), 10.0, 7);
  AffineRegistrationOptions o;
  o.iterations = 2;
  o.levels = 1;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  REQUIRE_FALSE(r.converged);
  REQUIRE(r.status.find("not converged") != std::string::npos);
}

TEST_CASE("a known affine motion of the real NMC cathode is recovered (F within 2e-3)",
          "[track][registration][data]") {
  const std::string path = test::SharedData("nmc_cathode/nmc_cathode_labels.tif");
  if (path.empty()) {
    WARN("shared data absent: skipped");
    return;
  }
  const KnownMotionCase c = MakeNmcMotionCase(path, KnownMotion(), 10.0, 21);
  AffineRegistrationOptions o;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  INFO(r.status << "\nF =\n" << r.map.F << "\ntruth\n" << c.truth.F);
  REQUIRE(r.converged);
  REQUIRE((r.map.F - c.truth.F).norm() < 2e-3);
}

TEST_CASE("phase correlation finds a whole-voxel circular shift on an anisotropic grid", "[track][registration]") {
  Geometry g;
  g.shape = {40, 48, 60};
  g.spacing_um = {0.5, 0.75, 1.0};
  Volume<float> a(g), b(g);
  std::mt19937_64 rng(5);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (std::int64_t i = 0; i < a.size(); ++i) a[i] = noise(rng);
  GaussianSmooth(a.data(), a.shape(), Vec3{1.0, 1.0, 1.0});
  const std::int64_t d[3] = {3, -5, 7};  // b(x) = a(x - d), periodically
  for (std::int64_t z = 0; z < g.shape[0]; ++z)
    for (std::int64_t y = 0; y < g.shape[1]; ++y)
      for (std::int64_t x = 0; x < g.shape[2]; ++x)
        b(z, y, x) = a((z - d[0] + 40) % 40, (y - d[1] + 48) % 48, (x - d[2] + 60) % 60);
  double peak = 0;
  const Eigen::Vector3d t = PhaseCorrelationShift(a, b, &peak, 64);
  INFO("t = " << t.transpose() << ", peak " << peak);
  for (int k = 0; k < 3; ++k) REQUIRE(t[k] == Approx(double(d[k]) * g.spacing_um[k]).margin(0.1 * g.spacing_um[k]));
  REQUIRE(peak > 0.3);
  // Block-averaged by 2 (max_edge 32): the same shift within one fine voxel.
  const Eigen::Vector3d t2 = PhaseCorrelationShift(a, b, nullptr, 32);
  for (int k = 0; k < 3; ++k) REQUIRE(t2[k] == Approx(double(d[k]) * g.spacing_um[k]).margin(g.spacing_um[k]));
  Geometry other = g;
  other.shape = {40, 48, 59};
  REQUIRE_THROWS_WITH(PhaseCorrelationShift(a, Volume<float>(other)), Catch::Contains("one shape"));
}

TEST_CASE("a drift beyond a particle diameter is recovered from the phase-correlation start", "[track][registration]") {
  AffineMap drift;
  drift.t = Eigen::Vector3d(8.0, -13.0, 14.0);  // voxels (0.5 um): particles are 12 voxels across
  const KnownMotionCase c = MakeSyntheticMotionCase(drift, 10.0, 13);
  const Eigen::Vector3d centre = GridCentre(c.reference.geometry());
  const double h = c.reference.spacing_um()[0];
  AffineRegistrationOptions o;
  o.model = AffineModel::kRigid;
  const AffineRegistrationResult r = RegisterAffine(c.reference, c.current, o);
  INFO(r.status << "\n" << r.start << "\nt = " << r.map.t.transpose());
  REQUIRE(r.start.rfind("start", 0) == 0);
  REQUIRE((r.map.Apply(centre) - c.truth.Apply(centre)).norm() < 0.1 * h);
  REQUIRE(r.rms_after < 0.6 * r.rms_before);
  // From the identity (the old start) the descent stops in a neighbouring particle's minimum.
  o.phase_correlation_start = false;
  const AffineRegistrationResult old = RegisterAffine(c.reference, c.current, o);
  INFO("identity start: " << old.status << ", t = " << old.map.t.transpose());
  REQUIRE((old.map.Apply(centre) - c.truth.Apply(centre)).norm() > 2 * h);
}
