// Exporters: a frame or a result to formats ParaView, Fiji and ITK read.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

enum class OutputFormat { kAuto, kTiffStack, kItk, kVti, kRaw };

// Writes a volume; the format follows the extension: .tif/.tiff (multi-page, ImageJ spacing),
// .mha/.mhd/.nrrd/.nii/.nii.gz (ITK), .vti (VTK XML image data for ParaView), .raw (little-endian).
void WriteVolume(const std::string& path, ConstVolumeView v, const std::string& name = "values");
void WriteTiffStack(const std::string& path, ConstVolumeView v);
void WriteItkImage(const std::string& path, ConstVolumeView v);
void WriteVti(const std::string& path, ConstVolumeView v, const std::string& name = "values");

// CSV with a header row "name [unit]".
void WriteCsv(const std::string& path, const ResultTable& table);

// Points joined by polylines, with named arrays per point and per line: a graph (a pore network)
// for ParaView. Points are (z, y, x) in µm like everything in op4d; the file holds them as VTK's
// (x, y, z). Each array has rows == points (point data) or rows == lines (cell data) and 1 or 3
// columns; its unit goes into the array name ("radius [um]").
struct PolyData {
  std::vector<Vec3> points;
  std::vector<std::vector<std::int64_t>> lines;  // point indices of each polyline (at least 2)
  std::vector<NamedArray> point_data, cell_data;
};
// VTK XML PolyData (.vtp), ASCII. Throws IoError naming the file, InvalidArgument for an array
// whose size does not match or a line that refers to a missing point.
void WriteVtp(const std::string& path, const PolyData& data);

// Every array as a dataset named by the array (rows x cols; float64, int64 when integer, h5py's
// boolean enum when boolean) at the
// root of a new HDF5 file, with a "unit" attribute, and the given string attributes on the root.
// Names may contain dots ("pore.coords"): a reader gets {name: array} with h5py in one line.
void WriteNamedArraysHdf5(const std::string& path, const std::vector<NamedArray>& arrays,
                          const std::vector<std::pair<std::string, std::string>>& root_attributes = {});

}  // namespace op4d
