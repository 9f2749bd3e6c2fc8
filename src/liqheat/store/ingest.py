"""Ingest native files into the store: every row of every file is merged into the month it belongs to,
on the kind's key. Files go in any order (an older recording after a newer one adds its rows), and a run
killed at any point and started again ends with the same store: what it repeats, the merge absorbs.

File imports keep no cursor. A cursor says "everything before here is stored", which is true of a
backfill walking forward through time (``collect``) and false of files that arrive in any order."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from liqheat.model import DomainError
from liqheat.store.parquet_store import Series, Store
from liqheat.venues.binance import archive
from liqheat.venues.binance.archive import inflated_size, read_book_depth, read_klines, read_metrics
from liqheat.venues.binance.forceorder import read_force_orders

Progress = Callable[[int, int], None]


def _ingest(store: Store, series: Series, frame: pd.DataFrame, chunk: int) -> int:
    """Merge all of ``frame`` into the series in time order, ``chunk`` rows per write; returns the new rows."""
    todo = frame.sort_values("ts", kind="stable")
    return sum(store.write(series, todo.iloc[start : start + chunk]) for start in range(0, len(todo), chunk))


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
            added += _ingest(store, Series("liquidations", "binance", str(symbol)), frame, chunk)
            if progress:
                progress(done, len(groups))
    return added


_KLINES = re.compile(r"^(?P<symbol>[A-Z0-9_]+)-(?P<tf>\d+[mhdw])-\d{4}-\d{2}(-\d{2})?\.(zip|csv)$")


def ingest_archive(
    store: Store, paths: Sequence[Path], symbol: str, *, venue: str = "binance", progress: Progress | None = None
) -> int:
    """Binance archive files (klines, metrics, bookDepth) for one market (unified ``symbol``).

    Every file is read and checked before anything is stored, so a bad file stores nothing. Refused
    whole when the files declare more than :data:`archive.IMPORT_CAP` bytes inflated (a zip cannot
    inflate past what it declares: zipfile stops there and checks the CRC)."""
    unknown = [p for p in paths if not (_KLINES.match(p.name) or "-metrics-" in p.name or "-bookDepth-" in p.name)]
    if unknown:
        raise DomainError(f"{unknown[0]}: not a Binance archive kline, metrics or bookDepth file name")
    declared = sum(inflated_size(path) for path in paths)
    if declared > archive.IMPORT_CAP:
        raise DomainError(
            f"these {len(paths)} file(s) inflate to {declared:,} bytes, past the {archive.IMPORT_CAP:,} one import takes; "
            "import them in smaller groups"
        )
    steps = 2 * len(paths)
    parts: list[tuple[Series, pd.DataFrame]] = []
    for done, path in enumerate(paths, start=1):
        parts.extend(_archive_series(path, symbol, venue))
        if progress:
            progress(done, steps)
    added = 0
    with store.writer():
        for done, (series, frame) in enumerate(parts, start=1):
            added += _ingest(store, series, frame, 10_000)
            if progress:
                progress(len(paths) + round(done * len(paths) / len(parts)), steps)
    return added


def _archive_series(path: Path, symbol: str, venue: str) -> list[tuple[Series, pd.DataFrame]]:
    """What one archive file holds, as the series it goes into."""
    if match := _KLINES.match(path.name):
        frame = read_klines(path)
        timeframe = match.group("tf") + ("-mark" if frame.attrs["price_kind"] == "mark_or_index" else "")
        return [(Series("candles", venue, symbol, timeframe), frame)]
    if "-metrics-" in path.name:
        frame = read_metrics(path)
        return [
            (Series("metrics", venue, symbol), frame.drop(columns=["symbol"])),
            (Series("open_interest", venue, symbol), frame[["ts", "oi_usd"]]),
        ]
    return [(Series("book_depth", venue, symbol), read_book_depth(path))]
