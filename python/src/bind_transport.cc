// Transport and the pore network from Python: conductivity with contact resistance, the random-walk
// diffusion tensor, and the pore network as OpenPNM's dictionary.
#include "convert.h"
#include "op4d/frame/network/pore_network.h"
#include "op4d/frame/transport/diffusion.h"
#include "op4d/frame/transport/random_walk.h"

namespace op4dpy {

namespace {

py::array Matrix(const Eigen::Matrix3d& a) {
  py::array_t<double> out({3, 3});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) out.mutable_at(i, j) = a(i, j);
  return out;
}

}  // namespace

void BindTransport(py::module_& m) {
  m.def(
      "conductivity",
      [](const py::array& sigma, const py::array& particles, Spacing spacing, py::object axis, double contact_resistance_ohm_m2,
         double tolerance, int max_iterations, int threads) {
        const Volume<float> s = ToVolume<float>(sigma, spacing, "conductivity sigma");
        const LabelVolume p = ToVolume<std::int32_t>(particles, spacing, "conductivity particles");
        if (!s.geometry().SameGrid(p.geometry()))
          throw py::value_error("conductivity: sigma " + s.geometry().ToString() + " and particles " + p.geometry().ToString() +
                                " differ in shape");
        ConductivityOptions o;
        o.solver = SolverOptions(axis, tolerance, max_iterations, threads, "conductivity");
        o.contact_resistance_ohm_m2 = contact_resistance_ohm_m2;
        std::string why;
        if (!o.IsValid(&why)) throw py::value_error("conductivity: " + why);
        ConductivityResult r;
        {
          py::gil_scoped_release release;
          r = ComputeConductivity(s, p, o);
        }
        py::dict d = DiffusionDict(r.transport);
        // The solver's tau and d_eff are relative to a bulk value of 1 S/m: meaningless for a field in S/m
        // (d_eff repeats sigma_eff). Only the conducting fractions and the solver's state stay.
        for (const char* key : {"tau", "d_eff", "convention"}) PyDict_DelItemString(d.ptr(), key);
        d["volume_fraction_conducting"] = d["volume_fraction"];
        PyDict_DelItemString(d.ptr(), "volume_fraction");
        d["sigma_eff_S_per_m"] = r.sigma_eff_S_per_m;
        d["contact_resistance_ohm_m2"] = r.contact_resistance_ohm_m2;
        d["contact_faces"] = r.contact_faces;
        d["contact_power_share"] = r.contact_power_share;
        return d;
      },
      py::arg("sigma"), py::arg("particles"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("axis") = py::str("z"),
      py::arg("contact_resistance_ohm_m2") = 0.0, py::arg("tolerance") = 1e-8, py::arg("max_iterations") = 100000,
      py::arg("threads") = 0,
      "Effective electronic conductivity along axis of a field sigma (S/m per voxel, 0 insulating) whose voxels "
      "belong to particles (int32 ids, 0 = no particle: carbon-binder); a face between two different particles "
      "carries the contact resistance r_c (ohm m^2) in series. A dict: sigma_eff_S_per_m, contact_faces, "
      "contact_power_share (share of the dissipated power in contacts), volume_fraction_conducting and "
      "percolating_fraction (of the sigma > 0 voxels), and the solver's status, message, iterations, residuals.");

  m.def(
      "random_walk_tensor",
      [](const py::array& mask, Spacing spacing, std::int64_t walkers, std::int64_t steps, int batches,
         const std::string& tiling, std::uint64_t seed, int threads) {
        const Volume<std::uint8_t> v = ToMask(mask, spacing, "random_walk_tensor mask");
        RandomWalkOptions o;
        o.walkers = walkers;
        o.steps = steps;
        o.batches = batches;
        if (tiling == "mirrored")
          o.tiling = WalkTiling::kMirrored;
        else if (tiling == "periodic")
          o.tiling = WalkTiling::kPeriodic;
        else
          throw py::value_error("random_walk_tensor: tiling '" + tiling + "' is not mirrored or periodic");
        o.seed = seed;
        o.threads.threads = threads;
        std::string why;
        if (!o.IsValid(&why)) throw py::value_error("random_walk_tensor: " + why);
        RandomWalkResult r;
        {
          py::gil_scoped_release release;
          r = ComputeRandomWalkTensor(v, o);
        }
        py::dict d;
        d["valid"] = r.valid;
        d["message"] = r.message;
        d["d_star"] = Matrix(r.d_star);
        d["d_star_error"] = Matrix(r.d_star_error);
        d["tau"] = py::make_tuple(r.tau[0], r.tau[1], r.tau[2]);
        d["time_um2"] = r.time_um2;
        d["convention"] = r.convention;
        return d;
      },
      py::arg("mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("walkers") = 20000, py::arg("steps") = 20000,
      py::arg("batches") = 16, py::arg("tiling") = "mirrored", py::arg("seed") = 1, py::arg("threads") = 0,
      "Diffusion tensor of the phase mask != 0 by lattice random walks (blind ant): d_star (3 x 3, D*/D_bulk, "
      "axes z, y, x), d_star_error (standard error over walker batches), tau (z, y, x) = D_bulk / D*_ii, "
      "time_um2 (walk duration, um^2 / D_bulk). Reproducible for a seed.");

  m.def(
      "pore_network",
      [](const py::array& pore_mask, Spacing spacing, double prune_length_um, bool fill_cavities, bool simple_graph,
         bool merge_inside_balls, int threads) {
        const Volume<std::uint8_t> v = ToMask(pore_mask, spacing, "pore_network pore_mask");
        if (!(prune_length_um >= 0)) throw py::value_error("pore_network: prune_length_um must be >= 0");
        NetworkOptions o;
        o.skeleton.prune_length_um = prune_length_um;
        o.fill_cavities = fill_cavities;
        o.simple_graph = simple_graph;
        o.merge_inside_balls = merge_inside_balls;
        o.threads.threads = threads;
        o.progress = ProgressStyle::kOff;
        PoreNetwork net;
        {
          py::gil_scoped_release release;
          net = ExtractPoreNetwork(v, o);
        }
        py::dict d;
        for (const NamedArray& a : net.OpenPnmArrays()) d[py::str(a.name)] = NamedToArray(a);
        py::dict units;
        for (const NamedArray& a : net.OpenPnmArrays()) units[py::str(a.name)] = a.unit;
        py::dict summary;
        const ResultTable s = net.SummaryTable();
        for (const ResultColumn& c : s.columns) summary[py::str(c.name)] = c.values.empty() ? 0.0 : c.values[0];
        d["units"] = units;
        d["summary"] = summary;
        return d;
      },
      py::arg("pore_mask"), py::arg("spacing") = Spacing{1, 1, 1}, py::arg("prune_length_um") = 0.0,
      py::arg("fill_cavities") = true, py::arg("simple_graph") = true, py::arg("merge_inside_balls") = true,
      py::arg("threads") = 0,
      "Pore network of the pore space mask != 0 as the dictionary OpenPNM and PoreSpy load: 'pore.coords' "
      "(Np x 3, x y z, m), 'throat.conns' (Nt x 2, int64), diameters, lengths and volumes in SI units, boundary "
      "labels 'pore.xmin' ... 'pore.zmax' (bool); plus 'units' {key: unit} and 'summary' (counts and the topology "
      "check: graph_loops against pore_loops). op.io.network_from_porespy(d) accepts it once 'units' and "
      "'summary' are popped.");
}

}  // namespace op4dpy
