"""The server-protecting caps of every page, from the pages' own knob data.

``python -m pages.common.caps`` prints the Markdown table the README shows; a test checks the
README still matches. A new page adds one entry to :data:`PAGES`.
"""

from __future__ import annotations

from engine.knobs import caps_table
from pages.common import race_config

PAGES = {
    "Optimizer race": race_config.STATIC_KNOBS,
}


def table() -> str:
    """The caps table (Markdown) for every page in :data:`PAGES`."""
    return caps_table(PAGES)


if __name__ == "__main__":
    print(table())
