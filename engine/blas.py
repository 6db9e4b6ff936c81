"""Set the number of BLAS threads NumPy's OpenBLAS uses, at run time.

The networks on these pages are small (widths <= 512, batches <= a few hundred): their
matrix products take microseconds, and OpenBLAS's thread hand-off costs more than it saves.
On a shared 2-core server that also runs background training jobs, multithreaded BLAS
oversubscribes the cores: measured here, a (280, 64) @ (64, 64) product took 1.0 ms with two
threads under load against 0.15 ms with one. ``OPENBLAS_NUM_THREADS=1`` would do the same,
but it must be set before NumPy is imported, which a Streamlit script cannot guarantee, so
this module calls OpenBLAS's own ``set_num_threads`` through ``ctypes`` (stdlib only).
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_GETTERS = tuple(name.replace("set_", "get_") for name in _SETTERS)


def _openblas_libraries() -> list[str]:
    """Paths of the OpenBLAS shared libraries NumPy ships or has loaded."""
    here = os.path.dirname(np.__file__)
    paths = glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))
    try:
        with open("/proc/self/maps") as maps:
            paths += [line.split()[-1] for line in maps if "openblas" in line]
    except OSError:
        pass
    return list(dict.fromkeys(os.path.realpath(p) for p in paths))


def _call(names: tuple[str, ...], *args: int) -> int | None:
    for path in _openblas_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                result = function(*args)
                return int(result) if result is not None else 0
    return None


def set_threads(n: int) -> bool:
    """Ask OpenBLAS to use ``n`` threads. Returns False when no OpenBLAS was found."""
    return _call(_SETTERS, int(n)) is not None


def get_threads() -> int | None:
    """The number of threads OpenBLAS uses now, or None when no OpenBLAS was found."""
    return _call(_GETTERS)
