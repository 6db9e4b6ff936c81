"""Set the number of BLAS threads NumPy's OpenBLAS uses, at run time.

The networks on these pages are small (widths <= 512, batches <= a few hundred): their
matrix products take microseconds, and OpenBLAS's thread hand-off costs more than it saves.
On a shared 2-core server that also runs background training jobs, multithreaded BLAS
oversubscribes the cores: measured here, a (280, 64) @ (64, 64) product took 1.0 ms with two
threads under load against 0.15 ms with one. ``OPENBLAS_NUM_THREADS=1`` would do the same,
but it must be set before NumPy is imported, which a Streamlit script cannot guarantee, so
this module calls OpenBLAS's own ``set_num_threads`` through ``ctypes`` (stdlib only).

The opposite case exists too: a synchronous computation on large products (the Gradient-flow
profile multiplies (256, 256) matrices hundreds of times while the user waits) is faster on
every core. :func:`threads` switches temporarily and puts the previous count back. The count is
process-wide, so the context holds a lock: two sessions never interleave their set/restore
pairs (which could leave the wrong count behind), they take turns.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from collections.abc import Iterator

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


_LOCK = threading.RLock()


@contextlib.contextmanager
def threads(n: int) -> Iterator[int | None]:
    """Run the ``with`` body with ``n`` OpenBLAS threads, then restore the previous count.

    Yields the previous count (None when no OpenBLAS was found; then nothing changes). Holds a
    process-wide lock for the duration (see the module docstring).
    """
    with _LOCK:
        before = get_threads()
        if before is None or before == n:
            yield before
            return
        set_threads(n)
        try:
            yield before
        finally:
            set_threads(before)
