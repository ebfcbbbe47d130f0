#!/usr/bin/env python3
"""op4d's Python kernels side by side with the peers a Python user would pick, on the same arrays in one run.

    PYTHONPATH=build/python python3 bench/python_peers.py [--taufactor DIR] [--repeat 3] [--crop N]

  tortuosity   op4d.tortuosity            vs TauFactor Solver (torch, CPU)  NMC cathode pore phase, axes z y x
  EDT          op4d.distance_transform    vs scipy.ndimage.distance_transform_edt   NMC pore phase, 0.398 um
  area         op4d.surface_area          vs skimage.measure.marching_cubes + mesh_surface_area
               (on the raw mask and on the same Gaussian-smoothed indicator op4d contours), NMC active
               phase and a voxelised sphere of radius 40 voxels (exact 4 pi r^2)

Peers: Debian python3-scipy, python3-skimage, python3-torch (1.13; TauFactor asks for >= 2.1 but its
Solver runs on 1.13), python3-matplotlib, python3-psutil, python3-ipython (TauFactor imports them). TauFactor
is not packaged: bring it with the tool `fetch github:tldr-group/taufactor` and pass --taufactor with the
directory holding its `taufactor/` package (default: /tmp/tf, extracted by `git archive HEAD taufactor`).
Times are wall seconds, median of --repeat runs, the array already in memory; op4d and torch use every core
(2 here), scipy and scikit-image one. The ratio is peer seconds / op4d seconds (> 1: op4d is faster).
"""
import argparse
import contextlib
import io
import math
import os
import sys
import time

import numpy as np

import op4d


def median_time(f, repeat):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def row(kernel, case, op4d_value, op4d_s, peer, peer_value, peer_s, note=""):
    print("| %s | %s | %s | %.3f | %s | %s | %.3f | %.2f | %s |"
          % (kernel, case, op4d_value, op4d_s, peer, peer_value, peer_s, peer_s / op4d_s, note), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--taufactor", default="/tmp/tf")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--crop", type=int, default=0, help="use an N^3 corner of the cathode (0 = whole)")
    ap.add_argument("--tau-axes", default="zyx", help="axes of the tortuosity rows ('' = none; TauFactor on CPU "
                    "takes 14 min per solve on the whole cathode)")
    ap.add_argument("--conv-crit", type=float, default=1e-2, help="TauFactor's stopping rule (its default 1e-2)")
    a = ap.parse_args()

    import scipy.ndimage as ndi
    from skimage import measure
    sys.path.insert(0, a.taufactor)
    import taufactor
    import torch
    torch.set_num_threads(os.cpu_count())   # torch starts with one thread here; give it the cores op4d uses

    r = op4d.read_volume(os.path.join(a.data, "nmc_cathode", "nmc_cathode_labels.tif"), spacing=(0.398,) * 3)
    labels, spacing = r["volume"], r["spacing"]
    if a.crop:
        labels = np.ascontiguousarray(labels[:a.crop, :a.crop, :a.crop])
    pore = labels == 0
    active = labels == 1
    print("NMC cathode %s voxels of %.3f um; torch %s with %d threads; op4d threads all cores (%d)"
          % ("x".join(map(str, labels.shape)), spacing[0], torch.__version__, torch.get_num_threads(), os.cpu_count()))
    print()
    print("| kernel | case | op4d value | op4d s | peer | peer value | peer s | ratio | note |")
    print("|---|---|---|---|---|---|---|---|---|")

    # Tortuosity. TauFactor solves along its first array axis with c fixed on the outer faces of the end
    # layers and tau = eps / D_eff (eps the phase's total fraction): the convention op4d states, so the
    # values compare directly. Our axis a is TauFactor's axis 0 after moving a to the front.
    for axis, k in (("z", 0), ("y", 1), ("x", 2)):
        if axis not in a.tau_axes:
            continue
        ours, t_ours = median_time(lambda: op4d.tortuosity(pore, spacing=spacing, axis=axis), a.repeat)
        img = np.ascontiguousarray(np.moveaxis(pore, k, 0)).astype(np.uint8)

        def peer():
            s = taufactor.Solver(img, device="cpu")
            with contextlib.redirect_stdout(io.StringIO()):   # it prints its convergence line regardless
                s.solve(verbose="no", conv_crit=a.conv_crit)
            return float(np.asarray(s.tau).ravel()[0])

        theirs, t_theirs = median_time(peer, a.repeat)
        row("tortuosity", "pore, " + axis, "%.4f" % ours["tau"], t_ours, "TauFactor Solver", "%.4f" % theirs, t_theirs,
            "%+.2f %% (op4d: relative residual 1e-8, %d iterations; TauFactor conv_crit %g)"
            % (100 * (theirs / ours["tau"] - 1), ours["iterations"], a.conv_crit))

    # Euclidean distance transform of the pore phase with the spacing (distance to the nearest solid voxel).
    ours, t_ours = median_time(lambda: op4d.distance_transform(pore, spacing=spacing), a.repeat)
    theirs, t_theirs = median_time(lambda: ndi.distance_transform_edt(pore, sampling=spacing), a.repeat)
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs)))
    row("EDT", "pore, 0.398 um", "max %.3f um" % float(ours.max()), t_ours, "scipy distance_transform_edt",
        "max %.3f um" % float(theirs.max()), t_theirs, "max abs difference %.1e um (op4d float32)" % diff)

    # Surface area. op4d contours the indicator smoothed by a Gaussian of one voxel at 0.5 (marching
    # tetrahedra); marching cubes on the raw mask is what most users run.
    def skimage_area(mask, smooth):
        f = ndi.gaussian_filter(mask.astype(np.float32), 1.0, mode="nearest") if smooth else mask.astype(np.float32)
        # No padding: op4d counts the phase boundary inside the volume, not the cut faces of the volume.
        v, faces, _, _ = measure.marching_cubes(f, 0.5, spacing=spacing)
        return measure.mesh_surface_area(v, faces)

    n = 2 * 40 + 8
    zz, yy, xx = np.mgrid[:n, :n, :n] - (n - 1) / 2
    ball = (zz * zz + yy * yy + xx * xx) <= 40 * 40
    exact = 4 * math.pi * 40 * 40 * spacing[0] ** 2
    for case, mask, truth in (("NMC active phase", active, None), ("sphere r 40 voxels", ball, exact)):
        ours, t_ours = median_time(lambda: op4d.surface_area(mask, spacing=spacing), a.repeat)
        for smooth in (False, True):
            theirs, t_theirs = median_time(lambda: skimage_area(mask, smooth), a.repeat)
            peer = "skimage marching_cubes" + (" of the smoothed indicator" if smooth else " of the mask")
            if truth:
                note = "op4d %.4f x exact, skimage %.4f x exact" % (ours / truth, theirs / truth)
            else:
                note = "skimage / op4d %.4f" % (theirs / ours)
            row("area", case, "%.0f um^2" % ours, t_ours, peer, "%.0f um^2" % theirs, t_theirs, note)


if __name__ == "__main__":
    main()
