// Small labelled volumes with exactly known geometry, shared by the frame and pipeline tests.
#pragma once

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

}  // namespace op4d::test
