// A synthetic campaign for the throat history with exact ground truth: a pore network whose throats
// the generator closes at scripted frames while the applied gas pressure rises and falls.
//
// Geometry. A solid block holding a cubic lattice of spherical pore bodies (bodies[z] x bodies[y] x
// bodies[x], centre to centre pitch_um, radius body_radius_um) joined to their six neighbours by
// cylindrical throats along the lattice axes. Every body of the first and last z layer has a throat
// to its volume face (separator z = 0, current collector z = max), so the pore space spans z. A throat
// is wide (radius wide_radius_um) or, with probability narrow_share, narrow (narrow_radius_um); face
// throats are wide. A solid margin of margin_um surrounds the lattice in y and x; along z the lattice's
// cells (pitch_um each) are face_length_um from the faces, which the face throats cross.
//
// Script. A share closure_share of the interior throats is swollen shut by the solid around it at a
// random frame a in [1, frames - 1] (radius 0: the cylinder is solid) and opens again at a random
// frame b in (a, frames] (b = frames: stays shut). The applied pressure p_app(t_k) is given per frame;
// by default it is low (0.4 x the wide throats' entry pressure) and raised for two frames in the middle
// of the campaign to the geometric mean of the wide and narrow throats' entry pressures, for the design
// law (design_gamma, design_theta_deg): gas invades every wide throat there and leaves the narrow ones.
// The whole sample drifts rigidly by drift_um_per_frame per frame.
//
// Truth per frame (table "throats"): id, body_a, body_b (bodies numbered z-major; the separator face
// is node bodies, the collector face node bodies + 1), axis, the throat's centre and the two ends of
// its axis between the bodies (µm, with drift; ThroatEnds), radius_um (0 while swollen shut),
// narrow, face. Phases: 0 pore, 1 solid.
//
// Rendering as the particle campaign's: partial volume by supersampling every voxel, Gaussian blur
// (PSF), additive Gaussian noise with SNR = (grey_solid - grey_pore) / sigma_noise, counter-based.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"
#include "op4d/synth/campaign.h"

namespace op4d {

struct ThroatLatticeOptions {
  std::uint64_t seed = 1;
  Index3 bodies{5, 4, 4};             // pore bodies along z, y, x
  Vec3 spacing_um{0.5, 0.5, 0.5};     // voxel size (z, y, x), µm
  double pitch_um = 8.0;              // body centre to centre
  double body_radius_um = 3.0;
  double wide_radius_um = 2.0, narrow_radius_um = 1.0;
  double narrow_share = 0.3;          // probability that an interior throat is narrow
  double closure_share = 0.2;         // share of interior throats swollen shut during the campaign
  double margin_um = 2.0;             // solid around the lattice in y and x
  double face_length_um = 3.0;        // solid between the lattice's cells and the z faces (face throats cross it)
  int frames = 10;
  std::vector<double> frame_times_s;  // increasing; empty = uniform over duration_s
  double duration_s = 3600.0;
  std::vector<double> p_app_Pa;       // per frame; empty = the default schedule above
  double design_gamma_N_per_m = 0.072, design_theta_deg = 0.0;  // sets the default schedule only
  Vec3 drift_um_per_frame{0.15, -0.2, 0.25};
  double grey_pore = 8000, grey_solid = 30000;
  double snr = 10.0;                  // <= 0: no noise
  double blur_sigma_vox = 0.6;
  int supersample = 3;
  DataType dtype = DataType::kUInt16;

  bool IsValid(std::string* why) const;
};

struct LatticeThroat {
  int id = 0;                  // 1..N
  int body_a = 0, body_b = 0;  // z-major body numbers; face nodes are bodies and bodies + 1
  int axis = 0;                // 0 z, 1 y, 2 x
  double radius_um = 0;        // when open
  bool narrow = false, face = false;
  int close_frame = -1;        // swollen shut from this frame (-1: never)
  int reopen_frame = -1;       // open again from this frame (-1: not within the campaign)
};

class SynthThroatLattice {
 public:
  explicit SynthThroatLattice(const ThroatLatticeOptions& options);  // throws ConfigError

  const ThroatLatticeOptions& options() const { return options_; }
  int frame_count() const { return options_.frames; }
  Index3 shape() const { return shape_; }
  std::int64_t body_count() const { return options_.bodies[0] * options_.bodies[1] * options_.bodies[2]; }
  const std::vector<LatticeThroat>& throats() const { return throats_; }
  double FrameTime(int k) const;
  double PressurePa(int k) const;
  Vec3 Drift(int k) const;
  double RadiusAt(const LatticeThroat& t, int k) const;  // 0 while swollen shut
  Vec3 BodyCentre(int body, int k) const;                // µm, with drift
  // The throat's cylinder axis where it is a throat: from where it leaves body a (or the separator
  // face) to where it enters body b (or the collector face), µm with drift; and its midpoint.
  std::pair<Vec3, Vec3> ThroatEnds(const LatticeThroat& t, int k) const;
  Vec3 ThroatCentre(const LatticeThroat& t, int k) const;

  // grey, phases (0 pore, 1 solid), time_row (time_s, cycle, step, p_app_Pa), throats (truth table);
  // particle_labels and particles stay empty.
  SynthFrame Render(int k, ThreadBudget threads = {}) const;

 private:
  bool Pore(const Vec3& p, int k) const;

  ThroatLatticeOptions options_;
  Index3 shape_{};
  std::vector<LatticeThroat> throats_;
  std::vector<int> lookup_[3];  // throat index + 1 by (axis, lower body index), 0 = none
};

}  // namespace op4d
