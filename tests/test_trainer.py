"""engine.trainer: learning, early stopping, determinism, divergence, L1 methods, recording."""

import math

import numpy as np
import pytest

from engine.datasets import make_dataset
from engine.diagnostics import sparsity
from engine.trainer import Config, Trainer, TrainerGroup, train

# an overfitting setup: 50 features of which 5 matter, 100 samples, a wide net
OVERFIT = {
    "dataset": "sparse_classification",
    "hidden": (64,),
    "epochs": 150,
    "hparams": {"lr": 0.01},
}


def _arrays(h):
    return {
        k: getattr(h, k)
        for k in ("train_loss", "val_loss", "penalty", "train_acc", "val_acc", "step_loss")
    }


def test_small_tanh_net_learns_moons():
    h = train(Config(dataset="moons", hidden=(16, 16), activation="tanh", epochs=60))
    assert h.val_acc[-1] >= 0.95
    assert h.train_loss[-1] < h.train_loss[0] / 4
    assert h.epochs.tolist() == list(range(61)) and h.message == "finished 60 epochs"


def test_early_stopping_restores_best_weights():
    cfg = Config(**OVERFIT, patience=5, restore_best=True)
    tr = Trainer(cfg)
    h = tr.run()
    assert h.stopped_early and "stopped early" in h.message
    assert h.epochs[-1] == h.best_epoch + 5 < cfg.epochs
    assert h.best_val_loss == h.val_loss.min() == h.val_loss[h.best_epoch]
    assert h.restored_epoch == h.best_epoch
    # the network now holds the best epoch's weights: recomputing the val loss gives it back
    val_loss, _ = tr.evaluate(tr.data.X_val, tr.data.y_val)
    assert val_loss == h.val_loss[h.best_epoch] != h.val_loss[-1]


def test_early_stopping_without_restore_keeps_last_weights():
    tr = Trainer(Config(**OVERFIT, patience=5, restore_best=False))
    h = tr.run()
    assert h.restored_epoch is None
    assert tr.evaluate(tr.data.X_val, tr.data.y_val)[0] == h.val_loss[-1]


def test_min_delta_counts_small_gains_as_no_improvement():
    loose = train(Config(**OVERFIT, patience=3, min_delta=0.0))
    strict = train(Config(**OVERFIT, patience=3, min_delta=0.05))
    assert strict.epochs[-1] <= loose.epochs[-1]
    gains = -np.diff(strict.val_loss[: strict.best_epoch + 1])
    assert strict.best_epoch == 0 or gains.max() > 0


def test_bitwise_deterministic_by_seed():
    cfg = Config(
        dataset="spirals",
        hidden=(8, 8),
        keep_prob=0.8,
        epochs=4,
        snapshot_every=2,
        record_grad_norms=True,
        regularizer="elastic",
        l1=1e-3,
        l2=1e-3,
    )
    a, b = train(cfg), train(cfg)
    for k, v in _arrays(a).items():
        np.testing.assert_array_equal(v, _arrays(b)[k], err_msg=k)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)
    np.testing.assert_array_equal(a.snapshots[4], b.snapshots[4])
    c = train(cfg.replace(seed=1))
    assert not np.array_equal(a.step_loss, c.step_loss)


def test_huge_learning_rate_diverges_cleanly_and_reports_the_step():
    # a deep linear net with a large step grows its weights geometrically until overflow
    cfg = Config(
        dataset="sparse_regression",
        hidden=(16, 16),
        activation="linear",
        optimizer="sgd",
        hparams={"lr": 1.0},
        eval_every=0,  # no epoch evaluation in between: the finite blow-up check never runs
    )
    tr = Trainer(cfg)
    h = tr.run()
    assert tr.done and h.diverged_at is not None and tr.divergence == h.message
    assert h.message.startswith(f"diverged at step {h.diverged_at}:")
    assert 1 < h.diverged_at < tr.total_steps
    # the non-finite step is not recorded; the history stops there and stays finite
    assert len(h.step_loss) == tr.steps_done == h.diverged_at - 1
    for v in _arrays(h).values():
        if v is not None:
            assert np.isfinite(v).all()
    tr.step()  # a finished trainer ignores further steps
    assert tr.steps_done == h.diverged_at - 1


def test_proximal_l1_gives_exact_zeros_subgradient_none():
    base = Config(
        dataset="sparse_classification",
        hidden=(16,),
        epochs=60,
        optimizer="sgd",
        hparams={"lr": 0.1},
        regularizer="l1",
        l1=0.01,
        snapshot_epochs=(60,),
    )
    prox = train(base.replace(l1_method="proximal"))
    sub = train(base.replace(l1_method="subgradient"))
    first = {k: h.layer_weights(60)[0] for k, h in (("prox", prox), ("sub", sub))}
    assert sparsity(first["prox"]).exact_fraction > 0.25
    assert sparsity(first["sub"]).exact_zeros == 0
    assert sparsity(first["sub"]).near_zeros > 0  # small, but never exactly zero


def test_penalty_and_objective_follow_the_regularizer():
    cfg = Config(epochs=3, regularizer="elastic", l1=0.01, l2=0.02, snapshot_every=1)
    h = train(cfg)
    for e in h.epochs:
        w = h.weights(e)
        assert h.penalty[e] == pytest.approx(0.01 * np.abs(w).sum() + 0.02 * (w**2).sum())
    np.testing.assert_array_equal(h.train_objective, h.train_loss + h.penalty)
    assert train(cfg.replace(regularizer="none")).penalty.max() == 0.0


def test_snapshots_at_chosen_epochs_are_copies_of_the_weights():
    tr = Trainer(Config(epochs=5, snapshot_epochs=(0, 2, 5)))
    w0 = tr.net.params.copy()
    h = tr.run()
    assert sorted(h.snapshots) == [0, 2, 5]
    np.testing.assert_array_equal(h.snapshots[0], w0)
    np.testing.assert_array_equal(h.snapshots[5], tr.net.params)
    assert [w.shape for w in h.layer_weights(2)] == [(2, 16), (16, 16), (16, 2)]


def test_recorded_gradient_norms_match_a_direct_computation():
    cfg = Config(hidden=(8, 8, 8), epochs=1, batch_size=16, record_grad_norms=True)
    tr = Trainer(cfg)
    ref = Trainer(cfg)  # same weights, not stepped
    order = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(2)[0]).permutation(
        len(ref.data.y_train)
    )
    idx = order[:16]
    _, g = ref.net.value_and_grad(ref.data.X_train[idx], ref.data.y_train[idx])
    h = tr.run(max_steps=1)
    assert h.grad_norms.shape == h.act_grad_norms.shape == (1, 4)
    np.testing.assert_allclose(h.grad_norms[0], [np.linalg.norm(w) for w in g.weights])
    np.testing.assert_allclose(h.act_grad_norms[0], [np.linalg.norm(a) for a in g.activations])


def test_one_optimizer_call_per_step_on_the_flat_buffer():
    tr = Trainer(Config(epochs=2, batch_size=50))
    calls = []
    real = tr.opt.step_

    def spy(params, grad, state):
        calls.append(params is tr.net.params)
        real(params, grad, state)

    tr.opt.step_ = spy
    tr.run()
    assert len(calls) == tr.steps_done == tr.total_steps == 2 * math.ceil(280 / 50)
    assert all(calls)


def test_run_epoch_and_published_views_are_read_only():
    tr = Trainer(Config(epochs=3, batch_size=100))
    tr.run_epoch()
    assert tr.epoch == 1 and tr.steps_done == tr.steps_per_epoch == 3
    h = tr.publish()
    assert len(h.val_loss) == 2
    with pytest.raises(ValueError):
        h.val_loss[0] = 0.0
    tr.run()
    assert len(h.val_loss) == 2  # an earlier view does not change as training goes on


def test_regression_and_shared_dataset():
    ds = make_dataset("sparse_regression", seed=3)
    h = train(Config(dataset="sparse_regression", epochs=20, hidden=(8,)), dataset=ds)
    assert h.train_acc is None and h.val_loss[-1] < h.val_loss[0]


def test_group_runs_variants_in_lockstep_and_a_diverging_one_stops_alone():
    lin = Config(dataset="sparse_regression", activation="linear", epochs=3, optimizer="sgd")
    good = Trainer(lin.replace(hparams={"lr": 1e-3}))
    bad = Trainer(lin.replace(hparams={"lr": 1.0}))
    group = TrainerGroup([good, bad])
    while not group.done:
        group.step()
    assert bad.publish().diverged_at is not None and good.publish().epochs_done == 3
    assert group.divergence is None and group.steps_done == group.total_steps
    assert len(group.publish()) == 2


@pytest.mark.parametrize(
    ("every", "evaluated"), [(3, [0, 3, 6, 7]), (0, [0, 7]), (1, list(range(8)))]
)
def test_eval_every_evaluates_only_chosen_epochs_and_leaves_training_unchanged(every, evaluated):
    """Skipping whole-dataset evaluations changes what is recorded, never the steps taken."""
    base = Config(epochs=7, batch_size=100, record_grad_norms=True, snapshot_epochs=(2, 7))
    full = Trainer(base)
    full.run()
    sparse = Trainer(base.replace(eval_every=every))
    h = sparse.run()
    assert h.epochs.tolist() == evaluated and h.epochs_done == 7
    np.testing.assert_array_equal(h.step_loss, full.publish().step_loss)
    np.testing.assert_array_equal(h.grad_norms, full.publish().grad_norms)
    np.testing.assert_array_equal(sparse.net.params, full.net.params)
    assert sorted(h.snapshots) == [2, 7]  # snapshots do not depend on evaluation
    keep = np.isin(full.publish().epochs, evaluated)
    np.testing.assert_array_equal(h.val_loss, full.publish().val_loss[keep])


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"regularizer": "l3"}, "Unknown regularizer"),
        ({"epochs": 10**6}, "Invalid epochs value"),
        ({"hidden": (1000,)}, "Invalid hidden width"),
        ({"hidden": (8,) * 201}, "Invalid depth"),
        ({"regularizer": "l1", "l1": -1.0}, "Invalid l1 value"),
        ({"l1_method": "magic"}, "Unknown l1_method"),
        ({"grad_clip": 0.0}, "Invalid grad_clip value"),
        ({"batch_size": 0}, "Invalid batch_size value"),
        ({"eval_every": -1}, "Invalid eval_every value"),
        ({"eval_every": 2, "patience": 3}, "need eval_every=1 with patience"),
    ],
)
def test_bad_config_raises_clear_message(changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        Config(**changes)


def test_unknown_optimizer_or_activation_fail_at_trainer_build():
    with pytest.raises(ValueError, match="Unknown optimizer"):
        Trainer(Config(optimizer="adamx"))
    with pytest.raises(ValueError, match="Unknown activation"):
        Trainer(Config(activation="swishy"))


def test_a_finite_blow_up_stops_the_run_as_exploded_at_its_epoch():
    # the same net evaluated every epoch: its loss passes 1000x its start long before overflow
    cfg = Config(
        dataset="sparse_regression",
        hidden=(16, 16),
        activation="linear",
        optimizer="sgd",
        hparams={"lr": 1.0},
    )
    tr = Trainer(cfg)
    h = tr.run()
    k = h.exploded_at
    assert k is not None and h.message.startswith(f"exploded at epoch {k}:")
    assert h.epochs[-1] == k and tr.done and tr.divergence == h.message
    last = max(h.train_loss[-1] / h.train_loss[0], h.val_loss[-1] / h.val_loss[0])
    assert last > 1e3 and np.isfinite(h.train_loss).all()
    # the epoch before was not yet a blow-up by the same rule
    assert max(h.train_loss[-2] / h.train_loss[0], h.val_loss[-2] / h.val_loss[0]) <= 1e3


def test_a_weight_beyond_the_bound_is_a_blow_up(monkeypatch):
    import engine.trainer as tm

    monkeypatch.setattr(tm, "BLOWUP_WEIGHT", 0.5)  # any trained weight passes it
    h = train(Config(epochs=5))
    assert h.exploded_at == 1 and "a weight reached" in h.message and "±0.5" in h.message


def test_a_healthy_run_never_counts_as_exploded():
    h = train(Config(epochs=30))
    assert h.exploded_at is None and h.diverged_at is None


def test_a_group_counts_the_steps_of_one_trainer_not_their_sum():
    from engine.trainer import TrainerGroup

    cfg = Config(epochs=3, batch_size=70)  # moons: 280 training rows -> 4 steps an epoch
    group = TrainerGroup([Trainer(cfg), Trainer(cfg.replace(patience=1)), Trainer(cfg)])
    assert group.total_steps == 12
    for _ in range(5):
        group.step()
    assert group.steps_done == 5
    while not group.done:
        group.step()
    assert group.steps_done == group.total_steps == 12
