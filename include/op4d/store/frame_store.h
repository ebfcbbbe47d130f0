// FrameStore: one HDF5 file per campaign, the time-indexed 4D store.
//
// Layout (written down in schemas/store-layout.json and checked by tests/store/layout_test.cc):
//   /frames/volume            (T, Z, Y, X) uint8|uint16|float32, chunks (1, cz, cy, cx), compressed;
//                             attrs spacing_um[3] (z,y,x), origin_um[3], axes "t,z,y,x", codec, phases
//   /frames/provenance        (T,) fixed-length JSON strings, one per frame
//   /results/<kkkkkk>/<table>/<column>          per-frame result tables (float64 columns, attr unit)
//   /results/<kkkkkk>/<volume>                  per-frame result volumes (labels, probabilities, …)
//   /time/<column>            (T,) float64, attr unit: time_s, cycle, step, voltage_V, current_A,
//                             charge_Ah, soc_ref, p_app_Pa and user columns
//   /series/<table>/<column>  results across frames
// Every table group carries a provenance attribute (op4d version, UTC time, step, options).
// Results sit outside /frames on purpose: writing them never touches the groups through which the
// frames are reached, so a process killed while writing results cannot cost a frame.
//
// Crash safety and live follow: frames are appended in HDF5 SWMR-write mode. The frame's chunks are
// written and flushed first, /time/time_s last: a frame exists once its time_s is on disk. A writer
// killed mid-append leaves every earlier frame readable; the next writer drops the partial frame.
// A reader opened with OpenRead() sees frames appended after it opened by calling Refresh().
// One writer at a time (an exclusive lock on the file); any number of readers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/phase.h"
#include "op4d/core/slabs.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"

namespace op4d {

// How frame chunks are compressed. The HDF5 filter pipeline written is the standard one, so h5py and
// HDFView read the file: gzip = shuffle + deflate (built into HDF5); blosc-* = Blosc filter 32001
// (Debian package hdf5-filter-plugin-blosc-serial) with byte shuffle inside.
enum class Codec { kNone, kGzip, kBloscZstd, kBloscLz4 };
const char* ToString(Codec c);             // "none", "gzip", "blosc-zstd", "blosc-lz4"
Codec CodecFromString(const std::string& s);  // throws ConfigError; "zstd" means "blosc-zstd"

// Options fixed when the first frame is written.
struct StoreOptions {
  Codec codec = Codec::kBloscZstd;  // fastest here (bench/RESULTS.md); gzip for readers without the Blosc plugin
  int level = 1;                  // compression level (gzip 1..9, blosc 1..9)
  Index3 chunk{64, 64, 64};       // chunk edge in voxels along z, y, x (clipped to the frame)
  ThreadBudget threads;           // threads for chunk (de)compression
  std::optional<PhaseTable> phases;  // for label campaigns: meaning of the values
  bool IsValid(std::string* why) const;
};

// What produced a write. Stored as JSON with op4d's version and the UTC time added.
struct Provenance {
  std::string step;                  // "import", "synth", "geometry.fractions", …
  std::string source;                // input file(s) or upstream data
  std::string options_json = "{}";   // effective options, a JSON object
  std::string pipeline_hash;         // hash of the pipeline file, when run from one
};

// One row of the time table: column name → value. Missing columns are stored as NaN.
using TimeRow = std::map<std::string, double>;

struct TimeColumnSpec {
  std::string name;
  std::string unit;
  std::string description;
};
// The cycler columns every store has, in order: time_s is first.
const std::vector<TimeColumnSpec>& StandardTimeColumns();

struct TimeTable {
  std::vector<TimeColumnSpec> columns;
  std::vector<std::vector<double>> values;  // values[c][row]
  std::int64_t rows() const { return values.empty() ? 0 : std::int64_t(values[0].size()); }
  const std::vector<double>* Find(const std::string& name) const;
};

struct FrameLayout {
  DataType dtype = DataType::kUInt16;
  Geometry geometry;  // of one frame
  Index3 chunk{0, 0, 0};
  Codec codec = Codec::kNone;  // kNone also for pipelines op4d did not write (read through HDF5)
  std::optional<PhaseTable> phases;
};

class FrameStore {
 public:
  // A new, empty campaign file. Throws IoError if it exists (unless overwrite) or cannot be created.
  static FrameStore Create(const std::string& path, bool overwrite = false);
  // Opens an existing campaign for appending and writing results (exclusive writer lock).
  // Recovers from a writer that was killed: a partial last frame is dropped.
  static FrameStore OpenReadWrite(const std::string& path);
  // Opens for reading; works while a writer appends (SWMR). Call Refresh() to see new frames.
  static FrameStore OpenRead(const std::string& path);
  // True for an HDF5 file with op4d's format marker (false for other HDF5 files, any other file,
  // or a missing one); never throws.
  static bool IsCampaignStore(const std::string& path);

  FrameStore(FrameStore&&) noexcept;
  FrameStore& operator=(FrameStore&&) noexcept;
  ~FrameStore();

  const std::string& path() const;
  bool writable() const;
  std::int64_t frame_count() const;
  std::optional<FrameLayout> layout() const;  // nullopt until the first frame

  // Appends one frame with its time-table row. The first frame fixes dtype, shape, spacing, codec;
  // later frames must match them (IoError naming the file and both values otherwise).
  // time_s is required, finite and larger than the previous frame's.
  void AppendFrame(ConstVolumeView frame, const TimeRow& row, const Provenance& prov,
                   const StoreOptions& options = StoreOptions());

  AnyVolume ReadFrame(std::int64_t k, ThreadBudget threads = {}) const;
  AnyVolume ReadRegion(std::int64_t k, const Box& box, ThreadBudget threads = {}) const;
  // Reads into `out`, reusing its memory when it already has the right type and size (streaming
  // pipelines keep one buffer per block instead of allocating a frame per read).
  void ReadRegionInto(std::int64_t k, const Box& box, AnyVolume& out, ThreadBudget threads = {}) const;
  std::string ReadFrameProvenance(std::int64_t k) const;

  TimeTable ReadTimeTable() const;
  void AddTimeColumn(const TimeColumnSpec& spec);

  void WriteFrameTable(std::int64_t k, const ResultTable& table, const Provenance& prov);
  ResultTable ReadFrameTable(std::int64_t k, const std::string& name) const;
  std::vector<std::string> ListFrameTables(std::int64_t k) const;
  // Per-frame result volumes (labels, probability maps, distance maps): a 3D gzip-compressed dataset
  // /results/<kkkkkk>/<name> with spacing_um/origin_um and provenance attributes.
  void WriteFrameVolume(std::int64_t k, const std::string& name, ConstVolumeView v, const Provenance& prov);
  AnyVolume ReadFrameVolume(std::int64_t k, const std::string& name) const;
  // Block-wise access for frames too large to hold (datasets are chunked 64^3): the layout of a
  // stored volume, a region read by hyperslab (into `out`, reusing its memory as ReadRegionInto),
  // and a volume created empty (fill 0) and then written region by region. IoError naming the file,
  // the dataset and the region when the region is outside the volume or of another voxel type.
  std::pair<Geometry, DataType> FrameVolumeLayout(std::int64_t k, const std::string& name) const;
  void ReadFrameVolumeRegionInto(std::int64_t k, const std::string& name, const Box& box, AnyVolume& out) const;
  void CreateFrameVolume(std::int64_t k, const std::string& name, DataType dtype, const Geometry& g, const Provenance& prov);
  void WriteFrameVolumeRegion(std::int64_t k, const std::string& name, const Box& box, ConstVolumeView v);
  std::vector<std::string> ListFrameVolumes(std::int64_t k) const;

  // Removes frame k's result table or volume `name` (nothing if there is none).
  void RemoveFrameResult(std::int64_t k, const std::string& name);
  // Removes the series result table `name` (nothing if there is none).
  void RemoveSeriesResult(const std::string& name);

  // Copies frame k's results (tables and volumes, with their provenance) from another store of the
  // same campaign, replacing those of the same name here: how scale-out parts are merged.
  void CopyFrameResults(const FrameStore& from, std::int64_t k);

  void WriteSeriesTable(const ResultTable& table, const Provenance& prov);
  ResultTable ReadSeriesTable(const std::string& name) const;
  std::vector<std::string> ListSeriesTables() const;
  // Provenance JSON of a stored table or result volume ("" if absent).
  std::string ReadTableProvenance(const std::string& group_path) const;

  // Reader: picks up frames appended since open/last refresh. Returns the new frame count.
  std::int64_t Refresh();

  // Flushes and closes the file now (also done by the destructor).
  void Close();

 private:
  struct Impl;
  explicit FrameStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// How long a writer (Create, OpenReadWrite) waits for the lock another process holds before it
// refuses (default 0: at once). Live follow sets it so analysis and acquisition take turns.
void SetWriterLockWait(double seconds);

// How long opening for reading (OpenRead) waits for another process that holds the file open to
// change its structure (HDF5 refuses readers meanwhile; appends in SWMR mode do not) before it refuses
// (default 0). A reader waits the longer of this and the writer lock wait. The op4d command sets 30 s,
// so inspecting a store while an acquisition appends to it works.
void SetReaderWait(double seconds);

// Group holding frame k's results: "/results/000042".
std::string FrameResultsGroup(std::int64_t k);

// The planes of frame k's stored uint8 result volume `name` (e.g. "phases") as a SlabReader for the
// block-wise kernels: each read is one hyperslab. IoError naming the file and dataset if the volume
// is missing or not uint8. The store must outlive the reader.
SlabReader<std::uint8_t> StoredSlabs(const FrameStore& store, std::int64_t k, const std::string& name);

}  // namespace op4d
