// op4d.Store: the campaign store from Python, with the C++ store's rules (one writer holding the
// exclusive lock, any number of SWMR readers, crash-safe appends).
#include <optional>

#include "convert.h"
#include "op4d/store/frame_store.h"

namespace op4dpy {

void BindStore(py::module_& m) {
  py::class_<FrameStore>(m, "Store",
                         "A campaign store (HDF5): frames as numpy arrays, the time table, results tables. "
                         "Opened for reading (SWMR: a writer may append; refresh() sees new frames).")
      .def(py::init([](const std::string& path, const std::string& mode, bool overwrite) {
             py::gil_scoped_release release;
             if (mode == "r") return FrameStore::OpenRead(path);
             if (mode == "a") return FrameStore::OpenReadWrite(path);
             if (mode == "w") return FrameStore::Create(path, overwrite);
             throw ConfigError("mode", "'" + mode + "' is not r (read), a (append to an existing store) or w (create)");
           }),
           py::arg("path"), py::arg("mode") = "r", py::arg("overwrite") = false,
           "mode 'r' reads (SWMR: works while a writer appends); 'a' opens an existing store for appending "
           "frames and writing results, 'w' creates one (refused if the file exists, unless overwrite): both "
           "take the store's exclusive writer lock, as the op4d command does, and a second writer is refused "
           "with IoError naming the file.")
      .def_property_readonly("writable", &FrameStore::writable)
      .def_property_readonly("dtype", [](const FrameStore& s) -> py::object {
        const auto l = s.layout();
        if (!l) return py::none();
        return py::str(ToString(l->dtype));
      }, "frame dtype ('uint8', 'uint16', 'float32'), None before the first frame")
      .def_property_readonly("path", &FrameStore::path)
      .def("__len__", &FrameStore::frame_count)
      .def_property_readonly("shape", [](const FrameStore& s) {
        const auto l = s.layout();
        return l ? py::make_tuple(l->geometry.shape[0], l->geometry.shape[1], l->geometry.shape[2]) : py::make_tuple();
      })
      .def_property_readonly("spacing", [](const FrameStore& s) {
        const auto l = s.layout();
        return l ? py::make_tuple(l->geometry.spacing_um[0], l->geometry.spacing_um[1], l->geometry.spacing_um[2]) : py::make_tuple();
      }, "voxel size (z, y, x) in um")
      .def(
          "frame",
          [](const FrameStore& s, std::int64_t k, int threads) {
            if (k < 0) k += s.frame_count();
            AnyVolume v;
            {
              py::gil_scoped_release release;
              v = s.ReadFrame(k, ThreadBudget{threads});
            }
            return ToArray(std::move(v));
          },
          py::arg("k"), py::arg("threads") = 0, "Frame k (negative counts from the end) as a (z, y, x) array.")
      .def(
          "region",
          [](const FrameStore& s, std::int64_t k, std::array<std::int64_t, 3> begin, std::array<std::int64_t, 3> size) {
            if (k < 0) k += s.frame_count();
            AnyVolume v;
            {
              py::gil_scoped_release release;
              v = s.ReadRegion(k, Box{{begin[0], begin[1], begin[2]}, {size[0], size[1], size[2]}});
            }
            return ToArray(std::move(v));
          },
          py::arg("k"), py::arg("begin"), py::arg("size"),
          "The sub-volume [begin, begin + size) (z, y, x voxels) of frame k, read chunk by chunk.")
      .def("time_table", [](const FrameStore& s) {
        const TimeTable t = s.ReadTimeTable();
        py::dict d;
        for (std::size_t c = 0; c < t.columns.size(); ++c)
          d[py::str(t.columns[c].name)] = py::array_t<double>(py::ssize_t(t.values[c].size()), t.values[c].data());
        return d;
      }, "The time table as {column: array}: time_s first, then the cycler's columns.")
      .def("time_units", [](const FrameStore& s) {
        py::dict d;
        for (const TimeColumnSpec& c : s.ReadTimeTable().columns) d[py::str(c.name)] = c.unit;
        return d;
      })
      .def("frame_tables", &FrameStore::ListFrameTables, py::arg("k"))
      .def("frame_volumes", &FrameStore::ListFrameVolumes, py::arg("k"))
      .def("series_tables", &FrameStore::ListSeriesTables)
      .def("frame_table", [](const FrameStore& s, std::int64_t k, const std::string& name) { return TableToDict(s.ReadFrameTable(k, name)); },
           py::arg("k"), py::arg("name"), "A per-frame results table as {column: array}.")
      .def("frame_table_units", [](const FrameStore& s, std::int64_t k, const std::string& name) { return UnitsOf(s.ReadFrameTable(k, name)); },
           py::arg("k"), py::arg("name"))
      .def("frame_volume", [](const FrameStore& s, std::int64_t k, const std::string& name) { return ToArray(s.ReadFrameVolume(k, name)); },
           py::arg("k"), py::arg("name"), "A per-frame result volume (labels, probability maps, ...) as an array.")
      .def("series_table", [](const FrameStore& s, const std::string& name) { return TableToDict(s.ReadSeriesTable(name)); },
           py::arg("name"), "A series table (one row per frame or event) as {column: array}.")
      .def("series_table_units", [](const FrameStore& s, const std::string& name) { return UnitsOf(s.ReadSeriesTable(name)); },
           py::arg("name"))
      .def(
          "append",
          [](FrameStore& s, const py::array& frame, double time_s, std::optional<Spacing> spacing, const py::dict& columns,
             const std::string& step, const std::string& source, const std::string& codec, int level,
             std::array<std::int64_t, 3> chunk, int threads) {
            Geometry g;
            if (const auto l = s.layout()) {
              g = l->geometry;
              if (spacing) g.spacing_um = {std::get<0>(*spacing), std::get<1>(*spacing), std::get<2>(*spacing)};
            } else {
              if (!spacing) throw ConfigError("spacing", "the first frame of " + s.path() + " needs its voxel size (z, y, x) in um");
              g.spacing_um = {std::get<0>(*spacing), std::get<1>(*spacing), std::get<2>(*spacing)};
            }
            const AnyVolume v = ToAnyVolume(frame, g, "Store.append frame");
            TimeRow row;
            row["time_s"] = time_s;
            for (auto item : columns) row[std::string(py::str(item.first))] = item.second.cast<double>();
            StoreOptions o;
            o.codec = CodecFromString(codec);
            o.level = level;
            o.chunk = {chunk[0], chunk[1], chunk[2]};
            o.threads.threads = threads;
            Provenance p;
            p.step = step;
            p.source = source.empty() ? std::string("python") : source;
            py::gil_scoped_release release;
            s.AppendFrame(ConstVolumeView(v), row, p, o);
            return s.frame_count();
          },
          py::arg("frame"), py::arg("time_s"), py::arg("spacing") = py::none(), py::arg("columns") = py::dict(),
          py::arg("step") = "python.append", py::arg("source") = "", py::arg("codec") = "blosc-zstd", py::arg("level") = 1,
          py::arg("chunk") = std::array<std::int64_t, 3>{64, 64, 64}, py::arg("threads") = 0,
          "Appends one frame (uint8, uint16 or float32, (z, y, x)) at time_s (s, after the last frame's) with "
          "cycler columns (e.g. {'voltage_V': 3.7}; the store's time-table columns only). The first frame fixes "
          "dtype, shape, spacing (um), codec and chunks; later frames must match. Crash-safe as the C++ store: "
          "the frame exists once its time_s is on disk. Returns the frame count.")
      .def(
          "write_frame_table",
          [](FrameStore& s, std::int64_t k, const std::string& name, const py::dict& columns, const py::dict& units,
             const std::string& step) {
            const ResultTable t = DictToTable(name, columns, units, "Store.write_frame_table");
            Provenance p;
            p.step = step;
            p.source = "python";
            py::gil_scoped_release release;
            s.WriteFrameTable(k, t, p);
          },
          py::arg("k"), py::arg("name"), py::arg("columns"), py::arg("units") = py::dict(), py::arg("step") = "python",
          "Writes (or replaces) a results table of frame k: {column: 1D array}, units {column: unit} ('1' if absent).")
      .def(
          "write_series_table",
          [](FrameStore& s, const std::string& name, const py::dict& columns, const py::dict& units, const std::string& step) {
            const ResultTable t = DictToTable(name, columns, units, "Store.write_series_table");
            Provenance p;
            p.step = step;
            p.source = "python";
            py::gil_scoped_release release;
            s.WriteSeriesTable(t, p);
          },
          py::arg("name"), py::arg("columns"), py::arg("units") = py::dict(), py::arg("step") = "python",
          "Writes (or replaces) a series table (results across frames).")
      .def(
          "write_frame_volume",
          [](FrameStore& s, std::int64_t k, const std::string& name, const py::array& volume, const std::string& step) {
            const auto l = s.layout();
            if (!l) throw IoError(s.path(), "/frames/volume", "no frame yet: append one before writing its results");
            const AnyVolume v = ToAnyVolume(volume, l->geometry, "Store.write_frame_volume");
            Provenance p;
            p.step = step;
            p.source = "python";
            py::gil_scoped_release release;
            s.WriteFrameVolume(k, name, ConstVolumeView(v), p);
          },
          py::arg("k"), py::arg("name"), py::arg("volume"), py::arg("step") = "python",
          "Writes (or replaces) a result volume of frame k (labels, probability maps), on the frame's grid.")
      .def("add_time_column", [](FrameStore& s, const std::string& name, const std::string& unit, const std::string& description) {
             s.AddTimeColumn({name, unit, description});
           }, py::arg("name"), py::arg("unit"), py::arg("description") = "",
           "Adds a user column to the time table (NaN for the frames already stored).")
      .def("frame_provenance", [](const FrameStore& s, std::int64_t k) { return s.ReadFrameProvenance(k); }, py::arg("k"),
           "The JSON provenance of frame k (step, source, options, op4d version, UTC time).")
      .def("refresh", &FrameStore::Refresh, "Sees frames a writer appended since; returns the frame count.")
      .def("close", &FrameStore::Close)
      .def("__enter__", [](FrameStore& s) -> FrameStore& { return s; }, py::return_value_policy::reference)
      .def("__exit__", [](FrameStore& s, py::args) { s.Close(); });
}

}  // namespace op4dpy
