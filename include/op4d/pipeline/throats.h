// The throat-history step over a campaign store: the pore network of the reference frame, every
// throat carried into every frame with that frame's registration (table `registration`, written by
// the register step; identity when absent) and its radius measured on the frame's distance
// transform, the Young–Laplace open/closed rule with the frame's applied pressure (time-table column
// p_app_Pa), percolation per frame and the history.
//
// Written: series tables throat_frames, throat_history, percolation_summary and throat_radii (one
// row per throat, one column per frame); with out_dir, CSV files and throat_history.vtp (the
// reference throats along their skeleton paths, radius_<k> and open_<k> per frame for ParaView).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/frame/network/pore_network.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/track/throats/carry.h"
#include "op4d/track/throats/percolation_history.h"

namespace op4d {

struct ThroatRunOptions {
  std::int64_t reference = 0;
  int pore_value = -1;            // >= 0: frames hold labels, pore = value; < 0: segment with `segment`
  QuickLookOptions segment;
  NetworkOptions network;
  YoungLaplace law;               // γ (N/m), θ (degrees), r_min (µm)
  CarryOptions carry;             // search tolerance (µm)
  std::uint8_t inlet_face = 1;    // Face bits: separator z = 0
  std::uint8_t outlet_face = 2;   // current collector z = max
  std::string out_dir;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct ThroatRunResult {
  PoreNetwork network;            // of the reference frame
  ThroatSeries series;
  PercolationHistory history;
  std::int64_t frames_with_registration = 0;  // frames whose motion came from the store
  std::vector<std::string> files;
};

ThroatRunResult RunThroatHistory(const std::string& store_path, const ThroatRunOptions& options);

}  // namespace op4d
