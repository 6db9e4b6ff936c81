"""engine.blas changes OpenBLAS's thread count at run time (and restores it)."""

from engine import blas


def test_set_threads_round_trip():
    before = blas.get_threads()
    if before is None:
        assert blas.set_threads(1) is False
        return
    try:
        assert blas.set_threads(1) is True
        assert blas.get_threads() == 1
    finally:
        blas.set_threads(before)
    assert blas.get_threads() == before
