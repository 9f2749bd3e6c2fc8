"""``liqheat import`` and ``liqheat export``: native files into the store, the store out as a bundle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from liqheat.cli.common import app, console, fail, store_root
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
    from rich.progress import Progress

    from liqheat.store.ingest import ingest_archive, ingest_force_orders
    from liqheat.store.parquet_store import Store
    from liqheat.venues.symbols import resolve

    if fmt not in FORMATS:
        fail(f"FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    missing = [str(p) for p in paths if not os.path.lexists(p)]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    odd = [str(p) for p in paths if not p.is_file()]
    if odd:
        fail(f"not a regular file (a folder, pipe, device, or a link that loops or points nowhere): {', '.join(odd)}")
    try:
        store = Store(store_root(store_dir, writing=True))
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
        fail(exc)
    console.print(f"imported {added:,} new row(s) into {store.root}{note}")


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Bundle folder to write.")],
    venue: Annotated[list[str], typer.Option("--venue", help="Venue, or venue:SYMBOL (repeat to aggregate venues).")],
    timeframe: Annotated[str, typer.Option(help="Candle timeframe in the store, e.g. 1m.")],
    symbol: Annotated[str | None, typer.Option(help="Market, e.g. BTCUSDT or BTC/USDT:USDT (resolved per venue).")] = None,
    since: Annotated[str | None, typer.Option(help="First time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="End time, exclusive (ISO 8601).")] = None,
    rate: Annotated[list[str] | None, typer.Option("--rate", help="USD rate of a quote currency, e.g. USDT=0.9995.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "parquet",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing bundle at --out.")] = False,
    store_dir: StoreOption = None,
) -> None:
    """Write a market bundle from the store. One venue is written as stored; several are aggregated
    (one USD grid, summed open interest and liquidations, lagging venues flagged in meta.json)."""
    from liqheat.bundle import write_bundle
    from liqheat.fsutil import check_writable
    from liqheat.store.aggregate import aggregate, parse_feeds
    from liqheat.store.export import export_bundle
    from liqheat.store.parquet_store import Store
    from liqheat.timeutil import parse_time

    if fmt not in ("csv", "parquet"):
        fail(f"--format must be csv or parquet, got {fmt!r}")
    kind: Literal["csv", "parquet"] = "csv" if fmt == "csv" else "parquet"
    try:
        check_writable(out, folder=True, param="out")
        feeds = parse_feeds(venue, symbol)
        store = Store(store_root(store_dir))
        if len(feeds) == 1:
            written = export_bundle(
                store, out, venue=feeds[0].venue, market=feeds[0].market, timeframe=timeframe, since=since, until=until,
                fmt=kind, overwrite=overwrite,
            )  # fmt: skip
        else:
            rates = parse_rates(rate or [])
            agg = aggregate(store, feeds, timeframe, parse_time(since, "--since"), parse_time(until, "--until"), rates=rates)
            written = write_bundle(agg.bundle, out, fmt=kind, overwrite=overwrite)
            for s in agg.status:
                console.print(
                    f"  {s.venue} {s.symbol}: {s.state}" + (f", open-interest share {s.oi_share:.0%}" if s.oi_share else "")
                )
    except DomainError as exc:
        fail(exc)
    console.print(f"wrote the bundle {written}")


def parse_rates(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        code, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            raise DomainError(f"--rate {item!r}: expected CODE=NUMBER, e.g. USDT=0.9995") from None
        if not code.strip() or not (number > 0) or number == float("inf"):
            raise DomainError(f"--rate {item!r}: expected CODE=NUMBER with a positive number")
        out[code.strip().upper()] = number
    return out


VenueOption = Annotated[list[str], typer.Option("--venue", help="Venue (repeatable): binance, bybit, okx, hyperliquid.")]


def _sources(venues: list[str], symbol: str) -> list[object]:
    from liqheat.sources.registry import open_source
    from liqheat.venues.registry import spec
    from liqheat.venues.symbols import resolve

    out: list[object] = []
    for v in venues:
        try:
            spec(v)
        except DomainError as exc:
            raise DomainError(f"--venue: {exc}") from None
        try:
            market = resolve(symbol, v)
        except DomainError as exc:
            raise DomainError(f"--symbol: {exc}") from None
        out.append(open_source(v, market))
    return out


@app.command()
def fetch(
    venue: VenueOption,
    symbol: Annotated[str, typer.Option(help="Market, e.g. BTC/USDT:USDT, BTCUSDT, BTCUSD_PERP, BTC-USDT-SWAP.")],
    since: Annotated[str, typer.Option(help="First time (ISO 8601, UTC).")],
    until: Annotated[str | None, typer.Option(help="End time, exclusive (default: now).")] = None,
    timeframe: Annotated[str, typer.Option(help="Candle timeframe, e.g. 1m, 1h.")] = "1m",
    streams: Annotated[
        str, typer.Option("--streams", help="Comma list of candles, open_interest, funding.")
    ] = "candles,open_interest,funding",
    store_dir: StoreOption = None,
) -> None:
    """Backfill a venue's history into the store over REST (resumable: run it again after any failure)."""
    import pandas as pd
    from rich.progress import Progress

    from liqheat.sources.errors import VenueError
    from liqheat.store.collect import STREAMS, fetch_history
    from liqheat.store.parquet_store import Store
    from liqheat.timeutil import parse_time

    wanted = tuple(s.strip() for s in streams.split(",") if s.strip())
    if not wanted or set(wanted) - set(STREAMS):
        fail(f"--streams must be a comma list of {', '.join(STREAMS)}; got {streams!r}")
    source: object = None
    try:
        start = parse_time(since, "--since")
        stop = parse_time(until, "--until") if until else pd.Timestamp.now(tz="UTC").floor("1min")
        assert start is not None
        assert stop is not None
        sources = _sources(venue, symbol)
        store = Store(store_root(store_dir, writing=True))
        for source in sources:
            with Progress(console=console, transient=True) as progress:
                tasks: dict[str, object] = {}

                def tell(label: str, fraction: float, progress: Progress = progress, tasks: dict[str, object] = tasks) -> None:
                    if label not in tasks:
                        tasks[label] = progress.add_task(label, total=1.0)
                    progress.update(tasks[label], completed=fraction)  # type: ignore[arg-type]

                report = fetch_history(store, source, timeframe, start, stop, streams=wanted, progress=tell)  # type: ignore[arg-type]
            added = ", ".join(f"{n:,} {k}" for k, n in report.added.items()) or "nothing"
            console.print(f"{report.venue} {report.symbol}: added {added} to {store.root}")
            for stream, why in report.skipped.items():
                console.print(f"  [yellow]{stream} skipped:[/] {why}")
            for a, b in report.gaps[:10]:
                console.print(f"  [yellow]candle gap:[/] {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}")
            if len(report.gaps) > 10:
                console.print(f"  [yellow]... {len(report.gaps) - 10} more candle gaps[/]")
            for line in report.log:
                console.print(f"  [dim]{line}[/]")
    except DomainError as exc:
        fail(exc)
    except VenueError as exc:  # what retrying did not fix; anything else is a bug and keeps its traceback
        for line in getattr(source, "log", []):  # the retries that came before
            console.print(f"  [dim]{line}[/]")
        fail(f"{exc}; what came before is stored: run the same command again to resume")


@app.command()
def follow(
    venue: VenueOption,
    symbol: Annotated[str, typer.Option(help="Market, e.g. BTC/USDT:USDT (resolved per venue).")],
    timeframe: Annotated[str, typer.Option(help="Candle timeframe, e.g. 1m.")] = "1m",
    poll: Annotated[float, typer.Option(help="Seconds between open-interest and funding polls.")] = 60.0,
    store_dir: StoreOption = None,
) -> None:
    """Follow markets live into the store: candles and liquidations over websockets, open interest and
    funding by polling; reconnects with backoff and backfills what a drop missed. Ctrl-C stops."""
    import asyncio

    from liqheat.sources.errors import VenueError
    from liqheat.store.collect import Follower
    from liqheat.store.parquet_store import Store

    if poll <= 0:
        fail(f"--poll must be > 0 seconds, got {poll}")
    try:
        sources = _sources(venue, symbol)
        store = Store(store_root(store_dir, writing=True))
        with store.writer():
            followers = [Follower(store, s, timeframe, poll_every=poll) for s in sources]  # type: ignore[arg-type]
            names = ", ".join(f.label for f in followers)
            console.print(f"following {names} into {store.root} (Ctrl-C stops)")

            async def main() -> None:
                await asyncio.gather(*(f.run() for f in followers))

            try:
                asyncio.run(main())
            except KeyboardInterrupt:
                console.print("stopped")
            for f in followers:
                for gap in f.state.missed:
                    console.print(f"[yellow]{f.label}: no liquidations seen {gap['from']} to {gap['to']}[/]")
    except (DomainError, VenueError) as exc:
        fail(exc)


tables_app = typer.Typer(
    help="Maintenance-margin (bracket) tables: list them, refresh them from the venues.", no_args_is_help=True
)
app.add_typer(tables_app, name="tables")


@tables_app.command("list")
def tables_list() -> None:
    """Every table liqheat would use, shipped or refreshed, with its date."""
    from liqheat.venues.tables import local, local_dir, shipped

    try:
        refreshed = local()
    except DomainError as exc:
        fail(exc)
    for key, vt in sorted({**shipped(), **refreshed}.items()):
        where = f"refreshed ({local_dir()})" if key in refreshed else "shipped"
        t = vt.table
        console.print(f"{t.venue:<12} {t.market.unified:<16} {len(t.brackets):>3} tiers  as of {t.as_of}  {where}")


@tables_app.command("refresh")
def tables_refresh(
    venue: Annotated[str, typer.Option(help="binance, bybit or okx (Binance needs LIQHEAT_BINANCE_KEY and _SECRET).")],
    symbol: Annotated[str, typer.Option(help="Market, e.g. BTCUSDT, BTCUSD_PERP, BTC-USDT-SWAP.")],
) -> None:
    """Read a market's maintenance tiers from the venue through ccxt and keep them in $LIQHEAT_HOME/tables."""
    import json
    import os

    from liqheat.fsutil import atomic_write
    from liqheat.margin.tables import parse_table
    from liqheat.sources.errors import VenueError
    from liqheat.sources.registry import open_source
    from liqheat.venues.registry import spec
    from liqheat.venues.symbols import resolve
    from liqheat.venues.tables import local_dir

    try:
        options = {}
        feed = spec(venue)
        if feed.tiers_need_key:
            env = f"LIQHEAT_{feed.name.upper()}"
            key, secret = os.environ.get(f"{env}_KEY"), os.environ.get(f"{env}_SECRET")
            if not key or not secret:
                fail(f"{feed.name.capitalize()} serves brackets only to an API key: set {env}_KEY and {env}_SECRET (read-only)")
            options = {"apiKey": key, "secret": secret}
        source = open_source(venue, resolve(symbol, venue), options=options)
        data = source.fetch_tiers()
        vt = parse_table(data, f"{venue} {symbol} tiers")
        path = local_dir() / f"{data['venue']}-{data['market']}-{data['symbol']}.json"
        text = json.dumps(data, indent=1)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except (DomainError, VenueError) as exc:
        fail(exc)
    console.print(f"wrote {path}: {len(vt.table.brackets)} tiers of {vt.table.market} (as of {vt.table.as_of})")
    for line in source.log:
        console.print(f"  [dim]{line}[/]")


@app.command()
def liquidations(
    window: Annotated[str, typer.Option(help="How far back from --until, e.g. 24h, 7d, 30d.")] = "7d",
    until: Annotated[str | None, typer.Option(help="End, exclusive (ISO 8601); default: after the newest liquidation.")] = None,
    bucket: Annotated[str, typer.Option(help="1h or 1d.")] = "1d",
    venue: Annotated[list[str] | None, typer.Option("--venue", help="Only this venue (repeatable).")] = None,
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Only this market, e.g. BTC/USDT:USDT (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Symbols to list.")] = 15,
    largest: Annotated[int, typer.Option(min=0, max=1000, help="Largest orders to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    store_dir: StoreOption = None,
) -> None:
    """Realized liquidations in the store: totals per hour or day by venue, side and symbol, and the largest orders."""
    from rich.table import Table

    from liqheat.cli.common import emit_json, usd
    from liqheat.store.parquet_store import Store
    from liqheat.store.realized import realized
    from liqheat.timeutil import parse_duration, parse_time
    from liqheat.venues.symbols import resolve

    try:
        span = parse_duration(window, "--window")
        end = parse_time(until, "--until")
        markets = [resolve(s, venue[0] if venue and len(venue) == 1 else None).unified for s in symbol or []]
        store = Store(store_root(store_dir))
        found = realized(store, bucket=bucket, window=span, until=end, venues=venue, symbols=markets, largest=largest)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(found.to_dict(top=top))
        return
    bound = f" (lower bound: {', '.join(found.lower_bound)})" if found.lower_bound else ""
    title = f"realized liquidations {found.since:%Y-%m-%d %H:%M} to {found.until:%Y-%m-%d %H:%M} UTC{bound}"

    def table(frame: Any, keys: list[str], heading: str) -> None:
        out = Table(title=heading, header_style="bold")
        for key in [*keys, "long", "short", "total", "orders"]:
            out.add_column(key, justify="left" if key in keys else "right")
        for rec in frame.to_dict("records"):
            cells = [f"{rec[k]:%Y-%m-%d %H:%M}" if k == "bucket" else str(rec[k]) for k in keys]
            out.add_row(*cells, usd(rec["long_usd"]), usd(rec["short_usd"]), usd(rec["total_usd"]), f"{rec['orders']:,}")
        console.print(out)

    table(found.by("bucket", "venue"), ["bucket", "venue"], title)
    table(found.by("venue", "symbol").head(top), ["venue", "symbol"], f"top {top} symbols")
    if len(found.largest):
        orders = Table(title=f"largest {len(found.largest)} orders", header_style="bold")
        for col in ("time", "venue", "symbol", "side", "usd", "price"):
            orders.add_column(col, justify="right" if col in ("usd", "price") else "left")
        for rec in found.largest.to_dict("records"):
            orders.add_row(
                f"{rec['ts']:%Y-%m-%d %H:%M:%S}",
                rec["venue"],
                rec["symbol"],
                rec["side"],
                usd(rec["usd"]),
                f"{rec['price']:,.6g}",
            )
        console.print(orders)
    for gap in found.gaps:
        seen = f"{gap['from']:%Y-%m-%d %H:%M} to {gap['to']:%Y-%m-%d %H:%M}"
        console.print(f"[yellow]{gap['venue']} {gap['symbol']}: no liquidations seen {seen} ({gap['reason']})")


store_app = typer.Typer(help="The store itself: check it and repair what an interrupted write or a hand edit left.")
app.add_typer(store_app, name="store")


@store_app.command("check")
def store_check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what is found (moves unreadable files to quarantine/).")] = False,
    store_dir: StoreOption = None,
) -> None:
    """Check every month file and cursors.json; with --repair, fix them. Exit 1 when problems remain."""
    from liqheat.store.check import check
    from liqheat.store.check import repair as repair_store
    from liqheat.store.parquet_store import Store

    store = Store(store_dir)
    if not store.root.is_dir():
        fail(f"--store {store.root} is not a folder")
    try:
        problems = repair_store(store) if repair else check(store)
    except DomainError as exc:
        fail(exc)
    for problem in problems:
        done = f" → {problem.repair}" if repair else f" (--repair: {problem.repair})"
        console.print(f"{problem.path.relative_to(store.root)}: {problem.what}{done}", highlight=False, soft_wrap=True)
    if not problems:
        console.print(f"store {store.root}: every file is readable and in order")
    elif not repair:
        raise typer.Exit(1)
