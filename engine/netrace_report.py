"""What a network race says: its leaderboard and what carried over from the toy race.

Pure NumPy. Every sentence here is computed from the runs (never canned), so a test can check
each claim against the numbers it states:

* :func:`leaderboard`: per racer the final train/validation loss and accuracy, the step at
  which the training loss *settled* below the target (the race page's semantics: the first
  evaluation from which the loss stays within the target to the end; a loss that dips below
  and comes back up has not settled), and "diverged at step k". Ranked: settled racers first
  (earlier first), then the rest by final training loss, diverged racers last.
* :func:`carry_over`: per racer, the behaviours the toy race teaches, measured on both:
  overshoot (the loss rises on the way down, :func:`rises`), the shrinking per-coordinate
  rate (Adagrad's stall: the median ``lr/(√v̂+ε)`` at the end over its first value),
  divergence, and whether the winner is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.netrace import NetRaceResult

RISE_FRACTION = 0.02  # a rise counts when it exceeds 2% of the curve's range
SHRINK_FACTOR = 0.5  # "the rate shrank" when it ended below half its first value


def settled_index(values: np.ndarray, target: float) -> int:
    """First index ``i`` with ``values[j] ≤ target`` for every ``j ≥ i``; -1 if none.

    The race page's "settled" rule (issue 11) applied to a loss curve and a target loss.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or not v[-1] <= target:
        return -1
    above = np.nonzero(~(v <= target))[0]
    return int(above[-1] + 1) if above.size else 0


def rises(values: np.ndarray, fraction: float = RISE_FRACTION) -> int:
    """How many times the curve goes UP by more than ``fraction`` of its range (overshoot).

    Only the part before the curve's minimum counts: a loss creeping up at the end after
    reaching its best is overfitting or noise, not an overshoot on the way down.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 3:
        return 0
    span = float(v.max() - v.min())
    if span <= 0:
        return 0
    head = v[: int(np.argmin(v)) + 1]
    return int(np.sum(np.diff(head) > fraction * span))


@dataclass(frozen=True)
class Row:
    """One leaderboard row (``settled_step`` -1 = not settled; ``diverged_at`` None = never)."""

    rank: int
    index: int
    label: str
    train_loss: float
    val_loss: float
    train_acc: float
    val_acc: float
    settled_step: int
    diverged_at: int | None
    status: str


def leaderboard(result: NetRaceResult, target: float) -> list[Row]:
    """Rows in rank order (see the module docstring for the rule)."""
    rows = []
    for i, r in enumerate(result.runs):
        h = r.history
        k = settled_index(h.train_loss, target)
        step = int(h.epochs[k]) * r.steps_per_epoch if k >= 0 else -1
        if step > h.steps_done:  # the last evaluation of a diverged run
            step = h.steps_done
        if h.diverged_at is not None:
            status = f"diverged at step {h.diverged_at:,}"
            step = -1
        elif k >= 0:
            status = f"settled below {target:.3g} at step {step:,}"
        else:
            status = (
                f"not below {target:.3g} after {h.steps_done:,} steps "
                f"(gap {h.train_loss[-1] - target:.3g})"
                if len(h.train_loss)
                else "no evaluation yet"
            )
        last = -1 if len(h.train_loss) else None
        rows.append(
            Row(
                0,
                i,
                r.label,
                float(h.train_loss[last]) if last is not None else math.nan,
                float(h.val_loss[last]) if last is not None else math.nan,
                float(h.train_acc[last])
                if last is not None and h.train_acc is not None
                else math.nan,
                float(h.val_acc[last]) if last is not None and h.val_acc is not None else math.nan,
                step,
                h.diverged_at,
                status,
            )
        )

    def key(row: Row):
        diverged = row.diverged_at is not None
        settled = row.settled_step >= 0
        loss = row.train_loss if math.isfinite(row.train_loss) else math.inf
        return (diverged, not settled, row.settled_step if settled else 0, loss, row.index)

    ordered = sorted(rows, key=key)
    return [Row(rank, *tuple(vars(r).values())[1:]) for rank, r in enumerate(ordered, start=1)]


RULE = (
    "Ranked by: settled below the target first (earlier step first), then final training loss; "
    "diverged racers last. Settled at step k = the training loss stays below the target from "
    "step k to the end."
)


# ------------------------------------------------------------------------- carried over
@dataclass(frozen=True)
class Behaviour:
    """What one racer did, measured the same way on the toy surface and on the network.

    ``rises``: times the loss went up on the way down; ``shrink``: last/first median
    per-coordinate rate (NaN without a second moment); ``diverged``: step or None.
    """

    rises: int
    shrink: float
    diverged: int | None


def network_behaviour(result: NetRaceResult, i: int) -> Behaviour:
    r = result.runs[i]
    eff = r.eff_lr[np.isfinite(r.eff_lr)]
    shrink = float(eff[-1] / eff[0]) if eff.size >= 2 and eff[0] > 0 else math.nan
    return Behaviour(rises(r.history.train_loss), shrink, r.history.diverged_at)


def toy_behaviour(entry) -> Behaviour:
    """The same measures on an :class:`engine.race.EntryResult` of one start.

    The rate: the median per-coordinate rate ``coordinate_lr`` the race records with
    ``record_state=True`` (last step over first step); NaN otherwise.
    """
    loss = np.asarray(entry.loss, dtype=np.float64)
    div = int(entry.diverged_at)
    if div >= 0:
        loss = loss[:div]
    shrink = math.nan
    state = entry.state or {}
    if "coordinate_lr" in state:
        rates = np.median(np.asarray(state["coordinate_lr"], dtype=np.float64)[1:], axis=-1)
        end = len(rates) if div < 0 else max(div - 1, 0)
        rates = rates[:end]
        rates = rates[np.isfinite(rates) & (rates > 0)]
        if rates.size >= 2:
            shrink = float(rates[-1] / rates[0])
    return Behaviour(rises(loss), shrink, div if div >= 0 else None)


def carry_over(
    result: NetRaceResult, toy, surface_label: str, target: float
) -> tuple[list[str], list[tuple[Behaviour, Behaviour]]]:
    """Sentences comparing each racer on the toy surface (``toy``: an engine.race.RaceResult
    of the same racers from one start) with the network, plus the measured pairs.

    The rate comparison uses the median per-coordinate rate, last over first, on both.
    """
    lines, pairs = [], []
    for i, r in enumerate(result.runs):
        net = network_behaviour(result, i)
        toy_b = toy_behaviour(toy.entries[i])
        pairs.append((toy_b, net))
        parts = []
        if (toy_b.diverged is None) != (net.diverged is None):
            where = "the network" if net.diverged is not None else surface_label
            other = surface_label if net.diverged is not None else "the network"
            step = net.diverged if net.diverged is not None else toy_b.diverged
            parts.append(f"diverged on {where} (step {step:,}) but not on {other}")
        elif net.diverged is not None:
            parts.append(
                f"diverged on both (step {toy_b.diverged:,} on {surface_label}, "
                f"{net.diverged:,} on the network)"
            )
        toy_over, net_over = toy_b.rises > 0, net.rises > 0
        if toy_over or net_over:
            verdict = "carried over" if toy_over and net_over else "did not carry over"
            parts.append(
                f"overshoot {verdict}: its loss rose {toy_b.rises} time(s) on the way down on "
                f"{surface_label}, {net.rises} time(s) on the network"
            )
        if math.isfinite(net.shrink):
            shrank = net.shrink < SHRINK_FACTOR
            toy_txt = (
                (f"{1 / toy_b.shrink:.2g}× smaller" if toy_b.shrink < 1 else f"{toy_b.shrink:.2g}×")
                if math.isfinite(toy_b.shrink)
                else "not recorded"
            )
            if shrank:
                parts.append(
                    f"its per-coordinate rate shrank {1 / net.shrink:.2g}× over the run on the "
                    f"network (on {surface_label}: {toy_txt})"
                )
            else:
                parts.append(
                    f"its per-coordinate rate ended at {net.shrink:.2g}× its first value on the "
                    f"network, no stall (on {surface_label}: {toy_txt})"
                )
        if parts:
            lines.append(f"**{r.label}**: " + "; ".join(parts) + ".")
    board = leaderboard(result, target)
    toy_final = [float(np.asarray(e.final_loss)) for e in toy.entries]
    toy_best = int(np.nanargmin(np.where(np.isfinite(toy_final), toy_final, np.nan)))
    net_best = board[0].index
    toy_name, net_name = toy.entries[toy_best].label, result.runs[net_best].label
    if toy_best == net_best:
        lines.append(f"The winner carried over: **{net_name}** ends lowest on both.")
    else:
        lines.append(
            f"The winner did not carry over: **{toy_name}** ends lowest on {surface_label}, "
            f"**{net_name}** ranks first on the network."
        )
    return lines, pairs
