"""Exact on-chain levels on the page's heatmap: the shared BTC bundle served with the shared Aave snapshot (as
``liqheat serve --bundle … --onchain aave=…`` does), in Chromium. The violet runs are drawn where the layer says,
the hover tells the exact notional from the estimate, and the levels select hides either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from web.browser import chart_box, coloured_share, fresh_page, open_page, shot

MARKET = "btc-agg-1h-dec-feb"
URL = f"/?market={MARKET}&window=30d"
# the largest run drawn inside the plot (clear of the price scale and the time axis), and where it is
WHERE = """(() => {
  const L = page.exactLayer, R = L.runs, box = document.getElementById('chart').getBoundingClientRect();
  const width = chart.timeScale().width();
  const lines = [...page.priceLines, ...page.levelLines].map((l) => series.priceToCoordinate(l.options().price));
  let best = null;
  for (let k = 0; k < R.usd.length; k++) {
    const c = Math.round((R.first[k] + R.last[k]) / 2);
    const x = xOf(chart.timeScale(), barIndex(L.time[c]));
    const y = series.priceToCoordinate(Math.sqrt(L.price_edges[R.row[k]] * L.price_edges[R.row[k] + 1]));
    if (x === null || y === null || x < 20 || x > width - 4 || y < 20 || y > box.height - 80) continue;
    if (lines.some((ly) => ly !== null && Math.abs(ly - y) < 14)) continue; // a price line's label may cover it
    if (!best || R.usd[k] > best.usd) best = { k, c, x, y, usd: R.usd[k], row: R.row[k], side: R.side[k] };
  }
  return best;
})()"""


def violet(pixels: np.ndarray, x: float, y: float) -> bool:
    """Whether the exact layer's line colour is within a pixel of (x, y): blue far above green, as no colour of
    the heatmap's scale or of the candles is."""
    px, py = round(x), round(y)
    area = pixels[py - 2 : py + 3, px - 2 : px + 3].reshape(-1, 3)
    return bool(np.any((area[:, 2] >= 200) & (area[:, 2] - area[:, 1] >= 50) & (area[:, 0] < area[:, 2])))


def runs_at(layer: dict[str, Any], row: int, column: int) -> tuple[float, float]:
    """The layer's long and short USD in one cell, read from its runs."""
    r = layer["runs"]
    out = {"long": 0.0, "short": 0.0}
    for side, rw, first, last, usd in zip(r["side"], r["row"], r["first"], r["last"], r["usd"], strict=True):
        if rw == row and first <= column <= last:
            out[side] += usd
    return out["long"], out["short"]


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    with fresh_page(browser, viewport={"width": 1400, "height": 900}) as pg:
        yield pg


def test_the_heatmap_draws_exact_levels_violet_where_the_layer_says_and_the_levels_select_hides_them(
    desk: Any, exact_server: str
) -> None:
    open_page(desk, exact_server + URL)
    desk.wait_for_function("page.exactLayer && page.exactShown && page.drawMs.length > 0")
    layer = desk.evaluate("page.exactLayer")
    assert [s["label"] for s in layer["sources"]] == ["aave v3 (exact)"]
    assert layer["sources"][0]["snapshots"][0]["as_of"].startswith("2026-02-24")
    assert desk.is_visible("#mapsource")
    assert "exact on-chain levels: aave v3 2026-02-24" in (desk.text_content("#exactlegend") or "")
    spot = desk.evaluate(WHERE)
    assert spot is not None, "no exact run is inside the plot"
    box = chart_box(desk)
    x, y = box["x"] + spot["x"], box["y"] + spot["y"]
    pixels = shot(desk, "exact-heatmap-1400")
    assert violet(pixels, x, y)
    # nothing violet is drawn before the snapshot: the first column of the window is on no exact run
    assert min(layer["runs"]["first"]) > 0
    everything = coloured_share(pixels, box)

    # the hover at that spot: the estimate and the exact part, each labelled
    desk.mouse.move(x, y)
    desk.wait_for_selector("#tooltip:not([hidden])")
    tip = desk.text_content("#tooltip") or ""
    assert "estimated longs at risk" in tip
    assert f"aave v3 (exact): {spot['side']}s $" in tip
    shown = float(desk.get_attribute("#tooltip", f"data-exact-{spot['side']}") or 0)
    cells = [runs_at(layer, spot["row"], c)[0 if spot["side"] == "long" else 1] for c in range(spot["c"] - 1, spot["c"] + 2)]
    assert shown > 0
    assert any(shown == pytest.approx(v) for v in cells)

    # the estimate alone: no violet there (the pointer off the chart: its crosshair would cover the spot)
    desk.mouse.move(2, 2)
    desk.wait_for_selector("#tooltip", state="hidden")
    desk.select_option("#mapsource", "estimated")
    desk.wait_for_function("!page.exactShown")
    assert "source=estimated" in desk.url
    assert not violet(shot(desk, "exact-heatmap-estimated"), x, y)
    assert (desk.text_content("#exactlegend") or "") == ""

    # the exact levels alone: the bitmap is gone, the violet stays
    desk.select_option("#mapsource", "exact")
    desk.wait_for_function("page.exactShown")
    pixels = shot(desk, "exact-heatmap-exact-only")
    assert violet(pixels, x, y)
    assert coloured_share(pixels, box) < everything / 2
    desk.mouse.move(x + 1, y)
    desk.wait_for_function("!document.getElementById('tooltip').textContent.includes('estimated')")
    assert "aave v3 (exact)" in (desk.text_content("#tooltip") or "")
    assert desk.errors == []


def test_the_exact_layer_on_a_phone(browser: Any, exact_server: str) -> None:
    with fresh_page(browser, viewport={"width": 390, "height": 844}) as phone:
        open_page(phone, exact_server + URL)
        phone.wait_for_function("page.exactLayer && page.exactShown && page.drawMs.length > 0")
        spot = phone.evaluate(WHERE)
        pixels = shot(phone, "exact-heatmap-390")
        assert spot is not None
        box = chart_box(phone)
        assert violet(pixels, box["x"] + spot["x"], box["y"] + spot["y"])
        assert phone.errors == []
