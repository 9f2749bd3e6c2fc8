"""A market whose numbers would overflow is refused where it enters the engine, naming file, row and
column; the cascade never reports a price ≤ 0; the planner never divides by a zero distance (issue #12,
items 7, 8 and 9)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import hourly_random_walk
from liqheat.analytics.cascade import calibrated, simulate_cascade
from liqheat.analytics.maps import MarketMap, market_map
from liqheat.analytics.planner import plan
from liqheat.bundle import Bundle, BundleMeta, read_bundle, read_columns, with_tables, write_bundle
from liqheat.engine.replay import MarketView
from liqheat.model import ContractKind, DomainError


def bundle(n: int = 96) -> Bundle:
    ts, candles, oi, funding, _ = hourly_random_walk(n, 5)
    liq = pd.DataFrame({"ts": ts, "side": ["long", "short"] * (n // 2), "usd": 1e5})
    meta = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",),
                      source="test", funding_interval="1h", liquidations_interval="1h", score_from=ts.iloc[24])  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi, funding=funding, liquidations=liq)


def edited(table: str, column: str, value: float, row: int = 40) -> Bundle:
    b = bundle()
    frame = b.table(table)
    assert frame is not None
    frame = frame.copy()
    if column in ("open", "high", "low", "close"):
        for k in ("open", "high", "low", "close"):  # a whole candle, so the reader's OHLC order holds
            frame.loc[row, k] = value
    else:
        frame.loc[row, column] = value
    return with_tables(b, **{table: frame})


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("candles", "open", 1e308),
        ("candles", "open", 1e-300),  # the ZeroDivisionError in levels: bin centres underflow to 0
        ("candles", "volume", 1e308),
        ("open_interest", "oi_usd", 1e308),  # NaN in sentiment, inf in score
        ("funding", "rate", 1e308),
        ("liquidations", "usd", 1e308),  # inf in info's totals
    ],
)
def test_a_market_that_would_overflow_is_refused_naming_file_row_and_column(
    tmp_path: Path, table: str, column: str, value: float
) -> None:
    folder = write_bundle(edited(table, column, value), tmp_path / "b")
    loaded = read_bundle(folder)  # valid to the reader: every number is positive and finite
    when = str(loaded.table(table)["ts"].iloc[40].strftime("%Y-%m-%dT%H:%M:%SZ"))  # type: ignore[index]
    expected = "^" + re.escape(f"{tmp_path}/b/{table}.csv, row at {when}, column '{column}': {value:g} is outside [")
    with pytest.raises(DomainError, match=expected):
        MarketView.from_bundle(loaded)
    with pytest.raises(DomainError, match=expected):
        MarketView.from_columns(read_columns(folder))  # the pandas-free path of `liqheat replay`


def test_the_edges_of_the_bounds_are_accepted() -> None:
    b = bundle()
    oi = b.open_interest.assign(oi_usd=1e15)
    liq = b.liquidations.assign(usd=1e15)  # type: ignore[union-attr]
    MarketView.from_bundle(with_tables(b, open_interest=oi, liquidations=liq, funding=b.funding.assign(rate=1.0)))  # type: ignore[union-attr]


def test_cascade_never_goes_below_zero() -> None:
    """A book the map's forced selling empties used to end at a negative price (−4.06e153 with --depth-scale 1e-300)."""
    centers = np.exp(np.linspace(math.log(50), math.log(150), 400))
    long = np.where(centers < 100, 1e12, 0.0)
    with pytest.raises(DomainError, match=r"^depth_scale: the book is too thin for this map") as caught:
        simulate_cascade(centers, long, np.zeros_like(long), 100.0, -3.0, calibrated().scaled(1e-4))
    assert caught.value.param == "depth_scale"
    deep = simulate_cascade(centers, long / 1e6, np.zeros_like(long), 100.0, -3.0, calibrated().scaled(1e4))
    assert 0 < deep.price_after < 97


@pytest.mark.parametrize("scale", [1e-300, 1e308, math.nan, 0.0])
def test_depth_scale_is_bounded(scale: float) -> None:
    with pytest.raises(DomainError, match=r"^depth_scale must be a number in \[0\.0001, 10000\]") as caught:
        calibrated().scaled(scale)
    assert caught.value.param == "depth_scale"


def flat_map() -> MarketMap:
    edges = np.exp(np.linspace(math.log(50), math.log(200), 101))
    zeros = np.zeros(100)
    ts = pd.Timestamp("2026-01-05T00:00:00Z")
    none = np.zeros((0, 100))
    return MarketMap(symbol="BTC", index=0, ts=ts, price=100.0, edges=edges, long=zeros, short=zeros, atr_pct=0.0,
                     timeframe=pd.Timedelta(hours=1), past_ts=(), past_long=none, past_short=none)  # fmt: skip


@pytest.mark.parametrize(("name", "value"), [("entry", 5e-324), ("entry", 1e300), ("balance", 1e308), ("leverage", 1e6)])
def test_plan_bounds_its_numbers(name: str, value: float) -> None:
    args = {"entry": 100.0, "leverage": 10.0, "balance": 1000.0} | {name: value}
    with pytest.raises(DomainError, match=rf"^{name} must be a number in") as caught:
        plan(flat_map(), [], side="long", risk=0.01, **args)
    assert caught.value.param == name


def test_plan_on_a_market_that_never_moved_says_why() -> None:
    """ATR 0 and no cluster put the stop on the entry: a ZeroDivisionError before."""
    with pytest.raises(DomainError, match=r"no stop can be placed away from the entry 100\.00: the ATR is 0"):
        plan(flat_map(), [], side="long", entry=100.0, leverage=10.0, balance=1000.0, risk=0.01)


def test_levels_on_the_smallest_prices_allowed(tmp_path: Path) -> None:
    """1e-300 is refused (above); 1e-12, the floor, computes finite levels and clusters."""
    from liqheat.analytics.clusters import clusters_of
    from liqheat.analytics.levels import confluence, levels

    b = bundle(24 * 12)
    scaled = b.candles.copy()
    for k in ("open", "high", "low", "close"):
        scaled[k] = scaled[k] * 1e-12 / float(b.candles["low"].min())
    m = market_map(with_tables(b, candles=scaled))
    found = levels(scaled, m.price)
    meets = confluence(clusters_of(m, top=10), found)
    assert all(math.isfinite(x.distance_pct) for x in meets)
    assert all(lv.price > 0 for lv in found)
