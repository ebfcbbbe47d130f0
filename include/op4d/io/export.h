// Exporters: a frame or a result to formats ParaView, Fiji and ITK read.
#pragma once

#include <string>

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

}  // namespace op4d
