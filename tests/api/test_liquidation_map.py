"""The liquidation-map view's route: side, leverage and window honoured, split by leverage band (exact: the
bands add up to the whole map) or by venue (open-interest shares, store-backed markets only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from helpers import walk, write_venue
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.store.aggregate import parse_feeds
from liqheat.store.parquet_store import Store

MAP = "/api/markets/syn/map"


def get(client: TestClient, url: str, **query: Any) -> dict[str, Any]:
    response = client.get(url, params=query)
    assert response.status_code == 200, response.text[:300]
    data: dict[str, Any] = response.json()
    return data


def test_the_leverage_bands_add_up_to_the_whole_map(client: TestClient) -> None:
    whole = get(client, MAP, bins=120)
    split = get(client, MAP, bins=120, by="leverage")
    assert whole["split_by"] == "none"
    assert [p["label"] for p in whole["parts"]] == ["all"]
    assert split["split_by"] == "leverage"
    labels = [p["label"] for p in split["parts"]]
    assert len(labels) >= 3
    assert set(labels) <= {"< 10×", "10–25×", "25–50×", "≥ 50×"}
    for side in ("long", "short"):
        total = np.sum([p[side] for p in split["parts"]], axis=0)
        assert total == pytest.approx(np.array(whole[side]), rel=1e-6, abs=0.05)
        assert split[side] == pytest.approx(whole[side], rel=1e-6, abs=0.05)
        assert all(min(p[side]) >= 0 for p in split["parts"])
    assert sum(max(p["long"]) > 0 for p in split["parts"]) >= 2, "more than one band holds longs"
    edges = np.array(whole["price_edges"])
    below = edges[:-1] < whole["price"]  # bands starting below the price (the one holding it included)
    above = edges[1:] > whole["price"]
    assert not np.any(np.array(whole["long"])[~below])
    assert not np.any(np.array(whole["short"])[~above])
    cum = np.array(whole["cumulative_long"])
    assert cum[below] == pytest.approx(np.cumsum(np.array(whole["long"])[below][::-1])[::-1], rel=1e-6, abs=0.1)
    assert np.all(np.diff(cum[below]) <= 1e-6)  # from price downwards: more the farther down


def test_the_map_keeps_every_level_at_risk_within_its_range(client: TestClient) -> None:
    """Coarse bands lose nothing: the band holding the price keeps the levels just below and above it."""
    from api.data import SYN
    from liqheat.analytics.maps import market_map

    m = market_map(SYN)
    long, short = m.at_risk()
    for bins in (20, 200):
        data = get(client, MAP, bins=bins, span_pct=90)
        assert sum(data["long"]) == pytest.approx(long[m.centers > 0.1 * m.price].sum(), rel=1e-6)
        assert sum(data["short"]) == pytest.approx(short[m.centers < 1.9 * m.price].sum(), rel=1e-6)


def test_side_and_leverage_filter_the_map(client: TestClient) -> None:
    whole = get(client, MAP, bins=100)
    longs = get(client, MAP, bins=100, side="long")
    assert longs["long"] == whole["long"]
    assert not any(longs["short"])
    assert not any(longs["cumulative_short"])
    split = {p["label"]: p for p in get(client, MAP, bins=100, by="leverage")["parts"]}
    high = get(client, MAP, bins=100, lev_min=50, lev_max=200)
    assert high["long"] == pytest.approx(split["≥ 50×"]["long"], rel=1e-6, abs=0.05)
    assert sum(high["long"]) < 0.9 * sum(whole["long"])
    low = get(client, MAP, bins=100, lev_min=1, lev_max=25, by="leverage")
    assert {p["label"] for p in low["parts"]} <= {"< 10×", "10–25×"}
    bad = client.get(MAP, params={"lev_min": 30, "lev_max": 20})
    assert bad.status_code == 400
    assert bad.json()["param"] == "lev_min"


def test_a_window_sets_the_prices_shown_as_the_heatmap_does(client: TestClient) -> None:
    from api.data import SYN

    data = get(client, MAP, window="1d", bins=50)
    c = SYN.candles
    day = c[c["ts"] > c["ts"].iloc[-1] - pd.Timedelta(days=1)]
    assert data["price_edges"][0] == pytest.approx(day["low"].min() * 0.85, rel=1e-6)
    assert data["price_edges"][-1] == pytest.approx(day["high"].max() * 1.15, rel=1e-6)
    wide = get(client, MAP, window="30d", bins=50)
    assert wide["price_edges"][0] <= data["price_edges"][0]
    bad = client.get(MAP, params={"window": "soon"})
    assert bad.status_code == 400
    assert bad.json()["param"] == "window"


def test_a_market_with_one_open_interest_cannot_split_by_venue(client: TestClient) -> None:
    response = client.get(MAP, params={"by": "venue"})
    assert response.status_code == 400
    assert response.json()["param"] == "by"
    assert "open interest" in response.json()["detail"]


def test_a_store_market_splits_by_each_venues_open_interest(tmp_path: Path) -> None:
    store = Store(tmp_path)
    frame = walk(2 * 1440)
    write_venue(store, "binance", frame, 7e9)
    write_venue(store, "bybit", frame.iloc[:-120], 3e9)  # two hours behind: keeps its last known share
    registry = Registry()
    registry.add_store(store, parse_feeds(["binance", "bybit"], "BTCUSDT"), "1m")
    client = TestClient(create_app(registry))
    url = "/api/markets/btc-binance-bybit-1m/map"
    whole = get(client, url, bins=80)
    split = get(client, url, bins=80, by="venue")
    parts = {p["label"]: p for p in split["parts"]}
    assert set(parts) == {"binance:BTC/USDT:USDT", "bybit:BTC/USDT:USDT"}
    for side in ("long", "short"):
        assert np.array(parts["binance:BTC/USDT:USDT"][side]) == pytest.approx(0.7 * np.array(whole[side]), rel=1e-3, abs=0.05)
        assert np.array(parts["bybit:BTC/USDT:USDT"][side]) == pytest.approx(0.3 * np.array(whole[side]), rel=1e-3, abs=0.05)
    assert "share of open interest" in split["note"]


def test_clusters_honour_the_leverage_filter(client: TestClient) -> None:
    every = get(client, "/api/markets/syn/clusters", top=20)
    high = get(client, "/api/markets/syn/clusters", top=20, lev_min=50, lev_max=200)
    band = get(client, MAP, bins=200, span_pct=90, lev_min=50, lev_max=200)
    assert high["clusters"]
    for side in ("long", "short"):
        mine = [c for c in high["clusters"] if c["side"] == side]
        assert sum(c["notional_usd"] for c in mine) <= sum(band[side]) * (1 + 1e-6)  # only the ≥ 50× positions' levels
    assert max(c["notional_usd"] for c in high["clusters"]) < max(c["notional_usd"] for c in every["clusters"])
    assert all(c["age_hours"] is None for c in high["clusters"])  # a band's past maps are not kept
    assert all(c["age_hours"] is not None for c in every["clusters"])
    assert all(c["hit_prob_24h"] is not None for c in high["clusters"])
    bad = client.get("/api/markets/syn/clusters", params={"lev_min": 60, "lev_max": 50})
    assert bad.status_code == 400
    assert bad.json()["param"] == "lev_min"
