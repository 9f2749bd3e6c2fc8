"""Benchmark the foundation: bundle read/write at a year of 1-minute candles, and the calculator.

Run: .venv/bin/python bench/foundation.py [--rows 525600]
Prints figures and the machine; asserts nothing about time (that is what a benchmark is for).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from liqheat.bundle import Bundle, BundleMeta, read_bundle, write_bundle
from liqheat.model import ContractKind
from liqheat.venues.calc import calculate, position_from_inputs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bundles"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} · {os.cpu_count()} cores · Python {sys.version.split()[0]} · {platform.platform()}"


def synthetic(rows: int, seed: int = 7) -> Bundle:
    """A random-walk 1-minute market: valid OHLC, volume, hourly open interest."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-01", periods=rows, freq="1min", tz="UTC").astype("datetime64[us, UTC]")
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 6e-4, rows)))
    open_ = np.concatenate([[60_000.0], close[:-1]])
    wiggle = np.abs(rng.normal(0, 4e-4, (2, rows)))
    high = np.maximum(open_, close) * (1 + wiggle[0])
    low = np.minimum(open_, close) * (1 - wiggle[1])
    volume = rng.gamma(2.0, 5.0, rows)
    candles = pd.DataFrame(
        {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume, "taker_buy_volume": volume * 0.5}
    )
    oi_ts = ts[59::60]
    oi = pd.DataFrame({"ts": oi_ts, "oi_usd": 5e9 * np.exp(np.cumsum(rng.normal(0, 2e-3, len(oi_ts))))})
    meta = BundleMeta("BTC", ContractKind.LINEAR, "USD", "1m", ("synthetic",), "bench/foundation.py random walk")
    return Bundle(meta=meta, candles=candles, open_interest=oi)


def timed(label: str, fn: Callable[[], object], repeat: int = 3) -> float:
    best = min(_once(fn) for _ in range(repeat))
    print(f"  {label:<48} {best * 1000:9.1f} ms")
    return best


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=525_600)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"bundle I/O, {args.rows:,} one-minute candles (best of 3):")
    bundle = synthetic(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        formats: tuple[Literal["csv", "parquet"], ...] = ("csv", "parquet")
        for fmt in formats:
            path = Path(tmp) / fmt
            write_bundle(bundle, path, fmt=fmt)
            timed(f"write {fmt}", lambda p=path, f=fmt: write_bundle(bundle, p, fmt=f, overwrite=True))
            t = timed(f"read + validate {fmt}", lambda p=path: read_bundle(p))
            print(f"  {'':<48} {args.rows / t:9,.0f} candles/s")
    if SHARED.is_dir():
        print("shared bundles (read + validate, best of 3):")
        for folder in sorted(SHARED.iterdir()):
            timed(folder.name, lambda f=folder: read_bundle(f))
    print("calculator (one position, all steps, tier search):")
    for venue, symbol, size in (("binance", "BTCUSDT", 1.0), ("bybit", "BTCUSDT", 100.0), ("hyperliquid", "BTC", 50.0)):
        position, vt = position_from_inputs(venue, symbol, "long", 60_000, 10, size)
        n = 2_000
        start = time.perf_counter()
        for _ in range(n):
            calculate(venue, position, table=vt)
        per = (time.perf_counter() - start) / n
        print(f"  {venue} {symbol} size {size:g}: {per * 1e6:8.1f} µs per position ({len(vt.table)} tiers)")


if __name__ == "__main__":
    main()
