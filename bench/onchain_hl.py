"""Benchmark the Hyperliquid refresher (issue #16, item 1) against a local ``/info`` that enforces the published
weights (tests/sources/hlinfo.py: 1,200 a minute per IP, ``clearinghouseState`` 2, ``metaAndAssetCtxs`` 20, 429
beyond), on a compressed clock (the client and the server read the same ``ManualClock``: an hour runs in minutes).

``--addresses`` synthetic BTC accounts (``--whales`` of them holding ``--whale-share`` of the notional) are found
at once; the tracker reads them in its priority order with the default budget, the market once a minute. Every
``--sample`` s of schedule it records the freshness. Figures are taken after the first full pass (``--warmup``).

Run: .venv/bin/python bench/onchain_hl.py [--addresses 10000] [--minutes 40] [--warmup 20] [--whales 150]
Prints the machine and the figures; asserts nothing.

Targets (from the issue): addresses holding 90 % of the discovered notional at most 2 minutes old, all 10,000 at
most 20 minutes, within 600 reads a minute, no 429.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from foundation import machine

from liqheat.venues.hyperliquid.info import InfoClient, ManualClock, WeightBudget
from liqheat.venues.hyperliquid.scheduler import Refresher
from liqheat.venues.hyperliquid.tracker import Recorder, Tracker
from sources.hlinfo import LIMIT, PUBLISHED, serve, synthetic_venue


def peak_minute(times: list[float], weights: list[int]) -> int:
    t = np.asarray(times)
    w = np.cumsum([0, *weights])
    ends = np.searchsorted(t, t + 60.0, side="left")
    return int((w[ends] - w[np.arange(len(t))]).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=20.0, help="minutes left out of the figures (the first pass)")
    parser.add_argument("--whales", type=int, default=150)
    parser.add_argument("--whale-share", type=float, default=0.93)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds of schedule between freshness samples")
    args = parser.parse_args()

    print(machine())
    clock = ManualClock()
    venue, users, notional = synthetic_venue(clock, args.addresses, whales=args.whales, whale_share=args.whale_share)
    started = time.perf_counter()
    cpu = time.process_time()
    samples = []
    with serve(venue) as url:
        client = InfoClient(url, budget=WeightBudget(clock=clock))
        tracker = Tracker(client, Refresher(), Recorder(frozenset({"BTC"})))
        tracker.add(users)
        next_sample = 0.0
        while clock.now() < args.minutes * 60:
            tracker.step()
            if clock.now() >= next_sample:
                samples.append(tracker.refresher.freshness(clock.now()))
                next_sample += args.sample
        client.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu

    steady = [f for f in samples if f.at >= args.warmup * 60]
    span = args.minutes - args.warmup
    ok = [(t, k) for t, k, _, s in venue.log if s == 200]
    steady_reads = sum(1 for t, k in ok if k == "clearinghouseState" and t >= args.warmup * 60)
    peak = peak_minute([t for t, _ in ok], [PUBLISHED.get(k, 20) for _, k in ok])
    values = np.sort(np.fromiter(notional.values(), dtype=np.float64))[::-1]
    hot_needed = int(np.searchsorted(np.cumsum(values), 0.9 * values.sum())) + 1
    p90 = [f.p90_notional_age for f in steady]
    print(f"{args.addresses:,} addresses ({args.whales} holding {args.whale_share:.0%} of the notional: "
          f"{hot_needed} hold 90 %), {args.minutes:g} min of schedule in {wall:.1f} s wall, {cpu:.1f} s CPU")  # fmt: skip
    print(f"after the first {args.warmup:g} min, sampled every {args.sample:g} s ({len(steady)} samples):")
    print(f"  p90-notional age: max {max(p90):.1f} s, median {statistics.median(p90):.1f} s   (target ≤ 120 s)")
    print(f"  max age:          max {max(f.max_age for f in steady):.1f} s   (target ≤ 1,200 s)")
    print(f"  reads a minute:   {steady_reads / span:.1f}   (target ≤ 600); hot set {steady[-1].hot}")
    print(f"  weight in the busiest minute: {peak:,} of {LIMIT:,}; answered 429: {venue.statuses().count(429)}")


if __name__ == "__main__":
    main()
