"""Everything the race page SAYS is checked against its own numbers (issue 11).

Defaults valid for every surface x preset, "settled" and the ranking, the notes' momentum,
the per-coordinate learning rate and its captions, tuning floors / tie-breaks / grid edges,
clipped colour scales, the formula messages and the small fixes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine import optimizers, race, surfaces, tuning
from engine.basins import BASIN_TOL, basin_maps
from engine.formula import FormulaError, parse
from engine.race import TOL, Entry, default_entries, ranking, run_race
from pages.common import race_config as rc
from pages.common.urlstate import serialize
from viz import race as vr
from viz import race_inside as ri
from viz import race_tuning as rt

SURFACE_NAMES = (*surfaces.SURFACES, "custom")


def _preset_entry(label: str, lr: float) -> Entry:
    name, hparams = optimizers.PRESETS[label]
    return Entry(label, name, {**hparams, "lr": lr})


# --- 1. every surface x preset x slot: defaults valid by construction ----------------------
@pytest.mark.parametrize("surface", SURFACE_NAMES)
def test_every_preset_default_is_inside_its_knob_on_every_surface(surface):
    """What crashed Goldstein-Price: a per-surface default rate (5e-7) below the knob's
    minimum. Sweep every slot and preset: each knob builds (Knob validates its default), the
    default survives the URL round trip unchanged and the racer it makes is valid."""
    for i, preset in itertools.product(range(1, rc.MAX_ENTRIES + 1), optimizers.PRESETS):
        knobs = rc.entry_knobs(i, preset, surface)  # raises on an invalid default
        for knob in knobs:
            value, problem = knob.coerce(serialize(knob, knob.default))  # from the URL
            assert problem is None and value == knob.default, (surface, preset, knob.key)
            if knob.kind == "float":
                assert knob.lo <= knob.default <= knob.hi, (surface, preset, knob.key)
        flat = {k.extra["hparam"]: k.default for k in knobs}
        spec, problem = rc.racer(i, preset, flat)
        assert problem is None, (surface, preset, problem)
        optimizers.make(spec.optimizer, **dict(spec.hparams))
        assert rc.default_lr(surface, preset) == knobs[0].default


def test_goldstein_price_keeps_its_tiny_tuned_rates():
    """The knob's range now contains the tuned rates (no clamping needed on any surface)."""
    lr = next(k for k in optimizers.HPARAMS["sgd"] if k.key == "lr")
    for rates in race.DEFAULT_LRS.values():
        assert all(lr.lo <= r <= lr.hi for r in rates)
    assert rc.default_lr("goldstein_price", "Momentum") == 5e-7
    assert rc.default_lr("goldstein_price", "Nesterov") == 5e-7


def test_a_default_outside_the_range_is_clamped_not_raised(monkeypatch):
    monkeypatch.setitem(race.DEFAULT_LRS, "booth", (1e-12, 1e3, 0.2, 1.0, 0.6))
    assert rc.default_lr("booth", "SGD") == optimizers.catalog.LR_MIN
    assert rc.default_lr("booth", "Momentum") == optimizers.catalog.LR_MAX
    assert rc.entry_knobs(1, "SGD", "booth")[0].default == optimizers.catalog.LR_MIN


# --- 2. settled semantics and ranking --------------------------------------------------------
def _dist_to_min(path: np.ndarray, surface) -> np.ndarray:
    m = np.asarray(surface.minima, dtype=float)
    return np.sqrt(((path[:, None, :] - m[None]) ** 2).sum(-1)).min(axis=1)


def test_beale_rmsprop_lr_03_is_not_called_settled():
    """The issue's case: it enters the ball at step ~394 but ends 0.543 away at loss 0.276."""
    beale = surfaces.get("beale")
    e = run_race(beale, [_preset_entry("RMSProp", 0.3)], beale.default_start, 500).entries[0]
    assert e.steps_to_tol >= 0  # it did pass through the tolerance ball ...
    assert e.settled_at == -1  # ... but did not stay
    assert float(e.dist_to_min) == pytest.approx(0.543, abs=5e-4)
    assert float(e.final_loss) == pytest.approx(0.276, abs=5e-4)
    assert e.status == "not within 0.001 after 500 steps (distance 0.543)"
    board = vr.leaderboard(
        beale, run_race(beale, [_preset_entry("RMSProp", 0.3)], beale.default_start, 500)
    )
    assert board["settled at step"].iloc[0] is None


@pytest.mark.parametrize("name", sorted(surfaces.SURFACES))
def test_settled_at_means_within_tol_from_then_on(name):
    """For every default race (and Nesterov): 'settled at step k' <=> the path is within tol
    of a minimum at every step >= k and not at k - 1; no status says 'running'."""
    s = surfaces.get(name)
    entries = [*default_entries(name), _preset_entry("Nesterov", rc.default_lr(name, "Nesterov"))]
    res = run_race(s, entries, s.default_start, 500)
    for e in res.entries:
        assert "running" not in e.status and "converged" not in e.status
        if not s.minima or e.diverged_at >= 0:
            assert e.settled_at == -1
            continue
        inside = _dist_to_min(e.path, s) <= res.tol
        k = int(e.settled_at)
        if k >= 0:
            assert inside[k:].all() and (k == 0 or not inside[k - 1])
            assert e.status == f"settled at step {k:,}"
        else:
            assert not inside[-1]
            assert e.status.startswith(
                f"not within 0.001 after 500 steps (distance {float(e.dist_to_min):.3g})"
            )


def _page_race(name: str, labels: tuple[str, ...]):
    s = surfaces.get(name)
    entries = [_preset_entry(lbl, rc.default_lr(name, lbl)) for lbl in labels]
    return s, run_race(s, entries, s.default_start, 500)


def test_booth_ranks_settlers_by_steps_not_by_final_loss():
    """The issue: RMSProp (settles at 285) ranked above Momentum and Adam by final loss."""
    s, res = _page_race("booth", ("SGD", "Momentum", "RMSProp", "Adagrad", "Adam"))
    order = [res.entries[i].label for i in ranking(res, s.min_value)]
    settled = {e.label: int(e.settled_at) for e in res.entries}
    assert settled["RMSProp"] > settled["Adam"] > settled["Momentum"] > 0
    assert order.index("Momentum") < order.index("Adam") < order.index("RMSProp")
    # RMSProp's final loss is lower than Adam's and Momentum's: the old rule's winner
    loss = {e.label: float(e.final_loss) for e in res.entries}
    assert loss["RMSProp"] < min(loss["Adam"], loss["Momentum"])
    assert order[-1] == "Adagrad"  # did not settle: after every racer that did
    table = vr.leaderboard(s, res)
    assert list(table["racer"]) == order and list(table.index) == [1, 2, 3, 4, 5]


def test_himmelblau_nesterov_ranks_above_adam_both_at_loss_zero():
    s, res = _page_race("himmelblau", ("Adam", "Nesterov"))
    adam, nesterov = res.entries
    assert 0 <= nesterov.settled_at < adam.settled_at
    assert [res.entries[i].label for i in ranking(res, s.min_value)] == ["Nesterov", "Adam"]


def test_ranking_puts_diverged_last_and_says_its_rule():
    s = surfaces.get("rosenbrock")
    res = run_race(
        s,
        [_preset_entry("SGD", 1.0), _preset_entry("SGD", 1e-3), _preset_entry("Adam", 0.1)],
        s.default_start,
        300,
    )
    order = ranking(res, s.min_value)
    assert order[-1] == 0 and res.entries[0].diverged_at >= 0
    assert "settled within tolerance first" in vr.leaderboard_rule(s, res)
    assert "0.001" in vr.leaderboard_rule(s, res)


def test_one_tolerance_for_the_whole_page():
    assert BASIN_TOL == TOL == run_race.__kwdefaults__["tol"]
    assert tuning.tune_lr.__kwdefaults__["tol"] == TOL
    assert tuning.sensitivity_map.__kwdefaults__["tol"] == TOL
    himmel = surfaces.get("himmelblau")
    res = basin_maps(himmel, [_preset_entry("SGD", 0.01)], n=10, steps=200)
    assert res.tol == TOL
    # a basin label is exactly the leaderboard's "settled" for the same start
    xs, ys = res.xs, res.ys
    for j, i in ((0, 0), (5, 5), (9, 2)):
        one = run_race(himmel, [_preset_entry("SGD", 0.01)], (xs[i], ys[j]), 200).entries[0]
        assert (res.maps[0].label[j, i] >= 0) == (one.settled_at >= 0)
        assert res.maps[0].steps[j, i] == one.settled_at


def test_a_non_finite_region_is_a_stop_not_a_blow_up():
    s = rc.FormulaSpec("log(x) + y**2", ((-1.0, 3.0), (-2.0, 2.0)), None).surface()
    e = run_race(s, [_preset_entry("SGD", 3.0)], (0.5, 1.0), 50).entries[0]
    assert e.diverged_at >= 0 and bool(e.nonfinite_stop)
    assert e.status == f"stopped at step {int(e.diverged_at)}: f is not finite there"
    message = vr.stop_message(e)
    assert "not finite" in message and "grew without bound" not in message
    blown = run_race(surfaces.get("rosenbrock"), [_preset_entry("SGD", 1.0)], (-1.5, 2.0), 50)
    b = blown.entries[0]
    assert not bool(b.nonfinite_stop) and "grew without bound" in vr.stop_message(b)


# --- 3. the notes' momentum ----------------------------------------------------------------
def test_notes_momentum_matches_a_hand_written_loop():
    s = surfaces.get("rosenbrock")
    beta, lr, steps = 0.9, 0.01, 400
    theta, v = np.array(s.default_start, dtype=float), np.zeros(2)
    path = [theta.copy()]
    for _ in range(steps):
        v = beta * v + (1 - beta) * s.grad(theta)
        theta = theta - lr * v
        path.append(theta.copy())
    res = run_race(s, [_preset_entry("Momentum (notes, v0 = 0)", lr)], s.default_start, steps)
    np.testing.assert_allclose(res.entries[0].path, np.array(path), rtol=1e-12, atol=1e-14)
    assert float(res.entries[0].final_loss) == pytest.approx(0.01166, abs=1e-5)


def test_rosenbrock_lr_001_torch_ema_diverges_notes_ema_does_not():
    s = surfaces.get("rosenbrock")
    torch_style, notes = run_race(
        s,
        [_preset_entry("Momentum (EMA)", 0.01), _preset_entry("Momentum (notes, v0 = 0)", 0.01)],
        s.default_start,
        500,
    ).entries
    assert torch_style.status == "diverged at step 9"
    assert notes.diverged_at == -1 and float(notes.final_loss) < 0.01
    # the one-line difference: the first step is (1 - β) times torch's
    first_torch = np.linalg.norm(torch_style.path[1] - torch_style.path[0])
    first_notes = np.linalg.norm(notes.path[1] - notes.path[0])
    assert first_notes == pytest.approx(0.1 * first_torch, rel=1e-12)


# --- 4. per-coordinate learning rate and the captions -------------------------------------
def test_coordinate_lr_is_the_formula_and_adagrads_only_shrinks():
    s = surfaces.get("ill_conditioned")
    res = run_race(
        s,
        [_preset_entry("Adagrad", 1.0), _preset_entry("RMSProp", 0.1), _preset_entry("Adam", 0.1)],
        s.default_start,
        50,
        record_state=True,
    )
    ada, rms, adam = res.entries
    g = np.array([s.grad(p) for p in ada.path[:-1]])  # gradients the steps used
    by_hand = 1.0 / (np.sqrt(np.cumsum(g**2, axis=0)) + 1e-10)
    np.testing.assert_allclose(ada.state["coordinate_lr"][1:], by_hand, rtol=1e-12)
    assert ri.only_shrinks(ri.coordinate_lr_series(ada))
    # the contradiction: ‖Δθ‖/‖g‖ rises while every per-coordinate rate shrinks
    eff = ada.state["effective_lr"][1:]
    assert eff[-1] > eff[0]
    assert not ri.only_shrinks(ri.coordinate_lr_series(rms))
    assert ri.rises(ri.coordinate_lr_series(adam))
    sgd = run_race(s, [_preset_entry("SGD", 0.01)], s.default_start, 5, record_state=True)
    assert "coordinate_lr" not in sgd.entries[0].state


@pytest.mark.parametrize("name", sorted(surfaces.SURFACES))
def test_inside_captions_state_only_what_the_chart_shows(name):
    s = surfaces.get(name)
    labels = ("SGD", "Momentum", "RMSProp", "Adagrad", "Adam", "NAdam")
    entries = [_preset_entry(lbl, rc.default_lr(name, lbl)) for lbl in labels]
    res = run_race(s, entries, s.default_start, 300, record_state=True)
    caption = ri.inside_caption(res)
    fig = ri.inside_figure(res, 10)
    for e in res.entries:
        series = ri.coordinate_lr_series(e)
        plotted = [
            np.array([np.nan if v is None else v for v in t.y], dtype=float)
            for t in fig.data
            if t.name == e.label and t.xaxis in ("x", None) and t.yaxis in ("y", None)
        ]
        if series is None:
            assert f"{e.label}'s per-coordinate" not in caption
            continue
        assert len(plotted) == 2  # x and y lines on the first panel
        if f"{e.label}'s per-coordinate rate only shrinks" in caption:
            for y in plotted:
                y = y[np.isfinite(y)]
                assert np.all(np.diff(y) <= 1e-12 * y[:-1]), e.label
        if f"{e.label}'s per-coordinate rate rises again" in caption:
            assert any(
                np.any(y[np.isfinite(y)] > 1.01 * np.minimum.accumulate(y[np.isfinite(y)]))
                for y in plotted
            ), e.label


# --- 5. tuning: floors, tie-breaks, grid edges, colour scales ------------------------------
def test_tuning_ties_below_tol_go_to_fewer_steps_then_the_smaller_rate():
    """ill_conditioned from (1, 0): SGD's x_t = (1 − lr)^t. lr = 1 lands on the minimum at
    step 1; lr = 0.5 and 1.5 contract at the same |0.5| per step (same settle step); all end
    far below the tolerance, so their scores tie at the floor."""
    s = surfaces.get("ill_conditioned")
    sgd = Entry("SGD", "sgd", {"lr": 0.5})
    three = tuning.tune_lr(s, sgd, (1.0, 0.0), 60, grid=np.array([0.5, 1.0, 1.5]))
    assert np.all(three.scores == TOL)  # floored: 1e-36 vs 0 vs 1e-36 are a tie
    assert three.best_lr == 1.0 and three.steps[1] == 1
    two = tuning.tune_lr(s, sgd, (1.0, 0.0), 60, grid=np.array([0.5, 1.5]))
    assert two.steps[0] == two.steps[1] and two.best_lr == 0.5 and two.at_edge
    # the same rule in the sensitivity map (ties -> fewer steps -> smaller lr -> smaller knob)
    sens = tuning.sensitivity_map(
        s, sgd, (1.0, 0.0), 60, lrs=np.array([0.5, 1.0, 1.5]), knob_values=np.array([0.0, 0.1])
    )
    assert sens.best_lr == 1.0 and sens.best_knob == 0.0 and not sens.at_edge


def test_a_zero_score_stays_on_the_log_axis_and_the_floor_is_drawn():
    s = surfaces.get("ill_conditioned")
    res = tuning.tune_lr(
        s, Entry("SGD", "sgd", {"lr": 0.5}), (1.0, 0.0), 60, grid=np.array([0.5, 1.0, 1.5])
    )
    fig = rt.score_curves([res])
    line = next(t for t in fig.data if t.mode == "lines+markers")
    assert [v for v in line.y] == [TOL, TOL, TOL]  # lr = 1 reaches f − f* = 0 exactly
    assert any("scores below it are drawn on it" in a.text for a in fig.layout.annotations)
    table = rt.tuning_table([res])
    assert table["tuned score"] == ["≤ 0.001"] and table["default score"] == ["≤ 0.001"]


def test_sensitivity_colours_are_clipped_and_the_clip_is_stated():
    booth = surfaces.get("booth")
    sens = tuning.sensitivity_map(booth, _preset_entry("Adam", 0.6), booth.default_start, 500)
    assert np.nanmin(sens.scores) == TOL  # raw gaps reach 1e-160 and below
    fig = rt.sensitivity_figure(sens)
    heat = next(t for t in fig.data if t.name == "score")
    assert heat.zmin == pytest.approx(-3.0)
    assert heat.zmax <= -3.0 + rt.LOG_DECADES
    assert np.nanmin(np.array(heat.z, dtype=float)) >= -3.0
    assert "≤ 0.001 drawn as 0.001" in heat.colorbar.title.text


def test_booth_fair_race_flags_adagrad_at_the_grid_edge():
    booth = surfaces.get("booth")
    res = tuning.tune_entries(booth, default_entries("booth"), booth.default_start, 500)
    by = {r.label: r for r in res}
    assert by["Adagrad"].best_lr == 10.0 and by["Adagrad"].at_edge
    assert not any(r.at_edge for r in res if r.label != "Adagrad")
    for r in res:  # never worse than the racer's own rate, under the floored score
        assert (
            r.best_score,
            float(r.steps[r.best_index]) if r.source == "grid" else r.default_steps,
        ) <= (
            r.default_score,
            r.default_steps,
        )


# --- 6. formulas and the small items -------------------------------------------------------
@pytest.mark.parametrize("text", ["x+", "x**2 +", "x*", "sin(x) -"])
def test_a_trailing_operator_puts_the_caret_after_the_last_character(text):
    with pytest.raises(FormulaError) as err:
        parse(text)
    assert err.value.column == len(text) + 1  # was 0: the caret sat at column 0


@pytest.mark.parametrize(("text", "column"), [("(x", 1), ("sin(", 4)])
def test_an_unclosed_parenthesis_points_at_the_parenthesis(text, column):
    with pytest.raises(FormulaError) as err:
        parse(text)
    assert err.value.column == column


def test_rejected_formula_messages_are_literal_text():
    spec, _, error = rc.formula_spec({**_formula_values(""), "formula": ""})
    escaped = rc.markdown_escape(error["message"])
    assert "x\\*\\*2" in escaped and "**" not in escaped.replace("\\*\\*", "")
    note = rc.rejected_note({"text": "x + foo(y)"}, spec)
    assert note.startswith("Your formula: `x + foo(y)`") and rc.DEFAULT_FORMULA in note


def _formula_values(text: str) -> dict:
    return {"formula": text, "xmin": -5.0, "xmax": 5.0, "ymin": -5.0, "ymax": 5.0, "fmin": ""}


def test_the_fallback_example_is_bounded_below():
    f = rc.FormulaSpec(rc.DEFAULT_FORMULA, ((-5.0, 5.0), (-5.0, 5.0))).surface().f
    g = np.linspace(-1e3, 1e3, 401)
    xy = np.stack(np.meshgrid(g, g), axis=-1)
    assert np.min(f(xy)) >= -1.0
    assert np.min(f(np.array([[0.0, 1e8], [1e8, 0.0]]))) > 0


def test_a_surface_change_keeps_hand_set_rates_and_moves_defaults():
    old = rc.default_lr("rosenbrock", "Adam")
    assert rc.follow_surface(old, "Adam", "rosenbrock", "booth") == rc.default_lr("booth", "Adam")
    assert rc.follow_surface(0.0123, "Adam", "rosenbrock", "booth") == 0.0123
    assert rc.follow_surface(None, "Adam", "rosenbrock", "booth") == rc.default_lr("booth", "Adam")
