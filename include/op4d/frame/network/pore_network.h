// Pore-network model of the pore space: nodes (pore bodies) at the junctions and free ends of the
// skeleton, throats along the skeleton branches between them, the pore space partitioned among the
// nodes, and the topology check that the graph keeps the pore space's components and loops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"
#include "op4d/frame/network/skeleton.h"
#include "op4d/frame/network/topology.h"

namespace op4d {

struct NetworkOptions {
  SkeletonOptions skeleton;
  // Enclosed solid (a grain floating in the pore space, a cavity of the pore phase) is counted as
  // pore for the skeleton, so that it thins to curves; the number filled is reported.
  bool fill_cavities = true;
  // Self-loops and repeated throats between the same two nodes are split by a node inserted on the
  // branch (at its widest point), so the graph is simple, as pore-network solvers expect.
  bool simple_graph = true;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
  // Two junction nodes joined by one branch, the centre of one inside the other's inscribed ball, are
  // one pore (the thinning split it, e.g. on a noisy wall): merged into the node with the larger ball.
  bool merge_inside_balls = true;
};

// Radii are inscribed radii from the distance transform: the distance from the voxel centre to the
// centre of the nearest solid voxel (the convention of the local thickness), outside the volume
// counting as pore. Positions are physical (µm, z, y, x) with the volume's origin.
struct PoreNode {
  Vec3 position_um{0, 0, 0};            // centre: centroid of the node's skeleton voxels (where branches meet)
  std::int64_t voxel = 0;               // linear index of the node's skeleton voxel nearest that centre
  double radius_um = 0;                 // largest inscribed sphere among the node's skeleton voxels
  std::int64_t skeleton_voxels = 0;     // junction voxels merged into the node (1 for ends)
  std::int64_t region_voxels = 0;       // pore voxels of the region the node owns
  double region_volume_um3 = 0;
  std::uint8_t faces = 0;               // Face bits: volume faces the node's skeleton voxels lie on
  int coordination = 0;                 // throats at the node
  bool inserted = false;                // inserted to split a self-loop or a repeated throat
};

struct PoreThroat {
  std::int32_t a = 0, b = 0;            // node indices, a <= b
  double length_um = 0;                 // along the skeleton from node a's centre to node b's centre
  double direct_length_um = 0;          // straight line between the two centres
  double min_radius_um = 0;             // the bottleneck: smallest inscribed radius along the branch
  double mean_radius_um = 0;            // mean inscribed radius over the branch's voxels
  std::int64_t bottleneck_voxel = 0;    // linear index of the bottleneck voxel
  Vec3 bottleneck_um{0, 0, 0};
  std::int64_t path_begin = 0, path_end = 0;  // the branch's voxels (from a to b): path[begin, end)
};

struct PoreNetwork {
  Geometry geometry;
  std::vector<PoreNode> nodes;
  std::vector<PoreThroat> throats;
  std::vector<std::int64_t> path;  // linear voxel indices of all throat branches, throat by throat
  std::vector<float> path_radius_um;  // inscribed radius at each of those voxels

  // Topology: the graph's components and independent loops (throats - nodes + components) against
  // the pore space's Betti numbers (after cavity filling). Equal when the extraction is right.
  std::int64_t graph_components = 0;
  std::int64_t graph_loops = 0;
  Topology pore;
  std::int64_t cavities_filled = 0;     // enclosed solid components counted as pore
  std::int64_t skeleton_voxels = 0;
  std::int64_t spurs_removed = 0;
  std::int64_t nodes_inserted = 0;
  std::int64_t nodes_merged = 0;        // merged into a node whose ball holds their centre

  // Centre (µm, z y x) of a voxel given by its linear index (path and bottleneck voxels).
  Vec3 VoxelPosition(std::int64_t linear_index) const;

  // Node (pore) table: node, z_um, y_um, x_um, radius_um, region_volume_um3, region_voxels,
  // coordination, skeleton_voxels, inserted, touches_zmin … touches_xmax (0/1).
  ResultTable NodeTable() const;
  // Throat table: throat, node_a, node_b, length_um, direct_length_um, min_radius_um, mean_radius_um,
  // bottleneck_z_um, bottleneck_y_um, bottleneck_x_um, path_voxels.
  ResultTable ThroatTable() const;
  // Throat paths: one row per branch voxel: throat, z, y, x (voxel indices), radius_um.
  ResultTable PathTable() const;
  // One row: counts, topology check, mean coordination.
  ResultTable SummaryTable() const;
  // The network as the dictionary OpenPNM (and PoreSpy) users load: "pore.coords" (Np x 3, x y z,
  // metres), "throat.conns" (Nt x 2), diameters, lengths and volumes in SI units, boundary labels
  // "pore.xmin" … "pore.zmax" (0/1). op.network.Network(conns=..., coords=...) or
  // op.io.network_from_porespy(dict) accept it.
  std::vector<NamedArray> OpenPnmArrays() const;
};

// Extracts the network of the voxels where pore_mask != 0: cavity filling, exact anisotropic
// distance transform, skeleton, graph, partition of the pore space (each pore voxel goes to the node
// nearest along the pore space; branches are split between their two nodes at the bottleneck),
// Betti numbers of the pore space. An empty mask gives an empty network.
// Memory: about 14 bytes per voxel at the peak (the distance transform), besides the mask.
PoreNetwork ExtractPoreNetwork(const Volume<std::uint8_t>& pore_mask, const NetworkOptions& options = {});

}  // namespace op4d
