// Topology of a voxel set: Euler characteristic and Betti numbers of the union of its closed voxel
// cubes, the complex that matches 26-connectivity of the set and 6-connectivity of its complement
// (the dual rule, with the set as the pore phase).
#pragma once

#include <cstdint>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"

namespace op4d {

struct Topology {
  std::int64_t euler = 0;       // chi = V - E + F - C of the cubical complex
  std::int64_t components = 0;  // beta_0: 26-connected components of the set
  std::int64_t cavities = 0;    // beta_2: 6-connected components of the complement enclosed by the set
                                //         (not touching the volume's border; outside counts as complement)
  std::int64_t loops = 0;       // beta_1 = beta_0 + beta_2 - chi: independent loops (tunnels)
};

Topology MeasureTopology(const Volume<std::uint8_t>& mask, ThreadBudget threads = {});

}  // namespace op4d
