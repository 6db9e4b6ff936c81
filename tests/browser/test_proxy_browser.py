"""The README's nginx front (``deploy/nginx.conf.template``) in a real browser: the frontend's
files come from nginx, from disk, cacheable; the pages and the websocket still reach Streamlit.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.browser.conftest import _unavailable

pytestmark = pytest.mark.browser


def test_through_nginx_the_race_runs_and_its_frontend_files_come_from_disk(app_url, browser):
    from bench.classroom import nginx_proxy

    if not shutil.which("nginx"):
        _unavailable("nginx is not installed (apt-get install -y nginx-light)")
    with nginx_proxy(app_url) as (proxy_url, _):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(90_000)
        files = []
        page.on("response", lambda r: files.append(r) if "/static/js/" in r.url else None)
        page.goto(f"{proxy_url}/race?surface=beale&n=2")
        page.wait_for_function(  # drawn from the websocket's messages: the upgrade went through
            "() => document.querySelector('.js-plotly-plot .main-svg')"
        )
        assert page.locator('[data-testid="stException"]').count() == 0
        assert len(files) > 10  # Streamlit's bundle, split into many files
        for response in files:
            headers = response.headers
            assert response.status == 200
            # nginx's own file serving: an ETag of mtime-size, weak once gzipped (Streamlit's
            # is a content hash, passed through when nginx only proxies), and `expires`
            assert re.fullmatch(r'(W/)?"[0-9a-f]+-[0-9a-f]+"', headers.get("etag", "")), headers
            assert "expires" in headers and "max-age=31536000" in headers["cache-control"]
        # a rerun through the proxy: one more racer
        page.get_by_role("spinbutton", name="Racers").fill("3")
        page.keyboard.press("Enter")
        page.wait_for_url("**n=3**")
        page.get_by_text("Racer 3", exact=True).first.wait_for()
        context.close()
