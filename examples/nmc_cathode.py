# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # op4d from Jupyter: the NMC cathode, top to bottom
#
# A calendered NMC-1 cathode imaged by X-ray nano-CT and segmented into pore (0), NMC active (1) and
# carbon-binder (2): `../shared/data/nmc_cathode/nmc_cathode_labels.tif` (NREL MATBOX, 251 x 301 x 301
# voxels of about 0.398 um; the binder phase was generated numerically by its authors inside the pore
# space). Every cell calls op4d's C++ kernels on numpy arrays: no files in between.
#
# Run it as a notebook (Jupyter opens the percent format through jupytext) or as a script:
# `PYTHONPATH=build/python python3 examples/nmc_cathode.py`. Set `OP4D_EXAMPLE_CROP=64` for a quick run
# on a 64^3 corner (the test suite does so); the figures quoted in the comments are for the whole volume
# on 2 cores.

# %%
import os
import time

import numpy as np

import op4d

here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
data = os.environ.get("OP4D_SHARED_DATA_DIR", os.path.join(here, "..", "..", "shared", "data"))
path = os.path.join(data, "nmc_cathode", "nmc_cathode_labels.tif")
crop = int(os.environ.get("OP4D_EXAMPLE_CROP", "0"))
print("op4d", op4d.__version__)


def timed(label, f):
    t = time.perf_counter()
    out = f()
    print("%-34s %7.2f s" % (label, time.perf_counter() - t))
    return out


# %% [markdown]
# ## Read the volume
# The TIFF carries no voxel size; the MATBOX documentation gives 0.398 um, passed as `spacing`
# (z, y, x in um). `read_volume` also reads TIFF slice folders, raw, MHA/NRRD/NIfTI and DXchange/NeXus.

# %%
r = op4d.read_volume(path, spacing=(0.398, 0.398, 0.398))
labels, spacing = r["volume"], r["spacing"]
if crop:
    labels = np.ascontiguousarray(labels[:crop, :crop, :crop])
print(r["description"])
print("labels", labels.shape, labels.dtype, "spacing (um)", spacing)
phases = "pore=0:pore,active=1:active,binder=2:binder"

# %% [markdown]
# ## Volume fractions and percolation (dual rule: pore 26-connected, solids 6-connected)

# %%
fractions = op4d.volume_fractions(labels, phases=phases)
print({k: round(v, 4) for k, v in fractions.items()})          # whole volume: pore 0.4005, NMC 0.4995, binder 0.1000
perc = timed("percolation", lambda: op4d.percolation(labels, phases=phases))
for name, p in perc.items():
    print("%-7s %2d-connected  %5d components  spanning (z, y, x) %s  isolated %.4f"
          % (name, p["connectivity"], p["components"], tuple(round(s, 4) for s in p["spanning_fraction"]),
             p["isolated_fraction"]))

# %% [markdown]
# ## Specific surface area and pore size
# `surface_area` is the marching-tetrahedra area of a phase's boundary in um^2; divided by the volume it
# gives a_s in 1/um. Local thickness is the diameter of the largest inscribed ball (Hildebrand &
# Rueegsegger), so its quantiles are a pore-size distribution.

# %%
total_um3 = labels.size * float(np.prod(spacing))
area_active = timed("surface area (NMC)", lambda: op4d.surface_area(labels == 1, spacing=spacing))
print("a_s NMC = %.4f 1/um" % (area_active / total_um3))      # whole volume: 0.2419 1/um
thickness = timed("local thickness (pore)", lambda: op4d.local_thickness(labels == 0, spacing=spacing))
q = np.quantile(thickness[labels == 0], [0.1, 0.5, 0.9])
print("pore diameter d10 %.2f  d50 %.2f  d90 %.2f um" % tuple(q))   # whole volume: 3.56, 5.79, 8.90

# %% [markdown]
# ## Tortuosity of the pore phase (finite volumes, the TauFactor convention tau = eps D / D_eff)

# %%
for axis in "zyx":
    t = timed("tortuosity pore, " + axis, lambda: op4d.tortuosity(labels == 0, spacing=spacing, axis=axis))
    print("   tau_%s = %.3f  D_eff/D = %.4f  (%s)" % (axis, t["tau"], t["d_eff"], t["status"]))  # whole: 2.953, 2.595, 2.526

# %% [markdown]
# ## Particles and electronic conductivity with contact resistance
# The NMC phase is split into particles by the watershed of its distance transform; every face between
# two particles then carries a contact resistance r_c in series. NMC 10 S/m and carbon-binder 100 S/m are
# illustrative values; sigma_eff falls as r_c grows, and `contact_power_share` says how much of the
# dissipated power the contacts take.

# %%
particles, n = timed("watershed (NMC)", lambda: op4d.watershed(labels == 1, spacing=spacing))
table = op4d.particle_table(particles, spacing=spacing)
d = table["columns"]["equivalent_diameter_um"]
print("%d particles, equivalent diameter median %.2f %s" % (n, np.median(d), table["units"]["equivalent_diameter_um"]))
sigma = np.select([labels == 1, labels == 2], [10.0, 100.0], 0.0).astype(np.float32)
for rc in (0.0, 1e-8, 1e-6):
    c = timed("conductivity, r_c %.0e" % rc,
              lambda: op4d.conductivity(sigma, particles, spacing=spacing, axis="z", contact_resistance_ohm_m2=rc))
    print("   sigma_eff = %.4f S/m, %d contact faces, contact power share %.3f"
          % (c["sigma_eff_S_per_m"], c["contact_faces"], c["contact_power_share"]))

# %% [markdown]
# ## Pore network, in OpenPNM's key names
# `op.io.network_from_porespy(net)` loads it once `units` and `summary` are popped. The summary checks
# the topology: the graph's loops and components equal those of the pore space.

# %%
net = timed("pore network", lambda: op4d.pore_network(labels == 0, spacing=spacing))
s = net["summary"]
print("%d pores, %d throats; loops graph %d = pore space %d" % (s["nodes"], s["throats"], s["graph_loops"], s["pore_loops"]))
r_throat_um = net["throat.inscribed_diameter"] * 0.5e6     # m -> um, diameter -> radius
print("throat radius d10 %.2f d50 %.2f d90 %.2f um" % tuple(np.quantile(r_throat_um, [0.1, 0.5, 0.9])))

# %% [markdown]
# ## Young-Laplace: which throats an applied gas pressure keeps open
# A throat of radius r stays open while p_app < P_c = 2 gamma |cos theta| / r (DESIGN.md). With the
# electrolyte's gamma of about 0.035 N/m, wetting (theta 0):

# %%
for p_app in (1e4, 3e4, 1e5):
    is_open = op4d.throat_open(r_throat_um, np.full_like(r_throat_um, p_app), 0.035)
    print("p_app %6.0f Pa: %5.1f %% of throats open" % (p_app, 100 * is_open.mean()))

# %% [markdown]
# ## From grey values: the segmentation chain on a rendered frame
# A grey frame rendered from the labels (pore 8000, binder 17000, NMC 30000, Gaussian noise at SNR 5) goes
# through op4d's default chain (NLM + Gaussian mixture + forward-model refinement); its labels are
# compared with the ones it was rendered from.

# %%
rng = np.random.default_rng(0)
sub = np.ascontiguousarray(labels[:64, :64, :64])
grey = (np.array([8000.0, 30000.0, 17000.0])[sub] + rng.normal(0, 22000 / 5, sub.shape)).astype(np.float32)
seg = timed("segment (nlm+gmm), 64^3", lambda: op4d.segment(grey, spacing=spacing))
for label, name in enumerate(("pore", "active", "binder")):
    a, b = seg["labels"] == label, sub == label
    print("Dice %-6s %.3f" % (name, 2 * (a & b).sum() / (a.sum() + b.sum())))
print("posterior maps:", {k: v.dtype.name for k, v in seg["probabilities"].items()})

# %% [markdown]
# ## A campaign store from Python
# Frames go in as arrays with their time and cycler columns; the store is the same HDF5 the op4d command
# writes (exclusive writer lock, SWMR readers). Frames read back lazily: slicing reads only the chunks it
# needs. Results tables carry units; `dataframe()` gives pandas when it is installed.

# %%
import tempfile

store_path = os.path.join(tempfile.mkdtemp(), "nmc.h5")
with op4d.Store(store_path, mode="w") as st:
    st.add_time_column("temperature_C", "degC", "cell temperature")   # voltage_V is a standard column
    for k in range(3):
        g = (np.array([8000, 30000, 17000], np.uint16)[sub] + rng.normal(0, 1000, sub.shape)).clip(0, 65535)
        st.append(g.astype(np.uint16), time_s=600.0 * k, spacing=spacing if k == 0 else None,
                  columns={"voltage_V": 3.6 + 0.1 * k, "temperature_C": 25.0}, chunk=(32, 32, 32))
    st.write_frame_table(0, "fractions", {"phase": np.arange(3), "fraction": np.array([fractions[p] for p in ("pore", "active", "binder")])},
                         units={"fraction": "1"})
with op4d.Store(store_path) as st:
    corner = st.frames[2][:8, :8, :8]            # one chunk read
    print(len(st), "frames of", st.shape, st.dtype, "; corner", corner.shape, "; time table", list(st.time_table()))
    assert np.array_equal(corner, np.asarray(st.frames[2])[:8, :8, :8])
    try:
        print(st.dataframe())
    except ImportError as e:
        print(e)
