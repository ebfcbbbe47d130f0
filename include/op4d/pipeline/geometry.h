// The geometry step: every descriptor of issue 4 for a labelled frame — volume and percolating
// fractions, interface areas (marching tetrahedra and face count), continuous size distribution
// (local thickness) of each phase, discrete particle sizes and shapes (watershed of the active
// phase), active–binder contact area with the adhesion estimates, per particle too — as tables in
// the frame's results and CSV.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op4d/frame/geometry/contacts.h"
#include "op4d/frame/geometry/percolation.h"
#include "op4d/frame/geometry/size_distribution.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/geometry/volume_fractions.h"
#include "op4d/frame/segment/watershed.h"
#include "op4d/pipeline/campaign.h"

namespace op4d {

struct GeometryRunOptions {
  std::vector<std::int64_t> frames;  // frames to analyse; empty = all
  bool labels = false;               // frames hold phase labels of segment.phases (an imported segmentation)
  QuickLookOptions segment;          // otherwise grey frames are segmented so; its phase table names the phases
  DualConnectivity connectivity;     // percolation: pore 26, solids 6
  SurfaceAreaOptions surface;
  std::vector<std::string> thickness_phases;  // local thickness of these phases; empty = every phase
  bool particles = true;             // separate the active phase (watershed): particle table, contacts per particle
  WatershedOptions watershed;
  ContactOptions adhesion;           // G_c (J/m^2) and T_max (Pa) for E_adh and F_max
  std::string out_dir;               // if set: <out_dir>/frame_<k>_<table>.csv
  // >= 2: also every descriptor on the first `ensemble` label samples the segment step stored
  // (segment --ensemble N, N >= ensemble; segmented frames only): the tables volume_fractions,
  // percolation, interface_areas, thickness_distribution, particle_size_summary and contacts each
  // get a twin "<table>_ensemble" (SummarizeTableEnsemble: the point value and _mean, _sd, _p05, _p95
  // of every column, rows by phase / phase pair), with a column seconds_per_sample [s]. 0 = none.
  int ensemble = 0;
  ThreadBudget threads;
  ProgressStyle progress = ProgressStyle::kAuto;
};

struct FrameGeometry {
  VolumeFractions fractions;
  Percolation percolation;
  std::vector<InterfaceArea> interfaces;
  ResultTable thickness;                 // "thickness_distribution": per phase, local-thickness quantiles (µm)
  std::vector<ParticleStats> particles;  // active particles (empty without particle separation)
  ResultTable particle_sizes;            // "particle_size_summary": count, equivalent-diameter quantiles
  ContactResult contacts;                // active–binder
  ResultTable seconds;                   // "geometry_timing": wall time of each descriptor
  std::vector<ResultTable> ensemble;     // the "<table>_ensemble" tables when options.ensemble >= 2
  // volume_fractions, percolation, interface_areas, thickness_distribution, particle_size_summary,
  // particles, contacts (active–binder totals), particle_contacts, geometry_timing, then the
  // ensemble tables.
  std::vector<ResultTable> Tables() const;
};

// All descriptors of one labelled frame. The phase table must have one phase with the active role
// and one with the binder role for the contacts (else the contact tables are empty).
FrameGeometry DescribeFrame(const PhaseVolume& phases, const GeometryRunOptions& options);

// Writes every table of `g` as <base>_<table>.csv. Returns the paths written.
std::vector<std::string> WriteGeometryFiles(const std::string& base, const FrameGeometry& g);

struct GeometryRunRow {
  std::int64_t frame = 0;
  FrameGeometry geometry;
  std::vector<std::string> files;
};

// DescribeFrame on each frame; tables into the frame's results (with provenance) and CSV.
std::vector<GeometryRunRow> RunGeometry(const std::string& store_path, const GeometryRunOptions& options);

}  // namespace op4d
