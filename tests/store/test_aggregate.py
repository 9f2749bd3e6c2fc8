"""Aggregation across venues: one USD grid, summed open interest and liquidations, stale venues flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from liqheat.bundle import read_bundle
from liqheat.model import DomainError
from liqheat.store.aggregate import aggregate, parse_feeds
from liqheat.store.parquet_store import Series, Store

START = pd.Timestamp("2025-10-10T00:00:00Z")


def minutes(n: int, offset: int = 0) -> pd.Series:
    return pd.Series(pd.date_range(START + pd.Timedelta(minutes=offset), periods=n, freq="1min")).astype("datetime64[us, UTC]")


def candles(n: int, base: float, offset: int = 0) -> pd.DataFrame:
    close = base + np.arange(n, dtype=float)
    return pd.DataFrame(
        {"ts": minutes(n, offset), "open": close - 0.5, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}
    )


def fill(store: Store, venue: str, symbol: str, n: int, base: float, oi: float, *, oi_until: int | None = None) -> None:
    with store.writer():
        store.write(Series("candles", venue, symbol, "1m"), candles(n, base))
        k = n if oi_until is None else oi_until
        store.write(Series("open_interest", venue, symbol), pd.DataFrame({"ts": minutes(k), "oi_base": oi / 100, "oi_usd": oi}))


def test_sums_open_interest_and_liquidations_in_usd(tmp_path: Path) -> None:
    store = Store(tmp_path)
    fill(store, "binance", "BTC/USDT:USDT", 120, 100.0, 6e9)
    fill(store, "okx", "BTC/USDT:USDT", 120, 101.0, 3e9)
    fill(store, "binance", "BTC/USD:BTC", 120, 99.0, 1e9)
    with store.writer():
        liq = pd.DataFrame({"ts": minutes(2, 10), "side": ["long", "short"], "usd": [1000.0, 2000.0], "price": [110.0, 111.0]})
        store.write(Series("liquidations", "okx", "BTC/USDT:USDT"), liq)
    feeds = parse_feeds(["binance", "okx", "binance:BTCUSD_PERP"], "BTCUSDT")
    agg = aggregate(store, feeds, "1m", rates={"USDT": 0.999})
    bundle = agg.bundle
    # the first venue's candles, at its quote's USD rate
    assert bundle.candles["close"].iloc[0] == pytest.approx(100.0 * 0.999)
    # USDT-margined open interest at the rate; the inverse market's is in USD already
    assert bundle.open_interest["oi_usd"].iloc[0] == pytest.approx(6e9 * 0.999 + 3e9 * 0.999 + 1e9)
    assert agg.scaled_rows == 0
    assert bundle.liquidations is not None
    assert bundle.liquidations["usd"].tolist() == pytest.approx([999.0, 1998.0])
    assert bundle.meta.quote == "USD"
    assert bundle.meta.venues == ("binance", "okx", "binance")
    assert [s.state for s in agg.status] == ["fresh", "fresh", "fresh"]
    shares = [s.oi_share for s in agg.status]
    assert shares == pytest.approx([0.6, 0.3, 0.1], rel=1e-3)


def test_a_venue_that_stops_is_flagged_and_not_carried_forward(tmp_path: Path) -> None:
    store = Store(tmp_path)
    fill(store, "binance", "BTC/USDT:USDT", 180, 100.0, 6e9)
    fill(store, "bybit", "BTC/USDT:USDT", 60, 100.0, 2e9)  # stops after an hour
    agg = aggregate(store, parse_feeds(["binance", "bybit"], "BTCUSDT"), "1m", max_stale=pd.Timedelta(minutes=5))
    oi = agg.bundle.open_interest.set_index("ts")["oi_usd"]
    assert oi[START] == pytest.approx(8e9)
    # beyond bybit's last sample + 5 minutes its value is not reused: the total is scaled by its share (75 %)
    late = START + pd.Timedelta(minutes=120)
    assert np.isnan(agg.venue_oi.set_index("ts").loc[late, "bybit:BTC/USDT:USDT"])
    assert oi[late] == pytest.approx(6e9 / 0.75)
    assert agg.scaled_rows == 180 - 60 - 5
    status = {s.venue: s for s in agg.status}
    assert status["bybit"].state == "lagging"
    assert status["bybit"].lag == pd.Timedelta(minutes=120)
    assert status["binance"].state == "fresh"
    assert "bybit: lagging" in (agg.bundle.meta.notes or "")


def test_gaps_are_reported(tmp_path: Path) -> None:
    data = candles(60, 100.0)
    kept = data[(data["ts"] < START + pd.Timedelta(minutes=20)) | (data["ts"] >= START + pd.Timedelta(minutes=30))]
    fresh = Store(tmp_path)
    fill(fresh, "binance", "BTC/USDT:USDT", 60, 100.0, 6e9)
    with fresh.writer():  # a stretch okx never delivered, and a liquidation stream outage
        fresh.write(Series("candles", "okx", "BTC/USDT:USDT", "1m"), kept)
        fresh.write(Series("open_interest", "okx", "BTC/USDT:USDT"), pd.DataFrame({"ts": minutes(60), "oi_usd": 2e9}))
        fresh.write(
            Series("gaps", "okx", "BTC/USDT:USDT"),
            pd.DataFrame({"ts": [START + pd.Timedelta(minutes=40)], "until": [START + pd.Timedelta(minutes=41)],
                          "stream": ["liquidations"], "reason": ["websocket drop"]}),
        )  # fmt: skip
    agg = aggregate(fresh, parse_feeds(["binance", "okx"], "BTCUSDT"), "1m")
    okx = {s.venue: s for s in agg.status}["okx"]
    assert okx.state == "gaps"
    assert okx.candle_gaps == [(START + pd.Timedelta(minutes=20), START + pd.Timedelta(minutes=30))]
    assert okx.stream_gaps[0][2] == "liquidations"
    assert okx.to_dict()["candle_gaps"] == [["2025-10-10T00:20:00Z", "2025-10-10T00:30:00Z"]]


def test_bad_inputs_name_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="same coin"):
        parse_feeds(["binance:BTCUSDT", "okx:ETH-USDT-SWAP"], None)
    with pytest.raises(DomainError, match="give the symbol too") as refused:
        parse_feeds(["binance"], None)
    assert refused.value.param == "venue"
    with pytest.raises(DomainError, match="twice"):
        parse_feeds(["binance", "binance:BTCUSDT"], "BTCUSDT")
    store = Store(tmp_path)
    with pytest.raises(DomainError, match="no 1m candles"):
        aggregate(store, parse_feeds(["binance"], "BTCUSDT"), "1m")
    fill(store, "binance", "BTC/USDT:USDT", 10, 100.0, 6e9)
    with pytest.raises(DomainError, match="no USD rate for EUR"):
        aggregate(store, parse_feeds(["binance:BTCUSDT", "binance:BTC/EUR:EUR"], None), "1m")


def test_export_aggregates_several_venues(tmp_path: Path) -> None:
    import liqheat.cli.store_cmds  # noqa: F401  (registers the commands)
    from liqheat.cli.main import app

    store = Store(tmp_path / "store")
    fill(store, "binance", "BTC/USDT:USDT", 120, 100.0, 6e9)
    fill(store, "bybit", "BTC/USDT:USDT", 120, 100.0, 2e9)
    out = tmp_path / "agg"
    args = ["export", "--out", str(out), "--venue", "binance", "--venue", "bybit", "--symbol", "BTC/USDT:USDT",
            "--timeframe", "1m", "--store", str(store.root), "--rate", "USDT=1.0"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "bybit BTC/USDT:USDT: fresh" in result.output
    bundle = read_bundle(out)
    assert bundle.meta.venues == ("binance", "bybit")
    assert bundle.open_interest["oi_usd"].iloc[-1] == pytest.approx(8e9)
    assert [v["venue"] for v in bundle.meta.extra["venue_status"]] == ["binance", "bybit"]
    bad = CliRunner().invoke(app, [*args[:-2], "--rate", "USDT=abc"])
    assert bad.exit_code == 2
    assert "--rate 'USDT=abc'" in bad.output
