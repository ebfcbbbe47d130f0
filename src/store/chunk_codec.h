// Chunk encoders/decoders that produce exactly what HDF5's filter pipelines produce, so op4d can
// compress chunks in parallel (TBB) and hand them to H5Dwrite_chunk, and read them back with
// H5Dread_chunk, while h5py/HDFView read the same file through HDF5's own filters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "op4d/store/frame_store.h"

namespace op4d::internal {

constexpr int kFilterBlosc = 32001;  // registered HDF5 filter id of Blosc

struct CodecSpec {
  Codec codec = Codec::kNone;
  int level = 1;
  std::size_t typesize = 1;
};

// The HDF5 filters this codec writes, in pipeline order (for H5Pset_filter).
void SetFilters(long long dcpl, const CodecSpec& spec, std::size_t chunk_bytes);

// Encodes `n` bytes into `out` (resized; its capacity is reused): the chunk as stored on disk with
// filter mask 0. `scratch` is working memory, reused between calls (fresh pages are costly).
void EncodeChunk(const CodecSpec& spec, const std::uint8_t* data, std::size_t n, std::vector<std::uint8_t>& out,
                 std::vector<std::uint8_t>& scratch);
// Decodes a stored chunk into exactly `n` bytes. `filter_mask` bit i set means filter i was skipped.
// Returns false if the data is corrupt.
bool DecodeChunk(const CodecSpec& spec, unsigned filter_mask, const std::uint8_t* in, std::size_t in_n,
                 std::uint8_t* out, std::size_t n, std::vector<std::uint8_t>& scratch);

}  // namespace op4d::internal
