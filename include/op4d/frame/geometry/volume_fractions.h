// Volume fractions of the phases of a labelled frame.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/phase.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

struct PhaseFraction {
  std::uint8_t label = 0;
  std::string name;
  std::int64_t voxels = 0;
  double fraction = 0;    // voxels / all voxels of the frame (dimensionless)
  double volume_um3 = 0;  // voxels × voxel volume (µm³)
};

struct VolumeFractions {
  std::vector<PhaseFraction> phases;   // in phase-table order
  std::int64_t other_voxels = 0;       // voxels whose value is not in the phase table
  double total_volume_um3 = 0;
  const PhaseFraction* Find(const std::string& name) const;
  // Columns: label [1], voxels [1], volume_fraction [1], volume_um3 [um^3]; one row per phase.
  ResultTable ToTable() const;
};

VolumeFractions ComputeVolumeFractions(const PhaseVolume& phases, const PhaseTable& table, ThreadBudget threads = {});

}  // namespace op4d
