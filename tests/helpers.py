"""Test data shared by several test files."""

from __future__ import annotations

import numpy as np
import pandas as pd


def hourly_random_walk(n: int, seed: int) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame, np.random.Generator]:
    """An hourly market from 2026-01-05: ts, candles (with volume, taker buy), open interest and funding
    stamped at the end of each hour, and the generator, positioned for the caller's further draws."""
    rng = np.random.default_rng(seed)
    ts = pd.Series(pd.date_range("2026-01-05", periods=n, freq="1h", tz="UTC").astype("datetime64[us, UTC]"))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    volume = rng.lognormal(3, 0.5, n)
    candles = pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume,
                            "taker_buy_volume": volume * rng.uniform(0.2, 0.8, n)})  # fmt: skip
    oi = pd.DataFrame({"ts": ts + pd.Timedelta(hours=1), "oi_usd": 1e9 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))})
    funding = pd.DataFrame({"ts": ts + pd.Timedelta(hours=1), "rate": rng.normal(0, 1e-4, n)})
    return ts, candles, oi, funding, rng
