"""The router and Home page run, link every page, and the README's caps table is current."""

from __future__ import annotations

import ast
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.common import caps

ROOT = Path(__file__).resolve().parents[1]


def test_home_runs_and_links_every_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Training dynamics, visualized"
    labels = [link.value for link in at.page_link]
    for page in ("Optimizer race", "Regularization lab", "Gradient flow"):
        assert any(page in label for label in labels), (page, labels)


def test_readme_caps_table_matches_the_knob_data():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = caps.table()
    assert table in readme, "README caps table is stale: paste `python -m pages.common.caps`"
    assert "| Optimizer race | Steps (`steps`) | 1 ≤ steps ≤ 5,000 |" in table


def test_every_run_imports_pandas_before_a_page_draws():
    """Plotly checks for pandas with ``sys.modules.get``, which returns it half imported while
    another thread is importing it (a figure then fails: "partially initialized module
    'pandas' has no attribute 'Series'"). An import statement waits for that import to end, so
    app.py, which every script run executes before its page, imports pandas at the top."""
    tree = ast.parse((ROOT / "app.py").read_text())
    run_line = next(
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Expr) and ast.unparse(node) == "page.run()"
    )
    pandas_line = next(
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Import) and any(a.name == "pandas" for a in node.names)
    )
    assert pandas_line < run_line
