"""op4d's Python module against the C++ tests' exact cases, and its array and error contracts."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import op4d


def test_version():
    assert op4d.__version__.count(".") == 2


# --- tortuosity and diffusivity: the exact cases of tests/frame/diffusion_test.cc ---------------

def test_uniform_block_has_tau_one_along_every_axis_with_any_spacing():
    m = np.ones((6, 7, 8), dtype=np.uint8)
    for axis in "zyx":
        r = op4d.tortuosity(m, spacing=(0.5, 1.0, 2.0), axis=axis)
        assert r["status"] == "converged"
        # Exact up to the solver's stopping rule (relative residual 1e-8): 4e-8 at this spacing.
        assert r["tau"] == pytest.approx(1.0, abs=1e-7)
        assert r["volume_fraction"] == 1.0


def test_straight_channels_tau_one_along_and_not_percolating_across():
    m = np.zeros((6, 8, 10), dtype=bool)
    m[1, 1:3, :] = True
    m[4, 5, :] = True
    along = op4d.tortuosity(m, axis="x")
    assert along["status"] == "converged"
    assert along["volume_fraction"] == pytest.approx(30 / 480, abs=1e-15)
    assert along["d_eff"] == pytest.approx(30 / 480, rel=1e-9)
    assert along["tau"] == pytest.approx(1.0, rel=1e-9)
    across = op4d.tortuosity(m, axis=1)
    assert across["status"] == "not-percolating"
    assert across["d_eff"] == 0.0
    assert math.isinf(across["tau"])


def test_layers_in_series_harmonic_in_parallel_arithmetic():
    d1, d2, n1, n2 = 1.0, 0.125, 4, 6
    c = np.empty((n1 + n2, 5, 6), dtype=np.float32)
    c[:n1] = d1
    c[n1:] = d2
    series = op4d.effective_diffusivity(c, axis="z")
    assert series["d_eff"] == pytest.approx((n1 + n2) / (n1 / d1 + n2 / d2), rel=1e-9)
    parallel = op4d.effective_diffusivity(c, axis="x")
    assert parallel["d_eff"] == pytest.approx((n1 * d1 + n2 * d2) / (n1 + n2), rel=1e-9)


# --- distance transform against brute force ------------------------------------------------------

def test_distance_transform_matches_brute_force_on_an_anisotropic_grid():
    rng = np.random.default_rng(5)
    mask = rng.random((7, 9, 11)) < 0.8
    spacing = (2.0, 0.5, 1.0)
    d = op4d.distance_transform(mask, spacing=spacing)
    assert d.dtype == np.float32 and d.shape == mask.shape
    bg = np.argwhere(~mask) * np.array(spacing)
    fg = np.argwhere(mask)
    pts = fg * np.array(spacing)
    brute = np.sqrt(((pts[:, None, :] - bg[None, :, :]) ** 2).sum(-1)).min(1)
    assert np.max(np.abs(d[tuple(fg.T)] - brute)) < 1e-5
    assert np.all(d[~mask] == 0)
    assert np.all(np.isinf(op4d.distance_transform(np.ones((3, 3, 3), bool))))


# --- surface area of voxelised spheres (tests/frame/surface_area_test.cc: 3, 2 and 1 %) ----------

@pytest.mark.parametrize("radius,tol", [(8, 0.03), (16, 0.02), (24, 0.01)])
def test_sphere_area(radius, tol):
    n = 2 * radius + 8
    z, y, x = np.mgrid[:n, :n, :n] - (n - 1) / 2
    ball = (z * z + y * y + x * x) <= radius * radius
    a = op4d.surface_area(ball, spacing=(1.0, 1.0, 1.0))
    assert a == pytest.approx(4 * math.pi * radius * radius, rel=tol)
    # Physical units: the same ball at 0.5 um has a quarter of the area.
    assert op4d.surface_area(ball, spacing=(0.5, 0.5, 0.5)) == pytest.approx(a / 4, rel=1e-6)


# --- segmentation, components, fractions ---------------------------------------------------------

def test_multi_otsu_separates_three_levels_and_fractions_count_them():
    rng = np.random.default_rng(1)
    grey = rng.choice([10.0, 100.0, 200.0], size=(20, 20, 20), p=[0.5, 0.3, 0.2]).astype(np.float32)
    t = op4d.multi_otsu(grey, classes=3)
    assert len(t) == 2 and 10 <= t[0] < 100 <= t[1] < 200
    labels = np.digitize(grey, t, right=True).astype(np.uint8)
    f = op4d.volume_fractions(labels, phases="pore=0:pore,active=1:active,binder=2:binder")
    for name, level in (("pore", 10.0), ("active", 100.0), ("binder", 200.0)):
        assert f[name] == pytest.approx(np.mean(grey == level), abs=1e-12)


def test_label_components_six_versus_twenty_six():
    m = np.zeros((5, 5, 5), dtype=np.uint8)
    m[1, 1, 1] = m[2, 2, 2] = 1  # corner neighbours
    m[4, 4, 0] = 1
    labels, n6 = op4d.label_components(m, connectivity=6)
    assert n6 == 3 and labels.dtype == np.int32 and set(np.unique(labels)) == {0, 1, 2, 3}
    _, n26 = op4d.label_components(m, connectivity=26)
    assert n26 == 2


# --- array contracts -----------------------------------------------------------------------------

def test_results_own_op4d_buffers_without_a_copy():
    d = op4d.distance_transform(np.ones((4, 4, 4), bool) & (np.arange(4) > 0))
    assert not d.flags.owndata          # the buffer is op4d's volume, held by a capsule
    assert d.base is not None and type(d.base).__name__ == "PyCapsule"
    assert d.flags.c_contiguous and d.flags.writeable


def _conversions_during(call):
    before = op4d.conversion_stats()
    out = call()
    after = op4d.conversion_stats()
    return out, {k: after[k] - before[k] for k in before}


def test_inputs_of_the_kernel_dtype_in_c_order_reach_the_kernel_without_a_copy():
    coeff = np.ones((10, 6, 7), np.float32)
    refs = sys.getrefcount(coeff)
    r, d = _conversions_during(lambda: op4d.effective_diffusivity(coeff, axis="z"))
    assert d == {"borrowed": 1, "copied": 0, "copied_bytes": 0}
    assert r["d_eff"] == pytest.approx(1.0, abs=1e-9)
    assert sys.getrefcount(coeff) == refs            # the borrow is released with the call
    mask = np.ones((6, 7, 8), bool)                    # bool is viewed as uint8: no copy either
    _, d = _conversions_during(lambda: op4d.tortuosity(mask, axis="x"))
    assert d["borrowed"] == 1 and d["copied"] == 0
    labels = np.zeros((5, 5, 5), np.int32)
    labels[1:3, 1:3, 1:3] = 1
    t, d = _conversions_during(lambda: op4d.particle_table(labels))
    assert d == {"borrowed": 1, "copied": 0, "copied_bytes": 0}
    # another dtype or a strided view is converted once, and the copy is counted with its bytes
    _, d = _conversions_during(lambda: op4d.effective_diffusivity(coeff.astype(np.float64), axis="z"))
    assert d == {"borrowed": 0, "copied": 1, "copied_bytes": coeff.size * 4}
    _, d = _conversions_during(lambda: op4d.effective_diffusivity(np.ones((10, 6, 14), np.float32)[:, :, ::2], axis="z"))
    assert d == {"borrowed": 0, "copied": 1, "copied_bytes": coeff.size * 4}


def test_non_contiguous_and_other_dtypes_are_converted_and_give_the_same_numbers():
    rng = np.random.default_rng(2)
    big = rng.random((12, 14, 16)) < 0.7
    view = big[::2, ::2, ::2]                     # not contiguous
    assert not view.flags.c_contiguous
    a = op4d.distance_transform(view)
    b = op4d.distance_transform(np.ascontiguousarray(view).astype(np.uint8))
    c = op4d.distance_transform(view.astype(np.float64))  # nonzero is the mask
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_bad_arrays_and_options_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="3D array"):
        op4d.tortuosity(np.ones((4, 4), np.uint8))
    with pytest.raises(ValueError, match="axis"):
        op4d.tortuosity(np.ones((4, 4, 4), np.uint8), axis="w")
    with pytest.raises(ValueError, match="effective_diffusivity: .*tolerance"):
        op4d.effective_diffusivity(np.ones((4, 4, 4), np.float32), tolerance=-1.0)
    with pytest.raises(ValueError, match="spacing"):
        op4d.surface_area(np.ones((4, 4, 4), np.uint8), spacing=(1.0, -1.0, 1.0))
    with pytest.raises(ValueError):
        op4d.label_components(np.ones((3, 3, 3), np.uint8), connectivity=7)
    with pytest.raises(ValueError, match="binder"):
        op4d.volume_fractions(np.zeros((2, 2, 2), np.uint8), phases="binder:2")
    with pytest.raises(OSError, match="no-such-store.h5"):
        op4d.Store("/nonexistent/no-such-store.h5")


# --- the store: C++ writes, op4d.Store and h5py read the same ------------------------------------

@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("store") / "c.h5")
    binary = os.environ.get("OP4D_BINARY", "op4d")
    subprocess.run([binary, "synth", "--out", path, "--frames", "3", "--shape", "24", "32", "32", "--quiet"],
                   check=True, capture_output=True)
    return path


def test_store_reads_frames_regions_and_the_time_table_as_h5py_does(campaign):
    h5py = pytest.importorskip("h5py")
    with op4d.Store(campaign) as s:
        assert len(s) == 3 and s.shape == (24, 32, 32)
        f1 = s.frame(1)
        assert f1.shape == (24, 32, 32) and s.frame(-1).shape == f1.shape
        sub = s.region(1, begin=(2, 3, 4), size=(5, 6, 7))
        assert np.array_equal(sub, f1[2:7, 3:9, 4:11])
        t = s.time_table()
        assert list(t)[0] == "time_s" and len(t["time_s"]) == 3
        assert s.time_units()["time_s"] == "s"
        spacing = s.spacing
    with h5py.File(campaign, "r") as h:
        frames = h["frames/volume"]
        assert frames.shape == (3, 24, 32, 32)
        assert np.array_equal(frames[1], f1)
        assert np.allclose(h["time"]["time_s"][()], t["time_s"])
    assert all(v > 0 for v in spacing)


def test_store_results_tables_after_an_analysis_step(campaign):
    binary = os.environ.get("OP4D_BINARY", "op4d")
    subprocess.run([binary, "quicklook", campaign, "--quiet"], check=True, capture_output=True)
    with op4d.Store(campaign) as s:
        names = s.frame_tables(0)
        assert names, "quicklook stores per-frame tables"
        table = s.frame_table(0, names[0])
        units = s.frame_table_units(0, names[0])
        assert set(table) == set(units)
        assert all(isinstance(v, np.ndarray) for v in table.values())
        with pytest.raises(OSError):
            s.frame_table(0, "no_such_table")


# --- segmentation chain, dual-rule components, particles, thickness ------------------------------

def _three_phase_blocks(seed, snr=10.0):
    """Slabs along x of pore (8000), binder (17000) and active (30000) with Gaussian noise of sigma
    (30000 - 8000) / snr: the truth labels (0 pore, 1 active, 2 binder) and the grey volume."""
    truth = np.zeros((16, 20, 36), np.uint8)
    truth[:, :, 12:24] = 2
    truth[:, :, 24:] = 1
    level = np.array([8000.0, 30000.0, 17000.0])[truth]
    rng = np.random.default_rng(seed)
    return truth, (level + rng.normal(0, 22000.0 / snr, truth.shape)).astype(np.float32)


def test_gaussian_mixture_recovers_the_three_levels_with_posteriors():
    truth, grey = _three_phase_blocks(3)
    r = op4d.gaussian_mixture(grey, components=3, class_labels=[0, 2, 1])
    assert r["converged"]
    assert sorted(r["means"]) == pytest.approx([8000, 17000, 30000], rel=0.02)
    assert r["weights"] == pytest.approx([1 / 3, 1 / 3, 1 / 3], abs=0.01)
    assert r["sigmas"] == pytest.approx([2200] * 3, rel=0.05)
    # Maximum-posterior labels err at the Bayes rate of equal-weight classes with sigma 2200:
    # Phi(-9000 / 4400) on both sides of the pore/binder gap, Phi(-13000 / 4400) of binder/active.
    phi = lambda t: 0.5 * math.erfc(t / math.sqrt(2))
    bayes = (2 * phi(9000 / 4400) + 2 * phi(13000 / 4400)) / 3
    assert r["labels"].dtype == np.uint8
    assert np.mean(r["labels"] != truth) == pytest.approx(bayes, abs=0.004)
    post = r["posteriors"]
    assert len(post) == 3 and all(p.dtype == np.uint8 and p.shape == grey.shape for p in post)
    # Posteriors quantised to 1/255 sum to one within the rounding of three terms.
    total = sum(p.astype(np.int32) for p in post)
    assert total.min() >= 253 and total.max() <= 257


def test_segment_chain_labels_the_phases_and_reports_its_provenance():
    truth, grey = _three_phase_blocks(4, snr=5.0)
    r = op4d.segment(grey, spacing=(0.25, 0.25, 0.25))
    assert r["status"].startswith("converged"), r["status"]
    # The chain's own noise estimate (NLM sigma) against the rendered sigma 22000 / 5 = 4400.
    import re
    assert float(re.search(r"NLM sigma ([0-9.]+)", r["status"]).group(1)) == pytest.approx(4400, rel=0.05)
    assert np.mean(r["labels"] == truth) > 0.99     # NLM + mixture + refinement at SNR 5
    assert set(r["probabilities"]) == {"pore", "active", "binder"}
    # For the mixture methods the row's thresholds are the class means (as in op4d quicklook's table).
    assert r["thresholds"] == pytest.approx([8000, 17000, 30000], rel=0.02)
    assert "nlm+gmm" in r["provenance"]
    with pytest.raises(ValueError, match="method"):
        op4d.segment(grey, method="magic")


def test_label_phase_uses_the_dual_rule_by_role():
    labels = np.ones((6, 6, 6), np.uint8)          # active everywhere
    labels[2, 2, 2] = labels[3, 3, 3] = 0          # two pore voxels touching at a corner
    pore = op4d.label_phase(labels, 0)
    assert pore["connectivity"] == 26 and pore["components"] == 1
    solid = np.zeros((6, 6, 6), np.uint8)
    solid[2, 2, 2] = solid[3, 3, 3] = 1            # two active voxels touching at a corner
    active = op4d.label_phase(solid, 1)
    assert active["connectivity"] == 6 and active["components"] == 2
    assert op4d.label_phase(solid, 1, connectivity=26)["components"] == 1
    p = op4d.percolation(labels)
    assert p["active"]["spanning_fraction"] == (1.0, 1.0, 1.0)
    assert p["pore"]["isolated_fraction"] == 1.0
    with pytest.raises(ValueError, match="phase label 7"):
        op4d.label_phase(labels, 7)


def test_watershed_splits_two_touching_balls_and_measures_them():
    z, y, x = np.mgrid[:24, :24, :40]
    ball = lambda cx: (z - 11.5) ** 2 + (y - 11.5) ** 2 + (x - cx) ** 2 <= 64
    mask = ball(11.5) | ball(25.5)                 # radius 8, centres 14 apart: a neck
    labels, n = op4d.watershed(mask, spacing=(0.5, 0.5, 0.5), h_um=0.5)
    assert n == 2 and labels.dtype == np.int32
    assert labels[12, 12, 11] != labels[12, 12, 26]
    t = op4d.particle_table(labels, spacing=(0.5, 0.5, 0.5))
    cols, units = t["columns"], t["units"]
    assert units["volume_um3"] == "um^3"
    assert cols["voxels"].sum() == mask.sum()
    # The balls' centres are 5.75 and 12.75 um; the watershed cuts the overlap lens at its own ridge, which
    # moves each centroid by a small share of a voxel (0.042 um measured).
    assert sorted(cols["centroid_x_um"]) == pytest.approx([5.75, 12.75], abs=0.06)


def test_local_thickness_of_a_cylinder_is_its_diameter():
    z, y, x = np.mgrid[:8, :41, :41]
    cyl = (y - 20) ** 2 + (x - 20) ** 2 <= 12 ** 2
    t = op4d.local_thickness(cyl, spacing=(1.0, 0.5, 0.5))
    assert t.dtype == np.float32 and np.all(t[~cyl] == 0)
    # The largest inscribed ball of a radius-6 um cylinder: diameter 12 um, to a voxel (0.5 um).
    assert np.median(t[cyl]) == pytest.approx(12.0, abs=0.5)
    assert t[4, 20, 20] == pytest.approx(12.0, abs=0.5)


# --- conductivity with contact resistance, random walk, pore network -----------------------------

@pytest.mark.parametrize("rc", [0.0, 1e-8, 1e-7])
def test_two_blocks_with_a_contact_give_the_exact_series_resistance(rc):
    # tests/frame/diffusion_test.cc: particle 1 for z < 8, particle 2 above, sigma 1000 S/m, L = 20 um.
    sigma = np.full((20, 6, 5), 1000.0, np.float32)
    particles = np.full((20, 6, 5), 2, np.int32)
    particles[:8] = 1
    L = 20e-6
    r = op4d.conductivity(sigma, particles, axis="z", contact_resistance_ohm_m2=rc)
    assert r["status"] == "converged"
    assert r["contact_faces"] == 30
    assert "tau" not in r and r["volume_fraction_conducting"] == 1.0
    assert r["sigma_eff_S_per_m"] == pytest.approx(L / (L / 1000.0 + rc), rel=1e-8)
    assert r["contact_power_share"] == pytest.approx(rc / (L / 1000.0 + rc), rel=1e-7, abs=1e-12)
    along = op4d.conductivity(sigma, particles, axis="x", contact_resistance_ohm_m2=rc)
    assert along["sigma_eff_S_per_m"] == pytest.approx(1000.0, rel=1e-8)
    assert along["contact_power_share"] < 1e-12


def test_random_walk_in_open_space_gives_the_identity_tensor():
    r = op4d.random_walk_tensor(np.ones((16, 16, 16), np.uint8), walkers=4000, steps=4000, seed=3)
    assert r["valid"], r["message"]
    d = np.asarray(r["d_star"])
    assert d.shape == (3, 3)
    err = np.asarray(r["d_star_error"])           # the batch standard error of every component
    assert err.shape == (3, 3) and np.all(err > 0) and err.max() < 0.1
    assert np.all(np.abs(d - np.eye(3)) < 4 * err)
    assert np.all(np.abs(np.asarray(r["tau"]) - 1) < 4 * np.diag(err) + 0.01)
    again = op4d.random_walk_tensor(np.ones((16, 16, 16), np.uint8), walkers=4000, steps=4000, seed=3)
    assert np.array_equal(np.asarray(again["d_star"]), d)   # reproducible for a seed


def _lattice(n=61):
    """tests/frame/pore_network_test.cc: spheres of radius 4.5 at 10 + 20 i um joined by cylinders of radius 3."""
    z, y, x = np.mgrid[:n, :n, :n].astype(np.float64)
    near = lambda a: np.clip(10 + 20 * np.round((a - 10) / 20), 10, 50)
    p, q = (z, y, x), (near(z), near(y), near(x))
    best = np.sqrt(sum((a - b) ** 2 for a, b in zip(p, q))) - 4.5
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3
        inside = (p[axis] >= 10) & (p[axis] <= 50)
        best = np.where(inside, np.minimum(best, np.hypot(p[u] - q[u], p[v] - q[v]) - 3.0), best)
    return best <= 0


def test_pore_network_of_the_lattice_in_openpnm_keys():
    net = op4d.pore_network(_lattice())
    assert net["pore.coords"].shape == (27, 3) and net["pore.coords"].dtype == np.float64
    conns = net["throat.conns"]
    assert conns.shape == (54, 2) and conns.dtype == np.int64
    assert net["summary"]["graph_loops"] == 28
    assert net["units"]["pore.coords"] == "m"
    # Nodes within a voxel of the lattice points (coords in m, x y z order), throats 20 um long.
    um = net["pore.coords"] * 1e6
    assert np.abs(um - (10 + 20 * np.round((um - 10) / 20))).max() <= 1.0
    assert np.bincount(np.bincount(conns.ravel()))[3:7].tolist() == [8, 12, 6, 1]
    assert not any(net[k].any() for k in ("pore.xmin", "pore.zmax"))   # the lattice is inside


# --- deformation and throats ---------------------------------------------------------------------

def test_strain_field_of_an_affine_displacement_is_exact():
    n = (10, 12, 14)
    spacing = (0.5, 1.0, 2.0)
    A = np.array([[0.02, 0.01, 0.0], [0.0, -0.01, 0.005], [0.003, 0.0, 0.015]])   # grad u, rows u_z u_y u_x
    grid = np.stack(np.meshgrid(*[np.arange(k) * s for k, s in zip(n, spacing)], indexing="ij"))
    u = np.einsum("ij,jzyx->izyx", A, grid).astype(np.float32)
    r = op4d.strain_field(u, spacing=spacing, tensors=True)
    F = np.eye(3) + A
    assert r["J"].shape == n and r["invalid"] == 0
    assert np.abs(r["J"] - np.linalg.det(F)).max() < 1e-5
    assert r["F"][1].shape == n and np.abs(r["F"][1] - F[0, 1]).max() < 1e-5   # F_zy
    E = 0.5 * (F.T @ F - np.eye(3))
    assert np.abs(r["E"][0] - E[0, 0]).max() < 1e-5
    s = op4d.strain_field(u, spacing=spacing, stride=2)
    assert s["J"].shape == (5, 6, 7) and s["spacing"] == (1.0, 2.0, 4.0)
    assert s["summary"]["units"]["J_mean"] == "1"
    with pytest.raises(ValueError, match=r"\(3, z, y, x\)"):
        op4d.strain_field(u[:2])


def test_young_laplace_entry_pressure_and_throat_rule():
    assert op4d.entry_pressure(1.0, 0.05) == pytest.approx(1e5, rel=1e-12)
    p = op4d.entry_pressure(np.array([1.0, 4.0]), 0.05, 60.0)
    assert p == pytest.approx([5e4, 1.25e4], rel=1e-12)
    o = op4d.throat_open(np.array([1.0, 1.0, 0.2, 0.21, np.nan]), np.array([1e5 * (1 - 1e-12), 1e5 * (1 + 1e-12), 0, 0, 0]),
                         0.05, r_min_um=0.2)
    assert o.tolist() == [True, False, False, True, False]


def test_percolation_history_of_the_scripted_diamond():
    # tests/track/percolation_history_test.cc: two paths 0-1-2 and 0-3-2, inlet 0, outlet 2.
    nan = np.nan
    radii = np.array([[1, 1, 1, 1], [0.1, 1, 1, 1], [0.1, 1, 0.1, 1], [1, 1, 0.1, 1], [1, nan, 0.1, 1], [2, 0.5, 1, 4]])
    h = op4d.percolation_history([(0, 1), (1, 2), (0, 3), (3, 2)], [1, 0, 0, 0], [0, 0, 1, 0],
                                 [0, 10, 20, 50, 60, 100], [1e4, 6e4, 1e4, 1e4, 1e4, 1e4], radii,
                                 surface_tension_N_per_m=0.05, r_min_um=0.2)
    assert h["percolation_fraction"] == 0.55
    assert h["reopen_events"] == 3
    assert h["first_loss_time_s"] == 20 and h["ever_lost"]
    assert h["open"].dtype == np.bool_ and h["open"].shape == (6, 4)
    assert h["open"][:, 0].tolist() == [True, False, False, True, True, True]
    frames = h["frames"]
    assert frames["units"]["critical_pressure_Pa"] == "Pa"
    assert frames["columns"]["critical_pressure_Pa"][[0, 2, 5]] == pytest.approx([1e5, 0, 5e4], rel=1e-12)
    assert h["throats"]["columns"]["longest_closure_s"][2] == 65
    with pytest.raises(ValueError, match=r"\(6, 4\)"):
        op4d.percolation_history([(0, 1), (1, 2), (0, 3), (3, 2)], [1, 0, 0, 0], [0, 0, 1, 0],
                                 [0, 10, 20, 50, 60, 100], [1e4] * 6, radii[:5], surface_tension_N_per_m=0.05)


# --- the store from Python: append, lock, lazy slicing, results, pandas --------------------------

def test_store_append_lock_lazy_frames_and_results_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = str(tmp_path / "py.h5")
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 60000, (20, 24, 28), dtype=np.uint16) for _ in range(3)]
    with op4d.Store(path, mode="w") as s:
        assert s.writable and s.dtype is None
        with pytest.raises(op4d.ConfigError, match="voxel size"):
            s.append(frames[0], time_s=0.0)
        s.add_time_column("temperature_C", "degC", "cell temperature")
        for k, f in enumerate(frames):
            assert s.append(f, time_s=60.0 * k, spacing=(0.5, 0.5, 0.5) if k == 0 else None,
                            columns={"voltage_V": 3.5 + 0.1 * k, "temperature_C": 20.0 + k},
                            chunk=(8, 8, 8)) == k + 1
        with pytest.raises(op4d.IoError, match="py.h5"):
            op4d.Store(path, mode="a")             # a second writer is refused while this one holds the lock
        with pytest.raises(Exception, match="shape|dtype"):
            s.append(frames[0][:-1], time_s=500.0)
        s.write_frame_table(1, "stats", {"mean": np.array([1.5, 2.5])}, units={"mean": "counts"})
        s.write_series_table("series", {"v": np.arange(3.0)}, units={"v": "V"})
        s.write_frame_volume(2, "labels", (frames[2] > 30000).astype(np.uint8))
    with op4d.Store(path) as r:
        assert len(r) == 3 and r.dtype == "uint16" and r.spacing == (0.5, 0.5, 0.5)
        lazy = r.frames[1]
        assert np.array_equal(lazy[3:9, :, 5:20:3], frames[1][3:9, :, 5:20:3])
        assert np.array_equal(lazy[-1, 2], frames[1][-1, 2])
        assert np.array_equal(lazy[::-1, 3, 20:2:-3], frames[1][::-1, 3, 20:2:-3])   # negative steps
        assert np.array_equal(np.asarray(r.frames[-1]), frames[2])
        assert r.frame_table(1, "stats")["mean"].tolist() == [1.5, 2.5]
        assert r.frame_table_units(1, "stats")["mean"] == "counts"
        assert np.array_equal(r.frame_volume(2, "labels"), (frames[2] > 30000).astype(np.uint8))
        t = r.time_table()
        assert t["voltage_V"] == pytest.approx([3.5, 3.6, 3.7])
        assert r.time_units()["voltage_V"] == "V" and r.time_units()["temperature_C"] == "degC"
        assert t["temperature_C"].tolist() == [20.0, 21.0, 22.0]
        pandas = pytest.importorskip("pandas")
        df = r.dataframe()
        assert isinstance(df, pandas.DataFrame) and df["time_s"].tolist() == [0.0, 60.0, 120.0]
        assert df.attrs["units"]["voltage_V"] == "V"
        assert r.dataframe("series")["v"].tolist() == [0.0, 1.0, 2.0]
    with h5py.File(path, "r") as h:                # the same bytes through h5py
        assert np.array_equal(h["frames/volume"][()], np.stack(frames))
    with op4d.Store(path, mode="a") as again:      # the lock was released on close
        assert again.append(frames[0], time_s=180.0) == 4


# --- the example notebook runs top to bottom -----------------------------------------------------

def test_the_nmc_cathode_example_runs_top_to_bottom():
    data = os.environ.get("OP4D_SHARED_DATA_DIR", "")
    source = os.environ.get("OP4D_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    if not os.path.exists(os.path.join(data, "nmc_cathode", "nmc_cathode_labels.tif")):
        pytest.skip("../shared/data/nmc_cathode is absent (OP4D_SHARED_DATA_DIR=%r)" % data)
    env = dict(os.environ, OP4D_EXAMPLE_CROP="64", OP4D_SHARED_DATA_DIR=data)
    run = subprocess.run([sys.executable, os.path.join(source, "examples", "nmc_cathode.py")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "labels (64, 64, 64) uint8 spacing (um) (0.398, 0.398, 0.398)" in out
    assert "tau_z = " in out and "(converged)" in out
    assert "3 frames of (64, 64, 64) uint16" in out
