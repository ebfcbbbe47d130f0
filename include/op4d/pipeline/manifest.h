// Campaign manifest: a CSV naming one file per frame with its time-table columns, so an archived
// campaign imports in one command.
//
//   # comments start with '#'
//   file,time_s,voltage_V,current_A,p_app_Pa,temperature_K [K]
//   scan_000.tif,0,3.61,0.002,101325,298.1
//
// Required columns: file, time_s. Optional: dataset (HDF5 path), frame (index in a 4D input), any
// standard time column (time_s, cycle, step, voltage_V, current_A, charge_Ah, soc_ref, p_app_Pa)
// and user columns, whose unit may follow the name in brackets. Relative paths are relative to the
// manifest's folder.
#pragma once

#include <string>
#include <vector>

#include "op4d/store/frame_store.h"

namespace op4d {

struct ManifestEntry {
  std::string file;     // absolute or relative to the working directory
  std::string dataset;  // "" unless given
  std::int64_t frame = 0;
  TimeRow row;
  int line = 0;  // line number in the manifest, for error messages
};

struct Manifest {
  std::string path;
  std::vector<TimeColumnSpec> user_columns;  // columns not in StandardTimeColumns()
  std::vector<ManifestEntry> entries;
};

// Throws IoError naming the manifest, the line and the column at fault.
Manifest ReadManifest(const std::string& path);

}  // namespace op4d
