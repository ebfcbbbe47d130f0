#include "op4d/frame/segment/morphology.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/frame/network/distance_transform.h"

namespace op4d {
namespace {

Volume<std::uint8_t> Complement(const Volume<std::uint8_t>& m, ThreadBudget t) {
  Volume<std::uint8_t> c(m.geometry());
  RunInArena(t, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, m.size(), 1 << 16), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) c[i] = !m[i];
    });
  });
  return c;
}

// Erosion: voxels of the set farther than r from every background voxel centre.
Volume<std::uint8_t> Erode(const Volume<std::uint8_t>& m, double r, ThreadBudget t) {
  const Volume<float> d = DistanceTransform(m, {t});
  Volume<std::uint8_t> out(m.geometry());
  RunInArena(t, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, m.size(), 1 << 16), [&](const auto& rr) {
      for (std::int64_t i = rr.begin(); i != rr.end(); ++i) out[i] = m[i] && double(d[i]) > r;
    });
  });
  return out;
}

// Dilation: voxels within r of a voxel centre of the set.
Volume<std::uint8_t> Dilate(const Volume<std::uint8_t>& m, double r, ThreadBudget t) {
  const Volume<float> d = DistanceTransform(Complement(m, t), {t});
  Volume<std::uint8_t> out(m.geometry());
  RunInArena(t, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, m.size(), 1 << 16), [&](const auto& rr) {
      for (std::int64_t i = rr.begin(); i != rr.end(); ++i) out[i] = m[i] || double(d[i]) <= r;
    });
  });
  return out;
}

}  // namespace

const char* ToString(MorphologyOp op) { return op == MorphologyOp::kClosing ? "closing" : "opening"; }

MorphologyOp MorphologyOpFromString(const std::string& s) {
  if (s == "opening") return MorphologyOp::kOpening;
  if (s == "closing") return MorphologyOp::kClosing;
  throw ConfigError("op", "'" + s + "' is not one of opening, closing");
}

bool MorphologyOptions::IsValid(std::string* why) const {
  if (!(radius_um > 0) || !std::isfinite(radius_um)) {
    if (why) *why = "radius_um must be a positive number of micrometres";
    return false;
  }
  if (!(max_feature_fraction > 0 && max_feature_fraction <= 1)) {
    if (why) *why = "max_feature_fraction must be in (0, 1]";
    return false;
  }
  return true;
}

FeatureScale MeasureFeatureScale(const Volume<std::uint8_t>& mask, ThreadBudget threads) {
  const Volume<float> d = DistanceTransform(mask, {threads});
  const Index3 s = mask.shape();
  const auto offs = NeighbourOffsets(Connectivity::k26);
  std::vector<float> ridge;
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x) {
        const float v = d(z, y, x);
        if (!(v > 0) || std::isinf(v)) continue;
        bool max = true;
        for (const auto& o : offs) {
          const std::int64_t zz = z + o[0], yy = y + o[1], xx = x + o[2];
          if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
          if (d(zz, yy, xx) > v) {
            max = false;
            break;
          }
        }
        if (max) ridge.push_back(v);
      }
  FeatureScale f;
  f.ridge_voxels = std::int64_t(ridge.size());
  if (!ridge.empty()) {
    std::nth_element(ridge.begin(), ridge.begin() + std::ptrdiff_t(ridge.size() / 2), ridge.end());
    f.median_radius_um = ridge[ridge.size() / 2];
  }
  return f;
}

Volume<std::uint8_t> CleanMorphology(const Volume<std::uint8_t>& mask, const MorphologyOptions& o) {
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("radius_um", why);
  // The structure the ball must fit into: the set for an opening, its complement for a closing.
  const FeatureScale f = o.op == MorphologyOp::kOpening ? MeasureFeatureScale(mask, o.threads)
                                                          : MeasureFeatureScale(Complement(mask, o.threads), o.threads);
  if (f.ridge_voxels > 0 && o.radius_um >= o.max_feature_fraction * f.median_radius_um) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%g um is not small against the %s feature radius %g um (median inscribed radius): %s would "
                  "distort the structure; use less than %g um",
                  o.radius_um, o.op == MorphologyOp::kOpening ? "phase's" : "gaps'", f.median_radius_um,
                  o.op == MorphologyOp::kOpening ? "an opening" : "a closing",
                  o.max_feature_fraction * f.median_radius_um);
    throw ConfigError("radius_um", buf);
  }
  if (o.op == MorphologyOp::kOpening) return Dilate(Erode(mask, o.radius_um, o.threads), o.radius_um, o.threads);
  return Erode(Dilate(mask, o.radius_um, o.threads), o.radius_um, o.threads);
}

std::int64_t CleanPhase(PhaseVolume& phases, std::uint8_t label, const MorphologyOptions& o) {
  Volume<std::uint8_t> mask(phases.geometry());
  std::int64_t inside = 0;
  for (std::int64_t i = 0; i < phases.size(); ++i) inside += mask[i] = phases[i] == label;
  if (inside == 0 || inside == phases.size()) {
    std::string why;
    if (!o.IsValid(&why)) throw ConfigError("radius_um", why);
    return 0;
  }
  const Volume<std::uint8_t> cleaned = CleanMorphology(mask, o);
  std::int64_t changed = 0;
  if (o.op == MorphologyOp::kClosing) {
    for (std::int64_t i = 0; i < phases.size(); ++i)
      if (cleaned[i] && !mask[i]) phases[i] = label, ++changed;
    return changed;
  }
  // Opening: the removed voxels, filled front by front from their neighbours outside the phase. Every
  // front is decided on the labels the earlier fronts left, so the order of the voxels does not matter.
  std::vector<std::int64_t> open;
  for (std::int64_t i = 0; i < phases.size(); ++i)
    if (mask[i] && !cleaned[i]) open.push_back(i);
  const Index3 n = phases.shape();
  std::vector<std::uint8_t> pending(std::size_t(phases.size()), 0);
  for (std::int64_t i : open) pending[std::size_t(i)] = 1;
  std::vector<std::pair<std::int64_t, std::uint8_t>> decided;
  while (!open.empty()) {
    decided.clear();
    std::vector<std::int64_t> still;
    for (std::int64_t i : open) {
      const std::int64_t z = i / (n[1] * n[2]), y = (i / n[2]) % n[1], x = i % n[2];
      // The labels met among the 26 neighbours and how often (at most 26 distinct).
      std::uint8_t seen[26];
      int count[26], kinds = 0, best = -1;
      for (int dz = -1; dz <= 1; ++dz)
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const std::int64_t zz = z + dz, yy = y + dy, xx = x + dx;
            if ((dz | dy | dx) == 0 || zz < 0 || yy < 0 || xx < 0 || zz >= n[0] || yy >= n[1] || xx >= n[2]) continue;
            const std::int64_t j = (zz * n[1] + yy) * n[2] + xx;
            const std::uint8_t l = phases[j];
            if (l == label || pending[std::size_t(j)]) continue;
            int k = 0;
            while (k < kinds && seen[k] != l) ++k;
            if (k == kinds) seen[kinds] = l, count[kinds++] = 0;
            ++count[k];
            if (best < 0 || count[k] > count[best] || (count[k] == count[best] && l < seen[best])) best = k;
          }
      if (best < 0)
        still.push_back(i);
      else
        decided.push_back({i, seen[best]});
    }
    if (decided.empty()) break;  // no neighbour outside the phase left to take a label from: they stay
    for (const auto& [i, l] : decided) {
      phases[i] = l;
      pending[std::size_t(i)] = 0;
      ++changed;
    }
    open.swap(still);
  }
  return changed;
}

Volume<std::uint8_t> RemoveSmallComponents(const Volume<std::uint8_t>& mask, Connectivity connectivity,
                                           std::int64_t min_voxels, std::int64_t* removed, ThreadBudget threads) {
  const ComponentLabels c = LabelComponents(mask, {connectivity, threads});
  Volume<std::uint8_t> out(mask.geometry());
  std::int64_t gone = 0;
  for (const Component& comp : c.components)
    if (comp.voxels < min_voxels) gone += comp.voxels;
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, mask.size(), 1 << 16), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) {
        const std::int32_t l = c.labels[i];
        out[i] = l > 0 && c.components[std::size_t(l - 1)].voxels >= min_voxels;
      }
    });
  });
  if (removed) *removed = gone;
  return out;
}

std::int64_t RemovePhaseIslands(PhaseVolume& phases, std::uint8_t pore_phase, const DualConnectivity& dual,
                                std::int64_t min_voxels) {
  std::string why;
  if (!dual.IsValid(&why)) throw ConfigError("connectivity", why);
  if (min_voxels <= 1) return 0;
  const Index3 n = phases.shape();
  const auto pore_offsets = NeighbourOffsets(dual.pore), solid_offsets = NeighbourOffsets(dual.solid);
  const auto faces = NeighbourOffsets(Connectivity::k6);
  // Bounded flood fill: a component is explored until it proves large (min_voxels reached, or a voxel
  // already known to be in a large component), so the work is linear and the memory one byte per
  // voxel, whatever the number of components.
  enum : std::uint8_t { kUnseen = 0, kLarge = 1, kSmall = 2, kOpen = 3 };
  std::vector<std::uint8_t> state(std::size_t(phases.size()), kUnseen);
  std::vector<std::int64_t> members;
  std::vector<std::pair<std::int64_t, std::uint8_t>> changes;  // decided on the input labels
  const std::int64_t sy = n[2], sz = n[1] * n[2];
  for (std::int64_t start = 0; start < phases.size(); ++start) {
    if (state[std::size_t(start)] != kUnseen) continue;
    const std::uint8_t p = phases[start];
    const auto& offs = p == pore_phase ? pore_offsets : solid_offsets;
    members.clear();
    members.push_back(start);
    state[std::size_t(start)] = kOpen;
    bool large = false;
    for (std::size_t head = 0; head < members.size() && !large; ++head) {
      const std::int64_t i = members[head];
      const std::int64_t z = i / sz, y = (i / sy) % n[1], x = i % sy;
      for (const auto& o : offs) {
        const std::int64_t zz = z + o[0], yy = y + o[1], xx = x + o[2];
        if (zz < 0 || yy < 0 || xx < 0 || zz >= n[0] || yy >= n[1] || xx >= n[2]) continue;
        const std::int64_t j = zz * sz + yy * sy + xx;
        if (phases[j] != p) continue;
        const std::uint8_t st = state[std::size_t(j)];
        if (st == kLarge) {
          large = true;
          break;
        }
        if (st == kUnseen) {
          state[std::size_t(j)] = kOpen;
          members.push_back(j);
          if (std::int64_t(members.size()) >= min_voxels) {
            large = true;
            break;
          }
        }
      }
    }
    if (large) {
      for (std::int64_t i : members) state[std::size_t(i)] = kLarge;
      continue;
    }
    // A small island: the phase sharing most faces with it takes it (ties: the lower label).
    std::array<std::int64_t, 256> votes{};
    for (std::int64_t i : members) {
      state[std::size_t(i)] = kSmall;
      const std::int64_t z = i / sz, y = (i / sy) % n[1], x = i % sy;
      for (const auto& f : faces) {
        const std::int64_t zz = z + f[0], yy = y + f[1], xx = x + f[2];
        if (zz < 0 || yy < 0 || xx < 0 || zz >= n[0] || yy >= n[1] || xx >= n[2]) continue;
        const std::uint8_t q = phases(zz, yy, xx);
        if (q != p) ++votes[q];
      }
    }
    int target = -1;
    std::int64_t best = 0;
    for (int q = 0; q < 256; ++q)
      if (votes[std::size_t(q)] > best) {
        best = votes[std::size_t(q)];
        target = q;
      }
    if (target < 0) continue;  // an island touching nothing else (the whole volume) stays
    for (std::int64_t i : members) changes.emplace_back(i, std::uint8_t(target));
  }
  for (const auto& [i, q] : changes) phases[i] = q;
  return std::int64_t(changes.size());
}

}  // namespace op4d
