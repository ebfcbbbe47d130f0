"""op4d's Python module against the C++ tests' exact cases, and its array and error contracts."""
import math
import os
import subprocess

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
