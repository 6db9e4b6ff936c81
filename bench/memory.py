"""What a class leaves in the server's memory after it has gone: ``python -m bench.memory``.

Starts its own ``streamlit run serve.py`` (as :mod:`bench.classroom` does), warms it with one
visit, then runs ``--rounds`` classes of ``--sessions`` students on the Regularization lab,
each student on a seed of their own (new results every round, nothing shared), every page
waiting for its finished run; then the first round again (the same seeds: all cached, so
a server that kept nothing per session would not grow). After each class all its browser
contexts close. For each round it prints the server process's RSS before, at the peak, 10 s
after the last close and ``--linger`` seconds after (default 135 s: past Streamlit's
``server.disconnectedSessionTTL`` of 120 s, for which a closed tab's session is kept for a
reconnect). Server environment variables can be given as ``--env NAME=VALUE`` (e.g.
``MALLOC_ARENA_MAX=2``, see README "Deploying for a class").

What stays after a class, by design: the results cache (up to ``NNVIZ_CACHE_MB``, ~3.8 MB
per lab result), the figure cache (at most 256 figures), and Streamlit's closed sessions
until it next touches its session store (their TTL is checked lazily). What stays besides
is memory the C allocator keeps for reuse. The caches go after ``NNVIZ_IDLE_RELEASE_S``
(default 600 s) without visitors (pages/common/idle.py), longer than ``--linger``: this
bench measures what a class keeps while the server is in use; ``bench.classroom`` waits for
the release, and so does this one with ``--idle-release S`` (e.g. 30): each round then ends
with one visit after ``--linger`` and ``S`` seconds without visitors, and its "kept" is counted
after that quiet time, round after round (is what stays a high-water mark or growth?).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from bench.browser import CHROMIUM, CHROMIUM_ARGS
from bench.classroom import (
    IDLE_RELEASE_ENV,
    STALL_AFTER,
    CpuLedger,
    _class,
    _visit,
    app_server,
    quiet_time,
)


def _mb(process) -> float:
    return process.memory_info().rss / 2**20


async def _round(
    browser, url: str, server, ledger: CpuLedger, seeds: range, linger: float, release: float
) -> tuple[float, float, float, float, float | None, int]:
    """RSS (MB) before, at the peak, 10 s and ``linger`` s after the last close, and (with
    ``release`` > 0) after the quiet time; how many sessions finished."""
    before, t0 = _mb(server), time.monotonic()
    visits, contexts = await _class(browser, url, [f"/regularization?seed={s}" for s in seeds])
    for context in contexts:
        await context.close()
    await asyncio.sleep(10)
    after10 = _mb(server)
    await asyncio.sleep(max(linger - 10, 0))
    lingered = _mb(server)
    quiet = None
    if release > 0:
        await quiet_time(browser, url, release)
        quiet = _mb(server)
    peak = ledger.server_between(t0, time.monotonic())[0] / 2**20
    finished = sum(not v.stalled for v in visits)
    return before, peak, after10, lingered, quiet, finished


async def _run(args) -> None:
    from playwright.async_api import async_playwright

    env = dict(kv.split("=", 1) for kv in args.env)
    shown = " ".join(args.env) or "(none)"
    print(f"bench.memory: {args.rounds} rounds of {args.sessions} sessions, server env {shown}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared by the team)")
    with app_server(env) as (url, server):
        ledger = CpuLedger(server, []).start()  # samples the server's RSS every 0.25 s
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm, context = await _visit(browser, url, "/regularization", "finished", 180)
            await context.close()
            await asyncio.sleep(3)
            n = args.sessions
            rounds = [range(r * n + 1, (r + 1) * n + 1) for r in range(args.rounds)]
            rounds.append(rounds[0])
            lingered = f"+{args.linger:.0f} s" if args.linger > 10 else "+10 s"
            quiet_head = f" {'quiet':>8s}" if args.idle_release > 0 else ""
            print(
                f"{'round (seeds)':24s} {'before':>8s} {'peak':>8s} {'+10 s':>8s} "
                f"{lingered:>8s}{quiet_head} {'kept':>8s}  finished"
            )
            start = _mb(server)
            for r, seeds in enumerate(rounds):
                name = f"{r + 1} ({seeds[0]}-{seeds[-1]})" + (" again" if r == args.rounds else "")
                before, peak, after10, after, quiet, finished = await _round(
                    browser, url, server, ledger, seeds, args.linger, args.idle_release
                )
                end = after if quiet is None else quiet
                quiet_col = "" if quiet is None else f" {quiet:6.0f}MB"
                print(
                    f"{name:24s} {before:6.0f}MB {peak:6.0f}MB {after10:6.0f}MB {after:6.0f}MB"
                    f"{quiet_col} {end - before:+6.0f}MB  {finished}/{len(seeds)} "
                    f"(<= {STALL_AFTER:.0f} s)"
                )
            print(f"whole run: {start:.0f} -> {_mb(server):.0f} MB after the warm-up visit")
            await browser.close()
        ledger.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="classes on new seeds")
    parser.add_argument("--linger", type=float, default=135.0, help="seconds after the close")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument(
        "--idle-release",
        type=float,
        default=0.0,
        help="the server's NNVIZ_IDLE_RELEASE_S; each round then also waits for the quiet "
        "time (one visit after --linger, then this long without visitors: the release) and "
        "prints the RSS after it; 0: the app's default, and no wait",
    )
    args = parser.parse_args()
    if any("=" not in kv for kv in args.env):
        sys.exit("--env takes NAME=VALUE")
    if args.idle_release > 0:
        args.env.append(f"{IDLE_RELEASE_ENV}={args.idle_release:g}")
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
