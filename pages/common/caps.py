"""The server-protecting caps of every page, from the pages' own knob data.

``python -m pages.common.caps`` prints the Markdown table the README shows; a test checks the
README still matches. A new page adds one entry to :data:`PAGES`.
"""

from __future__ import annotations

from engine import gradflow_presets as gf
from engine.knobs import BUDGET_KNOBS, caps_table
from pages.common import netrace_config, race_config, reg_config

PAGES = {
    "Optimizer race": race_config.STATIC_KNOBS,
    "Optimizer race, network view": netrace_config.STATIC_KNOBS,
    "Regularization lab": reg_config.STATIC_KNOBS,
    # every network slot i = 1..n has the same caps as slot 1 (act<i>, depth<i>, width<i>...)
    "Gradient flow": (*gf.GLOBAL_KNOBS, *gf.slot_knobs(1, gf.SLOT_DEFAULTS[0])),
    # not URL knobs: the server's per-request budget (engine.budget; env BUDGET_<KEY>)
    "Every page (server budget)": BUDGET_KNOBS,
}


def table() -> str:
    """The caps table (Markdown) for every page in :data:`PAGES`."""
    return caps_table(PAGES)


if __name__ == "__main__":
    print(table())
