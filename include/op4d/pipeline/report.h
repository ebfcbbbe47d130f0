// Campaign report and result digest.
//
// WriteReport turns what a store holds into one self-contained HTML page (plots as inline SVG, slice
// images as embedded PNG, no scripts, no network), CSV tables beside it, and VTK files for ParaView:
//   <out>/report.html
//   <out>/csv/time.csv                 the time table
//   <out>/csv/<table>.csv              a per-frame table, all frames stacked, first column "frame"
//   <out>/csv/series_<table>.csv       a series table
//   <out>/vtk/frame_<k>.vti            grey frame k of the slice frames (and J_<k>.vti if stored)
// Plots: every time-table column; every column of a per-frame table against time (one line per row of
// small tables, e.g. per phase or axis; median and 10-90 % band over the rows of per-particle tables);
// every column of a series table with one row per frame. Cycle changes are marked on every plot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/core/progress.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/store/frame_store.h"

namespace op4d {

// Columns that measure the run rather than the sample (wall times: a table "pipeline_run", tables
// named "*_timing", columns named "seconds" or "seconds_per_sample"). They differ between two runs of the same inputs and
// are left out of DigestResults.
bool IsRunMeasurement(const std::string& table, const std::string& column);

struct ResultDigest {
  std::string item;  // "/results/000003/tortuosity", "/results/000003/J", "/series/soc_series"
  std::string hash;  // FNV-1a (64 bit, hex) of the names, units and values (float64 bytes)
};

// One digest per stored result (per-frame tables and volumes, series tables, in store order),
// without run measurements: two stores with equal digests hold the same results.
std::vector<ResultDigest> DigestResults(const FrameStore& store);

struct ReportOptions {
  std::string out_dir;                      // created if absent
  std::vector<std::int64_t> slice_frames;  // frames shown as slices; empty = first and last
  QuickLookOptions segment;                 // how slice frames are segmented for the label overlay
  bool vtk = true;                          // write the slice frames as .vti
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct ReportSummary {
  std::string html;                // path of report.html
  std::vector<std::string> files;  // every file written (html, csv, vti, ...)
  int plots = 0;                   // plots in the page
  int slices = 0;                  // slice images in the page
};

// Throws IoError naming the store or the output file at fault, ConfigError for a slice frame that
// is not in the store.
ReportSummary WriteReport(const std::string& store_path, const ReportOptions& options);

// A PNG (8-bit RGB, no interlace) of width x height pixels, rgb row-major; for slice images.
std::string EncodePng(const std::vector<std::uint8_t>& rgb, int width, int height);

}  // namespace op4d
