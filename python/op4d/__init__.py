"""op4d from Python: the per-frame kernels on numpy arrays and the campaign store.

Arrays are (z, y, x); spacing is a (z, y, x) tuple in um. An input array of the dtype a kernel takes, in C
order, is used in place (no copy; ``conversion_stats()`` counts borrows and copies); any other is converted
once. Results come back as numpy arrays that own op4d's buffers (no copy) or as dicts whose docs give the units. ``threads`` is the TBB budget of a
call (0 = all cores); the GIL is released while a kernel runs.
"""
from ._op4d import (  # noqa: F401
    ConfigError,
    InvalidArgument,
    IoError,
    __version__,
    conductivity,
    conversion_stats,
    distance_transform,
    effective_diffusivity,
    entry_pressure,
    gaussian_mixture,
    label_components,
    label_phase,
    local_thickness,
    multi_otsu,
    particle_table,
    percolation,
    percolation_history,
    pore_network,
    random_walk_tensor,
    read_volume,
    segment,
    strain_field,
    surface_area,
    throat_open,
    tortuosity,
    volume_fractions,
    watershed,
)
from ._op4d import Store as _Store


class Frame:
    """Frame k of a store, read lazily: ``store.frames[k][z0:z1, :, x0:x1]`` reads only that sub-volume
    (chunk by chunk); ``numpy.asarray(store.frames[k])`` reads the whole frame."""

    def __init__(self, store, k):
        self._store, self.k = store, k
        self.shape = store.shape
        self.dtype = store.dtype

    def __array__(self, dtype=None):
        a = self._store.frame(self.k)
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, index):
        if not isinstance(index, tuple):
            index = (index,)
        if len(index) > 3:
            raise IndexError("a frame has 3 axes (z, y, x), %d indices given" % len(index))
        index = index + (slice(None),) * (3 - len(index))
        begin, size, post = [], [], []
        for axis, (i, n) in enumerate(zip(index, self.shape)):
            if isinstance(i, slice):
                start, stop, step = i.indices(n)
                if step < 1:
                    lo, hi = (stop + 1, start + 1) if step < 0 else (start, stop)
                    lo, hi = max(lo, 0), max(hi, 0)
                else:
                    lo, hi = start, max(stop, start)
                begin.append(lo)
                size.append(max(hi - lo, 0))
                post.append(slice(None, None, step) if step != 1 else slice(None))
            else:
                j = int(i) + (n if int(i) < 0 else 0)
                if not 0 <= j < n:
                    raise IndexError("index %d is outside axis %s of size %d" % (int(i), "zyx"[axis], n))
                begin.append(j)
                size.append(1)
                post.append(0)
        if 0 in size:
            import numpy
            return numpy.zeros([s for s, p in zip(size, post) if p != 0], dtype=self.dtype)[tuple(p for p in post if p != 0)]
        return self._store.region(self.k, begin, size)[tuple(post)]


class _Frames:
    def __init__(self, store):
        self._store = store

    def __len__(self):
        return len(self._store)

    def __getitem__(self, k):
        n = len(self._store)
        j = k + n if k < 0 else k
        if not 0 <= j < n:
            raise IndexError("frame %d: the store holds %d frames" % (k, n))
        return Frame(self._store, j)

    def __iter__(self):
        return (Frame(self._store, k) for k in range(len(self._store)))


class Store(_Store):
    __doc__ = _Store.__doc__

    @property
    def frames(self):
        """The frames, lazily: ``store.frames[k]`` is a Frame; slicing it reads only the sub-volume."""
        return _Frames(self)

    def dataframe(self, table=None):
        """The time table (table None) or a series table as a pandas DataFrame; units in ``df.attrs['units']``.
        Needs pandas (Debian: python3-pandas)."""
        try:
            import pandas
        except ImportError as e:  # pragma: no cover - depends on the machine
            raise ImportError("Store.dataframe needs pandas (Debian package python3-pandas); "
                              "Store.time_table() gives the same columns as a dict of arrays") from e
        if table is None:
            columns, units = self.time_table(), self.time_units()
        else:
            columns, units = self.series_table(table), self.series_table_units(table)
        df = pandas.DataFrame(columns)
        df.attrs["units"] = dict(units)
        return df
