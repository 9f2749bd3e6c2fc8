"""``liqheat backfill``: every market's months replayed into the store, on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from liqheat.cli.common import app, console, errors, fail, store_root
from liqheat.cli.model_cmds import ParamsFile, SetParam, load_params
from liqheat.model import DomainError

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from liqheat.engine.params import ModelParams
    from liqheat.scale.plan import Job


def _jobs(
    symbols: str, venues: str, since: str, until: str | None, timeframe: str, params: ModelParams, frame_hours: float
) -> list[Job]:
    """One job per symbol over the venue set, from the command's options (errors name the option)."""
    import pandas as pd

    from liqheat.scale.plan import Job, months_between
    from liqheat.store.aggregate import parse_feeds
    from liqheat.timeutil import parse_duration, parse_time
    from liqheat.venues.registry import FEEDS

    parse_duration(timeframe, "timeframe")
    if not frame_hours > 0:
        raise DomainError(f"--frame-hours must be > 0, got {frame_hours}")
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    venue_list = [v.strip() for v in venues.split(",") if v.strip()]
    if not names:
        raise DomainError(f"--symbols needs at least one symbol, got {symbols!r}")
    if not venue_list:
        raise DomainError(f"--venues needs at least one venue, got {venues!r}")
    unknown = [v for v in venue_list if v.partition(":")[0].lower() not in FEEDS]
    if unknown:
        raise DomainError(f"--venues: unknown venue {', '.join(unknown)} (known: {', '.join(FEEDS)})")
    start = parse_time(since, "--since")
    stop = parse_time(until, "--until") if until else pd.Timestamp.now(tz="UTC")
    assert start is not None
    assert stop is not None
    months = months_between(start, stop)
    jobs = []
    for name in names:
        feeds = parse_feeds(venue_list, name)
        jobs.append(Job(tuple(f.venue for f in feeds), tuple(f.market for f in feeds), timeframe, months, params, frame_hours))
    if len({job.label for job in jobs}) != len(jobs):
        raise DomainError(f"--symbols names a market twice: {symbols}")
    return jobs


@app.command()
def backfill(
    symbols: Annotated[str, typer.Option(help="Comma list of markets, e.g. BTCUSDT,ETHUSDT or BTC/USDT:USDT.")],
    since: Annotated[str, typer.Option(help="The first month (ISO 8601 date, UTC): the replay starts there with an empty map.")],
    venues: Annotated[str, typer.Option(help="Comma list of venues; several are aggregated into one market (USD).")] = "binance",
    until: Annotated[
        str | None, typer.Option(help="End, exclusive: months before its month (default: now, whole months only).")
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Candle timeframe, e.g. 1m, 1h.")] = "1m",
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler's address (tcp://host:8786); default: a local cluster.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes of the local cluster (one thread each).")] = 2,
    frame_hours: Annotated[
        float, typer.Option(help="A heatmap frame every this many hours (at candle closes on its multiples).")
    ] = 24.0,
    store_dir: Annotated[
        str | None,
        typer.Option(
            "--store", help="Store folder, or an fsspec URL such as s3://bucket/liqheat (default: $LIQHEAT_HOME or ~/.liqheat)."
        ),
    ] = None,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Replay every month of every market into the store on Dask, exactly once a month; a rerun finishes the rest.

    Each (venues, symbol, month) is a partition: a worker replays it from the state the month before left and the
    one writer (this process) commits its predictions, frames and state at once (one folder rename; on a URL store,
    its meta.json last). Partitions already in the store are skipped, so after any failure or kill the same
    command resumes.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from liqheat.scale.backfill import Report
    from liqheat.scale.backfill import backfill as run
    from liqheat.scale.plan import Chain, plan
    from liqheat.scale.work import Result
    from liqheat.store.remote import is_url, open_store

    if workers < 1:
        fail(f"--workers must be ≥ 1, got {workers}")
    try:
        jobs = _jobs(symbols, venues, since, until, timeframe, load_params(params_file, set_param), frame_hours)
        store = open_store(
            store_dir if store_dir is not None and is_url(store_dir) else store_root(_path(store_dir), writing=True)
        )
        todo = sum(len(chain.months) for chain in plan(store, jobs))  # refuses what cannot run before a cluster starts
    except DomainError as exc:
        fail(exc)
    if not todo:
        console.print(f"every partition of the {len(jobs)} market(s) is in {store.where} already")
        return
    client, cluster = _client(scheduler, workers)
    report = Report()
    try:
        console.print(f"Dask: {client.dashboard_link} (dashboard), {len(client.scheduler_info()['workers'])} worker(s)")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, TextColumn("{task.fields[note]}"), console=console) as progress:
            bar = progress.add_task("backfill", total=None, note="")

            def planned(chains: list[Chain]) -> None:
                progress.update(bar, total=sum(len(c.months) for c in chains))

            def tell(result: Result, fresh: bool) -> None:
                progress.update(bar, advance=1, note=f"{result.label} {result.month}" + ("" if fresh else " (was there)"))

            report = run(store, jobs, client=client, on_plan=planned, on_done=tell)
    except DomainError as exc:
        fail(exc)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    rate = report.candles / report.seconds if report.seconds > 0 else 0.0
    console.print(
        f"{report.committed} partition(s) committed to {store.where} ({report.candles:,} candles, {rate:,.0f} a second); "
        f"{report.already} already there, of {report.partitions}"
    )
    for label, why in report.failed.items():
        errors.print(f"[bold red]failed:[/] {label}: {why}", highlight=False, soft_wrap=True)
    if report.failed:
        errors.print("the other markets are committed; fix the data and run the same command to finish")
        raise typer.Exit(code=1)


def _path(option: str | None) -> Path | None:
    return None if option is None else Path(option.removeprefix("file://"))


def _client(scheduler: str | None, workers: int) -> tuple[Client, LocalCluster | None]:
    """A client of ``scheduler``, or of a new local cluster of ``workers`` processes; errors name the option."""
    from liqheat.scale.fit import connect

    try:
        return connect(scheduler, workers)
    except DomainError as exc:
        fail(exc)
