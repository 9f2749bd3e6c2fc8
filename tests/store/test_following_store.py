"""A store market followed as it is written (:class:`Following`) is the aggregate of the whole store, bit for bit,
after every write: candles appended, open interest arriving after the candles that read it, liquidations, funding,
gaps, a venue that lags, an older row rewritten, months crossed."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import liqheat.store.aggregate as aggregate_module
from liqheat.store.aggregate import Aggregate, Following, aggregate, parse_feeds
from liqheat.store.parquet_store import Series, Store

START = pd.Timestamp("2025-12-31T23:00:00Z")  # the rows cross a month (and a year) on the way
MIN = pd.Timedelta(minutes=1)


def same(a: Aggregate, b: Aggregate) -> None:
    for name in ("candles", "open_interest", "funding", "liquidations"):
        x, y = a.bundle.table(name), b.bundle.table(name)
        assert (x is None) == (y is None), name
        if x is not None and y is not None:
            assert_frame_equal(x, y, check_exact=True, obj=name)
    assert a.bundle.meta == b.bundle.meta
    assert_frame_equal(a.venue_oi, b.venue_oi, check_exact=True)
    assert a.scaled_rows == b.scaled_rows
    assert [s.to_dict() for s in a.status] == [s.to_dict() for s in b.status]


def candle(ts: pd.Timestamp, price: float) -> pd.DataFrame:
    return pd.DataFrame({"ts": [ts], "open": price, "high": price * 1.001, "low": price * 0.999, "close": price,
                         "volume": 3.0}).astype({"ts": "datetime64[us, UTC]"})  # fmt: skip


def rows(**columns: object) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[us, UTC]")
    return frame


def history(store: Store, venues: list[str], n: int, rng: np.random.Generator) -> None:
    with store.writer():
        for v, venue in enumerate(venues):
            ts = pd.date_range(START - n * MIN, periods=n, freq="1min").astype("datetime64[us, UTC]")
            close = 100 + v + np.cumsum(rng.normal(0, 0.1, n))
            frame = pd.DataFrame({"ts": ts, "open": close, "high": close + 0.2, "low": close - 0.2, "close": close,
                                  "volume": rng.gamma(2, 1, n)})  # fmt: skip
            store.write(Series("candles", venue, "BTC/USDT:USDT", "1m"), frame)
            oi_ts = ts[::5]
            store.write(
                Series("open_interest", venue, "BTC/USDT:USDT"),
                rows(ts=oi_ts, oi_base=1.0, oi_usd=1e9 * (v + 1) * (1 + rng.normal(0, 0.01, len(oi_ts)))),
            )
            funding_ts = pd.date_range(START - n * MIN, START, freq="8h")
            if len(funding_ts):
                store.write(Series("funding", venue, "BTC/USDT:USDT"), rows(ts=funding_ts, rate=1e-4))


@pytest.mark.parametrize(
    ("venues", "seed", "recent", "one_writer"),
    [(["binance"], 1, 2, False), (["binance"], 4, 1, False), (["binance", "okx"], 2, 2, False),
     (["binance", "okx", "bybit"], 3, 1, False), (["binance"], 5, 2, True), (["binance", "okx"], 6, 1, True)],
)  # fmt: skip
def test_following_equals_the_whole_aggregate_after_every_write(
    tmp_path: Path, venues: list[str], seed: int, recent: int, one_writer: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``recent``: the months kept (with one, the rows before the new month are not kept: a refresh that needs them
    aggregates every row, and still agrees). ``one_writer``: every write by one writer holding the store, as a
    service's followers do, so the store tells what it appended (Store.appended) and the following market reads only
    those rows; otherwise each step takes the writer again and the month files are read whole."""
    monkeypatch.setattr(aggregate_module, "RECENT_MONTHS", recent)
    rng = np.random.default_rng(seed)
    store = Store(tmp_path)
    history(store, venues, 600, rng)
    feeds = parse_feeds(venues, "BTCUSDT")
    following = Following(store, feeds, "1m", max_stale=pd.Timedelta(minutes=10))
    first = following.refresh()
    assert first is not None
    same(first, aggregate(store, feeds, "1m", max_stale=pd.Timedelta(minutes=10)))
    last = {v: START - MIN for v in venues}
    carried = 0
    appends = []
    told = store.appended

    def appended(*args: Any, **kwargs: Any) -> pd.DataFrame | None:
        appends.append(got := told(*args, **kwargs))
        return got

    monkeypatch.setattr(store, "appended", appended)
    held = store.writer() if one_writer else contextlib.nullcontext()
    held.__enter__()
    for _step in range(150):  # over the new year, so a month file is added on the way
        with contextlib.nullcontext() if one_writer else store.writer():
            for v, venue in enumerate(venues):
                if v and rng.random() < 0.05:
                    continue  # this venue lags (its candles and open interest come later or not at all)
                symbol = "BTC/USDT:USDT"
                ts = last[venue] + MIN * (2 if rng.random() < 0.03 else 1)  # now and then a candle missing
                last[venue] = ts
                store.write(Series("candles", venue, symbol, "1m"), candle(ts, 100 + v + rng.normal(0, 1)))
                if rng.random() < 0.3:  # open interest sampled at a candle's close, written after it
                    late = ts - MIN * int(rng.integers(0, 4))
                    store.write(Series("open_interest", venue, symbol), rows(ts=[late], oi_base=1.0, oi_usd=[1e9 * (1 + v)]))
                for _ in range(rng.poisson(0.7)):
                    at = ts + pd.Timedelta(seconds=float(rng.uniform(0, 59)))
                    store.write(Series("liquidations", venue, symbol),
                                rows(ts=[at], side=["long" if rng.random() < 0.5 else "short"], usd=[float(rng.gamma(2, 1e4))],
                                     price=[100.0]))  # fmt: skip
                if rng.random() < 0.01:
                    store.write(Series("gaps", venue, symbol), rows(ts=[ts], until=[ts + MIN], stream=["liquidations"],
                                                                   reason=["websocket drop"]))  # fmt: skip
                if rng.random() < 0.01:
                    store.write(Series("funding", venue, symbol), rows(ts=[ts], rate=[float(rng.normal(0, 1e-4))]))
                if rng.random() < 0.01:  # a candle of an hour ago corrected
                    store.write(Series("candles", venue, symbol, "1m"), candle(ts - 60 * MIN, 99.0))
        before = following.rebuilds
        got = following.refresh()
        want = aggregate(store, feeds, "1m", max_stale=pd.Timedelta(minutes=10))
        assert got is not None
        same(got, want)
        carried += following.rebuilds == before
        assert following.refresh() is None  # nothing written since: nothing changed
    held.__exit__(None, None, None)
    assert carried > 100  # most refreshes carried on from the rows kept, not aggregated again
    told_rows = sum(a is not None for a in appends)
    if one_writer:  # most months replaced were read from what was appended (not when an older row was corrected)
        assert told_rows > 0.8 * len(appends) > 100
    else:
        assert told_rows == 0  # each writer's kept months are dropped when it lets go
    if len(venues) > 1:  # the lagging venue's open interest went stale: the total was scaled up from the others
        assert want.scaled_rows > 0


def test_a_rewrite_with_the_same_rows_is_no_change(tmp_path: Path) -> None:
    store = Store(tmp_path)
    history(store, ["binance"], 100, np.random.default_rng(0))
    feeds = parse_feeds(["binance"], "BTCUSDT")
    following = Following(store, feeds, "1m")
    assert following.refresh() is not None
    series = Series("candles", "binance", "BTC/USDT:USDT", "1m")
    with store.writer():
        store.write(series, store.read(series).iloc[-3:])  # the file replaced, its rows the same
    assert following.refresh() is None
    with store.writer():
        store.write(series, candle(START, 101.0))
    grown = following.refresh()
    assert grown is not None
    assert len(grown.bundle.candles) == 101
    assert following.rebuilds == 1
