// Frames with a known affine motion, shared by the registration tests (ITK and elastix paths).
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "op4d/core/filter.h"
#include "op4d/io/import.h"
#include "op4d/synth/campaign.h"
#include "op4d/track/registration/affine.h"
#include "op4d/track/registration/elastix.h"

namespace op4d {

// The motion of issue 7: stretch 1.02 along x, shear 0.05 (x by y), rotation 3° about z, and a
// translation of 2.3 voxels along every axis (given in µm for 0.5 µm voxels; scaled by the case).
inline AffineMap KnownMotion() {
  Eigen::Matrix3d S = Eigen::Matrix3d::Identity();
  S(2, 2) = 1.02;
  S(2, 1) = 0.05;
  AffineMap m;
  m.F = RotationZYX(Eigen::Vector3d::UnitX(), 3.0) * S;
  m.t = Eigen::Vector3d(2.3, 2.3, 2.3);  // voxels; the case multiplies by its spacing
  return m;
}

struct KnownMotionCase {
  Volume<float> reference, current;
  AffineMap truth;  // reference -> current, about the grid centre
};

// Makes the pair from a clean grey `world`: current = world moved by `motion` (F about the centre,
// t in voxels), both cropped by `margin` voxels on every side (so no content comes from outside),
// then independent Gaussian noise of sigma = contrast / snr on each (snr <= 0: none).
inline KnownMotionCase MakeMotionCase(const Volume<float>& world, const AffineMap& motion,
                                      double contrast, double snr, std::uint64_t seed,
                                      std::int64_t margin) {
  KnownMotionCase c;
  const double h = world.spacing_um()[0];
  c.truth = AffineMap::AboutCentre(motion.F, GridCentre(world.geometry()), motion.t * h);
  const Volume<float> moved = WarpAffine(world, c.truth, world.geometry(), 0.0f);
  Box box;
  for (int a = 0; a < 3; ++a) {
    box.begin[a] = margin;
    box.size[a] = world.shape()[a] - 2 * margin;
  }
  c.reference = world.Crop(box);
  c.current = moved.Crop(box);
  if (snr > 0) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, float(contrast / snr));
    for (std::int64_t i = 0; i < c.reference.size(); ++i) c.reference[i] += noise(rng);
    for (std::int64_t i = 0; i < c.current.size(); ++i) c.current[i] += noise(rng);
  }
  return c;
}

// A clean synthetic electrode frame of `n`^3 voxels (0.5 µm) moved by `motion`; crops 16 voxels.
inline KnownMotionCase MakeSyntheticMotionCase(const AffineMap& motion, double snr, std::uint64_t seed,
                                               std::int64_t n = 112) {
  SynthOptions o;
  o.seed = seed;
  o.shape = {n, n, n};
  o.frames = 1;
  o.snr = 0;
  o.dtype = DataType::kFloat32;
  const SynthCampaign campaign(o);
  const Volume<float> world = std::get<Volume<float>>(campaign.Render(0).grey);
  return MakeMotionCase(world, motion, o.grey_active - o.grey_pore, snr, seed, 16);
}

// Frames 0..n-1 of one synthetic world (edge^3 rendered, cropped 16 voxels) under a growing uniform
// expansion (linear stretch 1 + rate k) and a drift, SNR 10: the incremental-vs-total case.
inline std::vector<Volume<float>> ExpansionSeries(int n, double rate, std::vector<double>* J_true,
                                                  std::int64_t edge = 96) {
  SynthOptions so;
  so.seed = 12;
  so.shape = {edge, edge, edge};
  so.frames = 1;
  so.snr = 0;
  so.dtype = DataType::kFloat32;
  const Volume<float> world = std::get<Volume<float>>(SynthCampaign(so).Render(0).grey);
  std::vector<Volume<float>> frames;
  J_true->clear();
  for (int k = 0; k < n; ++k) {
    const double s = 1.0 + rate * k;
    KnownMotionCase c = MakeMotionCase(
        world, AffineMap{s * Eigen::Matrix3d::Identity(), Eigen::Vector3d(0.3 * k, -0.2 * k, 0.25 * k)},
        so.grey_active - so.grey_pore, 10.0, 100 + std::uint64_t(k), 16);
    frames.push_back(k == 0 ? std::move(c.reference) : std::move(c.current));
    J_true->push_back(s * s * s);
  }
  return frames;
}

struct IncrementalComparison {
  double worst_inc_vs_total = 0;  // max over frames of |interior mean J (incremental) - (total)|
  double worst_vs_truth = 0;      // max over frames and strategies of |interior mean J - J_true|
  double seconds = 0;
};

// Registers every frame to frame 0 (total) and to its predecessor, composed (incremental), with elastix.
inline IncrementalComparison CompareIncrementalTotal(const std::vector<Volume<float>>& frames,
                                                     const std::vector<double>& J_true, const ElastixOptions& o,
                                                     double margin_um) {
  IncrementalComparison out;
  DisplacementField composed = DisplacementFromAffine(AffineMap{}, frames[0].geometry());
  for (std::size_t k = 1; k < frames.size(); ++k) {
    const ElastixResult step = RegisterElastix(frames[k - 1], frames[k], o);
    composed = Compose(composed, step.displacement);
    const ElastixResult total = RegisterElastix(frames[0], frames[k], o);
    out.seconds += step.seconds + total.seconds;
    const double Ji = SummariseStrain(ComputeStrainField(composed), margin_um).Find("J_mean")->values[0];
    const double Jt = SummariseStrain(ComputeStrainField(total.displacement), margin_um).Find("J_mean")->values[0];
    out.worst_inc_vs_total = std::max(out.worst_inc_vs_total, std::abs(Ji - Jt));
    out.worst_vs_truth = std::max({out.worst_vs_truth, std::abs(Ji - J_true[k]), std::abs(Jt - J_true[k])});
  }
  return out;
}

// The real NMC cathode labels rendered as grey (pore 8000, NMC 30000, binder 18000, PSF 0.7 voxel)
// on a central 128^3 block, moved by `motion`; crops 16 voxels.
inline KnownMotionCase MakeNmcMotionCase(const std::string& path, const AffineMap& motion, double snr,
                                         std::uint64_t seed) {
  const auto labels = std::get<Volume<std::uint8_t>>(ReadTiffStack(path));
  Box box;
  for (int a = 0; a < 3; ++a) {
    box.size[a] = 128;
    box.begin[a] = (labels.shape()[a] - 128) / 2;
  }
  const Volume<std::uint8_t> block = labels.Crop(box);
  Geometry g = block.geometry();
  g.spacing_um = {0.398, 0.398, 0.398};
  g.origin_um = {0, 0, 0};
  Volume<float> world(g);
  const float grey[3] = {8000.0f, 30000.0f, 18000.0f};
  for (std::int64_t i = 0; i < world.size(); ++i) world[i] = grey[std::min<int>(block[i], 2)];
  GaussianSmooth(world.data(), world.shape(), {0.7, 0.7, 0.7});
  return MakeMotionCase(world, motion, 22000.0, snr, seed, 16);
}

}  // namespace op4d
