// Reference-network throats carried into later frames: every throat's skeleton path is moved by the
// registration (reference -> frame k) and its radius measured on frame k's distance transform.
#pragma once

#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/volume.h"
#include "op4d/frame/network/pore_network.h"
#include "op4d/track/registration/affine.h"
#include "op4d/track/throats/percolation_history.h"

namespace op4d {

struct CarryOptions {
  // Small misregistration: at each carried path point the largest distance-transform value within
  // this radius (µm) is taken (the skeleton is the ridge of the distance transform, so the ridge is
  // found again); the throat's radius is the minimum of these along the path. 0 = the value at the
  // carried point itself (nearest voxel).
  double search_tolerance_um = 0.0;
  ThreadBudget threads;
};

// r(t_k) of every throat of `net` in the frame whose pore distance transform is `edt_k` (µm, from
// DistanceTransform of frame k's pore mask), with `map` the motion reference -> frame k. Path points
// carried out of frame k's field of view are skipped (a throat at a face that drifts partly out of
// view is measured on the part still seen); NaN for a throat whose whole carried path leaves frame
// k: not found, marked, not dropped.
std::vector<float> CarryThroatRadii(const PoreNetwork& net, const AffineMap& map, const Volume<float>& edt_k,
                                    const CarryOptions& options = {});

// Throats of a network re-extracted on frame k matched to the reference throats carried into frame k
// by `map`: a frame-k throat and a reference throat are candidates when the frame-k bottleneck lies
// within the reference throat's bottleneck radius plus the search tolerance of a point of its carried
// path; candidates are paired one-to-one, nearest first. A reference throat without a partner whose
// carried path is (at least partly) in view has died; one whose whole path left the view is lost,
// neither matched nor died. A frame-k throat left without a partner is a further segment of the
// nearest reference throat it is a candidate of (the extraction put a node on that path), and born
// when it is a candidate of none.
struct ThroatMatch {
  std::vector<std::int64_t> current_of;    // per reference throat: its (nearest) frame-k throat, or -1
  std::vector<std::int64_t> reference_of;  // per frame-k throat: its reference throat, or -1 (born)
  std::int64_t matched = 0, segments = 0, born = 0, died = 0, lost = 0;
};
ThroatMatch MatchThroats(const PoreNetwork& reference, const AffineMap& map, const PoreNetwork& current,
                         const CarryOptions& options = {});

// The graph AnalysePercolationHistory needs: nodes, throat connections, inlet nodes on the volume
// face `inlet_face` and outlet nodes on `outlet_face` (Face bits of frame/segment/connectivity.h;
// separator z = 0 and current collector z = max by default).
ThroatGraph ThroatGraphOf(const PoreNetwork& net, std::uint8_t inlet_face = 1, std::uint8_t outlet_face = 2);

}  // namespace op4d
