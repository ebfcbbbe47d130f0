// Conversions shared by the binding units: numpy arrays in (borrowed without a copy when dtype,
// C order and alignment allow, else converted once), numpy arrays out (owning op4d's buffer, no
// copy), tables as dicts, and the options every kernel takes.
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

// What the input conversions did since the module was loaded: arrays borrowed (no copy) and arrays
// copied (with their bytes). op4d.conversion_stats() returns them, so a user (and the tests) can see
// that a float32 C-order array reaches the kernel without a copy.
struct ConversionStats {
  std::int64_t borrowed = 0, copied = 0, copied_bytes = 0;
};
inline ConversionStats& Conversions() {
  static ConversionStats s;
  return s;
}

// The numpy array c as the voxels of a volume, no copy: the volume holds a reference to the array
// (dropped under the GIL, whichever thread frees the volume) so numpy cannot free the memory under
// the kernel. The kernels take their inputs const; nothing writes through the borrow.
template <class T>
Volume<T> Borrow(const py::array& c, const Geometry& g) {
  auto* ref = new py::object(c);
  std::shared_ptr<const void> keep(ref, [](const py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  ++Conversions().borrowed;
  return Volume<T>::Borrow(g, static_cast<T*>(const_cast<void*>(c.data())), std::move(keep));
}

inline bool Borrowable(const py::array& a) {
  return (a.flags() & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) && (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_);
}

// A numpy array as an op4d volume of T: borrowed when it already is T in C order, else converted by
// numpy (forcecast) once, only where the conversion is safe for the kernel (`convert`); otherwise
// refused naming the dtype.
template <class T>
Volume<T> ToVolume(const py::array& a, const Spacing& spacing, const char* what, bool convert = true) {
  if (a.dtype().is(py::dtype::of<T>()) && Borrowable(a)) {
    if (a.ndim() != 3) GeometryOf3(a.request(), spacing, what);  // throws naming the dimensions
    Geometry g;
    g.shape = {a.shape(0), a.shape(1), a.shape(2)};
    g.spacing_um = {std::get<0>(spacing), std::get<1>(spacing), std::get<2>(spacing)};
    std::string why;
    if (!g.IsValid(&why)) throw py::value_error(std::string(what) + ": " + why);
    return Borrow<T>(a, g);
  }
  if (!convert && !a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(what) + ": dtype " + std::string(py::str(a.dtype())) + " given, " +
                         std::string(py::str(py::dtype::of<T>())) + " needed");
  const auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!c) throw py::type_error(std::string(what) + ": cannot convert dtype " + std::string(py::str(a.dtype())));
  const py::buffer_info b = c.request();
  Volume<T> v(GeometryOf3(b, spacing, what));
  std::memcpy(v.data(), b.ptr, std::size_t(v.size()) * sizeof(T));
  ++Conversions().copied;
  Conversions().copied_bytes += v.size() * std::int64_t(sizeof(T));
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


// A numpy array of one of the store's frame dtypes (uint8, uint16, float32) as an op4d volume, borrowed
// when in C order (else made C order once); any other dtype is refused naming it (a silent cast could
// clip or round the grey values).
inline AnyVolume ToAnyVolume(const py::array& a, const Geometry& base, const char* what) {
  auto with = [&](auto tag) -> AnyVolume {
    using T = decltype(tag);
    Volume<T> v = ToVolume<T>(a, {base.spacing_um[0], base.spacing_um[1], base.spacing_um[2]}, what, false);
    v.set_origin_um(base.origin_um);
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
