"""Fixtures for the docs tests: one strict build of the site per session, a local server for
it, and a headless Chromium (see docs_support.py for when they skip)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from docs_support import ROOT, mkdocs_build, skip_unless_required

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class BuiltSite:
    path: Path
    log: str
    started: float  # time.time() when the build started


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    site = tmp_path_factory.mktemp("site")
    started = time.time()
    result = mkdocs_build(ROOT, site)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return BuiltSite(site, log, started)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site_url(built_site):
    """The built site served on 127.0.0.1, as ``http://127.0.0.1:<port>/``."""
    handler = functools.partial(_QuietHandler, directory=str(built_site.path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_unless_required("playwright is not installed (pip install -r requirements-docs.txt)")
    if not Path(CHROMIUM).is_file():
        skip_unless_required(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()
