// Internal: MetaImage files for the elastix programs, through ITK, with plain op4d types only (the
// caller uses Eigen, this translation unit ITK's bundled Eigen; they must not meet).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "op4d/core/volume.h"

namespace op4d {

void WriteMetaImage(const std::string& path, const Volume<float>& v);
void WriteMetaImage(const std::string& path, const Volume<std::uint8_t>& v);
// A 3-component float vector image (elastix's deformationField) as op4d components (z, y, x): the
// component order is reversed along with the axes. Throws IoError naming the file.
std::array<Volume<float>, 3> ReadVectorImage(const std::string& path);

}  // namespace op4d
