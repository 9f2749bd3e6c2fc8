"""What a trader sees on the real market: levels near price at a glance, realized liquidations that are
not clutter, and a page that works on a phone. Chromium at 1400 × 900 and 390 × 844; screenshots under
artifacts/web/ (looked at, not asserted on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from web.browser import SHARED, chart_box, fresh_page, open_page, shot

MARKET = "btc-agg-1h-dec-feb"


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    with fresh_page(browser, viewport={"width": 1400, "height": 900}) as pg:
        yield pg


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    with fresh_page(browser, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2) as pg:
        yield pg


def need_shared() -> None:
    if not (SHARED / "meta.json").is_file():
        pytest.skip(f"shared bundle {SHARED} is absent")


def band_level(page: Any, column: int, low: float, high: float) -> float:
    """The drawn brightness (0..1) of the brightest cell of ``column`` within a cluster's band [low, high]."""
    return float(
        page.evaluate(
            """([c, lo, hi]) => { const h = page.heatmap; let best = 0;
                for (let r = 0; r < h.rows; r++) {
                  if (h.price_edges[r + 1] <= lo || h.price_edges[r] >= hi) continue;
                  best = Math.max(best, page.painted.level[c * h.rows + r]);
                }
                return best; }""",
            [column, low, high],
        )
    )


def test_the_default_view_draws_the_largest_levels_near_price_brighter_than_the_median_cell(desk: Any, server: str) -> None:
    need_shared()
    open_page(desk, f"{server}/?market={MARKET}")
    assert desk.evaluate("document.body.dataset.state") == "ready", desk.text_content("#error")
    assert desk.input_value("#scale") == "local"
    assert desk.input_value("#window") == "7d"
    found = {}
    for rank in ("size", "reach"):  # the near ones lead by reach; the API gives at most 20 per side either way
        answer = httpx.get(f"{server}/api/markets/{MARKET}/clusters", params={"top": 20, "rank": rank}).json()
        found |= {(c["side"], c["peak_price"]): c for c in answer["clusters"] if abs(c["distance_pct"]) <= 5}
    near = sorted(found.values(), key=lambda c: -c["notional_usd"])[:3]
    assert len(near) == 3, "btc-agg has three clusters within ±5 % of its last price"
    levels = np.array(desk.evaluate("Array.from(page.painted.level)"))
    median = float(np.median(levels[levels > 0]))
    last = desk.evaluate("page.heatmap.columns") - 1
    for c in near:
        assert band_level(desk, last, c["price_low"], c["price_high"]) > median, c
    # the colour bar says what the colours are worth, in dollars
    ticks = desk.text_content("#colourbar .ticks") or ""
    assert ticks.count("$") == 2
    assert "near price" in ticks
    sides = desk.evaluate("page.legend.sides")
    for side, v in sides.items():  # full brightness is the side's largest cell within ±5 % of the last price
        assert f"{side} $" in ticks
        assert v > 0
    shot(desk, "trader-default-7d")
    # the other scales stay available, and the contrast slider brightens the faint cells
    before = float(np.mean(levels[levels > 0]))
    desk.evaluate(
        "() => { const el = document.getElementById('contrast'); el.value = '2.5'; el.dispatchEvent(new Event('input')); }"
    )
    desk.wait_for_function("page.painted.legend.power === 0.5 / 2.5")  # coloured again, off the main thread
    after = np.array(desk.evaluate("Array.from(page.painted.level)"))
    assert float(np.mean(after[after > 0])) > before
    assert "contrast=2.5" in desk.url
    desk.select_option("#scale", "absolute")
    desk.wait_for_function("page.legend.scale === 'absolute'", timeout=5_000)
    assert desk.errors == []


def test_realized_liquidations_are_a_few_significant_bars_with_a_legend(desk: Any, server: str) -> None:
    need_shared()
    open_page(desk, f"{server}/?market={MARKET}")
    shown = desk.evaluate("page.markerBars")
    bars = desk.evaluate("page.bars.length")
    for side in ("long", "short"):
        mine = [m for m in shown if (m["position"] == "belowBar") == (side == "long")]
        assert 3 <= len(mine) <= max(3, -(-bars // 20)), (side, len(mine), bars)
        assert len({m["time"] for m in mine}) == len(mine)  # one marker per bar and side
    rows = httpx.get(f"{server}/api/markets/{MARKET}/liquidations", params={"window": "7d", "limit": 5000}).json()
    assert len(rows["usd"]) > 2 * len(shown)  # a dot per row was the clutter
    for below in (True, False):
        mine = [m for m in shown if (m["position"] == "belowBar") == below]
        labelled = [m["size"] for m in mine if m["text"]]
        assert len(labelled) == 3  # the three largest per side carry their dollars
        assert min(labelled) >= max([m["size"] for m in mine if not m["text"]], default=0)
        assert all(m["text"].startswith("$") for m in mine if m["text"])
    legend = desk.text_content("#markerlegend") or ""
    assert "long ≥ $" in legend
    assert "short ≥ $" in legend
    desk.select_option("#side", "long")
    desk.wait_for_function("document.body.dataset.state === 'ready'")
    assert all(m["position"] == "belowBar" for m in desk.evaluate("page.markerBars"))
    assert "short" not in (desk.text_content("#markerlegend") or "")
    assert desk.errors == []


def test_a_phone_gets_a_full_width_chart_a_map_the_right_way_round_and_a_touch_hover(phone: Any, server: str) -> None:
    need_shared()
    open_page(phone, f"{server}/?market={MARKET}")
    box = chart_box(phone)
    assert box["width"] >= 0.95 * 390
    assert box["height"] >= 300
    phone.wait_for_function("page.priceLines.length > 0 && page.levelLines.length > 0")
    titles = phone.evaluate("[page.priceLines, page.levelLines].map((ls) => ls.map((l) => l.options().title))")
    assert all(t.startswith("$") for t in titles[0]), titles  # a cluster's dollars only: its colour says the side
    assert set(titles[1]) <= {"", "✦"}, titles
    shot(phone, "trader-phone")
    phone.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4)
    phone.wait_for_selector("#tooltip:not([hidden])", timeout=10_000)
    assert "$" in (phone.text_content("#tooltip") or "")
    phone.click("#tab-map")
    phone.wait_for_function("page.map !== null && page.map !== undefined")
    geometry = phone.evaluate("page.mapGeometry")
    assert geometry["plotWidth"] > 150
    assert geometry["pad"]["l"] + geometry["pad"]["r"] < 390
    shot(phone, "trader-phone-map")
    assert phone.errors == []


def test_the_planner_stops_before_its_own_liquidation_keeps_every_line_on_screen_and_survives_a_refresh(
    desk: Any, server: str
) -> None:
    """The trader's case of the issue: a 10× long at the last price of btc-agg, then a 50× one."""
    need_shared()
    open_page(desk, f"{server}/?market={MARKET}&window=24h")
    labels = desk.eval_on_selector_all("#plan label", "ls => ls.map((l) => l.childNodes[0].textContent.trim())")
    assert labels == ["side", "venue", "entry", "leverage", "balance $", "risk", "max stop ATR"]
    desk.fill("#plan input[name=leverage]", "10")
    desk.click("#plan button[type=submit]")
    desk.wait_for_function("page.plan !== null")
    plan = desk.evaluate("page.plan")
    assert plan["sound_stop"]
    assert plan["liquidation_price"] < plan["stop"] < plan["entry"]
    atr_pct = httpx.get(f"{server}/api/markets/{MARKET}/clusters").json()["atr_pct"]
    assert plan["entry"] - plan["stop"] <= plan["max_stop_atr"] * atr_pct / 100 * plan["entry"] * (1 + 1e-9)
    box = chart_box(desk)
    desk.wait_for_timeout(300)
    for key in ("entry", "stop", "liquidation_price", "take_profit"):
        if plan[key] is None:
            continue
        y = desk.evaluate(f"series.priceToCoordinate({plan[key]})")
        assert y is not None
        assert 0 <= y <= box["height"] - 28, (key, y)  # on screen, above the time axis
    shot(desk, "trader-planner-10x")
    lines = desk.evaluate("page.planLines.length")
    desk.evaluate("refresh()")
    desk.wait_for_function("document.body.dataset.state === 'ready'")
    assert desk.evaluate("page.planLines.length") == lines  # a live refresh keeps the plan
    desk.click("#planclear")
    assert desk.evaluate("page.planLines.length") == 0
    desk.fill("#plan input[name=leverage]", "75")
    desk.click("#plan button[type=submit]")
    desk.wait_for_function("page.plan !== null && page.plan.leverage === 75")
    high = desk.evaluate("page.plan")
    assert not high["sound_stop"]
    assert high["liquidation_price"] < high["stop"]
    assert "no sound stop" in (desk.text_content("#planout") or "")
    assert desk.errors == []


def test_the_map_view_follows_side_leverage_and_window_stacks_by_leverage_and_explains_a_band(desk: Any, server: str) -> None:
    need_shared()
    open_page(desk, f"{server}/?market={MARKET}&tab=map&split=leverage&window=7d")
    desk.wait_for_function("page.map && page.map.split_by === 'leverage'")
    m = desk.evaluate("page.map")
    api = httpx.get(f"{server}/api/markets/{MARKET}/map", params={"bins": 160, "window": "7d", "by": "leverage"}).json()
    assert m["parts"] == api["parts"]
    assert len(m["parts"]) >= 3
    legend = desk.text_content("#maplegend") or ""
    assert all(p["label"] in legend for p in m["parts"])
    shot(desk, "trader-map-leverage")
    # the tooltip: the band under the pointer, its total and its cumulative from price, as the API says
    total = np.array(m["long"]) + np.array(m["short"])
    band = int(np.argmax(total))
    g = desk.evaluate("page.mapGeometry")
    canvas = desk.locator("#mapcanvas").bounding_box()
    x = canvas["x"] + g["pad"]["l"] + (band + 0.5) / len(total) * g["plotWidth"]
    desk.mouse.move(x, canvas["y"] + canvas["height"] * 0.6)
    desk.wait_for_selector("#maptip:not([hidden])")
    assert int(desk.get_attribute("#maptip", "data-band") or -1) == band
    assert float(desk.get_attribute("#maptip", "data-value") or "nan") == pytest.approx(total[band])
    text = desk.text_content("#maptip") or ""
    assert "cumulative from price" in text
    assert sum(p["label"] in text for p in m["parts"]) >= 1
    # the header's side and leverage reach the map: shorts only, then ≥ 50× only
    desk.select_option("#side", "short")
    desk.wait_for_function("page.map && page.map.long.every((v) => v === 0)")
    assert max(desk.evaluate("page.map.short")) > 0
    desk.select_option("#lev", "50-200")
    desk.wait_for_function("page.map && page.map.parts.length === 1 && page.map.parts[0].label === '≥ 50×'")
    # the window sets the prices shown: a day spans fewer prices than a week
    week = desk.evaluate("page.map.price_edges")
    desk.select_option("#window", "24h")
    desk.wait_for_function(f"page.map && page.map.price_edges[0] > {week[0]}")
    assert desk.evaluate("page.map.price_edges.at(-1)") < week[-1]
    desk.select_option("#mapsplit", "none")
    desk.wait_for_function("page.map && page.map.split_by === 'none'")
    assert desk.is_disabled("#mapsplit option[value=venue]")  # a bundle has one open interest: no venue split
    assert desk.errors == []


def test_controls_offer_only_what_the_market_has_and_the_permalink_keeps_the_zoom(desk: Any, server: str) -> None:
    need_shared()
    open_page(desk, f"{server}/?market={MARKET}&window=1y")
    disabled = desk.eval_on_selector_all("#interval option", "os => os.filter((o) => o.disabled).map((o) => o.value)")
    assert disabled == ["1m", "5m", "15m"]  # an hourly market: no finer candles on offer
    note = desk.text_content("#windownote") or ""
    assert desk.is_visible("#windownote")
    assert "the data holds 86 days" in note or "the data holds 87 days" in note
    desk.select_option("#window", "7d")
    desk.wait_for_function("document.body.dataset.state === 'ready'")
    assert not desk.is_visible("#windownote")
    # zoom in, then open the permalink elsewhere: the same time range
    times = desk.evaluate("page.bars")
    want = {"from": times[-60], "to": times[-20]}
    desk.evaluate(f"chart.timeScale().setVisibleRange({{ from: {want['from']}, to: {want['to']} }})")
    desk.wait_for_function(f"new URLSearchParams(location.search).get('from') === '{want['from']}'", timeout=5000)
    link = desk.evaluate("location.href")
    other = desk.context.new_page()
    open_page(other, link)
    shown = other.evaluate("chart.timeScale().getVisibleRange()")
    assert shown["from"] == want["from"]
    assert shown["to"] == want["to"]
    # S/R lines: labelled on the axis, support and resistance told apart by colour
    lines = desk.evaluate("page.levelLines.map((l) => l.options())")
    assert lines
    assert all(o["axisLabelVisible"] for o in lines)
    kinds = desk.evaluate("page.levels.levels.slice(0, 6).map((l) => l.kind)")
    own = {"support": "#79c0ff", "resistance": "#ffa657"}  # purple (#d2a8ff) where a level meets a cluster
    for o, kind in zip(lines, kinds, strict=True):
        assert o["color"] in (own[kind], "#d2a8ff")
        assert o["title"].startswith(kind)
    assert desk.errors == []


def test_the_cluster_list_leads_with_what_price_will_likely_liquidate_whichever_side_it_is_on(desk: Any, server: str) -> None:
    """The API gives each side's leaders; the panel puts them in one order, by the dollars expected to liquidate within
    24 h, and says those dollars: on btc-agg's last map a short band 3 % above price (66 % likely) leads the long ones
    6-9 % below (2-5 %). The chart's dashed lines are the list's first six, and the side filter keeps its order."""
    need_shared()
    open_page(desk, f"{server}/?market={MARKET}")
    answer = httpx.get(f"{server}/api/markets/{MARKET}/clusters", params={"top": 3}).json()["clusters"]
    by_expected = sorted(answer, key=lambda c: -c["expected_usd_24h"])
    assert [c["side"] for c in answer] != [c["side"] for c in by_expected]  # the API's per-side order is not the list's
    items = desk.locator("#clusters li").all_text_contents()
    assert len(items) == len(answer)
    for item, c in zip(items, by_expected, strict=True):
        assert item.startswith(f"{c['side']} ")
        assert f"{round(c['hit_prob_24h'] * 100)}% in 24 h, ≈ $" in item
        assert item.count("expected") == 1
    assert desk.evaluate("page.priceLines.map((l) => l.options().price)") == [c["peak_price"] for c in by_expected[:6]]
    desk.select_option("#side", "long")
    desk.wait_for_function("document.body.dataset.state === 'ready' && page.shownClusters.every((c) => c.side === 'long')")
    longs = [c["peak_price"] for c in by_expected if c["side"] == "long"]
    assert desk.evaluate("page.shownClusters.map((c) => c.peak_price)") == longs
    assert desk.errors == []
