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


def test_threads_context_sets_then_restores_even_on_error():
    before = blas.get_threads()
    if before is None:
        with blas.threads(2) as prev:
            assert prev is None
        return
    other = 1 if before != 1 else 2
    try:
        with blas.threads(other) as prev:
            assert prev == before and blas.get_threads() == other
            with blas.threads(other):  # re-entrant in the same thread
                assert blas.get_threads() == other
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert blas.get_threads() == before
