#include "op4d/synth/campaign.h"

#include <cmath>
#include <map>
#include <numeric>

#include "op4d/frame/geometry/volume_fractions.h"
#include "test_util.h"

using namespace op4d;

namespace {
SynthOptions Small() {
  SynthOptions o;
  o.shape = {24, 32, 32};
  o.spacing_um = {0.8, 0.5, 0.5};  // anisotropic
  o.frames = 4;
  o.radius_um = 2.5;
  return o;
}
const std::vector<double>& Col(const ResultTable& t, const std::string& n) {
  const ResultColumn* c = t.Find(n);
  REQUIRE(c != nullptr);
  return c->values;
}
}  // namespace

TEST_CASE("the same seed gives the same campaign, another seed another", "[synth]") {
  const SynthOptions o = Small();
  const SynthCampaign a(o), b(o);
  SynthOptions o2 = o;
  o2.seed = 2;
  const SynthCampaign c(o2);
  REQUIRE(a.particles().size() == b.particles().size());
  for (int k : {0, 3}) {
    const SynthFrame fa = a.Render(k), fb = b.Render(k);
    REQUIRE(std::get<Volume<std::uint16_t>>(fa.grey).values() == std::get<Volume<std::uint16_t>>(fb.grey).values());
    REQUIRE(fa.phases.values() == fb.phases.values());
    REQUIRE(fa.particle_labels.values() == fb.particle_labels.values());
    REQUIRE(Col(fa.particles, "eps_v") == Col(fb.particles, "eps_v"));
    REQUIRE(Col(fa.throats, "gap_um") == Col(fb.throats, "gap_um"));
    REQUIRE(std::get<Volume<std::uint16_t>>(fa.grey).values() != std::get<Volume<std::uint16_t>>(c.Render(k).grey).values());
  }
}

TEST_CASE("rendering is identical with 1 thread and with all threads", "[synth]") {
  const SynthCampaign a(Small());
  const SynthFrame one = a.Render(2, ThreadBudget{1}), all = a.Render(2, ThreadBudget{0});
  REQUIRE(std::get<Volume<std::uint16_t>>(one.grey).values() == std::get<Volume<std::uint16_t>>(all.grey).values());
  REQUIRE(one.phases.values() == all.phases.values());
}

TEST_CASE("ground truth follows the stated strain-SOC law, drift and cycler log", "[synth]") {
  const SynthOptions o = Small();
  const SynthCampaign c(o);
  REQUIRE(c.particles().size() > 20);
  for (int k = 0; k < o.frames; ++k) {
    const SynthFrame f = c.Render(k);
    const double t = c.FrameTime(k);
    REQUIRE(t == o.duration_s * k / (o.frames - 1));
    const auto& soc = Col(f.particles, "soc");
    const auto& ev = Col(f.particles, "eps_v");
    const auto& st = Col(f.particles, "stretch");
    for (std::size_t i = 0; i < soc.size(); ++i) {
      // eps_v = k (theta_i(t) - theta_i(0)); F = stretch I with stretch^3 = J = 1 + eps_v.
      const double soc0 = o.soc_start;  // G(0) = 0: every particle starts at the mean SOC
      test::RequireClose(ev[i], o.strain_per_soc * (soc[i] - soc0), 1e-12, 1e-15);
      test::RequireClose(st[i] * st[i] * st[i], 1.0 + ev[i], 1e-12);
    }
    // Through-thickness gradient: at mid-campaign the separator side (zeta 0) is ahead by G/2.
    const double tau = t / o.duration_s;
    const double G = o.soc_gradient * 4 * tau * (1 - tau);
    REQUIRE(c.ParticleSoc({0, {}, {}, 0.0}, t) - c.ParticleSoc({0, {}, {}, 1.0}, t) == Approx(G).margin(1e-12));
    // Drift and the cycler row.
    for (int a = 0; a < 3; ++a) REQUIRE(f.drift_um[a] == o.drift_um_per_frame[a] * k);
    std::map<std::string, double> row(f.time_row.begin(), f.time_row.end());
    REQUIRE(row["soc_ref"] == Approx(o.soc_start + (o.soc_end - o.soc_start) * tau));
    // Coulomb counting: charge = current * t (constant current, charge positive).
    REQUIRE(row["charge_Ah"] == Approx(row["current_A"] * t / 3600.0).margin(1e-15));
    REQUIRE(row["p_app_Pa"] == Approx(o.p_app_start_Pa + (o.p_app_end_Pa - o.p_app_start_Pa) * tau));
  }
}

TEST_CASE("swelling narrows the scripted throats and closes some of them", "[synth]") {
  SynthOptions o = Small();
  o.strain_per_soc = 0.15;
  const SynthCampaign c(o);
  REQUIRE(c.throats().size() > 5);
  const SynthFrame first = c.Render(0), last = c.Render(o.frames - 1);
  const auto& g0 = Col(first.throats, "gap_um");
  const auto& g1 = Col(last.throats, "gap_um");
  const auto& open1 = Col(last.throats, "open");
  int closed = 0;
  for (std::size_t i = 0; i < g0.size(); ++i) {
    REQUIRE(g0[i] > 0);             // every throat starts open
    REQUIRE(g1[i] < g0[i]);         // swelling (positive strain) narrows every gap
    REQUIRE(open1[i] == (g1[i] > 0 ? 1.0 : 0.0));
    closed += g1[i] <= 0;
  }
  REQUIRE(closed > 0);
}

TEST_CASE("labels hold the three phases and swelling grows the active phase", "[synth]") {
  const SynthOptions o = Small();
  const SynthCampaign c(o);
  const SynthFrame f0 = c.Render(0), f3 = c.Render(3);
  const VolumeFractions v0 = ComputeVolumeFractions(f0.phases, PhaseTable::Electrode());
  const VolumeFractions v3 = ComputeVolumeFractions(f3.phases, PhaseTable::Electrode());
  REQUIRE(v0.Find("active")->fraction > 0.3);
  REQUIRE(v0.Find("active")->fraction < 0.65);
  REQUIRE(v0.Find("binder")->fraction > 0.02);
  REQUIRE(v3.Find("active")->fraction > v0.Find("active")->fraction);
  // Particle labels cover exactly the active phase.
  for (std::int64_t i = 0; i < f0.phases.size(); ++i) REQUIRE((f0.phases[i] == 1) == (f0.particle_labels[i] != 0));
}

TEST_CASE("the majority phase of a voxel differs from its centre's only at interfaces", "[synth]") {
  const SynthFrame f = SynthCampaign(Small()).Render(0);
  const Index3 n = f.phases.geometry().shape;
  std::int64_t differ = 0, interface = 0;
  for (std::int64_t z = 1; z + 1 < n[0]; ++z)
    for (std::int64_t y = 1; y + 1 < n[1]; ++y)
      for (std::int64_t x = 1; x + 1 < n[2]; ++x) {
        const std::uint8_t c = f.phases(z, y, x);
        bool mixed = false;  // a 26-neighbour's centre is in another phase
        for (int dz = -1; dz <= 1; ++dz)
          for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) mixed = mixed || f.phases(z + dz, y + dy, x + dx) != c;
        interface += mixed;
        if (f.phases_majority(z, y, x) == c) continue;
        ++differ;
        REQUIRE(mixed);
      }
  // Some interface voxels are mostly another phase than the one at their centre, few of them.
  INFO(differ << " of " << interface << " interface voxels differ");
  REQUIRE(differ > 0);
  REQUIRE(differ < interface / 5);
}

// Binder is a material carried by the particles: it moves with the surface it sits on and is not
// created as the gaps close; the re-grown neck rule (the old model) makes binder out of pore.
TEST_CASE("carried binder moves with the particles, re-grown necks widen", "[synth]") {
  SynthOptions o;
  o.seed = 4;
  o.frames = 5;
  o.shape = {32, 48, 48};
  o.snr = 0;
  SynthOptions regrow = o;
  regrow.binder_carried = false;
  const SynthCampaign carried_c(o), regrow_c(regrow);
  auto binder = [](const SynthFrame& f) {
    std::int64_t n = 0;
    for (std::int64_t i = 0; i < f.phases.size(); ++i) n += f.phases[i] == 2;
    return n;
  };
  const SynthFrame c0 = carried_c.Render(0), r0 = regrow_c.Render(0);
  REQUIRE(binder(c0) == binder(r0));  // the same reference frame
  const SynthFrame c4 = carried_c.Render(4), r4 = regrow_c.Render(4);
  INFO("binder voxels: frame 0 " << binder(c0) << ", frame 4 carried " << binder(c4) << ", re-grown " << binder(r4));
  REQUIRE(binder(r4) > 1.03 * binder(c0));
  REQUIRE(binder(c4) <= binder(c0));
  // A binder voxel of frame k lying on particle p's surface (a face neighbour is p) pulls back by p's
  // motion to binder of frame 0, or by rounding to p itself: not to pore.
  auto pulled_back_share = [&](const SynthCampaign& c, const SynthFrame& f0, const SynthFrame& fk, int k) {
    std::map<int, Vec3> centre;
    std::map<int, double> stretch;
    const ResultTable& pk = fk.particles;
    for (std::size_t r = 0; r < pk.rows(); ++r) {
      const int id = int(pk.Find("id")->values[r]);
      centre[id] = {pk.Find("center_z_um")->values[r], pk.Find("center_y_um")->values[r], pk.Find("center_x_um")->values[r]};
      stretch[id] = pk.Find("stretch")->values[r];
    }
    const Vec3 drift = c.Drift(k);
    const Geometry& g = fk.phases.geometry();
    std::int64_t checked = 0, agree = 0;
    for (std::int64_t z = 1; z + 1 < g.shape[0]; ++z)
      for (std::int64_t y = 1; y + 1 < g.shape[1]; ++y)
        for (std::int64_t x = 1; x + 1 < g.shape[2]; ++x) {
          if (fk.phases(z, y, x) != 2) continue;
          for (int a = 0; a < 3; ++a)
            for (int s : {-1, 1}) {
              Index3 q{z, y, x};
              q[a] += s;
              const int id = fk.particle_labels(q[0], q[1], q[2]);
              if (id == 0) continue;
              const double p[3] = {z * g.spacing_um[0], y * g.spacing_um[1], x * g.spacing_um[2]};
              Index3 back;
              bool inside = true;
              for (int b = 0; b < 3; ++b) {
                const double X = centre[id][b] - drift[b] + (p[b] - centre[id][b]) / stretch[id];
                back[b] = std::llround(X / g.spacing_um[b]);
                inside = inside && back[b] >= 0 && back[b] < g.shape[b];
              }
              if (!inside) continue;
              ++checked;
              agree += f0.phases(back[0], back[1], back[2]) != 0;
            }
        }
    REQUIRE(checked > 1000);
    return double(agree) / double(checked);
  };
  const double carried_share = pulled_back_share(carried_c, c0, c4, 4);
  const double regrown_share = pulled_back_share(regrow_c, r0, r4, 4);
  INFO("surface binder of frame 4 pulled back to binder or its particle: carried " << carried_share << ", re-grown "
                                                                                  << regrown_share);
  REQUIRE(carried_share >= 0.93);
  REQUIRE(regrown_share < carried_share - 0.03);
}

TEST_CASE("noise has the requested SNR", "[synth]") {
  SynthOptions o = Small();
  o.blur_sigma_vox = 0;
  SynthOptions clean = o;
  clean.snr = 0;
  const auto noisy = std::get<Volume<std::uint16_t>>(SynthCampaign(o).Render(1).grey);
  const auto ref = std::get<Volume<std::uint16_t>>(SynthCampaign(clean).Render(1).grey);
  double s = 0, s2 = 0;
  for (std::int64_t i = 0; i < noisy.size(); ++i) {
    const double d = double(noisy[i]) - double(ref[i]);
    s += d;
    s2 += d * d;
  }
  const double n = double(noisy.size());
  const double sd = std::sqrt(s2 / n - (s / n) * (s / n));
  // sigma = (active - pore) / SNR = 22000 / 10; 24576 samples give ~0.5 % standard error.
  test::RequireClose(sd, (o.grey_active - o.grey_pore) / o.snr, 0.03);
}

TEST_CASE("bad synthetic options are refused with the reason", "[synth][errors]") {
  SynthOptions o = Small();
  o.calendering = 0;
  REQUIRE_THROWS_WITH(SynthCampaign(o), Catch::Contains("calendering"));
  o = Small();
  o.frame_times_s = {0, 10, 5, 20};
  REQUIRE_THROWS_WITH(SynthCampaign(o), Catch::Contains("frame_times_s must increase"));
  o = Small();
  o.frame_times_s = {0, 100, 1000, 1010};  // uneven spacing is fine
  REQUIRE(SynthCampaign(o).FrameTime(3) == 1010);
}

TEST_CASE("cycling: SOC up and down each cycle, p_app following it, the built-in campaign's schedule", "[synth]") {
  const SynthOptions o = SynthOptions::BuiltIn();
  std::string why;
  REQUIRE(o.IsValid(&why));
  REQUIRE(o.cycles == 2);
  const SynthCampaign c(o);
  const double want_soc[] = {0.05, 0.5, 0.95, 0.05, 0.5, 0.95, 0.05};
  const double want_p[] = {20000, 50000, 80000, 20000, 50000, 80000, 20000};
  for (int k = 0; k < o.frames; ++k) {
    const double t = o.duration_s * k / (o.frames - 1);
    INFO("frame " << k);
    CHECK(c.MeanSoc(t) == Approx(want_soc[k]).margin(1e-9));
    CHECK(c.AppliedPressure(t) == Approx(want_p[k]).margin(1e-6));
  }
  // Charging for the first two thirds of each cycle, then discharging.
  CHECK(c.Phase(0.25 * o.duration_s).charging);
  CHECK(c.Phase(0.25 * o.duration_s).cycle == 1);
  CHECK_FALSE(c.Phase(0.45 * o.duration_s).charging);
  CHECK(c.Phase(0.6 * o.duration_s).cycle == 2);
  // 18 voxels per particle radius, SNR 10, a carried binder.
  CHECK(o.radius_um / o.spacing_um[0] == Approx(18));
  CHECK(o.snr == 10);
  CHECK(o.binder_neck_um > 0);
  // Without cycles the old single ramp.
  SynthOptions ramp;
  CHECK(ramp.cycles == 0);
  const SynthCampaign r(ramp);
  CHECK(r.MeanSoc(0) == Approx(ramp.soc_start));
  CHECK(r.MeanSoc(ramp.duration_s) == Approx(ramp.soc_end));
}

TEST_CASE("synth damage: a scripted crack opens inside the particle then splits it, debonding removes its binder, residual swelling adds up",
          "[synth][damage]") {
  SynthOptions o;
  o.seed = 3;
  o.shape = {48, 64, 64};
  o.spacing_um = {0.25, 0.25, 0.25};
  o.radius_um = 2.5;
  o.cycles = 3;
  o.frames = 4;  // cycles 1, 2, 3, 3
  o.drift_um_per_frame = {0, 0, 0};
  o.snr = 0;
  o.residual_strain_per_cycle = 0.004;
  const SynthCampaign plain(o);
  // The particle nearest the view's centre.
  int id = 0;
  double best = 1e300;
  for (const SynthParticle& p : plain.particles()) {
    const double d = std::pow(p.center_um[0] - 6, 2) + std::pow(p.center_um[1] - 8, 2) + std::pow(p.center_um[2] - 8, 2);
    if (d < best) best = d, id = p.id;
  }
  SynthDamage d;
  d.particle = id;
  d.crack_cycle = 2;
  d.fragment_cycle = 3;
  d.fragments = 4;
  d.debond_cycle = 2;
  d.debond_loss = 1.0;
  o.damage = {d};
  const SynthCampaign c(o);
  REQUIRE(c.damage().size() == 1);
  std::vector<SynthFrame> f;
  for (int k = 0; k < 4; ++k) f.push_back(c.Render(k));
  auto col = [&](int k, const char* name) { return f[std::size_t(k)].particles.Find(name)->values[std::size_t(id - 1)]; };
  CHECK(col(0, "crack_stage") == 0);
  CHECK(col(0, "crack_volume_um3") == 0);
  CHECK(col(1, "crack_stage") == 1);
  CHECK(col(1, "fragments") == 1);
  CHECK(col(1, "crack_volume_um3") > 0.5);
  CHECK(col(3, "crack_stage") == 2);
  CHECK(col(3, "fragments") == 4);
  CHECK(col(3, "crack_volume_um3") > col(1, "crack_volume_um3"));
  CHECK(col(3, "crack_area_um2") == Approx(col(3, "crack_volume_um3") / o.crack_width_um));
  // Debonding over every direction: the binder within 0.5 um of the particle goes.
  CHECK(col(0, "binder_contact_um2") > 5);
  CHECK(col(1, "debonded") == 1);
  CHECK(col(1, "binder_contact_um2") < 0.2 * col(0, "binder_contact_um2"));
  // The crack voxels are pore in the labels and outside the particle's label; an undamaged
  // particle's voxels are the same as without the script (frame 3: cycle 3, the same SOC state).
  const SynthFrame plain3 = plain.Render(3);
  std::int64_t differ_elsewhere = 0, cracked = 0;
  for (std::size_t i = 0; i < plain3.particle_labels.size(); ++i) {
    const bool mine = plain3.particle_labels[i] == id;
    if (mine && f[3].particle_labels[i] == 0) {
      ++cracked;
      CHECK(f[3].phases[i] == 0);
    }
    if (!mine && plain3.particle_labels[i] != 0 && f[3].particle_labels[i] != plain3.particle_labels[i]) ++differ_elsewhere;
  }
  CHECK(cracked == std::llround(col(3, "crack_volume_um3") / (0.25 * 0.25 * 0.25)));
  CHECK(differ_elsewhere == 0);
  // Residual swelling: eps_v at the end of the campaign (back at the starting SOC) is 3 cycles' worth.
  for (const SynthParticle& p : c.particles()) {
    REQUIRE(c.ParticleSoc(p, c.FrameTime(3)) == Approx(c.ParticleSoc(p, c.FrameTime(0))));
    REQUIRE(c.ParticleStrain(p, c.FrameTime(3)) == Approx(3 * 0.004));
  }
  SynthOptions bad = o;
  bad.damage[0].fragment_cycle = 2;
  std::string why;
  CHECK_FALSE(bad.IsValid(&why));
  CHECK(why.find("fragment_cycle must follow crack_cycle") != std::string::npos);
  bad = o;
  bad.damage[0].particle = 100000;
  CHECK_THROWS_WITH(SynthCampaign(bad), Catch::Contains("damage of particle 100000"));
}
