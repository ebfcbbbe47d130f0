// Contact area between two phases (e.g. active material and carbon-binder) by face adjacency, per
// particle too, and the adhesion estimates that follow from it.
#pragma once

#include <cstdint>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

struct ContactOptions {
  double adhesion_energy_J_per_m2 = 0;  // G_c: work of separation per unit contact area (J/m²)
  double adhesion_strength_Pa = 0;      // T_max: maximum traction per unit contact area (Pa)
  bool IsValid(std::string* why) const;
};

struct ParticleContact {
  std::int32_t label = 0;
  double area_um2 = 0;           // contact area of this particle with phase b
  double adhesion_energy_J = 0;  // G_c * area
  double max_force_N = 0;        // T_max * area
};

struct ContactResult {
  double area_um2 = 0;            // A_ab: voxel faces between a and b, with their anisotropic areas
  double specific_area_per_um = 0;  // A_ab / total volume (µm^-1)
  double adhesion_energy_J = 0;   // E_adh = G_c A_ab
  double max_force_N = 0;         // F_max = T_max A_ab
  std::vector<ParticleContact> particles;   // when particle labels are given (labels > 0 inside phase a)
  std::int64_t particles_without_contact = 0;
  ResultTable ToTable() const;    // one row: totals
  ResultTable ParticleTable() const;
};

// Face count between voxels of phase a and phase b (the face-count estimate; marching cubes will
// give the smooth-surface estimate). `particles` may be null.
ContactResult ComputeContacts(const PhaseVolume& phases, std::uint8_t a, std::uint8_t b, const LabelVolume* particles,
                              const ContactOptions& options);

}  // namespace op4d
