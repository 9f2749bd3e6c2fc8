"""Under load: heavy routes compute a bounded few at a time and answer 429 with Retry-After past the
queue; the caches hold at most their byte budgets; the heatmap CSV is streamed, byte for byte the
one table it was."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.data import SYN
from liqheat.api import encode
from liqheat.api.app import create_app
from liqheat.api.busy import Gate
from liqheat.api.markets import Market, Registry
from liqheat.timeutil import iso

TS = SYN.candles["ts"]


def one_table(times: pd.DatetimeIndex, edges: np.ndarray, long: np.ndarray, short: np.ndarray) -> str:
    """The CSV as one pandas table wrote it before it was streamed."""
    n_t, n_p = long.shape
    table = pd.DataFrame({
        "ts": np.repeat([iso(t) for t in times], n_p), "price_low": np.tile(edges[:-1], n_t).round(8),
        "price_high": np.tile(edges[1:], n_t).round(8), "long_usd": long.reshape(-1).round(2),
        "short_usd": short.reshape(-1).round(2),
    })  # fmt: skip
    return str(table.to_csv(index=False))


@pytest.mark.parametrize("rows", [1, 7, 300, 1 << 16])
def test_the_streamed_csv_is_the_one_table_csv(rows: int) -> None:
    rng = np.random.default_rng(3)
    times = pd.DatetimeIndex(TS.iloc[:40])
    edges = np.sort(rng.uniform(10, 200, 31))
    long, short = rng.lognormal(10, 3, (40, 30)), rng.lognormal(10, 3, (40, 30))
    chunks = list(encode.matrix_csv(times, edges, long, short, rows=rows))
    assert "".join(chunks) == one_table(times, edges, long, short)
    assert len(chunks) > (2 if rows < 300 else 1)


def test_the_heatmap_csv_is_streamed() -> None:
    registry = Registry()
    market = registry.add(SYN, market_id="syn")
    response = TestClient(create_app(registry)).get("/api/markets/syn/heatmap", params={"format": "csv", "window": "3d"})
    assert response.status_code == 200
    assert "content-length" not in response.headers  # sent in chunks as written, not built whole first
    frame = market.heatmap(pd.Timedelta(days=3), None, 300, 800, None)
    assert response.text == one_table(frame.times, frame.price_edges, frame.long, frame.short)


def test_caches_hold_at_most_their_byte_budgets() -> None:
    registry = Registry()
    market = registry.add(SYN, market_id="syn")
    market.frame_bytes = 3_000_000
    market.answer_bytes = 500_000
    market.map_bytes = 4_000_000
    client = TestClient(create_app(registry))
    for k in range(12):
        end = iso(TS.iloc[100 + 10 * k])
        assert client.get("/api/markets/syn/heatmap", params={"window": "2d", "end": end, "bins": 1000, "columns": 400,
                                                               "format": "q16"}).status_code == 200  # fmt: skip
        assert client.get("/api/markets/syn/clusters", params={"at": end}).status_code == 200
    kept = market.kept()
    assert 0 < kept["frames"][0] < 12
    assert kept["frames"][1] <= market.frame_bytes
    assert 0 < kept["answers"][0] < 12
    assert kept["answers"][1] <= market.answer_bytes
    assert 0 < kept["maps"][0] < 12
    assert kept["maps"][1] <= market.map_bytes


def test_a_value_heavier_than_the_budget_is_answered_not_kept() -> None:
    market = Market(id="syn", bundle=SYN, frame_bytes=1000)
    frame = market.heatmap(pd.Timedelta(days=2), None, 300, 400, None)
    assert frame.long.shape[0] > 0
    assert market.kept()["frames"] == (0, 0)


def test_past_the_queue_a_heavy_route_is_a_429_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """One slot, one place in line: the third concurrent heatmap is refused at once, the first two are answered."""
    registry = Registry()
    registry.add(SYN, market_id="syn")
    app = create_app(registry, gate=Gate(slots=1, queue=1, retry_after=3))
    release = threading.Event()
    entered = threading.Event()
    build = Market.heatmap

    def slow(self: Market, *args: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return build(self, *args)

    monkeypatch.setattr(Market, "heatmap", slow)

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            url = "/api/markets/syn/heatmap"
            first = asyncio.create_task(client.get(url, params={"window": "1d"}))
            await asyncio.to_thread(entered.wait, 30)
            second = asyncio.create_task(client.get(url, params={"window": "2d"}))
            while app.state.gate.waiting < 1:
                await asyncio.sleep(0.01)
            third = await client.get(url, params={"window": "3d"})
            light = await client.get("/api/markets/syn")  # not a heavy route: never waits
            release.set()
            return [await first, await second, third, light]

    first, second, third, light = asyncio.run(scenario())
    assert (first.status_code, second.status_code, light.status_code) == (200, 200, 200)
    assert third.status_code == 429
    assert third.headers["retry-after"] == "3"
    body = third.json()
    assert list(body) == ["detail", "param"]
    assert body["param"] is None
    assert body["detail"].startswith("busy: 1 requests computing and 1 waiting")
    assert app.state.gate.running == 0


def test_a_request_that_leaves_the_line_gives_its_turn_on() -> None:
    async def scenario() -> tuple[int, int]:
        gate = Gate(slots=1, queue=4)
        await gate.acquire()
        leaving = asyncio.create_task(gate.acquire())
        staying = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0.01)
        leaving.cancel()
        gate.release()
        await asyncio.wait_for(staying, 5)
        running = gate.running
        gate.release()
        return running, gate.running

    assert asyncio.run(scenario()) == (1, 0)
