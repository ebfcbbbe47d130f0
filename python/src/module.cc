// op4d's Python module: the per-frame kernels on numpy arrays (ZYX, spacing in µm) and the campaign
// store. Inputs are converted once into op4d volumes (a C-contiguous array of the kernel's dtype is
// copied without conversion; any other is converted by numpy, or refused with the reason); results
// come back as numpy arrays that own op4d's buffer (no copy). The GIL is released around every kernel;
// `threads` is the TBB budget (0 = all cores). op4d's errors arrive as Python exceptions with the C++
// message: IoError -> OSError, ConfigError / InvalidArgument -> ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "op4d/core/error.h"
#include "op4d/core/phase.h"
#include "op4d/core/version.h"
#include "op4d/core/volume.h"
#include "op4d/frame/geometry/surface_area.h"
#include "op4d/frame/geometry/volume_fractions.h"
#include "op4d/frame/network/distance_transform.h"
#include "op4d/frame/segment/connectivity.h"
#include "op4d/frame/segment/threshold.h"
#include "op4d/frame/transport/diffusion.h"
#include "op4d/store/frame_store.h"

namespace py = pybind11;
using namespace op4d;

namespace {

using Spacing = std::tuple<double, double, double>;

Geometry GeometryOf3(const py::buffer_info& b, const Spacing& spacing, const char* what) {
  if (b.ndim != 3)
    throw py::value_error(std::string(what) + ": a 3D array (z, y, x) is needed, got " + std::to_string(b.ndim) + " dimensions");
  Geometry g;
  g.shape = {b.shape[0], b.shape[1], b.shape[2]};
  g.spacing_um = {std::get<0>(spacing), std::get<1>(spacing), std::get<2>(spacing)};
  std::string why;
  if (!g.IsValid(&why)) throw py::value_error(std::string(what) + ": " + why);
  return g;
}

// A numpy array as an op4d volume of T. Arrays of another dtype are converted by numpy (forcecast)
// only where the conversion is safe for the kernel (`convert`), else refused naming the dtype.
template <class T>
Volume<T> ToVolume(const py::array& a, const Spacing& spacing, const char* what, bool convert = true) {
  py::array_t<T, py::array::c_style> c;
  if (py::isinstance<py::array_t<T, py::array::c_style>>(a) && a.dtype().is(py::dtype::of<T>())) {
    c = py::reinterpret_borrow<py::array_t<T, py::array::c_style>>(a);
  } else {
    if (!convert)
      throw py::type_error(std::string(what) + ": dtype " + std::string(py::str(a.dtype())) + " given, " +
                           std::string(py::str(py::dtype::of<T>())) + " needed");
    c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
    if (!c) throw py::type_error(std::string(what) + ": cannot convert dtype " + std::string(py::str(a.dtype())));
  }
  const py::buffer_info b = c.request();
  Volume<T> v(GeometryOf3(b, spacing, what));
  std::memcpy(v.data(), b.ptr, std::size_t(v.size()) * sizeof(T));
  return v;
}

// A mask: any array; nonzero is in the phase (bool and integer arrays are the usual input).
Volume<std::uint8_t> ToMask(const py::array& a, const Spacing& spacing, const char* what) {
  if (a.dtype().is(py::dtype::of<std::uint8_t>()) || a.dtype().is(py::dtype("bool")))
    return ToVolume<std::uint8_t>(a.dtype().is(py::dtype("bool")) ? py::array(a.attr("view")("uint8")) : a, spacing, what);
  py::array nz = a.attr("astype")("bool").attr("view")("uint8");
  return ToVolume<std::uint8_t>(nz, spacing, what);
}

// A volume as a numpy array owning its storage: the volume is moved to the heap and freed with the array.
template <class T>
py::array_t<T> ToArray(Volume<T>&& v) {
  auto* owned = new Volume<T>(std::move(v));
  py::capsule free(owned, [](void* p) { delete static_cast<Volume<T>*>(p); });
  const std::vector<py::ssize_t> shape{owned->nz(), owned->ny(), owned->nx()};
  const std::vector<py::ssize_t> strides{py::ssize_t(sizeof(T)) * owned->ny() * owned->nx(),
                                         py::ssize_t(sizeof(T)) * owned->nx(), py::ssize_t(sizeof(T))};
  return py::array_t<T>(shape, strides, owned->data(), free);
}

py::array ToArray(AnyVolume&& v) {
  return std::visit([](auto&& x) -> py::array { return ToArray(std::move(x)); }, std::move(v));
}

py::dict TableToDict(const ResultTable& t) {
  py::dict d;
  for (const ResultColumn& c : t.columns) d[py::str(c.name)] = py::array_t<double>(py::ssize_t(c.values.size()), c.values.data());
  return d;
}

py::dict UnitsOf(const ResultTable& t) {
  py::dict d;
  for (const ResultColumn& c : t.columns) d[py::str(c.name)] = c.unit;
  return d;
}

int AxisOf(const py::object& axis) {
  if (py::isinstance<py::str>(axis)) {
    const std::string s = axis.cast<std::string>();
    if (s == "z") return 0;
    if (s == "y") return 1;
    if (s == "x") return 2;
    throw py::value_error("axis: '" + s + "' is not z, y or x (or 0, 1, 2)");
  }
  const int a = axis.cast<int>();
  if (a < 0 || a > 2) throw py::value_error("axis: " + std::to_string(a) + " is not 0, 1 or 2 (z, y, x)");
  return a;
}

// The solver options both transport bindings take, checked by DiffusionOptions::IsValid.
DiffusionOptions SolverOptions(const py::object& axis, double tolerance, int max_iterations, int threads, const char* what) {
  DiffusionOptions o;
  o.axis = AxisOf(axis);
  o.tolerance = tolerance;
  o.max_iterations = max_iterations;
  o.threads.threads = threads;
  std::string why;
  if (!o.IsValid(&why)) throw py::value_error(std::string(what) + ": " + why);
  return o;
}

py::dict DiffusionDict(const DiffusionResult& r) {
  py::dict d;
  d["status"] = ToString(r.status);
  d["message"] = r.message;
  d["axis"] = "zyx"[r.axis];
  d["tau"] = r.tau;
  d["d_eff"] = r.d_eff;
  d["volume_fraction"] = r.volume_fraction;
  d["percolating_fraction"] = r.percolating_fraction;
  d["flux_balance"] = r.flux_balance;
  d["relative_residual"] = r.relative_residual;
  d["iterations"] = r.iterations;
  d["convention"] = r.convention;
  return d;
}

}  // namespace

PYBIND11_MODULE(_op4d, m) {
  m.doc() = "op4d: in operando X-ray tomography of battery electrodes. Arrays are (z, y, x); spacing in um.";
  m.attr("__version__") = Version();

  static py::exception<IoError> io_error(m, "IoError", PyExc_OSError);
  static py::exception<ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<InvalidArgument> invalid_argument(m, "InvalidArgument", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const IoError& e) {
      io_error(e.what());
    } catch (const ConfigError& e) {
      config_error(e.what());
    } catch (const InvalidArgument& e) {
      invalid_argument(e.what());
    }
  });

  m.def(
      "distance_transform",
      [](const py::array& mask, Spacing spacing, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "distance_transform mask");
        Volume<float> d;
        {
          py::gil_scoped_release release;
          DistanceOptions o;
          o.threads.threads = threads;
          d = DistanceTransform(v, o);
        }
        return ToArray(std::move(d));
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("threads") = 0,
      "Exact Euclidean distance (um) from every voxel where mask != 0 to the nearest voxel where mask == 0; "
      "0 outside the mask, +inf when the mask has no background. float32, (z, y, x).");

  m.def(
      "surface_area",
      [](const py::array& mask, Spacing spacing, double smoothing_sigma_vox, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "surface_area mask");
        py::gil_scoped_release release;
        SurfaceAreaOptions o;
        o.smoothing_sigma_vox = smoothing_sigma_vox;
        o.threads.threads = threads;
        return MaskSurfaceArea(v, o);
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("smoothing_sigma_vox") = 1.0, py::arg("threads") = 0,
      "Area (um^2) of the boundary of mask != 0: marching tetrahedra on the 0.5 iso-surface of the indicator "
      "smoothed by a Gaussian of smoothing_sigma_vox voxels.");

  m.def(
      "tortuosity",
      [](const py::array& mask, Spacing spacing, py::object axis, double tolerance, int max_iterations, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "tortuosity mask");
        const DiffusionOptions o = SolverOptions(axis, tolerance, max_iterations, threads, "tortuosity");
        DiffusionResult r;
        {
          py::gil_scoped_release release;
          r = ComputeTortuosity(v, o);
        }
        return DiffusionDict(r);
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("axis") = py::str("z"), py::arg("tolerance") = 1e-8,
      py::arg("max_iterations") = 100000, py::arg("threads") = 0,
      "Tortuosity factor of the phase mask != 0 along axis (z, y, x or 0, 1, 2) by finite volumes: "
      "tau = eps D_bulk / D_eff with eps the phase's total volume fraction; c = 1 and 0 on the outer faces. "
      "A dict: tau, d_eff (per unit D_bulk), volume_fraction, percolating_fraction, status ('converged', "
      "'not-converged', 'not-percolating': tau = inf), iterations, flux_balance, convention.");

  m.def(
      "effective_diffusivity",
      [](const py::array& coefficient, Spacing spacing, py::object axis, double tolerance, int max_iterations, int threads) {
        const Volume<float> v = ToVolume<float>(coefficient, spacing, "effective_diffusivity coefficient");
        const DiffusionOptions o = SolverOptions(axis, tolerance, max_iterations, threads, "effective_diffusivity");
        DiffusionResult r;
        {
          py::gil_scoped_release release;
          r = ComputeEffectiveDiffusivity(v, o);
        }
        return DiffusionDict(r);
      },
      py::arg("coefficient"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("axis") = py::str("z"), py::arg("tolerance") = 1e-8,
      py::arg("max_iterations") = 100000, py::arg("threads") = 0,
      "Effective diffusivity (units of the coefficients) of a field of coefficients (0 = does not conduct) "
      "along axis, by the same finite volumes as tortuosity; the same dict.");

  m.def(
      "multi_otsu",
      [](const py::array& grey, int classes, int bins, int threads) {
        const Volume<float> v = ToVolume<float>(grey, Spacing{1, 1, 1}, "multi_otsu grey");
        ThresholdOptions o;
        o.classes = classes;
        o.bins = bins;
        o.threads.threads = threads;
        std::string why;
        if (!o.IsValid(&why)) throw py::value_error("multi_otsu: " + why);
        py::gil_scoped_release release;
        return MultiOtsu(AnyVolume(v), o).thresholds;
      },
      py::arg("grey"), py::arg("classes") = 3, py::arg("bins") = 256, py::arg("threads") = 0,
      "The classes - 1 increasing grey thresholds that maximise the between-class variance (Otsu 1979, "
      "multi-level, exact on the binned histogram); class c is (t[c-1], t[c]].");

  m.def(
      "label_components",
      [](const py::array& mask, Spacing spacing, int connectivity, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "label_components mask");
        ComponentOptions o;
        o.connectivity = ConnectivityFromString(std::to_string(connectivity));
        o.threads.threads = threads;
        ComponentLabels c;
        {
          py::gil_scoped_release release;
          c = LabelComponents(v, o);
        }
        const std::size_t n = c.components.size();
        return py::make_tuple(ToArray(std::move(c.labels)), n);
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("connectivity") = 6, py::arg("threads") = 0,
      "Connected components of mask != 0 (connectivity 6, 18 or 26): (labels int32 (z, y, x), 0 background, "
      "1..n; n). Labels do not depend on the thread count.");

  m.def(
      "volume_fractions",
      [](const py::array& labels, const std::string& phases) {
        const Volume<std::uint8_t> v = ToVolume<std::uint8_t>(labels, Spacing{1, 1, 1}, "volume_fractions labels");
        const PhaseTable table = phases.empty() ? PhaseTable::Electrode() : PhaseTable::FromSpec(phases);
        VolumeFractions f;
        {
          py::gil_scoped_release release;
          f = ComputeVolumeFractions(v, table);
        }
        py::dict d;
        for (const PhaseFraction& p : f.phases) d[py::str(p.name)] = p.fraction;
        return d;
      },
      py::arg("labels"), py::arg("phases") = "",
      "Volume fraction (dimensionless) of every phase of a uint8 label array: {name: fraction}. phases is a "
      "spec 'name=label:role,...' (roles pore, active, binder, other; default: op4d's electrode table).");

  py::class_<FrameStore>(m, "Store",
                         "A campaign store (HDF5): frames as numpy arrays, the time table, results tables. "
                         "Opened for reading (SWMR: a writer may append; refresh() sees new frames).")
      .def(py::init([](const std::string& path) { return FrameStore::OpenRead(path); }), py::arg("path"))
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
      .def("refresh", &FrameStore::Refresh, "Sees frames a writer appended since; returns the frame count.")
      .def("close", &FrameStore::Close)
      .def("__enter__", [](FrameStore& s) -> FrameStore& { return s; }, py::return_value_policy::reference)
      .def("__exit__", [](FrameStore& s, py::args) { s.Close(); });
}
