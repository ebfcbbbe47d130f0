// Voxel types op4d stores and computes on, declared once (STYLE.md §8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace op4d {

// Grey-level and label voxel types a campaign frame may have on disk.
enum class DataType { kUInt8, kUInt16, kFloat32 };

const char* ToString(DataType t);              // "uint8", "uint16", "float32"
DataType DataTypeFromString(const std::string& s);  // throws ConfigError naming the value
std::size_t ByteSize(DataType t);

template <class T>
struct DataTypeOf;
template <>
struct DataTypeOf<std::uint8_t> {
  static constexpr DataType value = DataType::kUInt8;
};
template <>
struct DataTypeOf<std::uint16_t> {
  static constexpr DataType value = DataType::kUInt16;
};
template <>
struct DataTypeOf<float> {
  static constexpr DataType value = DataType::kFloat32;
};

}  // namespace op4d
