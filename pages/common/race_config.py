"""The Optimizer-race page's knobs, declared once as data, and the config they produce.

No Streamlit here: this module only turns surface/preset tables into :class:`Knob` tuples and
validated values into a :class:`RaceConfig`, so tests and the README caps table use the same
data the page does. URL keys are short: ``surface, n, steps, x0, y0, noise, seed`` and per entry
``i = 1..6``: ``e<i>`` (preset label), ``lr<i>`` and the advanced hyperparameters
``m<i>, d<i>, wd<i>, nes<i>, a<i>, eps<i>, c<i>, lrd<i>, acc<i>, b1_<i>, b2_<i>, ams<i>, bc<i>,
md<i>, dwd<i>, rho<i>`` (see :data:`SHORT`).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, replace
from typing import Any

from engine import optimizers, race, surfaces, tuning
from engine.basins import MAX_GRID
from engine.knobs import Knob
from engine.surfaces import Surface

MAX_ENTRIES = 6
MAX_STEPS = 5000

SHORT = {
    "momentum": "m",
    "dampening": "d",
    "weight_decay": "wd",
    "nesterov": "nes",
    "alpha": "a",
    "eps": "eps",
    "centered": "c",
    "lr_decay": "lrd",
    "initial_accumulator_value": "acc",
    "beta1": "b1_",
    "beta2": "b2_",
    "amsgrad": "ams",
    "bias_correction": "bc",
    "momentum_decay": "md",
    "decoupled_weight_decay": "dwd",
    "rho": "rho",
    "zero_init": "z",
}
"""Hyperparameter name -> URL key prefix; the entry number follows (``b1_`` + ``2``)."""

SLOT_DEFAULTS = (*race.DEFAULT_LABELS, "Nesterov")
"""The preset each entry slot starts with (the engine's default race, then Nesterov)."""

# Presets whose default lr borrows another preset's per-surface rate (same update family).
_LR_FAMILY = {
    "Momentum (EMA)": "SGD",
    "Momentum (notes, v0 = 0)": "SGD",
    "Nesterov": "Momentum",
    "Adam (no bias correction)": "Adam",
    "AdamW": "Adam",
    "NAdam": "Adam",
}

CUSTOM = "custom"
"""The surface choice that races on the user's own formula (``formula``, domain, ``fmin``)."""

SURFACE = Knob(
    "surface",
    "Surface",
    "choice",
    surfaces.DEFAULT_SURFACE,
    choices=(*surfaces.SURFACES, CUSTOM),
    help="The 2D loss landscape the optimizers race on ('custom': type your own f(x, y)).",
)
N_ENTRIES = Knob(
    "n",
    "Racers",
    "int",
    len(race.DEFAULT_LABELS),
    lo=1,
    hi=MAX_ENTRIES,
    cap=True,
    help=f"How many optimizers race (up to {MAX_ENTRIES}).",
)
STEPS = Knob(
    "steps",
    "Steps",
    "int",
    race.DEFAULT_STEPS,
    lo=1,
    hi=MAX_STEPS,
    step=50,
    cap=True,
    help=f"Optimizer steps per racer (at most {MAX_STEPS:,}).",
)
NOISE = Knob(
    "noise",
    "Gradient noise σ",
    "float",
    0.0,
    lo=0.0,
    hi=100.0,
    step=0.1,
    cap=True,
    help="Standard deviation of Gaussian noise added to every gradient (a stand-in for "
    "minibatch noise).",
)
SEED = Knob(
    "seed",
    "Noise seed",
    "int",
    0,
    lo=0,
    hi=2**31 - 1,
    help="Same seed, same noise: the race is reproducible.",
)
# --- the analysis views ---------------------------------------------------------------------
VIEWS = {
    "race": "The race: every racer from one start, animated.",
    "basins": "Basins of attraction: run every racer from a grid of starts and colour each "
    "start by the minimum it reaches. Click a cell to race from there.",
    "sensitivity": "Sensitivity: one racer's score over learning rate × its second knob. "
    "Click a cell to race with that setting.",
    "network": "On a network: the same racers train a real neural network; the loss "
    "landscape around their trajectories, animated.",
}
VIEW = Knob("view", "View", "choice", "race", choices=tuple(VIEWS), help="What the page shows.")
TUNE = Knob(
    "tune",
    "Fair race: tune each learning rate",
    "bool",
    False,
    help="Search each racer's learning rate on a log grid (1e-4..10, 25 points) with the same "
    "step budget, and race with the winners.",
)
CRIT = Knob(
    "crit",
    "Tuning criterion",
    "choice",
    "gap",
    choices=tuple(tuning.CRITERIA),
    help="gap: final loss gap f − f*; dist: distance to the nearest minimum; auc: area under "
    "the log-loss curve (rewards getting low early); steps: steps to reach the tolerance.",
)
RATES = Knob(
    "rates",
    "Race with",
    "choice",
    "tuned",
    choices=("tuned", "default"),
    help="Show the race with the tuned learning rates or with the racers' own.",
)
GRID = Knob(
    "grid",
    "Basin grid (starts per side)",
    "int",
    60,
    lo=10,
    hi=MAX_GRID,
    step=10,
    cap=True,
    help=f"Starts per side of the basin map grid (at most {MAX_GRID} x {MAX_GRID}).",
)
BMODE = Knob(
    "bmode",
    "Colour cells by",
    "choice",
    "basin",
    choices=("basin", "steps"),
    help="basin: which minimum each start reaches; steps: how many steps it takes (log).",
)


def sens_knob(n: int) -> Knob:
    """``sens``: which of the ``n`` racers the sensitivity map sweeps (default: racer 2)."""
    return Knob(
        "sens",
        "Racer to map",
        "int",
        min(2, n),
        lo=1,
        hi=n,
        help="Which racer's learning rate × second knob to map.",
    )


KNOB2_AUTO = "auto"
KNOB2 = Knob(
    "knob",
    "Second knob",
    "choice",
    KNOB2_AUTO,
    choices=(KNOB2_AUTO, *dict.fromkeys(k.name for ks in tuning.SECOND_KNOBS.values() for k in ks)),
    help="The sensitivity map's vertical axis (auto: momentum, β₁, α or ρ by optimizer).",
)
SEEDS = Knob(
    "seeds",
    "Noisy runs (seeds)",
    "int",
    20,
    lo=1,
    hi=200,
    cap=True,
    help="With noise σ > 0: how many seeds to run (mean path, spread band, end-point cloud).",
)
DEFAULT_FORMULA = "sin(x)*cos(y) + 0.1*(x**2 + y**2)"
"""The example surface (and the fallback for a rejected formula): several basins, bounded
below (f ≥ -1 everywhere), so no racer can fall forever."""
FORMULA = Knob(
    "formula",
    "Your formula f(x, y)",
    "text",
    DEFAULT_FORMULA,
    max_len=300,
    cap=True,
    help="Your own surface: + - * / **, numbers, x, y, pi, e and functions such as sin, exp, "
    "log, sqrt, abs, tanh. Checked by an allowlist, never evaluated as Python.",
)
_BOUND = 1000.0
DOMAIN = tuple(
    Knob(key, label, "float", default, lo=-_BOUND, hi=_BOUND, step=0.5)
    for key, label, default in (
        ("xmin", "x from", -5.0),
        ("xmax", "x to", 5.0),
        ("ymin", "y from", -5.0),
        ("ymax", "y to", 5.0),
    )
)
FMIN = Knob(
    "fmin",
    "Known minimum (x, y), optional",
    "text",
    "",
    max_len=60,
    help="e.g. '0, 0': enables distance and steps-to-tolerance scores and the ★ on the map.",
)

ANALYSIS_KNOBS = (VIEW, TUNE, CRIT, RATES, GRID, BMODE, KNOB2, SEEDS)
FORMULA_KNOBS = (FORMULA, *DOMAIN, FMIN)
STATIC_KNOBS = (SURFACE, N_ENTRIES, STEPS, NOISE, SEED, *ANALYSIS_KNOBS, *FORMULA_KNOBS)


def step_knob(steps: int) -> Knob:
    """``at``: the step both the map opens on and the inside-the-optimizer charts mark."""
    return Knob(
        "at",
        "Step shown",
        "int",
        int(steps),
        lo=0,
        hi=int(steps),
        help="The map opens on this step and the charts below mark it (▶ Play replays).",
        extra={"slider": True},
    )


@dataclass(frozen=True)
class FormulaSpec:
    """A user surface: the formula text, its domain and an optional known minimizer."""

    text: str
    domain: tuple[tuple[float, float], tuple[float, float]]
    minimum: tuple[float, float] | None = None

    def surface(self) -> Surface:
        return _formula_surface(self.text, self.domain, self.minimum)


@functools.lru_cache(maxsize=64)
def _formula_surface(text, domain, minimum) -> Surface:
    """Compile once per (text, domain, minimum); a Surface holds closures, so it is cached here
    (in-process) rather than pickled by ``st.cache_data``."""
    return surfaces.from_formula(text, domain, minimum)


def parse_point(text: str) -> tuple[float, float] | None:
    """``"1, -2"`` (or ``"(1, -2)"``) -> ``(1.0, -2.0)``; empty -> ``None``; else ValueError."""
    body = text.strip().strip("()").strip()
    if not body:
        return None
    parts = [p.strip() for p in body.replace(";", ",").split(",")]
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"'{text}' is not a point 'x, y'") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"'{text}' is not a finite point")
    return (x, y)


def formula_spec(values: dict[str, Any]) -> tuple[FormulaSpec, list[str], dict | None]:
    """Validate the custom-surface knobs (already coerced to their types) into a spec.

    Returns ``(spec, problems, error)``: ``problems`` are warning sentences (bad domain or
    minimum: replaced by the default domain / no minimum); ``error`` is ``None`` or
    ``{"message", "column", "text"}`` when the formula itself is rejected (the spec then uses
    :data:`DEFAULT_FORMULA` so the page keeps working).
    """
    problems: list[str] = []
    xmin, xmax, ymin, ymax = (float(values[k.key]) for k in DOMAIN)
    domain = ((xmin, xmax), (ymin, ymax))
    if not (xmin < xmax and ymin < ymax):
        problems.append(
            f"Domain x ∈ [{xmin:g}, {xmax:g}], y ∈ [{ymin:g}, {ymax:g}] is empty (need from < to);"
            " using [-5, 5] x [-5, 5] instead."
        )
        domain = ((-5.0, 5.0), (-5.0, 5.0))
    try:
        minimum = parse_point(values[FMIN.key])
    except ValueError as err:
        problems.append(f"Known minimum (fmin): {err}; racing without a known minimum.")
        minimum = None
    text = str(values[FORMULA.key])
    error = None
    for candidate in (text, DEFAULT_FORMULA):
        try:
            spec = FormulaSpec(candidate, domain, minimum)
            spec.surface()
            return spec, problems, error
        except ValueError as err:
            if error is None:
                error = {"message": str(err), "column": getattr(err, "column", None), "text": text}
            if minimum is not None and "minimum" in str(err):
                problems.append(f"Known minimum (fmin): {err}; racing without a known minimum.")
                minimum = None
    spec = FormulaSpec(DEFAULT_FORMULA, ((-5.0, 5.0), (-5.0, 5.0)), None)
    return spec, problems, error


def default_lr(surface_name: str, preset: str) -> float:
    """The starting learning rate of ``preset`` on ``surface_name``, inside the lr knob's range.

    The engine's default race tunes SGD, Momentum, RMSProp, Adagrad and Adam per surface; a
    variant borrows its family's rate; Adadelta keeps torch's lr = 1. The rate is clamped into
    the learning-rate knob's range, so no surface x preset default can make the knob invalid.
    """
    label = _LR_FAMILY.get(preset, preset)
    lrs = race.DEFAULT_LRS.get(surface_name, race.DEFAULT_LRS[surfaces.DEFAULT_SURFACE])
    name = optimizers.PRESETS[preset][0]
    if label in race.DEFAULT_LABELS:
        lr = float(lrs[race.DEFAULT_LABELS.index(label)])
    else:
        lr = float(optimizers.OPTIMIZERS[name].defaults["lr"])
    lr_knob = next(k for k in optimizers.HPARAMS[name] if k.key == "lr")
    return float(lr_knob.coerce(lr)[0])


def follow_surface(current: Any, preset: str, old_surface: str, new_surface: str) -> float:
    """A racer's learning rate after a surface change: a rate still at ``old_surface``'s
    default for ``preset`` (or unset) becomes ``new_surface``'s default; a rate the user set
    by hand is kept."""
    old_default = default_lr(old_surface, preset)
    try:
        value = float(current)
    except (TypeError, ValueError):
        return default_lr(new_surface, preset)
    if not math.isfinite(value) or math.isclose(value, old_default, rel_tol=1e-9):
        return default_lr(new_surface, preset)
    return value


def markdown_escape(text: str) -> str:
    """``text`` with Markdown's emphasis and code characters escaped (``x**2`` stays ``x**2``
    in ``st.error``/``st.markdown`` instead of turning bold)."""
    for ch in "\\`*_[]<>#|~$":
        text = text.replace(ch, "\\" + ch)
    return text


def rejected_note(error: dict, fallback: FormulaSpec | None) -> str:
    """The caption under a rejected formula: the text the user typed (as a code span, so ``*``
    is not read as markdown) and the example the page races on instead."""
    typed = str(error.get("text", "")).strip()
    typed = f"`{typed}`" if typed else "(empty)"
    example = f"`{fallback.text}`" if fallback is not None else "the example"
    return f"Your formula: {typed} (rejected, see above). Racing on {example} instead."


def start_knobs(s: Surface) -> tuple[Knob, Knob]:
    """x0, y0: bounded by the surface's domain, defaulting to its classic start."""
    (xlo, xhi), (ylo, yhi) = s.domain
    x, y = s.default_start
    return (
        Knob("x0", "Start x", "float", float(x), lo=xlo, hi=xhi, help="Click the map to pick."),
        Knob("y0", "Start y", "float", float(y), lo=ylo, hi=yhi, help="Click the map to pick."),
    )


def snap(value: float, s: Surface) -> float:
    """A clicked coordinate rounded to ~1/1000 of the domain width (-2.3, not -2.2959184...)."""
    decimals = 2 - math.floor(math.log10(s.width))
    return round(float(value), max(decimals, 0))


def entry_key(name: str, i: int) -> str:
    """URL key of hyperparameter ``name`` of entry ``i`` (1-based): ``lr2``, ``m2``, ``b1_2``."""
    return f"{'lr' if name == 'lr' else SHORT.get(name, name)}{i}"


def preset_knob(i: int) -> Knob:
    """Entry ``i``'s preset selector (``e<i>``)."""
    return Knob(
        f"e{i}",
        f"Racer {i}",
        "choice",
        SLOT_DEFAULTS[i - 1],
        choices=tuple(optimizers.PRESETS),
        help="An optimizer preset (torch.optim names and defaults).",
    )


def entry_knobs(i: int, preset: str, surface_name: str) -> tuple[Knob, ...]:
    """Entry ``i``'s hyperparameter knobs for ``preset``: lr first, defaults = the preset's.

    Keys are entry-specific (``lr<i>``, ``m<i>``...); labels stay the optimizer's own.
    """
    name, preset_hparams = optimizers.PRESETS[preset]
    flat = optimizers.flat_from_hparams(preset_hparams)
    out = []
    for knob in optimizers.HPARAMS[name]:
        default = default_lr(surface_name, preset) if knob.key == "lr" else knob.default
        default = knob.coerce(flat.get(knob.key, default))[0]  # clamped: valid by construction
        out.append(
            replace(
                knob,
                key=entry_key(knob.key, i),
                label=f"Racer {i} {knob.label}",
                default=default,
                cap=False,
                extra={"hparam": knob.key, "short_label": knob.label},
            )
        )
    return tuple(out)


def all_entry_keys(i: int) -> tuple[str, ...]:
    """Every URL key entry ``i`` can use, whatever its preset (to reset an entry)."""
    return (f"lr{i}", *(entry_key(name, i) for name in SHORT))


@dataclass(frozen=True)
class RacerSpec:
    """One validated racer: its legend label, preset, optimizer name and keyword hparams."""

    label: str
    preset: str
    optimizer: str
    hparams: tuple[tuple[str, Any], ...]

    def entry(self) -> race.Entry:
        return race.Entry(self.label, self.optimizer, dict(self.hparams))


@dataclass(frozen=True)
class RaceConfig:
    """Everything that determines a race; hashable, so it keys the page's cache.

    ``formula`` is set exactly when ``surface == CUSTOM``."""

    surface: str
    racers: tuple[RacerSpec, ...]
    start: tuple[float, float]
    steps: int
    noise: float
    seed: int
    formula: FormulaSpec | None = None

    def key(self) -> str:
        """A stable text form of the config (cache key, autoplay marker)."""
        return json.dumps(
            [
                self.surface,
                [list(map(str, (r.label, r.hparams))) for r in self.racers],
                self.start,
                self.steps,
                self.noise,
                self.seed,
                None if self.formula is None else repr(self.formula),
            ]
        )

    def surface_obj(self) -> Surface:
        """The :class:`Surface` (built-in by name, or compiled from the formula)."""
        return self.formula.surface() if self.formula else surfaces.get(self.surface)


def racer(i: int, preset: str, flat: dict[str, Any]) -> tuple[RacerSpec, str | None]:
    """Build entry ``i`` from its preset and knob values ``{hparam: value}``; validate with
    the optimizer's own checks (torch's messages). On an invalid combination (e.g. Nesterov
    with dampening) fall back to the preset's hyperparameters with the chosen lr and return a
    sentence saying so.
    """
    name, preset_hparams = optimizers.PRESETS[preset]
    hparams = optimizers.hparams_from_flat(name, flat)
    problem = None
    try:
        optimizers.make(name, **hparams)
    except (TypeError, ValueError) as err:
        fallback = {**preset_hparams, "lr": flat.get("lr", preset_hparams.get("lr"))}
        fallback = {k: v for k, v in fallback.items() if v is not None}
        problem = f"Racer {i} ({preset}): {err}; using the preset's settings instead."
        hparams = fallback
    return RacerSpec(preset, preset, name, tuple(sorted(hparams.items()))), problem


def label_racers(specs: list[RacerSpec], defaults: list[dict[str, Any]]) -> list[RacerSpec]:
    """Legend labels that name what differs: ``Adam lr=0.05``; extra hparams that differ from
    the preset's defaults (``β₁=0.8``); a ``#i`` suffix if two racers are still identical.
    """
    lrs = {dict(s.hparams).get("lr") for s in specs}
    labels = []
    for spec, default in zip(specs, defaults, strict=True):
        parts = [spec.preset]
        hp = optimizers.flat_from_hparams(dict(spec.hparams))
        if len(lrs) > 1 or len(specs) == 1:
            parts.append(f"lr={_short(hp.get('lr'))}")
        for key, value in hp.items():
            if key != "lr" and key in default and default[key] != value:
                parts.append(f"{key}={_short(value)}")
        labels.append(" ".join(parts))
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    out = []
    for i, (spec, label) in enumerate(zip(specs, labels, strict=True), start=1):
        final = f"{label} #{i}" if seen[label] > 1 else label
        out.append(RacerSpec(final, spec.preset, spec.optimizer, spec.hparams))
    return out


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)


def default_config() -> RaceConfig:
    """The race a link without parameters shows, built from the knobs' defaults exactly as the
    page builds it from its widgets (so the warm-up fills the entry the first visitor reads)."""
    surface = surfaces.get(SURFACE.default)
    specs, defaults = [], []
    for i in range(1, N_ENTRIES.default + 1):
        preset = preset_knob(i).default
        knobs = entry_knobs(i, preset, surface.name)
        flat = {"lr": knobs[0].default} | {k.extra["hparam"]: k.default for k in knobs[1:]}
        specs.append(racer(i, preset, flat)[0])
        defaults.append({k.extra["hparam"]: k.default for k in knobs})
    return RaceConfig(
        surface=surface.name,
        racers=tuple(label_racers(specs, defaults)),
        start=tuple(k.default for k in start_knobs(surface)),
        steps=STEPS.default,
        noise=float(NOISE.default),
        seed=int(SEED.default),
    )
