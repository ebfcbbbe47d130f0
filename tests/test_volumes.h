// Small labelled volumes with exactly known geometry, shared by the frame and pipeline tests.
#pragma once

#include <algorithm>
#include <map>

#include "op4d/core/volume.h"

namespace op4d::test {

// Pore (0) around two touching blocks on an anisotropic grid (spacing 0.8, 0.5, 0.5 um): active (1)
// for x in [6, 16), binder (2) for x in [16, 26), both z in [4, 20), y in [6, 26); 24 x 32 x 32
// voxels. The contact is the plane x = 15.5: 16 x 20 faces of 0.8 x 0.5 um^2 = 128 um^2.
inline PhaseVolume TouchingBlocks() {
  Geometry g;
  g.shape = {24, 32, 32};
  g.spacing_um = {0.8, 0.5, 0.5};
  PhaseVolume p(g, 0);
  for (std::int64_t z = 4; z < 20; ++z)
    for (std::int64_t y = 6; y < 26; ++y)
      for (std::int64_t x = 6; x < 26; ++x) p(z, y, x) = x < 16 ? 1 : 2;
  return p;
}

// The truth particle of every label of `labels` (a watershed of the active phase): the particle it
// overlaps most when their IoU is at least 0.5 (the issue 3 separation criterion), else 0 (a
// fragment, a merge or a speck, which has no identity to keep).
inline std::map<int, int> TruthParticleOf(const LabelVolume& labels, const Volume<std::uint16_t>& truth) {
  std::map<int, std::map<int, std::int64_t>> overlap;
  std::map<int, std::int64_t> size, truth_size;
  for (std::int64_t i = 0; i < labels.size(); ++i) {
    if (truth[i] > 0) ++truth_size[truth[i]];
    if (labels[i] > 0) {
      ++size[labels[i]];
      ++overlap[labels[i]][truth[i]];
    }
  }
  std::map<int, int> out;
  for (const auto& [l, counts] : overlap) {
    const auto best = std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    const double iou = best->first == 0 ? 0.0 : double(best->second) / double(size[l] + truth_size[best->first] - best->second);
    out[l] = iou >= 0.5 ? best->first : 0;
  }
  return out;
}

}  // namespace op4d::test
