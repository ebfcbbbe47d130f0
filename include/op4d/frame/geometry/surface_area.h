// Surface areas by marching tetrahedra on the physical (anisotropic) grid.
//
// The iso-surface of a scalar field sampled at voxel centres is triangulated cube by cube, every
// cube split into the six tetrahedra around its main diagonal (Kuhn/Freudenthal): one triangulation
// of the whole grid, so neighbouring cubes share their faces' triangulation and the surface has no
// holes or cracks (unlike marching cubes without disambiguation). Vertices are placed by linear
// interpolation along tetrahedron edges, in µm.
//
// A binary phase is first turned into a smooth field: its indicator filtered by a Gaussian of
// smoothing_sigma_vox voxels per axis, iso-value 0.5. For a plane this is exact; for a sphere the
// smoothing moves the surface inward by about sigma²/r (relative area error about -2 sigma²/r²).
// Where a probability map of the phase exists (uint8, 255 = certain, from the Gaussian mixture),
// its 0.5 iso-surface is used as it is: the partial-volume information places the surface.
//
// The interface between phases a and b is the zero set of s_a - s_b (their smoothed indicators)
// where both exceed every other phase's: the a|b boundary of the partition of space by the largest
// smoothed indicator (each triangle clipped where the interpolated min(s_a, s_b) - max_c s_c changes
// sign). With two phases this is the closed surface of a; the pair areas of a phase add up to the
// boundary of its region. Where a third phase meets a and b the smoothed partition rounds the triple
// line, and the interface stops about one voxel short of it (two touching blocks surrounded by pore:
// -17.6 %). A phase thinner or more fragmented than the smoothing width loses area to its neighbours
// (the NMC cathode's generated carbon-binder: 0.29–0.38 of its face count, against about 2/3 for
// smooth surfaces).
// The faces of the field of view are not surfaces:
// a surface meeting them ends on them (the outermost half voxel is covered by replicating the border
// values), so a plane across the frame has exactly the frame's cross-section as its area.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/phase.h"
#include "op4d/core/slabs.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

struct SurfaceAreaOptions {
  double smoothing_sigma_vox = 1.0;  // Gaussian smoothing of a binary indicator, voxels per axis (> 0)
  double probability_sigma_vox = 0.6;  // the same for a probability map, already graded by partial volume
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

// Area (µm²) of the surface field = iso. Deterministic for any thread count.
double IsoSurfaceArea(const Volume<float>& field, float iso, ThreadBudget threads = {});

// Area (µm²) of the boundary of mask != 0 (smoothed indicator, iso 0.5).
double MaskSurfaceArea(const Volume<std::uint8_t>& mask, const SurfaceAreaOptions& options = {});

// Area (µm²) of the 0.5 iso-surface of a probability map (0..255), smoothed by probability_sigma_vox.
double ProbabilitySurfaceArea(const Volume<std::uint8_t>& probability, const SurfaceAreaOptions& options = {});

struct InterfaceArea {
  std::uint8_t a = 0, b = 0;
  std::string name_a, name_b;
  double area_um2 = 0;                 // marching tetrahedra, µm²
  double specific_area_per_um = 0;     // area / total volume of the frame, µm^-1
  double face_count_area_um2 = 0;      // exposed voxel faces with their anisotropic areas, µm² (biased high)
  double face_count_specific_per_um = 0;
};

// Every pair of phases of the table (a < b in table order), from the label volume.
std::vector<InterfaceArea> ComputeInterfaceAreas(const PhaseVolume& phases, const PhaseTable& table,
                                                 const SurfaceAreaOptions& options = {});

// Block-wise versions for frames that do not fit, reading slab_z planes at a time (plus the
// smoothing kernel's radius, ceil(3 sigma) planes, on either side): the same cube slices meet the
// same smoothed values, and the per-slice areas and voxel faces are summed in the same order, so the
// results are bit-identical to MaskSurfaceArea and ComputeInterfaceAreas for any slab_z.
// Memory per slab: 5 bytes per voxel of the haloed slab per phase.
double MaskSurfaceAreaStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read, std::int64_t slab_z,
                               const SurfaceAreaOptions& options = {});
std::vector<InterfaceArea> ComputeInterfaceAreasStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                                                         const PhaseTable& table, std::int64_t slab_z,
                                                         const SurfaceAreaOptions& options = {});

// Table with columns phase_a, phase_b (labels), area_um2, specific_area_per_um, face_count_area_um2,
// face_count_specific_per_um; name "interface_areas".
ResultTable InterfaceAreaTable(const std::vector<InterfaceArea>& areas);

}  // namespace op4d
