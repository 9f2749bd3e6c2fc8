"""The markets the API tests serve: synthetic bundles built here, and the shared real bundle's folder."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import SHARED_BUNDLES, hourly_random_walk
from liqheat.bundle import Bundle, BundleMeta
from liqheat.model import ContractKind

REAL = SHARED_BUNDLES / "btc-agg-1h-dec-feb"
HOUR = pd.Timedelta(hours=1)


def build_bundle(n: int = 14 * 24, seed: int = 7) -> Bundle:
    """Two weeks of hourly random walk with volume, funding, open interest and two liquidation rows per hour.

    Every 10th hour's long row has usd 0 (the API drops those) and every 7th short row has no price.
    """
    ts, candles, oi, funding, rng = hourly_random_walk(n, seed)
    open_, high, low = (candles[k].to_numpy() for k in ("open", "high", "low"))
    down, up = (open_ - low) / open_, (high - open_) / open_
    usd = np.column_stack((1e9 * down, 1e9 * up)) * rng.lognormal(0, 0.7, (n, 2))
    usd[::10, 0] = 0.0
    price = np.column_stack((low, high))
    price[::7, 1] = np.nan
    liq = pd.DataFrame(
        {
            "ts": ts.repeat(2).reset_index(drop=True),
            "side": ["long", "short"] * n,
            "usd": usd.reshape(-1),
            "price": price.reshape(-1),
        }
    )
    meta = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance", "bybit"),
                      source="synthetic API test data", funding_interval="1h", liquidations_interval="1h",
                      score_from=ts.iloc[48])  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi, funding=funding, liquidations=liq)


def build_bare(n: int = 3 * 24, seed: int = 3) -> Bundle:
    """Three days of ETH without volume, funding or liquidations."""
    rng = np.random.default_rng(seed)
    ts = pd.Series(pd.date_range("2026-02-01", periods=n, freq="1h", tz="UTC").astype("datetime64[us, UTC]"))
    close = 3000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([3000.0], close[:-1]))
    high = np.maximum(open_, close) * 1.003
    low = np.minimum(open_, close) * 0.997
    candles = pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close})
    oi = pd.DataFrame({"ts": ts + HOUR, "oi_usd": np.full(n, 5e8)})
    meta = BundleMeta(symbol="ETH", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("okx",),
                      source="bare API test data")  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi)


SYN = build_bundle()
BARE = build_bare()
