"""``liqheat.analytics.maps``: the one causal ``index_at`` (CLI and API), and the map at a candle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import hourly_random_walk
from liqheat.analytics.maps import HISTORY, HISTORY_POINTS, index_at, market_map
from liqheat.bundle import Bundle, BundleMeta
from liqheat.demo.live import published
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.engine.timeline import Timeline
from liqheat.model import ContractKind, DomainError

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
