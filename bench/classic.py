"""The classic model of the public liquidation maps, written plainly with numpy: the baseline liqheat is timed against.

Five fixed leverage tiers (10, 25, 50, 100, 125x, equal weight). Each candle, a positive change in open
interest opens that notional on both sides at one price, the candle's close: a long at leverage L
liquidates at close × (1 − 1/L), a short at close × (1 + 1/L). Levels are kept on a log-price grid
(bins × tiers, per side). A candle sweeps, and predicts, the long levels at or above its low and the
short levels at or below its high, then removes them. A decrease in open interest closes every level in
proportion (all scaled by oi_after / oi_before). Causal like liqheat's replay: candle t meets the map
built from the candles before it; open interest before t is the latest sample at or before t's open,
after t the latest at or before t's close.

A per-candle Python loop doing vectorised numpy work (slice sums and fills): the straightforward way.

As a script (plain pandas + numpy, no liqheat):
    python bench/classic.py BUNDLE_DIR OUT.csv [--bins 2000]
reads candles.csv and open_interest.csv with pandas.read_csv, replays, writes ts,long_usd,short_usd.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

TIERS = (10.0, 25.0, 50.0, 100.0, 125.0)
MARGIN = 0.05  # log-price margin around the reachable levels


def classic_grid(low_min: float, high_max: float, n_bins: int, tiers: tuple[float, ...] = TIERS) -> tuple[float, float]:
    """(lo, width) of a log-price grid of ``n_bins`` bins covering every level the tiers can place."""
    lo = math.log(low_min * (1.0 - 1.0 / min(tiers))) - MARGIN
    hi = math.log(high_max * (1.0 + 1.0 / min(tiers))) + MARGIN
    return lo, (hi - lo) / n_bins


def align_oi(candle_ts: np.ndarray, oi_ts: np.ndarray, oi: np.ndarray, timeframe: np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Open interest before each candle (latest sample at or before its open) and after it (at or before its close).

    NaN before the first sample. Times are integers (e.g. ns since the epoch); ``timeframe`` is the candle length.
    """

    def asof(at: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(oi_ts, at, side="right") - 1
        return np.where(idx >= 0, oi[np.maximum(idx, 0)], np.nan)

    return asof(candle_ts), asof(candle_ts + timeframe)


def classic_replay(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    oi_before: np.ndarray,
    oi_after: np.ndarray,
    n_bins: int,
    tiers: tuple[float, ...] = TIERS,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-candle swept notional (long, short) of the classic model on a grid of ``n_bins`` log-price bins."""
    n = len(high)
    lev = np.asarray(tiers, dtype=np.float64)
    k = np.arange(len(lev))
    weight = 1.0 / len(lev)
    lo, width = classic_grid(float(low.min()), float(high.max()), n_bins, tiers)

    def bins(price: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((np.log(price) - lo) / width), 0, n_bins - 1).astype(np.int64)

    b_low = bins(low)
    b_high = bins(high)
    b_long = bins(close[:, None] * (1.0 - 1.0 / lev))  # n × tiers
    b_short = bins(close[:, None] * (1.0 + 1.0 / lev))
    before = np.nan_to_num(oi_before, nan=0.0)
    after = np.where(np.isnan(oi_after), before, oi_after)
    delta = np.where(np.isnan(oi_before), 0.0, after - before)

    longs = np.zeros((n_bins, len(lev)))
    shorts = np.zeros((n_bins, len(lev)))
    pred_long = np.zeros(n)
    pred_short = np.zeros(n)
    for t in range(n):
        swept = longs[b_low[t] :]
        pred_long[t] = swept.sum()
        swept.fill(0.0)
        swept = shorts[: b_high[t] + 1]
        pred_short[t] = swept.sum()
        swept.fill(0.0)
        d = delta[t]
        if d > 0.0:
            longs[b_long[t], k] += d * weight
            shorts[b_short[t], k] += d * weight
        elif d < 0.0 and before[t] > 0.0:
            keep = after[t] / before[t]
            longs *= keep
            shorts *= keep
    return pred_long, pred_short


def run_bundle(folder: Path, out: Path, n_bins: int) -> int:
    """Read a CSV bundle with pandas, replay the classic model, write ts,long_usd,short_usd. Returns the candle count."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    candles = pd.read_csv(folder / "candles.csv", usecols=["ts", "high", "low", "close"], dtype={"ts": str})
    oi = pd.read_csv(folder / "open_interest.csv", usecols=["ts", "oi_usd"])
    candle_ts = pd.to_datetime(candles["ts"], utc=True, format="ISO8601").to_numpy("datetime64[ns]").view(np.int64)
    oi_ts = pd.to_datetime(oi["ts"], utc=True, format="ISO8601").to_numpy("datetime64[ns]").view(np.int64)
    timeframe = np.int64(pd.Timedelta(meta["timeframe"].replace("m", "min")).value)
    before, after = align_oi(candle_ts, oi_ts, oi["oi_usd"].to_numpy(np.float64), timeframe)
    long_usd, short_usd = classic_replay(
        candles["high"].to_numpy(np.float64),
        candles["low"].to_numpy(np.float64),
        candles["close"].to_numpy(np.float64),
        before,
        after,
        n_bins,
    )
    pd.DataFrame({"ts": candles["ts"], "long_usd": long_usd, "short_usd": short_usd}).to_csv(out, index=False)
    return len(candles)


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay the classic liquidation-map model on a CSV bundle.")
    parser.add_argument("bundle", type=Path, help="bundle folder holding meta.json, candles.csv, open_interest.csv")
    parser.add_argument("out", type=Path, help="CSV to write: ts,long_usd,short_usd")
    parser.add_argument("--bins", type=int, default=2000, help="log-price bins of the grid (default 2000)")
    args = parser.parse_args()
    run_bundle(args.bundle, args.out, args.bins)


if __name__ == "__main__":
    main()
