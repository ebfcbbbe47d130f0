// A named table of float64 columns, each with a unit: the form in which every result is stored
// (in the campaign store, as CSV, in reports).
#pragma once

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

}  // namespace op4d
