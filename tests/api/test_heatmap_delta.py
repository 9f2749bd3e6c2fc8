"""A live page's heatmap refresh: only the columns after the one it holds, when its rows are the frame's."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from helpers import decode_q16
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.demo.live import published
from liqheat.evaluation.synthetic.market import SimParams, simulate

QUERY = {"window": "24h", "columns": 300, "bins": 120, "format": "q16"}


def ask(client: TestClient, **extra: Any) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    response = client.get("/api/markets/live/heatmap", params={**QUERY, **extra})
    assert response.status_code == 200, response.text[:300]
    return decode_q16(response.content)


def test_a_grown_market_sends_the_new_columns_and_the_first_the_asker_keeps() -> None:
    full = simulate(SimParams(days=2, seed=5)).bundle
    registry = Registry()
    market = registry.add(published(full, 1440), market_id="live")
    client = TestClient(create_app(registry))
    before, _, _ = ask(client)
    for k in range(1, 4):
        market.grow(published(full, 1440 + k))
    head, long, short = ask(client, since=before["time"][-1], lo=before["price_edges"][0], rows=before["rows"])
    whole, whole_long, whole_short = ask(client)
    assert head["delta"] is True
    assert head["first"] == whole["time"][0]
    k = whole["time"].index(before["time"][-1]) + 1
    assert head["time"] == whole["time"][k:]
    assert head["columns"] == len(whole["time"]) - k
    rows = whole["rows"]
    np.testing.assert_allclose(long, whole_long[k * rows :], rtol=1e-3, atol=1.0)
    np.testing.assert_allclose(short, whole_short[k * rows :], rtol=1e-3, atol=1.0)
    assert "delta" not in whole


def test_an_asker_whose_rows_or_column_are_not_the_frames_gets_the_whole_frame() -> None:
    full = simulate(SimParams(days=2, seed=5)).bundle
    registry = Registry()
    registry.add(published(full, 1440), market_id="live")
    client = TestClient(create_app(registry))
    whole, _, _ = ask(client)
    last, lo, rows = whole["time"][-1], whole["price_edges"][0], whole["rows"]
    for extra in ({"since": last, "lo": lo, "rows": rows + 1}, {"since": last, "lo": lo * 1.01, "rows": rows},
                  {"since": last + 1, "lo": lo, "rows": rows}, {"since": last}):  # fmt: skip
        head, _, _ = ask(client, **extra)
        assert "delta" not in head, extra
        assert head["time"] == whole["time"]
    head, _, _ = ask(client, since=last, lo=lo, rows=rows)
    assert head["delta"] is True
    assert head["columns"] == 0
