"""``liqheat demo``: the README's main job, on an embedded synthetic market (no network, no data files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqheat.cli.common import AllowedHost, app, console, fail, usd
from liqheat.model import DomainError


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the bundle, the ground truth and heatmap.png.")] = Path("out/demo"),
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Write the files and exit instead of serving the page.")] = False,
    port: Annotated[int, typer.Option(help="Port of the page (with serving).")] = 8000,
    days: Annotated[float, typer.Option(help="Days of 1-minute candles to simulate.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same market.")] = 7,
    fmt: Annotated[str, typer.Option("--format", help="Bundle format: parquet or csv.")] = "parquet",
    bundle: Annotated[
        list[Path] | None, typer.Option("--bundle", help="Also validate and summarise these bundle folders.")
    ] = None,
    allowed_host: AllowedHost = None,
) -> None:
    """Simulate a market whose positions are known, draw its heatmap and show how good the map is."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from liqheat.bundle import read_bundle
    from liqheat.cli.model_cmds import print_score, verdict
    from liqheat.cli.summary import bundle_summary, print_bundle_summary
    from liqheat.demo import job as pipeline
    from liqheat.evaluation.synthetic.market import SimParams
    from liqheat.venues.examples import EXAMPLES

    if fmt not in ("parquet", "csv"):
        fail(f"--format must be parquet or csv, got {fmt!r}")
    from liqheat.fsutil import check_writable

    try:
        check_writable(out, folder=True, param="out")
        params = SimParams(days=days, seed=seed)
        with Progress(
            TextColumn("{task.description:<40}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("starting", total=1.0)

            def tell(stage: str, fraction: float) -> None:
                progress.update(task, description=stage, completed=fraction)

            report = pipeline.run(out, params, fmt="parquet" if fmt == "parquet" else "csv", progress=tell)
        for folder in bundle or []:
            print_bundle_summary(console, bundle_summary(read_bundle(folder)))
    except DomainError as exc:
        fail(exc)

    sim = report.sim
    candles = sim.bundle.candles
    liq = sim.bundle.liquidations
    assert liq is not None  # the simulator always publishes its liquidations
    orders = liq[liq["usd"] > 0]
    console.print(
        f"[bold]Synthetic market[/] · {'reused' if report.reused else 'simulated'} · {params.days:g} days of 1-minute candles "
        f"({len(candles):,}), seed {params.seed} · price {candles['low'].min():,.0f} – {candles['high'].max():,.0f}, "
        f"last {report.last_price:,.0f} · open interest {usd(float(sim.bundle.open_interest['oi_usd'].iloc[-1]), 1)} · "
        f"{len(sim.positions):,} positions · {len(orders):,} liquidations ({usd(float(orders['usd'].sum()), 1)})"
    )
    casc = sim.cascades
    if len(casc):
        big = casc.iloc[int(casc["usd"].to_numpy().argmax())]
        move = casc.iloc[int(casc["move_pct"].abs().to_numpy().argmax())]
        console.print(
            f"[bold]Cascades[/] (≥ {params.cascade_rounds} rounds of forced orders in one tick): {len(casc):,} · "
            f"largest {usd(float(big['usd']), 1)} on {big['ts']:%m-%d %H:%M} moving price {big['move_pct']:+.2f}% "
            f"in {int(big['rounds'])} rounds · largest move {move['move_pct']:+.2f}% ({usd(float(move['usd']), 1)})"
        )
    print_score(report.score.to_dict(), "Engine vs the simulated liquidations (hourly, Spearman)")
    console.print(verdict(report.score), highlight=False)
    d = report.distance
    table = Table(
        title=f"Estimated vs true liquidation map ({d.snapshots} snapshots, earth mover's distance)", header_style="bold"
    )
    for column in ("side", "liqheat map", "naive map (even by distance)", ""):
        table.add_column(column, justify="left" if column == "side" else "right")
    for side, mine, naive in (("long", d.engine_long, d.naive_long), ("short", d.engine_short, d.naive_short)):
        table.add_row(
            side, f"{mine:.2f}% of price", f"{naive:.2f}% of price", "[green]closer[/]" if mine < naive else "[red]farther[/]"
        )
    console.print(table)
    clusters = Table(title=f"Largest clusters now (price {report.last_price:,.0f})", header_style="bold")
    for column in ("side", "peak", "band", "notional", "of side", "distance"):
        clusters.add_column(column, justify="left" if column == "side" else "right")
    for c in report.clusters:
        clusters.add_row(
            c.side, f"{c.peak_price:,.0f}", f"{c.price_low:,.0f} – {c.price_high:,.0f}", usd(c.notional_usd, 1), f"{c.share:.0%}",
            f"{c.distance_pct:+.2f}%",
        )  # fmt: skip
    console.print(clusters)
    reproduced = sum(abs(e.run().liquidation_price - e.published) <= e.tolerance for e in EXAMPLES)
    console.print(f"Calculator: {reproduced}/{len(EXAMPLES)} published venue examples reproduced (liqheat calc --help).")
    console.print(
        f"Wrote {escape(str(report.heatmap_png))}, the bundle {escape(str(report.bundle_dir))} "
        f"and the ground truth {escape(str(out / 'truth'))}. Score it again: liqheat score {escape(str(report.bundle_dir))}"
    )
    if reproduced != len(EXAMPLES):
        fail(f"{len(EXAMPLES) - reproduced} published calculator example(s) not reproduced")
    if not no_serve:
        from liqheat.api.markets import Registry
        from liqheat.cli.serve import add_demo_market, serve_registry

        registry = Registry()
        feeder = add_demo_market(registry, out, live=True, params=params)
        for folder in bundle or []:
            registry.add_folder(folder)
        serve_registry(registry, "127.0.0.1", port, allowed_host, feeder=feeder)
