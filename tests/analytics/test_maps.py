"""``liqheat.analytics.maps``: the one causal ``index_at`` (CLI and API), and the map at a candle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from helpers import SHARED_BUNDLES, hourly_random_walk
from liqheat.analytics.clusters import clusters_of
from liqheat.analytics.maps import HISTORY, HISTORY_POINTS, atr_pct, atr_pcts, index_at, market_map, true_range_pct
from liqheat.bundle import Bundle, BundleMeta
from liqheat.demo.live import published
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.engine.timeline import Timeline
from liqheat.model import ContractKind, DomainError
from liqheat.venues.binance.archive import read_klines

N = 48
TS, CANDLES, OI, FUNDING, _ = hourly_random_walk(N, seed=5)  # 1-hour candles from 2026-01-05T00:00
META = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",),
                  source="analytics map tests")  # fmt: skip
BUNDLE = Bundle(meta=META, candles=CANDLES, open_interest=OI, funding=FUNDING)


@pytest.mark.parametrize(
    ("at", "index"),
    [
        ("2026-01-05T05:30:00Z", 4),  # candle 5 opened at 05:00 and is still open: its high and low are unknown
        ("2026-01-05T05:00:00Z", 4),  # candle 4 closes at 05:00: it counts from that instant
        ("2026-01-05T04:59:59Z", 3),
        ("2026-01-05T01:00:00Z", 0),  # the first map: after the first candle closes
        ("2026-01-06T23:59:00Z", N - 2),
        ("2026-01-07T00:00:00Z", N - 1),  # the last candle's close
    ],
)
def test_index_at_is_the_last_candle_closed_by_then(at: str, index: int) -> None:
    assert index_at(BUNDLE, pd.Timestamp(at)) == index


def test_index_at_without_a_time_is_the_last_candle() -> None:
    assert index_at(BUNDLE, None) == N - 1


@pytest.mark.parametrize("at", ["2026-01-05T00:59:59Z", "2026-01-04T00:00:00Z", "2026-01-07T00:00:01Z"])
def test_index_at_outside_the_maps_names_the_time_the_caller_and_the_range(at: str) -> None:
    with pytest.raises(DomainError) as caught:
        index_at(BUNDLE, pd.Timestamp(at))
    assert str(caught.value) == (f"at {at} is outside the bundle (2026-01-05T01:00:00Z … 2026-01-07T00:00:00Z)")
    with pytest.raises(DomainError, match=rf"^--at {at} is outside eth-1h \("):
        index_at(BUNDLE, pd.Timestamp(at), what="--at", name="eth-1h")


@pytest.mark.parametrize("k", [0, 1, 20, N - 2])
def test_the_map_at_a_candle_is_the_map_of_the_market_cut_there(k: int) -> None:
    """Causal to the last bit: nothing after candle ``k`` (its prices, open interest or funding) reaches the map."""
    whole = market_map(BUNDLE, index=k)
    cut = market_map(published(BUNDLE, k + 1), index=k)
    for name in ("index", "ts", "price", "atr_pct", "past_ts"):
        assert getattr(whole, name) == getattr(cut, name), name
    for name in ("edges", "long", "short", "past_long", "past_short"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(cut, name), err_msg=name)
    # 30 days of history in 180 points is every 4th hourly map, counted from the first candle (closes at 04:00, 08:00 …)
    assert whole.past_ts == tuple(TS.iloc[i] + pd.Timedelta(hours=1) for i in range(4 * (k // 4) - 1, -1, -4))
    if k >= 20:  # the first candles have no open interest before them
        assert whole.long.sum() > 0
        assert whole.past_long.sum() > 0


@pytest.mark.parametrize("checkpoint_every", [7, 32_768])
def test_a_timeline_gives_the_map_of_a_full_replay_bit_for_bit(checkpoint_every: int) -> None:
    """The server reads the map from the market's timeline (float64 checkpoints), the CLI replays from the
    first candle: the same numbers, not merely close ones. Candles before, on and after checkpoints (every
    7 candles, or only the first and the last); with the past maps that date clusters, fewer, and none."""
    view = MarketView.from_bundle(BUNDLE)
    timeline = Timeline(view, ModelParams(), checkpoint_every=checkpoint_every, max_snapshots=8)
    pasts = {(HISTORY, HISTORY_POINTS): 4, (pd.Timedelta(hours=12), 3): 4, (HISTORY, 0): None}
    for k in (0, 6, 7, 13, 20, 27, N - 2, N - 1):
        for (history, points), every in pasts.items():
            replayed = market_map(BUNDLE, index=k, history=history, history_points=points)
            read = market_map(BUNDLE, index=k, history=history, history_points=points, timeline=timeline)
            for name in ("index", "ts", "price", "atr_pct", "past_ts"):
                assert getattr(read, name) == getattr(replayed, name), (k, points, name)
            for name in ("edges", "long", "short", "past_long", "past_short"):
                np.testing.assert_array_equal(getattr(read, name), getattr(replayed, name), err_msg=f"{k} {points} {name}")
            back = history // pd.Timedelta(hours=1)
            want = [] if every is None else [i for i in range(every * (k // every) - 1, k - back - 1, -every) if i >= 0]
            assert read.past_ts == tuple(TS.iloc[i] + pd.Timedelta(hours=1) for i in want)


def test_a_timeline_of_other_parameters_is_refused() -> None:
    timeline = Timeline(MarketView.from_bundle(BUNDLE), ModelParams(bin_width=0.002))
    with pytest.raises(DomainError, match="another bundle or other parameters"):
        market_map(BUNDLE, index=3, timeline=timeline)


# ------------------------------------------------------------------------------------------ ATR


def hourly(candles: pd.DataFrame) -> pd.DataFrame:
    """Minute candles as hour candles: first open, highest high, lowest low, last close."""
    bars = candles.set_index("ts").resample("1h").agg({"open": "first", "high": "max", "low": "min", "close": "last"})
    return bars.dropna().reset_index()


def fourteen_candle_atr(candles: pd.DataFrame, index: int) -> float:
    """The old ATR: 14 candles of whatever timeframe (on 1-minute candles, 14 minutes)."""
    part = candles.iloc[max(0, index - 13) : index + 1]
    prev = candles["close"].shift(1).iloc[part.index].fillna(part["open"])
    true_range = np.maximum(part["high"] - part["low"], np.maximum((part["high"] - prev).abs(), (part["low"] - prev).abs()))
    return float((true_range / part["close"]).mean() * 100)


def test_minute_and_hour_candles_of_one_market_give_the_same_atr_and_cluster_distances(demo: Bundle) -> None:
    """The ATR is of hourly bars, so a cluster is as many ATRs away on the demo's 1-minute candles as on the same
    market's 1-hour candles (14 one-minute candles put it ~12 times farther)."""
    minute = demo.candles
    hour = hourly(minute)
    as_hours = Bundle(meta=dataclasses.replace(demo.meta, timeframe="1h"), candles=hour, open_interest=demo.open_interest)
    by_minute, by_hour = market_map(demo), market_map(as_hours)
    assert by_minute.ts == by_hour.ts  # both after the last hour closed
    assert by_minute.atr_pct == pytest.approx(by_hour.atr_pct, rel=1e-12)
    # every hour boundary of the three days: the same number from 60 minute candles an hour as from one hour candle
    step = pd.Timedelta(minutes=1)
    closes = minute.index[(minute["ts"] + step).dt.minute == 0]
    minute_atr = atr_pcts(*(minute[k].to_numpy() for k in ("open", "high", "low", "close")), step)[closes]
    hour_atr = atr_pcts(*(hour[k].to_numpy() for k in ("open", "high", "low", "close")), pd.Timedelta(hours=1))
    np.testing.assert_allclose(minute_atr, hour_atr, rtol=1e-12)
    assert atr_pct(minute, int(closes[-1]), step) == pytest.approx(minute_atr[-1], rel=1e-12)  # one candle, same number
    assert by_minute.atr_pct > 8 * fourteen_candle_atr(minute, len(minute) - 1)  # what the 14-minute ATR said
    for m in (by_minute, by_hour):
        clusters = clusters_of(m, top=5)
        assert clusters
        for c in clusters:
            assert c.distance_atr == pytest.approx(c.distance_pct / m.atr_pct)
            assert abs(c.distance_atr or 0) < 60  # tens of ATRs at most, not the hundreds 1-minute ATRs gave


@pytest.mark.shared
def test_real_minute_candles_give_the_hourly_atr() -> None:
    """Binance BTCUSD_PERP 1-minute klines of 2025-10-10 (the crash day): hourly bars from 60 of them are the
    hour candles' ATR; 14 one-minute candles were a fraction of it (√60 ≈ 7.7 for a random walk)."""
    path = SHARED_BUNDLES.parent / "raw" / "binance-vision-2025-10-10" / "BTCUSD_PERP-1m-2025-10-10.zip"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    minute = read_klines(path)[["ts", "open", "high", "low", "close"]].reset_index(drop=True)
    hour = hourly(minute)
    step = pd.Timedelta(minutes=1)
    assert (len(minute), len(hour)) == (1440, 24)
    closes = minute.index[(minute["ts"] + step).dt.minute == 0]
    minute_atr = atr_pcts(*(minute[k].to_numpy() for k in ("open", "high", "low", "close")), step)[closes]
    hour_atr = atr_pcts(*(hour[k].to_numpy() for k in ("open", "high", "low", "close")), pd.Timedelta(hours=1))
    np.testing.assert_allclose(minute_atr, hour_atr, rtol=1e-12)
    ratios = [minute_atr[i] / fourteen_candle_atr(minute, int(closes[i])) for i in range(14, 24)]
    assert float(np.median(ratios)) > 4  # the hourly ATR is ~5 of the old ones
    assert min(ratios) > 2  # even in the crash hour, whose minutes were wide


@pytest.mark.parametrize("timeframe", ["1min", "5min", "1h", "4h", "1D"])
def test_the_atr_of_one_candle_is_the_atr_series_at_it(timeframe: str) -> None:
    """A live market asks true_range_pct on every candle; it is atr_pcts' value there (14 hourly bars)."""
    rng = np.random.default_rng(1)
    n = 3000
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[close[0] * 1.001, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 5e-4, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 5e-4, n)))
    step = pd.Timedelta(timeframe)
    series = atr_pcts(open_, high, low, close, step)
    for i in [*range(0, 130), *range(n - 70, n)]:
        assert true_range_pct(open_, high, low, close, i, step) == pytest.approx(series[i], rel=1e-12)
