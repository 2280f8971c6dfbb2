"""The tiny sweep's report, opened in a real headless Chromium (Debian's, which
scripts/test installs): every plot is decoded and drawn, every table is there.

Playwright drives the system browser (``executable_path``); it never downloads one.
The flags are the ones this machine's closed network needs: without the
background-networking ones Chromium keeps trying hosts it cannot reach.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from berthing.sim.stats import METRICS
from tests.sim.conftest import Sweep

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    return CHROMIUM


@pytest.mark.slow
def test_report_renders_every_plot_and_table(
    tiny_sweep: Sweep, chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        # A fresh profile directory per run: nothing carries over from another test.
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=FLAGS
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(tiny_sweep.report.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "figure.plot",
                """figs => figs.map(f => ({
                    name: f.dataset.plot,
                    drawn: f.querySelector('img').complete
                        && f.querySelector('img').naturalWidth > 300,
                    shown: f.querySelector('img').getBoundingClientRect().width > 300,
                    caption: f.querySelector('figcaption').innerText.length,
                }))""",
            )
            tables = page.eval_on_selector_all(
                "table.results", "ts => ts.map(t => [t.dataset.table, t.rows.length])"
            )
            title = page.title()
        finally:
            browser.close()
    assert errors == []
    expected = {m.key for m in METRICS if m.key_metric} | {
        "race-timing",
        "race-classes",
        "stranded",
    }
    assert {i["name"] for i in images} == expected
    for image in images:
        assert image["drawn"] and image["shown"] and image["caption"] > 40, image
    rows = dict(tables)
    assert rows["points"] == 1 + len(tiny_sweep.results["points"])
    assert rows["digests"] >= 4 and rows["settings"] > 5
    assert "berthing demo" in title
