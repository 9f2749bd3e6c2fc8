"""Text from a market bundle, from the API and from the link is shown as text: nothing in it runs (issue #11).

Each payload, were it parsed as HTML, makes an <img src="x"> whose failed load calls alert() or sets
``window.__xss``. The tests walk every panel that shows such text, then check that no dialog opened, the
flag is unset, no such image exists, and the payload reads literally where it belongs.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pandas as pd
import pytest

from web.browser import chart_box, open_page, serve, shot

ALERT = "<img src=x onerror=alert(1)>"
FLAG = '<img src=x onerror="window.__xss=1">'
SHORT = "<img src=x>"  # for fields the page cuts to 16 characters (dates)
HOSTILE_ID = 'x"><img src=x onerror="window.__xss=1">'  # breaks out of an attribute written as value="…"


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    """A market ``xss`` whose meta.json symbol, venues and venue status are payloads (its per-venue open
    interest is keyed by them, for the hover), and a second market whose id is one."""
    from liqheat.api.markets import Registry
    from liqheat.evaluation.synthetic.market import SimParams, simulate

    bundle = simulate(SimParams(days=2, seed=11)).bundle
    last = bundle.candles["ts"].iloc[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
    status = [
        {"venue": FLAG, "symbol": ALERT, "state": "fresh", "last_candle": last, "oi_share": 0.6, "candle_gaps": [],
         "stream_gaps": []},
        {"venue": "okx", "symbol": FLAG, "state": ALERT, "last_candle": last, "oi_share": 0.4, "candle_gaps": [],
         "stream_gaps": []},
    ]  # fmt: skip
    meta = dataclasses.replace(bundle.meta, symbol=ALERT, venues=(FLAG, "okx"), extra={"venue_status": status})
    registry = Registry()
    market = registry.add(dataclasses.replace(bundle, meta=meta), market_id="xss")
    ts = bundle.candles["ts"]
    market.venue_oi = pd.DataFrame({"ts": ts, FLAG: 6e8, "okx": 4e8})
    registry.add(simulate(SimParams(days=2, seed=12)).bundle, market_id=HOSTILE_ID)
    with serve(registry) as base:
        yield base


@pytest.fixture
def dialogs(page: Any) -> list[str]:
    """Messages of every alert/confirm/prompt the page opens (each dismissed, so nothing blocks)."""
    seen: list[str] = []

    def record(dialog: Any) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return seen


def assert_inert(page: Any, dialogs: list[str]) -> None:
    page.wait_for_timeout(300)  # a parsed payload's image fails to load within milliseconds; give it time to fire
    assert page.locator('img[src="x"]').count() == 0, "a payload became an element"
    assert page.evaluate("window.__xss") is None, "a payload's onerror ran"
    assert dialogs == []


def export_html(page: Any) -> str:
    with page.expect_download() as info:
        page.select_option("#export", "html")
    return Path(info.value.path()).read_text(encoding="utf-8")


def assert_export_inert(page: Any, content: str, *shown: str) -> None:
    """The exported file holds each of ``shown`` escaped, no payload as markup, and opens without running one."""
    for text in shown:
        assert html.escape(text, quote=False) in content
    assert not re.search(r"<img[^>]*src=\"?x\b", content, re.IGNORECASE), "a payload is markup in the export"
    viewer = page.context.new_page()
    opened: list[str] = []
    viewer.on("dialog", lambda d: (opened.append(d.message), d.dismiss()))
    viewer.set_content(content)
    assert_inert(viewer, opened)
    viewer.close()


def test_bundle_text_is_shown_literally_in_every_panel(page: Any, hostile: str, dialogs: list[str]) -> None:
    open_page(page, f"{hostile}/?market=xss&window=24h")
    assert page.evaluate("document.body.dataset.state") == "ready", page.text_content("#error")
    assert_inert(page, dialogs)
    assert page.errors == []

    # the market select: labels carry symbol and venues, values the ids (one of them hostile) intact
    label = page.locator("#market option").first.text_content() or ""
    assert label == f"{ALERT} · {FLAG}+okx · 1m"
    assert page.eval_on_selector_all("#market option", "os => os.map((o) => o.value)") == ["xss", HOSTILE_ID]
    assert page.input_value("#market") == "xss"

    assert f"venues{FLAG}, okx" in (page.text_content("#summary") or "")
    assert (page.text_content("#realized small") or "") == f"{FLAG}, okx"
    venues = page.locator("#venues li")
    assert venues.count() == 2
    assert (venues.nth(0).text_content() or "").startswith(f"{FLAG} {ALERT} · fresh · 60% of OI")
    assert (venues.nth(1).text_content() or "").startswith(f"okx {FLAG} · {ALERT} · 40% of OI")
    assert venues.nth(0).get_attribute("data-venue") == FLAG

    box = chart_box(page)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_selector("#tooltip:not([hidden])")
    tip = page.text_content("#tooltip") or ""
    assert re.search(rf"by venue \(open-interest share\): {re.escape(FLAG)} \$[\d.]+[kMB]? · okx \$", tip), tip
    shot(page, "security-bundle")
    assert_inert(page, dialogs)

    content = export_html(page)
    assert_export_inert(page, content, f"{FLAG}, okx")
    assert_inert(page, dialogs)


def test_api_text_is_shown_literally_in_every_panel(page: Any, server: str, dialogs: list[str]) -> None:
    """Answers rewritten in flight: every string the page shows from clusters, levels, realized totals, the
    store's liquidations, the map, the planner, the cascade and the calculator carries a payload."""

    def clusters(body: dict[str, Any]) -> None:
        for c in body["clusters"]:
            c["side"] = FLAG

    def levels(body: dict[str, Any]) -> None:
        for lv in body["levels"]:
            lv["kind"], lv["source"] = ALERT, FLAG

    def totals(body: dict[str, Any]) -> None:
        body["venues"] = [FLAG]
        for o in body["largest"]:
            o["side"] = FLAG

    def plan(body: dict[str, Any]) -> None:
        body["stop_reason"], body["warnings"] = FLAG, [ALERT]

    def cascade(body: dict[str, Any]) -> None:
        body["stop_reason"] = FLAG

    def calc(body: dict[str, Any]) -> None:
        body["side"], body["bracket"]["tier"] = FLAG, ALERT

    def themap(body: dict[str, Any]) -> None:
        body["at"] = SHORT

    rewrites = {"clusters": clusters, "levels": levels, "totals": totals, "plan": plan, "cascade": cascade, "calc": calc,
                "map": themap}  # fmt: skip
    store = {
        "bucket": "1d", "since": "2026-01-01T00:00:00Z", "until": "2026-01-05T00:00:00Z", "lower_bound": [FLAG],
        "total": {"long_usd": 1.2e6, "short_usd": 3e5, "orders": 4},
        "venues": [{"venue": FLAG, "long_usd": 1.2e6, "short_usd": 3e5, "orders": 4}],
        "symbols": [{"venue": FLAG, "symbol": ALERT, "long_usd": 1.2e6, "short_usd": 3e5, "orders": 4}],
        "symbols_total": 1,
        "series": [{"bucket": "2026-01-04T00:00:00Z", "venue": FLAG, "long_usd": 1.2e6, "short_usd": 3e5, "orders": 4}],
        "largest": [{"ts": "2026-01-04T03:54:00Z", "venue": FLAG, "symbol": ALERT, "side": FLAG, "usd": 5e5, "price": 50000.0}],
        "gaps": [{"venue": FLAG, "symbol": ALERT, "from": "2026-01-03T00:00:00Z", "to": "2026-01-03T02:00:00Z"}],
    }  # fmt: skip

    def answer(route: Any) -> None:
        path = urlparse(route.request.url).path
        if path == "/api/liquidations":  # this server has no store: stand one in
            route.fulfill(json=store)
            return
        if path == "/api/server":
            route.fulfill(json={"version": "test", "store": True, "markets": 1})
            return
        response = route.fetch()
        body = response.json()
        if response.ok:
            rewrites[path.rsplit("/", 1)[-1]](body)
        route.fulfill(response=response, json=body)

    rewritten = r"/api/(server$|(liquidations|markets/[^/]+/(clusters|levels|liquidations/totals|plan|cascade|map|calc))\?)"
    page.route(re.compile(rewritten), answer)
    open_page(page, f"{server}/?market=synthetic&window=3d")
    assert page.evaluate("document.body.dataset.state") == "ready", page.text_content("#error")
    page.wait_for_selector("#storeliq:not([hidden]) table")
    assert_inert(page, dialogs)

    assert (page.text_content("#clusters li") or "").startswith(f"{FLAG} ")
    assert (page.text_content("#levels li") or "").startswith(f"{ALERT} ")
    assert f" · {FLAG} · strength" in (page.text_content("#levels li") or "")
    assert (page.text_content("#realized small") or "") == FLAG
    assert f" {FLAG} $" in (page.text_content("#realized ol li") or "")
    page.wait_for_selector("#storeliq:not([hidden]) table")
    store_text = page.text_content("#storeliqout") or ""
    for text in (f"{FLAG} ≥$1.2M", f"{ALERT}$1.2M", f"01-04 {FLAG}", f"{ALERT} {FLAG} $500.0k @ 50,000",
                 f"{FLAG} {ALERT}: nothing seen", f"≥ {FLAG}: a throttled stream"):  # fmt: skip
        assert text in store_text

    page.click("#plan button")
    page.wait_for_function("page.plan !== null")
    plan_text = page.text_content("#planout") or ""
    assert f" · {FLAG}" in plan_text
    assert f"⚠ {ALERT}" in plan_text
    page.click("#cascade button")
    page.wait_for_function("page.cascade !== null")
    assert (page.text_content("#cascadeout") or "").split("round(s) · ")[1].startswith(FLAG)
    page.fill("#calc input[name=entry]", "60000")
    page.click("#calc button")
    page.wait_for_function("document.getElementById('calcout').textContent.length > 0")
    assert f"tier {ALERT} · MMR" in (page.text_content("#calcout") or "")
    assert_inert(page, dialogs)

    content = export_html(page)
    assert_export_inert(page, content, FLAG)

    page.click("#tab-map")
    page.wait_for_function("page.map !== null")
    assert f" · at {SHORT} UTC" in (page.text_content("#maplegend") or "")
    assert page.errors == []
    assert_inert(page, dialogs)


def test_a_window_from_the_link_stays_text_in_the_page_and_the_export(page: Any, server: str, dialogs: list[str]) -> None:
    """?window= is echoed in the window select, the API's error and the exported file's title."""
    open_page(page, f"{server}/?market=synthetic&window={quote(FLAG)}")
    assert page.evaluate("document.body.dataset.state") == "error"
    assert_inert(page, dialogs)
    assert FLAG in (page.text_content("#error") or "")
    assert page.input_value("#window") == FLAG
    content = export_html(page)
    assert_export_inert(page, content, f"liqheat · synthetic · {FLAG} · both")
    assert_inert(page, dialogs)
