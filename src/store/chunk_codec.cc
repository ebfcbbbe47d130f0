#include "chunk_codec.h"

#include <blosc.h>
#include <hdf5.h>
#include <libdeflate.h>

#include <algorithm>
#include <cstring>

#include "op4d/core/error.h"

namespace op4d::internal {
namespace {

// HDF5's shuffle filter: byte j of element i goes to position j*count + i.
void Shuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t n, std::size_t ts) {
  const std::size_t count = n / ts;
  for (std::size_t j = 0; j < ts; ++j)
    for (std::size_t i = 0; i < count; ++i) out[j * count + i] = in[i * ts + j];
  std::memcpy(out + count * ts, in + count * ts, n - count * ts);
}
void Unshuffle(const std::uint8_t* in, std::uint8_t* out, std::size_t n, std::size_t ts) {
  const std::size_t count = n / ts;
  for (std::size_t j = 0; j < ts; ++j)
    for (std::size_t i = 0; i < count; ++i) out[i * ts + j] = in[j * count + i];
  std::memcpy(out + count * ts, in + count * ts, n - count * ts);
}

const char* BloscCompressor(Codec c) { return c == Codec::kBloscLz4 ? "lz4" : "zstd"; }

// One libdeflate (de)compressor per thread, reused (TBB workers live as long as the process).
libdeflate_compressor* Compressor(int level) {
  struct Holder {
    libdeflate_compressor* c = nullptr;
    int level = -1;
    ~Holder() {
      if (c) libdeflate_free_compressor(c);
    }
  };
  thread_local Holder h;
  if (h.level != level) {
    if (h.c) libdeflate_free_compressor(h.c);
    h.c = libdeflate_alloc_compressor(level);
    h.level = level;
    OP4D_CHECK_MSG(h.c != nullptr, "libdeflate_alloc_compressor failed");
  }
  return h.c;
}
libdeflate_decompressor* Decompressor() {
  struct Holder {
    libdeflate_decompressor* d = libdeflate_alloc_decompressor();
    ~Holder() { libdeflate_free_decompressor(d); }
  };
  thread_local Holder h;
  OP4D_CHECK_MSG(h.d != nullptr, "libdeflate_alloc_decompressor failed");
  return h.d;
}

}  // namespace

void SetFilters(long long dcpl, const CodecSpec& spec, std::size_t chunk_bytes) {
  const hid_t p = static_cast<hid_t>(dcpl);
  switch (spec.codec) {
    case Codec::kNone: return;
    case Codec::kGzip:
      if (spec.typesize > 1) H5Pset_shuffle(p);
      H5Pset_deflate(p, static_cast<unsigned>(spec.level));
      return;
    case Codec::kBloscZstd:
    case Codec::kBloscLz4: {
      // cd_values as the Blosc HDF5 filter defines them: filter revision, blosc format version,
      // type size, chunk bytes, level, shuffle (1 = byte), compressor code.
      const int code = blosc_compname_to_compcode(BloscCompressor(spec.codec));
      const unsigned cd[7] = {2, BLOSC_VERSION_FORMAT, static_cast<unsigned>(spec.typesize),
                              static_cast<unsigned>(chunk_bytes), static_cast<unsigned>(spec.level),
                              1, static_cast<unsigned>(code)};
      // Optional: the dataset can be created even where the plugin is absent (op4d decodes itself).
      H5Pset_filter(p, kFilterBlosc, H5Z_FLAG_OPTIONAL, 7, cd);
      return;
    }
  }
}

void EncodeChunk(const CodecSpec& spec, const std::uint8_t* data, std::size_t n, std::vector<std::uint8_t>& out,
                 std::vector<std::uint8_t>& scratch) {
  switch (spec.codec) {
    case Codec::kNone:
      out.assign(data, data + n);
      return;
    case Codec::kGzip: {
      const std::uint8_t* src = data;
      if (spec.typesize > 1) {
        scratch.resize(n);
        Shuffle(data, scratch.data(), n, spec.typesize);
        src = scratch.data();
      }
      // A zlib stream, exactly what HDF5's deflate filter writes and reads.
      libdeflate_compressor* c = Compressor(spec.level);
      out.resize(libdeflate_zlib_compress_bound(c, n));
      const std::size_t m = libdeflate_zlib_compress(c, src, n, out.data(), out.size());
      OP4D_CHECK_MSG(m > 0, "zlib compression failed");
      out.resize(m);
      return;
    }
    case Codec::kBloscZstd:
    case Codec::kBloscLz4: {
      out.resize(n + BLOSC_MAX_OVERHEAD);
      // 256 KiB blocks: on noisy uint16 frames zstd level 1 then compresses better (1.09 vs 1.04) and
      // twice as fast as with Blosc's default blocks (bench/RESULTS.md).
      const std::size_t block = std::min<std::size_t>(n, 256 * 1024);
      const int m = blosc_compress_ctx(spec.level, BLOSC_SHUFFLE, spec.typesize, n, data, out.data(), out.size(),
                                       BloscCompressor(spec.codec), block, 1);
      OP4D_CHECK_MSG(m > 0, "blosc compression failed");
      out.resize(static_cast<std::size_t>(m));
      return;
    }
  }
  OP4D_CHECK_MSG(false, "unknown codec");
}

bool DecodeChunk(const CodecSpec& spec, unsigned filter_mask, const std::uint8_t* in, std::size_t in_n,
                 std::uint8_t* out, std::size_t n, std::vector<std::uint8_t>& scratch) {
  switch (spec.codec) {
    case Codec::kNone:
      if (in_n < n) return false;
      std::memcpy(out, in, n);
      return true;
    case Codec::kGzip: {
      // Pipeline [shuffle?, deflate]: mask bit of deflate is 1 when shuffle is present, else 0.
      const bool has_shuffle = spec.typesize > 1;
      const unsigned deflate_bit = has_shuffle ? 2u : 1u;
      const bool deflated = !(filter_mask & deflate_bit);
      const bool shuffled = has_shuffle && !(filter_mask & 1u);
      const std::uint8_t* plain = in;
      if (deflated) {
        // Inflate straight into `out` when no unshuffle follows.
        std::uint8_t* dst = out;
        if (shuffled) {
          scratch.resize(n);
          dst = scratch.data();
        }
        std::size_t got = 0;
        if (libdeflate_zlib_decompress(Decompressor(), in, in_n, dst, n, &got) != LIBDEFLATE_SUCCESS || got != n)
          return false;
        if (!shuffled) return true;
        plain = dst;
      } else if (in_n < n) {
        return false;
      }
      if (shuffled) Unshuffle(plain, out, n, spec.typesize);
      else std::memcpy(out, plain, n);
      return true;
    }
    case Codec::kBloscZstd:
    case Codec::kBloscLz4: {
      if (filter_mask & 1u) {  // Blosc skipped at write time: stored plain
        if (in_n < n) return false;
        std::memcpy(out, in, n);
        return true;
      }
      const int got = blosc_decompress_ctx(in, out, n, 1);
      return got == static_cast<int>(n);
    }
  }
  return false;
}

}  // namespace op4d::internal
