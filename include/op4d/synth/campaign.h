// Synthetic operando campaigns with exact ground truth: the reference for op4d's tests.
//
// Geometry. Polydisperse ellipsoidal active particles are packed by random sequential addition
// (log-normal radii, a bounded overlap so particles touch) in a box larger than the field of view
// (so drift never empties the view). Calendering flattens particles and the packing along z with
// volume kept: semi-axes (f r, r/sqrt(f), r/sqrt(f)). Binder (carbon-binder domain) fills the necks
// between particles: a pore point whose two nearest particle surfaces are closer together than
// binder_neck_um becomes binder. Everything else is pore. In later frames either the neck rule is
// applied again to the swollen particles (binder_carried false: necks widen as gaps close, binder
// volume grows) or binder is a material carried by the particles it binds (binder_carried true): a
// point is binder when its pull-back to frame 0 is, the pull-back blending the motions of its two
// nearest particles by distance, so binder on a particle's surface moves exactly with that particle.
//
// Time. Frame k is taken at t_k (uniform over duration_s unless frame_times_s is given). Without
// cycles (cycles = 0) the mean SOC ramps linearly from soc_start to soc_end over the campaign
// (constant-current charge, current positive). With cycles = C >= 1 the campaign is C cycles of
// duration_s / C each: a constant-current charge from soc_start to soc_end over the first charge_share
// of the cycle, then a constant-current discharge back to soc_start. In every half-cycle (the one
// ramp when not cycling) of normalised progress tau in [0, 1], particle i at normalised depth zeta_i
// (0 = separator face z = 0, 1 = current-collector face) has
//   theta_i(t) = clamp(theta_mean(t) + s G(t) (0.5 - zeta_i), 0, 1),  G(t) = soc_gradient * 4 tau (1 - tau),
// s = +1 on charge and -1 on discharge: the separator side runs ahead (lithiates first on charge,
// delithiates first on discharge) mid-ramp and the gradient relaxes at the ramp's ends.
// Each particle swells about its own centre with the linear law eps_v = strain_per_soc (theta_i(t) - theta_i(0)),
// so F_i = (1 + eps_v)^(1/3) I. The whole sample drifts rigidly by drift_um_per_frame * k.
// The applied gas pressure ramps linearly from p_app_start_Pa to p_app_end_Pa over the campaign
// without cycles; with cycles it follows the charge, p_app = p_start + (p_end - p_start) u with
// u = (theta_mean - soc_start) / (soc_end - soc_start): gas pressure rising on charge and released on
// discharge, so throats are invaded and drain again every cycle.
//
// Throats. Neighbouring particle pairs with a small initial gap along their centre line are the
// scripted throats: their gap width at every frame is exact (centre-line gap of the ellipsoids), and a
// throat closes when swelling brings the gap to zero.
//
// Damage across cycles (cycles >= 2; issue 24). Chosen particles crack, fragment and debond at
// scripted cycles (SynthDamage: drawn from the seed by crack_share / debond_share, or listed in
// `damage`). A crack is a sheet of pore of width crack_width_um through the particle's centre: one
// plane (2 fragments), three half-planes about one axis at 120 degrees (a branched crack, 3
// fragments) or two perpendicular planes (4 fragments). From crack_cycle the sheet is open inside
// the particle only (normalised radius < kInnerCrackRadius: the rim holds the particle together, one
// piece with an internal low-density sheet); from fragment_cycle it runs through the particle and
// splits it. A debonding particle loses its binder over a cap of its surface (the directions from
// its centre within the cap, a share debond_loss of the sphere's directions): binder closer to the
// particle's surface than debond_gap_um there becomes pore, from debond_cycle on. Irreversible
// swelling: every particle's eps_v gains residual_strain_per_cycle per cycle done (t / duration *
// cycles). The truth's particles table carries, per particle and frame, crack_stage (0 intact, 1
// cracked, 2 fragmented), fragments, crack_volume_um3 (sheet voxels at voxel centres), crack_area_um2
// (that volume over the width: one face of the sheet), debonded and binder_contact_um2 (active-binder
// voxel faces of the particle on the truth labels).
//
// Rendering. Grey levels per phase, partial volume by supersampling voxels near interfaces, Gaussian
// blur (PSF, sigma in voxels), additive Gaussian noise with SNR = (grey_active - grey_pore) / sigma_noise.
// Noise comes from a counter-based hash of (seed, frame, voxel): identical for any thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

// The scripted damage of one particle (cycle numbers 1-based; 0 = never).
struct SynthDamage {
  int particle = 0;        // particle id
  int crack_cycle = 0;     // first cycle with the internal crack
  int fragment_cycle = 0;  // first cycle with the through crack (> crack_cycle), 0 = never fragments
  int fragments = 2;       // 2, 3 or 4: the crack's geometry (one plane, branched, two planes)
  int debond_cycle = 0;    // first cycle with the binder lost over the cap
  double debond_loss = 0.5;  // share of the surface directions that lose their binder
};

// Normalised radius (1 = the particle's surface) within which a crack is open before it fragments.
inline constexpr double kInnerCrackRadius = 0.7;

struct SynthOptions {
  std::uint64_t seed = 1;
  Index3 shape{64, 96, 96};            // field of view in voxels (z, y, x)
  Vec3 spacing_um{0.5, 0.5, 0.5};      // voxel size (z, y, x), µm; anisotropic allowed
  int frames = 5;                      // number of frames
  std::vector<double> frame_times_s;   // explicit frame times (s), increasing; empty = uniform

  // Microstructure
  double radius_um = 3.0;              // median particle radius, µm
  double radius_sigma = 0.25;          // log-normal sigma of the radius
  double solid_fraction = 0.45;        // target active-material volume fraction of the packing
  double overlap = 0.12;               // allowed overlap at placement, fraction of r_i + r_j
  double calendering = 1.0;            // z compression factor f in (0, 1]; 1 = no calendering
  double binder_neck_um = 1.4;         // binder where the two nearest surfaces are closer than this, µm
  bool binder_carried = true;          // binder is material moved by the particles (see above); false:
                                       // the neck rule is re-applied each frame, so necks grow as gaps close

  // Rendering
  double grey_pore = 8000, grey_active = 30000, grey_binder = 18000;  // mean grey values
  double snr = 10.0;                   // (grey_active - grey_pore) / noise sigma; <= 0 means no noise
  double blur_sigma_vox = 0.6;         // Gaussian PSF sigma in voxels; 0 = none
  int supersample = 3;                 // sub-samples per axis for partial volume near interfaces
  DataType dtype = DataType::kUInt16;  // uint16 or float32

  // Time series
  double duration_s = 7200.0;          // campaign duration
  double soc_start = 0.05, soc_end = 0.95;
  double soc_gradient = 0.3;           // SOC difference separator − collector at mid-campaign (<= 0.5)
  double strain_per_soc = 0.06;        // k in eps_v = k * delta_theta (volumetric)
  Vec3 drift_um_per_frame{0.25, -0.4, 0.6};  // rigid translation per frame (z, y, x), µm
  double p_app_start_Pa = 1.0e5, p_app_end_Pa = 2.5e5;  // applied gas pressure ramp
  int cycles = 0;                      // charge/discharge cycles over duration_s; 0 = one charge ramp
  double charge_share = 0.5;           // share of each cycle spent charging, in (0, 1)
  double capacity_Ah = 2.0e-3;         // cell capacity (sets current and charge columns)
  double throat_max_gap_um = 1.5;      // pairs with initial centre-line gap in (0, this] are throats

  // Damage across cycles (see the header comment; needs cycles >= 2 when any is asked for)
  double crack_share = 0;              // share of particles that crack (onset cycle uniform in 2..cycles)
  double fragment_share = 0.7;         // of the cracked, the share that splits 1-2 cycles later (if in the campaign)
  double crack_width_um = 0.5;         // opening of the crack sheet, µm
  double debond_share = 0;             // share of particles that debond (onset uniform in 2..cycles)
  double debond_loss = 0.5;            // share of a debonding particle's surface directions losing binder
  double debond_gap_um = 0.5;          // width of the gap opened between particle and binder, µm
  double residual_strain_per_cycle = 0;  // irreversible eps_v per cycle, every particle
  std::vector<SynthDamage> damage;     // explicit script (replaces the drawn one when not empty)

  bool IsValid(std::string* why) const;

  // The built-in example campaign (op4d demo, and the synth step's built-in option): sized for the
  // per-frame kernels' own limits (README, bench/RESULTS.md "The main job").
  static SynthOptions BuiltIn();
};

struct SynthParticle {
  int id = 0;                 // 1..N; also the value in the particle label volume
  Vec3 center_um{};           // reference (frame 0) centre, before drift (z, y, x)
  Vec3 semi_axes_um{};        // reference semi-axes (z, y, x)
  double zeta = 0;            // normalised depth: 0 separator face, 1 current-collector face
};

struct SynthThroat {
  int id = 0;
  int particle_a = 0, particle_b = 0;
};

// One rendered frame with its ground truth.
struct SynthFrame {
  AnyVolume grey;                         // what the "beamline" saw
  Volume<std::uint8_t> phases;            // 0 pore, 1 active, 2 binder (PhaseTable::Electrode()), at voxel centres
  Volume<std::uint8_t> phases_majority;   // the phase filling most of each voxel (of the supersamples; ties: centre)
  Volume<std::uint16_t> particle_labels;  // particle id at each voxel centre, 0 outside particles
  std::vector<std::pair<std::string, double>> time_row;  // time-table columns for this frame
  ResultTable particles;                  // per particle: id, centre, semi-axes, soc, eps_v, stretch
  ResultTable throats;                    // per throat: id, a, b, midpoint, gap, open
  Vec3 drift_um{};                        // rigid translation of this frame relative to frame 0
};

// The detector both synthetic campaigns render through: the PSF (Gaussian blur of blur_sigma_vox
// voxels) applied to `grey` in place, additive Gaussian noise of noise_sigma from the counter-based
// hash of (seed, frame, voxel) (identical for any thread count), then the voxel type (uint16 rounded
// and clamped, or float32).
AnyVolume Detect(std::vector<float>& grey, const Geometry& g, double blur_sigma_vox, double noise_sigma, std::uint64_t seed,
                 int frame, DataType dtype, ThreadBudget threads = {});

class SynthCampaign {
 public:
  explicit SynthCampaign(const SynthOptions& options);  // packs the particles; throws ConfigError

  const SynthOptions& options() const { return options_; }
  int frame_count() const { return options_.frames; }
  double FrameTime(int k) const;
  const std::vector<SynthParticle>& particles() const { return particles_; }
  const std::vector<SynthThroat>& throats() const { return throats_; }
  // The damage script: one entry per damaged particle, by particle id.
  const std::vector<SynthDamage>& damage() const { return damage_; }
  double achieved_solid_fraction() const { return achieved_fraction_; }

  double MeanSoc(double t) const;
  // Where t lies in the cycling: cycle number (1-based), charging or not, and the progress tau in
  // [0, 1] through the current half-cycle (the whole campaign without cycles).
  struct CyclePhase {
    int cycle = 1;
    bool charging = true;
    double tau = 0;
  };
  CyclePhase Phase(double t) const;
  double AppliedPressure(double t) const;  // p_app at t, Pa
  double ParticleSoc(const SynthParticle& p, double t) const;
  double ParticleStrain(const SynthParticle& p, double t) const;  // eps_v relative to frame 0
  Vec3 Drift(int k) const;

  SynthFrame Render(int k, ThreadBudget threads = {}) const;

 private:
  SynthOptions options_;
  std::vector<SynthParticle> particles_;
  std::vector<SynthThroat> throats_;
  std::vector<SynthDamage> damage_;
  struct CrackFrame {  // per particle: crack planes and the debond cap, drawn once
    Vec3 n1{}, n2{}, e1{}, e2{}, cap{};
  };
  std::vector<CrackFrame> crack_frames_;  // by particle index
  double achieved_fraction_ = 0;
};

}  // namespace op4d
