"""``liqheat clusters``, ``screen``, ``levels``, ``cascade``, ``plan`` and ``sentiment``: what a trader does with the map."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from liqheat.cli.common import BundleArg, app, console, emit_json, fail, price_text, store_root, usd
from liqheat.cli.model_cmds import ParamsFile, SetParam, load_params
from liqheat.model import DomainError

if TYPE_CHECKING:
    from liqheat.analytics.maps import MarketMap
    from liqheat.bundle import Bundle

AtOption = Annotated[str | None, typer.Option("--at", help="Time of the map (ISO 8601, UTC); default: after the last candle.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _map(bundle_dir: Path, at: str | None, params_file: Path | None, set_param: list[str] | None) -> tuple[Bundle, MarketMap]:
    from liqheat.analytics.maps import index_at, market_map
    from liqheat.bundle import read_bundle
    from liqheat.timeutil import parse_time

    bundle = read_bundle(bundle_dir)
    index = index_at(bundle, parse_time(at, "--at"), what="--at")
    return bundle, market_map(bundle, load_params(params_file, set_param), index=index)


@app.command()
def clusters(
    bundle: BundleArg,
    at: AtOption = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="Clusters per side.")] = 5,
    rank: Annotated[
        str, typer.Option(help="reach: by the notional expected to liquidate within 24 h; size: by notional.")
    ] = "reach",
    as_json: JsonOption = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """The crowded zones of the map: bands of notional at risk per side, with distance, age and concentration."""
    from rich import box
    from rich.table import Table

    from liqheat.analytics.clusters import clusters_of, concentration, ranked

    try:
        _, m = _map(bundle, at, params_file, set_param)
        every = ranked(clusters_of(m, top=None), rank)
    except DomainError as exc:
        fail(exc)
    shown = [c for side in ("long", "short") for c in [x for x in every if x.side == side][:top]]
    stats = concentration(m, every)
    if as_json:
        emit_json([c.to_dict() for c in shown])
        return
    table = Table(
        title=f"{m.symbol} at {m.ts:%Y-%m-%d %H:%M} UTC, price {m.price:,.2f}, ATR {m.atr_pct:.2f}%", header_style="bold",
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    table.caption = "24h p: chance price reaches the band within 24 h; 24h $: what it would liquidate (driftless model)"
    for col in ("side", "band", "notional", "of side", "distance", "ATRs", "age", "24h p", "24h $"):
        table.add_column(col, justify="left" if col == "side" else "right", no_wrap=True)
    for c in shown:
        age = f"{'≥' if c.age_at_least else ''}{c.age_hours:,.0f}h" if c.age_hours is not None else "—"
        atrs = f"{c.distance_atr:+.1f}" if c.distance_atr else "—"
        reached = f"{c.hit_prob_24h:.0%}" if c.hit_prob_24h is not None else "—"
        table.add_row(c.side, f"{c.price_low:,.0f}–{c.price_high:,.0f}", usd(c.notional_usd), f"{c.side_share or 0.0:.1%}",
                      f"{c.distance_pct:+.2f}%", atrs, age, reached, usd(c.expected_usd_24h or 0.0))  # fmt: skip
    console.print(table)
    ra = stats["round_affinity"]
    ratio = f"{ra['ratio']:.2f}×" if ra["ratio"] is not None else "—"
    n, k, share = stats["clusters"], stats["top5pct_clusters"], stats["top5pct_share"]
    console.print(f"top 5 % of {n} clusters ({k}) hold {share:.1%} of the notional at risk")
    console.print(
        f"within 0.5 % of round prices (every {ra['round_step']:,.0f}): {ra['observed_share']:.1%} of the notional, "
        f"{ra['chance_share']:.1%} by chance ({ratio})"
    )


@app.command()
def levels(
    bundle: BundleArg,
    at: AtOption = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="Levels to show.")] = 10,
    lookback: Annotated[int, typer.Option(min=10, help="Candles to read levels from.")] = 24 * 30,
    rank: Annotated[
        str, typer.Option(help="reach: confluence weighs each cluster by its chance of being reached within 24 h; size: not.")
    ] = "reach",
    as_json: JsonOption = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Support and resistance (swing pivots at 3 scales, volume nodes) and their confluence with the clusters."""
    from rich.table import Table

    from liqheat.analytics.clusters import clusters_of
    from liqheat.analytics.levels import confluence
    from liqheat.analytics.levels import levels as find_levels

    try:
        b, m = _map(bundle, at, params_file, set_param)
        found = find_levels(b.candles.iloc[: m.index + 1], m.price, lookback=lookback)
        meets = confluence(clusters_of(m, top=10), found, rank=rank)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(
            {"price": m.price, "levels": [lv.to_dict() for lv in found[:top]], "confluence": [x.to_dict() for x in meets[:top]]}
        )
        return
    table = Table(
        title=f"{m.symbol} support and resistance at {m.ts:%Y-%m-%d %H:%M} UTC, price {m.price:,.2f}", header_style="bold"
    )
    for col in ("level", "kind", "from", "strength", "touches", "distance"):
        table.add_column(col, justify="right")
    for lv in found[:top]:
        table.add_row(
            f"{lv.price:,.2f}",
            lv.kind,
            lv.source,
            f"{lv.strength:.2f}",
            str(lv.touches),
            f"{(lv.price / m.price - 1) * 100:+.2f}%",
        )
    console.print(table)
    for x in meets[:5]:
        c = x.cluster
        band = f"{c.price_low:,.2f}–{c.price_high:,.2f}"
        reach = "" if c.hit_prob_24h is None else f", {c.hit_prob_24h * 100:.0f}% within 24 h"
        console.print(f"confluence {x.score:.3f}: {c.side} cluster {band} ({usd(c.notional_usd)}{reach}) "
                      f"with {x.level.kind} {x.level.price:,.2f} ({x.level.source})")  # fmt: skip


@app.command()
def cascade(
    bundle: BundleArg,
    shock: Annotated[str, typer.Option(help="The push in %: -3%, -3 or +2.5% (-3% pushes price down 3 %, through the longs).")],
    depth_scale: Annotated[float, typer.Option(help="Book depth × this, on top of --depth.")] = 1.0,
    depth: Annotated[
        str,
        typer.Option(help="market: Binance BTCUSDT's book (2025-10-10) scaled by this market's traded volume; reference: as is."),
    ] = "market",
    book: Annotated[str, typer.Option(help="calm (that day's first 20 h) or crash (21:00–21:30, the thinnest).")] = "calm",
    refill: Annotated[float, typer.Option(help="Share of the book that refills between rounds (0 static … 1 full).")] = 0.0,
    at: AtOption = None,
    as_json: JsonOption = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Push price by a shock and follow the liquidation chain through a calibrated book scaled to the market's volume."""
    from rich.table import Table

    from liqheat.analytics.cascade import DEPTHS, calibrated, market_book, parse_shock
    from liqheat.analytics.cascade import cascade as run_cascade
    from liqheat.analytics.clusters import clusters_of

    try:
        pct = parse_shock(shock)
        calibrated(book).scaled(depth_scale)  # refuse a bad --book or --depth-scale before the replay
        if depth not in DEPTHS:
            raise DomainError(f"depth must be {' or '.join(DEPTHS)}, got {depth!r}", param="depth")
        b, m = _map(bundle, at, params_file, set_param)
        model = market_book(book, b.candles, m.index, b.meta.timeframe_delta, depth=depth, symbol=m.symbol).scaled(depth_scale)
        result = run_cascade(m, pct, model, clusters_of(m, top=20), refill=refill)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(result.to_dict())
        return
    console.print(f"{m.symbol} at {m.ts:%Y-%m-%d %H:%M} UTC: {result.price_before:,.2f}, shock {pct:+.2f}%")
    table = Table(header_style="bold")
    for col in ("round", "price", "move", "liquidated", "forced so far", "clusters reached"):
        table.add_column(col, justify="right")
    for r in result.rounds:
        names = ", ".join(f"{result.clusters[i].peak_price:,.0f}" for i in r.clusters if i < len(result.clusters))
        table.add_row(str(r.n), f"{r.price:,.2f}", f"{r.move_pct:+.2f}%", usd(r.fired_usd), usd(r.forced_total_usd), names or "")
    console.print(table)
    console.print(
        f"ends at {result.price_after:,.2f} ({result.move_pct:+.2f}%, {result.move_pct / pct:.2f}× the shock) after "
        f"{usd(result.liquidated_usd)} liquidated: {result.stop_reason}"
    )
    risk = result.risk
    console.print(f"cascade risk (liquidated per 1 % ÷ depth per 1 %): down {risk['down']:.4f}, up {risk['up']:.4f}")
    d = result.depth
    console.print(f"[dim]depth: {result.depth_source}; {usd(risk['bid_depth_1pct_usd'])} bid and "
                  f"{usd(risk['ask_depth_1pct_usd'])} ask within 1 %; refill {refill:g}[/]")  # fmt: skip
    if d["rule"] == "volume":
        console.print(f"[dim]scaled by traded volume: {usd(d['market_usd_per_hour'])}/h over the last {d['window_days']} days "
                      f"÷ {usd(d['reference_usd_per_hour'])}/h on the reference day = × {d['market_scale']:.4g}[/]")  # fmt: skip
    elif m.symbol != "BTC" and depth_scale == 1.0:
        console.print(f"[yellow]the book is Binance BTCUSDT's, not scaled to {m.symbol}: scale it with --depth-scale[/]")


@app.command(name="plan")
def plan_cmd(
    bundle: BundleArg,
    side: Annotated[str, typer.Option(help="long or short.")],
    entry: Annotated[float, typer.Option(help="Entry price.")],
    leverage: Annotated[float, typer.Option(help="Leverage (isolated margin = notional ÷ leverage).")],
    balance: Annotated[float, typer.Option(help="Account balance in USD.")],
    risk: Annotated[str, typer.Option(help="Risk per trade: 1% or 0.01 of the balance.")] = "1%",
    venue: Annotated[
        str, typer.Option(help="Venue whose liquidation rule applies: binance, bybit, okx, hyperliquid.")
    ] = "binance",
    max_stop: Annotated[
        float, typer.Option("--max-stop", help="The farthest stop from the entry, in ATRs of the market's candles.")
    ] = 4.0,
    at: AtOption = None,
    as_json: JsonOption = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Size a trade from its risk; place the stop and target against the clusters; check its own liquidation price."""
    from liqheat.analytics.clusters import clusters_of
    from liqheat.analytics.planner import parse_risk, plan

    try:
        fraction = parse_risk(risk)
        b, m = _map(bundle, at, params_file, set_param)
        p = plan(m, clusters_of(m, top=None), side=side.lower(), entry=entry, leverage=leverage, balance=balance, risk=fraction,
                 venue=venue.lower(), contract=b.meta.contract, max_stop_atr=max_stop)  # fmt: skip
    except DomainError as exc:
        if exc.param == "max_stop_atr":
            exc = DomainError(str(exc).replace("max_stop_atr", "--max-stop", 1))
        fail(exc)
    if as_json:
        emit_json(p.to_dict())
        return
    rows = [
        ("market", f"{p.symbol} on {p.venue}, price {m.price:,.2f} at {m.ts:%Y-%m-%d %H:%M} UTC"),
        (
            "size",
            f"{p.size_base:,.6f} {m.symbol} = {usd(p.notional_usd)} notional, {usd(p.margin_usd)} margin at {p.leverage:g}×",
        ),
        ("risk", f"{usd(p.risk_usd)} to the stop"),
        ("stop", f"{p.stop:,.2f} ({p.stop_reason})" if p.sound_stop else f"[red]{p.stop:,.2f} ({p.stop_reason})[/]"),
        ("own liquidation", f"{p.liquidation_price:,.2f} (exact, isolated)"),
        ("target", "—" if p.take_profit is None else f"{p.take_profit:,.2f}, reward/risk {p.reward_risk:.2f}"),
    ]
    if p.margin_to_clear is not None:
        rows.append(
            (
                "margin to clear",
                f"{usd(p.margin_to_clear)} isolated margin ({usd(p.margin_to_clear - p.margin_usd)} more) puts the "
                "liquidation price beyond the stop and the cluster",
            )
        )
    for name, value in rows:
        console.print(f"[bold]{name:>16}[/] {value}")
    for c in p.below[:2] + p.above[:2]:
        console.print(
            f"{'':>16} {c.side} cluster {c.price_low:,.2f}–{c.price_high:,.2f} {usd(c.notional_usd)} ({c.distance_pct:+.2f}%)"
        )
    for w in p.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    for n in p.notes:
        console.print(f"[dim]{n}[/]")


@app.command()
def sentiment(
    bundle: BundleArg,
    window: Annotated[str, typer.Option(help="Window for the funding and open-interest change, e.g. 24h, 7d.")] = "24h",
    at: AtOption = None,
    as_json: JsonOption = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Long against short notional at risk, funding, and the open-interest change over a window."""
    import pandas as pd

    from liqheat.analytics.planner import sentiment as read_sentiment
    from liqheat.timeutil import parse_duration

    try:
        span = parse_duration(window, "--window")
        if span > pd.Timedelta(days=3660):  # as the API: a longer window overflows the time arithmetic
            raise DomainError(f"--window {window} is longer than 10 years")
        b, m = _map(bundle, at, params_file, set_param)
        s = read_sentiment(m, b.candles, b.open_interest, b.funding, span)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(s)
        return
    ratio = "—" if s["long_short_ratio"] is None else f"{s['long_short_ratio']:.2f}"
    console.print(f"{m.symbol} at {s['at']}: longs at risk {usd(s['long_at_risk_usd'])}, shorts {usd(s['short_at_risk_usd'])} "
                  f"(ratio {ratio}, skew {s['skew']:+.2f})")  # fmt: skip
    oi = s["open_interest_change_pct"]
    fm = s["funding_mean"]
    pc = s["price_change_pct"]
    console.print(
        f"over {window}: price {'—' if pc is None else f'{pc:+.2f}%'}, open interest {'—' if oi is None else f'{oi:+.2f}%'}, "
        f"funding mean {'—' if fm is None else f'{fm * 100:.5f}%'} per interval"
    )


@app.command()
def screen(
    bundle: Annotated[list[Path] | None, typer.Argument(help="Bundles to rank (default: none; add --store markets).")] = None,
    store_dir: Annotated[
        Path | None, typer.Option("--store", help="Also rank every market the store holds candles and open interest for.")
    ] = None,
    timeframe: Annotated[str, typer.Option(help="Candle timeframe of the store's markets.")] = "1h",
    min_share: Annotated[
        float, typer.Option(help="A cluster (a band at most 2.5 % wide) counts as large from this share of its side.")
    ] = 0.05,
    rank: Annotated[
        str, typer.Option(help="reach: by the chance the likeliest large cluster is reached within 24 h; distance: in ATRs.")
    ] = "reach",
    as_json: JsonOption = False,
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler (tcp://host:8786) whose workers see the same files: one task a market.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Without --scheduler: a local Dask cluster of this many processes (0: none).")] = 0,
) -> None:
    """Rank markets by their large clusters within reach: the chance the next crowded zone is reached in 24 h."""
    from rich.table import Table

    from liqheat.analytics.screen import RANKS, Target, ranked, store_targets

    if rank not in RANKS:
        fail(DomainError(f"rank must be reach or distance, got {rank!r}", param="rank"))
    if workers < 0:
        fail(DomainError(f"--workers must be ≥ 0, got {workers}", param="workers"))
    targets = [Target(folder.name, folder=folder) for folder in bundle or []]
    if store_dir is not None:
        try:
            found, skipped = store_targets(store_root(store_dir), timeframe)
        except DomainError as exc:
            fail(exc)
        targets += found
        for line in skipped:
            console.print(f"[yellow]{line}[/]")
    if not targets:
        fail("nothing to screen: give bundle folders or --store DIR")
    try:
        outcomes = _screened(targets, min_share, rank, scheduler, workers)
    except DomainError as exc:
        fail(exc)
    for kind, value in outcomes:
        if kind == "fail":
            fail(value)
    for kind, value in outcomes:
        if kind == "skip":
            console.print(f"[yellow]{value}[/]")
    rows = ranked([value for kind, value in outcomes if kind == "row"], rank)
    if as_json:
        emit_json(rows)
        return
    title = "likeliest large cluster per market" if rank == "reach" else "nearest large cluster per market"
    from rich import box

    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)  # fmt: skip
    for col in ("market", "price", "side", "peak", "notional", "distance", "ATRs", "24h p"):
        table.add_column(col, justify="right")
    for r in rows:
        if r["side"] is None:
            table.add_row(r["market"], price_text(r["price"]), *["—"] * 6)
            continue
        p = "—" if r["hit_prob_24h"] is None else f"{r['hit_prob_24h'] * 100:.0f}%"
        table.add_row(r["market"], price_text(r["price"]), r["side"], price_text(r["peak_price"]), usd(r["notional_usd"], 1),
                      f"{r['distance_pct']:+.2f}%", f"{r['distance_atr']:+.1f}", p)  # fmt: skip
    console.print(table)


def _screened(targets: list[Any], min_share: float, rank: str, scheduler: str | None, workers: int) -> list[tuple[str, Any]]:
    """Each target screened here, or one task each on Dask (``--scheduler`` or ``--workers``), in the targets' order."""
    from liqheat.analytics.screen import screen_target

    if scheduler is None and workers == 0:
        return [screen_target(t, min_share, rank) for t in targets]
    from liqheat.scale.fit import connect

    client: Any
    cluster: Any
    client, cluster = connect(scheduler, workers)
    try:
        futures = client.map(screen_target, targets, min_share=min_share, rank=rank, pure=False)
        done: list[tuple[str, Any]] = client.gather(futures)
        return done
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
