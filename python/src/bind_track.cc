// Motion and throats from Python: F, J, E and principal stretches from a displacement field (DESIGN.md's
// convention: u on the reference grid, x = X + u(X), F = I + grad_X u, J = det F), the Young-Laplace
// throat rule and the percolation history of a throat network through a campaign.
#include "convert.h"
#include "op4d/track/deformation/field.h"
#include "op4d/track/throats/percolation_history.h"

namespace op4dpy {

namespace {

YoungLaplace Law(double gamma, double theta, double r_min) {
  YoungLaplace law{gamma, theta, r_min};
  law.Validate();
  return law;
}

template <std::size_t N>
py::tuple Arrays(std::array<Volume<float>, N>& a) {
  py::list out;
  for (Volume<float>& v : a)
    if (!v.empty()) out.append(ToArray(std::move(v)));
  return py::tuple(out);
}

}  // namespace

void BindTrack(py::module_& m) {
  m.def(
      "strain_field",
      [](const py::array& u, Spacing spacing, int stride, bool tensors, double margin_um, int threads) {
        const py::array_t<float, py::array::c_style | py::array::forcecast> c =
            py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(u);
        if (!c || c.ndim() != 4 || c.shape(0) != 3)
          throw py::value_error("strain_field u: an array (3, z, y, x) of u_z, u_y, u_x in um is needed");
        const py::buffer_info b = c.request();
        Geometry g;
        g.shape = {b.shape[1], b.shape[2], b.shape[3]};
        g.spacing_um = {std::get<0>(spacing), std::get<1>(spacing), std::get<2>(spacing)};
        std::string why;
        if (!g.IsValid(&why)) throw py::value_error("strain_field u: " + why);
        DisplacementField field(g);
        const std::size_t n = std::size_t(g.voxel_count());
        for (int a = 0; a < 3; ++a) std::memcpy(field.u[std::size_t(a)].data(), static_cast<const float*>(b.ptr) + a * n, n * sizeof(float));
        StrainFieldOptions o;
        o.stride = stride;
        o.tensors = tensors;
        o.threads.threads = threads;
        if (!o.IsValid(&why)) throw py::value_error("strain_field: " + why);
        if (!(margin_um >= 0)) throw py::value_error("strain_field: margin_um must be >= 0");
        StrainField s;
        ResultTable summary;
        {
          py::gil_scoped_release release;
          s = ComputeStrainField(field, o);
          summary = SummariseStrain(s, margin_um);
        }
        py::dict d;
        d["spacing"] = py::make_tuple(s.grid.spacing_um[0], s.grid.spacing_um[1], s.grid.spacing_um[2]);
        d["invalid"] = s.invalid;
        d["summary"] = TableWithUnits(summary);
        d["J"] = ToArray(std::move(s.J));
        if (tensors) {
          d["F"] = Arrays(s.F);
          d["E"] = Arrays(s.E);
          d["stretch"] = Arrays(s.stretch);
        }
        return d;
      },
      py::arg("u"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("stride") = 1, py::arg("tensors") = false,
      py::arg("margin_um") = 0.0, py::arg("threads") = 0,
      "Deformation of a displacement field u (3, z, y, x: u_z, u_y, u_x in um on the reference grid): F = I + "
      "grad u by central differences (one-sided on the faces), sampled every stride voxels. A dict: J (float32 "
      "det F), spacing of the sampled grid, invalid (samples with det F <= 0), summary (mean, sd, quantiles of J "
      "and eps_v = J - 1 at least margin_um inside); with tensors also F (9 arrays F_ij row-major in z, y, x), "
      "E (Green-Lagrange E_zz, E_yy, E_xx, E_zy, E_zx, E_yx) and stretch (principal, descending).");

  m.def(
      "entry_pressure",
      [](py::array_t<double> radius_um, double surface_tension_N_per_m, double contact_angle_deg) {
        const YoungLaplace law = Law(surface_tension_N_per_m, contact_angle_deg, 0);
        return py::vectorize([law](double r) { return EntryPressurePa(r, law); })(radius_um);
      },
      py::arg("radius_um"), py::arg("surface_tension_N_per_m"), py::arg("contact_angle_deg") = 0.0,
      "Young-Laplace entry pressure (Pa) of throats of radius r (um): P_c = 2 gamma |cos theta| / r.");

  m.def(
      "throat_open",
      [](py::array_t<double> radius_um, py::array_t<double> p_app_Pa, double surface_tension_N_per_m, double contact_angle_deg,
         double r_min_um) {
        const YoungLaplace law = Law(surface_tension_N_per_m, contact_angle_deg, r_min_um);
        return py::vectorize([law](double r, double p) { return ThroatOpen(r, p, law); })(radius_um, p_app_Pa);
      },
      py::arg("radius_um"), py::arg("p_app_Pa"), py::arg("surface_tension_N_per_m"), py::arg("contact_angle_deg") = 0.0,
      py::arg("r_min_um") = 0.0,
      "The throat rule (DESIGN.md): open when r > r_min and p_app < P_c(r); a NaN radius (not found) is closed.");

  m.def(
      "percolation_history",
      [](const py::object& conns, const py::object& inlet, const py::object& outlet, std::vector<double> time_s,
         std::vector<double> p_app_Pa, const py::object& radius_um, double surface_tension_N_per_m, double contact_angle_deg,
         double r_min_um, int threads) {
        const auto cc = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(conns);
        if (!cc || cc.ndim() != 2 || cc.shape(1) != 2) throw py::value_error("percolation_history conns: an (Nt, 2) array of node indices is needed");
        const auto in = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(inlet);
        const auto out = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(outlet);
        if (!in || !out || in.ndim() != 1 || out.ndim() != 1 || in.size() != out.size())
          throw py::value_error("percolation_history inlet/outlet: two 1D arrays of one flag per node, the same length, are needed");
        const auto r = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(radius_um);
        if (!r || r.ndim() != 2 || r.shape(0) != py::ssize_t(time_s.size()) || r.shape(1) != cc.shape(0))
          throw py::value_error("percolation_history radius_um: an array (frames, throats) = (" + std::to_string(time_s.size()) +
                                ", " + std::to_string(cc.shape(0)) + ") is needed");
        ThroatGraph g;
        g.nodes = in.size();
        for (py::ssize_t t = 0; t < cc.shape(0); ++t) {
          const std::int64_t a = cc.at(t, 0), b = cc.at(t, 1);
          if (a < 0 || b < 0 || a >= g.nodes || b >= g.nodes)
            throw py::value_error("percolation_history conns: throat " + std::to_string(t) + " joins nodes " + std::to_string(a) +
                                  " and " + std::to_string(b) + ", outside 0.." + std::to_string(g.nodes - 1));
          g.conns.emplace_back(std::int32_t(a), std::int32_t(b));
        }
        g.inlet.assign(in.data(), in.data() + in.size());
        g.outlet.assign(out.data(), out.data() + out.size());
        ThroatSeries s;
        s.time_s = std::move(time_s);
        s.p_app_Pa = std::move(p_app_Pa);
        s.throats = cc.shape(0);
        s.radius_um.assign(r.data(), r.data() + r.size());
        const YoungLaplace law{surface_tension_N_per_m, contact_angle_deg, r_min_um};
        PercolationHistory h;
        {
          py::gil_scoped_release release;
          h = AnalysePercolationHistory(g, s, law, ThreadBudget{threads});
        }
        py::dict d;
        d["frames"] = TableWithUnits(h.FrameTable());
        d["throats"] = TableWithUnits(h.ThroatTable());
        d["summary"] = TableWithUnits(h.SummaryTable());
        d["percolation_fraction"] = h.percolation_fraction;
        d["reopen_events"] = h.reopen_events;
        d["first_loss_time_s"] = h.first_loss_time_s;
        d["ever_lost"] = h.ever_lost;
        py::array_t<bool> open({py::ssize_t(s.time_s.size()), py::ssize_t(s.throats)});
        bool* o = open.mutable_data();
        for (std::size_t i = 0; i < h.open.size(); ++i) o[i] = h.open[i] != 0;
        d["open"] = open;
        return d;
      },
      py::arg("conns"), py::arg("inlet"), py::arg("outlet"), py::arg("time_s"), py::arg("p_app_Pa"), py::arg("radius_um"),
      py::arg("surface_tension_N_per_m"), py::arg("contact_angle_deg") = 0.0, py::arg("r_min_um") = 0.0, py::arg("threads") = 0,
      "Open/closed state of every throat in every frame under the Young-Laplace rule, percolation of the open "
      "network from the inlet nodes (separator face) to the outlet nodes (current collector) per frame, and the "
      "history: a dict with open (frames x throats, bool), percolation_fraction (time-weighted), reopen_events, "
      "first_loss_time_s, ever_lost, and the tables frames (critical_pressure_Pa, ...), throats (closures, "
      "reopenings, time_closed_s, ...), summary, each {'columns', 'units'}.");
}

}  // namespace op4dpy
