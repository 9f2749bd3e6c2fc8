"""Benchmark liqheat backfill: partitions a second on a local Dask cluster of 1 and 2 workers, the efficiency at 2,
the overhead per partition against its compute, and a paper estimate for 5 billion candles.

Run: .venv/bin/python bench/scale.py [--markets 20] [--skip-cli]
Prints figures and the machine; asserts nothing about time. It also checks what issue 17 is done on: the markets'
3 months backfilled on 1 and 2 workers, and by the `liqheat backfill` command on a local cluster, give the store
of the single-process path, byte for byte (exit 1 otherwise).

Targets (issue 17): efficiency ≥ 0.8 at 2 workers; overhead per partition (scheduling, moving the carried state and
the files) ≤ 10 % of its compute (read, kernel, write) for a month of 1-minute candles.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from distributed import Client, LocalCluster
from foundation import machine

from liqheat.engine.params import ModelParams
from liqheat.evaluation.synthetic.stored import store_markets
from liqheat.scale.backfill import Report, backfill
from liqheat.scale.plan import Job, months_between
from liqheat.scale.work import compute, month_input
from liqheat.store import partitions
from liqheat.store.parquet_store import Store

SINCE, UNTIL = pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-04-01T00:00Z")
TOTAL_CANDLES = 5e9
CORE_HOUR_USD = 0.04  # an on-demand cloud vCPU-hour (compute-optimised instances list at $0.035-0.05)
ROOT = Path(__file__).resolve().parents[1]


def files(root: Path) -> dict[str, bytes]:
    base = root / "predictions"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def size(root: Path, kinds: tuple[str, ...]) -> int:
    return sum(p.stat().st_size for kind in kinds for p in (root / kind).rglob("*") if p.is_file())


def on_cluster(source: Path, target: Path, jobs: list[Job], workers: int) -> Report:
    """A warm cluster of ``workers`` processes (one thread each) backfills a copy of ``source``."""
    shutil.copytree(source, target)
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        warm = jobs[0]
        for address in client.scheduler_info()["workers"]:  # imports, the kernel, the offsets: not a partition's cost
            client.submit(compute, str(source), warm, warm.first, None, workers=[address], pure=False).result()
        return backfill(Store(target), jobs, client=client)


def breakdown(root: Path, job: Job) -> dict[str, float]:
    """One partition's parts, in this process: read, replay and encode (the worker's), commit (the writer's)."""
    store = Store(root)
    month = job.months[1]
    previous = compute(str(root), job, job.months[0], None)
    times: dict[str, list[float]] = {"read": [], "whole": [], "commit": []}
    for i in range(3):
        t = time.perf_counter()
        month_input(store, job, month)
        times["read"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = compute(str(root), job, month, previous)
        times["whole"].append(time.perf_counter() - t)
        scratch = Store(root / f"scratch{i}")
        with scratch.writer():
            t = time.perf_counter()
            partitions.commit(scratch, job.venues, job.market.unified, job.timeframe, month, result.files)
            times["commit"].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    best["replay and encode"] = best.pop("whole") - best["read"]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--skip-cli", action="store_true", help="skip the `liqheat backfill` process check")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine slows every figure)")
    months = months_between(SINCE, UNTIL)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "source"
        t = time.perf_counter()
        with Store(source).writer() as store:
            markets = store_markets(store, args.markets, start=SINCE, days=(UNTIL - SINCE).days)
        print(f"{args.markets} synthetic markets × {len(months)} months of 1-minute candles simulated and stored in "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        jobs = [Job(("binance",), (m,), "1m", months, ModelParams(), 24.0) for m in markets]
        n = len(jobs) * len(months)

        single_root = work / "single"
        shutil.copytree(source, single_root)
        single = backfill(Store(single_root), jobs)
        print(f"single process: {n} partitions in {single.seconds:.1f} s ({n / single.seconds:.2f} a second)")
        expected = files(single_root)

        runs: dict[int, Report] = {}
        same = True
        for workers in (1, 2):
            report = on_cluster(source, work / f"cluster{workers}", jobs, workers)
            runs[workers] = report
            equal = files(work / f"cluster{workers}") == expected
            same &= equal
            print(f"{workers} worker(s): {n} partitions in {report.seconds:.1f} s ({n / report.seconds:.2f} a second); "
                  f"same store as the single process: {'yes' if equal else 'NO'}")  # fmt: skip
        if not args.skip_cli:
            root = work / "cli"
            shutil.copytree(source, root)
            command = [sys.executable, "-m", "liqheat", "backfill", "--symbols", ",".join(m.unified for m in markets),
                       "--since", "2026-01-01", "--until", "2026-04-01", "--store", str(root), "--workers", "2"]  # fmt: skip
            t = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            equal = done.returncode == 0 and files(root) == expected
            same &= equal
            print(f"`liqheat backfill --workers 2` (a new local cluster, start-up included): {time.perf_counter() - t:.1f} s, "
                  f"same store as the single process: {'yes' if equal else 'NO: ' + done.stderr[-500:]}")  # fmt: skip

        one, two = runs[1], runs[2]
        rate1, rate2 = n / one.seconds, n / two.seconds
        efficiency = rate2 / (2 * rate1)
        print(f"\nefficiency at 2 workers: {efficiency:.2f} (target ≥ 0.8)")
        worker = one.compute_seconds / n
        commit = one.commit_seconds / n
        wall = one.seconds / n
        overhead = wall - worker
        print(f"per partition on 1 worker: {wall * 1e3:.0f} ms of wall time; the worker's read + replay + encode "
              f"{worker * 1e3:.0f} ms, the writer's commit {commit * 1e3:.0f} ms (overlapping the next partition)")  # fmt: skip
        print(f"overhead per partition (wall − the worker's compute): {overhead * 1e3:.0f} ms = "
              f"{overhead / (worker + commit) * 100:.1f} % of its compute (read, kernel, write) (target ≤ 10 %)")  # fmt: skip
        parts = breakdown(source, jobs[0])
        print("one partition's parts, best of 3: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in parts.items()))

        candles = one.candles / n
        out_bytes = size(work / "single", ("predictions",)) / n
        in_bytes = size(source, ("candles", "open_interest", "funding")) / n
        print(f"a partition: {candles:,.0f} candles; {in_bytes / 1e6:.2f} MB read, {out_bytes / 1e6:.2f} MB written")
        core_seconds = TOTAL_CANDLES / candles * (worker + commit)
        print(f"\npaper estimate for {TOTAL_CANDLES:.0e} candles ({TOTAL_CANDLES / candles:,.0f} month partitions), "
              f"at the measured {(worker + commit) / candles * 1e6:.2f} µs a candle and the measured 2-worker "
              f"efficiency {efficiency:.2f}:")  # fmt: skip
        count = TOTAL_CANDLES / candles
        writer = count * commit / 3600
        for cores in (64, 256):
            hours = core_seconds / (cores * efficiency) / 3600
            bound = "the workers bind" if hours >= writer else f"the one writer binds: {writer:.1f} h of commits"
            print(f"  {cores} cores: {max(hours, writer):.1f} h of wall time ({hours:.1f} h of compute spread over the cores; "
                  f"{bound}), {hours * cores:,.0f} core-hours ≈ ${hours * cores * CORE_HOUR_USD:,.0f} at "
                  f"${CORE_HOUR_USD}/core-hour")  # fmt: skip
        print(f"  the writer: {commit * 1e3:.0f} ms a commit here ({parts['commit'] * 1e3:.0f} ms unloaded) → "
              f"{count * commit / 3600:.1f} h ({count * parts['commit'] / 3600:.1f} h) for {count:,.0f} partitions, "
              f"{64 * efficiency / (worker + commit) * out_bytes / 1e6:.0f} MB/s into it at 64 cores")  # fmt: skip
        print(f"  store: {count * in_bytes / 1e9:,.0f} GB of market data read, {count * out_bytes / 1e9:,.0f} GB of "
              "backfill written (predictions, frames, states)")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
