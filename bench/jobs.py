"""Job throughput: steps/s of a background training job while a "page" polls it, vs sync.

    python -m bench.jobs [--epochs 150] [--repeats 3] [--poll 0.5]

Runs the same Config (a) synchronously on the main thread and (b) as a background job while
the main thread polls ``snapshot()`` every ``--poll`` seconds and touches the published
history (as a page's fragment does), interleaved ``--repeats`` times; prints steps/s of each,
their ratio (target >= 0.90) and the cost of one ``snapshot()`` call. The machine is shared
and noisy, so the ratio is taken between runs measured in the same session, best of repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

from engine.jobs import JobManager, Status
from engine.trainer import Config, Trainer


def sync_rate(config: Config) -> float:
    trainer = Trainer(config)
    t0 = time.perf_counter()
    trainer.run()
    return trainer.steps_done / (time.perf_counter() - t0)


def job_rate(config: Config, poll: float) -> tuple[float, list[float], int]:
    """steps/s of the job, per-call snapshot() costs (s) and the number of polls."""
    manager = JobManager(max_running=1)
    trainer = Trainer(config)
    t0 = time.perf_counter()
    job = manager.submit(trainer, idle_timeout=60.0)
    costs = []
    while True:
        if job.join(poll):
            break
        c0 = time.perf_counter()
        snap = job.snapshot()
        costs.append(time.perf_counter() - c0)
        if snap.history is not None:  # what a page reads to draw
            _ = (snap.history.val_loss[-1:], snap.history.step_loss[-1:])
    elapsed = time.perf_counter() - t0
    snap = job.snapshot()
    assert snap.status is Status.DONE, snap.message
    return snap.steps_done / elapsed, costs, len(costs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    config = Config(dataset="moons", hidden=(32, 32), epochs=args.epochs, batch_size=32)
    steps = Trainer(config).total_steps
    print(f"config: moons, hidden (32, 32), {args.epochs} epochs, batch 32 -> {steps} steps")
    sync, bg, costs, polls = [], [], [], 0
    for i in range(args.repeats):
        sync.append(sync_rate(config))
        rate, c, n = job_rate(config, args.poll)
        bg.append(rate)
        costs += c
        polls += n
        print(f"  repeat {i + 1}: sync {sync[-1]:,.0f} steps/s, job {bg[-1]:,.0f} steps/s")
    best_sync, best_bg = max(sync), max(bg)
    print(f"sync (best of {args.repeats}):       {best_sync:,.0f} steps/s")
    print(f"background job, polled every {args.poll:g} s: {best_bg:,.0f} steps/s")
    print(
        f"ratio job/sync: {best_bg / best_sync:.3f} (best/best), "
        f"{statistics.median(bg) / statistics.median(sync):.3f} (median/median); target >= 0.90"
    )
    if costs:
        print(
            f"snapshot() cost: median {statistics.median(costs) * 1e6:.1f} us, "
            f"max {max(costs) * 1e6:.1f} us over {polls} polls"
        )


if __name__ == "__main__":
    main()
