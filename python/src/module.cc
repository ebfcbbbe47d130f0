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
#include <optional>
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
#include "op4d/io/import.h"
#include "convert.h"

namespace py = pybind11;
using namespace op4d;
using namespace op4dpy;


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
      "conversion_stats",
      [] {
        const ConversionStats& c = Conversions();
        py::dict d;
        d["borrowed"] = c.borrowed;
        d["copied"] = c.copied;
        d["copied_bytes"] = c.copied_bytes;
        return d;
      },
      "How the input arrays reached the kernels since import: {'borrowed': arrays used in place (no copy: the "
      "dtype the kernel takes, C order, aligned), 'copied': arrays converted once (another dtype, a strided view), "
      "'copied_bytes': bytes those copies took}.");

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

  m.def(
      "read_volume",
      [](const std::string& path, std::int64_t frame, std::optional<Spacing> spacing, const std::string& format,
         const std::string& dataset) {
        ImportOptions o;
        o.format = InputFormatFromString(format);
        if (spacing) o.spacing_um = Vec3{std::get<0>(*spacing), std::get<1>(*spacing), std::get<2>(*spacing)};
        o.dataset = dataset;
        AnyVolume v;
        std::string description;
        std::int64_t frames = 0;
        {
          py::gil_scoped_release release;
          const std::unique_ptr<FrameSource> source = OpenInput(path, o);
          frames = source->frame_count();
          if (frame < 0 || frame >= frames)
            throw ConfigError("frame", std::to_string(frame) + " is outside 0.." + std::to_string(frames - 1) + " of " + path);
          v = source->ReadFrame(frame);
          description = source->Describe();
        }
        const Geometry g = GeometryOf(v);
        py::dict d;
        d["spacing"] = py::make_tuple(g.spacing_um[0], g.spacing_um[1], g.spacing_um[2]);
        d["frames"] = frames;
        d["description"] = description;
        d["volume"] = ToArray(std::move(v));
        return d;
      },
      py::arg("path"), py::arg("frame") = 0, py::arg("spacing") = py::none(), py::arg("format") = "auto",
      py::arg("dataset") = "",
      "Reads what beamlines deliver with op4d's importers (TIFF stack or slice directory, raw, MetaImage/NRRD/NIfTI, "
      "DXchange or NeXus HDF5): a dict with volume ((z, y, x) uint8, uint16 or float32), spacing (z, y, x) in um "
      "(from the file, or the spacing given, which overrides it), frames (in the file) and description (what was "
      "read and where the spacing came from).");

  BindSegment(m);
  BindTransport(m);
  BindTrack(m);
  BindStore(m);
}
