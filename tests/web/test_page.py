"""The page, end to end: Playwright driving Debian's Chromium against a server this test starts.

Screenshots are saved under artifacts/web/ (kept out of git) for a person to look at.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from helpers import decode_q16
from web.browser import SHARED, chart_box, coloured_share, open_page, serve, shot


def test_page_loads_a_shared_bundle_and_the_heatmap_is_not_blank(page: Any, server: str) -> None:
    if not (SHARED / "meta.json").is_file():
        pytest.skip(f"shared bundle {SHARED} is absent")
    open_page(page, f"{server}/?market=btc-agg-1h-dec-feb&window=30d")
    assert page.evaluate("document.body.dataset.state") == "ready", page.text_content("#error")
    pixels = shot(page, "shared-30d")
    assert coloured_share(pixels, chart_box(page)) > 0.5
    assert page.errors == []
    # the score and the data freshness are shown
    summary = page.text_content("#summary") or ""
    assert "score (Spearman)" in summary
    assert "2026-02-28 23:00 UTC" in summary
    realized = page.text_content("#realized") or ""
    assert "2026-02-28" in realized  # daily realized totals, newest day included


def test_a_named_view_asks_its_data_once_with_the_first_bytes_and_colours_it_off_the_main_thread(
    page: Any, server: str
) -> None:
    """index.html's inline script asks the candles (the server's pick of interval) and the heatmap before the page's
    modules run; the modules take those answers rather than asking again (a second heatmap would mean the early
    query's width differed from the chart's), and colour.js's worker makes the bitmap."""
    asked: list[tuple[str, dict[str, list[str]]]] = []
    page.on("request", lambda r: asked.append((r.url.split("?")[0].rsplit("/", 1)[-1], parse_qs(urlsplit(r.url).query))))
    open_page(page, f"{server}/?market=synthetic&window=3d")
    assert page.evaluate("document.body.dataset.state") == "ready", page.text_content("#error")
    names = [name for name, _ in asked]
    assert names.count("heatmap") == 1
    assert names.count("candles") == 1
    assert names.count("markets") == 1
    asked_at = page.evaluate(
        "performance.getEntriesByType('resource').filter((e) => /[/](heatmap|candles)[?]/.test(e.name)).map((e) => e.startTime)"
    )
    assert len(asked_at) == 2
    assert max(asked_at) < page.evaluate("page.modulesAt")  # asked before the page's modules began to run
    candles = next(query for name, query in asked if name == "candles")
    assert candles["interval"] == ["auto"]
    assert page.evaluate("page.interval") == "5m"  # the server's pick for 3 days of 1-minute candles (4,320 > 3,000)
    assert page.evaluate("page.painted.image instanceof ImageBitmap")
    assert page.evaluate("page.painted.image.width") == page.evaluate("page.heatmap.columns")
    assert page.errors == []


def test_a_new_view_draws_its_candles_while_its_heatmap_is_still_being_coloured(page: Any, server: str) -> None:
    """The chart's first render overlaps the worker's colouring: with the worker's script held back, the candles are
    on the chart (and the view not yet ready) before any bitmap exists; once the worker runs, the heatmap joins them."""
    import time

    def late(route: Any) -> None:
        time.sleep(1.5)
        route.continue_()

    page.route("**/static/colour.js", late)
    page.goto(f"{server}/?market=synthetic&window=3d")
    page.wait_for_function("window.liqheat && window.liqheat.bars.length > 0", timeout=30_000)
    drawn = page.evaluate("[series.data().length, page.bars.length, page.heatmap, document.body.dataset.state]")
    assert drawn[0] == drawn[1] > 100
    assert drawn[2] is None
    assert drawn[3] == "loading"
    page.wait_for_function("document.body.dataset.state === 'ready'", timeout=30_000)
    assert page.evaluate("page.painted.image.width") == page.evaluate("page.heatmap.columns")
    assert page.evaluate("page.firstPaintAt") > page.evaluate("page.dataAt") >= 1500
    assert page.errors == []


def test_bright_rows_sit_at_the_prices_the_api_reports_largest(page: Any, server: str) -> None:
    import httpx

    open_page(page, f"{server}/?market=synthetic&window=3d&scale=absolute")
    data = httpx.get(f"{server}/api/markets/synthetic/heatmap", params={"window": "3d", "bins": 300, "columns": 1400}).json()
    edges = np.array(data["price_edges"])
    box = chart_box(page)
    low, high = page.evaluate(
        f"[series.coordinateToPrice({box['height'] - 60}), series.coordinateToPrice(20)]"
    )  # the price range on screen, away from the edges
    centers = np.sqrt(edges[:-1] * edges[1:])
    visible = (centers > low) & (centers < high)
    last = (np.array(data["long"][-1]) + np.array(data["short"][-1])) * visible
    top_row = int(last.argmax())
    quiet_rows = np.flatnonzero(visible & (last > 0) & (last < 0.05 * last.max()))
    assert quiet_rows.size, "the map should have quiet rows to compare with"
    quiet_row = int(quiet_rows[np.argmax(np.abs(quiet_rows - top_row))])
    page.evaluate(
        """() => { for (const line of [...page.priceLines, ...page.levelLines]) series.removePriceLine(line);
                   if (page.markers) page.markers.setMarkers([]); }"""
    )  # the bitmap alone: cluster labels sit over the last bar at the right edge
    page.wait_for_timeout(100)
    pixels = shot(page, "synthetic-3d-absolute")

    def brightness(row: int) -> float:
        mid_price = float(np.sqrt(edges[row] * edges[row + 1]))
        y = page.evaluate(f"series.priceToCoordinate({mid_price})")
        x = page.evaluate("xOf(chart.timeScale(), barIndex(page.heatmap.time[page.heatmap.time.length - 1]))")
        assert y is not None
        assert x is not None
        px, py = int(box["x"] + x) - 3, int(box["y"] + y)
        return float(pixels[py - 1 : py + 2, px - 2 : px + 1].sum(axis=2).mean())

    assert brightness(top_row) > brightness(quiet_row) + 60


def test_hover_shows_the_values_of_the_cell_under_the_cursor(page: Any, server: str) -> None:
    import httpx

    open_page(page, f"{server}/?market=synthetic&window=3d")
    box = chart_box(page)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
    page.wait_for_selector("#tooltip:not([hidden])")
    shown_long = float(page.get_attribute("#tooltip", "data-long") or "nan")
    shown_short = float(page.get_attribute("#tooltip", "data-short") or "nan")
    at = page.evaluate(
        f"""() => {{ const t = chart.timeScale().coordinateToTime({box["width"] * 0.5});
                    const p = series.coordinateToPrice({box["height"] * 0.3}); return [t, p]; }}"""
    )
    data = httpx.get(f"{server}/api/markets/synthetic/heatmap", params={"window": "3d", "bins": 300, "columns": 1400}).json()
    times = np.array(data["time"])
    edges = np.array(data["price_edges"])
    column = int(np.searchsorted(times, at[0], side="right") - 1)
    row = int(np.searchsorted(edges, at[1], side="right") - 1)
    # the page's q16 encoding keeps values within 0.03 % (log1p codes), far finer than the $1.2M shown
    assert shown_long == pytest.approx(data["long"][column][row], rel=3e-4, abs=0.01)
    assert shown_short == pytest.approx(data["short"][column][row], rel=3e-4, abs=0.01)
    assert shown_long + shown_short > 0, "the cursor should be over a part of the map with levels"
    text = page.text_content("#tooltip") or ""
    assert "longs at risk" in text
    assert "shorts at risk" in text
    assert "UTC" in text


def test_switching_window_and_side_changes_the_picture(page: Any, server: str) -> None:
    open_page(page, f"{server}/?market=synthetic&window=3d")
    before = hashlib.sha256(shot(page, "switch-before").tobytes()).hexdigest()
    page.select_option("#window", "24h")
    page.wait_for_function(
        "document.body.dataset.state === 'ready' && new URLSearchParams(location.search).get('window') === '24h'"
    )
    after_window = hashlib.sha256(shot(page, "switch-window").tobytes()).hexdigest()
    page.select_option("#side", "long")
    page.wait_for_function("document.body.dataset.state === 'ready' && page.heatmap.side === 'long'")
    after_side = hashlib.sha256(shot(page, "switch-side").tobytes()).hexdigest()
    assert len({before, after_window, after_side}) == 3
    assert "side=long" in page.url  # the URL captures the view


def test_the_liquidation_map_view_renders(page: Any, server: str) -> None:
    open_page(page, f"{server}/?market=synthetic&window=3d")
    page.click("#tab-map")
    page.wait_for_function("page.map !== null")
    pixels = shot(page, "liquidation-map")
    box = page.locator("#mapcanvas").bounding_box()
    assert coloured_share(pixels, box) > 0.02
    assert "longs liquidate below price" in (page.text_content("#maplegend") or "")


def test_a_bad_query_shows_a_readable_error(page: Any, server: str) -> None:
    open_page(page, f"{server}/?market=synthetic&window=3x")
    assert page.evaluate("document.body.dataset.state") == "error"
    message = page.text_content("#error") or ""
    assert "window must be one of" in message
    shot(page, "bad-query")


def test_the_calculator_panel(page: Any, server: str) -> None:
    open_page(page, f"{server}/?market=synthetic&window=3d")
    assert page.locator("#realized ol li").count() == 5  # the largest realized orders, with prices
    assert "@" in (page.text_content("#realized ol li") or "")
    page.fill("#calc input[name=entry]", "60000")
    page.click("#calc button")
    page.wait_for_function("document.getElementById('calcout').textContent.length > 0")
    assert "57,229" in (page.text_content("#calcout") or "")


@pytest.mark.parametrize(
    ("kind", "filename", "starts"),
    [
        ("png", "liqheat-synthetic-24h.png", b"\x89PNG\r\n\x1a\n"),
        ("csv", "liqheat-synthetic-24h.csv", b"ts,price_low,price_high,long_usd,short_usd\n"),
        (
            "clusters",
            "liqheat-synthetic-clusters.csv",
            b"side,price_low,price_high,peak_price,notional_usd,share,distance_pct,distance_atr,age_hours,age_at_least,side_share,"
            b"hit_prob_4h,hit_prob_24h,hit_prob_72h,expected_usd_4h,expected_usd_24h,expected_usd_72h\n",
        ),
        ("html", "liqheat-synthetic-24h.html", b"<!doctype html>"),
    ],
)
def test_exports_of_the_current_view(page: Any, server: str, kind: str, filename: str, starts: bytes) -> None:
    open_page(page, f"{server}/?market=synthetic&window=24h")
    with page.expect_download() as info:
        page.select_option("#export", kind)
    download = info.value
    assert download.suggested_filename == filename
    content = Path(download.path()).read_bytes()
    assert content.startswith(starts)
    if kind == "html":
        assert b'src="data:image/png;base64,' in content  # self-contained: the picture travels inside
        assert b"longs liquidate below price" in content
    if kind == "csv":
        assert content.count(b"\n") > 100
    if kind == "png":  # a title strip above the chart says what it shows
        import io

        from PIL import Image

        picture = np.asarray(Image.open(io.BytesIO(content)).convert("RGB"), dtype=np.int32)
        chart_height = page.evaluate("chart.takeScreenshot().height")
        assert picture.shape[0] == chart_height + 28
        assert (picture[:28].sum(axis=2) > 450).sum() > 200  # light text on the dark strip


def test_the_page_follows_a_market_that_grows(browser: Any) -> None:
    """A live feed publishes candles; the page refreshes on the server's event, without a reload."""
    from liqheat.api.markets import Registry
    from liqheat.demo.live import Feeder, published
    from liqheat.evaluation.synthetic.market import SimParams, simulate

    full = simulate(SimParams(days=2, seed=5)).bundle
    registry = Registry()
    start = 1440
    market = registry.add(published(full, start), market_id="live")
    with serve(registry) as base:
        context = browser.new_context(viewport={"width": 1200, "height": 700})
        page = context.new_page()
        try:
            open_page(page, f"{base}/?market=live&window=24h&interval=1m")
            before = page.evaluate("page.bars[page.bars.length - 1]")
            page.evaluate("window.__marker = 'same document'")
            feeder = Feeder(market, full, start, every=0.2).start()
            page.wait_for_function(f"page.bars[page.bars.length - 1] >= {before} + 180", timeout=30_000)
            feeder.stop()
            assert page.evaluate("window.__marker") == "same document"  # updated in place, not reloaded
            assert market.version >= 3
        finally:
            context.close()


def test_a_grown_candle_asks_only_for_what_a_candle_changes_and_keeps_what_the_trader_drew(browser: Any) -> None:
    """One candle appended: the event carries it; the page asks again for heatmap, markers, summary and clusters
    (not the candles, not the slow panels), keeps the plan's lines, and shows the candle as the server would."""
    import httpx

    from liqheat.api.markets import Registry
    from liqheat.demo.live import published
    from liqheat.evaluation.synthetic.market import SimParams, simulate

    full = simulate(SimParams(days=2, seed=5)).bundle
    registry = Registry()
    start = 1440
    market = registry.add(published(full, start), market_id="live")
    with serve(registry) as base:
        context = browser.new_context(viewport={"width": 1200, "height": 700})
        page = context.new_page()
        try:
            open_page(page, f"{base}/?market=live&window=24h&interval=1m")
            page.click("#plan button[type=submit]")
            page.wait_for_function("page.plan !== null")
            lines = page.evaluate("page.planLines.length")
            asked: list[str] = []
            page.on(
                "request", lambda r: asked.append(r.url.split("?")[0].rsplit("/", 1)[-1]) if "/api/markets/" in r.url else None
            )
            before = page.evaluate("page.bars.at(-1)")
            market.grow(published(full, start + 1))
            grown = f"page.bars.at(-1) === {before} + 60 && document.body.dataset.state === 'ready'"
            page.wait_for_function(grown, timeout=10_000)
            assert sorted(asked) == ["clusters", "heatmap", "liquidations", "summary"]  # the candle came with the event
            # the heatmap came as its new columns only, and the page holds the frame the server would send whole
            answer = page.evaluate("page.heatmapAnswer")
            assert answer["delta"]
            market_id, query = json.loads(page.evaluate("page.heatmapKey"))
            whole = httpx.get(f"{base}/api/markets/{market_id}/heatmap", params=query).content
            head, long, _ = decode_q16(whole)
            assert answer["bytes"] < len(whole) / 20
            assert page.evaluate("page.heatmap.time") == head["time"]
            np.testing.assert_allclose(page.evaluate("Array.from(page.heatmap.long)"), long, rtol=1e-3, atol=1.0)
            fresh = httpx.get(f"{base}/api/markets/live/candles", params={"window": "24h", "interval": "1m"}).json()
            bar = page.evaluate("page.candles.at(-1)")
            keys = ("time", "open", "high", "low", "close")
            assert [bar[k] for k in keys] == [fresh[k][-1] for k in keys]
            # on 5-minute bars the new minute folds into the last bar as the server would resample it
            page.select_option("#interval", "5m")
            page.wait_for_function("document.body.dataset.state === 'ready'")
            for k in (2, 3):
                market.grow(published(full, start + k))
                last = f"{full.candles['ts'].iloc[start + k - 1]:%Y-%m-%dT%H:%M}"
                page.wait_for_function(f"page.answers.summary.last.startsWith('{last}')")
                page.wait_for_function("document.body.dataset.state === 'ready'")
            five = httpx.get(f"{base}/api/markets/live/candles", params={"window": "24h", "interval": "5m"}).json()
            bar = page.evaluate("page.candles.at(-1)")
            assert [bar[k] for k in keys] == [five[k][-1] for k in keys]
            assert page.evaluate("page.planLines.length") == lines
            assert page.evaluate("page.plan !== null")
        finally:
            context.close()


def test_a_store_market_shows_each_venue_and_splits_the_hover(browser: Any, tmp_path: Path) -> None:
    """Two venues from the store: the panel says which one lags, and the hover splits a level by venue."""
    import re

    import pandas as pd

    from helpers import walk, write_venue
    from liqheat.api.markets import Registry
    from liqheat.store.aggregate import parse_feeds
    from liqheat.store.parquet_store import Series, Store

    store = Store(tmp_path)
    frame = walk(3 * 1440)
    write_venue(store, "binance", frame, 7e9)
    write_venue(store, "bybit", frame.iloc[:-180], 3e9)
    last = frame["ts"].iloc[-1]
    with store.writer():
        for venue, symbol, usd in (
            ("binance", "BTC/USDT:USDT", 5e5),
            ("binance", "ETH/USDT:USDT", 2e5),
            ("bybit", "BTC/USDT:USDT", 3e5),
        ):
            liq = pd.DataFrame({"ts": [last - pd.Timedelta(hours=2)], "side": ["long"], "usd": [usd], "price": [60_000.0]})
            store.write(Series("liquidations", venue, symbol), liq.astype({"ts": "datetime64[us, UTC]"}))
    registry = Registry()
    registry.add_store(store, parse_feeds(["binance", "bybit"], "BTCUSDT"), "1m")
    with serve(registry) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 800})
        page = context.new_page()
        try:
            open_page(page, f"{base}/?market=btc-binance-bybit-1m&window=2d")
            assert page.evaluate("document.body.dataset.state") == "ready"
            assert page.input_value("#window") == "2d"  # a window from the link, not in the list, is shown as it is
            items = page.locator("#venues li")
            assert items.count() == 2
            assert "fresh" in (items.nth(0).text_content() or "")
            assert "70% of OI" in (items.nth(0).text_content() or "")
            assert (items.nth(1).get_attribute("class") or "").split() == ["venue", "lagging"]
            box = chart_box(page)
            page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.5)
            page.wait_for_selector("#tooltip:not([hidden])")
            text = page.text_content("#tooltip") or ""
            long_, short = (float(page.get_attribute("#tooltip", k) or "nan") for k in ("data-long", "data-short"))
            assert long_ + short > 0
            assert "by venue (open-interest share)" in text
            parts = dict(re.findall(r"(binance|bybit) \$([\d.,]+[kMB]?)", text))
            assert set(parts) == {"binance", "bybit"}
            page.wait_for_selector("#storeliq:not([hidden]) table")
            panel = page.text_content("#storeliqout") or ""
            assert "binance ≥" in panel  # a lower bound, and labelled so
            assert "top of 3 markets" in panel  # venue × symbol
            assert "ETH/USDT" in panel
            assert "BTC/USDT long $500.0k @ 60,000" in panel
            assert "undefined" not in (page.text_content("aside") or "")  # three liquidations are too few to score
            shot(page, "store-venues")
            # one venue alone, per request: the venue select picks the server's market of that venue
            assert page.is_visible("#venue")
            options = page.eval_on_selector_all("#venue option", "os => os.map((o) => [o.value, o.textContent])")
            assert options == [
                ["btc-binance-bybit-1m", "all (binance+bybit)"],
                ["btc-binance-1m", "binance"],
                ["btc-bybit-1m", "bybit"],
            ]
            page.select_option("#venue", "btc-bybit-1m")
            page.wait_for_function("document.body.dataset.state === 'ready' && page.summary.id === 'btc-bybit-1m'")
            assert page.evaluate("page.summary.venues") == ["bybit"]
            assert page.input_value("#market") == "btc-bybit-1m"
            assert page.input_value("#calc select[name=venue]") == "bybit"
            # search: typed words find the market
            page.fill("#search", "binance bybit")
            page.press("#search", "Enter")
            page.wait_for_function("document.body.dataset.state === 'ready' && page.summary.id === 'btc-binance-bybit-1m'")
            page.fill("#search", "doge")
            page.press("#search", "Enter")
            assert page.evaluate("document.getElementById('search').validationMessage") == "no market matches"
            assert page.evaluate("page.summary.id") == "btc-binance-bybit-1m"
        finally:
            context.close()


def test_trader_panels_levels_planner_and_cascade(page: Any, server: str) -> None:
    """S/R lines, sentiment, the planner's lines and the cascade path, all from the API's own answers."""
    import httpx

    open_page(page, f"{server}/?market=synthetic&window=3d")
    levels = httpx.get(f"{server}/api/markets/synthetic/levels", params={"top": 8}).json()
    assert page.evaluate("page.levelLines.length") == min(6, len(levels["levels"])) > 0
    assert page.locator("#levels li").count() == min(6, len(levels["levels"]))
    assert "longs at risk" in (page.text_content("#sentiment") or "")
    assert "ATR" in (page.text_content("#clusters") or "")
    page.uncheck("#sr")
    assert page.evaluate("page.levelLines.length") == 0
    page.check("#sr")

    page.fill("#plan input[name=leverage]", "20")
    page.click("#plan button")
    page.wait_for_function("page.plan !== null")
    plan = page.evaluate("page.plan")
    expected = httpx.get(f"{server}/api/markets/synthetic/plan",
                         params={"side": "long", "venue": "binance", "entry": plan["entry"], "leverage": 20, "balance": 10000,
                                 "risk": "1%"}).json()  # fmt: skip
    assert plan["stop"] == pytest.approx(expected["stop"])
    assert plan["liquidation_price"] == pytest.approx(expected["liquidation_price"])
    assert page.evaluate("page.planLines.length") >= 3  # entry, stop, own liquidation (and a target when there is one)
    assert "size" in (page.text_content("#planout") or "")

    page.fill("#cascade input[name=shock]", "-4")
    page.click("#cascade button")
    page.wait_for_function("page.cascade !== null")
    c = page.evaluate("page.cascade")
    assert c["shock_pct"] == -4
    path = page.evaluate("page.cascadeSeries.data().map((p) => p.value)")
    assert path[0] == pytest.approx(c["price_before"])
    assert path[-1] == pytest.approx(c["price_after"])
    assert c["price_after"] <= c["price_before"] * 0.96 + 1e-6
    assert "liquidated" in (page.text_content("#cascadeout") or "")
    shot(page, "trader-panels")
    page.fill("#cascade input[name=shock]", "0")
    page.click("#cascade button")
    page.wait_for_function("document.getElementById('cascadeout').textContent.startsWith('Error')")
    assert "shock must be a non-zero % in (-90, 900), got 0.0" in (page.text_content("#cascadeout") or "")
