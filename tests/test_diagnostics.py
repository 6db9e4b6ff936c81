"""engine.diagnostics: shared bins, clipping stated, zero counting, norms, activation health."""

import numpy as np
import pytest

from engine.diagnostics import (
    activation_stats,
    histogram,
    layer_norms,
    shared_bins,
    sparsity,
    update_ratio,
)


def test_shared_bins_cover_every_run_and_counts_add_up():
    rng = np.random.default_rng(0)
    runs = [rng.normal(0, 1, 1000), rng.normal(3, 0.1, 500), rng.uniform(-2, 5, 300)]
    bins = shared_bins(runs, bins=40, percentile=(0, 100))
    pooled = np.concatenate(runs)
    assert bins.lo == pooled.min() and bins.hi == pooled.max()
    assert bins.n_clipped == 0 and "covers every value" in bins.note
    for run in runs:
        h = histogram(run, bins)
        assert h.counts.shape == (40,) and h.counts.sum() == run.size
        np.testing.assert_array_equal(h.edges, bins.edges)
        # agrees with numpy's own histogram when nothing is clipped
        np.testing.assert_array_equal(h.counts, np.histogram(run, bins.edges)[0])


def test_outliers_are_clipped_into_edge_bins_and_the_range_is_stated():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.normal(0, 1, 10_000), [1e6, -1e6]])
    bins = shared_bins([a], bins=20)
    assert -5 < bins.lo < -2 and 2 < bins.hi < 5  # not squashed by the two outliers
    assert bins.percentile == (0.5, 99.5)
    assert bins.n_below == np.count_nonzero(a < bins.lo) > 0
    assert bins.n_above == np.count_nonzero(a > bins.hi) > 0
    assert "0.5th-99.5th percentile" in bins.note and "edge bins" in bins.note
    h = histogram(a, bins)
    assert h.counts.sum() == a.size
    assert h.counts[0] == np.count_nonzero(a < bins.edges[1])
    assert h.counts[-1] == np.count_nonzero(a >= bins.edges[-2])
    assert h.n_below == bins.n_below and h.n_above == bins.n_above


def test_exact_zeros_are_counted_separately():
    w = np.array([0.0, 0.0, 0.0, -0.0, 1e-12, -0.3, 0.7, np.nan])
    bins = shared_bins([w], bins=10, percentile=(0, 100), symmetric=True)
    assert bins.lo == -bins.hi
    h = histogram(w, bins)
    assert h.zeros == 4 and h.n_nonfinite == 1 and h.counts.sum() == 7
    assert h.edges[h.zero_bin] <= 0.0 < h.edges[h.zero_bin + 1]
    assert h.counts[h.zero_bin] >= 5  # zeros and the tiny value share the middle bin


def test_degenerate_and_empty_inputs_get_a_usable_range():
    b = shared_bins([np.full(10, 2.0)], bins=4)
    assert b.lo < 2.0 < b.hi and histogram(np.full(10, 2.0), b).counts.sum() == 10
    e = shared_bins([np.empty(0)], bins=4)
    assert e.hi > e.lo and e.n_total == 0


@pytest.mark.parametrize(
    "kwargs", [{"bins": 0}, {"percentile": (50, 10)}, {"percentile": (-1, 50)}]
)
def test_bad_bin_arguments(kwargs):
    with pytest.raises(ValueError, match="Invalid"):
        shared_bins([np.ones(3)], **kwargs)


def test_histogram_rejects_bad_edges():
    with pytest.raises(ValueError, match="increasing"):
        histogram(np.ones(3), np.array([1.0, 0.0]))


def test_sparsity_exact_versus_near():
    w = [np.array([[0.0, 1e-5], [2.0, -1e-4]]), np.array([0.0, 3.0])]
    s = sparsity(w, eps=1e-3)
    assert (s.n, s.exact_zeros, s.near_zeros) == (6, 2, 4)
    assert s.exact_fraction == pytest.approx(2 / 6) and s.near_fraction == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="Invalid eps"):
        sparsity(w, eps=-1)


def test_layer_norms_and_update_ratio():
    a = [np.array([[3.0, 4.0]]), np.zeros((2, 2))]
    np.testing.assert_allclose(layer_norms(a), [5.0, 0.0])
    ratio = update_ratio([np.array([[0.3, 0.4]]), np.ones((2, 2))], a)
    assert ratio[0] == pytest.approx(0.1) and np.isnan(ratio[1])


def test_activation_stats_saturation_and_dead_units():
    tanh_acts = [np.array([[0.999, 0.0], [-0.985, 0.5]])]
    st = activation_stats(tanh_acts, "tanh")  # engine.activations: saturated when |a| > 0.98
    assert st.saturated[0] == pytest.approx(0.5) and np.isnan(st.dead[0])
    assert st.mean[0] == pytest.approx(tanh_acts[0].mean())
    assert st.std[0] == pytest.approx(tanh_acts[0].std())
    sig = activation_stats([np.array([[0.01, 0.5, 0.99]])], "sigmoid")
    assert sig.saturated[0] == pytest.approx(2 / 3)
    relu = activation_stats([np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])], "relu")
    assert relu.dead[0] == pytest.approx(1 / 3) and np.isnan(relu.saturated[0])
    z = np.array([[-1.0, 2.0], [-3.0, -1.0]])
    leaky = activation_stats([np.where(z > 0, z, 0.01 * z)], "leaky_relu", pre_activations=[z])
    assert leaky.dead[0] == pytest.approx(0.5)
    lin = activation_stats([z], "linear")
    assert np.isnan(lin.saturated[0]) and np.isnan(lin.dead[0])
