// Percolation of each phase: the share of the phase connected to both faces normal to an axis,
// with the dual connectivity rule (pore 26, solids 6 by default).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/phase.h"
#include "op4d/core/table.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {

struct PhasePercolation {
  std::uint8_t label = 0;
  std::string name;
  Connectivity connectivity = Connectivity::k6;  // the rule used for this phase
  std::int64_t voxels = 0;
  std::int64_t components = 0;
  // Share of the phase's voxels in components that touch both faces normal to z, y, x (0 if empty).
  std::array<double, 3> spanning_fraction{0, 0, 0};
  // Share of the phase's voxels in components touching no face of the volume at all.
  double isolated_fraction = 0;
};

struct Percolation {
  std::vector<PhasePercolation> phases;  // phase-table order
  const PhasePercolation* Find(const std::string& name) const;
  // Columns: label, connectivity, voxels, components, spanning_z, spanning_y, spanning_x, isolated.
  ResultTable ToTable() const;
};

// Pore-role phases use dual.pore, all others dual.solid.
Percolation ComputePercolation(const PhaseVolume& phases, const PhaseTable& table, const DualConnectivity& dual = {},
                               ThreadBudget threads = {});

}  // namespace op4d
