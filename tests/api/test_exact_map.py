"""Exact on-chain levels on the liquidation map (``/map``): their own parts labelled exact in every split, the
on-chain share, the source filter, none before their snapshot, the CSV, and a clear error where there are none."""

from __future__ import annotations

import io
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
from liqheat.model import DomainError

MAP = "/api/markets/syn/map"
AS_OF = SYN.candles["ts"].iloc[-48]
LAST = float(SYN.candles["close"].iloc[-1])


def exact_levels() -> ExactLevels:
    """Longs 4–12 % below the last price and shorts 6–10 % above it, none of which the last two days crossed."""
    c = SYN.candles.iloc[-48:]
    low, high = float(c["low"].min()), float(c["high"].max())
    long = low * np.array([0.88, 0.92, 0.96])
    short = high * np.array([1.06, 1.10])
    price = np.concatenate([long, short])
    return ExactLevels("aave v3", "BTC", AS_OF, price, price < LAST, np.array([1e6, 2e6, 3e6, 5e6, 7e6]), positions=4)


@pytest.fixture(scope="module")
def client() -> TestClient:
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.add(BARE, market_id="bare")
    assert registry.add_exact(Snapshots.of(exact_levels())) == ["syn"]
    return TestClient(create_app(registry))


def get(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get(MAP, params={"span_pct": 30, **query})
    assert response.status_code == 200, response.text[:300]
    data: dict[str, Any] = response.json()
    return data


def test_exact_levels_are_a_part_of_their_own_labelled_exact_with_their_share(client: TestClient) -> None:
    m = get(client)
    assert [(p["label"], p["kind"]) for p in m["parts"]] == [("all", "estimated"), ("aave v3 (exact)", "exact")]
    exact = m["parts"][1]
    assert sum(exact["long"]) == pytest.approx(6e6)
    assert sum(exact["short"]) == pytest.approx(12e6)
    total = sum(m["long"]) + sum(m["short"])
    assert total == pytest.approx(sum(sum(p["long"]) + sum(p["short"]) for p in m["parts"]))
    assert m["onchain_share"] == pytest.approx(18e6 / total)
    assert m["exact"] == [
        {"source": "aave v3", "as_of": AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ"), "positions": 4, "coverage": None,
         "open_levels": 5, "note": ""}
    ]  # fmt: skip


def test_every_split_keeps_the_exact_part_and_the_filter_keeps_one_kind(client: TestClient) -> None:
    by_source = get(client, by="source")
    assert [p["kind"] for p in by_source["parts"]] == ["estimated", "exact"]
    assert by_source["parts"][0]["label"] == "estimated"
    by_leverage = get(client, by="leverage")
    assert by_leverage["parts"][-1]["kind"] == "exact"
    assert all(p["kind"] == "estimated" for p in by_leverage["parts"][:-1])
    estimated = get(client, source="estimated")
    assert [p["kind"] for p in estimated["parts"]] == ["estimated"]
    assert estimated["onchain_share"] is None
    assert estimated["exact"] == []
    exact = get(client, source="exact")
    assert [p["kind"] for p in exact["parts"]] == ["exact"]
    assert sum(exact["long"]) + sum(exact["short"]) == pytest.approx(18e6)
    assert exact["onchain_share"] == pytest.approx(1.0)


def test_a_map_before_the_snapshot_shows_no_exact_level(client: TestClient) -> None:
    before = get(client, at=(AS_OF - pd.Timedelta(hours=2)).isoformat())
    assert [p["kind"] for p in before["parts"]] == ["estimated"]
    assert before["exact"] == []
    assert before["onchain_share"] is None


def test_the_csv_names_each_part_with_its_kind(client: TestClient) -> None:
    response = client.get(MAP, params={"span_pct": 30, "by": "source", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(response.text))
    assert "aave v3 (exact) [exact] long_usd" in table.columns
    assert "estimated [estimated] short_usd" in table.columns
    assert table["aave v3 (exact) [exact] short_usd"].sum() == pytest.approx(12e6, abs=0.05)
    whole = get(client)
    assert (table["long_usd"] + table["short_usd"]).sum() == pytest.approx(sum(whole["long"]) + sum(whole["short"]), rel=1e-6)


def test_exact_only_on_a_market_without_exact_levels_is_a_clear_400(client: TestClient) -> None:
    response = client.get("/api/markets/bare/map", params={"source": "exact"})
    assert response.status_code == 400
    assert "bare has no exact source" in response.text
    assert "source" in response.text


def test_levels_on_a_symbol_no_market_serves_are_refused_naming_the_option() -> None:
    registry = Registry()
    registry.add(BARE, market_id="bare")
    with pytest.raises(DomainError, match=r"aave v3: no market served is on BTC \(markets: ETH") as raised:
        registry.add_exact(Snapshots.of(exact_levels()))
    assert raised.value.param == "onchain"


# ------------------------------------------------------------------------------------------ Hyperliquid positions


def test_hyperliquid_positions_kept_in_a_store_are_an_exact_part_as_of_each_read(tmp_path: Path) -> None:
    from liqheat.analytics.exact import StoredPositions, stored_sources
    from liqheat.store.parquet_store import Store
    from liqheat.venues.hyperliquid.tracker import Recorder

    c = SYN.candles.iloc[-48:]
    low, high = float(c["low"].min()), float(c["high"].max())
    store = Store(tmp_path / "store")
    recorder = Recorder(frozenset({"BTC"}))
    first = AS_OF
    recorder.record(hl_state("0xa", 2.0, low * 0.9, LAST), first)
    recorder.record(hl_state("0xb", -1.0, high * 1.1, LAST), first)
    recorder.record(hl_state("0xc", 1.0, None, LAST), first)  # no price liquidates it: not on the map
    recorder.record(hl_state("0xa", 3.0, low * 0.95, LAST), first + pd.Timedelta(hours=12))  # a later read
    with store.writer():
        recorder.flush(store)
    assert stored_sources(store.root) == [StoredPositions(store.root, "BTC")]
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.add_exact(StoredPositions(store.root, "BTC"))
    client = TestClient(create_app(registry))
    m = get(client, by="source")
    hl = m["parts"][-1]
    assert (hl["label"], hl["kind"]) == ("hyperliquid (exact)", "exact")
    assert sum(hl["long"]) == pytest.approx(3.0 * low * 0.95, abs=0.02)  # the later read of 0xa replaced the first
    assert sum(hl["short"]) == pytest.approx(1.0 * high * 1.1, abs=0.02)
    (source,) = m["exact"]
    assert source["as_of"] == (first + pd.Timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert source["positions"] == 2
    assert source["open_levels"] == 2
    between = get(client, by="source", at=(first + pd.Timedelta(hours=6)).isoformat())
    assert sum(between["parts"][-1]["long"]) == pytest.approx(2.0 * low * 0.9, abs=0.02)  # as of the first read
    before = get(client, at=(first - pd.Timedelta(hours=2)).isoformat())
    assert before["exact"] == []
