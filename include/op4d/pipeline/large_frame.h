// One frame of a campaign analysed block by block, for frames too large to hold (1024^3-2048^3,
// issue 30): the nlm+gmm segmentation (SegmentNlmGmmStreamed, reading the frame from the store by
// hyperslab), phase fractions, the connected components and percolation of every phase (pore with
// 26-, solids with 6-connectivity) and the interface areas, each slab by slab. Memory is a few slabs
// of planes; the results are the whole-volume kernels' (tested bit-identical, kernel by kernel).
//
// Stored in frame k's results: the volume 'labels_blockwise' (uint8 phases, written region by
// region) and the tables 'fractions_blockwise', 'percolation_blockwise', 'interface_areas_blockwise'
// and 'blockwise_steps' (seconds per step). Their own names, because the labels differ from the
// segment step's 'labels' by the island clean-up (not yet block-wise), and the later steps must not
// take them for those.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/phase.h"
#include "op4d/core/progress.h"
#include "op4d/core/table.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/frame/segment/segment_streamed.h"

namespace op4d {

struct LargeFrameOptions {
  std::int64_t frame = 0;
  PhaseTable phases = PhaseTable::Electrode();   // the tables' phases, in table order
  std::vector<std::uint8_t> class_labels{0, 2, 1};  // phase of each mixture class, darkest first (as the segment step)
  std::int64_t slab_z = 64;
  std::string scratch_dir;                      // "" = beside nothing: /tmp
  ForwardModelOptions refine;                   // the segment step's defaults
  std::int64_t min_island_voxels = 27;          // the segment step's island clean-up (dual connectivity)
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct LargeFrameResult {
  StreamedSegmentationReport segmentation;
  std::int64_t islands = 0;                     // voxels the island clean-up relabelled
  std::vector<std::int64_t> voxels;             // per phase (table order)
  struct Percolation {
    std::string phase;
    Connectivity connectivity = Connectivity::k6;
    std::int64_t components = 0;
    std::array<double, 3> spanning{0, 0, 0};    // share of the phase's voxels in components spanning z, y, x
  };
  std::vector<Percolation> percolation;
  std::vector<InterfaceArea> areas;
  std::vector<std::pair<std::string, double>> seconds;  // per step
  ResultTable FractionsTable(const Geometry& g, const PhaseTable& t) const;
  ResultTable PercolationTable() const;
};

// Runs on frame options.frame of the store (opened read-write: the results are written into it).
LargeFrameResult AnalyseLargeFrame(const std::string& store_path, const LargeFrameOptions& options);

}  // namespace op4d
