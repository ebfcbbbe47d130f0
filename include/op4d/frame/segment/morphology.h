// Morphological clean-up with Euclidean balls given in micrometres (exact on anisotropic grids, via
// the distance transform), refusing radii that are not small against the structure's own scale.
#pragma once

#include <cstdint>
#include <string>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {

enum class MorphologyOp { kOpening, kClosing };
const char* ToString(MorphologyOp op);                      // "opening", "closing"
MorphologyOp MorphologyOpFromString(const std::string& s);  // throws ConfigError

struct MorphologyOptions {
  MorphologyOp op = MorphologyOp::kOpening;
  double radius_um = 0.5;           // ball radius (µm); voxel centres within this distance
  double max_feature_fraction = 0.25;  // refuse radius >= this × the measured feature radius
  ThreadBudget threads;
  bool IsValid(std::string* why) const;
};

// Scale of a structure: the median, over its ridge voxels (local maxima of the distance transform in
// the 26-neighbourhood), of the distance to the background — the typical inscribed-sphere radius.
struct FeatureScale {
  double median_radius_um = 0;
  std::int64_t ridge_voxels = 0;
};
FeatureScale MeasureFeatureScale(const Volume<std::uint8_t>& mask, ThreadBudget threads = {});

// Opening (erode then dilate: removes features thinner than the ball) or closing (dilate then erode:
// fills gaps narrower than the ball) of mask != 0. Outside the volume counts as neither set nor
// background (the border neither erodes nor dilates). The radius is refused (ConfigError naming it and
// the feature radius) when it is not small against the scale of the set for an opening, of its
// complement for a closing.
Volume<std::uint8_t> CleanMorphology(const Volume<std::uint8_t>& mask, const MorphologyOptions& options);

// CleanMorphology applied to one phase of a labelling: an opening takes the voxels it removes from the
// phase and gives each the label most frequent among its 26 neighbours outside the phase (ties: the
// lower label), filling from the outside inwards; a closing gives the phase the voxels it adds.
// Returns the number of voxels relabelled. Refuses a radius as CleanMorphology does (ConfigError);
// a phase that is absent, or fills the volume, is left as it is.
std::int64_t CleanPhase(PhaseVolume& phases, std::uint8_t label, const MorphologyOptions& options);

// Removes connected components (with the given connectivity) smaller than min_voxels; returns the
// cleaned mask and, in *removed, how many voxels went.
Volume<std::uint8_t> RemoveSmallComponents(const Volume<std::uint8_t>& mask, Connectivity connectivity,
                                           std::int64_t min_voxels, std::int64_t* removed = nullptr,
                                           ThreadBudget threads = {});

// Multi-phase clean-up: every connected component of a phase smaller than min_voxels (the pore phase
// with dual.pore connectivity, every other phase with dual.solid) is given to the phase that shares
// the most voxel faces with it (ties: the lower label). Decisions are taken on the input labels, so
// the result does not depend on the order of the phases. Returns the number of voxels relabelled.
std::int64_t RemovePhaseIslands(PhaseVolume& phases, std::uint8_t pore_phase, const DualConnectivity& dual,
                                std::int64_t min_voxels);

}  // namespace op4d
