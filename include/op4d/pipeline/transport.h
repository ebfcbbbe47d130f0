// The transport step: a frame of the store (labels, or grey values segmented as the quick look does)
// → tortuosity factor of one phase along the chosen axes by the finite-volume solver → table
// "tortuosity" in the frame's results, CSV, and optionally the concentration fields for ParaView.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/frame/transport/diffusion.h"
#include "op4d/pipeline/campaign.h"

namespace op4d {

struct TransportRunOptions {
  std::vector<std::int64_t> frames;  // frames to analyse; empty = all
  // >= 0: the frames hold labels and the phase is where the value equals `value` (an imported
  // segmentation); < 0: the frames are grey values, segmented with `segment`, and the phase is the
  // one of segment.phases named `phase` ("pore", "active", "binder" in the electrode table).
  int value = -1;
  std::string phase = "pore";
  QuickLookOptions segment;
  std::string axes = "zyx";  // driving directions, any of z, y, x
  DiffusionOptions solver;   // tolerances, preconditioner, threads (axis is set per direction)
  std::string out_dir;       // if set: <out_dir>/frame_<k>_tortuosity.csv
  bool write_field = false;  // and <out_dir>/frame_<k>_c_<axis>.vti, the concentration field per axis
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct TransportRunRow {
  std::int64_t frame = 0;
  ResultTable table;               // one row per axis: DiffusionResult::ToTable() and seconds
  std::vector<std::string> files;  // files written
};

// The tortuosity table of a phase mask along each axis of `axes` (one row per axis; a column
// "seconds" with the solve time). Fields, if `fields` is given, receive the concentration per axis.
ResultTable TortuosityTable(const Volume<std::uint8_t>& mask, const std::string& axes, const DiffusionOptions& solver,
                            std::vector<Volume<float>>* fields = nullptr, ProgressStyle progress = ProgressStyle::kOff);

// Writes <base>_tortuosity.csv and, per axis of `axes` with a field, <base>_c_<axis>.vti (the
// concentration, NaN outside the phase). Returns the paths written.
std::vector<std::string> WriteTortuosityFiles(const std::string& base, const ResultTable& table,
                                              const std::vector<Volume<float>>& fields, const std::string& axes);

// Runs TortuosityTable on each frame and writes it into the frame's results (with provenance).
std::vector<TransportRunRow> RunTransport(const std::string& store_path, const TransportRunOptions& options);

}  // namespace op4d
