// Topological events of labelled objects between two frames: which objects continue, merge, split,
// vanish or are born. Made for bubbles of a coarsening foam (films rupture: two bubbles merge; a
// small bubble shrinks away: it vanishes) and usable on any labelled phase (particles: a split is a
// fragmentation seen without a reference).
//
// The two frames' labels (e.g. the watershed of one phase in each frame) are compared by overlap:
// every voxel x of the current frame is carried back by `current_to_previous` (the motion between the
// two frames, e.g. from the register step's maps: A_prev ∘ A_cur^-1; identity when the frames do not
// move) to the nearest voxel of the previous grid. o(A, B) counts the current voxels of label B whose
// previous voxel is label A; n_A counts A's previous voxels whose image lies inside the current view.
//  - A's successor: the current label B with the largest o(A, B); A continues into B when
//    o(A, B) >= continue_share n_A (most of A is still one object there), or when A is also B's
//    largest predecessor and o(A, B) >= split_share n_A (a mutual best match: A shrank, or moved
//    off the frames' motion by part of its size).
//  - Merge: a current label that two or more previous labels continue into, which were apart in the
//    previous frame (the film of the other phase between them is gone); one event per such label,
//    every previous label of it counted in `merged`. Labels that share at least joined_faces voxel
//    faces touch through their own phase: a watershed cut through one object, not two objects, so
//    their continuing into one label is no merge.
//  - Split: a previous label that does not continue, whose overlap is spread over two or more current
//    labels that each hold at least split_share n_A of it, have A as their own largest predecessor,
//    and are apart (not joined) in the current frame; joined pieces are A continuing.
//  - Vanished: a previous label that neither continues nor splits (its voxels turned into another
//    phase, or were taken over by neighbours). Labels of fewer than min_voxels voxels are specks, not
//    objects; an object with n_A < min_voxels (its image left the view) is counted in `left_out`.
//  - Born: a current label of at least min_voxels that no previous label continues or splits into
//    and of whose voxels less than continue_share were in previous objects (new where the other phase
//    was, or come into the view); an unreached label made of previous objects is a cut of one already
//    counted.
// Deterministic (integer counts); O(voxels) memory for the overlap pairs that occur.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/table.h"
#include "op4d/core/volume.h"
#include "op4d/track/registration/affine.h"

namespace op4d {

struct LabelEventOptions {
  double continue_share = 0.5;
  double split_share = 0.2;
  std::int64_t min_voxels = 27;  // a 3x3x3 object; smaller labels are watershed specks, not objects
  // Two labels sharing at least this many voxel faces touch through their own phase (no film of
  // the other phase between them): one object the watershed cut, not two.
  std::int64_t joined_faces = 9;
  bool IsValid(std::string* why) const;
};

enum class LabelFate { kContinued, kMerged, kSplit, kVanished, kLeftOut };
const char* ToString(LabelFate f);

struct LabelFateRow {
  int previous = 0;          // previous label
  std::int64_t voxels = 0;   // n_A
  LabelFate fate = LabelFate::kContinued;
  int successor = 0;         // the current label it continues / merges into (0: none); a split's largest piece
  double share = 0;          // o(A, successor) / n_A
  int pieces = 0;            // current labels of a split
};

struct LabelEvents {
  std::int64_t previous = 0, current = 0;  // labels of at least min_voxels in each frame
  std::int64_t continued = 0;              // previous labels continued one to one
  std::int64_t merges = 0, merged = 0;     // merge events, previous labels taking part
  std::int64_t splits = 0, split_pieces = 0;
  std::int64_t vanished = 0, born = 0, left_out = 0;
  std::vector<LabelFateRow> fates;  // one per previous label, increasing label order
  ResultTable FateTable() const;    // label_fates: previous, voxels, fate (0..4 as LabelFate), successor, share, pieces
};

// Throws InvalidArgument for invalid options or spacings that differ.
LabelEvents TrackLabelEvents(const LabelVolume& previous, const LabelVolume& current, const AffineMap& current_to_previous,
                             const LabelEventOptions& options = {});

}  // namespace op4d
