// Connected components with digital-topology connectivity, and the dual rule op4d uses everywhere:
// pore phase 26-connected, solid phases 6-connected (configurable, but always a dual pair).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/slabs.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

// Neighbourhood of a voxel: faces (6), faces + edges (18), faces + edges + corners (26).
enum class Connectivity { k6, k18, k26 };
const char* ToString(Connectivity c);                      // "6", "18", "26"
Connectivity ConnectivityFromString(const std::string& s);  // throws ConfigError

// Foreground/background connectivities must be a dual pair (6,26), (26,6), (6,18) or (18,6) so that
// components and their complement have consistent topology (no "connectivity paradox").
struct DualConnectivity {
  Connectivity pore = Connectivity::k26;
  Connectivity solid = Connectivity::k6;
  bool IsValid(std::string* why) const;
};

// Offsets (dz, dy, dx) of the neighbours a connectivity includes (6, 18 or 26 of them).
std::vector<std::array<int, 3>> NeighbourOffsets(Connectivity c);

// Faces of the volume, as bits of Component::faces.
enum Face : std::uint8_t {
  kFaceZMin = 1, kFaceZMax = 2, kFaceYMin = 4, kFaceYMax = 8, kFaceXMin = 16, kFaceXMax = 32
};
// The two faces normal to axis a (0 = z, 1 = y, 2 = x).
inline std::uint8_t FacesOfAxis(int a) { return std::uint8_t(3u << (2 * a)); }

struct Component {
  std::int32_t label = 0;   // 1..N, numbered in scan order (z, then y, then x) of first voxel
  std::int64_t voxels = 0;
  std::uint8_t faces = 0;   // bit set of Face the component touches
  bool Touches(std::uint8_t face_bits) const { return (faces & face_bits) == face_bits; }
  // Connects the two faces normal to axis a: "percolating" along a.
  bool Spans(int axis) const { return Touches(FacesOfAxis(axis)); }
};

struct ComponentLabels {
  LabelVolume labels;                  // 0 background, 1..N components
  std::vector<Component> components;   // components[i].label == i + 1
  // Columns: label, voxels, volume_um3, touches_zmin … touches_xmax (0/1).
  ResultTable ToTable() const;
};

struct ComponentOptions {
  Connectivity connectivity = Connectivity::k6;
  ThreadBudget threads;
};

// Labels the connected components of the voxels where mask != 0. Labels do not depend on the
// number of threads.
ComponentLabels LabelComponents(const Volume<std::uint8_t>& mask, const ComponentOptions& options);
// The same for the voxels of one phase (phases == phase).
ComponentLabels LabelPhase(const PhaseVolume& phases, std::uint8_t phase, const ComponentOptions& options);

// Fraction of the phase's voxels that belong to a component spanning axis a (touching both faces
// normal to it), per axis z, y, x; 0 for an empty phase.
std::array<double, 3> SpanningFractions(const ComponentLabels& c);
std::array<double, 3> SpanningFractions(const std::vector<Component>& components);

// Block-wise labelling of a frame read slab by slab (bounded memory). Each slab of slab_z planes is
// labelled on its own (LabelComponents), its pieces get provisional ids in slab order, and the
// pieces meeting across a seam (the slab's first plane against the previous slab's last) are
// joined in a union-find over pieces. Final labels follow scan order of each component's first
// voxel, so components, sizes, faces and labels are identical to LabelComponents on the whole
// frame, for any slab_z. With `write`, a second pass re-reads and re-labels every slab and writes
// its final labels ({z0, 0, 0}, {z1 - z0, ny, nx}) in z order.
// Memory: 5 bytes per voxel of one slab, one plane of ids, 24 bytes per piece.
struct StreamedComponents {
  Geometry geometry;                   // the frame's
  std::vector<Component> components;   // components[i].label == i + 1
  std::int64_t pieces = 0;             // slab-local pieces joined (diagnostic)
};
// With `sizes`, it is called with the components between the two passes (before the first write),
// so a writer can act on the sizes of the components it receives.
StreamedComponents LabelComponentsStreamed(const Geometry& frame, const SlabReader<std::uint8_t>& read,
                                           std::int64_t slab_z, const ComponentOptions& options,
                                           const BoxWriter<std::int32_t>* write = nullptr,
                                           const std::function<void(const StreamedComponents&)>* sizes = nullptr);

}  // namespace op4d
