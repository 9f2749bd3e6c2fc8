"""Exact on-chain levels on the heatmap (``/heatmap/exact``): on the heatmap's own columns and rows, each level from
its snapshot until a candle crosses it or a later snapshot replaces it (checked against a brute-force restatement
of that rule, column by column), one side or both, and nothing for a market without exact sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.data import BARE, SYN
from helpers import hl_state
from liqheat.analytics.exact import ExactLevels, Snapshots
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.api.models import ExactHeatmap
from liqheat.timeutil import epoch_micros

ROUTE = "/api/markets/syn/heatmap/exact"
QUERY = {"window": "4d", "bins": 120, "columns": 96}
C = SYN.candles
TS = epoch_micros(C["ts"])
LOW, HIGH = C["low"].to_numpy(np.float64), C["high"].to_numpy(np.float64)
FIRST_AS_OF = C["ts"].iloc[-60]
SECOND_AS_OF = C["ts"].iloc[-20]


def snapshot(as_of: pd.Timestamp, scale: float) -> ExactLevels:
    """Levels about the price at ``as_of``: some close enough for the candles after it to cross, some far."""
    k = int(C["ts"].searchsorted(as_of))
    p = float(C["open"].iloc[k])
    price = p * np.array([0.9, 0.97, 0.995, 1.004, 1.03, 1.12])
    return ExactLevels("aave v3", "BTC", as_of, price, price < p, scale * np.array([1e6, 2e6, 3e6, 4e6, 5e6, 6e6]), 6)


@pytest.fixture(scope="module")
def client() -> TestClient:
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.add(BARE, market_id="bare")
    registry.add_exact(Snapshots("aave v3", "BTC", (snapshot(FIRST_AS_OF, 1.0), snapshot(SECOND_AS_OF, 10.0))))
    return TestClient(create_app(registry))


def get(client: TestClient, route: str = ROUTE, **query: Any) -> dict[str, Any]:
    response = client.get(route, params={**QUERY, **query})
    assert response.status_code == 200, response.text[:300]
    data: dict[str, Any] = response.json()
    ExactHeatmap.model_validate(data)
    return data


def cells(layer: dict[str, Any], side: str) -> np.ndarray:
    """The runs spread back into columns × rows."""
    out = np.zeros((layer["columns"], layer["rows"]))
    r = layer["runs"]
    for s, sd, row, first, last, usd in zip(r["source"], r["side"], r["row"], r["first"], r["last"], r["usd"], strict=True):
        assert s == 0
        if sd == side:
            out[first : last + 1, row] += usd
    return out


def brute_force(levels: list[ExactLevels], times: list[int], edges: np.ndarray, side: str) -> np.ndarray:
    """The rule said plainly: at a column (the map as its candle opens, after the one before closed) the last
    snapshot taken by then holds; each of its levels counts unless a candle opening since the snapshot, up to the
    one just closed, reached it."""
    out = np.zeros((len(times), len(edges) - 1))
    for c, t in enumerate(times):
        i = int(np.searchsorted(TS, t * 1_000_000)) - 1
        taken = [lv for lv in levels if lv.as_of.value // 1000 <= TS[i + 1]]
        if not taken:
            continue
        lv = taken[-1]
        first = int(np.searchsorted(TS, lv.as_of.value // 1000))
        for price, is_long, usd in zip(lv.price, lv.long, lv.usd, strict=True):
            if is_long != (side == "long") or first > i:
                continue
            crossed = LOW[first : i + 1].min() <= price if is_long else HIGH[first : i + 1].max() >= price
            row = int(np.searchsorted(edges, price, side="right")) - 1
            if not crossed and 0 <= row < len(edges) - 1:
                out[c, row] += usd
    return out


def test_the_layer_is_on_the_heatmaps_own_columns_and_rows(client: TestClient) -> None:
    layer = get(client)
    heat = client.get("/api/markets/syn/heatmap", params=QUERY).json()
    assert layer["time"] == heat["time"]
    assert layer["price_edges"] == heat["price_edges"]
    assert (layer["columns"], layer["rows"]) == (heat["columns"], heat["rows"])
    assert [s["label"] for s in layer["sources"]] == ["aave v3 (exact)"]


def test_each_level_is_drawn_from_its_snapshot_until_crossed_or_replaced(client: TestClient) -> None:
    layer = get(client)
    levels = [snapshot(FIRST_AS_OF, 1.0), snapshot(SECOND_AS_OF, 10.0)]
    edges = np.array(layer["price_edges"])
    for side in ("long", "short"):
        got = cells(layer, side)
        expected = brute_force(levels, layer["time"], edges, side)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0.01)
    both = cells(layer, "long") + cells(layer, "short")
    times = np.array(layer["time"]) * 1_000_000
    before = times <= FIRST_AS_OF.value // 1000
    assert before.any()
    assert not both[before].any()  # nothing is known before the first snapshot
    second = times > SECOND_AS_OF.value // 1000
    assert both[second].sum(axis=1).max() > 10e6  # the second snapshot (ten times the notional) has replaced the first
    assert [s["as_of"][:13] for s in layer["sources"][0]["snapshots"]] == [
        FIRST_AS_OF.strftime("%Y-%m-%dT%H"), SECOND_AS_OF.strftime("%Y-%m-%dT%H")]
    # some level left the map while its snapshot was still in force: a candle crossed it
    first_cols = both[~before & ~second]
    assert (np.diff(first_cols.sum(axis=1)) < 0).any()
    assert layer["max"] == pytest.approx(max(cells(layer, "long").max(), cells(layer, "short").max()))


def test_one_side_leaves_the_other_out(client: TestClient) -> None:
    longs = get(client, side="long")
    assert set(longs["runs"]["side"]) == {"long"}
    assert cells(longs, "long").tolist() == cells(get(client), "long").tolist()


def test_a_market_without_exact_sources_has_an_empty_layer_and_says_so_in_its_info(client: TestClient) -> None:
    bare = get(client, "/api/markets/bare/heatmap/exact")
    assert bare["sources"] == []
    assert bare["runs"]["usd"] == []
    assert bare["max"] == 0
    assert client.get("/api/markets/bare").json()["exact"] == []
    assert client.get("/api/markets/syn").json()["exact"] == ["aave v3"]


def test_a_refused_value_names_its_parameter(client: TestClient) -> None:
    response = client.get(ROUTE, params={**QUERY, "lev_min": 50, "lev_max": 10})
    assert response.status_code == 400
    assert response.json()["param"] == "lev_min"


def test_hyperliquid_reads_in_a_store_replace_each_account_on_the_heatmap_from_one_read_of_it(tmp_path: Path) -> None:
    from liqheat.analytics.exact import StoredPositions
    from liqheat.store.parquet_store import Store
    from liqheat.venues.hyperliquid.tracker import Recorder

    low = float(C["low"].iloc[-60:].min())
    last = float(C["close"].iloc[-1])
    store = Store(tmp_path / "store")
    recorder = Recorder(frozenset({"BTC"}))
    recorder.record(hl_state("0xa", 2.0, low * 0.97, last), FIRST_AS_OF)
    recorder.record(hl_state("0xa", 3.0, low * 0.95, last), SECOND_AS_OF)  # the same account read again
    with store.writer():
        recorder.flush(store)
    source = StoredPositions(store.root, "BTC")
    times = list(C["ts"].iloc[-70:])
    over = source.levels_over(times)
    assert [None if lv is None else lv.as_of for lv in over] == [
        None if lv is None else lv.as_of for lv in (source.levels_at(t) for t in times)]
    assert len({id(lv) for lv in over if lv is not None}) == 2  # one snapshot per read, shared by the times after it
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.add_exact(source)
    layer = get(TestClient(create_app(registry)))
    held = cells(layer, "long").sum(axis=1)
    times_us = np.array(layer["time"]) * 1_000_000
    assert held[times_us > SECOND_AS_OF.value // 1000] == pytest.approx(3.0 * low * 0.95, abs=0.05)
    between = (times_us > FIRST_AS_OF.value // 1000) & (times_us < SECOND_AS_OF.value // 1000)
    assert held[between] == pytest.approx(2.0 * low * 0.97, abs=0.05)
    assert not held[times_us <= FIRST_AS_OF.value // 1000].any()
