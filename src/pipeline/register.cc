#include "op4d/pipeline/register.h"

#include <Eigen/Dense>
#include <array>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"
#include "op4d/io/export.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/store/frame_store.h"
#include "op4d/track/deformation/field.h"

namespace op4d {

RegisterMethod RegisterMethodFromString(const std::string& s) {
  if (s == "rigid") return RegisterMethod::kRigid;
  if (s == "affine") return RegisterMethod::kAffine;
  if (s == "elastix") return RegisterMethod::kElastix;
  throw ConfigError("method", "'" + s + "' is not one of rigid, affine, elastix");
}
RegisterStrategy RegisterStrategyFromString(const std::string& s) {
  if (s == "total") return RegisterStrategy::kTotal;
  if (s == "incremental") return RegisterStrategy::kIncremental;
  throw ConfigError("strategy", "'" + s + "' is not one of total, incremental");
}
const char* ToString(RegisterMethod m) {
  switch (m) {
    case RegisterMethod::kRigid: return "rigid";
    case RegisterMethod::kAffine: return "affine";
    case RegisterMethod::kElastix: return "elastix";
  }
  return "?";
}
const char* ToString(RegisterStrategy s) { return s == RegisterStrategy::kTotal ? "total" : "incremental"; }

namespace {

// One registration of `moving` onto `fixed`: the linear map and, for elastix, the displacement field.
struct PairResult {
  AffineMap map;
  DisplacementField u;  // elastix only
  bool converged = true;
  std::string status;
  double rms_before = NAN, rms_after = NAN;  // against the reference, when the registration measured them
};

PairResult RegisterPair(const Volume<float>& fixed, const Volume<float>& moving, const RegisterRunOptions& o) {
  PairResult p;
  if (o.method == RegisterMethod::kElastix) {
    ElastixOptions eo = o.elastix;
    eo.threads = o.threads;
    ElastixResult r = RegisterElastix(fixed, moving, eo);
    if (!r.linear_stages.empty()) p.map = r.linear_stages.back();
    p.u = std::move(r.displacement);
    p.status = "elastix finished in " + std::to_string(r.seconds) + " s";
    return p;
  }
  AffineRegistrationOptions ao = o.affine;
  ao.model = o.method == RegisterMethod::kRigid ? AffineModel::kRigid : AffineModel::kAffine;
  ao.threads = o.threads;
  const AffineRegistrationResult r = RegisterAffine(fixed, moving, ao);
  p.map = r.map;
  p.converged = r.converged;
  p.status = r.start.empty() ? r.status : r.status + "; phase correlation " + r.start;
  p.rms_before = r.rms_before;
  p.rms_after = r.rms_after;
  return p;
}

ResultTable RowTable(const RegisterRunRow& r) {
  ResultTable t;
  t.name = "registration";
  const char* axes = "zyx";
  for (int i = 0; i < 9; ++i)
    t.columns.push_back({std::string("F_") + axes[i / 3] + axes[i % 3], "1", {r.map.F(i / 3, i % 3)}});
  for (int a = 0; a < 3; ++a) t.columns.push_back({std::string("t_") + axes[a], "um", {r.map.t[a]}});
  t.columns.push_back({"J_linear", "1", {r.J_linear}});
  t.columns.push_back({"rms_before", "grey", {r.rms_before}});
  t.columns.push_back({"rms_after", "grey", {r.rms_after}});
  t.columns.push_back({"converged", "1", {r.converged ? 1.0 : 0.0}});
  return t;
}

}  // namespace

std::optional<AffineMap> RegistrationMap(const ResultTable& t) {
  const char* axes = "zyx";
  AffineMap m;
  for (int i = 0; i < 9; ++i) {
    const ResultColumn* c = t.Find(std::string("F_") + axes[i / 3] + axes[i % 3]);
    if (!c || c->values.empty() || !std::isfinite(c->values[0])) return std::nullopt;
    m.F(i / 3, i % 3) = c->values[0];
  }
  for (int a = 0; a < 3; ++a) {
    const ResultColumn* c = t.Find(std::string("t_") + axes[a]);
    if (!c || c->values.empty() || !std::isfinite(c->values[0])) return std::nullopt;
    m.t[a] = c->values[0];
  }
  return m;
}

// Image noise of a frame: the pooled grey standard deviation over voxels whose 3x3x3 neighbourhood
// is one phase (interfaces and their blur left out).
static double InteriorNoise(const Volume<float>& v, const PhaseVolume& phases) {
  std::map<int, std::pair<double, double>> sums;  // phase -> (sum, sum of squares)
  std::map<int, std::int64_t> counts;
  for (std::int64_t z = 1; z + 1 < v.nz(); ++z)
    for (std::int64_t y = 1; y + 1 < v.ny(); ++y)
      for (std::int64_t x = 1; x + 1 < v.nx(); ++x) {
        const std::uint8_t p = phases(z, y, x);
        bool same = true;
        for (int dz = -1; dz <= 1 && same; ++dz)
          for (int dy = -1; dy <= 1 && same; ++dy)
            for (int dx = -1; dx <= 1 && same; ++dx) same = phases(z + dz, y + dy, x + dx) == p;
        if (!same) continue;
        const double g = v(z, y, x);
        sums[p].first += g, sums[p].second += g * g, ++counts[p];
      }
  double ss = 0;
  std::int64_t dof = 0;
  for (const auto& [p, s] : sums) {
    const double c = double(counts[p]);
    if (c < 2) continue;
    ss += s.second - s.first * s.first / c;
    dof += counts[p] - 1;
  }
  return dof > 0 ? std::sqrt(ss / double(dof)) : NAN;
}

// Cramér–Rao bound (one sigma) of each particle's eps_v = tr(F) - 1 under the similarity/affine fit:
// var = 9 * 2 sigma^2 / sum over the mask of (grad I . (X - c))^2 (isotropic scale s, eps_v ~ 3 s;
// both frames carry noise sigma). Mask: the particle and the shell within margin_um not in another
// particle. The gradient is that of the reference smoothed as the fit smooths it (at least one voxel,
// so the noise does not inflate it).
static std::map<int, double> EpsVBound(const Volume<float>& reference, const LabelVolume& labels, double margin_um, double smooth_um,
                                double sigma, ThreadBudget threads) {
  const Geometry& g = reference.geometry();
  Volume<float> s = reference;
  const Vec3 sv{std::max(1.0, smooth_um / g.spacing_um[0]), std::max(1.0, smooth_um / g.spacing_um[1]),
                std::max(1.0, smooth_um / g.spacing_um[2])};
  GaussianSmooth(s.data(), s.shape(), sv, threads);
  std::map<int, Eigen::Vector3d> centroid;
  std::map<int, std::int64_t> count;
  for (std::int64_t z = 0; z < labels.nz(); ++z)
    for (std::int64_t y = 0; y < labels.ny(); ++y)
      for (std::int64_t x = 0; x < labels.nx(); ++x)
        if (const int l = labels(z, y, x); l > 0) {
          if (!count[l]++) centroid[l].setZero();
          centroid[l] += Eigen::Vector3d(double(z) * g.spacing_um[0], double(y) * g.spacing_um[1], double(x) * g.spacing_um[2]);
        }
  for (auto& [l, c] : centroid) c /= double(count[l]);
  // Nearest particle within margin for every non-particle voxel: a dilation by label (ties: skipped).
  const std::int64_t m[3] = {std::int64_t(std::floor(margin_um / g.spacing_um[0])), std::int64_t(std::floor(margin_um / g.spacing_um[1])),
                             std::int64_t(std::floor(margin_um / g.spacing_um[2]))};
  std::map<int, double> info;
  for (std::int64_t z = 1; z + 1 < labels.nz(); ++z)
    for (std::int64_t y = 1; y + 1 < labels.ny(); ++y)
      for (std::int64_t x = 1; x + 1 < labels.nx(); ++x) {
        int l = labels(z, y, x);
        if (l == 0) {  // shell voxel: the one particle within the margin, if exactly one
          // Along the six axis directions within the margin (the shell a ball would give, to a few
          // voxels at the contacts).
          int found = 0;
          for (int a = 0; a < 3 && found >= 0; ++a)
            for (int sign = -1; sign <= 1 && found >= 0; sign += 2)
              for (std::int64_t step = 1; step <= m[a]; ++step) {
                std::int64_t i[3] = {z, y, x};
                i[a] += sign * step;
                if (i[a] < 0 || i[a] >= labels.shape()[a]) break;
                const int q = labels(i[0], i[1], i[2]);
                if (q > 0) {
                  if (q != found) found = found == 0 ? q : -1;
                  break;
                }
              }
          if (found <= 0) continue;
          l = found;
        }
        const Eigen::Vector3d grad((s(z + 1, y, x) - s(z - 1, y, x)) / (2 * g.spacing_um[0]),
                                   (s(z, y + 1, x) - s(z, y - 1, x)) / (2 * g.spacing_um[1]),
                                   (s(z, y, x + 1) - s(z, y, x - 1)) / (2 * g.spacing_um[2]));
        const Eigen::Vector3d dX = Eigen::Vector3d(double(z) * g.spacing_um[0], double(y) * g.spacing_um[1], double(x) * g.spacing_um[2]) -
                                   centroid[l];
        info[l] += std::pow(grad.dot(dX), 2);
      }
  std::map<int, double> out;
  for (const auto& [l, i] : info) out[l] = i > 0 ? std::sqrt(9 * 2 * sigma * sigma / i) : INFINITY;
  return out;
}

std::vector<RegisterRunRow> RunRegistration(const std::string& store_path, const RegisterRunOptions& o) {
  FrameStore store = FrameStore::OpenReadWrite(store_path);
  const std::int64_t n = store.frame_count();
  if (n == 0) throw IoError(store_path, "/frames/volume", "the campaign has no frames");
  if (o.reference < 0 || o.reference >= n)
    throw ConfigError("reference", "frame " + std::to_string(o.reference) + " is not in " + store_path + " (it has " +
                                       std::to_string(n) + " frames)");
  std::vector<std::int64_t> frames = o.frames;
  if (frames.empty())
    for (std::int64_t k = 0; k < n; ++k) frames.push_back(k);
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  for (std::int64_t k : frames) {
    if (k < 0 || k >= n)
      throw ConfigError("frames", "frame " + std::to_string(k) + " is not in " + store_path + " (it has " +
                                      std::to_string(n) + " frames)");
    if (o.strategy == RegisterStrategy::kIncremental && k < o.reference)
      throw ConfigError("frames", "the incremental strategy runs forward from the reference frame " +
                                      std::to_string(o.reference) + "; frame " + std::to_string(k) + " is before it");
  }
  if (o.strain_stride < 1) throw ConfigError("strain_stride", "must be >= 1");

  nlohmann::json j;
  j["method"] = ToString(o.method);
  j["strategy"] = ToString(o.strategy);
  j["reference"] = o.reference;
  j["convention"] = "F = dx/dX from the reference frame to frame k; reference = fixed image, frame k = moving";
  if (o.method == RegisterMethod::kElastix) {
    j["elastix"] = {{"metric", o.elastix.metric}, {"resolutions", o.elastix.resolutions},
                    {"iterations", o.elastix.iterations}, {"grid_spacing_um", o.elastix.grid_spacing_um},
                    {"spatial_samples", o.elastix.spatial_samples}, {"sampler", o.elastix.sampler}};
    j["strain_stride"] = o.strain_stride;
    j["tensors"] = o.tensors;
  } else {
    j["affine"] = {{"levels", o.affine.levels}, {"iterations", o.affine.iterations},
                   {"metric", o.affine.metric == RegistrationMetric::kMeanSquares ? "mean squares" : "Mattes MI"}};
  }
  const AnyVolume reference_frame = store.ReadFrame(o.reference, o.threads);
  const Volume<float> reference = ToFloat(reference_frame);
  LabelVolume particle_labels;
  double noise_sigma = NAN, radius_vox_median = NAN, crb_median = NAN;
  std::map<int, double> eps_v_crb, radius_vox;  // by reference particle label
  std::vector<int> reference_ids;
  std::vector<Eigen::Vector3d> reference_centroids;
  // The particles of frame k: its phases (stored or segmented as for the reference), active phase,
  // watershed.
  auto frame_particles = [&](std::int64_t k, const AnyVolume& grey) {
    QuickLookOptions so = o.segment;
    so.threads = o.threads;
    so.progress = ProgressStyle::kOff;
    const PhaseVolume phases = FrameLabels(store, k, grey, so);
    const std::uint8_t active = so.phases.WithRole(PhaseRole::kActive).front().label;
    Volume<std::uint8_t> mask(phases.geometry(), 0);
    for (std::int64_t i = 0; i < mask.size(); ++i) mask[i] = phases[i] == active;
    WatershedOptions wo = o.watershed;
    wo.threads = o.threads;
    return SeparateParticles(mask, wo).labels;
  };
  if (o.particles) {
    QuickLookOptions so = o.segment;
    so.threads = o.threads;
    so.progress = ProgressStyle::kOff;
    const std::vector<Phase> active = so.phases.WithRole(PhaseRole::kActive);
    if (active.size() != 1)
      throw ConfigError("phases", "per-particle kinematics needs exactly one phase with the active role, got " +
                                      std::to_string(active.size()));
    particle_labels = frame_particles(o.reference, reference_frame);
    LabelCentroids(particle_labels, &reference_ids, &reference_centroids);
    // The resolution guard's inputs: noise from the phases' interiors, the eps_v bound per particle.
    {
      QuickLookOptions so2 = o.segment;
      so2.threads = o.threads;
      so2.progress = ProgressStyle::kOff;
      noise_sigma = InteriorNoise(reference, FrameLabels(store, o.reference, reference_frame, so2));
      eps_v_crb = EpsVBound(reference, particle_labels, o.particle_fit.margin_um, o.particle_fit.smooth_um, noise_sigma, o.threads);
      std::map<int, std::int64_t> vox;
      for (std::int64_t i = 0; i < particle_labels.size(); ++i)
        if (particle_labels[i] > 0) ++vox[particle_labels[i]];
      const Vec3& h = reference.spacing_um();
      const double hv = std::max({h[0], h[1], h[2]});
      for (const auto& [l, c] : vox) radius_vox[l] = std::cbrt(3.0 * double(c) * h[0] * h[1] * h[2] / (4 * M_PI)) / hv;
      // Volume-weighted medians over the particles the fits take (at least min_voxels): the value of
      // the particle holding the median solid voxel, so watershed fragments and specks do not set it.
      auto weighted_median = [&](const std::map<int, double>& value) {
        std::vector<std::pair<double, double>> vw;  // value, voxels
        double total = 0;
        for (const auto& [l, v] : value) {
          const auto it = vox.find(l);
          if (it == vox.end() || it->second < o.particle_fit.min_voxels || !std::isfinite(v)) continue;
          vw.push_back({v, double(it->second)});
          total += double(it->second);
        }
        if (vw.empty()) return double(NAN);
        std::sort(vw.begin(), vw.end());
        double cum = 0;
        for (const auto& [v, w] : vw)
          if ((cum += w) >= 0.5 * total) return v;
        return vw.back().first;
      };
      radius_vox_median = weighted_median(radius_vox);
      crb_median = weighted_median(eps_v_crb);
    }
    j["particles"] = {{"segment", ToString(so.method)}, {"watershed_h_um", o.watershed.h_um},
                      {"model", ToString(o.particle_fit.model)}, {"interpolation", ToString(o.particle_fit.interpolation)},
                      {"margin_um", o.particle_fit.margin_um}, {"max_iterations", o.particle_fit.max_iterations},
                      {"contact_um", o.particle_fit.contact_um}, {"smooth_um", o.particle_fit.smooth_um},
                      {"match_max_distance_um", o.match.max_distance_um}, {"match_scaling", o.match.with_scaling}};
  }
  double margin = o.interior_margin_um;
  if (margin < 0) {
    double extent = INFINITY;
    for (int a = 0; a < 3; ++a) extent = std::min(extent, double(reference.shape()[a]) * reference.spacing_um()[a]);
    margin = 0.1 * extent;
  }
  j["interior_margin_um"] = margin;
  const TimeTable times = store.ReadTimeTable();
  const std::vector<double>* time_s = times.Find("time_s");

  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec) throw IoError(o.out_dir, "", "cannot create directory: " + ec.message());
  }

  std::vector<RegisterRunRow> rows;
  Progress progress(std::string("register (") + ToString(o.method) + ", " + ToString(o.strategy) + ")",
                    std::int64_t(frames.size()), o.progress);
  // Incremental state: the previous frame and the composed motion reference -> previous.
  Volume<float> previous = reference;
  PairResult composed;  // identity
  // `grey`: frame k as stored (its particles are separated from it when no labels are stored); empty
  // without particles.
  auto finish = [&](std::int64_t k, const Volume<float>& current, const AnyVolume& grey, const PairResult& motion) {
    RegisterRunRow row;
    row.frame = k;
    row.map = motion.map;
    row.converged = motion.converged;
    row.status = motion.status;
    row.J_linear = motion.map.F.determinant();
    // The affine registration of the total strategy measured both residuals already; the composed
    // (incremental) and elastix motions are measured here against the reference.
    row.rms_before = std::isnan(motion.rms_before) ? ResidualRms(reference, current, AffineMap{}, nullptr, nullptr, o.threads)
                                                   : motion.rms_before;
    if (!std::isnan(motion.rms_after))
      row.rms_after = motion.rms_after;
    else if (o.method == RegisterMethod::kElastix)
      row.rms_after = ResidualRms(reference, current, motion.u, nullptr, o.threads);
    else
      row.rms_after = ResidualRms(reference, current, motion.map, nullptr, nullptr, o.threads);
    const Provenance prov{"register", "frame " + std::to_string(k) + " onto frame " + std::to_string(o.reference),
                          j.dump(), ""};
    StrainField strain;
    if (o.method == RegisterMethod::kElastix) {
      StrainFieldOptions so;
      so.stride = o.strain_stride;
      so.tensors = o.tensors;
      so.threads = o.threads;
      strain = ComputeStrainField(motion.u, so);
      row.strain_summary = SummariseStrain(strain, margin);
    }
    const Volume<float>& J = strain.J;
    ResultTable particle_table;
    if (o.particles) {
      ParticleFitOptions po = o.particle_fit;
      po.threads = o.threads;
      const std::vector<ParticleKinematics> fits = FitParticleKinematics(reference, current, particle_labels, motion.map, po);
      std::vector<double> eps;
      for (const ParticleKinematics& p : fits)
        if (p.converged) eps.push_back(p.eps_v);
      row.particles = std::int64_t(fits.size());
      row.particles_converged = std::int64_t(eps.size());
      if (!eps.empty()) {
        std::nth_element(eps.begin(), eps.begin() + std::ptrdiff_t(eps.size() / 2), eps.end());
        row.particle_eps_v_median = eps[eps.size() / 2];
      }
      particle_table = ParticleKinematicsTable(fits);
      {
        ResultColumn rv{"radius_vox", "1", {}}, cb{"eps_v_crb", "1", {}};
        for (const ParticleKinematics& p : fits) {
          rv.values.push_back(radius_vox.count(p.label) ? radius_vox.at(p.label) : NAN);
          cb.values.push_back(eps_v_crb.count(p.label) ? eps_v_crb.at(p.label) : NAN);
        }
        particle_table.columns.push_back(std::move(rv));
        particle_table.columns.push_back(std::move(cb));
      }
      // Identity: the reference particles matched to frame k's own particles (centroid ICP from the
      // frame's linear motion, mutual nearest neighbours).
      ParticleMatching m;
      std::vector<int> ids;
      std::vector<Eigen::Vector3d> centroids;
      if (k == o.reference) {
        ids = reference_ids;
        centroids = reference_centroids;
        m.matches.resize(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) m.matches[i] = {ids[i], ids[i], 0.0, 1.0};
      } else {
        LabelCentroids(frame_particles(k, grey), &ids, &centroids);
        m = MatchParticles(reference_ids, reference_centroids, ids, centroids, motion.map, o.match);
      }
      if (m.matches.size() != fits.size())
        throw std::logic_error("register: " + std::to_string(m.matches.size()) + " matched particles for " +
                               std::to_string(fits.size()) + " fitted ones");
      std::map<int, Eigen::Vector3d> centroid_of;
      for (std::size_t i = 0; i < ids.size(); ++i) centroid_of[ids[i]] = centroids[i];
      ResultColumn label{"match_label", "1", {}}, distance{"match_distance", "um", {}}, quality{"match_quality", "1", {}};
      std::array<ResultColumn, 3> at{ResultColumn{"match_centroid_z", "um", {}}, ResultColumn{"match_centroid_y", "um", {}},
                                     ResultColumn{"match_centroid_x", "um", {}}};
      for (const ParticleMatch& p : m.matches) {
        label.values.push_back(p.current_label);
        distance.values.push_back(p.current_label ? p.distance_um : NAN);
        quality.values.push_back(p.quality);
        for (int a = 0; a < 3; ++a) at[std::size_t(a)].values.push_back(p.current_label ? centroid_of.at(p.current_label)[a] : NAN);
        row.particles_matched += p.current_label != 0;
      }
      row.particles_lost = std::int64_t(m.matches.size()) - row.particles_matched;
      row.particles_new = std::int64_t(m.new_labels.size());
      for (ResultColumn* c : {&label, &at[0], &at[1], &at[2], &distance, &quality}) particle_table.columns.push_back(std::move(*c));
    }
    // Everything is computed: now write (a failure above leaves the store as it was).
    store.WriteFrameTable(k, RowTable(row), prov);
    if (o.particles) store.WriteFrameTable(k, particle_table, prov);
    if (o.particles && k == o.reference) {
      // The reference particles themselves (the labels of particle_kinematics), for region maps.
      const AnyVolume l = StorableLabels(particle_labels);
      std::visit([&](const auto& v) { store.WriteFrameVolume(k, "particle_labels", v, prov); }, l);
    }
    if (!J.empty()) {
      store.WriteFrameVolume(k, "J", J, prov);
      if (o.tensors) {
        static const char* kE[6] = {"E_zz", "E_yy", "E_xx", "E_zy", "E_zx", "E_yx"};
        for (int i = 0; i < 6; ++i) store.WriteFrameVolume(k, kE[i], strain.E[std::size_t(i)], prov);
        for (int i = 0; i < 3; ++i)
          store.WriteFrameVolume(k, "stretch_" + std::to_string(i + 1), strain.stretch[std::size_t(i)], prov);
      }
      store.WriteFrameTable(k, row.strain_summary, prov);
      if (!o.out_dir.empty()) {
        char name[64];
        std::snprintf(name, sizeof name, "/frame_%06lld_J.vti", static_cast<long long>(k));
        row.files.push_back(o.out_dir + name);
        WriteVti(row.files.back(), J, "J");
      }
    }
    rows.push_back(std::move(row));
    progress.Advance();
  };

  const std::int64_t last = frames.back();
  // Frame k read once: as stored (kept for the particle separation only) and as float.
  auto read_frame = [&](std::int64_t k, AnyVolume* grey) {
    *grey = store.ReadFrame(k, o.threads);
    Volume<float> f = ToFloat(*grey);
    if (!o.particles) *grey = AnyVolume{};
    return f;
  };
  std::size_t next = 0;
  if (o.strategy == RegisterStrategy::kTotal) {
    for (std::int64_t k : frames) {
      if (k == o.reference) {
        PairResult identity;
        identity.status = "reference frame";
        if (o.method == RegisterMethod::kElastix) identity.u = DisplacementFromAffine(AffineMap{}, reference.geometry());
        finish(k, reference, reference_frame, identity);
        continue;
      }
      AnyVolume grey;
      const Volume<float> current = read_frame(k, &grey);
      finish(k, current, grey, RegisterPair(reference, current, o));
    }
  } else {
    if (o.method == RegisterMethod::kElastix) composed.u = DisplacementFromAffine(AffineMap{}, reference.geometry());
    composed.status = "reference frame";
    for (std::int64_t k = o.reference; k <= last; ++k) {
      AnyVolume grey;
      Volume<float> current = k == o.reference ? reference : read_frame(k, &grey);
      if (k != o.reference) {
        PairResult step = RegisterPair(previous, current, o);
        composed.map = composed.map.Then(step.map);
        if (o.method == RegisterMethod::kElastix) composed.u = Compose(composed.u, step.u, o.threads);
        composed.converged = composed.converged && step.converged;
        composed.status = "composed over frames " + std::to_string(o.reference) + ".." + std::to_string(k) +
                          "; last step: " + step.status;
      }
      while (next < frames.size() && frames[next] < k) ++next;
      if (next < frames.size() && frames[next] == k) finish(k, current, k == o.reference ? reference_frame : grey, composed);
      previous = std::move(current);
    }
  }

  // Series table (all frames registered by this run).
  ResultTable series;
  series.name = "registration_series";
  auto col = [&](const std::string& name, const std::string& unit, auto get) {
    ResultColumn c{name, unit, {}};
    for (const RegisterRunRow& r : rows) c.values.push_back(get(r));
    series.columns.push_back(std::move(c));
  };
  col("frame", "1", [](const RegisterRunRow& r) { return double(r.frame); });
  col("time_s", "s", [&](const RegisterRunRow& r) {
    return time_s && r.frame < std::int64_t(time_s->size()) ? (*time_s)[std::size_t(r.frame)] : NAN;
  });
  const char* axes = "zyx";
  for (int a = 0; a < 3; ++a) col(std::string("t_") + axes[a], "um", [a](const RegisterRunRow& r) { return r.map.t[a]; });
  col("J_linear", "1", [](const RegisterRunRow& r) { return r.J_linear; });
  auto summary = [](const RegisterRunRow& r, const char* c) {
    const ResultColumn* col = r.strain_summary.Find(c);
    return col ? col->values[0] : NAN;
  };
  col("J_mean", "1", [&](const RegisterRunRow& r) { return summary(r, "J_mean"); });
  col("J_sd", "1", [&](const RegisterRunRow& r) { return summary(r, "J_sd"); });
  col("rms_before", "grey", [](const RegisterRunRow& r) { return r.rms_before; });
  col("rms_after", "grey", [](const RegisterRunRow& r) { return r.rms_after; });
  col("converged", "1", [](const RegisterRunRow& r) { return r.converged ? 1.0 : 0.0; });
  if (o.particles) {
    col("particles", "1", [](const RegisterRunRow& r) { return double(r.particles); });
    col("particles_converged", "1", [](const RegisterRunRow& r) { return double(r.particles_converged); });
    col("particle_eps_v_median", "1", [](const RegisterRunRow& r) { return r.particle_eps_v_median; });
    col("particles_matched", "1", [](const RegisterRunRow& r) { return double(r.particles_matched); });
    col("particles_lost", "1", [](const RegisterRunRow& r) { return double(r.particles_lost); });
    col("particles_new", "1", [](const RegisterRunRow& r) { return double(r.particles_new); });
  }
  if (o.particles) {
    col("radius_vox_median", "1", [&](const RegisterRunRow&) { return radius_vox_median; });
    col("eps_v_crb_median", "1", [&](const RegisterRunRow&) { return crb_median; });
    col("noise_sigma", "grey", [&](const RegisterRunRow&) { return noise_sigma; });
  }
  // Frames registered by earlier runs with the same options keep their rows (a pipeline registers
  // frame by frame).
  series = MergeFrameRows(store, series, j.dump());
  if (o.particles) {
    const EpsVGuard g = EvaluateEpsVGuard(series);
    for (RegisterRunRow& r : rows) {
      r.radius_vox_median = radius_vox_median, r.eps_v_crb_median = crb_median, r.noise_sigma = noise_sigma;
      r.strain_range = g.strain_range, r.eps_v_resolved = g.resolved, r.guard = g.line;
    }
  }
  store.WriteSeriesTable(series, Provenance{"register", "frames of " + store_path, j.dump(), ""});
  if (!o.out_dir.empty()) WriteCsv(o.out_dir + "/registration_series.csv", series);
  return rows;
}

EpsVGuard EvaluateEpsVGuard(const ResultTable& series) {
  EpsVGuard g;
  const ResultColumn* med = series.Find("particle_eps_v_median");
  const ResultColumn* crb = series.Find("eps_v_crb_median");
  if (!med || !crb || crb->values.empty()) return g;
  auto first = [&](const char* name) {
    const ResultColumn* c = series.Find(name);
    return c && !c->values.empty() ? c->values[0] : NAN;
  };
  g.known = true;
  g.crb_median = crb->values[0];
  g.radius_vox_median = first("radius_vox_median");
  g.noise_sigma = first("noise_sigma");
  double lo = 0, hi = 0;  // the reference frame's strain is 0 by definition
  for (double v : med->values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  g.strain_range = hi - lo;
  if (g.strain_range < 1e-9) g.strain_range = 0;  // the reference against itself: round-off only
  g.resolved = g.strain_range > 0 && g.crb_median <= g.strain_range / 10;
  char line[400];
  if (g.strain_range <= 0)
    std::snprintf(line, sizeof line,
                  "particles: median radius %.1f voxels, eps_v Cramer-Rao bound %.2g (noise %.3g); no strain yet to "
                  "compare (reference frame only)", g.radius_vox_median, g.crb_median, g.noise_sigma);
  else if (g.resolved)
    std::snprintf(line, sizeof line,
                  "particles: median radius %.1f voxels, eps_v Cramer-Rao bound %.2g <= 1/10 of the campaign's strain "
                  "range %.3g: per-particle eps_v resolved", g.radius_vox_median, g.crb_median, g.strain_range);
  else
    std::snprintf(line, sizeof line,
                  "particles: UNRESOLVED: median radius %.1f voxels, eps_v Cramer-Rao bound %.2g > 1/10 of the "
                  "campaign's strain range %.3g: per-particle eps_v (and SOC) cannot be read at this resolution",
                  g.radius_vox_median, g.crb_median, g.strain_range);
  g.line = line;
  return g;
}

}  // namespace op4d
