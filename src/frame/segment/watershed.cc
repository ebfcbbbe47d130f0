#include "op4d/frame/segment/watershed.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <queue>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/frame/network/distance_transform.h"

namespace op4d {
namespace {

// Max-priority entry; ties broken by insertion order, so the result does not depend on the heap.
struct Entry {
  float value;
  std::int64_t order;
  std::int64_t voxel;
  bool operator<(const Entry& e) const { return value < e.value || (value == e.value && order > e.order); }
};

}  // namespace

bool WatershedOptions::IsValid(std::string* why) const {
  if (!(h_um >= 0) || !std::isfinite(h_um)) {
    if (why) *why = "h_um must be a finite number >= 0";
    return false;
  }
  return true;
}

WatershedResult SeparateParticles(const Volume<std::uint8_t>& mask, const WatershedOptions& o) {
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("watershed", why);
  const Index3 s = mask.shape();
  const Volume<float> f = DistanceTransform(mask, {o.threads});
  const auto offs = NeighbourOffsets(o.connectivity);
  auto neighbours = [&](std::int64_t v, auto&& visit) {
    const std::int64_t z = v / (s[1] * s[2]), y = (v / s[2]) % s[1], x = v % s[2];
    for (const auto& d : offs) {
      const std::int64_t zz = z + d[0], yy = y + d[1], xx = x + d[2];
      if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
      const std::int64_t w = (zz * s[1] + yy) * s[2] + xx;
      if (mask[w]) visit(w);
    }
  };
  // 1. h-maxima: reconstruction by dilation of f - h under f (Vincent's hybrid algorithm, IEEE TIP
  // 2(2) 1993: a raster and an anti-raster scan, then a queue for what the scans could not settle).
  // The reconstruction is unique, so any correct algorithm gives the same markers.
  const std::int64_t sxy = s[1] * s[2];
  auto linear = [&](const std::array<int, 3>& d) { return d[0] * sxy + d[1] * s[2] + d[2]; };
  std::vector<std::array<int, 3>> causal, anticausal;
  for (const auto& d : offs) (linear(d) < 0 ? causal : anticausal).push_back(d);
  auto visit = [&](std::int64_t v, const std::vector<std::array<int, 3>>& set, auto&& f) {
    const std::int64_t z = v / sxy, y = (v / s[2]) % s[1], x = v % s[2];
    for (const auto& d : set) {
      const std::int64_t zz = z + d[0], yy = y + d[1], xx = x + d[2];
      if (zz < 0 || yy < 0 || xx < 0 || zz >= s[0] || yy >= s[1] || xx >= s[2]) continue;
      const std::int64_t w = (zz * s[1] + yy) * s[2] + xx;
      if (mask[w]) f(w);
    }
  };
  Volume<float> rec(mask.geometry(), 0.0f);
  for (std::int64_t v = 0; v < mask.size(); ++v)
    if (mask[v]) rec[v] = std::max(0.0f, f[v] - float(o.h_um));
  for (std::int64_t v = 0; v < mask.size(); ++v) {
    if (!mask[v]) continue;
    float m = rec[v];
    visit(v, causal, [&](std::int64_t w) { m = std::max(m, rec[w]); });
    rec[v] = std::min(m, f[v]);
  }
  std::deque<std::int64_t> fifo;
  for (std::int64_t v = mask.size() - 1; v >= 0; --v) {
    if (!mask[v]) continue;
    float m = rec[v];
    visit(v, anticausal, [&](std::int64_t w) { m = std::max(m, rec[w]); });
    rec[v] = std::min(m, f[v]);
    bool push = false;
    visit(v, anticausal, [&](std::int64_t w) { push = push || (rec[w] < rec[v] && rec[w] < f[w]); });
    if (push) fifo.push_back(v);
  }
  while (!fifo.empty()) {
    const std::int64_t p = fifo.front();
    fifo.pop_front();
    neighbours(p, [&](std::int64_t w) {
      if (rec[w] < rec[p] && f[w] != rec[w]) {
        rec[w] = std::min(rec[p], f[w]);
        fifo.push_back(w);
      }
    });
  }
  std::priority_queue<Entry> pq;
  std::int64_t order = 0;
  // 2. Markers: regional maxima of the reconstruction (plateaus without a higher neighbour).
  LabelVolume labels(mask.geometry(), 0);
  Volume<std::uint8_t> seen(mask.geometry(), 0);
  std::int32_t markers = 0;
  std::vector<std::int64_t> plateau, stack;
  for (std::int64_t v = 0; v < mask.size(); ++v) {
    if (!mask[v] || seen[v]) continue;
    plateau.clear();
    stack.assign(1, v);
    seen[v] = 1;
    bool is_max = true;
    while (!stack.empty()) {
      const std::int64_t p = stack.back();
      stack.pop_back();
      plateau.push_back(p);
      neighbours(p, [&](std::int64_t w) {
        if (rec[w] > rec[p]) is_max = false;
        else if (rec[w] == rec[p] && !seen[w]) {
          seen[w] = 1;
          stack.push_back(w);
        }
      });
    }
    if (is_max) {
      ++markers;
      for (std::int64_t p : plateau) labels[p] = markers;
    }
  }
  // 3. Flooding from the markers, highest distance first.
  order = 0;
  for (std::int64_t v = 0; v < mask.size(); ++v)
    if (labels[v]) pq.push({f[v], order++, v});
  while (!pq.empty()) {
    const Entry e = pq.top();
    pq.pop();
    const std::int32_t l = labels[e.voxel];
    neighbours(e.voxel, [&](std::int64_t w) {
      if (labels[w] == 0) {
        labels[w] = l;
        pq.push({f[w], order++, w});
      }
    });
  }
  // 4. Labels in scan order of each particle's first voxel.
  std::vector<std::int32_t> remap(std::size_t(markers) + 1, 0);
  std::int32_t next = 0;
  for (std::int64_t v = 0; v < mask.size(); ++v) {
    const std::int32_t l = labels[v];
    if (l && !remap[std::size_t(l)]) remap[std::size_t(l)] = ++next;
    labels[v] = remap[std::size_t(l)];
  }
  WatershedResult r;
  r.labels = std::move(labels);
  r.particles = next;
  return r;
}

}  // namespace op4d
