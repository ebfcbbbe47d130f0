// A named table of float64 columns, each with a unit: the form in which every result is stored
// (in the campaign store, as CSV, in reports).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace op4d {

struct ResultColumn {
  std::string name;
  std::string unit;  // "1" for dimensionless, "um", "um^-1", "s", "Pa", …
  std::vector<double> values;
};

struct ResultTable {
  std::string name;
  std::vector<ResultColumn> columns;
  const ResultColumn* Find(const std::string& column) const {
    for (const ResultColumn& c : columns)
      if (c.name == column) return &c;
    return nullptr;
  }
  std::size_t rows() const { return columns.empty() ? 0 : columns[0].values.size(); }
};

// A named array of rows x cols values with a unit, for exports whose readers expect matrices (an
// N x 3 coordinate array, an N x 2 connection list). Row-major.
struct NamedArray {
  std::string name;
  std::string unit;
  std::int64_t rows = 0, cols = 1;
  bool integer = false;  // write as int64 (indices, counts, labels)
  std::vector<double> values;
  bool boolean = false;  // a label (0/1): HDF5 writes h5py's boolean enum, so numpy reads dtype bool
};

}  // namespace op4d
