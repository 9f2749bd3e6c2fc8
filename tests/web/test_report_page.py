"""The `liqheat report` page opens offline in Chromium: every chart drawn, no request leaves the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liqheat.bundle import read_bundle, write_bundle
from liqheat.evaluation.report import build
from liqheat.render.report import write_report
from web.browser import ARTIFACTS


def test_the_report_opens_offline_with_every_chart(browser: Any, tmp_path: Path) -> None:
    from tests.engine.test_replay import synthetic_bundle

    folder = write_bundle(synthetic_bundle(n=24 * 36, seed=8), tmp_path / "b")
    out = tmp_path / "report.html"
    write_report(build([read_bundle(folder)], every_hours=6, draws=100), out)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert errors == []
    assert page.locator("h2").all_inner_texts() == [
        "Score on realized liquidations", "Per calendar month", "Calibrated map, walk-forward",
        "How likely a cluster is reached", "After a sweep", "Parameters and data",
    ]  # fmt: skip
    assert "→" in page.locator("h2:has-text('Calibrated') ~ table").first.inner_text()
    drawn = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 100)")
    assert drawn == [True, True]
    assert page.locator("table").count() >= 5
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    context.close()
