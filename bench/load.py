"""Load on a real ``liqheat serve`` (a subprocess on a loopback port) over a year of 1-minute candles
(bench/foundation.py's synthetic market, written to a temporary bundle).

Prints the machine, then per phase: requests, status codes, dropped connections (no response at all),
requests per second, p50/p95/max latency, and the server's RSS (now and peak, from /proc):
- the 1-year heatmap (q16, 2,000 columns × 1,000 bins, what the page asks) at ``--clients`` (200) and at 50;
- ``--windows`` (1,000) distinct 180-day windows, ``--distinct-clients`` at a time;
- the 1-year heatmap as CSV: time to the first byte, to the last, and its size.
Targets on this machine: no dropped request at 200 clients; RSS under 1.5 GB after 1,000 distinct
windows; heatmap p95 ≤ 2 s at 50 clients. Asserts nothing: it prints, and says met or not.
Run: .venv/bin/python bench/load.py [--rows 525600] [--clients 200] [--windows 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import machine, synthetic

from liqheat.bundle import write_bundle

YEAR = {"window": "1y", "bins": "1000", "columns": "2000", "format": "q16"}


def rss_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak, MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Outcome = tuple[list[float], Counter[str], float, float, float]


def hammer(base: str, pid: int, clients: int, queries: list[dict[str, str]], timeout: float) -> Outcome:
    """:func:`load` with the CPU the server and this client spent on it: which side is the bottleneck."""
    server, client = cpu_s(pid), time.process_time()
    latencies, outcomes, elapsed = asyncio.run(load(base, clients, queries, timeout))
    return latencies, outcomes, elapsed, cpu_s(pid) - server, time.process_time() - client


async def load(base: str, clients: int, queries: list[dict[str, str]], timeout: float) -> tuple[list[float], Counter[str], float]:
    """``queries`` shared out among ``clients`` concurrent connections; latencies of the answered, and outcomes."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    todo = list(reversed(queries))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        while todo:
            query = todo.pop()
            start = time.perf_counter()
            try:
                response = await http.get("/api/markets/year/heatmap", params=query)
                await response.aread()
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError) as exc:
                outcomes[f"dropped ({type(exc).__name__})"] += 1
                continue
            except httpx.TimeoutException as exc:
                outcomes[f"timed out ({type(exc).__name__})"] += 1
                continue
            latencies.append(time.perf_counter() - start)
            outcomes[str(response.status_code)] += 1

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies, outcomes, time.perf_counter() - start


def report(
    label: str, pid: int, latencies: list[float], outcomes: Counter[str], elapsed: float, server_cpu: float, client_cpu: float
) -> tuple[float, int]:
    ok = outcomes.get("200", 0)
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 2 else float("nan")
    dropped = sum(n for k, n in outcomes.items() if k.startswith(("dropped", "timed out")))
    now, peak = rss_mb(pid)
    print(f"  {label}")
    print(f"    {sum(outcomes.values()):,} requests in {elapsed:.1f} s: {dict(sorted(outcomes.items()))}; dropped {dropped}")
    if latencies:
        print(f"    {ok / elapsed:.1f} answered req/s · latency p50 {statistics.median(latencies):.2f} s  p95 {p95:.2f} s"
              f"  max {max(latencies):.2f} s")  # fmt: skip
    print(f"    server RSS {now:,.0f} MB (peak {peak:,.0f} MB) · CPU: server {server_cpu:.1f} s, this client {client_cpu:.1f} s "
          f"({(server_cpu + client_cpu) / elapsed:.0%} of one core over {os.cpu_count()} cores)")  # fmt: skip
    return p95, dropped


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=525_600, help="1-minute candles (a year)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3, help="1-year heatmaps per client")
    parser.add_argument("--windows", type=int, default=1000, help="distinct 180-day windows")
    parser.add_argument("--distinct-clients", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a client waits for an answer")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = synthetic(args.rows)
        folder = write_bundle(bundle, Path(tmp) / "year", fmt="parquet")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "liqheat", "serve", "--bundle", str(folder), "--no-demo", "--port", str(port)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            run(args, base, server.pid, bundle.candles["ts"])
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(args: argparse.Namespace, base: str, pid: int, ts: pd.Series) -> None:
    start = time.perf_counter()
    while True:
        try:
            httpx.get(f"{base}/api/markets/year/heatmap", params=YEAR, timeout=300).raise_for_status()
            break
        except httpx.TransportError:
            time.sleep(0.2)
    print(f"market: {len(ts):,} candles of 1m · server up, timeline built and first 1-year heatmap in "
          f"{time.perf_counter() - start:.1f} s · RSS {rss_mb(pid)[0]:,.0f} MB")  # fmt: skip

    print(f"1-year heatmap ({', '.join(f'{k}={v}' for k, v in YEAR.items())}):")
    many = hammer(base, pid, args.clients, [YEAR] * (args.clients * args.requests), args.timeout)
    _, dropped = report(f"{args.clients} clients × {args.requests}", pid, *many)
    p95_50, _ = report("50 clients × 4", pid, *hammer(base, pid, 50, [YEAR] * 200, args.timeout))

    step = max(1, (len(ts) - 180 * 1440) // args.windows)
    ends = [ts.iloc[180 * 1440 + k * step].strftime("%Y-%m-%dT%H:%M:%SZ") for k in range(args.windows)]
    windows = [{**YEAR, "window": "180d", "end": end} for end in ends]
    print(f"{len(set(ends)):,} distinct 180-day windows (2,000 × 1,000, q16), {args.distinct_clients} clients:")
    report("distinct windows", pid, *hammer(base, pid, args.distinct_clients, windows, args.timeout))
    rss_after, _ = rss_mb(pid)

    start = time.perf_counter()
    first = None
    size = 0
    with httpx.stream("GET", f"{base}/api/markets/year/heatmap", params={**YEAR, "format": "csv"}, timeout=300) as response:
        for chunk in response.iter_bytes():
            first = first or time.perf_counter() - start
            size += len(chunk)
    print(f"1-year heatmap as CSV: {size / 1e6:.1f} MB, first byte {first or 0:.2f} s, last {time.perf_counter() - start:.2f} s")

    print("targets:")
    print(f"  no dropped request at {args.clients} clients: {dropped} dropped — {'met' if dropped == 0 else 'NOT met'}")
    print(f"  RSS under 1.5 GB after {args.windows:,} distinct windows: {rss_after:,.0f} MB — "
          f"{'met' if rss_after < 1536 else 'NOT met'}")  # fmt: skip
    print(f"  heatmap p95 ≤ 2 s at 50 clients: {p95_50:.2f} s — {'met' if p95_50 <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
