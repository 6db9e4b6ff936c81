"""engine.memory fixes glibc's mmap threshold: once the server has freed one large result,
later large arrays are still mapped blocks of their own (given back to the system on free),
not heap memory that stays in the process (the server's RSS after a class; bench.memory)."""

import subprocess
import sys
import textwrap

import pytest

from engine import memory

pytestmark = pytest.mark.skipif(
    memory._glibc() is None, reason="glibc only: other C libraries have no such threshold"
)

SCENARIO = textwrap.dedent(
    """
    import ctypes
    import numpy as np
    from engine import memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    assert memory.fix_mmap_threshold()
    del_me = np.ones(4 * 2**20 // 8)  # a 4 MB result, dropped: glibc raises the threshold
    del del_me
    before = libc.mallinfo2().hblkhd
    kept = [np.ones(2**20 // 8) for _ in range(20)]  # twenty 1 MB arrays
    print((libc.mallinfo2().hblkhd - before) / 2**20)
    """
)


def _mapped_mb() -> float:
    out = subprocess.run(
        [sys.executable, "-c", SCENARIO], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def test_large_arrays_stay_mapped_blocks_after_a_large_free():
    """Each of the twenty is a mapping of its own, unmapped when freed. With glibc's default
    (dynamic) threshold, the 4 MB free raises it and the twenty come from the heap: 0 MB
    mapped here, 60 runs of 60; but one full CI run read 20 MB mapped without the fix, for a
    reason not found, so only the fixed threshold is asserted."""
    assert _mapped_mb() >= 20
