"""engine.datasets: shapes, determinism, split sizes, balance, informative columns, bad input."""

import numpy as np
import pytest

from engine.datasets import DATASET_KNOBS, DATASETS, make_dataset
from engine.knobs import validate_all


@pytest.mark.parametrize("name", list(DATASETS))
def test_shapes_dtypes_and_split_sizes(name):
    ds = make_dataset(name, n_samples=200, seed=3, val_fraction=0.25)
    n_tr, n_va = len(ds.y_train), len(ds.y_val)
    assert n_tr + n_va == 200
    assert abs(n_va - 50) <= ds.n_classes  # stratified rounding per class
    assert ds.X_train.shape == (n_tr, ds.n_features) and ds.X_val.shape == (n_va, ds.n_features)
    assert ds.X_train.dtype == np.float64
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_val).all()
    if ds.task == "classification":
        assert ds.y_train.dtype == np.int64
        assert set(np.unique(np.concatenate([ds.y_train, ds.y_val]))) == set(range(ds.n_classes))
        assert ds.n_outputs == ds.n_classes
    else:
        assert ds.y_train.dtype == np.float64 and ds.n_outputs == 1


@pytest.mark.parametrize("name", list(DATASETS))
def test_deterministic_by_seed(name):
    a, b = make_dataset(name, seed=7), make_dataset(name, seed=7)
    c = make_dataset(name, seed=8)
    for field in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("name", [n for n, s in DATASETS.items() if s.task == "classification"])
def test_classes_balanced_on_both_sides(name):
    ds = make_dataset(name, n_samples=600, seed=1)
    for y in (ds.y_train, ds.y_val):
        share = np.bincount(y, minlength=ds.n_classes) / len(y)
        # xor labels by quadrant (random), the others are balanced by construction
        assert np.all(np.abs(share - 1 / ds.n_classes) < 0.1), share


def test_k_classes_and_arms():
    assert make_dataset("spirals", n_arms=5).n_classes == 5
    blobs = make_dataset("blobs", n_classes=4, n_samples=400)
    assert blobs.n_classes == 4
    assert np.bincount(np.concatenate([blobs.y_train, blobs.y_val])).tolist() == [100] * 4


def test_no_overlap_between_train_and_val():
    ds = make_dataset("moons", n_samples=300, noise=0.3)
    rows = {tuple(r) for r in ds.X_train}
    assert not any(tuple(r) in rows for r in ds.X_val)


@pytest.mark.parametrize("name", ["sparse_classification", "sparse_regression"])
def test_informative_columns_drive_the_target(name):
    ds = make_dataset(name, n_samples=2000, noise=0.05, n_features=30, n_informative=4, seed=2)
    assert ds.X_train.shape[1] == 30
    inf = ds.informative
    assert len(inf) == 4 and np.all(np.diff(inf) > 0) and inf.min() >= 0 and inf.max() < 30
    X, y = ds.X_train, ds.y_train.astype(float)
    corr = np.abs([np.corrcoef(X[:, j], y)[0, 1] for j in range(30)])
    others = np.setdiff1d(np.arange(30), inf)
    # every informative column correlates more with the target than any noise column
    assert corr[inf].min() > corr[others].max()


def test_twod_sets_have_no_informative_subset():
    assert make_dataset("moons").informative is None


def test_noise_changes_spread():
    tight = make_dataset("circles", noise=0.0, n_samples=400)
    r = np.hypot(*tight.X_train.T)
    np.testing.assert_allclose(np.sort(np.unique(np.round(r, 12))), [0.5, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "nope"}, "Unknown dataset 'nope'"),
        ({"n_samples": 10**6}, "Invalid n_samples value"),
        ({"noise": -1.0}, "Invalid noise value"),
        ({"noise": float("nan")}, "Invalid noise value"),
        ({"val_fraction": 1.0}, "Invalid val_fraction value"),
        ({"name": "moons", "n_arms": 3}, "Unexpected option(s) n_arms"),
        ({"name": "spirals", "n_arms": 1}, "Invalid n_arms value"),
        ({"name": "sparse_regression", "n_informative": 60}, "Invalid feature counts"),
    ],
)
def test_bad_input_raises_clear_message(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make_dataset(**kwargs)


def test_knobs_cover_registry_and_cap_samples():
    values, problems = validate_all(DATASET_KNOBS, {"data": "bogus", "n": "1e9"})
    assert values["data"] == "moons" and values["n"] == 20_000 and len(problems) == 2
    make_dataset(values["data"], n_samples=values["n"])  # the capped value is accepted
