// Disjoint sets over 0..n-1 with path halving. Union keeps the smaller index as the root, so a set's
// root is its first element whatever the order of the unions (deterministic labels and merges).
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

namespace op4d {

class UnionFind {
 public:
  explicit UnionFind(std::int64_t n = 0) : parent_(static_cast<std::size_t>(n)) {
    std::iota(parent_.begin(), parent_.end(), std::int64_t(0));
  }
  std::int64_t size() const { return std::int64_t(parent_.size()); }
  // Appends a new singleton set; returns its index.
  std::int64_t Add() {
    parent_.push_back(size());
    return size() - 1;
  }
  std::int64_t Find(std::int64_t a) {
    while (parent_[std::size_t(a)] != a) {
      parent_[std::size_t(a)] = parent_[std::size_t(parent_[std::size_t(a)])];
      a = parent_[std::size_t(a)];
    }
    return a;
  }
  // Joins the sets of a and b; returns the root of the joined set (the smaller of the two roots).
  std::int64_t Union(std::int64_t a, std::int64_t b) {
    a = Find(a);
    b = Find(b);
    if (a == b) return a;
    if (b < a) std::swap(a, b);
    parent_[std::size_t(b)] = a;
    return a;
  }

 private:
  std::vector<std::int64_t> parent_;
};

}  // namespace op4d
