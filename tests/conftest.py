"""Shared fixtures: the app on a temporary instance folder, its client and CLI runner."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from planner import create_app


@pytest.fixture
def app(tmp_path):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path),
    })
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ---- a real server and a real browser (tests marked @pytest.mark.browser) -------------

CHROMIUM = "/usr/bin/chromium"  # Debian's package; no browser is ever downloaded
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def live_server(app):
    """The ``app`` fixture served over HTTP on 127.0.0.1 (a free port) in a thread.

    Yields the base URL, e.g. ``http://127.0.0.1:40123``; the server stops after the test.
    """
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live_server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright (sync API), one per test session.

    Skipped when /usr/bin/chromium is missing, except in CI (``CI`` set), where
    a missing browser is a failure.
    """
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing; install Debian's chromium package (make sysdeps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page (its own context) whose relative URLs go to ``live_server``."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1000, "height": 900})
    page = context.new_page()
    yield page
    context.close()
