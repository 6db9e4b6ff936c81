"""Give large freed blocks back to the system: glibc's mmap threshold, fixed at run time.

glibc's ``malloc`` serves a request of at least ``M_MMAP_THRESHOLD`` bytes (128 KiB to begin
with) with a mapping of its own, which ``free`` unmaps: the memory goes back to the system.
Smaller requests come from the heap arenas, whose freed blocks stay in the process for reuse.
By default the threshold is *dynamic*: each time a mapped block is freed, glibc raises the
threshold to that block's size (up to 32 MiB on 64-bit). So after the server has dropped one
training result (a few MB of arrays unpickled from a worker), later arrays of that size come
from the arenas, and what they took stays after the sessions that used them have left.
Streamlit runs each script run on a thread of its own, so those arenas are many (16 on this
2-core machine, made by the server's threads before app.py first runs).

Setting ``M_MMAP_THRESHOLD`` explicitly turns the dynamic adjustment off (``mallopt(3)``).
:func:`fix_mmap_threshold` keeps it at 128 KiB: measured with ``python -m bench.memory`` (10
students on 10 seeds of the Regularization lab, then all closed), the server kept +112 to
+122 MB by default and +72 to +81 MB with the threshold fixed; the rest is the results cache
(~3.8 MB per lab result, by design) and small blocks in the arenas. The cost is a mapping per
large request, which the server makes rarely: its heavy arrays are built in worker processes
(engine.executor), which keep glibc's default.

Other C libraries (musl, macOS) do not have these knobs: the function does nothing there.
"""

from __future__ import annotations

import ctypes
import functools

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value


def _glibc():
    """The process's C library if it is glibc, else None."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


@functools.cache
def fix_mmap_threshold(nbytes: int = MMAP_THRESHOLD) -> bool:
    """Serve every request of ``nbytes`` or more by its own mapping, returned on ``free``,
    from now on (no dynamic raise); True if glibc accepted it. Process-wide, so done once per
    process (app.py calls it on every script run)."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(int(nbytes))))


def trim() -> bool:
    """Give the heap's free memory back to the system (``malloc_trim(0)``: glibc returns the
    free pages of every arena, not only the top); True if some was given back. After the
    caches are dropped (pages/common/idle.py) their small blocks are free but still held by
    the arenas."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))
