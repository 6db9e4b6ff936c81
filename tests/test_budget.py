"""engine.budget: estimates bound the measured memory; decisions, limits and queue waits.

Memory checks are deterministic (tracemalloc counts the arrays the computation allocates);
time checks are not, so estimated-vs-measured seconds live in ``python -m bench.budget``.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from engine import basins, budget, race, reg_lab, tuning
from engine import gradflow as gf
from engine import netrace as nr
from engine.budget import Estimate, Limits, Verdict
from engine.gradflow_presets import DataSpec, FlowConfig
from engine.knobs import BUDGET_KNOBS, validate_all
from engine.optimizers import PRESETS
from engine.surfaces import get as get_surface
from pages.common import race_config, reg_config

MB = 1024**2


def _lab(**query):
    n = int(query.get("nv", 4))
    values, problems = validate_all(reg_config.all_knobs(n), {k: str(v) for k, v in query.items()})
    assert not problems
    return reg_config.lab_from_values(values)[0]


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "query",
    [
        {"epochs": 20},
        {"epochs": 2, "n": 400, "feat": 256, "width": 128, "depth": 2, "batch": 64},
        {"data": "moons", "n": 1000, "epochs": 3, "batch": 500, "width": 256, "depth": 3},
        {"nv": 2, "epochs": 4, "batch": 2},
    ],
    ids=["default-short", "wide-sparse", "full-batch-moons", "batch-2"],
)
def test_reg_lab_estimate_bounds_the_measured_peak(query):
    lab = _lab(**query)
    est = budget.reg_lab(lab)
    measured = _peak(lambda: reg_lab.TwinRuns(lab).run())
    assert measured <= est.peak_bytes
    assert est.peak_bytes <= 4 * measured + 16 * MB  # and not absurdly loose


@pytest.mark.parametrize(
    ("configs", "spec"),
    [
        (gf.SLOT_DEFAULTS[:3], DataSpec()),
        ((FlowConfig(depth=60, width=256), FlowConfig(depth=40, activation="sigmoid")),
         DataSpec(batch=512)),
        ((FlowConfig(depth=120, width=64, residual=True),), DataSpec(batch=1024)),
    ],
    ids=["page-default", "deep-wide", "residual"],
)  # fmt: skip
def test_gradflow_profile_estimate_bounds_the_measured_peak(configs, spec):
    est = budget.gradflow_profiles(configs, spec)
    measured = _peak(lambda: gf.profiles(configs, spec, memo=False))
    assert measured <= est.peak_bytes <= 4 * measured + 16 * MB


def test_gradflow_training_estimate_bounds_the_measured_peak():
    configs, spec, steps = (FlowConfig(depth=30, width=128),) * 2, DataSpec(batch=128), 4
    est = budget.gradflow_training(configs, spec, steps, "sgd", 0.01)

    def run():
        task = gf.FlowTraining(configs, spec, steps, "sgd", 0.01)
        while not task.done:
            task.step()

    measured = _peak(run)
    assert measured <= est.peak_bytes <= 4 * measured + 16 * MB
    assert est.steps == steps and est.step_seconds > 0


def _net_racers(n: int, **config) -> nr.NetRaceConfig:
    labels = ("SGD", "Momentum", "RMSProp", "Adagrad", "Adam")[:n]
    racers = []
    for label in labels:
        name, hp = PRESETS[label]
        hp = {**hp, "lr": nr.network_lr(label)}
        racers.append(nr.Racer(label, name, tuple(sorted(hp.items()))))
    return nr.NetRaceConfig(tuple(racers), **config)


NET_RACES = {
    "default": (_net_racers(5, epochs=10), nr.LandscapeSpec()),
    # 64-wide: a work item holds 20 points, fewer than a path (the items must split paths)
    "wide": (_net_racers(3, hidden=(64, 64), epochs=8), nr.LandscapeSpec(grid=21)),
    "relu-spirals": (
        _net_racers(2, activation="relu", dataset="spirals", epochs=5),
        nr.LandscapeSpec(grid=15, mode="random"),
    ),
}


@pytest.mark.parametrize("case", NET_RACES)
def test_network_race_estimate_bounds_the_measured_peak(case):
    config, spec = NET_RACES[case]
    est = nr.budget_estimate(config, spec)
    measured = _peak(lambda: nr.NetRace(config, landscape_spec=spec).run())
    assert measured <= est.peak_bytes <= 4 * measured + 16 * MB


@pytest.mark.parametrize("case", NET_RACES)
def test_network_race_estimate_counts_every_loss_evaluation_in_bounded_items(case, monkeypatch):
    """The landscape's work items each evaluate at most ``chunk`` parameter vectors (one
    item's time is bounded: a stop lands within it), and the estimate prices at least every
    vector the build evaluates, in at least as many items."""
    from engine import landscape as ls

    config, spec = NET_RACES[case]
    result = nr.NetRace(config).run()
    build = nr.LandscapeBuild(result, spec)
    evaluated = []
    real = ls.losses_at
    monkeypatch.setattr(
        ls, "losses_at", lambda s, t, *a, **k: evaluated.append(len(t)) or real(s, t, *a, **k)
    )
    per_item = []
    while not build.done:
        before = sum(evaluated)
        build.step()
        per_item.append(sum(evaluated) - before)
    assert max(per_item) <= build.chunk
    land = nr.landscape_estimate(config, spec).cost
    item = budget.mlp_pass(
        result.shape.sizes, len(result.data.y_train), backward=False, activation=config.activation
    )
    assert land.flops >= sum(evaluated) * item.flops
    assert land.transcendentals >= sum(evaluated) * item.transcendentals
    job = nr.budget_estimate(config, spec)
    assert job.steps >= result.total_steps + build.total


def test_race_analyses_estimates_bound_the_measured_peak():
    surface = get_surface("himmelblau")
    entries = race.default_entries("himmelblau")[:2]
    est = budget.basins(len(entries), 30, 200)
    measured = _peak(lambda: basins.basin_maps(surface, entries, n=30, steps=200))
    assert measured <= est.peak_bytes
    est = budget.seed_ensemble(1, 50, 300)
    measured = _peak(
        lambda: basins.seed_cloud(surface, entries[0], (0.0, 0.0), 300, noise_std=0.5, n_seeds=50)
    )
    assert measured <= est.peak_bytes
    est = budget.tuning(1, 300)
    measured = _peak(lambda: tuning.tune_lr(surface, entries[0], (0.0, 0.0), 300))
    assert measured <= est.peak_bytes


def test_the_crafted_links_of_issue_9_are_refused_by_default():
    """The gradients link held 9.1 GB, the lab link's run had an ETA of ~48 h."""
    big = [replace_cfg(c, depth=200, width=512) for c in gf.SLOT_DEFAULTS]
    at_init = budget.gradflow_profiles(big, DataSpec(batch=1024))
    assert at_init.peak_bytes > 6 * 1024 * MB
    assert budget.decide(at_init, Limits()).verdict is Verdict.REFUSE
    lab = budget.reg_lab(_lab(n=5000, width=256, depth=4, epochs=2000, batch=1, feat=512))
    assert lab.seconds > 12 * 3600
    decision = budget.decide(lab, Limits())
    assert decision.verdict is Verdict.REFUSE and "hard cap" in decision.message


def replace_cfg(cfg: FlowConfig, **changes) -> FlowConfig:
    from dataclasses import replace

    return replace(cfg, **changes)


def test_the_default_links_start_by_themselves():
    assert budget.decide(budget.reg_lab(reg_lab.DEFAULT_LAB), Limits()).may_autostart
    at_init = budget.gradflow_profiles(gf.SLOT_DEFAULTS[:3], DataSpec())
    assert budget.decide(at_init, Limits()).may_autostart


def test_every_race_analysis_at_its_caps_fits_the_per_request_budget():
    """The race page computes these inline without a gate: at the caps of its knobs they must
    stay within the budget (raise a cap past it and this fails: add a gate then)."""
    caps = {k.key: k.hi for k in race_config.STATIC_KNOBS if k.kind == "int"}
    n, steps = int(caps["n"]), int(caps["steps"])
    lim = Limits()
    for est in (
        budget.race_estimate(n, steps),
        budget.basins(n, int(caps["grid"]), basins.BASIN_STEPS),
        budget.tuning(n, steps, record=True),
        budget.sensitivity(steps),
        budget.seed_ensemble(n, int(caps["seeds"]), steps),
    ):
        assert budget.decide(est, lim).verdict is Verdict.RUN, est


def _est(seconds=1.0, mb=1.0, step=0.0) -> Estimate:
    return Estimate("the work", seconds, mb * MB, step)


@pytest.mark.parametrize(
    ("est", "verdict", "words"),
    [
        (_est(10, 100), Verdict.RUN, "about 10 s, 100 MB"),
        (_est(180, 100), Verdict.ASK, "about 3 min, 100 MB"),
        (_est(10, 1200), Verdict.ASK, "1.2 GB"),
        (_est(10, 3000), Verdict.REFUSE, "memory"),
        (_est(7200, 10), Verdict.REFUSE, "compute"),
        (_est(10, 10, step=2.0), Verdict.REFUSE, "Stop"),
    ],
)
def test_decide(est, verdict, words):
    decision = budget.decide(est, Limits())
    assert decision.verdict is verdict
    assert words in decision.message


def test_limits_come_from_the_knobs_and_environment():
    assert Limits.from_env({}) == Limits()
    assert {k.key: k.default for k in BUDGET_KNOBS} == Limits().__dict__
    lim = Limits.from_env({"BUDGET_SOFT_MB": "1024", "BUDGET_HARD_S": "nan"})
    assert lim.soft_mb == 1024 and lim.hard_s == Limits().hard_s  # bad value: the default


def test_queue_eta_simulates_the_jobs_ahead():
    assert budget.queue_eta([], [], 2) == 0.0
    assert budget.queue_eta([5.0], [], 2) == 0.0  # a free worker
    assert budget.queue_eta([5.0, 8.0], [], 2) == 5.0
    assert budget.queue_eta([5.0, 8.0], [10.0], 2) == 8.0  # the 10 s job takes the 5 s slot
    assert budget.queue_eta([5.0, 8.0], [10.0, 1.0], 2) == 9.0


def test_format():
    assert budget.fmt_duration(0.2) == "under a second"
    assert budget.fmt_duration(175) == "3 min"
    assert budget.fmt_duration(48 * 3600 * 4) == "8 days"
    assert budget.fmt_bytes(1.2 * 1024**3) == "1.2 GB"
    assert budget.Estimate("work", 175, 1.2 * 1024**3).text == "about 3 min, 1.2 GB"
    assert budget.Estimate("work", 0.2, 13 * 1024**2).text == "under a second, 13 MB"


def test_rates_probe_is_positive_and_cached():
    budget.set_rates(None)
    rates = budget.machine_rates()
    assert rates.measured and budget.machine_rates() is rates
    assert rates.flops_per_s > 0 and rates.elems_per_s > 0 and rates.seconds_per_call > 0
    assert np.isfinite(rates.seconds(budget.mlp_pass((10, 10), 4)))


def test_unknown_estimator_is_a_clear_error_and_new_ones_register():
    with pytest.raises(ValueError, match="No cost estimator for 'nope'"):
        budget.estimate("nope")
    budget.register("demo", lambda: _est(1, 1))
    try:
        assert budget.estimate("demo").seconds == 1
    finally:
        budget.ESTIMATORS.pop("demo")
