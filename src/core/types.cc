#include "op4d/core/types.h"

#include "op4d/core/error.h"

namespace op4d {

const char* ToString(DataType t) {
  switch (t) {
    case DataType::kUInt8: return "uint8";
    case DataType::kUInt16: return "uint16";
    case DataType::kFloat32: return "float32";
  }
  OP4D_CHECK_MSG(false, "unknown DataType");
}

DataType DataTypeFromString(const std::string& s) {
  if (s == "uint8" || s == "u8") return DataType::kUInt8;
  if (s == "uint16" || s == "u16") return DataType::kUInt16;
  if (s == "float32" || s == "f32" || s == "float") return DataType::kFloat32;
  throw ConfigError("dtype", "'" + s + "' is not a supported voxel type (uint8, uint16, float32)");
}

std::size_t ByteSize(DataType t) {
  switch (t) {
    case DataType::kUInt8: return 1;
    case DataType::kUInt16: return 2;
    case DataType::kFloat32: return 4;
  }
  OP4D_CHECK_MSG(false, "unknown DataType");
}

}  // namespace op4d
