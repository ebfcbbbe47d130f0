#include "op4d/frame/transport/diffusion.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>
#include <sys/mman.h>
#include <new>
#include <cstdlib>

#include "op4d/core/error.h"
#include "op4d/frame/segment/connectivity.h"

namespace op4d {
namespace {

constexpr std::int64_t kGrain = 4096;  // cells per task in vector loops
constexpr std::int64_t kRowGrain = 8;  // rows per task in stencil loops

// Deterministic sum over [0, n): the same partition and order for any thread count.
template <class F>
double Sum(std::int64_t n, ThreadBudget threads, F&& term) {
  return RunInArena(threads, [&] {
    return tbb::parallel_deterministic_reduce(
        tbb::blocked_range<std::int64_t>(0, n, kGrain), 0.0,
        [&](const tbb::blocked_range<std::int64_t>& r, double acc) {
          for (std::int64_t i = r.begin(); i != r.end(); ++i) acc += term(i);
          return acc;
        },
        [](double a, double b) { return a + b; });
  });
}

template <class F>
void ForEach(std::int64_t n, std::int64_t grain, ThreadBudget threads, F&& body) {
  RunInArena(threads, [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, grain), [&](const tbb::blocked_range<std::int64_t>& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) body(i);
    });
  });
}

// Large solver arrays on transparent huge pages where the kernel offers them on request (madvise
// mode): one page fault per 2 MiB instead of per 4 KiB when the arrays are first written, and fewer
// TLB misses in the stencil loops, which read neighbours a plane apart.
template <class T>
struct HugeAllocator {
  using value_type = T;
  static constexpr std::size_t kHuge = std::size_t(2) << 20;
  HugeAllocator() = default;
  template <class U>
  HugeAllocator(const HugeAllocator<U>&) {}
  static bool Large(std::size_t n) { return n * sizeof(T) >= 2 * kHuge; }
  T* allocate(std::size_t n) {
    if (!Large(n)) return static_cast<T*>(::operator new(n * sizeof(T)));
    const std::size_t bytes = (n * sizeof(T) + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, bytes);
    if (!p) throw std::bad_alloc();
    madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without huge pages the memory is ordinary
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) {
    if (Large(n)) std::free(p);
    else ::operator delete(p);
  }
  template <class U>
  bool operator==(const HugeAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const HugeAllocator<U>&) const { return false; }
};
template <class T>
using BigVector = std::vector<T, HugeAllocator<T>>;

// The cells of one level: the active voxels of a structured grid, stored row by row (a row is one
// (z, y)) as runs along x. Cells are numbered in scan order, so the cells of a run are consecutive.
// Neighbours along x are the next and previous cells of a run; neighbours along y and z are found
// by walking two sorted run lists side by side. Memory: one Run per run, none per cell.
struct Run {
  std::int32_t x0 = 0, len = 0;
  std::int64_t cell0 = 0;
};

struct RunGrid {
  Index3 shape{0, 0, 0};
  BigVector<std::int64_t> row_begin;  // runs of row r: runs[row_begin[r] .. row_begin[r + 1])
  BigVector<Run> runs;
  std::int64_t cells = 0;
  std::int64_t rows() const { return shape[0] * shape[1]; }
  std::int64_t FirstCell(std::int64_t r) const {
    const std::int64_t b = row_begin[std::size_t(r)];
    return b < row_begin[std::size_t(r) + 1] ? runs[std::size_t(b)].cell0 : 0;
  }
};

// Numbers the cells of per-row run lists in row order (and frees the lists).
RunGrid Assemble(Index3 shape, std::vector<std::vector<Run>>& rows) {
  RunGrid g;
  g.shape = shape;
  g.row_begin.assign(rows.size() + 1, 0);
  std::int64_t nruns = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    g.row_begin[r] = nruns;
    nruns += std::int64_t(rows[r].size());
  }
  g.row_begin.back() = nruns;
  g.runs.reserve(std::size_t(nruns));
  for (auto& row : rows) {
    for (Run run : row) {
      run.cell0 = g.cells;
      g.cells += run.len;
      g.runs.push_back(run);
    }
    std::vector<Run>().swap(row);
  }
  return g;
}

// Calls f(i, j, len, x) for every stretch of x where rows a and b both hold cells: cells i .. i+len-1
// of row a face cells j .. j+len-1 of row b; the stretch starts at column x.
template <class F>
void Overlaps(const RunGrid& g, std::int64_t a, std::int64_t b, F&& f) {
  std::int64_t ia = g.row_begin[std::size_t(a)], ea = g.row_begin[std::size_t(a) + 1];
  std::int64_t ib = g.row_begin[std::size_t(b)], eb = g.row_begin[std::size_t(b) + 1];
  while (ia < ea && ib < eb) {
    const Run& A = g.runs[std::size_t(ia)];
    const Run& B = g.runs[std::size_t(ib)];
    const std::int32_t lo = std::max(A.x0, B.x0), hi = std::min(A.x0 + A.len, B.x0 + B.len);
    if (lo < hi) f(A.cell0 + (lo - A.x0), B.cell0 + (lo - B.x0), std::int64_t(hi - lo), std::int64_t(lo));
    if (A.x0 + A.len <= B.x0 + B.len) ++ia;
    else ++ib;
  }
}

// Calls f(cell, x) for every cell of row r in the end layer `side` (0: coordinate 0, 1: last) of
// axis a; x is the cell's column.
template <class F>
void EndCellsOfRow(const RunGrid& g, int a, int side, std::int64_t r, F&& f) {
  const std::int64_t coord[2] = {r / g.shape[1], r % g.shape[1]};
  const std::int64_t b = g.row_begin[std::size_t(r)], e = g.row_begin[std::size_t(r) + 1];
  if (a < 2) {
    if (coord[a] != (side ? g.shape[a] - 1 : 0)) return;
    for (std::int64_t k = b; k < e; ++k)
      for (std::int64_t t = 0; t < g.runs[std::size_t(k)].len; ++t) f(g.runs[std::size_t(k)].cell0 + t, g.runs[std::size_t(k)].x0 + t);
    return;
  }
  if (b == e) return;
  if (side == 0 && g.runs[std::size_t(b)].x0 == 0) f(g.runs[std::size_t(b)].cell0, std::int64_t(0));
  const Run& last = g.runs[std::size_t(e - 1)];
  if (side == 1 && last.x0 + last.len == g.shape[2]) f(last.cell0 + last.len - 1, g.shape[2] - 1);
}

// Conductances of a level. G(axis, i) is the conductance of the face between cell i and its
// neighbour on the + side along the axis; GB(i) the conductance of an end-layer cell to the driven
// face (half a cell). Uniform: one value per axis (a mask); arrays: one value per cell.
struct UniformCoupling {
  double g[3] = {0, 0, 0};
  double gb = 0;
  double d[128] = {}, inverse_d[128] = {};  // diagonal and its inverse by code (neighbours and end layer)
  void Tabulate() {
    for (unsigned k = 0; k < 128; ++k) {
      d[k] = 0;
      for (int b = 0; b < 6; ++b)
        if (k & (1u << b)) d[k] += g[2 - b / 2];
      if (k & 64) d[k] += gb;
      inverse_d[k] = d[k] > 0 ? 1.0 / d[k] : 0.0;
    }
  }
  double G(int axis, std::int64_t) const { return g[axis]; }
  double GB(std::int64_t) const { return gb; }
};
template <class T>
struct ArrayCoupling {
  const T* g[3] = {nullptr, nullptr, nullptr};
  const T* gb = nullptr;
  double G(int axis, std::int64_t i) const { return double(g[axis][i]); }
  double GB(std::int64_t i) const { return double(gb[i]); }
};

// One level of the operator (A x)_i = d_i x_i - sum_j g_ij x_j with d_i = sum_j g_ij + gb_i.
// Per cell, besides the runs: where its y and z neighbours sit in their rows (4 x 16 bits) and a code
// byte (which of the six neighbours exist, end layer, colour), so the stencil loops run over the
// cells of a row without branches: 9 bytes per cell.
struct Links {
  std::uint16_t zm = 0, zp = 0, ym = 0, yp = 0;  // neighbour's offset from the first cell of its row
};
enum CodeBit : std::uint8_t { kXm = 1, kXp = 2, kYm = 4, kYp = 8, kZm = 16, kZp = 32, kEnd = 64, kOdd = 128 };

struct Level {
  RunGrid grid;
  int axis = 0;  // the driven axis (end layers carry gb)
  BigVector<std::int64_t> row_first;  // first cell of every row, and the cell count at the end
  BigVector<Links> links;
  BigVector<std::uint8_t> code;
  bool uniform = false;
  UniformCoupling u;
  BigVector<double> gd[3], gbd;  // finest level with varying coefficients: exact conductances
  BigVector<float> gf[3], gbf;   // coarser levels (preconditioner only)
  BigVector<std::int32_t> parent;  // cell -> aggregate on the next coarser level
  std::int64_t size() const { return grid.cells; }
};

template <class F>
decltype(auto) WithCoupling(const Level& L, F&& f) {
  if (L.uniform) return f(L.u);
  if (!L.gd[0].empty() || L.gf[0].empty()) {
    ArrayCoupling<double> c;
    for (int a = 0; a < 3; ++a) c.g[a] = L.gd[a].data();
    c.gb = L.gbd.data();
    return f(c);
  }
  ArrayCoupling<float> c;
  for (int a = 0; a < 3; ++a) c.g[a] = L.gf[a].data();
  c.gb = L.gbf.data();
  return f(c);
}

// Calls f(i, j, axis, x) for every face between a cell i of row r and its neighbour j on the + side
// along an axis; x is the column of i.
template <class F>
void PlusFacesOfRow(const RunGrid& G, std::int64_t r, F&& f) {
  for (std::int64_t k = G.row_begin[std::size_t(r)]; k < G.row_begin[std::size_t(r) + 1]; ++k) {
    const Run& run = G.runs[std::size_t(k)];
    for (std::int64_t t = 0; t + 1 < run.len; ++t) f(run.cell0 + t, run.cell0 + t + 1, 2, run.x0 + t);
  }
  const std::int64_t coord[2] = {r / G.shape[1], r % G.shape[1]}, stride[2] = {G.shape[1], 1};
  for (int ax = 1; ax >= 0; --ax) {
    if (coord[ax] + 1 >= G.shape[ax]) continue;
    Overlaps(G, r, r + stride[ax], [&](std::int64_t i, std::int64_t j, std::int64_t len, std::int64_t x0) {
      for (std::int64_t t = 0; t < len; ++t) f(i + t, j + t, ax, x0 + t);
    });
  }
}

// Fills the links and codes of a level from its runs.
void BuildLinks(Level& L, ThreadBudget threads) {
  const RunGrid& G = L.grid;
  if (G.shape[2] > 65536) throw InvalidArgument("rows longer than 65536 voxels");
  L.row_first.resize(std::size_t(G.rows()) + 1);
  for (std::int64_t r = 0; r < G.rows(); ++r) L.row_first[std::size_t(r)] = G.row_begin[std::size_t(r)] < G.row_begin[std::size_t(r) + 1] ? G.FirstCell(r) : -1;
  L.row_first.back() = G.cells;
  for (std::int64_t r = G.rows() - 1; r >= 0; --r)  // empty rows: the next row's first cell
    if (L.row_first[std::size_t(r)] < 0) L.row_first[std::size_t(r)] = L.row_first[std::size_t(r) + 1];
  L.links.assign(std::size_t(G.cells), Links{});
  L.code.assign(std::size_t(G.cells), 0);
  ForEach(G.rows(), 16, threads, [&](std::int64_t r) {
    const std::int64_t z = r / G.shape[1], y = r % G.shape[1];
    for (std::int64_t k = G.row_begin[std::size_t(r)]; k < G.row_begin[std::size_t(r) + 1]; ++k) {
      const Run& run = G.runs[std::size_t(k)];
      for (std::int64_t t = 0; t < run.len; ++t)
        L.code[std::size_t(run.cell0 + t)] = std::uint8_t((t > 0 ? kXm : 0) | (t + 1 < run.len ? kXp : 0) |
                                                          (((z + y + run.x0 + t) & 1) ? kOdd : 0));
    }
    const std::int64_t coord[2] = {z, y}, stride[2] = {G.shape[1], 1};
    for (int ax = 0; ax < 2; ++ax)
      for (int side = 0; side < 2; ++side) {
        if (side == 0 ? coord[ax] == 0 : coord[ax] == G.shape[ax] - 1) continue;
        const std::int64_t nr = r + (side ? stride[ax] : -stride[ax]);
        const std::int64_t f = L.row_first[std::size_t(nr)];
        const std::uint8_t bit = ax == 0 ? (side ? kZp : kZm) : (side ? kYp : kYm);
        Overlaps(G, r, nr, [&](std::int64_t i, std::int64_t j, std::int64_t len, std::int64_t) {
          for (std::int64_t t = 0; t < len; ++t) {
            Links& l = L.links[std::size_t(i + t)];
            const std::uint16_t off = std::uint16_t(j + t - f);
            (ax == 0 ? (side ? l.zp : l.zm) : (side ? l.yp : l.ym)) = off;
            L.code[std::size_t(i + t)] |= bit;
          }
        });
      }
    for (int side = 0; side < 2; ++side)
      EndCellsOfRow(G, L.axis, side, r, [&](std::int64_t i, std::int64_t) { L.code[std::size_t(i)] |= kEnd; });
  });
}

// For every cell i of row r, in order: op(i, acc, d) with acc = sum_j g_ij x_j and d = sum_j g_ij + gb_i.
// Absent neighbours are read at a valid index (the first cell of their row, or the previous/next cell)
// and weighted by zero. In a Gauss-Seidel half-sweep that cell may be one another thread is writing:
// the finite value read is multiplied by zero, so the result does not depend on the timing.
template <class C, class X, class Op>
inline void RowKernel(const Level& L, const C& c, std::int64_t r, const X* x, Op&& op, int colour = -1) {
  const Index3& s = L.grid.shape;
  const std::int64_t n = L.grid.cells, z = r / s[1], y = r % s[1];
  auto first = [&](std::int64_t rr, bool valid) { return valid ? std::min(L.row_first[std::size_t(rr)], n - 1) : 0; };
  const std::int64_t fzm = first(r - s[1], z > 0), fzp = first(r + s[1], z + 1 < s[0]);
  const std::int64_t fym = first(r - 1, y > 0), fyp = first(r + 1, y + 1 < s[1]);
  const std::int64_t e = L.row_first[std::size_t(r) + 1];
  const unsigned skip = colour < 0 ? 256u : colour ? 0u : unsigned(kOdd);  // the colour left out
  static constexpr double kBit[2] = {0.0, 1.0};
  for (std::int64_t i = L.row_first[std::size_t(r)]; i < e; ++i) {
    const unsigned k = L.code[std::size_t(i)];
    if ((k & kOdd) == skip) continue;  // colours alternate along a row: a predictable branch
    const Links& l = L.links[std::size_t(i)];
    const std::int64_t im = i - (i > 0), ip = i + (i + 1 < n);
    const std::int64_t jzm = fzm + l.zm, jzp = fzp + l.zp, jym = fym + l.ym, jyp = fyp + l.yp;
    if constexpr (std::is_same_v<C, UniformCoupling>) {
      const double acc = c.g[2] * (kBit[k & 1] * double(x[im]) + kBit[(k >> 1) & 1] * double(x[ip])) +
                         c.g[1] * (kBit[(k >> 2) & 1] * double(x[jym]) + kBit[(k >> 3) & 1] * double(x[jyp])) +
                         c.g[0] * (kBit[(k >> 4) & 1] * double(x[jzm]) + kBit[(k >> 5) & 1] * double(x[jzp]));
      op(i, k, acc, c.d[k & 127]);
    } else {
      const double gxm = kBit[k & 1] * c.G(2, im), gxp = kBit[(k >> 1) & 1] * c.G(2, i);
      const double gym = kBit[(k >> 2) & 1] * c.G(1, jym), gyp = kBit[(k >> 3) & 1] * c.G(1, i);
      const double gzm = kBit[(k >> 4) & 1] * c.G(0, jzm), gzp = kBit[(k >> 5) & 1] * c.G(0, i);
      const double acc = gxm * double(x[im]) + gxp * double(x[ip]) + gym * double(x[jym]) + gyp * double(x[jyp]) +
                         gzm * double(x[jzm]) + gzp * double(x[jzp]);
      op(i, k, acc, gxm + gxp + gym + gyp + gzm + gzp + kBit[(k >> 6) & 1] * c.GB(i));
    }
  }
}

// Runs body(r) for every row of a level, in parallel (rows write only their own cells).
template <class F>
void ForEachRow(const Level& L, ThreadBudget threads, F&& body) {
  ForEach(L.grid.rows(), kRowGrain, threads, body);
}

// Calls f(i, (A x)_i) for every cell, rows in parallel, and returns the sum of the rows' results of f
// (each row's in cell order, then the rows' in row order: the same for any thread count).
template <class X, class F>
double ForEachProduct(const Level& L, const X* x, ThreadBudget threads, F&& f) {
  BigVector<double> row_sum(std::size_t(L.grid.rows()), 0.0);
  WithCoupling(L, [&](const auto& c) {
    ForEachRow(L, threads, [&](std::int64_t r) {
      double sum = 0;
      RowKernel(L, c, r, x, [&](std::int64_t i, unsigned, double acc, double d) { sum += f(i, d * double(x[i]) - acc); });
      row_sum[std::size_t(r)] = sum;
    });
  });
  return Sum(L.grid.rows(), threads, [&](std::int64_t r) { return row_sum[std::size_t(r)]; });
}

// The diagonal of A.
BigVector<double> Diagonal(const Level& L, ThreadBudget threads) {
  BigVector<double> diag(std::size_t(L.size()));
  const BigVector<float> zero(std::size_t(L.size()), 0.0f);
  WithCoupling(L, [&](const auto& c) {
    ForEachRow(L, threads, [&](std::int64_t r) {
      RowKernel(L, c, r, zero.data(), [&](std::int64_t i, unsigned, double, double d) { diag[std::size_t(i)] = d; });
    });
  });
  return diag;
}

// One Gauss-Seidel half-sweep: every cell of one colour ((z + y + x) even or odd) solves its own
// equation with its neighbours, all of the other colour, held. Cells of one colour never neighbour
// each other, so rows run in parallel and the result does not depend on the thread count.
template <class X, class B>
void SmoothColour(const Level& L, X* x, const B* b, int colour, ThreadBudget threads) {
  WithCoupling(L, [&](const auto& c) {
    ForEachRow(L, threads, [&](std::int64_t r) {
      RowKernel(
          L, c, r, x,
          [&](std::int64_t i, unsigned k, double acc, double d) {
            if constexpr (std::is_same_v<std::decay_t<decltype(c)>, UniformCoupling>) x[i] = X((double(b[i]) + acc) * c.inverse_d[k & 127]);
            else x[i] = X((double(b[i]) + acc) / d);
          },
          colour);
    });
  });
}

// The first half-sweep from x = 0: even cells x_i = b_i / d_i (their neighbours are all zero), odd
// cells 0.
template <class X, class B>
void SmoothFromZero(const Level& L, X* x, const B* b, ThreadBudget threads) {
  if (L.uniform) {
    ForEach(L.size(), kGrain, threads, [&](std::int64_t i) {
      const unsigned k = L.code[std::size_t(i)];
      x[i] = (k & kOdd) ? X(0) : X(double(b[i]) * L.u.inverse_d[k & 127]);
    });
    return;
  }
  std::fill(x, x + L.size(), X(0));
  SmoothColour(L, x, b, 0, threads);
}

// Calls f(r, z, y) for the fine rows (2Z + dz, 2Y + dy) inside the fine grid `fine` of coarse row R of
// the coarse grid with `coarse_y` rows per plane.
template <class F>
void ForEachFineRow(const Index3& fine, std::int64_t coarse_y, std::int64_t R, F&& f) {
  const std::int64_t Z = R / coarse_y, Y = R % coarse_y;
  for (std::int64_t z = 2 * Z; z < std::min(2 * Z + 2, fine[0]); ++z)
    for (std::int64_t y = 2 * Y; y < std::min(2 * Y + 2, fine[1]); ++y) f(z * fine[1] + y, z, y);
}

// The coarse level of 2x2x2 aggregates: a coarse cell per block holding at least one cell. With the
// piecewise-constant prolongation P, the Galerkin operator P^T A P couples face-adjacent blocks only
// (blocks are aligned), with the sum of the fine conductances across the block face, and carries the
// sum of the fine boundary conductances: it is again an operator of this form. Sets fine.parent.
Level Coarsen(Level& fine, ThreadBudget threads) {
  const RunGrid& F = fine.grid;
  Level C;
  C.axis = fine.axis;
  Index3 cs;
  for (int a = 0; a < 3; ++a) cs[a] = (F.shape[a] + 1) / 2;
  const std::int64_t crows = cs[0] * cs[1];
  auto fine_rows = [&](std::int64_t R, auto&& f) { ForEachFineRow(F.shape, cs[1], R, f); };
  std::vector<std::vector<Run>> rows(static_cast<std::size_t>(crows));
  ForEach(crows, 64, threads, [&](std::int64_t R) {
    std::vector<std::pair<std::int32_t, std::int32_t>> spans;  // [lo, hi] of coarse columns
    fine_rows(R, [&](std::int64_t r, std::int64_t, std::int64_t) {
      for (std::int64_t k = F.row_begin[std::size_t(r)]; k < F.row_begin[std::size_t(r) + 1]; ++k)
        spans.push_back({F.runs[std::size_t(k)].x0 / 2, (F.runs[std::size_t(k)].x0 + F.runs[std::size_t(k)].len - 1) / 2});
    });
    std::sort(spans.begin(), spans.end());
    std::vector<Run>& out = rows[std::size_t(R)];
    for (const auto& s : spans) {
      if (!out.empty() && s.first <= out.back().x0 + out.back().len) {
        out.back().len = std::max(out.back().len, s.second - out.back().x0 + 1);
      } else {
        Run run;
        run.x0 = s.first;
        run.len = s.second - s.first + 1;
        out.push_back(run);
      }
    }
  });
  C.grid = Assemble(cs, rows);
  BuildLinks(C, threads);
  const std::size_t nc = static_cast<std::size_t>(C.size());
  for (int a = 0; a < 3; ++a) C.gf[a].assign(nc, 0.0f);
  C.gbf.assign(nc, 0.0f);
  fine.parent.assign(std::size_t(fine.size()), 0);
  WithCoupling(fine, [&](const auto& c) {
    ForEach(crows, 16, threads, [&](std::int64_t R) {
      const std::int64_t rb = C.grid.row_begin[std::size_t(R)], re = C.grid.row_begin[std::size_t(R) + 1];
      fine_rows(R, [&](std::int64_t r, std::int64_t z, std::int64_t y) {
        std::int64_t k = rb;  // coarse run holding the column
        for (std::int64_t f = F.row_begin[std::size_t(r)]; f < F.row_begin[std::size_t(r) + 1]; ++f) {
          const Run& run = F.runs[std::size_t(f)];
          for (std::int64_t t = 0; t < run.len; ++t) {
            const std::int64_t X = (run.x0 + t) / 2;
            while (k + 1 < re && C.grid.runs[std::size_t(k)].x0 + C.grid.runs[std::size_t(k)].len <= X) ++k;
            fine.parent[std::size_t(run.cell0 + t)] = std::int32_t(C.grid.runs[std::size_t(k)].cell0 + X - C.grid.runs[std::size_t(k)].x0);
          }
        }
        // Faces leaving the block: from its upper layer along each axis to the next block.
        const bool upper[3] = {z % 2 == 1, y % 2 == 1, false};
        PlusFacesOfRow(F, r, [&](std::int64_t i, std::int64_t, int ax, std::int64_t x) {
          if (ax == 2 ? x % 2 == 1 : upper[ax]) C.gf[ax][std::size_t(fine.parent[std::size_t(i)])] += float(c.G(ax, i));
        });
        for (int side = 0; side < 2; ++side)
          EndCellsOfRow(F, fine.axis, side, r, [&](std::int64_t i, std::int64_t) {
            C.gbf[std::size_t(fine.parent[std::size_t(i)])] += float(c.GB(i));
          });
      });
    });
  });
  return C;
}

// V-cycle of aggregation multigrid as a preconditioner: one symmetric Gauss-Seidel sweep (red, black)
// before the coarse correction and its mirror (black, red) after, the coarse correction scaled by
// kOverCorrection (piecewise-constant prolongation underestimates smooth errors by about half; the
// scaling keeps the cycle symmetric and positive definite for factors below 2), the coarsest level
// solved exactly. Levels below the finest work in single precision: the preconditioner only shapes
// the search directions; the solution and residual of the conjugate gradients stay in double precision.
class Multigrid {
 public:
  Multigrid(Level& fine, ThreadBudget threads) : threads_(threads) {
    levels_.push_back(&fine);
    while (levels_.back()->size() > kCoarsest) {
      auto c = std::make_unique<Level>(Coarsen(*levels_.back(), threads));
      if (c->size() >= levels_.back()->size()) {
        levels_.back()->parent.clear();
        break;
      }
      owned_.push_back(std::move(c));
      levels_.push_back(owned_.back().get());
    }
    const Level& L = *levels_.back();
    const std::int64_t n = L.size();
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n, n);
    WithCoupling(L, [&](const auto& c) {
      for (std::int64_t r = 0; r < L.grid.rows(); ++r) {
        PlusFacesOfRow(L.grid, r, [&](std::int64_t i, std::int64_t j, int ax, std::int64_t) {
          const double g = c.G(ax, i);
          A(i, i) += g;
          A(j, j) += g;
          A(i, j) -= g;
          A(j, i) -= g;
        });
        for (int side = 0; side < 2; ++side)
          EndCellsOfRow(L.grid, L.axis, side, r, [&](std::int64_t i, std::int64_t) { A(i, i) += c.GB(i); });
      }
    });
    coarse_.compute(A);
    OP4D_CHECK_MSG(coarse_.info() == Eigen::Success, "coarsest multigrid operator is not positive definite");
    work_.resize(levels_.size());
    for (std::size_t l = 1; l < levels_.size(); ++l) {
      work_[l].x.assign(std::size_t(levels_[l]->size()), 0.0f);
      work_[l].b.assign(std::size_t(levels_[l]->size()), 0.0f);

    }
  }
  int depth() const { return int(levels_.size()); }
  // z = M^-1 r
  void Precondition(const double* r, float* z) { Cycle(0, z, r); }

 private:
  static constexpr std::int64_t kCoarsest = 1500;
  static constexpr double kOverCorrection = 1.8;
  struct Work {
    BigVector<float> x, b;
  };

  template <class B>
  void Cycle(std::size_t l, float* x, const B* b) {
    const Level& L = *levels_[l];
    const std::int64_t n = L.size();
    if (l + 1 == levels_.size()) {
      Eigen::VectorXd rhs(n);
      for (std::int64_t i = 0; i < n; ++i) rhs[i] = double(b[i]);
      const Eigen::VectorXd sol = coarse_.solve(rhs);
      for (std::int64_t i = 0; i < n; ++i) x[i] = float(sol[i]);
      return;
    }
    SmoothFromZero(L, x, b, threads_);
    SmoothColour(L, x, b, 1, threads_);
    const Level& C = *levels_[l + 1];
    float* xc = work_[l + 1].x.data();
    float* bc = work_[l + 1].b.data();
    Restrict(L, C, x, b, bc);
    Cycle(l + 1, xc, bc);
    ForEach(n, kGrain, threads_, [&](std::int64_t i) { x[i] += float(kOverCorrection * xc[L.parent[std::size_t(i)]]); });
    SmoothColour(L, x, b, 1, threads_);
    SmoothColour(L, x, b, 0, threads_);
  }

  // bc = P^T (b - A x): the residual summed over every aggregate. Parallel over coarse rows: the
  // aggregates of the cells of fine rows (2Z + dz, 2Y + dy) all lie in coarse row (Z, Y). Called after
  // a red-black sweep that ended with the odd cells: those have just solved their own equations
  // with their (even) neighbours fixed, so their residual is zero and only even cells are summed.
  template <class B>
  void Restrict(const Level& F, const Level& C, const float* x, const B* b, float* bc) {
    WithCoupling(F, [&](const auto& c) {
      ForEachRow(C, threads_, [&](std::int64_t R) {
        const std::int64_t C0 = C.row_first[std::size_t(R)];
        std::fill(bc + C0, bc + C.row_first[std::size_t(R) + 1], 0.0f);
        ForEachFineRow(F.grid.shape, C.grid.shape[1], R, [&](std::int64_t r, std::int64_t, std::int64_t) {
          RowKernel(
              F, c, r, x,
              [&](std::int64_t i, unsigned, double acc, double d) {
                bc[F.parent[std::size_t(i)]] += float(double(b[i]) - (d * double(x[i]) - acc));
              },
              0);
        });
      });
    });
  }

  ThreadBudget threads_;
  std::vector<Level*> levels_;                  // levels_[0] is the caller's finest level
  std::vector<std::unique_ptr<Level>> owned_;  // the coarser ones
  std::vector<Work> work_;
  Eigen::LLT<Eigen::MatrixXd> coarse_;
};

}  // namespace

const char* ToString(SolverStatus s) {
  switch (s) {
    case SolverStatus::kConverged: return "converged";
    case SolverStatus::kNotConverged: return "not-converged";
    case SolverStatus::kNotPercolating: return "not-percolating";
  }
  return "not-converged";
}

const char* ToString(Preconditioner p) { return p == Preconditioner::kJacobi ? "jacobi" : "multigrid"; }

bool DiffusionOptions::IsValid(std::string* why) const {
  auto bad = [&](const char* w) {
    if (why) *why = w;
    return false;
  };
  if (axis < 0 || axis > 2) return bad("axis must be 0 (z), 1 (y) or 2 (x)");
  if (!(tolerance > 0 && tolerance < 1)) return bad("tolerance must be in (0, 1)");
  if (!(flux_tolerance > 0)) return bad("flux_tolerance must be > 0");
  if (max_iterations < 1) return bad("max_iterations must be >= 1");
  return true;
}

ResultTable DiffusionResult::ToTable() const {
  ResultTable t{"tortuosity",
                {{"axis", "1", {double(axis)}},
                 {"volume_fraction", "1", {volume_fraction}},
                 {"percolating_fraction", "1", {percolating_fraction}},
                 {"d_eff_over_d_bulk", "1", {d_eff}},
                 {"tau", "1", {tau}},
                 {"flux_balance", "1", {flux_balance}},
                 {"relative_residual", "1", {relative_residual}},
                 {"iterations", "1", {double(iterations)}},
                 {"converged", "1", {status == SolverStatus::kConverged ? 1.0 : 0.0}}}};
  return t;
}

namespace internal_transport {

// Conductance of the face between voxels v and w (neighbours along `axis`), given the harmonic-mean
// face conductance g (coefficient × µm); identity for plain diffusion.
using FaceConductance = std::function<double(std::int64_t v, std::int64_t w, int axis, double g)>;
// Called with the finest level of the operator and the solution, after convergence.
using Inspect = std::function<void(const Level& A, const BigVector<double>& x)>;

// Coefficient of voxel i: the value of a field, or 1 inside a mask.
inline double Coefficient(const Volume<float>& D, std::int64_t i) { return double(D[i]); }
inline double Coefficient(const Volume<std::uint8_t>& M, std::int64_t i) { return M[i] ? 1.0 : 0.0; }

template <class T>
DiffusionResult SolveTransport(const Volume<T>& D, const DiffusionOptions& o, const FaceConductance& face,
                               const Inspect& inspect) {
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("diffusion", why);
  if (D.empty()) throw InvalidArgument("diffusion on an empty volume");
  const Index3 s = D.shape();
  const Vec3 sp = D.spacing_um();
  const int a = o.axis;
  if (s[2] >= (std::int64_t(1) << 30)) throw InvalidArgument("rows longer than 2^30 voxels");
  DiffusionResult res;
  res.axis = a;
  // Conducting voxels; coefficients must be finite and non-negative.
  std::vector<std::vector<Run>> rows(static_cast<std::size_t>(s[0] * s[1]));
  std::int64_t conducting = 0, spanning = 0;
  {
    ComponentLabels cl;
    if constexpr (std::is_same_v<T, std::uint8_t>) {
      cl = LabelComponents(D, {Connectivity::k6, o.threads});
    } else {
      Volume<std::uint8_t> cond(D.geometry());
      for (std::int64_t i = 0; i < D.size(); ++i) {
        if (!(D[i] >= 0.0f) || !std::isfinite(D[i])) {
          const std::int64_t z = i / (s[1] * s[2]), y = (i / s[2]) % s[1], x = i % s[2];
          throw InvalidArgument("diffusion coefficient at voxel (" + std::to_string(z) + ", " + std::to_string(y) + ", " +
                                std::to_string(x) + ") is " + std::to_string(D[i]) + ": must be finite and >= 0");
        }
        cond[i] = D[i] > 0.0f;
      }
      cl = LabelComponents(cond, {Connectivity::k6, o.threads});
    }
    // Cells: conducting voxels in 6-connected components (the FVM adjacency) that touch both driven faces.
    std::vector<std::uint8_t> spans(cl.components.size() + 1, 0);
    for (const Component& c : cl.components) {
      conducting += c.voxels;
      if (c.Spans(a)) {
        spanning += c.voxels;
        spans[std::size_t(c.label)] = 1;
      }
    }
    ForEach(s[0] * s[1], 64, o.threads, [&](std::int64_t r) {
      const std::int32_t* l = cl.labels.data() + r * s[2];
      for (std::int64_t x = 0; x < s[2];) {
        if (!spans[std::size_t(l[x])]) {
          ++x;
          continue;
        }
        Run run;
        run.x0 = std::int32_t(x);
        while (x < s[2] && spans[std::size_t(l[x])]) ++x;
        run.len = std::int32_t(x - run.x0);
        rows[std::size_t(r)].push_back(run);
      }
    });
  }  // labels freed here
  res.volume_fraction = double(conducting) / double(D.size());
  res.percolating_fraction = conducting > 0 ? double(spanning) / double(conducting) : 0.0;
  if (spanning == 0) {
    res.status = SolverStatus::kNotPercolating;
    res.d_eff = 0;
    res.tau = std::numeric_limits<double>::infinity();
    static const char* kAxis[3] = {"z", "y", "x"};
    res.message = std::string("the phase does not connect the two faces normal to ") + kAxis[a] +
                  ": D_eff = 0, tau = infinity";
    return res;
  }
  if (spanning >= std::int64_t(INT32_MAX)) throw InvalidArgument("more than 2^31 conducting cells");
  Level A;
  A.axis = a;
  A.grid = Assemble(s, rows);
  BuildLinks(A, o.threads);
  const std::int64_t n = A.size();
  const std::size_t cells = static_cast<std::size_t>(n);
  // Face conductance factor A_face / spacing per axis (µm): face area is the product of the other two.
  const std::int64_t stride[3] = {s[1] * s[2], s[2], 1};
  double gfac[3];
  for (int ax = 0; ax < 3; ++ax) gfac[ax] = sp[0] * sp[1] * sp[2] / (sp[ax] * sp[ax]);
  // One coefficient everywhere and no face rule: conductances are one number per axis.
  double dmin = std::numeric_limits<double>::infinity(), dmax = 0;
  for (std::int64_t r = 0; r < A.grid.rows(); ++r)
    for (std::int64_t k = A.grid.row_begin[std::size_t(r)]; k < A.grid.row_begin[std::size_t(r) + 1]; ++k)
      for (std::int64_t t = 0; t < A.grid.runs[std::size_t(k)].len; ++t) {
        const double c = Coefficient(D, r * s[2] + A.grid.runs[std::size_t(k)].x0 + t);
        dmin = std::min(dmin, c);
        dmax = std::max(dmax, c);
      }
  // Boundary conductance of an end-layer cell to the inlet/outlet face: half a cell, D_i A / (s/2).
  if (!face && dmin == dmax) {
    A.uniform = true;
    for (int ax = 0; ax < 3; ++ax) A.u.g[ax] = gfac[ax] * dmin;
    A.u.gb = 2.0 * gfac[a] * dmin;
    A.u.Tabulate();
  } else {
    for (int ax = 0; ax < 3; ++ax) A.gd[ax].assign(cells, 0.0);
    A.gbd.assign(cells, 0.0);
    ForEach(A.grid.rows(), 16, o.threads, [&](std::int64_t r) {
      PlusFacesOfRow(A.grid, r, [&](std::int64_t i, std::int64_t, int ax, std::int64_t x) {
        const std::int64_t v = r * s[2] + x, w = v + stride[ax];
        const double dv = Coefficient(D, v), dw = Coefficient(D, w);
        double g = gfac[ax] * 2.0 * dv * dw / (dv + dw);  // harmonic mean of the two cells
        if (face) g = face(v, w, ax, g);
        A.gd[ax][std::size_t(i)] = g;
      });
      for (int side = 0; side < 2; ++side)
        EndCellsOfRow(A.grid, a, side, r, [&](std::int64_t i, std::int64_t x) {
          A.gbd[std::size_t(i)] = 2.0 * gfac[a] * Coefficient(D, r * s[2] + x);
        });
    });
  }
  auto boundary_sum = [&](int side, auto&& term) {  // serial: the same order for any thread count
    double q = 0;
    WithCoupling(A, [&](const auto& c) {
      for (std::int64_t r = 0; r < A.grid.rows(); ++r)
        EndCellsOfRow(A.grid, a, side, r, [&](std::int64_t i, std::int64_t) { q += term(c.GB(i), i); });
    });
    return q;
  };
  // Right-hand side: c = 1 on the inlet face, b_i = gb_i there.
  BigVector<double> x(cells, 0.0), r(cells, 0.0);
  BigVector<float> p(cells), z(cells);  // search direction and preconditioned residual
  WithCoupling(A, [&](const auto& c) {
    for (std::int64_t row = 0; row < A.grid.rows(); ++row)
      EndCellsOfRow(A.grid, a, 0, row, [&](std::int64_t i, std::int64_t) { r[std::size_t(i)] = c.GB(i); });
  });
  const double bnorm = std::sqrt(boundary_sum(0, [&](double gb, std::int64_t) { return gb * gb; }));
  if (o.initial) {  // warm start: x0 from the given field, r = b - A x0
    if (o.initial->shape() != s)
      throw InvalidArgument("diffusion warm start: the initial field is " + o.initial->geometry().ToString() +
                            ", the coefficients " + D.geometry().ToString());
    ForEach(A.grid.rows(), 16, o.threads, [&](std::int64_t row) {
      const std::int64_t zy[2] = {row / s[1], row % s[1]};
      for (std::int64_t k = A.grid.row_begin[std::size_t(row)]; k < A.grid.row_begin[std::size_t(row) + 1]; ++k) {
        const Run& run = A.grid.runs[std::size_t(k)];
        for (std::int64_t t = 0; t < run.len; ++t) {
          const float c = (*o.initial)[row * s[2] + run.x0 + t];
          const std::int64_t along = a == 0 ? zy[0] : a == 1 ? zy[1] : run.x0 + t;
          p[std::size_t(run.cell0 + t)] = std::isfinite(c) ? c : float(1.0 - (double(along) + 0.5) / double(s[a]));
        }
      }
    });
    ForEachProduct(A, p.data(), o.threads, [&](std::int64_t i, double ap) {
      x[std::size_t(i)] = double(p[std::size_t(i)]);
      r[std::size_t(i)] -= ap;
      return 0.0;
    });
  }
  // Preconditioned conjugate gradients (beta = (r, z)_new / (r, z)_old). The preconditioner and the
  // search direction p are kept in single precision; x, r and A p stay in double precision, so r is
  // the residual of x to double precision whatever the rounding of p.
  std::unique_ptr<Multigrid> mg;
  BigVector<float> inverse_diagonal;
  if (o.preconditioner == Preconditioner::kMultigrid) {
    mg = std::make_unique<Multigrid>(A, o.threads);
  } else {
    const BigVector<double> d = Diagonal(A, o.threads);
    inverse_diagonal.resize(cells);
    for (std::size_t i = 0; i < cells; ++i) inverse_diagonal[i] = float(1.0 / d[i]);
  }
  auto precondition = [&] {
    if (mg) mg->Precondition(r.data(), z.data());
    else ForEach(n, kGrain, o.threads, [&](std::int64_t i) { z[std::size_t(i)] = float(r[std::size_t(i)] * inverse_diagonal[std::size_t(i)]); });
  };
  precondition();
  p = z;
  double rz = Sum(n, o.threads, [&](std::int64_t i) { return r[std::size_t(i)] * double(z[std::size_t(i)]); });
  double rnorm = o.initial ? std::sqrt(Sum(n, o.threads, [&](std::int64_t i) { return r[std::size_t(i)] * r[std::size_t(i)]; }))
                           : bnorm;
  int it = 0;
  while (it < o.max_iterations && rnorm > o.tolerance * bnorm) {
    // A p is applied twice (for p.Ap, then to update r) instead of being stored: 8 bytes per cell less.
    const double alpha = rz / ForEachProduct(A, p.data(), o.threads, [&](std::int64_t i, double ap) { return double(p[std::size_t(i)]) * ap; });
    rnorm = std::sqrt(ForEachProduct(A, p.data(), o.threads, [&](std::int64_t i, double ap) {
      x[std::size_t(i)] += alpha * double(p[std::size_t(i)]);
      const double ri = r[std::size_t(i)] -= alpha * ap;
      return ri * ri;
    }));
    ++it;
    if (rnorm <= o.tolerance * bnorm) break;
    precondition();
    const double rz_new = Sum(n, o.threads, [&](std::int64_t i) { return r[std::size_t(i)] * double(z[std::size_t(i)]); });
    const double beta = rz_new / rz;
    rz = rz_new;
    ForEach(n, kGrain, o.threads, [&](std::int64_t i) { p[std::size_t(i)] = float(double(z[std::size_t(i)]) + beta * double(p[std::size_t(i)])); });
  }
  res.iterations = it;
  res.relative_residual = rnorm / bnorm;
  // Fluxes through the two driven faces.
  res.flux_in = boundary_sum(0, [&](double gb, std::int64_t i) { return gb * (1.0 - x[std::size_t(i)]); });
  res.flux_out = boundary_sum(1, [&](double gb, std::int64_t i) { return gb * x[std::size_t(i)]; });
  res.flux_balance = std::abs(res.flux_in - res.flux_out) / std::abs(res.flux_in);
  // D_eff from the mean flux: Q = D_eff * A_cross * (1 / L).
  const double length = double(s[a]) * sp[a];
  double area = 1;
  for (int ax = 0; ax < 3; ++ax)
    if (ax != a) area *= double(s[ax]) * sp[ax];
  res.d_eff = 0.5 * (res.flux_in + res.flux_out) * length / area;
  res.tau = res.volume_fraction / res.d_eff;
  const bool ok = res.relative_residual <= o.tolerance && res.flux_balance <= o.flux_tolerance;
  res.status = ok ? SolverStatus::kConverged : SolverStatus::kNotConverged;
  res.message = std::string(ok ? "converged" : "not converged") + " after " + std::to_string(it) +
                " iterations (relative residual " + std::to_string(res.relative_residual) + ", flux balance " +
                std::to_string(res.flux_balance) + ")";
  if (o.keep_concentration) {
    res.concentration = Volume<float>(D.geometry(), std::numeric_limits<float>::quiet_NaN());
    ForEach(A.grid.rows(), 16, o.threads, [&](std::int64_t row) {
      for (std::int64_t k = A.grid.row_begin[std::size_t(row)]; k < A.grid.row_begin[std::size_t(row) + 1]; ++k) {
        const Run& run = A.grid.runs[std::size_t(k)];
        for (std::int64_t t = 0; t < run.len; ++t) res.concentration[row * s[2] + run.x0 + t] = float(x[std::size_t(run.cell0 + t)]);
      }
    });
  }
  if (inspect) inspect(A, x);
  return res;
}

}  // namespace internal_transport

DiffusionResult ComputeEffectiveDiffusivity(const Volume<float>& D, const DiffusionOptions& o) {
  return internal_transport::SolveTransport(D, o, nullptr, nullptr);
}

bool ConductivityOptions::IsValid(std::string* why) const {
  if (!solver.IsValid(why)) return false;
  if (!(contact_resistance_ohm_m2 >= 0) || !std::isfinite(contact_resistance_ohm_m2)) {
    if (why) *why = "contact_resistance_ohm_m2 must be a finite number >= 0";
    return false;
  }
  return true;
}

ResultTable ConductivityResult::ToTable() const {
  ResultTable t = transport.ToTable();
  t.name = "conductivity";
  for (ResultColumn& c : t.columns) {  // the solve's D_eff is sigma_eff here
    if (c.name == "d_eff_over_d_bulk") c = {"sigma_eff", "S/m", {sigma_eff_S_per_m}};
    if (c.name == "tau") c.name = "tau_electronic";
  }
  t.columns.push_back({"contact_resistance", "ohm m^2", {contact_resistance_ohm_m2}});
  t.columns.push_back({"contact_faces", "1", {double(contact_faces)}});
  t.columns.push_back({"contact_power_share", "1", {contact_power_share}});
  return t;
}

ConductivityResult ComputeConductivity(const Volume<float>& sigma, const LabelVolume& particles,
                                       const ConductivityOptions& options) {
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("conductivity", why);
  if (particles.shape() != sigma.shape())
    throw InvalidArgument("particle labels and conductivities have different shapes");
  const Vec3 sp = sigma.spacing_um();
  const double rc = options.contact_resistance_ohm_m2;
  // Face area (µm²) normal to each axis.
  const double area[3] = {sp[1] * sp[2], sp[0] * sp[2], sp[0] * sp[1]};
  // Contact conductance in the solver's units (S/m × µm): G_SI = A / r_c with A in m², and the solver
  // works in G_SI / 1e-6 (conductivity in S/m times lengths in µm).
  auto contact_g = [&](int axis) { return area[axis] * 1e-6 / rc; };
  auto is_contact = [&](std::int64_t v, std::int64_t w) {
    return particles[v] > 0 && particles[w] > 0 && particles[v] != particles[w];
  };
  ConductivityResult out;
  out.contact_resistance_ohm_m2 = rc;
  internal_transport::FaceConductance face;
  if (rc > 0)
    face = [&](std::int64_t v, std::int64_t w, int axis, double g) {
      return is_contact(v, w) ? 1.0 / (1.0 / g + 1.0 / contact_g(axis)) : g;
    };
  double contact_power = 0;
  const Index3 s = sigma.shape();
  const std::int64_t stride[3] = {s[1] * s[2], s[2], 1};
  const auto inspect = [&](const Level& A, const BigVector<double>& x) {
    // Every contact face once (from its lower cell): current I = g dx, power in the contact I^2 / G_c.
    WithCoupling(A, [&](const auto& c) {
      for (std::int64_t r = 0; r < A.grid.rows(); ++r)
        PlusFacesOfRow(A.grid, r, [&](std::int64_t i, std::int64_t j, int ax, std::int64_t col) {
          const std::int64_t v = r * s[2] + col;
          if (!is_contact(v, v + stride[ax])) return;
          ++out.contact_faces;
          if (rc > 0) {
            const double I = c.G(ax, i) * (x[std::size_t(i)] - x[std::size_t(j)]);
            contact_power += I * I / contact_g(ax);
          }
        });
    });
  };
  out.transport = internal_transport::SolveTransport(sigma, options.solver, face, inspect);
  out.sigma_eff_S_per_m = out.transport.d_eff;
  // Total dissipated power for a unit potential difference is the current Q.
  const double q = 0.5 * (out.transport.flux_in + out.transport.flux_out);
  out.contact_power_share = q > 0 ? contact_power / q : 0.0;
  return out;
}

DiffusionResult ComputeTortuosity(const Volume<std::uint8_t>& mask, const DiffusionOptions& options) {
  return internal_transport::SolveTransport(mask, options, nullptr, nullptr);
}

}  // namespace op4d
