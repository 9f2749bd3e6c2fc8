"""``liqheat import`` and ``liqheat export``: native files into the store, the store out as a bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from liqheat.cli.app import app, console, fail
from liqheat.model import DomainError

StoreOption = Annotated[Path | None, typer.Option("--store", help="Store folder (default: $LIQHEAT_HOME or ~/.liqheat).")]
FORMATS = ("binance-forceorder", "binance-archive")


@app.command(name="import")
def import_files(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")],
    paths: Annotated[list[Path], typer.Argument(help="Files to import (zip or CSV).")],
    symbol: Annotated[str | None, typer.Option(help="The market of archive files, e.g. BTCUSDT or BTC/USD:BTC.")] = None,
    store_dir: StoreOption = None,
) -> None:
    """Import native files into the store (idempotent and resumable: run it again after any failure)."""
    from liqheat.store.ingest import ingest_archive, ingest_force_orders
    from liqheat.store.parquet_store import Store
    from liqheat.symbols import resolve

    if fmt not in FORMATS:
        fail(f"FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    store = Store(store_dir)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"importing {len(paths)} file(s)", total=1.0)

            def tell(done: int, total: int) -> None:
                progress.update(task, completed=done / total)

            if fmt == "binance-forceorder":
                added = ingest_force_orders(store, paths, progress=tell)
                note = " (a lower bound: Binance streams at most one liquidation per symbol per second)"
            else:
                if symbol is None:
                    fail("binance-archive needs --symbol (e.g. BTCUSDT, or BTCUSD_PERP for COIN-M)")
                added = ingest_archive(store, paths, resolve(symbol, "binance").unified, progress=tell)
                note = ""
    except DomainError as exc:
        fail(str(exc))
    console.print(f"imported {added:,} new row(s) into {store.root}{note}")


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Bundle folder to write.")],
    venue: Annotated[str, typer.Option(help="Venue, e.g. binance.")],
    symbol: Annotated[str, typer.Option(help="Market, e.g. BTCUSDT or BTC/USDT:USDT.")],
    timeframe: Annotated[str, typer.Option(help="Candle timeframe in the store, e.g. 1m.")],
    since: Annotated[str | None, typer.Option(help="First time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="End time, exclusive (ISO 8601).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "parquet",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing bundle at --out.")] = False,
    store_dir: StoreOption = None,
) -> None:
    """Write a market bundle from the store (candles, open interest, funding and liquidations it holds)."""
    from liqheat.store.export import export_bundle
    from liqheat.store.parquet_store import Store
    from liqheat.symbols import resolve

    if fmt not in ("csv", "parquet"):
        fail(f"--format must be csv or parquet, got {fmt!r}")
    try:
        market = resolve(symbol, venue)
        written = export_bundle(
            Store(store_dir), out, venue=venue, market=market, timeframe=timeframe, since=since, until=until,
            fmt="csv" if fmt == "csv" else "parquet", overwrite=overwrite,
        )  # fmt: skip
    except DomainError as exc:
        fail(str(exc))
    console.print(f"wrote the bundle {written}")
