"""Benchmark the map routes on the demo market (30 days of 1-minute candles, what ``liqheat serve`` shows).

Prints the machine, the market's timeline warm-up (what serve does at start-up), then milliseconds per
request, in-process through the whole app (routing, validation, JSON): ``/map`` at the last candle (the
first request, then five more, which a server that keeps maps answers from memory), and ``/map`` and
``/clusters`` at ``--requests`` times spread over the market, each a different candle so no answer comes
from a cache. Run: .venv/bin/python bench/api.py [--out out/demo] [--requests 20].
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import machine

from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.demo.job import market as demo_market
from liqheat.evaluation.synthetic.market import SimParams
from liqheat.store.parquet_store import default_root


def ms(client: TestClient, url: str, **params: str) -> float:
    start = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    return elapsed


def spread(label: str, values: list[float]) -> None:
    print(f"  {label:<44} median {statistics.median(values):7.1f} ms   min {min(values):7.1f}   max {max(values):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=default_root() / "demo-cache", help="where the demo market is cached (serve's default)"
    )
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    sim, reused = demo_market(args.out, SimParams())
    bundle = sim.bundle
    ts = bundle.candles["ts"]
    where = f"{'cached in' if reused else 'simulated into'} {args.out}"
    print(f"demo market: {len(ts):,} candles of {bundle.meta.timeframe} ({where})")
    registry = Registry()
    registry.add(bundle, market_id="demo")
    start = time.perf_counter()
    for thread in registry.warm():
        thread.join()
    print(f"  timeline warm-up at start-up {time.perf_counter() - start:8.2f} s")
    client = TestClient(create_app(registry))
    ms(client, "/api/markets/demo/map", at=str(ts.iloc[10]))  # compile and import once, outside the figures
    print(f"  /map at the last candle, first request      {ms(client, '/api/markets/demo/map'):7.1f} ms")
    spread("/map at the last candle, 5 more", [ms(client, "/api/markets/demo/map") for _ in range(5)])
    step = bundle.meta.timeframe_delta
    candles = np.linspace(1440, len(ts) - 2, args.requests).astype(int)
    times = [(ts.iloc[i] + step).strftime("%Y-%m-%dT%H:%M:%SZ") for i in candles]
    spread(f"/map at {len(times)} other candles", [ms(client, "/api/markets/demo/map", at=t) for t in times])
    spread(f"/clusters at {len(times)} other candles", [ms(client, "/api/markets/demo/clusters", at=t) for t in times])


if __name__ == "__main__":
    main()
