"""Ingest native files into the store, resumably: killed at any point and run again, it ends with no gap
and no duplicate. Rows at or after each stream's cursor are written, month by month, and only then
does the cursor move; whatever a crash repeats, the store's merge absorbs."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from liqheat.model import DomainError
from liqheat.store.parquet_store import Series, Store
from liqheat.venues.binance.archive import read_book_depth, read_klines, read_metrics
from liqheat.venues.binance.forceorder import read_force_orders

Progress = Callable[[int, int], None]


def _ingest(store: Store, series: Series, stream: str, frame: pd.DataFrame, chunk: int) -> int:
    """Write ``frame`` from the stream's cursor on, in time order, advancing the cursor per chunk."""
    cursor = store.cursor(series.venue, series.symbol, stream)
    todo = frame if cursor is None else frame[frame["ts"] >= cursor]
    todo = todo.sort_values("ts", kind="stable")
    added = 0
    for start in range(0, len(todo), chunk):
        part = todo.iloc[start : start + chunk]
        added += store.write(series, part)
        store.advance(series.venue, series.symbol, stream, part["ts"].iloc[-1])
    return added


def ingest_force_orders(store: Store, paths: Sequence[Path], *, chunk: int = 500, progress: Progress | None = None) -> int:
    """Recorded Binance forceOrder streams → ``liquidations`` per symbol (a lower bound: see the importer)."""
    frames = [read_force_orders(p) for p in paths]
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if rows.empty:
        return 0
    added = 0
    groups = list(rows.groupby("symbol", sort=True))
    with store.writer():
        for done, (symbol, part) in enumerate(groups, start=1):
            frame = part[["ts", "side", "usd", "price", "quantity", "average_price", "filled", "native"]].reset_index(drop=True)
            added += _ingest(store, Series("liquidations", "binance", str(symbol)), "force_orders", frame, chunk)
            if progress:
                progress(done, len(groups))
    return added


_KLINES = re.compile(r"^(?P<symbol>[A-Z0-9_]+)-(?P<tf>\d+[mhdw])-\d{4}-\d{2}(-\d{2})?\.(zip|csv)$")


def ingest_archive(
    store: Store, paths: Sequence[Path], symbol: str, *, venue: str = "binance", progress: Progress | None = None
) -> int:
    """Binance archive files (klines, metrics, bookDepth) for one market (unified ``symbol``)."""
    added = 0
    with store.writer():
        for done, path in enumerate(paths, start=1):
            name = path.name
            if match := _KLINES.match(name):
                frame = read_klines(path)
                kind = frame.attrs["price_kind"]
                timeframe = match.group("tf") + ("-mark" if kind == "mark_or_index" else "")
                added += _ingest(store, Series("candles", venue, symbol, timeframe), f"klines-{timeframe}", frame, 10_000)
            elif "-metrics-" in name:
                frame = read_metrics(path)
                added += _ingest(store, Series("metrics", venue, symbol), "metrics", frame.drop(columns=["symbol"]), 10_000)
                oi = frame[["ts", "oi_usd"]]
                added += _ingest(store, Series("open_interest", venue, symbol), "open_interest", oi, 10_000)
            elif "-bookDepth-" in name:
                added += _ingest(store, Series("book_depth", venue, symbol), "book_depth", read_book_depth(path), 10_000)
            else:
                raise DomainError(f"{path}: not a Binance archive kline, metrics or bookDepth file name")
            if progress:
                progress(done, len(paths))
    return added
