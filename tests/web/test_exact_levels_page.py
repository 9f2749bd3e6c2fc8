"""The page's liquidation map with exact on-chain levels beside the estimated ones: the shared BTC bundle served
with the shared Aave snapshot (as ``liqheat serve --bundle … --onchain aave=…`` does), in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from web.browser import fresh_page, open_page, shot

MARKET = "btc-agg-1h-dec-feb"


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    with fresh_page(browser, viewport={"width": 1400, "height": 900}) as pg:
        yield pg


def test_the_map_shows_exact_levels_as_their_own_violet_part_with_their_snapshot_and_share(desk: Any, exact_server: str) -> None:
    open_page(desk, f"{exact_server}/?market={MARKET}&tab=map&split=source&window=7d")
    desk.wait_for_function("page.map && page.map.split_by === 'source'")
    m = desk.evaluate("page.map")
    assert [p["kind"] for p in m["parts"]] == ["estimated", "exact"]
    assert m["exact"][0]["source"] == "aave v3"
    assert 0 < m["onchain_share"] < 1
    legend = desk.text_content("#maplegend") or ""
    assert f"{m['onchain_share'] * 100:.1f}% on-chain: exact aave v3 2026-02-24" in legend
    title = desk.get_attribute("#maplegend", "title") or ""
    assert f"aave v3 as of 2026-02-24 00:00 UTC: {m['exact'][0]['open_levels']:,} open levels of" in title
    assert desk.is_visible("#mapsource")
    shot(desk, "exact-map-by-source")
    # the band with the most exact notional: the hover tells the exact part from the estimate
    exact = np.array(m["parts"][1]["long"])
    band = int(np.argmax(exact))
    g = desk.evaluate("page.mapGeometry")
    canvas = desk.locator("#mapcanvas").bounding_box()
    x = canvas["x"] + g["pad"]["l"] + (band + 0.5) / len(exact) * g["plotWidth"]
    desk.mouse.move(x, canvas["y"] + canvas["height"] * 0.6)
    desk.wait_for_selector("#maptip:not([hidden])")
    assert int(desk.get_attribute("#maptip", "data-band") or -1) == band
    assert "aave v3 (exact): $" in (desk.text_content("#maptip .exact") or "")
    # the filter: exact levels only, then the estimate only
    desk.select_option("#mapsource", "exact")
    desk.wait_for_function("page.map && page.map.parts.every((p) => p.kind === 'exact')")
    assert "source=exact" in desk.url
    desk.select_option("#mapsource", "estimated")
    desk.wait_for_function("page.map && page.map.parts.every((p) => p.kind === 'estimated') && page.map.exact.length === 0")
    assert desk.errors == []
