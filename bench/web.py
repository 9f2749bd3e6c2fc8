"""Benchmark the web app in headless Chromium (Debian's /usr/bin/chromium) on a year of 1-minute candles.

Prints: the heatmap endpoint time for 1 year resampled to 2,000 columns × 1,000 bins (first call and
again), the first paint of that heatmap with its candles after the data arrived, and the redraw time
on zoom. Run: .venv/bin/python bench/web.py [--rows 525600]. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foundation import machine, synthetic

from liqheat.api.app import create_app
from liqheat.api.markets import Registry


def main() -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=525_600)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    registry = Registry()
    registry.add(synthetic(args.rows), market_id="year")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(registry), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    query = {"window": "1y", "columns": 2000, "bins": 1000, "format": "q16"}
    print(f"heatmap endpoint, {args.rows:,} one-minute candles, 1y window → 2,000 columns × 1,000 bins (q16, the page's format):")
    start = time.perf_counter()
    for thread in registry.warm():  # what liqheat serve does at start-up
        thread.join()
    print(f"  start-up warm-up (the market's timeline: one replay, checkpoints, snapshots) {time.perf_counter() - start:8.2f} s")
    for label in ("first call", "again"):
        start = time.perf_counter()
        response = httpx.get(f"{base}/api/markets/year/heatmap", params=query, timeout=120)
        response.raise_for_status()
        elapsed = time.perf_counter() - start
        print(f"  {label:<12} {elapsed * 1000:8.1f} ms  ({len(response.content) / 1e6:.1f} MB)   target ≤ 200 ms")
    short = {**query, "window": "7d"}
    start = time.perf_counter()
    httpx.get(f"{base}/api/markets/year/heatmap", params=short, timeout=120).raise_for_status()
    print(f"  7d window at the end (replayed from a checkpoint) {(time.perf_counter() - start) * 1000:8.1f} ms")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(f"{base}/?market=year&window=1y&bins=1000&columns=2000")
        page.wait_for_function("document.body.dataset.state === 'ready' && page.firstPaintMs !== null", timeout=300_000)
        first = page.evaluate("page.firstPaintMs")
        shape = page.evaluate("[page.heatmap.columns, page.heatmap.rows]")
        print(f"page, heatmap {shape[0]} × {shape[1]} cells with {len(page.evaluate('page.bars')):,} candles:")
        print(f"  first paint after the data arrived {first:8.1f} ms   target ≤ 300 ms")
        redraws = []
        for k in range(10):
            page.evaluate("page.drawMs = []")
            span = 2000 - 150 * k
            page.evaluate(
                f"chart.timeScale().setVisibleLogicalRange({{ from: page.bars.length - {span * 200}, to: page.bars.length }})"
            )
            page.wait_for_function("page.drawMs.length > 0")
            redraws.append(max(page.evaluate("page.drawMs")))
        redraws.sort()
        median, worst = redraws[len(redraws) // 2], redraws[-1]
        print(f"  redraw on zoom (heatmap primitive), median {median:.1f} ms, worst {worst:.1f} ms   target ≤ 50 ms")
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
