"""The heatmap's colours, in Chromium: a live candle's columns coloured on the held frame (Painter.append) give the
same bytes as colouring the moved frame whole, while colouring only the columns whose references moved."""

from __future__ import annotations

from typing import Any

import pytest

from web.browser import open_page

APPEND = """
async ({ contrast, drop, added, repriced }) => {
  const { Painter, appendColumns } = await import('/static/heatmap.js');
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const rows = 120, columns = 600;
  const edges = Float64Array.from({ length: rows + 1 }, (_, r) => 40000 * Math.exp(0.002 * r));
  const frame = (n) => {
    const long = new Float32Array(n * rows), short = new Float32Array(n * rows);
    for (let i = 0; i < long.length; i++) {
      if (random() < 0.6) long[i] = random() ** 4 * 1e7;
      if (random() < 0.4) short[i] = random() ** 4 * 1e7;
    }
    return { long, short };
  };
  const first = frame(columns);
  const h1 = { columns, rows, time: Array.from({ length: columns }, (_, c) => 60 * c), price_edges: Array.from(edges), ...first };
  const price = (c) => 40000 * Math.exp(0.12 + 0.03 * Math.sin(c / 40));
  const prices1 = Float64Array.from({ length: columns }, (_, c) => price(c));
  const more = frame(added);
  const time = Array.from({ length: added }, (_, k) => 60 * (columns + k));
  const delta = { columns: added, rows, time, price_edges: h1.price_edges, ...more };
  const h2 = appendColumns(h1, delta, drop);
  const moves = (c) => (c === repriced ? 1.01 : 1);
  const prices2 = Float64Array.from({ length: h2.columns }, (_, c) => price(c + drop) * moves(c));
  const painter = new Painter();
  painter.colour(h1, 'local', contrast, prices1);
  const moved = painter.append(delta, drop, prices2);
  const whole = new Painter().colour(h2, 'local', contrast, prices2);
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  return { level: same(moved.level, whole.level), pixels: same(moved.pixels, whole.pixels), again: painter.again,
           columns: h2.columns, legend: JSON.stringify(moved.legend) === JSON.stringify(whole.legend) };
}
"""


@pytest.mark.parametrize(
    ("contrast", "drop", "added", "repriced"),
    [(1, 1, 1, -1), (1, 3, 3, -1), (2.5, 2, 2, -1), (1, 1, 1, 300), (0.6, 0, 2, -1)],
)
def test_a_live_candle_coloured_on_the_held_frame_equals_the_frame_coloured_whole(
    page: Any, server: str, contrast: float, drop: int, added: int, repriced: int
) -> None:
    open_page(page, f"{server}/?market=synthetic&window=3d")
    got = page.evaluate(APPEND, {"contrast": contrast, "drop": drop, "added": added, "repriced": repriced})
    assert got["level"], got
    assert got["pixels"], got
    assert got["legend"], got
    assert got["columns"] == 600 - drop + added
    if drop == added:
        assert 0 < got["again"] < got["columns"] // 4, got  # a few dozen columns, not the frame
    else:
        assert got["again"] == got["columns"], got  # a frame of another width is coloured whole
