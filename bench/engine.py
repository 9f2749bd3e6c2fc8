"""Benchmark the heatmap engine: the kernel on a synthetic year of 1-minute candles, a whole `liqheat replay`
process, and every shared bundle, each beside the classic model of the public liquidation maps (bench/classic.py).

Run: .venv/bin/python bench/engine.py [--rows 525600] [--skip-process]
Prints figures, ratios against the targets and the machine; asserts nothing about time.

Targets (from the issue): kernel ≤ 2 s for 525,600 candles with ≥ 2,000 bins and 32 leverage buckets on one
core, ≥ 50× the classic numpy loop's throughput; a whole `liqheat replay` process on a 525,600-candle CSV
bundle ≤ 2.5 s, ≥ 20× a plain pandas + numpy script of the classic model.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from classic import classic_replay
from foundation import machine, synthetic

from liqheat.bundle import Bundle, read_bundle, read_columns, write_bundle
from liqheat.engine.calibration import Calibration
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, Grid, MarketView, drivers, liquidation_offsets, predicted_sides
from liqheat.evaluation.fit import predict
from liqheat.evaluation.score import score
from liqheat.render.files import write_predictions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "bundles"
CLASSIC_SCRIPT = Path(__file__).resolve().parent / "classic.py"
MIN_BINS = 2_000
LEVERAGE_BUCKETS = 32
CLASSIC_BUDGET_S = 60.0
CLASSIC_PREFIX = 50_000
KERNEL_TARGET_S = 2.0
KERNEL_TARGET_RATIO = 50.0
PROCESS_TARGET_S = 2.5
PROCESS_TARGET_RATIO = 20.0


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def line(label: str, text: str) -> None:
    """One indented figure: a label column, then the text."""
    print(f"  {label:<26}{text}")


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def maxrss_bytes(ru_maxrss: int) -> int:
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def verdict(value: float, target: float, *, at_most: bool) -> str:
    ok = value <= target if at_most else value >= target
    return "meets target" if ok else "MISSES target"


def params_for(view: MarketView) -> ModelParams:
    """Default parameters with 32 leverage buckets and a bin width that gives the view a grid of ≥ 2,000 bins."""
    params = replace(ModelParams(), leverage_buckets=LEVERAGE_BUCKETS)
    off_long, off_short = liquidation_offsets(params, view.symbol)
    reach = float(off_short.max()) - float(off_long.min()) + 0.2  # Grid.covering's margins
    span = math.log(float(view.high.max())) - math.log(float(view.low.min())) + reach
    width = min(params.bin_width, span / MIN_BINS)
    params = replace(params, bin_width=float(f"{width:.3g}"))
    while Grid.covering(float(view.low.min()), float(view.high.max()), params, off_long, off_short).n_bins < MIN_BINS:
        params = replace(params, bin_width=params.bin_width * 0.99)
    return params


def head(bundle: Bundle, rows: int) -> Bundle:
    """The first ``rows`` candles, with the open interest up to their end."""
    candles = bundle.candles.iloc[:rows].reset_index(drop=True)
    end = candles["ts"].iloc[-1] + bundle.meta.timeframe_delta
    oi = bundle.open_interest[bundle.open_interest["ts"] <= end].reset_index(drop=True)
    return replace(bundle, candles=candles, open_interest=oi)


def run_classic(view: MarketView, n_bins: int, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    n = len(view) if rows is None else rows
    return classic_replay(view.high[:n], view.low[:n], view.close[:n], view.oi_before[:n], view.oi_after[:n], n_bins)


# ------------------------------------------------------------------------------------------- kernel

COMPILE_PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from foundation import synthetic
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, MarketView
view = MarketView.from_bundle(synthetic(1_000))
start = time.perf_counter()
Engine.for_view(view, ModelParams()).run(view)
print(time.perf_counter() - start)
"""


def compile_from_scratch() -> float:
    """Seconds of the first replay call in a fresh process whose numba cache is empty (the project's cache is untouched)."""
    with tempfile.TemporaryDirectory(prefix="liqheat-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        probe = [sys.executable, "-c", COMPILE_PROBE, str(Path(__file__).resolve().parent)]
        done = subprocess.run(probe, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return float(done.stdout.strip().splitlines()[-1])


def bench_kernel(bundle: Bundle) -> tuple[ModelParams, int, float]:
    """Kernel replay on the synthetic year beside the classic loop. Returns (params, n_bins, classic candles/s)."""
    rows = len(bundle.candles)
    view = MarketView.from_bundle(bundle)
    params = params_for(view)

    tiny = MarketView.from_bundle(head(bundle, 1_000))
    start = time.perf_counter()
    Engine.for_view(tiny, params).run(tiny)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    Engine.for_view(tiny, params).run(tiny)
    warm_again = time.perf_counter() - start
    compile_s = compile_from_scratch()

    engine = Engine.for_view(view, params)
    grid = engine.grid
    setup = best_of(lambda: Engine.for_view(view, params))
    engines = [Engine.for_view(view, params) for _ in range(3)]
    walls, cpus = [], []
    for e in engines:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        e.run(view)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    run = min(walls)
    cpu_share = cpus[walls.index(run)] / run
    drive = best_of(lambda: drivers(view, params))
    calibration = Calibration(scale_long=1.2, scale_short=0.8, background_long=3e-6, background_short=3e-6)
    swept = Engine.for_view(view, params).run(view)[0]
    calibrate = best_of(
        lambda: calibration.predicted(swept[:, 0] + swept[:, 2], swept[:, 1] + swept[:, 3], view.open, view.high, view.low,
                                      view.oi_before)
    )  # fmt: skip

    tracemalloc.start()
    Engine.for_view(view, params).run(view)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    state = engine.longs.nbytes + engine.shorts.nbytes

    print(f"kernel replay: {rows:,} one-minute candles (synthetic random walk, {view.close.min():,.0f}-{view.close.max():,.0f})")
    rss = maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    line("grid", f"{grid.n_bins:,} price bins × {len(engine.leverages)} leverage buckets per side")
    line("", f"(bin_width {params.bin_width:g}; state {mib(state)})")
    line("JIT warm-up", f"{warm * 1000:8.1f} ms first call on 1,000 candles (numba on-disk cache load or compile)")
    line("", f"{warm_again * 1000:8.1f} ms the same call again")
    line("", f"{compile_s * 1000:8.1f} ms the first call with an empty NUMBA_CACHE_DIR (compile from scratch, subprocess)")
    line("Engine.for_view", f"{setup * 1000:8.1f} ms (liquidation offsets from the venue rule, grid, state)")
    line("Engine.run (best of 3)", f"{run * 1000:8.1f} ms = {rows / run:,.0f} candles/s; cpu/wall {cpu_share:.2f} (serial njit)")
    line("  of which drivers()", f"{drive * 1000:8.1f} ms (vectorised numpy: gross, closing, side split)")
    times = (run + calibrate) / run
    line("calibration applied", f"{calibrate * 1000:8.1f} ms more: calibrated replay = {times:.3f}× the kernel's "
         f"(target ≤ 1.5×, {verdict(times, 1.5, at_most=True)})")  # fmt: skip
    line("peak memory", f"{mib(peak)} traced during for_view + run (tracemalloc); process max RSS so far {mib(rss)}")
    budget = f"{run / KERNEL_TARGET_S:.2f} of the budget, {verdict(run, KERNEL_TARGET_S, at_most=True)}"
    line(f"target ≤ {KERNEL_TARGET_S:.1f} s", f"{run:.2f} s: {budget}")

    prefix = min(rows, CLASSIC_PREFIX)
    start = time.perf_counter()
    run_classic(view, grid.n_bins, prefix)
    first = time.perf_counter() - start
    projected = first * rows / prefix
    if prefix < rows and projected <= CLASSIC_BUDGET_S:
        start = time.perf_counter()
        long_usd, short_usd = run_classic(view, grid.n_bins)
        classic_s = time.perf_counter() - start
        classic_rows = rows
        note = "all candles, one run"
    else:
        classic_s, classic_rows = first, prefix
        long_usd = short_usd = np.zeros(0)
        note = "all candles, one run" if prefix == rows else f"PREFIX of {prefix:,} candles (all would take ~{projected:.0f} s)"
    classic_rate = classic_rows / classic_s
    ratio = (rows / run) / classic_rate
    print(f"classic model, numpy loop (bench/classic.py: 5 tiers, {grid.n_bins:,} bins × 5 tiers per side), {note}:")
    line("wall", f"{classic_s * 1000:8.1f} ms = {classic_rate:,.0f} candles/s")
    if long_usd.size:
        line("swept", f"long {long_usd.sum():,.3g} USD, short {short_usd.sum():,.3g} USD (sanity)")
    basis = "same candles" if classic_rows == rows else f"per-candle throughput, classic on a {classic_rows:,}-candle prefix"
    target = f"target ≥ {KERNEL_TARGET_RATIO:.0f}×: {verdict(ratio, KERNEL_TARGET_RATIO, at_most=False)}"
    line("liqheat / classic", f"{ratio:.1f}× ({basis}); {target}")
    return params, grid.n_bins, classic_rate


# ------------------------------------------------------------------------------------------ process


def run_child(cmd: list[str], log: Path) -> tuple[float, int]:
    """Run ``cmd`` to completion; (wall seconds, max RSS bytes of that child). Raises on failure."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{log.read_text(errors='replace')}")
    return wall, maxrss_bytes(usage.ru_maxrss)


def best_child(cmd: list[str], log: Path, repeat: int = 3) -> tuple[float, int]:
    runs = [run_child(cmd, log) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def count_rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def liqheat_command() -> list[str]:
    exe = Path(sys.executable).parent / "liqheat"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from liqheat.cli.main import main; sys.argv[0] = 'liqheat'; main()"]


def bench_process(bundle: Bundle, params: ModelParams, n_bins: int, classic_rate: float) -> None:
    rows = len(bundle.candles)
    with tempfile.TemporaryDirectory(prefix="liqheat-bench-") as tmp:
        folder = Path(tmp) / "year"
        start = time.perf_counter()
        write_bundle(bundle, folder, fmt="csv")
        wrote = time.perf_counter() - start
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"`liqheat replay` process on a {rows:,}-candle CSV bundle ({mib(size)}; write_bundle took {wrote:.2f} s):")
        out = Path(tmp) / "pred.csv"

        def replay_cmd(bundle_dir: Path, pred: Path) -> list[str]:
            return [*liqheat_command(), "replay", str(bundle_dir), "--out", str(pred), "--set", f"bin_width={params.bin_width!r}"]

        cmd = replay_cmd(folder, out)
        log = Path(tmp) / "child.log"
        line("command", f"liqheat replay BUNDLE --out PRED.csv --set bin_width={params.bin_width!r} (≥ 2,000 bins)")
        first, first_rss = run_child(cmd, log)
        written = count_rows(out)
        best, rss = best_child(cmd, log)
        startup, _ = best_child([*liqheat_command(), "--help"], log)
        small = Path(tmp) / "small"
        write_bundle(head(bundle, 1_000), small, fmt="csv")
        fixed, _ = best_child(replay_cmd(small, Path(tmp) / "small.csv"), log)
        line("first run", f"{first:8.2f} s (warms numba's on-disk cache; max RSS {mib(first_rss)})")
        line("best of 3", f"{best:8.2f} s = {rows / best:,.0f} candles/s; max RSS {mib(rss)}; {written:,} rows written")
        line("  of which start-up", f"{startup:8.2f} s (best of 3 `liqheat --help`: imports, no work)")
        line("  fixed cost", f"{fixed:8.2f} s (best of 3 of the same command on a 1,000-candle bundle: imports, JIT cache load)")
        budget = f"{best / PROCESS_TARGET_S:.2f} of the budget, {verdict(best, PROCESS_TARGET_S, at_most=True)}"
        line(f"target ≤ {PROCESS_TARGET_S:.1f} s", f"{best:.2f} s: {budget}")

        classic_folder, classic_rows = folder, rows
        if rows / classic_rate > CLASSIC_BUDGET_S:
            classic_rows = min(rows, CLASSIC_PREFIX)
            classic_folder = Path(tmp) / "prefix"
            write_bundle(head(bundle, classic_rows), classic_folder, fmt="csv")
        classic_out = Path(tmp) / "classic.csv"
        classic_cmd = [sys.executable, str(CLASSIC_SCRIPT), str(classic_folder), str(classic_out), "--bins", str(n_bins)]
        single, classic_rss = run_child(classic_cmd, log)
        classic_s = single
        if single < 20:
            again, classic_rss2 = best_child(classic_cmd, log, repeat=2)
            classic_s, classic_rss = min(single, again), max(classic_rss, classic_rss2)
        runs = "best of 3" if single < 20 else "one run"
        what = "same bundle" if classic_rows == rows else f"PREFIX bundle of {classic_rows:,} candles"
        print(f"plain pandas + numpy classic script (python bench/classic.py BUNDLE OUT.csv --bins {n_bins}), {what}:")
        rate = f"{classic_rows / classic_s:,.0f} candles/s"
        line(runs, f"{classic_s:8.2f} s = {rate}; max RSS {mib(classic_rss)}; {count_rows(classic_out):,} rows written")
        ratio = (rows / best) / (classic_rows / classic_s)
        basis = "wall time, same bundle" if classic_rows == rows else "throughput, classic on a prefix bundle"
        target = f"target ≥ {PROCESS_TARGET_RATIO:.0f}×: {verdict(ratio, PROCESS_TARGET_RATIO, at_most=False)}"
        line("liqheat / classic", f"{ratio:.1f}× ({basis}); {target}")
        breakdown(folder, params, Path(tmp) / "inproc.csv")


def breakdown(folder: Path, params: ModelParams, out: Path) -> None:
    """Where a replay's time goes, the same steps as `liqheat replay` in this process (best of 3 each)."""
    columns = read_columns(folder)
    view = MarketView.from_columns(columns)
    long_usd, short_usd = predicted_sides(view, params)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("read_columns (CSV, validated)", lambda: read_columns(folder)),
        ("MarketView.from_columns", lambda: MarketView.from_columns(columns)),
        ("liquidation_offsets", lambda: liquidation_offsets(params, view.symbol)),
        ("Engine.for_view (offsets, grid, state)", lambda: Engine.for_view(view, params)),
        ("predicted_sides (for_view + run)", lambda: predicted_sides(view, params)),
        ("write_predictions", lambda: write_predictions(view.ts, long_usd, short_usd, out)),
        ("read_bundle (DataFrames, gaps: other commands)", lambda: read_bundle(folder)),
    ]
    print("  in-process breakdown of the same replay (best of 3 each):")
    for label, fn in steps:
        print(f"    {label:<38} {best_of(fn) * 1000:8.1f} ms")


# ------------------------------------------------------------------------------------------- shared


def bench_shared() -> None:
    if not SHARED.is_dir():
        print(f"shared bundles: skipped, {SHARED} is absent")
        return
    params = ModelParams()
    print("shared bundles: kernel replay (Engine.for_view + run, best of 3, default parameters) and Spearman scores")
    print("  liqheat = default ModelParams; classic = bench/classic.py on as many bins as liqheat's grid;")
    print("  yardstick = the better of the naive and excursion models (../shared/data/README.md)")
    for folder in sorted(p for p in SHARED.iterdir() if p.is_dir()):
        bundle = read_bundle(folder)
        view = MarketView.from_bundle(bundle)
        n = len(view)
        n_bins = Engine.for_view(view, params).grid.n_bins
        wall = best_of(lambda v=view: Engine.for_view(v, params).run(v))
        start = time.perf_counter()
        long_usd, short_usd = run_classic(view, n_bins)
        classic_s = time.perf_counter() - start
        print(f"  {folder.name}: {n:,} candles ({bundle.meta.timeframe}), {n_bins:,} bins")
        line("  liqheat", f"{wall * 1000:8.1f} ms = {n / wall:,.0f} candles/s")
        line("  classic", f"{classic_s * 1000:8.1f} ms = {n / classic_s:,.0f} candles/s")
        if bundle.liquidations is None or bundle.meta.score_from is None:
            print("    no realized liquidations: not scored")
            continue
        ours = score(bundle, predict(bundle, params, view))
        classic = pd.DataFrame({"ts": bundle.candles["ts"], "long_usd": long_usd, "short_usd": short_usd})
        theirs = score(bundle, classic)
        for side in ("long", "short"):
            ls, cs = ours.side(side), theirs.side(side)
            figures = f"liqheat {ls.model:.3f} · classic {cs.model:.3f} · yardstick {ls.yardstick:.3f}"
            line(f"  Spearman {side}", f"{figures} ({ls.buckets} buckets of {ours.interval})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=525_600, help="synthetic one-minute candles (default 525,600: a year)")
    parser.add_argument("--skip-process", action="store_true", help="skip the `liqheat replay` subprocess part")
    args = parser.parse_args()
    if args.rows < 1_000:
        parser.error("--rows must be at least 1,000")
    print(f"machine: {machine()}")
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"versions: numpy {np.__version__} · numba {numba.__version__} · pandas {pd.__version__}; load average {load}")
    bundle = synthetic(args.rows)
    params, n_bins, classic_rate = bench_kernel(bundle)
    if args.skip_process:
        print("`liqheat replay` process: skipped (--skip-process)")
    else:
        bench_process(bundle, params, n_bins, classic_rate)
    bench_shared()


if __name__ == "__main__":
    main()
