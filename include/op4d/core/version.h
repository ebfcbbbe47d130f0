#pragma once
namespace op4d {
// op4d's version string ("0.1.0"), recorded in every provenance entry.
const char* Version();
}  // namespace op4d
