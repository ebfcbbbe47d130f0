"""op4d from Python: the per-frame kernels on numpy arrays and the campaign store.

Arrays are (z, y, x); spacing is a (z, y, x) tuple in um. Results come back as numpy arrays that own
op4d's buffers (no copy) or as dicts whose docs give the units. ``threads`` is the TBB budget of a
call (0 = all cores); the GIL is released while a kernel runs.
"""
from ._op4d import (  # noqa: F401
    ConfigError,
    InvalidArgument,
    IoError,
    Store,
    __version__,
    distance_transform,
    effective_diffusivity,
    label_components,
    multi_otsu,
    surface_area,
    tortuosity,
    volume_fractions,
)
