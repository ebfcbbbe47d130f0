// Particle and pore size distributions: continuous (local thickness) and discrete (labelled particles).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

// Local thickness (Hildebrand & Rüegsegger 1997): at every voxel of the set, the diameter (µm) of the
// largest ball that contains the voxel and fits in the set; 0 outside. Balls are centred on voxel
// centres with the radius of the distance transform there (distance to the nearest background voxel
// centre); only maximal balls (not inside a neighbour's ball) are painted. Anisotropic spacing exact.
Volume<float> LocalThickness(const Volume<std::uint8_t>& mask, ThreadBudget threads = {});

// Shape and size of each labelled particle (labels 1..N).
struct ParticleStats {
  std::int32_t label = 0;
  std::int64_t voxels = 0;
  double volume_um3 = 0;
  double equivalent_diameter_um = 0;   // diameter of the sphere of the same volume
  double surface_um2 = 0;              // exposed voxel faces (anisotropic face areas): overestimates smooth surfaces
  double sphericity = 0;               // pi^(1/3) (6 V)^(2/3) / A with the face-count area (biased low)
  Eigen::Vector3d centroid_um = Eigen::Vector3d::Zero();     // z, y, x
  Eigen::Vector3d semi_axes_um = Eigen::Vector3d::Zero();    // of the ellipsoid with the same second moments, descending
  Eigen::Matrix3d axes = Eigen::Matrix3d::Identity();        // columns: unit directions (z, y, x) of semi_axes_um
  bool touches_border = false;         // cut by the field of view
};

std::vector<ParticleStats> MeasureParticles(const LabelVolume& labels, ThreadBudget threads = {});
// Columns: label, voxels, volume_um3, equivalent_diameter_um, surface_um2, sphericity, centroid_{z,y,x}_um,
// semi_axis_{1,2,3}_um, axis1_{z,y,x} (direction of the longest axis), touches_border.
ResultTable ParticleTable(const std::vector<ParticleStats>& particles);

}  // namespace op4d
