#include "op4d/synth/throat_lattice.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "op4d/core/error.h"
#include "op4d/core/random.h"

namespace op4d {

bool ThroatLatticeOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  for (int a = 0; a < 3; ++a) {
    if (bodies[a] < 1) return fail("bodies: at least 1 along every axis");
    if (!(spacing_um[a] > 0) || !std::isfinite(spacing_um[a])) return fail("spacing: must be > 0 um");
    if (!std::isfinite(drift_um_per_frame[a])) return fail("drift: must be finite");
  }
  if (!(pitch_um > 0)) return fail("pitch: must be > 0 um");
  if (!(body_radius_um > 0) || !(2 * body_radius_um < pitch_um)) return fail("body radius: must be in (0, pitch / 2)");
  if (!(narrow_radius_um > 0) || !(narrow_radius_um <= wide_radius_um) || !(wide_radius_um < body_radius_um))
    return fail("throat radii: need 0 < narrow <= wide < body radius");
  if (!(narrow_share >= 0 && narrow_share <= 1)) return fail("narrow share: must be in [0, 1]");
  if (!(closure_share >= 0 && closure_share <= 1)) return fail("closure share: must be in [0, 1]");
  if (!(margin_um >= 0)) return fail("margin: must be >= 0 um");
  if (!(face_length_um >= 0)) return fail("face throat length: must be >= 0 um");
  if (frames < 1) return fail("frames: at least 1");
  if (!frame_times_s.empty()) {
    if (int(frame_times_s.size()) != frames) return fail("frame times: one per frame");
    for (std::size_t k = 0; k < frame_times_s.size(); ++k)
      if (!std::isfinite(frame_times_s[k]) || (k > 0 && !(frame_times_s[k] > frame_times_s[k - 1])))
        return fail("frame times: must be finite and increasing (frame " + std::to_string(k) + ")");
  }
  if (!(duration_s > 0)) return fail("duration: must be > 0 s");
  if (!p_app_Pa.empty()) {
    if (int(p_app_Pa.size()) != frames) return fail("pressures: one per frame");
    for (std::size_t k = 0; k < p_app_Pa.size(); ++k)
      if (!(p_app_Pa[k] >= 0) || !std::isfinite(p_app_Pa[k])) return fail("pressures: frame " + std::to_string(k) + " must be a finite pressure >= 0 Pa");
  }
  if (!(design_gamma_N_per_m > 0)) return fail("design surface tension: must be > 0 N/m");
  if (!(design_theta_deg >= 0 && design_theta_deg <= 180) || std::abs(std::cos(design_theta_deg * M_PI / 180)) < 1e-6)
    return fail("design contact angle: must be in [0, 180] degrees and not 90");
  if (!(snr >= 0) || !(blur_sigma_vox >= 0) || supersample < 1) return fail("rendering: snr >= 0, blur >= 0, supersample >= 1");
  if (dtype != DataType::kUInt16 && dtype != DataType::kFloat32) return fail("dtype: uint16 or float32");
  return true;
}

SynthThroatLattice::SynthThroatLattice(const ThroatLatticeOptions& options) : options_(options) {
  std::string why;
  if (!options_.IsValid(&why)) throw ConfigError("throat lattice", why);
  const ThroatLatticeOptions& o = options_;
  const Index3& n = o.bodies;
  for (int a = 0; a < 3; ++a) {
    const double extent = double(n[a]) * o.pitch_um + 2 * (a == 0 ? o.face_length_um : o.margin_um);
    shape_[a] = std::max<std::int64_t>(1, std::int64_t(std::lround(extent / o.spacing_um[a])));
  }
  auto body = [&](std::int64_t z, std::int64_t y, std::int64_t x) { return int((z * n[1] + y) * n[2] + x); };
  const int faces = int(body_count());
  CounterRng rng{Mix64(o.seed ^ 0x7468726f6174ull)};
  // Every throat: lower body index lo along its axis (-1 and n - 1 along z are the face throats).
  for (int a = 0; a < 3; ++a) {
    const int b = (a + 1) % 3, c = (a + 2) % 3;
    lookup_[a].assign(std::size_t((n[a] + 1) * n[b] * n[c]), 0);
    for (std::int64_t lo = (a == 0 ? -1 : 0); lo <= (a == 0 ? n[a] - 1 : n[a] - 2); ++lo)
      for (std::int64_t i = 0; i < n[b]; ++i)
        for (std::int64_t j = 0; j < n[c]; ++j) {
          Index3 lower, upper;
          lower[a] = lo;
          upper[a] = lo + 1;
          lower[b] = upper[b] = i;
          lower[c] = upper[c] = j;
          LatticeThroat t;
          t.id = int(throats_.size()) + 1;
          t.axis = a;
          t.face = lo < 0 || lo + 1 >= n[a];
          t.body_a = lo < 0 ? faces : body(lower[0], lower[1], lower[2]);
          t.body_b = lo + 1 >= n[a] ? faces + 1 : body(upper[0], upper[1], upper[2]);
          const double u_narrow = rng.Uniform(), u_close = rng.Uniform(), u_a = rng.Uniform(), u_b = rng.Uniform();
          t.narrow = !t.face && u_narrow < o.narrow_share;
          t.radius_um = t.narrow ? o.narrow_radius_um : o.wide_radius_um;
          if (!t.face && o.frames > 1 && u_close < o.closure_share) {
            t.close_frame = 1 + std::min(o.frames - 2, int(u_a * (o.frames - 1)));
            const int after = o.frames - t.close_frame;  // choices close + 1 .. frames
            const int b_frame = t.close_frame + 1 + std::min(after - 1, int(u_b * after));
            t.reopen_frame = b_frame >= o.frames ? -1 : b_frame;
          }
          lookup_[a][std::size_t(((lo + 1) * n[b] + i) * n[c] + j)] = t.id;
          throats_.push_back(t);
        }
  }
}

double SynthThroatLattice::FrameTime(int k) const {
  if (!options_.frame_times_s.empty()) return options_.frame_times_s[std::size_t(k)];
  return options_.frames == 1 ? 0.0 : options_.duration_s * double(k) / double(options_.frames - 1);
}

double SynthThroatLattice::PressurePa(int k) const {
  const ThroatLatticeOptions& o = options_;
  if (!o.p_app_Pa.empty()) return o.p_app_Pa[std::size_t(k)];
  const double c = 2 * o.design_gamma_N_per_m * std::abs(std::cos(o.design_theta_deg * M_PI / 180)) * 1e6;
  const double wide = c / o.wide_radius_um, narrow = c / o.narrow_radius_um;
  const int high = o.frames / 2;
  return o.frames >= 4 && (k == high || k == high + 1) ? std::sqrt(wide * narrow) : 0.4 * wide;
}

Vec3 SynthThroatLattice::Drift(int k) const {
  const Vec3& d = options_.drift_um_per_frame;
  return {d[0] * k, d[1] * k, d[2] * k};
}

double SynthThroatLattice::RadiusAt(const LatticeThroat& t, int k) const {
  const bool shut = t.close_frame >= 0 && k >= t.close_frame && (t.reopen_frame < 0 || k < t.reopen_frame);
  return shut ? 0.0 : t.radius_um;
}

Vec3 SynthThroatLattice::BodyCentre(int body, int k) const {
  const ThroatLatticeOptions& o = options_;
  const Index3& n = o.bodies;
  const std::int64_t idx[3] = {body / (n[1] * n[2]), (body / n[2]) % n[1], body % n[2]};
  const Vec3 d = Drift(k);
  Vec3 c;
  for (int a = 0; a < 3; ++a) c[a] = (a == 0 ? o.face_length_um : o.margin_um) + (double(idx[a]) + 0.5) * o.pitch_um - 0.5 * o.spacing_um[a] + d[a];
  return c;
}

std::pair<Vec3, Vec3> SynthThroatLattice::ThroatEnds(const LatticeThroat& t, int k) const {
  const ThroatLatticeOptions& o = options_;
  const int faces = int(body_count());
  // Where the cylinder leaves a body: the ring at sqrt(R^2 - r^2) from the body centre along the axis.
  const double leave = std::sqrt(o.body_radius_um * o.body_radius_um - t.radius_um * t.radius_um);
  auto out_of = [&](int body, double sign) {
    Vec3 c = BodyCentre(body, k);
    c[t.axis] += sign * leave;
    return c;
  };
  if (t.body_a == faces) {
    Vec3 face = BodyCentre(t.body_b, k);
    face[0] = -0.5 * o.spacing_um[0];
    return {face, out_of(t.body_b, -1)};
  }
  if (t.body_b == faces + 1) {
    Vec3 face = BodyCentre(t.body_a, k);
    face[0] = (double(shape_[0]) - 0.5) * o.spacing_um[0];
    return {out_of(t.body_a, +1), face};
  }
  return {out_of(t.body_a, +1), out_of(t.body_b, -1)};
}

Vec3 SynthThroatLattice::ThroatCentre(const LatticeThroat& t, int k) const {
  const auto [a, b] = ThroatEnds(t, k);
  return {0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1]), 0.5 * (a[2] + b[2])};
}

bool SynthThroatLattice::Pore(const Vec3& p, int k) const {
  const ThroatLatticeOptions& o = options_;
  const Index3& n = o.bodies;
  const Vec3 origin = BodyCentre(0, k);
  double q[3];
  std::int64_t nearest[3];
  bool inside = true;
  for (int a = 0; a < 3; ++a) {
    q[a] = (p[a] - origin[a]) / o.pitch_um;
    nearest[a] = std::int64_t(std::lround(q[a]));
    inside = inside && nearest[a] >= 0 && nearest[a] < n[a];
  }
  if (inside) {
    double d2 = 0;
    for (int a = 0; a < 3; ++a) d2 += (q[a] - double(nearest[a])) * (q[a] - double(nearest[a]));
    if (d2 * o.pitch_um * o.pitch_um < o.body_radius_um * o.body_radius_um) return true;
  }
  for (int a = 0; a < 3; ++a) {
    const int b = (a + 1) % 3, c = (a + 2) % 3;
    if (nearest[b] < 0 || nearest[b] >= n[b] || nearest[c] < 0 || nearest[c] >= n[c]) continue;
    std::int64_t lo = std::int64_t(std::floor(q[a]));
    if (a == 0) lo = std::clamp<std::int64_t>(lo, -1, n[a] - 1);
    else if (lo < 0 || lo > n[a] - 2) continue;
    const int id = lookup_[a][std::size_t(((lo + 1) * n[b] + nearest[b]) * n[c] + nearest[c])];
    if (id == 0) continue;
    const double r = RadiusAt(throats_[std::size_t(id - 1)], k);
    const double db = q[b] - double(nearest[b]), dc = q[c] - double(nearest[c]);
    if ((db * db + dc * dc) * o.pitch_um * o.pitch_um < r * r) return true;
  }
  return false;
}

SynthFrame SynthThroatLattice::Render(int k, ThreadBudget threads) const {
  if (k < 0 || k >= options_.frames) throw InvalidArgument("lattice frame " + std::to_string(k) + " does not exist");
  const ThroatLatticeOptions& o = options_;
  SynthFrame fr;
  fr.drift_um = Drift(k);
  Geometry g;
  g.shape = shape_;
  g.spacing_um = o.spacing_um;
  fr.phases = Volume<std::uint8_t>(g);
  std::vector<float> grey(std::size_t(g.voxel_count()));
  const int ss = o.supersample;
  RunInArena(threads, [&] {
    tbb::parallel_for(std::int64_t(0), g.shape[0], [&](std::int64_t z) {
      for (std::int64_t y = 0; y < g.shape[1]; ++y)
        for (std::int64_t x = 0; x < g.shape[2]; ++x) {
          const Vec3 p{z * o.spacing_um[0], y * o.spacing_um[1], x * o.spacing_um[2]};
          const std::int64_t idx = fr.phases.Offset(z, y, x);
          fr.phases[idx] = Pore(p, k) ? 0 : 1;
          double acc = 0;
          for (int a = 0; a < ss; ++a)
            for (int b = 0; b < ss; ++b)
              for (int c = 0; c < ss; ++c) {
                const Vec3 s{p[0] + ((a + 0.5) / ss - 0.5) * o.spacing_um[0], p[1] + ((b + 0.5) / ss - 0.5) * o.spacing_um[1],
                             p[2] + ((c + 0.5) / ss - 0.5) * o.spacing_um[2]};
                acc += Pore(s, k) ? o.grey_pore : o.grey_solid;
              }
          grey[std::size_t(idx)] = float(acc / (ss * ss * ss));
        }
    });
  });
  fr.grey = Detect(grey, g, o.blur_sigma_vox, o.snr > 0 ? (o.grey_solid - o.grey_pore) / o.snr : 0.0, o.seed, k, o.dtype, threads);
  fr.time_row = {{"time_s", FrameTime(k)}, {"cycle", 1}, {"step", 1}, {"p_app_Pa", PressurePa(k)}};
  ResultTable& tt = fr.throats;
  tt.name = "throats";
  const char* cols[][2] = {{"id", "1"},          {"body_a", "1"},       {"body_b", "1"},       {"axis", "1"},
                           {"mid_z_um", "um"},    {"mid_y_um", "um"},    {"mid_x_um", "um"},    {"end_a_z_um", "um"},
                           {"end_a_y_um", "um"},  {"end_a_x_um", "um"},  {"end_b_z_um", "um"},  {"end_b_y_um", "um"},
                           {"end_b_x_um", "um"},  {"radius_um", "um"},   {"narrow", "1"},       {"face", "1"}};
  for (auto& c : cols) tt.columns.push_back({c[0], c[1], {}});
  for (const LatticeThroat& t : throats_) {
    const Vec3 m = ThroatCentre(t, k);
    const auto [ea, eb] = ThroatEnds(t, k);
    const double row[] = {double(t.id), double(t.body_a), double(t.body_b), double(t.axis), m[0], m[1], m[2], ea[0], ea[1],
                          ea[2], eb[0], eb[1], eb[2], RadiusAt(t, k), t.narrow ? 1.0 : 0.0, t.face ? 1.0 : 0.0};
    for (std::size_t c = 0; c < tt.columns.size(); ++c) tt.columns[c].values.push_back(row[c]);
  }
  return fr;
}

}  // namespace op4d
