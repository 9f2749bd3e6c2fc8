"""Markets served from the store (``liqheat serve --venue ...``): aggregated, refreshed as a follower
writes, with each venue's share and freshness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from helpers import walk, write_venue
from liqheat.analytics.clusters import clusters_of
from liqheat.api.app import create_app
from liqheat.api.markets import Market, Registry
from liqheat.store.aggregate import parse_feeds
from liqheat.store.parquet_store import Store


@pytest.fixture
def served(tmp_path: Path) -> tuple[TestClient, Registry, Store, pd.DataFrame]:
    store = Store(tmp_path)
    frame = walk(3 * 1440)
    write_venue(store, "binance", frame.iloc[: 2 * 1440], 7e9)
    write_venue(store, "bybit", frame.iloc[: 2 * 1440 - 120], 3e9)  # two hours behind
    registry = Registry()
    registry.add_store(store, parse_feeds(["binance", "bybit"], "BTCUSDT"), "1m")
    return TestClient(create_app(registry)), registry, store, frame


def test_the_store_market_is_listed_with_its_venues(served: tuple[TestClient, Registry, Store, pd.DataFrame]) -> None:
    client, *_ = served
    markets = client.get("/api/markets").json()
    assert [m["id"] for m in markets] == ["btc-binance-bybit-1m", "btc-binance-1m", "btc-bybit-1m"]  # and each venue alone
    status = {s["venue"]: s for s in markets[0]["venue_status"]}
    assert status["binance"]["state"] == "fresh"
    assert status["bybit"]["state"] == "lagging"
    assert status["bybit"]["lag_seconds"] == 120 * 60
    assert markets[0]["venues"] == ["binance", "bybit"]
    heat = client.get("/api/markets/btc-binance-bybit-1m/heatmap?window=1d").json()
    assert max(max(row) for row in heat["long"]) > 0
    assert markets[1]["venues"] == ["binance"]
    assert markets[2]["venues"] == ["bybit"]
    one = client.get("/api/markets/btc-binance-1m/summary").json()
    both = client.get("/api/markets/btc-binance-bybit-1m/summary").json()
    assert one["open_interest_usd"] < both["open_interest_usd"]  # binance alone holds its own open interest, not the sum


def test_venue_shares_follow_open_interest(served: tuple[TestClient, Registry, Store, pd.DataFrame]) -> None:
    client, *_ = served
    v = client.get("/api/markets/btc-binance-bybit-1m/venues?points=50").json()
    assert v["venues"] == ["binance:BTC/USDT:USDT", "bybit:BTC/USDT:USDT"]
    assert v["shares"]["binance:BTC/USDT:USDT"][0] == pytest.approx(0.7)
    assert v["shares"]["bybit:BTC/USDT:USDT"][0] == pytest.approx(0.3)
    assert v["shares"]["bybit:BTC/USDT:USDT"][-1] is None  # stale at the end: not carried forward
    assert len(v["ts"]) <= 51
    assert v["ts"] == sorted(v["ts"])
    bad = client.get("/api/markets/btc-binance-bybit-1m/venues?points=1")
    assert bad.status_code == 422


def test_a_follower_writing_grows_the_market(served: tuple[TestClient, Registry, Store, pd.DataFrame]) -> None:
    client, registry, store, frame = served
    before = client.get("/api/markets/btc-binance-bybit-1m").json()
    write_venue(store, "binance", frame.iloc[2 * 1440 : 2 * 1440 + 60], 7e9)
    assert registry.refresh() == ["btc-binance-bybit-1m", "btc-binance-1m"]  # bybit alone did not change
    after = client.get("/api/markets/btc-binance-bybit-1m").json()
    assert after["version"] == before["version"] + 1
    assert pd.Timestamp(after["last"]) - pd.Timestamp(before["last"]) == pd.Timedelta(minutes=60)
    assert registry.refresh() == []  # nothing new written: nothing rebuilt


def test_serve_rejects_a_store_without_venues(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import liqheat.cli.serve  # noqa: F401  (registers the command)
    from liqheat.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--store", str(tmp_path), "--no-demo"])
    assert result.exit_code == 2
    assert "--store needs --venue" in result.output
    empty = CliRunner().invoke(app, ["serve", "--store", str(tmp_path), "--venue", "binance", "--symbol", "BTCUSDT", "--no-demo"])
    assert empty.exit_code == 2
    assert "no 1m candles" in empty.output


@pytest.mark.parametrize("oi", [7e9, 8e9], ids=["open interest as it was", "new open interest at the close"])
def test_a_store_market_gaining_candles_is_carried_on_unless_the_close_reads_new_open_interest(tmp_path: Path, oi: float) -> None:
    """The aggregate puts an open-interest row at every candle's open, so a new candle adds one at the old last
    close: carrying the last sample on, it changes nothing the old candles read and the market is carried on (its
    maps kept); with a new value there, the old last candle would read it, and the market is built again."""
    store = Store(tmp_path)
    frame = walk(2 * 1440 + 2)
    write_venue(store, "binance", frame.iloc[: 2 * 1440], 7e9)
    registry = Registry()
    m = registry.add_store(store, parse_feeds(["binance"], "BTCUSDT"), "1m")
    m.map_at(len(m.bundle.candles) - 1)
    write_venue(store, "binance", frame.iloc[2 * 1440 :], oi)
    assert registry.refresh() == [m.id]
    assert len(m.bundle.candles) == 2 * 1440 + 2
    assert (m.kept()["maps"][0] > 0) == (oi == 7e9)
    fresh = Market(id="fresh", bundle=m.bundle)
    for i in (2 * 1440 - 1, 2 * 1440 + 1):
        got, want = m.map_at(i), fresh.map_at(i)
        for name in ("edges", "long", "short", "past_long", "past_short"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        assert [c.to_dict() for c in clusters_of(got, top=None)] == [c.to_dict() for c in clusters_of(want, top=None)]


def test_a_write_to_one_market_reads_only_that_market_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``liqheat run`` refreshes every market on every tick; with fifty of them, aggregating all fifty again whenever
    one was written would take longer than a tick. And the market written reads again only the file replaced."""
    from liqheat.store.parquet_store import Series

    store = Store(tmp_path)
    frame = walk(1440)
    write_venue(store, "binance", frame, 7e9)
    with store.writer():
        store.write(Series("candles", "binance", "ETH/USDT:USDT", "1m"), frame.assign(close=frame["close"] / 20))
        store.write(Series("open_interest", "binance", "ETH/USDT:USDT"), pd.DataFrame({"ts": frame["ts"], "oi_usd": 1e9}))
    registry = Registry()
    registry.add_store(store, parse_feeds(["binance"], "BTCUSDT"), "1m")
    registry.add_store(store, parse_feeds(["binance"], "ETHUSDT"), "1m")
    read: list[tuple[str, str]] = []
    real = store.read
    monkeypatch.setattr(store, "read", lambda series, *a, **k: read.append((series.kind, series.symbol)) or real(series, *a, **k))
    with store.writer():
        store.write(Series("liquidations", "binance", "ETH/USDT:USDT"),
                    pd.DataFrame({"ts": frame["ts"].iloc[-2:], "side": "long", "usd": 1e5, "price": 3000.0}))  # fmt: skip
        store.advance("binance", "ETH/USDT:USDT", "liquidations", frame["ts"].iloc[-1])
    assert registry.refresh(only=["btc-binance-1m"]) == []  # liqheat run takes a market whose candles came on its own
    assert read == []
    assert registry.refresh() == ["eth-binance-1m"]
    assert read == [("liquidations", "ETH/USDT:USDT")]
