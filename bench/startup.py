"""Whole-process start-up: `liqheat --help` and `liqheat replay` on the shared btc-agg bundle (2,078 candles).

Run: .venv/bin/python bench/startup.py [--repeat 7]
Prints the median and best wall time, CPU time and peak RSS of each command as a fresh process, which
kernel the engine used, the largest imports of each, and the machine; asserts nothing about time.

Targets (issue #11): `liqheat replay` on btc-agg ≤ 0.6 s and `liqheat --help` ≤ 0.2 s on this machine. The
best open peer engine (TypeScript) replays the same bundle in 0.28 s, start-up included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT.parent / "shared" / "data" / "bundles" / "btc-agg-1h-dec-feb"
LIQHEAT = Path(sys.executable).parent / "liqheat"


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in bytes of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode(errors='replace') if proc.stderr else ''}")
    rss = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return wall, usage.ru_utime + usage.ru_stime, rss


def top_imports(cmd: list[str], n: int = 6) -> list[tuple[str, float]]:
    """The top-level packages that cost most to import in ``cmd`` (``python -X importtime``), in seconds."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import sys; sys.argv = {cmd!r}; from liqheat.cli.main import main; main()"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    costs: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|"))
        if name.startswith(" ") or not cumulative.isdigit():
            continue
        costs[name.split(".")[0]] = max(costs.get(name.split(".")[0], 0.0), int(cumulative) / 1e6)
    return sorted(costs.items(), key=lambda kv: -kv[1])[:n]


def report(label: str, cmd: list[str], repeat: int, target: float) -> None:
    run(cmd)  # warm the page cache and numba's/pyc caches
    runs = [run(cmd) for _ in range(repeat)]
    walls = [r[0] for r in runs]
    median, best = statistics.median(walls), min(walls)
    cpu = statistics.median(r[1] for r in runs)
    rss = max(r[2] for r in runs)
    verdict = "meets" if median <= target else "MISSES"
    print(f"{label:<34} median {median:6.3f} s · best {best:6.3f} s · cpu {cpu:6.3f} s · peak RSS {rss / 2**20:6.1f} MiB"
          f" · target ≤ {target:.2f} s: {verdict}")  # fmt: skip
    imports = ", ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in top_imports(["liqheat", *cmd[1:]]))
    print(f"{'':<34} largest imports: {imports}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # This process stays small: a child forked from it starts with its RSS, which would inflate the peak.
    probe = "from foundation import machine; from liqheat.engine.compiled import MODE; print(machine()); print(MODE)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT / "bench")
    described, mode = found.stdout.strip().splitlines()
    print(f"machine: {described}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"engine kernel: {mode} ({'compiled ahead of time' if mode == 'aot' else 'numba JIT: run bash scripts/setup.sh'})")
    report("liqheat --help", [str(LIQHEAT), "--help"], args.repeat, 0.2)
    if not (BUNDLE / "meta.json").is_file():
        print(f"{BUNDLE} is absent: the replay figure needs ../shared/data")
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pred.csv"
        report(f"liqheat replay {BUNDLE.name}", [str(LIQHEAT), "replay", str(BUNDLE), "--out", str(out)], args.repeat, 0.6)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
