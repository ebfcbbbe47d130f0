// Slab-wise access to a frame too large to hold in memory. A block-wise kernel asks a SlabReader
// for planes [z0, z1) of the frame (all y and x) and hands its results to a BoxWriter box by box,
// so its peak memory is its working set per block, not a multiple of the frame. The reader may be
// a store hyperslab read, a generator, or (SlabsOf) a volume already in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "op4d/core/error.h"
#include "op4d/core/volume.h"

namespace op4d {

// Fills `out` with planes [z0, z1) of the frame: shape {z1 - z0, ny, nx}, the frame's spacing, the
// origin of plane z0. `out` may arrive holding the previous slab: reuse its memory when the shape
// is the same.
template <class T>
using SlabReader = std::function<void(std::int64_t z0, std::int64_t z1, Volume<T>& out)>;

// Receives the results for `box` of the frame (values.shape() == box.size).
template <class T>
using BoxWriter = std::function<void(const Box& box, const Volume<T>& values)>;

// The planes [z0, z1) of a volume held in memory.
template <class T>
SlabReader<T> SlabsOf(const Volume<T>& v) {
  return [&v](std::int64_t z0, std::int64_t z1, Volume<T>& out) {
    out = v.Crop(Box{{z0, 0, 0}, {z1 - z0, v.ny(), v.nx()}});
  };
}

// Writes every box into `out` (which has the frame's geometry): the whole-frame result of a
// block-wise kernel, for tests and for frames that fit.
template <class T>
BoxWriter<T> WriteInto(Volume<T>& out) {
  return [&out](const Box& box, const Volume<T>& values) {
    for (std::int64_t z = 0; z < box.size[0]; ++z)
      for (std::int64_t y = 0; y < box.size[1]; ++y)
        std::copy(values.data() + values.Offset(z, y, 0), values.data() + values.Offset(z, y, 0) + box.size[2],
                  out.data() + out.Offset(box.begin[0] + z, box.begin[1] + y, box.begin[2]));
  };
}

// Calls read and checks what it delivered (InvalidArgument naming `what` and both shapes).
template <class T>
void ReadSlabChecked(const SlabReader<T>& read, const Geometry& frame, std::int64_t z0, std::int64_t z1,
                     Volume<T>& out, const std::string& what) {
  read(z0, z1, out);
  const Index3 want{z1 - z0, frame.shape[1], frame.shape[2]};
  if (out.shape() != want)
    throw InvalidArgument(what + ": the slab reader returned " + std::to_string(out.nz()) + "x" +
                          std::to_string(out.ny()) + "x" + std::to_string(out.nx()) + " voxels for planes [" +
                          std::to_string(z0) + ", " + std::to_string(z1) + "), expected " + std::to_string(want[0]) +
                          "x" + std::to_string(want[1]) + "x" + std::to_string(want[2]));
}

}  // namespace op4d
