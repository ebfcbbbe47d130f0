// Conversions shared by the binding units: numpy arrays in (copied once into op4d volumes), numpy
// arrays out (owning op4d's buffer, no copy), tables as dicts, and the options every kernel takes.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <algorithm>
#include <tuple>
#include <vector>

#include "op4d/core/error.h"
#include "op4d/core/table.h"
#include "op4d/core/volume.h"
#include "op4d/frame/transport/diffusion.h"

namespace op4dpy {

namespace py = pybind11;
using namespace op4d;

using Spacing = std::tuple<double, double, double>;

inline Geometry GeometryOf3(const py::buffer_info& b, const Spacing& spacing, const char* what) {
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
inline Volume<std::uint8_t> ToMask(const py::array& a, const Spacing& spacing, const char* what) {
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

inline py::array ToArray(AnyVolume&& v) {
  return std::visit([](auto&& x) -> py::array { return ToArray(std::move(x)); }, std::move(v));
}

inline py::dict TableToDict(const ResultTable& t) {
  py::dict d;
  for (const ResultColumn& c : t.columns) d[py::str(c.name)] = py::array_t<double>(py::ssize_t(c.values.size()), c.values.data());
  return d;
}

inline py::dict UnitsOf(const ResultTable& t) {
  py::dict d;
  for (const ResultColumn& c : t.columns) d[py::str(c.name)] = c.unit;
  return d;
}

inline int AxisOf(const py::object& axis) {
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
inline DiffusionOptions SolverOptions(const py::object& axis, double tolerance, int max_iterations, int threads, const char* what) {
  DiffusionOptions o;
  o.axis = AxisOf(axis);
  o.tolerance = tolerance;
  o.max_iterations = max_iterations;
  o.threads.threads = threads;
  std::string why;
  if (!o.IsValid(&why)) throw py::value_error(std::string(what) + ": " + why);
  return o;
}

inline py::dict DiffusionDict(const DiffusionResult& r) {
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


// A numpy array of one of the store's frame dtypes (uint8, uint16, float32) as an op4d volume, copied
// once; any other dtype is refused naming it (a silent cast could clip or round the grey values).
inline AnyVolume ToAnyVolume(const py::array& a, const Geometry& base, const char* what) {
  auto with = [&](auto tag) -> AnyVolume {
    using T = decltype(tag);
    const py::array_t<T, py::array::c_style | py::array::forcecast> c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
    const py::buffer_info b = c.request();
    if (b.ndim != 3)
      throw py::value_error(std::string(what) + ": a 3D array (z, y, x) is needed, got " + std::to_string(b.ndim) + " dimensions");
    Geometry g = base;
    g.shape = {b.shape[0], b.shape[1], b.shape[2]};
    std::string why;
    if (!g.IsValid(&why)) throw py::value_error(std::string(what) + ": " + why);
    Volume<T> v(g);
    std::memcpy(v.data(), b.ptr, std::size_t(v.size()) * sizeof(T));
    return AnyVolume(std::move(v));
  };
  if (a.dtype().is(py::dtype::of<std::uint8_t>())) return with(std::uint8_t{});
  if (a.dtype().is(py::dtype::of<std::uint16_t>())) return with(std::uint16_t{});
  if (a.dtype().is(py::dtype::of<float>())) return with(float{});
  throw py::type_error(std::string(what) + ": dtype " + std::string(py::str(a.dtype())) +
                       " given; a frame is uint8, uint16 or float32 (convert it with astype first)");
}

// {column: array} (and optional {column: unit}) as a result table; every column the same length.
inline ResultTable DictToTable(const std::string& name, const py::dict& columns, const py::dict& units, const char* what) {
  ResultTable t;
  t.name = name;
  for (auto item : columns) {
    ResultColumn c;
    c.name = py::str(item.first);
    const auto v = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(item.second);
    if (!v || v.ndim() != 1)
      throw py::value_error(std::string(what) + ": column '" + c.name + "' is not a 1D array of numbers");
    c.values.assign(v.data(), v.data() + v.size());
    c.unit = units.contains(c.name.c_str()) ? std::string(py::str(units[c.name.c_str()])) : std::string("1");
    if (!t.columns.empty() && c.values.size() != t.columns[0].values.size())
      throw py::value_error(std::string(what) + ": column '" + c.name + "' has " + std::to_string(c.values.size()) +
                            " rows, column '" + t.columns[0].name + "' " + std::to_string(t.columns[0].values.size()));
    t.columns.push_back(std::move(c));
  }
  if (t.columns.empty()) throw py::value_error(std::string(what) + ": no columns");
  return t;
}

// A named rows x cols array as numpy: int64 for indices, bool for labels, float64 otherwise; a
// single column is returned 1D (OpenPNM's convention for per-pore and per-throat properties).
inline py::array NamedToArray(const NamedArray& a) {
  std::vector<py::ssize_t> shape{py::ssize_t(a.rows)};
  if (a.cols != 1) shape.push_back(py::ssize_t(a.cols));
  if (a.boolean) {
    py::array_t<bool> out(shape);
    bool* p = out.mutable_data();
    for (std::size_t i = 0; i < a.values.size(); ++i) p[i] = a.values[i] != 0;
    return out;
  }
  if (a.integer) {
    py::array_t<std::int64_t> out(shape);
    std::int64_t* p = out.mutable_data();
    for (std::size_t i = 0; i < a.values.size(); ++i) p[i] = std::int64_t(a.values[i]);
    return out;
  }
  py::array_t<double> out(shape);
  std::copy(a.values.begin(), a.values.end(), out.mutable_data());
  return out;
}

inline py::dict TableWithUnits(const ResultTable& t) {
  py::dict d;
  d["columns"] = TableToDict(t);
  d["units"] = UnitsOf(t);
  return d;
}

// The binding units: each adds its functions to the module.
void BindSegment(py::module_& m);
void BindTransport(py::module_& m);
void BindTrack(py::module_& m);
void BindStore(py::module_& m);

}  // namespace op4dpy
