#include "op4d/frame/uncertainty/label_sampler.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/core/filter.h"
#include "op4d/core/random.h"

namespace op4d {

bool LabelSamplerOptions::IsValid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (!(temperature > 0) || !std::isfinite(temperature)) return fail("temperature must be a finite number > 0");
  if (!(noise_sigma >= 0) || !std::isfinite(noise_sigma)) return fail("noise_sigma must be >= 0 (0 = from the residual)");
  if (burn_in_sweeps < 0) return fail("burn_in_sweeps must be >= 0");
  if (thin_sweeps < 1) return fail("thin_sweeps must be >= 1");
  if (!(grey_jitter >= 0) || !std::isfinite(grey_jitter)) return fail("grey_jitter must be a finite number >= 0");
  if (!(grey_jitter_correlation >= 0 && grey_jitter_correlation <= 1))
    return fail("grey_jitter_correlation must be in [0, 1]");
  return true;
}

CalibrationDomain CheckCalibrationDomain(std::vector<PhaseChord> chords, double voxel_edge_um, double contrast_to_noise) {
  if (!(voxel_edge_um > 0) || !std::isfinite(voxel_edge_um))
    throw InvalidArgument("CheckCalibrationDomain: the voxel edge must be a finite number > 0 um");
  if (std::isnan(contrast_to_noise)) throw InvalidArgument("CheckCalibrationDomain: the contrast-to-noise is NaN");
  CalibrationDomain d;
  d.contrast_to_noise = contrast_to_noise;
  auto add = [&](const std::string& m) { d.why += (d.why.empty() ? "" : "; ") + m; };
  char buf[160];
  for (PhaseChord& c : chords) {
    if (std::isnan(c.fraction) || std::isnan(c.area_per_um))
      throw InvalidArgument("CheckCalibrationDomain: phase " + c.name + " has a NaN fraction or area");
    if (c.fraction <= 0) {
      c.chord_vox = 0;
      continue;
    }
    c.chord_vox = c.area_per_um > 0 ? 4 * c.fraction / c.area_per_um / voxel_edge_um : std::numeric_limits<double>::infinity();
    if (c.chord_vox < kCalibratedMinChordVoxels) {
      std::snprintf(buf, sizeof buf, "%s mean chord %.2f voxels < %.2f calibrated", c.name.c_str(), c.chord_vox,
                    kCalibratedMinChordVoxels);
      add(buf);
    }
  }
  if (contrast_to_noise < kCalibratedMinContrastToNoise) {
    std::snprintf(buf, sizeof buf, "contrast-to-noise %.2f < %.2f calibrated", contrast_to_noise, kCalibratedMinContrastToNoise);
    add(buf);
  }
  d.chords = std::move(chords);
  d.inside = d.why.empty();
  return d;
}

LabelSampler::LabelSampler(PhaseVolume start, const AnyVolume& grey, const LabelSamplerOptions& options)
    : labels_(std::move(start)), options_(options) {
  std::string why;
  if (!options_.IsValid(&why)) throw InvalidArgument("LabelSampler: " + why);
  terms_ = MakeForwardModelTerms(labels_, grey, options_.model, "LabelSampler");
  slab_ = std::max(2 * terms_.R, 8);
  if (terms_.kk.empty()) return;  // nothing can move: one label, or a frame too small
  const Index3 n = labels_.shape();
  const std::int64_t total = labels_.size();
  c_.resize(std::size_t(total));
  for (std::int64_t i = 0; i < total; ++i) c_[std::size_t(i)] = float(terms_.pure[labels_[i]]);
  GaussianSmooth(c_.data(), n, options_.model.psf_sigma_vox, options_.threads);
  const int R = terms_.R;
  double ss = 0;
  std::int64_t count = 0;
  std::visit([&](const auto& v) {
    for (std::int64_t z = 0; z < n[0]; ++z)
      for (std::int64_t y = 0; y < n[1]; ++y)
        for (std::int64_t x = 0; x < n[2]; ++x) {
          const std::int64_t i = (z * n[1] + y) * n[2] + x;
          const double r = double(v[i]) - double(c_[std::size_t(i)]);
          c_[std::size_t(i)] = float(r);
          if (z >= R && z < n[0] - R && y >= R && y < n[1] - R && x >= R && x < n[2] - R) ss += r * r, ++count;
        }
  }, grey);
  GaussianSmooth(c_.data(), n, options_.model.psf_sigma_vox, options_.threads);
  sigma_ = options_.noise_sigma > 0 ? options_.noise_sigma : std::sqrt(ss / double(std::max<std::int64_t>(1, count)));
  if (!(sigma_ > 0))
    throw InvalidArgument("LabelSampler: the model explains the frame exactly (residual 0): give noise_sigma > 0");
  inv_2s2t_ = 1.0 / (2.0 * sigma_ * sigma_ * options_.temperature);
  model_pure_ = terms_.pure;
  d_min_ = std::numeric_limits<double>::infinity();
  for (std::size_t a = 0; a < terms_.pure_grey.size(); ++a)
    for (std::size_t b = a + 1; b < terms_.pure_grey.size(); ++b)
      d_min_ = std::min(d_min_, std::abs(terms_.pure_grey[a] - terms_.pure_grey[b]));
}

void LabelSampler::JitterPureGrey() {
  // New pure values for this sample; C = PSF * (grey - PSF * pure(L)) follows exactly:
  // C' = C + PSF * PSF * (pure(L) - pure'(L)).
  std::array<double, 256> next = terms_.pure;
  const double z0 = HashNormal(options_.seed ^ 0x3c6ef372fe94f82bull, std::uint64_t(samples_ + 1), 0);  // common part
  for (std::uint8_t l : terms_.labels) {
    const double z = HashNormal(options_.seed ^ 0x6a09e667f3bcc909ull, std::uint64_t(samples_ + 1), l);
    const double rho = options_.grey_jitter_correlation;
    const double zl = std::sqrt(rho) * z0 + std::sqrt(1 - rho) * z;
    next[l] = model_pure_[l] + options_.grey_jitter * d_min_ * zl;
  }
  const Index3 n = labels_.shape();
  std::vector<float> d(std::size_t(labels_.size()));
  for (std::int64_t i = 0; i < labels_.size(); ++i) d[std::size_t(i)] = float(terms_.pure[labels_[i]] - next[labels_[i]]);
  GaussianSmooth(d.data(), n, options_.model.psf_sigma_vox, options_.threads);
  GaussianSmooth(d.data(), n, options_.model.psf_sigma_vox, options_.threads);
  for (std::size_t i = 0; i < d.size(); ++i) c_[i] += d[i];
  terms_.pure = next;
}

double LabelSampler::DeltaAt(std::int64_t i, std::uint8_t q) const {
  const Index3 n = labels_.shape();
  const std::int64_t off[6] = {-n[1] * n[2], n[1] * n[2], -n[2], n[2], -1, 1};
  const std::uint8_t l = labels_[i];
  int ul = 0, uq = 0;
  for (std::int64_t o : off) ul += labels_[i + o] != l, uq += labels_[i + o] != q;
  return terms_.Delta(l, q, double(c_[std::size_t(i)]), uq - ul);
}

std::int64_t LabelSampler::SweepSlab(std::int64_t z0, std::int64_t z1) {
  const Index3 n = labels_.shape();
  const int R = terms_.R;
  const std::int64_t off[6] = {-n[1] * n[2], n[1] * n[2], -n[2], n[2], -1, 1};
  const std::uint64_t key = Mix64(options_.seed ^ Mix64(0x5bd1e995ull + std::uint64_t(sweeps_)));
  std::int64_t changed = 0;
  for (std::int64_t z = z0; z < z1; ++z)
    for (std::int64_t y = R; y < n[1] - R; ++y)
      for (std::int64_t x = R; x < n[2] - R; ++x) {
        const std::int64_t v = (z * n[1] + y) * n[2] + x;
        const std::uint8_t l = labels_[v];
        std::uint8_t nb[6];
        bool boundary = false;
        for (int k = 0; k < 6; ++k) {
          nb[k] = labels_[v + off[k]];
          boundary = boundary || nb[k] != l;
        }
        if (!boundary) continue;
        auto unlike = [&](std::uint8_t q) {
          int u = 0;
          for (std::uint8_t m : nb) u += m != q;
          return u;
        };
        // Candidates: l and the distinct neighbour labels, with their energies relative to l.
        std::uint8_t cand[7];
        double e[7];
        int nc = 1;
        cand[0] = l;
        e[0] = 0;
        const int unlike_l = unlike(l);
        const double cv = double(c_[std::size_t(v)]);
        double e_min = 0;
        for (int k = 0; k < 6; ++k) {
          const std::uint8_t q = nb[k];
          if (std::find(cand, cand + nc, q) != cand + nc) continue;
          cand[nc] = q;
          e[nc] = terms_.Delta(l, q, cv, unlike(q) - unlike_l) * inv_2s2t_;
          e_min = std::min(e_min, e[nc]);
          ++nc;
        }
        double w[7], sum = 0;
        for (int k = 0; k < nc; ++k) sum += (w[k] = std::exp(-(e[k] - e_min)));
        const double u = UnitDouble(Mix64(key ^ std::uint64_t(v))) * sum;
        int pick = 0;
        double acc = w[0];
        while (pick + 1 < nc && u >= acc) acc += w[++pick];
        const std::uint8_t q = cand[pick];
        if (q == l) continue;
        const float d = float(terms_.pure[q] - terms_.pure[l]);
        labels_[v] = q;
        for (const auto& [o2, wt] : terms_.kk) c_[std::size_t(v + o2)] -= d * wt;
        ++changed;
      }
  return changed;
}

std::int64_t LabelSampler::Sweep() {
  std::int64_t changed = 0;
  if (!terms_.kk.empty()) {
    const Index3 n = labels_.shape();
    const std::int64_t R = terms_.R, first = R, last = n[0] - R;
    const std::int64_t slabs = (last - first + slab_ - 1) / slab_;
    std::atomic<std::int64_t> total{0};
    for (int parity = 0; parity < 2; ++parity) {
      const std::int64_t count = (slabs - parity + 1) / 2;
      RunInArena(options_.threads, [&] {
        tbb::parallel_for(std::int64_t(0), count, [&](std::int64_t j) {
          const std::int64_t s = 2 * j + parity;
          const std::int64_t z0 = first + s * slab_, z1 = std::min(z0 + slab_, last);
          total += SweepSlab(z0, z1);
        });
      });
    }
    changed = total.load();
  }
  changes_.push_back(changed);
  ++sweeps_;
  return changed;
}

const PhaseVolume& LabelSampler::Next() {
  const bool jitter = options_.grey_jitter > 0 && !terms_.kk.empty();
  if (jitter) JitterPureGrey();
  const int n = started_ && !jitter ? options_.thin_sweeps : options_.burn_in_sweeps;
  started_ = true;
  ++samples_;
  for (int s = 0; s < n; ++s) Sweep();
  return labels_;
}

}  // namespace op4d
