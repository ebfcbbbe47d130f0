#include "op4d/synth/campaign.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"
#include "op4d/core/random.h"

namespace op4d {
namespace {

constexpr std::uint8_t kPore = 0, kActive = 1, kBinder = 2;



double Norm(const Vec3& v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

// Distance from the centre to the surface of an ellipsoid along unit direction u.
double Extent(const Vec3& semi, const Vec3& u) {
  double s = 0;
  for (int a = 0; a < 3; ++a) s += (u[a] / semi[a]) * (u[a] / semi[a]);
  return 1.0 / std::sqrt(s);
}

// A particle as placed in one frame: current centre and semi-axes.
struct Placed {
  Vec3 c, inv_semi;
  double max_semi;
  int id;
};

// Uniform grid over the field of view; each cell lists the particles that can matter inside it.
struct CellGrid {
  Vec3 lo;
  double h = 1;
  Index3 n{1, 1, 1};
  std::vector<std::vector<int>> cells;
  const std::vector<int>& At(const Vec3& x) const {
    Index3 i;
    for (int a = 0; a < 3; ++a) i[a] = std::clamp<std::int64_t>(std::int64_t((x[a] - lo[a]) / h), 0, n[a] - 1);
    return cells[std::size_t((i[0] * n[1] + i[1]) * n[2] + i[2])];
  }
};

struct PointEval {
  std::uint8_t phase = kPore;
  std::uint16_t particle = 0;
  std::uint16_t cracked = 0;  // the particle whose crack sheet holds the point (phase pore)
  double margin = std::numeric_limits<double>::infinity();  // distance to the nearest phase boundary (approx.)
};

// A particle's damage as it is in one frame.
struct FrameDamage {
  int stage = 0;       // 0 intact, 1 internal crack, 2 through crack
  int shape = 2;       // the crack's geometry: 2 one plane, 3 branched, 4 two planes
  Vec3 n1{}, n2{}, e1{}, e2{}, cap{};
  double half_width = 0;
  bool debonded = false;
  double cap_cos = 1, gap = 0;
};

double Dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

// Whether rel (the point minus the particle's centre; q its normalised radius) lies in the crack
// sheet; margin: approximate distance to the sheet's boundary.
bool InCrack(const Vec3& rel, double q, double min_semi, const FrameDamage& d, double* margin) {
  *margin = std::numeric_limits<double>::infinity();
  if (d.stage == 0) return false;
  const double hw = d.half_width;
  bool in = false;
  double m = std::numeric_limits<double>::infinity();
  if (d.shape == 3) {
    const double p1 = Dot(rel, d.e1), p2 = Dot(rel, d.e2);
    for (int j = 0; j < 3; ++j) {
      const double th = 2.0 * M_PI * j / 3.0, c = std::cos(th), s = std::sin(th);
      const double along = c * p1 + s * p2, perp = std::abs(-s * p1 + c * p2);
      if (along >= -hw) {
        in = in || perp < hw;
        m = std::min(m, std::abs(perp - hw));
        if (perp < hw) m = std::min(m, std::abs(along + hw));
      }
    }
  } else {
    const double s1 = std::abs(Dot(rel, d.n1));
    in = s1 < hw;
    m = std::abs(s1 - hw);
    if (d.shape == 4) {
      const double s2 = std::abs(Dot(rel, d.n2));
      in = in || s2 < hw;
      m = std::min(m, std::abs(s2 - hw));
    }
  }
  if (d.stage == 1) {
    in = in && q < kInnerCrackRadius;
    m = std::min(m, std::abs(q - kInnerCrackRadius) * min_semi);
  }
  *margin = m;
  return in;
}

// Signed distance from x to particle p along the ray from its centre (exact for spheres): < 0 inside.
double RayDistance(const Vec3& x, const Placed& p, double* q_out = nullptr) {
  const Vec3 rel{x[0] - p.c[0], x[1] - p.c[1], x[2] - p.c[2]};
  double q2 = 0;
  for (int a = 0; a < 3; ++a) q2 += (rel[a] * p.inv_semi[a]) * (rel[a] * p.inv_semi[a]);
  const double q = std::sqrt(q2), r = Norm(rel);
  if (q_out) *q_out = q;
  return q > 0 ? r * (1.0 - 1.0 / q) : -p.max_semi;
}

// Binder fills the necks: a point whose two nearest particle surfaces (d1, d2) are closer together
// than `neck`. `reference` (the frame-0 particles moved by the drift; null = re-evaluate the neck in
// the current frame) makes binder a material carried by the particles: the point is pulled back to
// the reference by the motions of its two nearest particles blended by distance (on a particle's
// surface its own motion exactly), and the reference neck rule is applied there.
PointEval Evaluate(const Vec3& x, const std::vector<int>& cands, const std::vector<Placed>& placed, double neck,
                   const std::vector<Placed>* reference = nullptr, const std::vector<FrameDamage>* damage = nullptr) {
  PointEval e;
  double best_q = 2.0, d1 = std::numeric_limits<double>::infinity(), d2 = d1, min_abs = d1;
  int i1 = -1, i2 = -1;
  for (int idx : cands) {
    const Placed& p = placed[std::size_t(idx)];
    double q = 0;
    const double d = RayDistance(x, p, &q);
    if (q <= 1.0 && q < best_q) {
      best_q = q;
      e.particle = static_cast<std::uint16_t>(p.id);
    }
    min_abs = std::min(min_abs, std::abs(d));
    if (d < d1) {
      d2 = d1;
      i2 = i1;
      d1 = d;
      i1 = idx;
    } else if (d < d2) {
      d2 = d;
      i2 = idx;
    }
  }
  if (e.particle) {
    e.phase = kActive;
    e.margin = min_abs;
    if (damage) {
      const FrameDamage& dm = (*damage)[std::size_t(e.particle - 1)];
      if (dm.stage > 0) {
        const Placed& p = placed[std::size_t(e.particle - 1)];
        const Vec3 rel{x[0] - p.c[0], x[1] - p.c[1], x[2] - p.c[2]};
        double min_semi = std::numeric_limits<double>::infinity();
        for (int a = 0; a < 3; ++a) min_semi = std::min(min_semi, 1.0 / p.inv_semi[a]);
        double m = 0;
        if (InCrack(rel, best_q, min_semi, dm, &m)) {
          e.phase = kPore;
          e.cracked = e.particle;
          e.particle = 0;
        }
        e.margin = std::min(e.margin, m);
      }
    }
    return e;
  }
  double sum = d1 + d2;
  if (reference && i2 >= 0 && std::isfinite(sum)) {
    // Pull back by each of the two particles' motions (about its centre, scale = current / reference
    // semi-axis) and blend with weights d2 / (d1 + d2), d1 / (d1 + d2).
    Vec3 X{};
    const double w1 = sum > 0 ? d2 / sum : 0.5;
    for (int a = 0; a < 3; ++a) {
      const Placed& p1 = placed[std::size_t(i1)];
      const Placed& p2 = placed[std::size_t(i2)];
      const double x1 = p1.c[a] + (x[a] - p1.c[a]) * p1.inv_semi[a] / (*reference)[std::size_t(i1)].inv_semi[a];
      const double x2 = p2.c[a] + (x[a] - p2.c[a]) * p2.inv_semi[a] / (*reference)[std::size_t(i2)].inv_semi[a];
      X[a] = w1 * x1 + (1.0 - w1) * x2;
    }
    double r1 = std::numeric_limits<double>::infinity(), r2 = r1;
    for (int idx : cands) {
      const double d = RayDistance(X, (*reference)[std::size_t(idx)]);
      if (d < r1) {
        r2 = r1;
        r1 = d;
      } else if (d < r2) {
        r2 = d;
      }
    }
    sum = r1 + r2;
  }
  if (sum < neck) {
    e.phase = kBinder;
    e.margin = std::min(min_abs, std::abs(sum - neck) / 2);
    if (damage && i1 >= 0) {
      const FrameDamage& dm = (*damage)[std::size_t(placed[std::size_t(i1)].id - 1)];
      if (dm.debonded) {
        const Placed& p = placed[std::size_t(i1)];
        const Vec3 rel{x[0] - p.c[0], x[1] - p.c[1], x[2] - p.c[2]};
        const double r = Norm(rel);
        const double c = r > 0 ? Dot(rel, dm.cap) / r : 1.0;
        if (d1 < dm.gap && c > dm.cap_cos) e.phase = kPore;
        e.margin = std::min({e.margin, std::abs(d1 - dm.gap), std::abs(c - dm.cap_cos) * r});
      }
    }
  } else {
    e.phase = kPore;
    e.margin = std::isfinite(d2) ? std::min(min_abs, std::abs(sum - neck) / 2) : min_abs;
  }
  return e;
}

}  // namespace

bool SynthOptions::IsValid(std::string* why) const {
  auto bad = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  Geometry g;
  g.shape = shape;
  g.spacing_um = spacing_um;
  std::string gw;
  if (!g.IsValid(&gw) || shape[0] < 4 || shape[1] < 4 || shape[2] < 4)
    return bad("shape must be at least 4 voxels per axis with positive spacing" + (gw.empty() ? "" : ": " + gw));
  if (frames < 1) return bad("frames must be >= 1");
  if (!frame_times_s.empty()) {
    if (int(frame_times_s.size()) != frames) return bad("frame_times_s must have one time per frame");
    for (std::size_t i = 1; i < frame_times_s.size(); ++i)
      if (!(frame_times_s[i] > frame_times_s[i - 1])) return bad("frame_times_s must increase");
  }
  if (!(radius_um > 0)) return bad("radius_um must be > 0");
  if (radius_sigma < 0 || radius_sigma > 1) return bad("radius_sigma must be in [0, 1]");
  if (!(solid_fraction > 0 && solid_fraction < 0.75)) return bad("solid_fraction must be in (0, 0.75)");
  if (overlap < 0 || overlap > 0.5) return bad("overlap must be in [0, 0.5]");
  if (!(calendering > 0.2 && calendering <= 1)) return bad("calendering must be in (0.2, 1]");
  if (binder_neck_um < 0) return bad("binder_neck_um must be >= 0");
  if (supersample < 1 || supersample > 8) return bad("supersample must be 1..8");
  if (dtype == DataType::kUInt8) return bad("dtype must be uint16 or float32");
  if (!(duration_s > 0)) return bad("duration_s must be > 0");
  if (soc_start < 0 || soc_start > 1 || soc_end < 0 || soc_end > 1) return bad("soc_start and soc_end must be in [0, 1]");
  if (soc_gradient < 0 || soc_gradient > 0.5) return bad("soc_gradient must be in [0, 0.5]");
  if (blur_sigma_vox < 0) return bad("blur_sigma_vox must be >= 0");
  if (cycles < 0 || cycles > 1000) return bad("cycles must be 0..1000");
  if (!(charge_share > 0 && charge_share < 1)) return bad("charge_share must be in (0, 1)");
  if (!(crack_share >= 0 && crack_share <= 1)) return bad("crack_share must be in [0, 1]");
  if (!(fragment_share >= 0 && fragment_share <= 1)) return bad("fragment_share must be in [0, 1]");
  if (!(debond_share >= 0 && debond_share <= 1)) return bad("debond_share must be in [0, 1]");
  if (!(debond_loss > 0 && debond_loss <= 1)) return bad("debond_loss must be in (0, 1]");
  if (!(crack_width_um > 0) || !std::isfinite(crack_width_um)) return bad("crack_width_um must be > 0");
  if (!(debond_gap_um > 0) || !std::isfinite(debond_gap_um)) return bad("debond_gap_um must be > 0");
  if (!std::isfinite(residual_strain_per_cycle) || std::abs(residual_strain_per_cycle) > 0.1)
    return bad("residual_strain_per_cycle must be in [-0.1, 0.1]");
  const bool damaged = crack_share > 0 || debond_share > 0 || !damage.empty();
  if (damaged && cycles < 2) return bad("damage (crack_share, debond_share, damage) needs cycles >= 2: cycle 1 is the intact reference");
  for (const SynthDamage& d : damage) {
    const std::string who = "damage of particle " + std::to_string(d.particle) + ": ";
    if (d.particle < 1) return bad(who + "particle ids start at 1");
    if (d.crack_cycle < 0 || d.crack_cycle > cycles || d.debond_cycle < 0 || d.debond_cycle > cycles)
      return bad(who + "cycles must be 0 (never) or 1.." + std::to_string(cycles));
    if (d.fragment_cycle != 0 && (d.crack_cycle == 0 || d.fragment_cycle <= d.crack_cycle || d.fragment_cycle > cycles))
      return bad(who + "fragment_cycle must follow crack_cycle, within the campaign");
    if (d.fragments < 2 || d.fragments > 4) return bad(who + "fragments must be 2, 3 or 4");
    if (!(d.debond_loss > 0 && d.debond_loss <= 1)) return bad(who + "debond_loss must be in (0, 1]");
  }
  return true;
}

SynthOptions SynthOptions::BuiltIn() {
  SynthOptions o;
  o.seed = 2026;
  o.spacing_um = {0.25, 0.25, 0.25};
  o.radius_um = 4.5;
  o.radius_sigma = 0.15;
  o.calendering = 0.8;
  o.binder_neck_um = 2.0;
  o.shape = {120, 160, 160};
  o.cycles = 2;
  o.charge_share = 2.0 / 3.0;
  o.frames = 7;
  o.duration_s = 4 * 3600.0;
  o.p_app_start_Pa = 2.0e4;
  o.p_app_end_Pa = 8.0e4;
  o.drift_um_per_frame = {0.2, -0.3, 0.4};
  return o;
}

SynthCampaign::SynthCampaign(const SynthOptions& options) : options_(options) {
  std::string why;
  if (!options_.IsValid(&why)) throw ConfigError("synth", why);
  const SynthOptions& o = options_;
  CounterRng rng{Mix64(o.seed)};
  // Field of view [fov_lo, fov_hi] in µm; the packing box is larger by the drift and two radii.
  Vec3 fov_lo, fov_hi, lo, hi;
  const double r_max = o.radius_um * std::exp(2.5 * o.radius_sigma);
  for (int a = 0; a < 3; ++a) {
    fov_lo[a] = -0.5 * o.spacing_um[a];
    fov_hi[a] = (double(o.shape[a]) - 0.5) * o.spacing_um[a];
    const double pad = std::abs(o.drift_um_per_frame[a]) * (o.frames - 1) + 2.5 * r_max / std::sqrt(o.calendering);
    lo[a] = fov_lo[a] - pad;
    hi[a] = fov_hi[a] + pad;
  }
  // Random sequential addition of spheres in the un-calendered box (z stretched by 1/f).
  const double f = o.calendering;
  Vec3 box{(hi[0] - lo[0]) / f, hi[1] - lo[1], hi[2] - lo[2]};
  const double box_volume = box[0] * box[1] * box[2];
  const double cell = 2 * r_max;
  Index3 gn;
  for (int a = 0; a < 3; ++a) gn[a] = std::max<std::int64_t>(1, std::int64_t(box[a] / cell));
  std::vector<std::vector<int>> grid(std::size_t(gn[0] * gn[1] * gn[2]));
  auto cell_of = [&](const Vec3& c, int a) { return std::clamp<std::int64_t>(std::int64_t(c[a] / box[a] * gn[a]), 0, gn[a] - 1); };
  std::vector<Vec3> centers;
  std::vector<double> radii;
  double solid = 0;
  int failures = 0;
  while (solid < o.solid_fraction * box_volume && failures < 20000) {
    const double r = std::clamp(o.radius_um * std::exp(o.radius_sigma * rng.Normal()), 0.4 * o.radius_um, r_max);
    const Vec3 c{rng.Uniform() * box[0], rng.Uniform() * box[1], rng.Uniform() * box[2]};
    bool ok = true;
    const Index3 ci{cell_of(c, 0), cell_of(c, 1), cell_of(c, 2)};
    for (std::int64_t z = std::max<std::int64_t>(0, ci[0] - 1); ok && z <= std::min(gn[0] - 1, ci[0] + 1); ++z)
      for (std::int64_t y = std::max<std::int64_t>(0, ci[1] - 1); ok && y <= std::min(gn[1] - 1, ci[1] + 1); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, ci[2] - 1); ok && x <= std::min(gn[2] - 1, ci[2] + 1); ++x)
          for (int j : grid[std::size_t((z * gn[1] + y) * gn[2] + x)]) {
            const Vec3 d{c[0] - centers[j][0], c[1] - centers[j][1], c[2] - centers[j][2]};
            if (Norm(d) < (1.0 - o.overlap) * (r + radii[j])) {
              ok = false;
              break;
            }
          }
    if (!ok) {
      ++failures;
      continue;
    }
    failures = 0;
    grid[std::size_t((ci[0] * gn[1] + ci[1]) * gn[2] + ci[2])].push_back(int(centers.size()));
    centers.push_back(c);
    radii.push_back(r);
    solid += 4.0 / 3.0 * M_PI * r * r * r;
  }
  achieved_fraction_ = solid / box_volume;
  // Calender: compress z by f, flatten each particle with its volume kept.
  for (std::size_t i = 0; i < centers.size(); ++i) {
    SynthParticle p;
    p.id = int(i) + 1;
    p.center_um = {lo[0] + centers[i][0] * f, lo[1] + centers[i][1], lo[2] + centers[i][2]};
    p.semi_axes_um = {radii[i] * f, radii[i] / std::sqrt(f), radii[i] / std::sqrt(f)};
    p.zeta = std::clamp((p.center_um[0] - fov_lo[0]) / (fov_hi[0] - fov_lo[0]), 0.0, 1.0);
    particles_.push_back(p);
  }
  if (particles_.size() > 65535) throw ConfigError("synth", "more than 65535 particles: use a larger radius_um or a smaller shape");
  // Throats: pairs with a small positive centre-line gap whose midpoint is in the field of view.
  for (std::size_t i = 0; i < particles_.size(); ++i)
    for (std::size_t j = i + 1; j < particles_.size(); ++j) {
      const auto& a = particles_[i];
      const auto& b = particles_[j];
      Vec3 d{b.center_um[0] - a.center_um[0], b.center_um[1] - a.center_um[1], b.center_um[2] - a.center_um[2]};
      const double dist = Norm(d);
      if (dist > 2.5 * r_max / std::sqrt(f) + o.throat_max_gap_um) continue;
      const Vec3 u{d[0] / dist, d[1] / dist, d[2] / dist};
      const double gap = dist - Extent(a.semi_axes_um, u) - Extent(b.semi_axes_um, u);
      if (gap <= 0 || gap > o.throat_max_gap_um) continue;
      bool inside = true;
      for (int ax = 0; ax < 3; ++ax) {
        const double m = 0.5 * (a.center_um[ax] + b.center_um[ax]);
        inside = inside && m >= fov_lo[ax] && m <= fov_hi[ax];
      }
      if (inside) throats_.push_back({int(throats_.size()) + 1, a.id, b.id});
    }
  // Damage: crack planes and debond caps for every particle (a stream of its own, so the packing and
  // the throats do not depend on the damage options), then the script.
  CounterRng drng{Mix64(o.seed ^ 0x9e3779b97f4a7c15ull)};
  auto unit = [&] {
    Vec3 v{drng.Normal(), drng.Normal(), drng.Normal()};
    const double n = Norm(v);
    return n > 0 ? Vec3{v[0] / n, v[1] / n, v[2] / n} : Vec3{1, 0, 0};
  };
  auto cross = [](const Vec3& a, const Vec3& b) {
    return Vec3{a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  };
  for (std::size_t i = 0; i < particles_.size(); ++i) {
    CrackFrame cf;
    cf.n1 = unit();
    Vec3 r = unit();
    Vec3 e1 = cross(cf.n1, r);
    while (Norm(e1) < 1e-6) e1 = cross(cf.n1, r = unit());
    const double ne = Norm(e1);
    cf.e1 = {e1[0] / ne, e1[1] / ne, e1[2] / ne};
    cf.e2 = cross(cf.n1, cf.e1);
    cf.n2 = cf.e1;  // the second plane of a 4-fragment crack: perpendicular to the first
    cf.cap = unit();
    crack_frames_.push_back(cf);
  }
  if (!o.damage.empty()) {
    for (const SynthDamage& d : o.damage)
      if (d.particle > int(particles_.size()))
        throw ConfigError("synth", "damage of particle " + std::to_string(d.particle) + ": the packing has " +
                                       std::to_string(particles_.size()) + " particles");
    damage_ = o.damage;
  } else if (o.crack_share > 0 || o.debond_share > 0) {
    for (const SynthParticle& p : particles_) {
      SynthDamage d;
      d.particle = p.id;
      const double u_crack = drng.Uniform(), u_onset = drng.Uniform(), u_frag = drng.Uniform(), u_later = drng.Uniform(),
                   u_count = drng.Uniform(), u_debond = drng.Uniform(), u_donset = drng.Uniform();
      if (u_crack < o.crack_share) {
        d.crack_cycle = 2 + std::min(o.cycles - 2, int(u_onset * (o.cycles - 1)));
        const int later = d.crack_cycle + 1 + int(u_later * 2);
        if (u_frag < o.fragment_share && later <= o.cycles) d.fragment_cycle = later;
        d.fragments = 2 + std::min(2, int(u_count * 3));
      }
      if (u_debond < o.debond_share) d.debond_cycle = 2 + std::min(o.cycles - 2, int(u_donset * (o.cycles - 1)));
      d.debond_loss = o.debond_loss;
      if (d.crack_cycle || d.debond_cycle) damage_.push_back(d);
    }
  }
}

double SynthCampaign::FrameTime(int k) const {
  if (!options_.frame_times_s.empty()) return options_.frame_times_s[std::size_t(k)];
  return options_.frames == 1 ? 0.0 : options_.duration_s * double(k) / double(options_.frames - 1);
}

SynthCampaign::CyclePhase SynthCampaign::Phase(double t) const {
  const SynthOptions& o = options_;
  CyclePhase ph;
  const double u = std::clamp(t / o.duration_s, 0.0, 1.0);
  if (o.cycles == 0) {
    ph.tau = u;
    return ph;
  }
  const double c = u * o.cycles;           // cycles done
  const double whole = std::floor(c);
  const double phi = c - whole;            // position in the cycle, [0, 1)
  ph.cycle = std::min(o.cycles, int(whole) + 1);
  if (u >= 1.0) {                          // the end of the last cycle: discharged
    ph.cycle = o.cycles;
    ph.charging = false;
    ph.tau = 1.0;
  } else if (phi < o.charge_share) {
    ph.tau = phi / o.charge_share;
  } else {
    ph.charging = false;
    ph.tau = (phi - o.charge_share) / (1.0 - o.charge_share);
  }
  return ph;
}

double SynthCampaign::MeanSoc(double t) const {
  const CyclePhase ph = Phase(t);
  const double lithiated = ph.charging ? ph.tau : (options_.cycles == 0 ? ph.tau : 1.0 - ph.tau);
  return options_.soc_start + (options_.soc_end - options_.soc_start) * lithiated;
}

double SynthCampaign::AppliedPressure(double t) const {
  const SynthOptions& o = options_;
  double u = std::clamp(t / o.duration_s, 0.0, 1.0);
  if (o.cycles > 0) u = o.soc_end != o.soc_start ? (MeanSoc(t) - o.soc_start) / (o.soc_end - o.soc_start) : 0.0;
  return o.p_app_start_Pa + (o.p_app_end_Pa - o.p_app_start_Pa) * u;
}

double SynthCampaign::ParticleSoc(const SynthParticle& p, double t) const {
  const CyclePhase ph = Phase(t);
  const double g = options_.soc_gradient * 4.0 * ph.tau * (1.0 - ph.tau) * (ph.charging ? 1.0 : -1.0);
  return std::clamp(MeanSoc(t) + g * (0.5 - p.zeta), 0.0, 1.0);
}

double SynthCampaign::ParticleStrain(const SynthParticle& p, double t) const {
  const SynthOptions& o = options_;
  const double t0 = FrameTime(0);
  const double done = o.cycles > 0 ? (std::clamp(t / o.duration_s, 0.0, 1.0) - std::clamp(t0 / o.duration_s, 0.0, 1.0)) * o.cycles : 0.0;
  return o.strain_per_soc * (ParticleSoc(p, t) - ParticleSoc(p, t0)) + o.residual_strain_per_cycle * done;
}

Vec3 SynthCampaign::Drift(int k) const {
  const Vec3& d = options_.drift_um_per_frame;
  return {d[0] * k, d[1] * k, d[2] * k};
}

AnyVolume Detect(std::vector<float>& grey, const Geometry& g, double blur_sigma_vox, double noise_sigma, std::uint64_t seed,
                 int frame, DataType dtype, ThreadBudget threads) {
  GaussianSmooth(grey.data(), g.shape, {blur_sigma_vox, blur_sigma_vox, blur_sigma_vox}, threads);
  AnyVolume out = MakeVolume(dtype, g);
  RunInArena(threads, [&] {
    tbb::parallel_for(std::int64_t(0), g.voxel_count(), [&](std::int64_t i) {
      double v = grey[std::size_t(i)];
      if (noise_sigma > 0) v += noise_sigma * HashNormal(seed, std::uint64_t(frame), std::uint64_t(i));
      if (dtype == DataType::kUInt16) std::get<Volume<std::uint16_t>>(out)[i] = std::uint16_t(std::clamp(std::lround(v), 0L, 65535L));
      else std::get<Volume<float>>(out)[i] = float(v);
    });
  });
  return out;
}

SynthFrame SynthCampaign::Render(int k, ThreadBudget threads) const {
  if (k < 0 || k >= options_.frames) throw InvalidArgument("synthetic frame " + std::to_string(k) + " does not exist");
  const SynthOptions& o = options_;
  const double t = FrameTime(k);
  const Vec3 drift = Drift(k);
  SynthFrame fr;
  fr.drift_um = drift;
  // Particles as they are at t_k.
  std::vector<Placed> placed, reference;  // reference: frame-0 shapes at the current centres (binder_carried)
  std::vector<double> stretch(particles_.size());
  ResultTable& pt = fr.particles;
  pt.name = "particles";
  const char* pcols[][2] = {{"id", "1"},           {"center_z_um", "um"}, {"center_y_um", "um"}, {"center_x_um", "um"},
                            {"semi_z_um", "um"},   {"semi_y_um", "um"},   {"semi_x_um", "um"},   {"zeta", "1"},
                            {"soc", "1"},          {"eps_v", "1"},        {"stretch", "1"}};
  for (auto& c : pcols) pt.columns.push_back({c[0], c[1], {}});
  for (std::size_t i = 0; i < particles_.size(); ++i) {
    const SynthParticle& p = particles_[i];
    const double ev = ParticleStrain(p, t);
    stretch[i] = std::cbrt(1.0 + ev);
    Placed q;
    q.id = p.id;
    q.max_semi = 0;
    for (int a = 0; a < 3; ++a) {
      q.c[a] = p.center_um[a] + drift[a];
      const double s = p.semi_axes_um[a] * stretch[i];
      q.inv_semi[a] = 1.0 / s;
      q.max_semi = std::max(q.max_semi, s);
    }
    placed.push_back(q);
    if (o.binder_carried) {
      Placed r = q;
      for (int a = 0; a < 3; ++a) r.inv_semi[a] = 1.0 / p.semi_axes_um[a];
      reference.push_back(r);
    }
    const double row[] = {double(p.id), q.c[0], q.c[1], q.c[2], 1 / q.inv_semi[0], 1 / q.inv_semi[1], 1 / q.inv_semi[2],
                          p.zeta, ParticleSoc(p, t), ev, stretch[i]};
    for (std::size_t c = 0; c < pt.columns.size(); ++c) pt.columns[c].values.push_back(row[c]);
  }
  // Damage as it is at t_k.
  const int cycle_now = Phase(t).cycle;
  std::vector<FrameDamage> damage(particles_.size());
  for (const SynthDamage& d : damage_) {
    FrameDamage& f = damage[std::size_t(d.particle - 1)];
    const CrackFrame& cf = crack_frames_[std::size_t(d.particle - 1)];
    f.n1 = cf.n1, f.n2 = cf.n2, f.e1 = cf.e1, f.e2 = cf.e2, f.cap = cf.cap;
    f.half_width = 0.5 * o.crack_width_um;
    f.shape = d.fragment_cycle ? d.fragments : 2;
    if (d.crack_cycle && cycle_now >= d.crack_cycle) f.stage = d.fragment_cycle && cycle_now >= d.fragment_cycle ? 2 : 1;
    f.debonded = d.debond_cycle && cycle_now >= d.debond_cycle;
    f.cap_cos = 1.0 - 2.0 * d.debond_loss;
    f.gap = o.debond_gap_um;
  }
  const std::vector<FrameDamage>* damaged = damage_.empty() ? nullptr : &damage;
  // Throat gaps at t_k.
  ResultTable& tt = fr.throats;
  tt.name = "throats";
  const char* tcols[][2] = {{"id", "1"},       {"particle_a", "1"}, {"particle_b", "1"}, {"mid_z_um", "um"},
                            {"mid_y_um", "um"}, {"mid_x_um", "um"},  {"gap_um", "um"},    {"open", "1"}};
  for (auto& c : tcols) tt.columns.push_back({c[0], c[1], {}});
  for (const SynthThroat& th : throats_) {
    const Placed& a = placed[std::size_t(th.particle_a - 1)];
    const Placed& b = placed[std::size_t(th.particle_b - 1)];
    Vec3 d{b.c[0] - a.c[0], b.c[1] - a.c[1], b.c[2] - a.c[2]};
    const double dist = Norm(d);
    const Vec3 u{d[0] / dist, d[1] / dist, d[2] / dist};
    const Vec3 sa{1 / a.inv_semi[0], 1 / a.inv_semi[1], 1 / a.inv_semi[2]};
    const Vec3 sb{1 / b.inv_semi[0], 1 / b.inv_semi[1], 1 / b.inv_semi[2]};
    const double ea = Extent(sa, u), gap = dist - ea - Extent(sb, u);
    // Midpoint of the gap along the centre line.
    const double m = ea + 0.5 * gap;
    const double row[] = {double(th.id), double(th.particle_a), double(th.particle_b), a.c[0] + u[0] * m,
                          a.c[1] + u[1] * m,  a.c[2] + u[2] * m,  gap, gap > 0 ? 1.0 : 0.0};
    for (std::size_t c = 0; c < tt.columns.size(); ++c) tt.columns[c].values.push_back(row[c]);
  }
  // Time-table row: constant-current charge (and discharge when cycling: step 1 charge, 2 discharge),
  // OCV-like voltage with a small overpotential of the current's sign, the applied pressure.
  const double theta = MeanSoc(t);
  const CyclePhase ph = Phase(t);
  const double ramp_s = o.cycles == 0 ? o.duration_s
                                      : o.duration_s / o.cycles * (ph.charging ? o.charge_share : 1.0 - o.charge_share);
  const double current = (ph.charging ? 1.0 : -1.0) * o.capacity_Ah * (o.soc_end - o.soc_start) * 3600.0 / ramp_s;
  const double overpotential = o.cycles == 0 ? 0.0 : (ph.charging ? 0.02 : -0.02);
  fr.time_row = {{"time_s", t},
                 {"cycle", double(ph.cycle)},
                 {"step", ph.charging ? 1.0 : 2.0},
                 {"voltage_V", 3.45 + 0.75 * theta - 0.05 * std::sin(M_PI * theta) + overpotential},
                 {"current_A", current},
                 {"charge_Ah", o.capacity_Ah * (theta - o.soc_start)},
                 {"soc_ref", theta},
                 {"p_app_Pa", AppliedPressure(t)}};
  // Cell grid over the field of view: each cell lists particles whose box (plus the binder neck and a
  // voxel diagonal) reaches it.
  Geometry g;
  g.shape = o.shape;
  g.spacing_um = o.spacing_um;
  const double diag = Norm(o.spacing_um);
  CellGrid grid;
  grid.h = std::max(o.radius_um, 2.0 * *std::max_element(o.spacing_um.begin(), o.spacing_um.end()));
  for (int a = 0; a < 3; ++a) {
    grid.lo[a] = -0.5 * o.spacing_um[a];
    grid.n[a] = std::max<std::int64_t>(1, std::int64_t(std::ceil(double(o.shape[a]) * o.spacing_um[a] / grid.h)));
  }
  grid.cells.resize(std::size_t(grid.n[0] * grid.n[1] * grid.n[2]));
  const double reach = o.binder_neck_um + diag;
  for (std::size_t i = 0; i < placed.size(); ++i) {
    Index3 c0, c1;
    bool visible = true;
    for (int a = 0; a < 3; ++a) {
      const double e = placed[i].max_semi + reach;
      c0[a] = std::int64_t(std::floor((placed[i].c[a] - e - grid.lo[a]) / grid.h));
      c1[a] = std::int64_t(std::floor((placed[i].c[a] + e - grid.lo[a]) / grid.h));
      if (c1[a] < 0 || c0[a] >= grid.n[a]) visible = false;
      c0[a] = std::max<std::int64_t>(c0[a], 0);
      c1[a] = std::min<std::int64_t>(c1[a], grid.n[a] - 1);
    }
    if (!visible) continue;
    for (std::int64_t z = c0[0]; z <= c1[0]; ++z)
      for (std::int64_t y = c0[1]; y <= c1[1]; ++y)
        for (std::int64_t x = c0[2]; x <= c1[2]; ++x) grid.cells[std::size_t((z * grid.n[1] + y) * grid.n[2] + x)].push_back(int(i));
  }
  // Labels at voxel centres; grey values with partial volume near interfaces.
  fr.phases = Volume<std::uint8_t>(g);
  fr.phases_majority = Volume<std::uint8_t>(g);
  fr.particle_labels = Volume<std::uint16_t>(g);
  std::vector<float> grey(std::size_t(g.voxel_count()));
  const double grey_of[3] = {o.grey_pore, o.grey_active, o.grey_binder};
  const std::vector<Placed>* carried = o.binder_carried ? &reference : nullptr;
  const int ss = o.supersample;
  std::vector<std::atomic<std::int64_t>> crack_voxels(particles_.size());
  const double margin_needed = diag / o.calendering;  // ray distances overestimate for flattened particles
  RunInArena(threads, [&] {
    tbb::parallel_for(std::int64_t(0), g.shape[0], [&](std::int64_t z) {
      for (std::int64_t y = 0; y < g.shape[1]; ++y)
        for (std::int64_t x = 0; x < g.shape[2]; ++x) {
          const Vec3 p{z * o.spacing_um[0], y * o.spacing_um[1], x * o.spacing_um[2]};
          const std::vector<int>& cands = grid.At(p);
          const PointEval e = Evaluate(p, cands, placed, o.binder_neck_um, carried, damaged);
          if (e.cracked) crack_voxels[std::size_t(e.cracked - 1)].fetch_add(1, std::memory_order_relaxed);
          const std::int64_t idx = fr.phases.Offset(z, y, x);
          fr.phases[idx] = e.phase;
          fr.particle_labels[idx] = e.particle;
          double value = grey_of[e.phase];
          fr.phases_majority[idx] = e.phase;
          if (ss > 1 && e.margin < margin_needed) {
            double acc = 0;
            int count[3] = {0, 0, 0};
            for (int a = 0; a < ss; ++a)
              for (int b = 0; b < ss; ++b)
                for (int c = 0; c < ss; ++c) {
                  const Vec3 q{p[0] + ((a + 0.5) / ss - 0.5) * o.spacing_um[0], p[1] + ((b + 0.5) / ss - 0.5) * o.spacing_um[1],
                               p[2] + ((c + 0.5) / ss - 0.5) * o.spacing_um[2]};
                  const int ph = Evaluate(q, cands, placed, o.binder_neck_um, carried, damaged).phase;
                  acc += grey_of[ph];
                  ++count[ph];
                }
            value = acc / (ss * ss * ss);
            int best = e.phase;  // ties go to the phase at the centre
            for (int ph = 0; ph < 3; ++ph)
              if (count[ph] > count[best]) best = ph;
            fr.phases_majority[idx] = std::uint8_t(best);
          }
          grey[std::size_t(idx)] = float(value);
        }
    });
  });
  // Damage columns of the particles table: the stage, fragments, the crack sheet's voxels, and the
  // active-binder contact by voxel faces on the truth labels.
  if (damaged || o.residual_strain_per_cycle != 0) {
    std::vector<double> contact(particles_.size(), 0.0);
    const double face[3] = {o.spacing_um[1] * o.spacing_um[2], o.spacing_um[0] * o.spacing_um[2], o.spacing_um[0] * o.spacing_um[1]};
    for (std::int64_t z = 0; z < g.shape[0]; ++z)
      for (std::int64_t y = 0; y < g.shape[1]; ++y)
        for (std::int64_t x = 0; x < g.shape[2]; ++x) {
          const std::uint16_t l = fr.particle_labels(z, y, x);
          if (!l) continue;
          const std::int64_t c[3] = {z, y, x};
          for (int a = 0; a < 3; ++a)
            for (int s = -1; s <= 1; s += 2) {
              std::int64_t q[3] = {z, y, x};
              q[a] = c[a] + s;
              if (q[a] < 0 || q[a] >= g.shape[a]) continue;
              if (fr.phases(q[0], q[1], q[2]) == kBinder) contact[std::size_t(l - 1)] += face[a];
            }
        }
    const double voxel = o.spacing_um[0] * o.spacing_um[1] * o.spacing_um[2];
    ResultColumn stage{"crack_stage", "1", {}}, frags{"fragments", "1", {}}, cvol{"crack_volume_um3", "um3", {}},
        carea{"crack_area_um2", "um2", {}}, deb{"debonded", "1", {}}, bc{"binder_contact_um2", "um2", {}};
    for (std::size_t i = 0; i < particles_.size(); ++i) {
      const FrameDamage& d = damage[i];
      stage.values.push_back(d.stage);
      frags.values.push_back(d.stage == 2 ? d.shape : 1);
      const double v = double(crack_voxels[i].load()) * voxel;
      cvol.values.push_back(v);
      carea.values.push_back(v / o.crack_width_um);
      deb.values.push_back(d.debonded ? 1.0 : 0.0);
      bc.values.push_back(contact[i]);
    }
    for (ResultColumn* c : {&stage, &frags, &cvol, &carea, &deb, &bc}) pt.columns.push_back(std::move(*c));
  }
  fr.grey = Detect(grey, g, o.blur_sigma_vox, o.snr > 0 ? (o.grey_active - o.grey_pore) / o.snr : 0.0, o.seed, k, o.dtype, threads);
  return fr;
}

}  // namespace op4d
