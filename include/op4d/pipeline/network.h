// The pore-network step: a frame of the store (labels, or grey values segmented as the quick look
// does) → pore network → tables in the frame's results, and files for ParaView and OpenPNM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/frame/network/pore_network.h"
#include "op4d/io/export.h"
#include "op4d/pipeline/campaign.h"

namespace op4d {

struct NetworkRunOptions {
  std::vector<std::int64_t> frames;  // frames to analyse; empty = all
  // >= 0: the frames hold labels and the pore is where the value equals pore_value (an imported
  // segmentation); < 0: the frames are grey values, segmented with `segment`, and the pore is the
  // phase with the pore role.
  int pore_value = -1;
  QuickLookOptions segment;
  NetworkOptions network;
  std::string out_dir;  // if set: per frame <stem>_pores.csv, _throats.csv, _summary.csv, .vtp, _openpnm.h5
  // >= 2: also the network of the first `ensemble` label samples the segment step stored (segment
  // --ensemble N, N >= ensemble; segmented frames only): the per-frame table "network_ensemble", one
  // row, NetworkEnsembleMetrics' columns M as the point value and M_mean, M_sd, M_p05, M_p95 over the
  // samples (SummarizeTableEnsemble), samples and seconds_per_sample [s]. 0 = none.
  int ensemble = 0;
};

// The network figures an ensemble carries, one row: nodes, throats, mean_coordination,
// graph_components, graph_loops, pore_components, pore_loops (Betti numbers of the pore), then the
// throats' minimum radius [um] quantiles throat_radius_p10, _median, _p90 and the nodes' inscribed
// radius [um] node_radius_median (NaN without throats / nodes).
ResultTable NetworkEnsembleMetrics(const PoreNetwork& net);

struct NetworkRunRow {
  std::int64_t frame = 0;
  ResultTable summary;             // PoreNetwork::SummaryTable()
  std::vector<std::string> files;  // files written
};

// Extracts the network of each frame and writes tables network_pores, network_throats,
// network_throat_paths and network_summary into the frame's results (with provenance).
std::vector<NetworkRunRow> RunNetwork(const std::string& store_path, const NetworkRunOptions& options);

// The network's files: <out_dir>/<stem>_pores.csv, _throats.csv, _summary.csv, <stem>.vtp (nodes
// and throats along their skeleton paths, radius per point, throat properties per line) and
// <stem>_openpnm.h5 (PoreNetwork::OpenPnmArrays). Returns the paths written.
std::vector<std::string> WriteNetworkFiles(const PoreNetwork& net, const std::string& out_dir, const std::string& stem);

// ParaView polydata of a network: node points, then the skeleton voxels of every throat; one
// polyline per throat (node a, its path, node b). Point data radius/node/coordination, cell data
// throat/min_radius/mean_radius/length.
PolyData NetworkPolyData(const PoreNetwork& net);

// The pore mask of a label volume: 1 where the value equals pore_value. Throws InvalidArgument for
// a float volume or a value out of the type's range.
Volume<std::uint8_t> PoreMaskFromLabels(const AnyVolume& labels, int pore_value);

// The mask of one phase of a frame: where the value equals `value` when value >= 0 (the frame holds
// labels), otherwise where the frame segmented with `segment` has phase label `label` (frame k's
// labels stored by the segment step when `store` is given and they match, see FrameLabels).
Volume<std::uint8_t> PhaseMaskOfFrame(const AnyVolume& frame, int value, const QuickLookOptions& segment, std::uint8_t label,
                                      const FrameStore* store = nullptr, std::int64_t k = -1);

}  // namespace op4d
