#include "op4d/store/frame_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/concurrent_queue.h>
#include <tbb/parallel_pipeline.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include "../h5/h5.h"
#include "chunk_codec.h"
#include "op4d/core/error.h"
#include "op4d/core/hash.h"
#include "op4d/core/version.h"

namespace op4d {

using internal::h5::Id;
namespace h5 = internal::h5;

namespace {

constexpr const char* kFormat = "op4d-campaign";
constexpr int kFormatVersion = 1;
constexpr const char* kVolume = "/frames/volume";
constexpr const char* kProvenance = "/frames/provenance";
constexpr std::size_t kProvenanceBytes = 4096;  // fixed-length: variable-length data is not SWMR-safe

std::atomic<double> g_lock_wait_s{0};
std::atomic<double> g_read_wait_s{0};

// The writer lock: at once, or within SetWriterLockWait's time (polled every 50 ms).
bool LockExclusive(int fd) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(g_lock_wait_s.load());
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// True while another open file description holds the writer lock: probed with a shared lock that is
// released at once (the lock of a writer that cannot wait is then contended for microseconds only).
bool WriterActive(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool active = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases the shared lock if it was taken
  return active;
}

hid_t NativeType(DataType t) {
  switch (t) {
    case DataType::kUInt8: return H5T_NATIVE_UINT8;
    case DataType::kUInt16: return H5T_NATIVE_UINT16;
    case DataType::kFloat32: return H5T_NATIVE_FLOAT;
  }
  return H5T_NATIVE_UINT8;
}
hid_t FileType(DataType t) {
  switch (t) {
    case DataType::kUInt8: return H5T_STD_U8LE;
    case DataType::kUInt16: return H5T_STD_U16LE;
    case DataType::kFloat32: return H5T_IEEE_F32LE;
  }
  return H5T_STD_U8LE;
}

std::string ProvenanceJson(const Provenance& p) {
  nlohmann::json j;
  j["op4d_version"] = Version();
  j["written_utc"] = UtcNow();
  j["step"] = p.step;
  if (!p.source.empty()) j["source"] = p.source;
  nlohmann::json opts = nlohmann::json::parse(p.options_json.empty() ? "{}" : p.options_json, nullptr, false);
  j["options"] = opts.is_discarded() ? nlohmann::json(p.options_json) : opts;
  if (!p.pipeline_hash.empty()) j["pipeline_hash"] = p.pipeline_hash;
  return j.dump();
}

void CheckName(const std::string& what, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw InvalidArgument(what + " name '" + name + "' is empty or contains '/'");
}

}  // namespace

const char* ToString(Codec c) {
  switch (c) {
    case Codec::kNone: return "none";
    case Codec::kGzip: return "gzip";
    case Codec::kBloscZstd: return "blosc-zstd";
    case Codec::kBloscLz4: return "blosc-lz4";
  }
  return "none";
}

Codec CodecFromString(const std::string& s) {
  if (s == "none") return Codec::kNone;
  if (s == "gzip" || s == "deflate") return Codec::kGzip;
  if (s == "zstd" || s == "blosc-zstd") return Codec::kBloscZstd;
  if (s == "lz4" || s == "blosc-lz4") return Codec::kBloscLz4;
  throw ConfigError("codec", "'" + s + "' is not one of none, gzip, blosc-zstd (zstd), blosc-lz4 (lz4)");
}

bool StoreOptions::IsValid(std::string* why) const {
  const int lo = codec == Codec::kNone ? 0 : 1;
  if (level < lo || level > 9) {
    if (why) *why = "compression level must be in 1..9, got " + std::to_string(level);
    return false;
  }
  for (int a = 0; a < 3; ++a)
    if (chunk[a] < 1 || chunk[a] > 1024) {
      if (why) *why = "chunk edges must be 1..1024 voxels";
      return false;
    }
  if (phases && !phases->IsValid(why)) return false;
  return true;
}

const std::vector<TimeColumnSpec>& StandardTimeColumns() {
  static const std::vector<TimeColumnSpec> cols = {
      {"time_s", "s", "time since the start of the campaign"},
      {"cycle", "1", "cycle number from the cycler"},
      {"step", "1", "cycler step index"},
      {"voltage_V", "V", "cell voltage"},
      {"current_A", "A", "cell current, charge positive"},
      {"charge_Ah", "A h", "cumulative charge passed, charge positive"},
      {"soc_ref", "1", "reference state of charge (0..1) from the cycler"},
      {"p_app_Pa", "Pa", "applied gas pressure"},
  };
  return cols;
}

const std::vector<double>* TimeTable::Find(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return &values[i];
  return nullptr;
}

void SetWriterLockWait(double seconds) { g_lock_wait_s = std::isfinite(seconds) && seconds > 0 ? seconds : 0; }
void SetReaderWait(double seconds) { g_read_wait_s = std::isfinite(seconds) && seconds > 0 ? seconds : 0; }

std::string FrameResultsGroup(std::int64_t k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/results/%06lld", static_cast<long long>(k));
  return buf;
}

// ---------------------------------------------------------------------------------------------
struct FrameStore::Impl {
  enum class Mode { kClosed, kRead, kStructure, kAppend };

  std::string path;
  bool writable = false;
  int lock_fd = -1;
  Mode mode = Mode::kClosed;
  Id file;
  std::int64_t count = 0;
  std::optional<FrameLayout> layout;
  bool direct = false;  // chunk pipeline is one op4d encodes/decodes itself
  internal::CodecSpec codec;

  ~Impl() { CloseAll(); }

  // An Impl for a file that must exist and be HDF5 (IoError naming the file otherwise).
  static std::unique_ptr<Impl> ForExisting(const std::string& path, bool writable);

  void CloseAll() {
    file.Reset();
    mode = Mode::kClosed;
    if (lock_fd >= 0) {
      ::close(lock_fd);
      lock_fd = -1;
    }
  }

  void TakeLock() {
    lock_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (lock_fd < 0) throw IoError(path, "", std::string("cannot open for writing: ") + std::strerror(errno));
    if (!LockExclusive(lock_fd)) {
      ::close(lock_fd);
      lock_fd = -1;
      throw IoError(path, "", "another process is writing to this store (one writer at a time)");
    }
  }

  hid_t OpenFile(unsigned flags, bool clear_flags) {
    Id fapl = h5::FileAccess();
    if (clear_flags) {
      // A writer that died leaves "open for writing" marks in the superblock. We hold the writer
      // lock, so no live op4d writer set them: clear them, as `h5clear -s` does.
      hbool_t clear = 1;
      H5Pset(fapl, "clear_status_flags", &clear);
    }
    return H5Fopen(path.c_str(), flags, fapl);
  }

  void SetMode(Mode m) {
    if (mode == m && file.valid()) return;
    file.Reset();
    mode = Mode::kClosed;
    hid_t f = H5I_INVALID_HID;
    switch (m) {
      case Mode::kRead: {
        // A writer changing the file's structure (not in SWMR mode) marks it as open for writing and
        // readers are refused until it closes: wait for it (SetReaderWait, SetWriterLockWait).
        const double wait_s = std::max(g_lock_wait_s.load(), g_read_wait_s.load());
        const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
        auto open_read = [&] {
          const hid_t h = OpenFile(H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, false);
          return h >= 0 ? h : OpenFile(H5F_ACC_RDONLY, false);
        };
        bool writer = false;
        for (;;) {
          if (f = open_read(); f >= 0) break;
          writer = WriterActive(path);
          if (!writer) {  // a writer may have closed the file between the open and the probe
            f = open_read();
            break;
          }
          if (std::chrono::steady_clock::now() >= until) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (f < 0 && writer) h5::Fail(path, "", "cannot open for reading while another process writes to it; try again when it is done");
        if (f < 0)
          h5::Fail(path, "", "cannot open for reading (if a writer was killed, open it once with op4d for "
                             "writing, or run 'h5clear -s')");
        break;
      }
      case Mode::kStructure:
      case Mode::kAppend: {
        const unsigned flags = H5F_ACC_RDWR | (m == Mode::kAppend ? H5F_ACC_SWMR_WRITE : 0u);
        f = OpenFile(flags, false);
        if (f < 0) {
          f = OpenFile(flags, true);
          // A writer killed in SWMR mode can leave the superblock's end-of-allocation behind blocks
          // that the chunk index already points to; move it to the end of the file (h5clear -i 0).
          if (f >= 0 && H5Fincrement_filesize(f, 0) < 0) {
            H5Fclose(f);
            f = H5I_INVALID_HID;
          }
        }
        if (f < 0) h5::Fail(path, "", "cannot open for writing");
        break;
      }
      case Mode::kClosed: return;
    }
    file = Id(f);
    mode = m;
  }

  Id Dataset(const std::string& name) const {
    if (!h5::Exists(file, name)) throw IoError(path, name, "missing dataset");
    Id ds(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
    if (!ds.valid()) h5::Fail(path, name, "cannot open dataset");
    return ds;
  }

  // time_s of one row (one element read, not the column).
  double TimeAt(hid_t ds, std::int64_t row) const {
    double v = NAN;
    const hsize_t off = hsize_t(row), one = 1;
    Id fs(H5Dget_space(ds));
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, nullptr, &one, nullptr);
    Id ms(H5Screate_simple(1, &one, nullptr));
    if (H5Dread(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v) < 0) h5::Fail(path, "/time/time_s", "cannot read");
    return v;
  }

  // Number of committed frames: length of /time/time_s, less a trailing NaN (a partial append).
  std::int64_t CommittedCount() const {
    Id ds = Dataset("/time/time_s");
    const auto dims = h5::Dims(ds);
    std::int64_t n = dims.empty() ? 0 : std::int64_t(dims[0]);
    while (n > 0 && !std::isfinite(TimeAt(ds, n - 1))) --n;
    return n;
  }

  void LoadLayout() {
    layout.reset();
    direct = false;
    if (!h5::Exists(file, kVolume)) return;
    Id ds = Dataset(kVolume);
    FrameLayout l;
    Id type(H5Dget_type(ds));
    if (H5Tequal(type, H5T_STD_U8LE) > 0) l.dtype = DataType::kUInt8;
    else if (H5Tequal(type, H5T_STD_U16LE) > 0) l.dtype = DataType::kUInt16;
    else if (H5Tequal(type, H5T_IEEE_F32LE) > 0) l.dtype = DataType::kFloat32;
    else throw IoError(path, kVolume, "voxel type is not uint8, uint16 or float32 (little-endian)");
    const auto dims = h5::Dims(ds);
    if (dims.size() != 4) throw IoError(path, kVolume, "is not a 4D (t, z, y, x) dataset");
    l.geometry.shape = {std::int64_t(dims[1]), std::int64_t(dims[2]), std::int64_t(dims[3])};
    const auto sp = h5::ReadDoublesAttr(ds, "spacing_um");
    const auto org = h5::ReadDoublesAttr(ds, "origin_um");
    if (sp.size() != 3) throw IoError(path, std::string(kVolume) + "@spacing_um", "missing or not 3 values");
    for (int a = 0; a < 3; ++a) {
      l.geometry.spacing_um[a] = sp[a];
      l.geometry.origin_um[a] = org.size() == 3 ? org[a] : 0.0;
    }
    const std::string phases = h5::ReadStringAttr(ds, "phases");
    if (!phases.empty()) l.phases = PhaseTable::FromSpec(phases);

    Id dcpl(H5Dget_create_plist(ds));
    hsize_t cdims[4] = {0, 0, 0, 0};
    if (H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_chunk(dcpl, 4, cdims) != 4 || cdims[0] != 1)
      throw IoError(path, kVolume, "is not chunked one frame per chunk (1, cz, cy, cx)");
    l.chunk = {std::int64_t(cdims[1]), std::int64_t(cdims[2]), std::int64_t(cdims[3])};
    // Recognise the pipelines op4d writes; anything else is read through HDF5's own filters.
    std::vector<H5Z_filter_t> filters;
    const int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; ++i) {
      unsigned flags = 0;
      size_t ncd = 0;
      char name[64];
      unsigned cfg = 0;
      filters.push_back(H5Pget_filter2(dcpl, unsigned(i), &flags, &ncd, nullptr, sizeof name, name, &cfg));
    }
    codec.typesize = ByteSize(l.dtype);
    const bool shuffle_first = !filters.empty() && filters[0] == H5Z_FILTER_SHUFFLE;
    if (filters.empty()) {
      l.codec = Codec::kNone;
      direct = true;
    } else if ((filters.size() == 2 && shuffle_first && filters[1] == H5Z_FILTER_DEFLATE && codec.typesize > 1) ||
               (filters.size() == 1 && filters[0] == H5Z_FILTER_DEFLATE && codec.typesize == 1)) {
      l.codec = Codec::kGzip;
      direct = true;
    } else if (filters.size() == 1 && filters[0] == internal::kFilterBlosc) {
      l.codec = h5::ReadStringAttr(ds, "codec") == "blosc-lz4" ? Codec::kBloscLz4 : Codec::kBloscZstd;
      direct = true;
    } else {
      l.codec = Codec::kNone;
      for (H5Z_filter_t f : filters)
        if (H5Zfilter_avail(f) <= 0)
          throw IoError(path, kVolume,
                        "needs HDF5 filter " + std::to_string(f) +
                            ", which is not available on this machine: install the Debian package that "
                            "provides it (Blosc: hdf5-filter-plugin-blosc-serial) or set HDF5_PLUGIN_PATH");
    }
    codec.codec = l.codec;
    layout = l;
  }

  void LoadState() {
    if (h5::ReadStringAttr(file, "op4d_format") != kFormat)
      throw IoError(path, "/", "is an HDF5 file but not an op4d campaign (no op4d_format attribute)");
    count = CommittedCount();
    LoadLayout();
  }

  // Writer start-up: drop whatever a killed writer left beyond the committed frames.
  void Repair() {
    SetMode(Mode::kStructure);
    LoadState();
    auto shrink = [&](const std::string& name, int rank) {
      if (!h5::Exists(file, name)) return;
      Id ds = Dataset(name);
      auto dims = h5::Dims(ds);
      if (int(dims.size()) != rank || std::int64_t(dims[0]) <= count) return;
      dims[0] = hsize_t(count);
      if (H5Dset_extent(ds, dims.data()) < 0) h5::Fail(path, name, "cannot drop the partial frame");
    };
    shrink(kVolume, 4);
    shrink(kProvenance, 1);
    Id tg(H5Gopen2(file, "/time", H5P_DEFAULT));
    for (const std::string& c : h5::ListChildren(tg)) shrink("/time/" + c, 1);
  }

  void CreateExtendable1D(const std::string& name, hid_t ftype, const void* fill, std::size_t chunk) {
    const hsize_t zero = 0, unlim = H5S_UNLIMITED, ch = chunk;
    Id space(H5Screate_simple(1, &zero, &unlim));
    Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl, 1, &ch);
    if (fill) H5Pset_fill_value(dcpl, ftype, fill);
    Id ds(H5Dcreate2(file, name.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (!ds.valid()) h5::Fail(path, name, "cannot create dataset");
  }

  void CreateTimeColumn(const TimeColumnSpec& c) {
    const std::string name = "/time/" + c.name;
    const double nan = NAN;
    CreateExtendable1D(name, H5T_IEEE_F64LE, &nan, 256);
    Id ds = Dataset(name);
    h5::WriteStringAttr(ds, "unit", c.unit);
    if (!c.description.empty()) h5::WriteStringAttr(ds, "description", c.description);
  }

  Id ProvenanceType() const {
    Id t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t, kProvenanceBytes);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
  }

  // Grows a 1D dataset to n rows and writes `value` (of memory type mtype) at row n-1.
  void WriteRow(const std::string& name, hid_t mtype, const void* value, std::int64_t row) {
    Id ds = Dataset(name);
    hsize_t n = hsize_t(row + 1);
    if (h5::Dims(ds)[0] < n && H5Dset_extent(ds, &n) < 0) h5::Fail(path, name, "cannot extend");
    const hsize_t off = hsize_t(row), one = 1;
    Id fs(H5Dget_space(ds));
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, nullptr, &one, nullptr);
    Id ms(H5Screate_simple(1, &one, nullptr));
    if (H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, value) < 0 || H5Dflush(ds) < 0) h5::Fail(path, name, "cannot write");
  }

  void WriteTable(const std::string& parent, const ResultTable& table, const Provenance& prov);
  ResultTable ReadTable(const std::string& gpath, const std::string& name) const;
  std::vector<std::string> ListTables(const std::string& gpath, bool want_groups = true) const;
  void WriteFrameChunks(ConstVolumeView frame, std::int64_t k, ThreadBudget threads);
  void ReadChunks(std::int64_t k, const Box& box, void* out, ThreadBudget threads) const;
};

namespace {

// Chunk origins (z, y, x) of a chunk grid that intersect [b0, b1), in storage order.
std::vector<Index3> ChunksIn(const Index3& b0, const Index3& b1, const Index3& ch) {
  std::vector<Index3> out;
  for (std::int64_t z = (b0[0] / ch[0]) * ch[0]; z < b1[0]; z += ch[0])
    for (std::int64_t y = (b0[1] / ch[1]) * ch[1]; y < b1[1]; y += ch[1])
      for (std::int64_t x = (b0[2] / ch[2]) * ch[2]; x < b1[2]; x += ch[2]) out.push_back({z, y, x});
  return out;
}

// In-flight chunks of a pipeline: each holds its (compressed) bytes; buffers are reused, since
// fresh pages cost more than the copies. A slot is taken from the free list by the first stage and
// returned by the last; parallel_pipeline keeps at most `tokens` chunks in flight, so with `tokens`
// slots the list is never empty when the first stage runs.
struct ChunkSlot {
  std::size_t index = 0;
  unsigned mask = 0;
  std::vector<std::uint8_t> bytes;  // empty on read: chunk never written (reads as zeros)
};
class SlotPool {
 public:
  explicit SlotPool(std::size_t n) : slots_(n) {
    for (ChunkSlot& s : slots_) free_.push(&s);
  }
  // The pipeline's source: a slot for the next of `total` chunks, or stop at the end.
  ChunkSlot* Next(std::size_t total, tbb::flow_control& fc) {
    if (next_ == total) {
      fc.stop();
      return nullptr;
    }
    ChunkSlot* s = nullptr;
    OP4D_CHECK_MSG(free_.try_pop(s), "chunk pipeline has more items in flight than slots");
    s->index = next_++;
    return s;
  }
  void Give(ChunkSlot* s) { free_.push(s); }

 private:
  std::vector<ChunkSlot> slots_;
  tbb::concurrent_queue<ChunkSlot*> free_;
  std::size_t next_ = 0;
};
struct Scratch {
  std::vector<std::uint8_t> plain, work;
};

}  // namespace

// Gathers and compresses chunks in parallel while the previous ones are written (HDF5 calls stay in
// the serial stage: the library is not thread-safe).
void FrameStore::Impl::WriteFrameChunks(ConstVolumeView frame, std::int64_t k, ThreadBudget threads) {
  const FrameLayout& l = *layout;
  const Index3 shape = l.geometry.shape, ch = l.chunk;
  const std::size_t ts = ByteSize(l.dtype);
  const std::size_t chunk_bytes = std::size_t(ch[0] * ch[1] * ch[2]) * ts;
  const std::uint8_t* src = static_cast<const std::uint8_t*>(frame.data());
  Id ds = Dataset(kVolume);
  const std::vector<Index3> chunks = ChunksIn({0, 0, 0}, shape, ch);
  const std::size_t tokens = std::size_t(2 * threads.Resolve() + 2);
  SlotPool pool(tokens);
  tbb::enumerable_thread_specific<Scratch> scratch;
  RunInArena(threads, [&] {
    tbb::parallel_pipeline(
        tokens,
        tbb::make_filter<void, ChunkSlot*>(tbb::filter_mode::serial_in_order,
                                           [&](tbb::flow_control& fc) { return pool.Next(chunks.size(), fc); }) &
            tbb::make_filter<ChunkSlot*, ChunkSlot*>(
                tbb::filter_mode::parallel,
                [&](ChunkSlot* slot) {
                  const Index3& o = chunks[slot->index];
                  Scratch& sc = scratch.local();
                  std::vector<std::uint8_t>& buf = sc.plain;
                  buf.resize(chunk_bytes);
                  const std::int64_t dz = std::min(ch[0], shape[0] - o[0]), dy = std::min(ch[1], shape[1] - o[1]),
                                     dx = std::min(ch[2], shape[2] - o[2]);
                  if (dz < ch[0] || dy < ch[1] || dx < ch[2]) std::fill(buf.begin(), buf.end(), 0);  // edge: zero padding
                  for (std::int64_t z = 0; z < dz; ++z)
                    for (std::int64_t y = 0; y < dy; ++y)
                      std::memcpy(&buf[std::size_t((z * ch[1] + y) * ch[2]) * ts],
                                  src + std::size_t(((o[0] + z) * shape[1] + o[1] + y) * shape[2] + o[2]) * ts,
                                  std::size_t(dx) * ts);
                  internal::EncodeChunk(codec, buf.data(), buf.size(), slot->bytes, sc.work);
                  return slot;
                }) &
            tbb::make_filter<ChunkSlot*, void>(tbb::filter_mode::serial_in_order, [&](ChunkSlot* slot) {
              const Index3& o = chunks[slot->index];
              const hsize_t off[4] = {hsize_t(k), hsize_t(o[0]), hsize_t(o[1]), hsize_t(o[2])};
              if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, slot->bytes.size(), slot->bytes.data()) < 0)
                h5::Fail(path, kVolume, "cannot write chunk of frame " + std::to_string(k));
              pool.Give(slot);
            }));
  });
  if (H5Dflush(ds) < 0) h5::Fail(path, kVolume, "cannot flush frame " + std::to_string(k));
}

// Reads chunks in order (serial HDF5 stage) while earlier ones are decoded and scattered in parallel.
void FrameStore::Impl::ReadChunks(std::int64_t k, const Box& box, void* out, ThreadBudget threads) const {
  const FrameLayout& l = *layout;
  const Index3 ch = l.chunk;
  const std::size_t ts = ByteSize(l.dtype);
  const std::size_t chunk_bytes = std::size_t(ch[0] * ch[1] * ch[2]) * ts;
  std::uint8_t* dst = static_cast<std::uint8_t*>(out);
  Id ds = Dataset(kVolume);
  const Index3 b0 = box.begin, b1 = {box.begin[0] + box.size[0], box.begin[1] + box.size[1], box.begin[2] + box.size[2]};
  const std::vector<Index3> chunks = ChunksIn(b0, b1, ch);
  const std::size_t tokens = std::size_t(2 * threads.Resolve() + 2);
  SlotPool pool(tokens);
  tbb::enumerable_thread_specific<Scratch> scratch;
  std::atomic<bool> corrupt{false};
  RunInArena(threads, [&] {
    tbb::parallel_pipeline(
        tokens,
        tbb::make_filter<void, ChunkSlot*>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> ChunkSlot* {
              ChunkSlot* slot = pool.Next(chunks.size(), fc);
              if (!slot) return nullptr;
              const Index3& o = chunks[slot->index];
              const hsize_t off[4] = {hsize_t(k), hsize_t(o[0]), hsize_t(o[1]), hsize_t(o[2])};
              haddr_t addr = HADDR_UNDEF;
              hsize_t size = 0;
              slot->mask = 0;
              slot->bytes.clear();
              if (H5Dget_chunk_info_by_coord(ds, off, &slot->mask, &addr, &size) < 0)
                h5::Fail(path, kVolume, "cannot locate a chunk of frame " + std::to_string(k));
              if (addr != HADDR_UNDEF && size > 0) {
                slot->bytes.resize(size);
                if (H5Dread_chunk(ds, H5P_DEFAULT, off, &slot->mask, slot->bytes.data()) < 0)
                  h5::Fail(path, kVolume, "cannot read a chunk of frame " + std::to_string(k));
              }
              return slot;
            }) &
            tbb::make_filter<ChunkSlot*, void>(tbb::filter_mode::parallel, [&](ChunkSlot* slot) {
              const Index3& o = chunks[slot->index];
              Scratch& sc = scratch.local();
              std::vector<std::uint8_t>& plain = sc.plain;
              plain.resize(chunk_bytes);
              if (slot->bytes.empty()) std::fill(plain.begin(), plain.end(), 0);
              else if (!internal::DecodeChunk(codec, slot->mask, slot->bytes.data(), slot->bytes.size(), plain.data(),
                                              plain.size(), sc.work)) {
                corrupt = true;
                pool.Give(slot);
                return;
              }
              pool.Give(slot);  // the compressed bytes are no longer needed
              Index3 lo, hi;
              for (int a = 0; a < 3; ++a) {
                lo[a] = std::max(b0[a], o[a]);
                hi[a] = std::min(b1[a], o[a] + ch[a]);
              }
              for (std::int64_t z = lo[0]; z < hi[0]; ++z)
                for (std::int64_t y = lo[1]; y < hi[1]; ++y) {
                  const std::size_t s = std::size_t(((z - o[0]) * ch[1] + (y - o[1])) * ch[2] + (lo[2] - o[2]));
                  const std::size_t d = std::size_t(((z - b0[0]) * box.size[1] + (y - b0[1])) * box.size[2] + (lo[2] - b0[2]));
                  std::memcpy(dst + d * ts, plain.data() + s * ts, std::size_t(hi[2] - lo[2]) * ts);
                }
            }));
  });
  if (corrupt) throw IoError(path, kVolume, "frame " + std::to_string(k) + " has a corrupt chunk");
}

// ---------------------------------------------------------------------------------------------
FrameStore::FrameStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FrameStore::FrameStore(FrameStore&&) noexcept = default;
FrameStore& FrameStore::operator=(FrameStore&&) noexcept = default;
FrameStore::~FrameStore() = default;

FrameStore FrameStore::Create(const std::string& path, bool overwrite) {
  h5::SilenceErrors();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !overwrite)
    throw IoError(path, "", "already exists (choose another name or overwrite it explicitly)");
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw IoError(path, "", "cannot create: directory '" + dir + "' does not exist");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->writable = true;
  // Lock before truncating so a live writer's file is never clobbered.
  impl->lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->lock_fd < 0) throw IoError(path, "", std::string("cannot create: ") + std::strerror(errno));
  if (!LockExclusive(impl->lock_fd))
    throw IoError(path, "", "another process is writing to this store (one writer at a time)");
  {
    Id fapl = h5::FileAccess();
    Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
    if (!f.valid()) h5::Fail(path, "", "cannot create HDF5 file");
    impl->file = std::move(f);
    impl->mode = Impl::Mode::kStructure;
  }
  hid_t file = impl->file;
  h5::WriteStringAttr(file, "op4d_format", kFormat);
  h5::WriteInt64Attr(file, "op4d_format_version", kFormatVersion);
  h5::WriteStringAttr(file, "op4d_version", Version());
  h5::WriteStringAttr(file, "created_utc", UtcNow());
  h5::WriteStringAttr(file, "axes", "t,z,y,x (x fastest); spacing in micrometres; time in seconds");
  for (const char* g : {"/frames", "/time", "/results", "/series"}) Id(H5Gcreate2(file, g, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  for (const TimeColumnSpec& c : StandardTimeColumns()) impl->CreateTimeColumn(c);
  {
    Id t = impl->ProvenanceType();
    impl->CreateExtendable1D(kProvenance, t, nullptr, 16);
  }
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) h5::Fail(path, "", "cannot flush");
  impl->count = 0;
  return FrameStore(std::move(impl));
}

std::unique_ptr<FrameStore::Impl> FrameStore::Impl::ForExisting(const std::string& path, bool writable) {
  h5::SilenceErrors();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw IoError(path, "", "does not exist");
  if (!h5::IsHdf5(path)) throw IoError(path, "", "is not an HDF5 file");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->writable = writable;
  return impl;
}

FrameStore FrameStore::OpenReadWrite(const std::string& path) {
  auto impl = Impl::ForExisting(path, true);
  impl->TakeLock();
  impl->Repair();
  return FrameStore(std::move(impl));
}

bool FrameStore::IsCampaignStore(const std::string& path) {
  h5::SilenceErrors();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !h5::IsHdf5(path)) return false;
  Id fapl = h5::FileAccess();
  Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl));
  if (!f.valid()) f = Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl));
  return f.valid() && h5::ReadStringAttr(f, "op4d_format") == kFormat;
}

FrameStore FrameStore::OpenRead(const std::string& path) {
  auto impl = Impl::ForExisting(path, false);
  impl->SetMode(Impl::Mode::kRead);
  impl->LoadState();
  return FrameStore(std::move(impl));
}

const std::string& FrameStore::path() const { return impl_->path; }
bool FrameStore::writable() const { return impl_->writable; }
std::int64_t FrameStore::frame_count() const { return impl_->count; }
std::optional<FrameLayout> FrameStore::layout() const { return impl_->layout; }

void FrameStore::AppendFrame(ConstVolumeView frame, const TimeRow& row, const Provenance& prov,
                             const StoreOptions& options) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  std::string why;
  if (!options.IsValid(&why)) throw ConfigError("store options", why);
  const Geometry& g = frame.geometry();
  if (!g.IsValid(&why)) throw IoError(s.path, kVolume, "frame geometry: " + why);
  if (g.voxel_count() == 0) throw IoError(s.path, kVolume, "frame is empty");
  // Time row: time_s required, finite, increasing; every column must exist.
  const auto t = row.find("time_s");
  if (t == row.end() || !std::isfinite(t->second))
    throw IoError(s.path, "/time/time_s", "every frame needs a finite time_s");
  std::set<std::string> known;
  {
    s.SetMode(s.mode == Impl::Mode::kClosed ? Impl::Mode::kStructure : s.mode);
    Id tg(H5Gopen2(s.file, "/time", H5P_DEFAULT));
    for (const std::string& c : h5::ListChildren(tg)) known.insert(c);
  }
  for (const auto& [name, v] : row)
    if (!known.count(name))
      throw IoError(s.path, "/time/" + name, "unknown time-table column (add it first; known: time_s, cycle, …)");
  if (s.count > 0) {
    const double last = s.TimeAt(s.Dataset("/time/time_s"), s.count - 1);
    if (!(t->second > last))
      throw IoError(s.path, "/time/time_s", "time " + std::to_string(t->second) + " s is not after the last frame's " +
                                                std::to_string(last) + " s");
  }
  if (s.layout) {
    const FrameLayout& l = *s.layout;
    if (frame.dtype() != l.dtype)
      throw IoError(s.path, kVolume, std::string("frame type ") + ToString(frame.dtype()) +
                                         " differs from the campaign's " + ToString(l.dtype));
    if (g.shape != l.geometry.shape)
      throw IoError(s.path, kVolume, "frame shape " + g.ToString() + " differs from the campaign's " + l.geometry.ToString());
    if (!g.SameGrid(l.geometry, 1e-6))
      throw IoError(s.path, kVolume, "frame spacing " + g.ToString() + " differs from the campaign's " + l.geometry.ToString());
  } else {
    // First frame: create the 4D dataset (object creation is not allowed in SWMR mode).
    s.SetMode(Impl::Mode::kStructure);
    const hsize_t dims[4] = {0, hsize_t(g.shape[0]), hsize_t(g.shape[1]), hsize_t(g.shape[2])};
    const hsize_t maxd[4] = {H5S_UNLIMITED, dims[1], dims[2], dims[3]};
    hsize_t ch[4] = {1, 0, 0, 0};
    for (int a = 0; a < 3; ++a) ch[a + 1] = hsize_t(std::min(options.chunk[a], g.shape[a]));
    Id space(H5Screate_simple(4, dims, maxd));
    Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl, 4, ch);
    internal::CodecSpec spec{options.codec, options.level, ByteSize(frame.dtype())};
    internal::SetFilters(dcpl, spec, std::size_t(ch[1] * ch[2] * ch[3]) * spec.typesize);
    Id ds(H5Dcreate2(s.file, kVolume, FileType(frame.dtype()), space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (!ds.valid()) h5::Fail(s.path, kVolume, "cannot create the frame dataset");
    h5::WriteDoublesAttr(ds, "spacing_um", {g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]});
    h5::WriteDoublesAttr(ds, "origin_um", {g.origin_um[0], g.origin_um[1], g.origin_um[2]});
    h5::WriteStringAttr(ds, "axes", "t,z,y,x");
    h5::WriteStringAttr(ds, "codec", ToString(options.codec));
    if (options.phases) h5::WriteStringAttr(ds, "phases", options.phases->ToSpec());
    ds.Reset();
    s.LoadLayout();
  }
  // Append in SWMR mode: chunks, provenance, other columns, and time_s last (the commit mark).
  s.SetMode(Impl::Mode::kAppend);
  const std::int64_t k = s.count;
  {
    Id ds = s.Dataset(kVolume);
    auto dims = h5::Dims(ds);
    if (std::int64_t(dims[0]) < k + 1) {
      dims[0] = hsize_t(k + 1);
      if (H5Dset_extent(ds, dims.data()) < 0) h5::Fail(s.path, kVolume, "cannot extend");
    }
  }
  s.WriteFrameChunks(frame, k, options.threads);
  std::string pj = ProvenanceJson(prov);
  if (pj.size() >= kProvenanceBytes) {
    Provenance p = prov;
    p.options_json = "\"(options longer than the per-frame slot; see the pipeline results)\"";
    pj = ProvenanceJson(p);
  }
  pj.resize(kProvenanceBytes, '\0');
  {
    Id t = s.ProvenanceType();
    s.WriteRow(kProvenance, t, pj.data(), k);
  }
  for (const std::string& c : known) {
    if (c == "time_s") continue;
    const auto it = row.find(c);
    const double v = it == row.end() ? NAN : it->second;
    s.WriteRow("/time/" + c, H5T_NATIVE_DOUBLE, &v, k);
  }
  s.WriteRow("/time/time_s", H5T_NATIVE_DOUBLE, &t->second, k);
  if (H5Fflush(s.file, H5F_SCOPE_LOCAL) < 0) h5::Fail(s.path, "", "cannot flush");
  s.count = k + 1;
}

AnyVolume FrameStore::ReadFrame(std::int64_t k, ThreadBudget threads) const {
  if (!impl_->layout) throw IoError(impl_->path, kVolume, "the campaign has no frames yet");
  return ReadRegion(k, Box{{0, 0, 0}, impl_->layout->geometry.shape}, threads);
}

AnyVolume FrameStore::ReadRegion(std::int64_t k, const Box& box, ThreadBudget threads) const {
  AnyVolume out;
  ReadRegionInto(k, box, out, threads);
  return out;
}

void FrameStore::ReadRegionInto(std::int64_t k, const Box& box, AnyVolume& out, ThreadBudget threads) const {
  const Impl& s = *impl_;
  if (k < 0 || k >= s.count)
    throw IoError(s.path, kVolume, "frame " + std::to_string(k) + " does not exist (the campaign has " +
                                       std::to_string(s.count) + " frames)");
  const FrameLayout& l = *s.layout;
  if (!box.Inside(l.geometry.shape))
    throw IoError(s.path, kVolume, "region is outside the frame (" + l.geometry.ToString() + ")");
  Geometry g = l.geometry;
  g.shape = box.size;
  for (int a = 0; a < 3; ++a) g.origin_um[a] += box.begin[a] * g.spacing_um[a];
  if (TypeOf(out) != l.dtype || GeometryOf(out).shape != g.shape) out = MakeVolume(l.dtype, g);
  else SetGeometry(out, g);
  if (box.voxel_count() == 0) return;
  if (s.direct) {
    s.ReadChunks(k, box, RawData(out), threads);
    return;
  }
  Id ds = s.Dataset(kVolume);
  Id fs(H5Dget_space(ds));
  const hsize_t off[4] = {hsize_t(k), hsize_t(box.begin[0]), hsize_t(box.begin[1]), hsize_t(box.begin[2])};
  const hsize_t cnt[4] = {1, hsize_t(box.size[0]), hsize_t(box.size[1]), hsize_t(box.size[2])};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, nullptr, cnt, nullptr);
  Id ms(H5Screate_simple(4, cnt, nullptr));
  if (H5Dread(ds, NativeType(l.dtype), ms, fs, H5P_DEFAULT, RawData(out)) < 0)
    h5::Fail(s.path, kVolume, "cannot read frame " + std::to_string(k));
}

std::string FrameStore::ReadFrameProvenance(std::int64_t k) const {
  const Impl& s = *impl_;
  if (k < 0 || k >= s.count) throw IoError(s.path, kProvenance, "frame " + std::to_string(k) + " does not exist");
  Id ds = s.Dataset(kProvenance);
  Id t = s.ProvenanceType();
  std::string buf(kProvenanceBytes, '\0');
  const hsize_t off = hsize_t(k), one = 1;
  Id fs(H5Dget_space(ds));
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, nullptr, &one, nullptr);
  Id ms(H5Screate_simple(1, &one, nullptr));
  if (H5Dread(ds, t, ms, fs, H5P_DEFAULT, buf.data()) < 0) h5::Fail(s.path, kProvenance, "cannot read");
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

TimeTable FrameStore::ReadTimeTable() const {
  const Impl& s = *impl_;
  Id tg(H5Gopen2(s.file, "/time", H5P_DEFAULT));
  if (!tg.valid()) h5::Fail(s.path, "/time", "missing group");
  std::vector<std::string> names = h5::ListChildren(tg);
  // Standard columns first, in their order; user columns after, by name.
  std::vector<std::string> ordered;
  for (const TimeColumnSpec& c : StandardTimeColumns())
    if (std::find(names.begin(), names.end(), c.name) != names.end()) ordered.push_back(c.name);
  for (const std::string& n : names)
    if (std::find(ordered.begin(), ordered.end(), n) == ordered.end()) ordered.push_back(n);
  if (ordered.empty() || ordered[0] != "time_s") throw IoError(s.path, "/time/time_s", "missing dataset");
  TimeTable tt;
  for (const std::string& n : ordered) {
    Id ds = s.Dataset("/time/" + n);
    std::vector<double> v = h5::ReadDoubles1D(ds);
    if (std::int64_t(v.size()) < s.count) throw IoError(s.path, "/time/" + n, "has fewer rows than frames");
    v.resize(std::size_t(s.count));
    tt.columns.push_back({n, h5::ReadStringAttr(ds, "unit"), h5::ReadStringAttr(ds, "description")});
    tt.values.push_back(std::move(v));
  }
  return tt;
}

void FrameStore::AddTimeColumn(const TimeColumnSpec& spec) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  CheckName("time column", spec.name);
  s.SetMode(Impl::Mode::kStructure);
  if (h5::Exists(s.file, "/time/" + spec.name)) return;
  s.CreateTimeColumn(spec);
  // Earlier frames get NaN in the new column.
  if (s.count > 0) {
    Id ds = s.Dataset("/time/" + spec.name);
    hsize_t n = hsize_t(s.count);
    H5Dset_extent(ds, &n);
  }
  H5Fflush(s.file, H5F_SCOPE_LOCAL);
}

void FrameStore::Impl::WriteTable(const std::string& parent, const ResultTable& table, const Provenance& prov) {
    Impl& s = *this;
    if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
    CheckName("table", table.name);
    std::set<std::string> names;
    std::size_t rows = table.columns.empty() ? 0 : table.columns[0].values.size();
    for (const ResultColumn& c : table.columns) {
      CheckName("column", c.name);
      if (!names.insert(c.name).second) throw InvalidArgument("table '" + table.name + "' has column '" + c.name + "' twice");
      if (c.values.size() != rows) throw InvalidArgument("table '" + table.name + "': columns of different lengths");
    }
    s.SetMode(Mode::kStructure);
    const std::string gpath = parent + "/" + table.name;
    Id lcpl(H5Pcreate(H5P_LINK_CREATE));
    H5Pset_create_intermediate_group(lcpl, 1);
    // Write the new table under a temporary name, then swap it in: a failure leaves the old one.
    const std::string tmp = gpath + ".writing";
    if (h5::Exists(s.file, tmp)) H5Ldelete(s.file, tmp.c_str(), H5P_DEFAULT);
    {
      Id g(H5Gcreate2(s.file, tmp.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT));
      if (!g.valid()) h5::Fail(s.path, gpath, "cannot create result group");
      h5::WriteStringAttr(g, "provenance", ProvenanceJson(prov));
      for (const ResultColumn& c : table.columns) {
        h5::WriteDoubles1D(g, c.name, c.values);
        Id ds(H5Dopen2(g, c.name.c_str(), H5P_DEFAULT));
        h5::WriteStringAttr(ds, "unit", c.unit);
      }
      std::string order;
      for (const ResultColumn& c : table.columns) order += (order.empty() ? "" : ",") + c.name;
      h5::WriteStringAttr(g, "columns", order);
    }
    if (h5::Exists(s.file, gpath) && H5Ldelete(s.file, gpath.c_str(), H5P_DEFAULT) < 0)
      h5::Fail(s.path, gpath, "cannot replace result group");
    if (H5Lmove(s.file, tmp.c_str(), s.file, gpath.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
      h5::Fail(s.path, gpath, "cannot store result group");
    if (H5Fflush(s.file, H5F_SCOPE_LOCAL) < 0) h5::Fail(s.path, gpath, "cannot flush");
}

ResultTable FrameStore::Impl::ReadTable(const std::string& gpath, const std::string& name) const {
    const Impl& s = *this;
    if (!h5::Exists(s.file, gpath)) throw IoError(s.path, gpath, "no such result table");
    Id g(H5Gopen2(s.file, gpath.c_str(), H5P_DEFAULT));
    ResultTable t;
    t.name = name;
    std::vector<std::string> cols;
    const std::string order = h5::ReadStringAttr(g, "columns");
    if (!order.empty()) {
      std::stringstream ss(order);
      std::string c;
      while (std::getline(ss, c, ',')) cols.push_back(c);
    } else {
      cols = h5::ListChildren(g);
    }
    for (const std::string& c : cols) {
      Id ds(H5Dopen2(g, c.c_str(), H5P_DEFAULT));
      if (!ds.valid()) h5::Fail(s.path, gpath + "/" + c, "cannot open column");
      t.columns.push_back({c, h5::ReadStringAttr(ds, "unit"), h5::ReadDoubles1D(ds)});
    }
    return t;
}

std::vector<std::string> FrameStore::Impl::ListTables(const std::string& gpath, bool want_groups) const {
    const Impl& s = *this;
    if (!h5::Exists(s.file, gpath)) return {};
    Id g(H5Gopen2(s.file, gpath.c_str(), H5P_DEFAULT));
    std::vector<std::string> out;
    for (const std::string& n : h5::ListChildren(g)) {
      if (n.size() >= 8 && n.compare(n.size() - 8, 8, ".writing") == 0) continue;
      H5O_info_t info;
      if (H5Oget_info_by_name(g, n.c_str(), &info, H5P_DEFAULT) >= 0 && (info.type == H5O_TYPE_GROUP) == want_groups)
        out.push_back(n);
    }
    return out;
}

void FrameStore::WriteFrameTable(std::int64_t k, const ResultTable& table, const Provenance& prov) {
  if (k < 0 || k >= impl_->count) throw IoError(impl_->path, FrameResultsGroup(k), "frame does not exist");
  impl_->WriteTable(FrameResultsGroup(k), table, prov);
}
ResultTable FrameStore::ReadFrameTable(std::int64_t k, const std::string& name) const {
  return impl_->ReadTable(FrameResultsGroup(k) + "/" + name, name);
}
std::vector<std::string> FrameStore::ListFrameTables(std::int64_t k) const {
  return impl_->ListTables(FrameResultsGroup(k));
}
void FrameStore::WriteFrameVolume(std::int64_t k, const std::string& name, ConstVolumeView v, const Provenance& prov) {
  CreateFrameVolume(k, name, v.dtype(), v.geometry(), prov);
  const Geometry& g = v.geometry();
  WriteFrameVolumeRegion(k, name, Box{{0, 0, 0}, g.shape}, v);
  if (H5Fflush(impl_->file, H5F_SCOPE_LOCAL) < 0) h5::Fail(impl_->path, FrameResultsGroup(k) + "/" + name, "cannot flush");
}

namespace {
// Geometry and voxel type of a stored result volume.
std::pair<Geometry, DataType> ResultVolumeLayout(const std::string& file, const std::string& path, hid_t ds) {
  const auto dims = h5::Dims(ds);
  if (dims.size() != 3) throw IoError(file, path, "is not a 3D volume");
  Geometry g;
  g.shape = {std::int64_t(dims[0]), std::int64_t(dims[1]), std::int64_t(dims[2])};
  const auto sp = h5::ReadDoublesAttr(ds, "spacing_um"), org = h5::ReadDoublesAttr(ds, "origin_um");
  for (int a = 0; a < 3; ++a) {
    if (sp.size() == 3) g.spacing_um[a] = sp[a];
    if (org.size() == 3) g.origin_um[a] = org[a];
  }
  Id type(H5Dget_type(ds));
  DataType t;
  if (H5Tequal(type, H5T_STD_U8LE) > 0) t = DataType::kUInt8;
  else if (H5Tequal(type, H5T_STD_U16LE) > 0) t = DataType::kUInt16;
  else if (H5Tequal(type, H5T_IEEE_F32LE) > 0) t = DataType::kFloat32;
  else throw IoError(file, path, "voxel type is not uint8, uint16 or float32");
  return {g, t};
}
}  // namespace

AnyVolume FrameStore::ReadFrameVolume(std::int64_t k, const std::string& name) const {
  const Impl& s = *impl_;
  const std::string path = FrameResultsGroup(k) + "/" + name;
  Id ds = s.Dataset(path);
  const auto [g, t] = ResultVolumeLayout(s.path, path, ds);
  AnyVolume out = MakeVolume(t, g);
  if (H5Dread(ds, NativeType(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, RawData(out)) < 0) h5::Fail(s.path, path, "cannot read");
  return out;
}

std::pair<Geometry, DataType> FrameStore::FrameVolumeLayout(std::int64_t k, const std::string& name) const {
  const Impl& s = *impl_;
  const std::string path = FrameResultsGroup(k) + "/" + name;
  Id ds = s.Dataset(path);
  return ResultVolumeLayout(s.path, path, ds);
}

void FrameStore::ReadFrameVolumeRegionInto(std::int64_t k, const std::string& name, const Box& box, AnyVolume& out) const {
  const Impl& s = *impl_;
  const std::string path = FrameResultsGroup(k) + "/" + name;
  Id ds = s.Dataset(path);
  const auto [whole, t] = ResultVolumeLayout(s.path, path, ds);
  if (!box.Inside(whole.shape))
    throw IoError(s.path, path, "region [" + std::to_string(box.begin[0]) + "+" + std::to_string(box.size[0]) + ", " +
                                    std::to_string(box.begin[1]) + "+" + std::to_string(box.size[1]) + ", " +
                                    std::to_string(box.begin[2]) + "+" + std::to_string(box.size[2]) +
                                    ") is outside the volume (" + whole.ToString() + ")");
  Geometry g = whole;
  g.shape = box.size;
  for (int a = 0; a < 3; ++a) g.origin_um[a] += double(box.begin[a]) * g.spacing_um[a];
  if (TypeOf(out) != t || GeometryOf(out).shape != g.shape) out = MakeVolume(t, g);
  else SetGeometry(out, g);
  if (box.voxel_count() == 0) return;
  Id fs(H5Dget_space(ds));
  const hsize_t off[3] = {hsize_t(box.begin[0]), hsize_t(box.begin[1]), hsize_t(box.begin[2])};
  const hsize_t cnt[3] = {hsize_t(box.size[0]), hsize_t(box.size[1]), hsize_t(box.size[2])};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, nullptr, cnt, nullptr);
  Id ms(H5Screate_simple(3, cnt, nullptr));
  if (H5Dread(ds, NativeType(t), ms, fs, H5P_DEFAULT, RawData(out)) < 0) h5::Fail(s.path, path, "cannot read the region");
}

void FrameStore::CreateFrameVolume(std::int64_t k, const std::string& name, DataType dtype, const Geometry& g,
                                   const Provenance& prov) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  if (k < 0 || k >= s.count) throw IoError(s.path, FrameResultsGroup(k), "frame does not exist");
  CheckName("result volume", name);
  std::string why;
  if (!g.IsValid(&why) || g.voxel_count() == 0) throw InvalidArgument("result volume '" + name + "': " + (why.empty() ? "empty" : why));
  s.SetMode(Impl::Mode::kStructure);
  const std::string path = FrameResultsGroup(k) + "/" + name;
  if (h5::Exists(s.file, path) && H5Ldelete(s.file, path.c_str(), H5P_DEFAULT) < 0) h5::Fail(s.path, path, "cannot replace");
  const hsize_t dims[3] = {hsize_t(g.shape[0]), hsize_t(g.shape[1]), hsize_t(g.shape[2])};
  hsize_t ch[3];
  for (int a = 0; a < 3; ++a) ch[a] = std::min<hsize_t>(dims[a], 64);
  Id space(H5Screate_simple(3, dims, nullptr));
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl, 3, ch);
  if (ByteSize(dtype) > 1) H5Pset_shuffle(dcpl);
  H5Pset_deflate(dcpl, 1);
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl, 1);
  Id ds(H5Dcreate2(s.file, path.c_str(), FileType(dtype), space, lcpl, dcpl, H5P_DEFAULT));
  if (!ds.valid()) h5::Fail(s.path, path, "cannot create result volume");
  h5::WriteDoublesAttr(ds, "spacing_um", {g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]});
  h5::WriteDoublesAttr(ds, "origin_um", {g.origin_um[0], g.origin_um[1], g.origin_um[2]});
  h5::WriteStringAttr(ds, "provenance", ProvenanceJson(prov));
  if (H5Fflush(s.file, H5F_SCOPE_LOCAL) < 0) h5::Fail(s.path, path, "cannot flush");
}

void FrameStore::WriteFrameVolumeRegion(std::int64_t k, const std::string& name, const Box& box, ConstVolumeView v) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  const std::string path = FrameResultsGroup(k) + "/" + name;
  Id ds = s.Dataset(path);
  const auto [whole, t] = ResultVolumeLayout(s.path, path, ds);
  if (v.dtype() != t)
    throw IoError(s.path, path, std::string("region of type ") + ToString(v.dtype()) + " written to a volume of type " + ToString(t));
  if (v.geometry().shape != box.size || !box.Inside(whole.shape))
    throw IoError(s.path, path, "region does not fit the volume (" + whole.ToString() + ")");
  if (box.voxel_count() == 0) return;
  s.SetMode(Impl::Mode::kStructure);
  Id fs(H5Dget_space(ds));
  const hsize_t off[3] = {hsize_t(box.begin[0]), hsize_t(box.begin[1]), hsize_t(box.begin[2])};
  const hsize_t cnt[3] = {hsize_t(box.size[0]), hsize_t(box.size[1]), hsize_t(box.size[2])};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, nullptr, cnt, nullptr);
  Id ms(H5Screate_simple(3, cnt, nullptr));
  if (H5Dwrite(ds, NativeType(t), ms, fs, H5P_DEFAULT, v.data()) < 0) h5::Fail(s.path, path, "cannot write the region");
}

std::vector<std::string> FrameStore::ListFrameVolumes(std::int64_t k) const {
  return impl_->ListTables(FrameResultsGroup(k), false);
}

void FrameStore::RemoveFrameResult(std::int64_t k, const std::string& name) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  CheckName("result", name);
  const std::string path = FrameResultsGroup(k) + "/" + name;
  s.SetMode(Impl::Mode::kStructure);
  if (!h5::Exists(s.file, path)) return;
  if (H5Ldelete(s.file, path.c_str(), H5P_DEFAULT) < 0) h5::Fail(s.path, path, "cannot remove");
  if (H5Fflush(s.file, H5F_SCOPE_LOCAL) < 0) h5::Fail(s.path, path, "cannot flush");
}

void FrameStore::RemoveSeriesResult(const std::string& name) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  CheckName("result", name);
  const std::string path = "/series/" + name;
  s.SetMode(Impl::Mode::kStructure);
  if (!h5::Exists(s.file, path)) return;
  if (H5Ldelete(s.file, path.c_str(), H5P_DEFAULT) < 0) h5::Fail(s.path, path, "cannot remove");
  if (H5Fflush(s.file, H5F_SCOPE_LOCAL) < 0) h5::Fail(s.path, path, "cannot flush");
}

void FrameStore::CopyFrameResults(const FrameStore& from, std::int64_t k) {
  Impl& s = *impl_;
  if (!s.writable) throw IoError(s.path, "", "store was opened read-only");
  if (k < 0 || k >= s.count) throw IoError(s.path, FrameResultsGroup(k), "frame does not exist");
  const std::string group = FrameResultsGroup(k);
  std::vector<std::string> names = from.ListFrameTables(k);
  for (const std::string& v : from.ListFrameVolumes(k)) names.push_back(v);
  s.SetMode(Impl::Mode::kStructure);
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl, 1);
  for (const std::string& name : names) {
    // Copied under a temporary name, then swapped in: a failure leaves the old object.
    const std::string path = group + "/" + name, tmp = path + ".writing";
    if (h5::Exists(s.file, tmp)) H5Ldelete(s.file, tmp.c_str(), H5P_DEFAULT);
    if (H5Ocopy(from.impl_->file, path.c_str(), s.file, tmp.c_str(), H5P_DEFAULT, lcpl) < 0)
      h5::Fail(s.path, path, "cannot copy from " + from.path());
    if (h5::Exists(s.file, path) && H5Ldelete(s.file, path.c_str(), H5P_DEFAULT) < 0) h5::Fail(s.path, path, "cannot replace");
    if (H5Lmove(s.file, tmp.c_str(), s.file, path.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) h5::Fail(s.path, path, "cannot store");
  }
  if (H5Fflush(s.file, H5F_SCOPE_LOCAL) < 0) h5::Fail(s.path, group, "cannot flush");
}

void FrameStore::WriteSeriesTable(const ResultTable& table, const Provenance& prov) {
  impl_->WriteTable("/series", table, prov);
}
ResultTable FrameStore::ReadSeriesTable(const std::string& name) const {
  return impl_->ReadTable("/series/" + name, name);
}
std::vector<std::string> FrameStore::ListSeriesTables() const { return impl_->ListTables("/series"); }

std::string FrameStore::ReadTableProvenance(const std::string& group_path) const {
  if (!h5::Exists(impl_->file, group_path)) return "";
  Id g(H5Oopen(impl_->file, group_path.c_str(), H5P_DEFAULT));  // a table's group or a volume's dataset
  return h5::ReadStringAttr(g, "provenance");
}

std::int64_t FrameStore::Refresh() {
  Impl& s = *impl_;
  if (s.writable) return s.count;
  if (!s.layout) {  // the frame dataset may have been created since we opened: reopen
    s.file.Reset();
    s.mode = Impl::Mode::kClosed;
    s.SetMode(Impl::Mode::kRead);
    s.LoadState();
    return s.count;
  }
  // SWMR readers refresh the metadata of the datasets they look at.
  for (const char* name : {"/time/time_s", kVolume, kProvenance}) {
    if (!h5::Exists(s.file, name)) continue;
    Id ds(H5Dopen2(s.file, name, H5P_DEFAULT));
    H5Drefresh(ds);
  }
  Id tg(H5Gopen2(s.file, "/time", H5P_DEFAULT));
  for (const std::string& c : h5::ListChildren(tg)) {
    Id ds(H5Dopen2(tg, c.c_str(), H5P_DEFAULT));
    H5Drefresh(ds);
  }
  s.count = s.CommittedCount();
  if (!s.layout) s.LoadLayout();
  return s.count;
}

void FrameStore::Close() { impl_->CloseAll(); }

SlabReader<std::uint8_t> StoredSlabs(const FrameStore& store, std::int64_t k, const std::string& name) {
  const auto [g, t] = store.FrameVolumeLayout(k, name);
  if (t != DataType::kUInt8)
    throw IoError(store.path(), FrameResultsGroup(k) + "/" + name,
                  std::string("is ") + ToString(t) + ", the block-wise kernels read uint8 phase labels");
  const Index3 shape = g.shape;
  return [&store, k, name, shape](std::int64_t z0, std::int64_t z1, Volume<std::uint8_t>& out) {
    AnyVolume any(std::move(out));
    store.ReadFrameVolumeRegionInto(k, name, Box{{z0, 0, 0}, {z1 - z0, shape[1], shape[2]}}, any);
    out = std::move(std::get<Volume<std::uint8_t>>(any));
  };
}

}  // namespace op4d
