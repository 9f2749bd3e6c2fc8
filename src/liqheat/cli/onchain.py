"""``liqheat onchain``: exact liquidation levels of on-chain positions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqheat.cli.common import app, console, emit_json, fail, price_text, usd
from liqheat.model import DomainError

onchain_app = typer.Typer(help="Exact liquidation levels of on-chain positions, whose balances are public.")
app.add_typer(onchain_app, name="onchain")


@onchain_app.command("aave-map")
def aave_map(
    snapshot: Annotated[Path, typer.Argument(help="An aave-v2-v3-wbtc-positions snapshot folder (Parquet files).")],
    asset: Annotated[str, typer.Option(help="The underlying whose price the map is drawn on: BTC or ETH.")] = "BTC",
    bands: Annotated[str, typer.Option(help="Band width: a percentage of the price (2%) or USD (1000).")] = "2%",
    depth: Annotated[str, typer.Option(help="How far the map reaches each way from the price.")] = "30%",
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="SYMBOL=USD for a debt the snapshot has no price for (WETH=1850), or BTC=… (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The exact levels of an Aave snapshot: what its positions' liquidations would seize per price band.

    Each position's liquidation price is solved in closed form from its health factor; the levels follow the
    calls liquidators may make as the price moves on (close factor, bonus). See liqheat.venues.aave.snapshot
    for what the shared snapshot lacks and what is assumed in its place.
    """
    from rich import box
    from rich.table import Table

    from liqheat.venues.aave.markets import parse_prices
    from liqheat.venues.aave.snapshot import snapshot_map

    try:
        snap, m = snapshot_map(snapshot, asset=asset, bands=bands, depth=depth, prices=parse_prices(price))
    except DomainError as exc:
        fail(exc)
    name = m.asset
    summary = {
        "market": snap.positions[0].market.name if snap.positions else None, "as_of": snap.as_of.date().isoformat(),
        "btc_collateral": snap.btc_collateral, "set_aside": snap.skipped, "unpriced_debts": snap.unpriced,
    }  # fmt: skip
    if as_json:
        emit_json({**m.to_dict(), **summary})
        return
    table = Table(
        title=f"Aave: {name} {price_text(m.price)} on {summary['as_of']}, {m.positions:,} positions, "
        f"{snap.btc_collateral:,.0f} BTC",
        header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    for col in ("band", "from", "long", name, "pos", "cum long", "short", "pos "):
        table.add_column(col, justify="right", no_wrap=True)
    reach = m.long_reach_usd
    for i in reversed(range(len(m.edges) - 1)):
        if not (m.long_usd[i] or m.short_usd[i]):
            continue
        mid = (m.edges[i] + m.edges[i + 1]) / 2
        table.add_row(
            f"{price_text(m.edges[i])}–{price_text(m.edges[i + 1])}", f"{(mid / m.price - 1) * 100:+.1f}%",
            usd(m.long_usd[i]), f"{m.long_amount[i]:,.1f}", f"{m.long_positions[i]:,}",
            usd(reach[i]) if m.edges[i] < m.price else "", usd(m.short_usd[i]), f"{m.short_positions[i]:,}",
        )  # fmt: skip
    console.print(table)
    console.print(f"long: {name} collateral seized as it falls; short: {name} debt repaid as it rises")
    for reason, accounts in snap.skipped.items():
        console.print(f"set aside: {accounts:,} accounts {reason}")
    if snap.unpriced:
        listed = ", ".join(f"{s} {n}" for s, n in list(snap.unpriced.items())[:4])
        more = f" and {len(snap.unpriced) - 4} more" if len(snap.unpriced) > 4 else ""
        console.print(f"unpriced debts: {listed}{more} (--price SYMBOL=USD)")


@onchain_app.command("aave-live")
def aave_live(
    url: Annotated[str, typer.Option("--url", help="The JSON-RPC endpoint (rpc) or the subgraph's GraphQL URL (subgraph).")],
    source: Annotated[
        str, typer.Option(help="Where positions are read: rpc (the users named) or subgraph (every borrower).")
    ] = "subgraph",
    chain: Annotated[str, typer.Option(help="Aave v3 on ethereum (chain 1), base (8453) or arbitrum (42161).")] = "ethereum",
    user: Annotated[list[str] | None, typer.Option("--user", help="An account to read (rpc; repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many borrowers (subgraph).", min=1)] = None,
    asset: Annotated[str, typer.Option(help="The underlying whose price the map is drawn on: BTC or ETH.")] = "BTC",
    bands: Annotated[str, typer.Option(help="Band width: a percentage of the price (2%) or USD (1000).")] = "2%",
    depth: Annotated[str, typer.Option(help="How far the map reaches each way from the price.")] = "30%",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Exact Aave v3 levels read live: positions from an RPC endpoint or a subgraph, per price band.

    The pool's own prices and parameters at one block; each position's calls as the asset moves with the other
    prices held (as aave-map). Deployments and their addresses: liqheat.venues.aave.rpc.DEPLOYMENTS.
    """
    from liqheat.venues.aave.levels import band_edges, level_map, parse_bands, parse_fraction
    from liqheat.venues.aave.markets import REFERENCE, underlying
    from liqheat.venues.aave.rpc import DEPLOYMENTS, AaveRpc
    from liqheat.venues.aave.subgraph import AaveSubgraph

    try:
        deployment = DEPLOYMENTS.get(chain.strip().lower())
        if deployment is None:
            raise DomainError(f"chain must be one of {', '.join(DEPLOYMENTS)}, got {chain!r}", param="chain")
        if source == "rpc":
            if not user:
                raise DomainError("--source rpc reads the accounts named: give --user ADDRESS (a subgraph lists them)",
                                  param="user")  # fmt: skip
            state, lives = AaveRpc(url, deployment).positions(user)
            positions = [live.position for live in lives]
        elif source == "subgraph":
            state, positions = AaveSubgraph(url, deployment).positions(limit)
        else:
            raise DomainError(f"source must be rpc or subgraph, got {source!r}", param="source")
        group = underlying(asset)
        name = asset.strip().upper()
        reference = state.prices.get(REFERENCE[name])
        if reference is None:
            raise DomainError(f"{deployment.name} has no {REFERENCE[name]} reserve to price {name} by", param="asset")
        edges = band_edges(reference, parse_bands(bands, reference), parse_fraction(depth, "depth"))
        m = level_map(positions, group, reference, edges, asset=name)
    except DomainError as exc:
        fail(exc)
    info = {"source": source, "chain": chain, "chain_id": deployment.chain_id, "block": state.block, "market": deployment.name}
    if as_json:
        emit_json({**m.to_dict(), **info})
        return
    console.print(f"{deployment.name} (chain {deployment.chain_id}) at block {state.block:,} via {source}: "
                  f"{m.positions:,} positions, {name} {price_text(m.price)}")  # fmt: skip
    for i in reversed(range(len(m.edges) - 1)):
        if m.long_usd[i] or m.short_usd[i]:
            console.print(f"{price_text(m.edges[i])}–{price_text(m.edges[i + 1])}  long {usd(m.long_usd[i])} "
                          f"({m.long_positions[i]:,})  short {usd(m.short_usd[i])} ({m.short_positions[i]:,})")  # fmt: skip


StoreOption = Annotated[Path | None, typer.Option("--store", help="Store folder (default: $LIQHEAT_HOME or ~/.liqheat).")]
VenueOption = Annotated[str, typer.Option(help="The venue whose positions are read: hyperliquid.")]
CoinOption = Annotated[
    list[str] | None, typer.Option("--coin", help="A coin whose positions are kept (repeatable; default BTC).")
]
AddressOption = Annotated[list[str] | None, typer.Option("--address", help="An address to read (0x…, repeatable).")]
ListOption = Annotated[list[Path] | None, typer.Option("--addresses", help="A file of addresses, one a line (repeatable).")]
TradesOption = Annotated[
    list[Path] | None, typer.Option("--trades", help="Recorded `trades` websocket messages, JSON lines: both users of each fill.")
]
FillsOption = Annotated[
    list[Path] | None,
    typer.Option("--fills", help="Liquidation fills (JSON lines, or CSV with a user column): the liquidated users."),
]
LeaderboardOption = Annotated[
    str | None, typer.Option(help="A saved copy of Hyperliquid's leaderboard file, or its URL (undocumented by the venue).")
]
InfoUrlOption = Annotated[str, typer.Option(help="The /info endpoint: Hyperliquid's, or a provider serving the same.")]
WorkersOption = Annotated[
    int, typer.Option(help="Requests in flight at once (each its own connection): the round trip then bounds the rate less.")
]
BudgetOption = Annotated[int, typer.Option(help="Request weight a minute to spend at most (the venue allows 1,200 per IP).")]


def _hyperliquid(venue: str) -> None:
    if venue.strip().lower() != "hyperliquid":
        fail(f"--venue must be hyperliquid (Aave's levels: liqheat onchain aave-map), got {venue!r}")


def _workers(workers: int) -> int:
    if not 1 <= workers <= 64:
        fail(f"--workers must be 1 … 64, got {workers}")
    return workers


def _coins(coin: list[str] | None) -> frozenset[str]:
    coins = frozenset(c.strip().upper() for c in coin or ["BTC"])
    bad = [c for c in coins if not c.isalnum()]
    if bad:
        fail(f"--coin must be a coin as Hyperliquid names it (BTC, ETH), got {bad[0]!r}")
    return coins


@onchain_app.command("snapshot")
def snapshot(
    venue: VenueOption = "hyperliquid",
    coin: CoinOption = None,
    address: AddressOption = None,
    addresses: ListOption = None,
    trades: TradesOption = None,
    fills: FillsOption = None,
    leaderboard: LeaderboardOption = None,
    info_url: InfoUrlOption = "https://api.hyperliquid.xyz/info",
    budget: BudgetOption = 1200,
    workers: WorkersOption = 4,
    store_dir: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Read every address the sources name once, within the weight budget, and store their positions and coverage.

    Sources: --address, --addresses, --trades (recorded websocket messages), --fills (liquidation fills),
    --leaderboard. Each position is stored as it opened, changed or closed; coverage is the discovered notional
    against the venue's open interest. `liqheat onchain hl-map` draws what is stored.
    """
    import time

    from liqheat.cli.common import store_root
    from liqheat.store.parquet_store import Store
    from liqheat.venues.hyperliquid.discovery import gather
    from liqheat.venues.hyperliquid.info import InfoClient, WeightBudget
    from liqheat.venues.hyperliquid.scheduler import Refresher
    from liqheat.venues.hyperliquid.tracker import Recorder, Tracker

    _hyperliquid(venue)
    coins = _coins(coin)
    _workers(workers)
    started = time.monotonic()
    try:
        book = gather(addresses=address or (), lists=addresses or (), trades=trades or (), fills=fills or (),
                      leaderboard=leaderboard)  # fmt: skip
        if not len(book):
            fail("no address to read: give --address, --addresses, --trades, --fills or --leaderboard")
        client = InfoClient(info_url, budget=WeightBudget(budget))
    except DomainError as exc:
        fail(exc)
    try:
        store = Store(store_root(store_dir, writing=True))
        with store.writer():
            recorder = Recorder(coins)
            recorder.prime(store, sorted(coins))
            tracker = Tracker(client, Refresher(), recorder)
            tracker.add(book.sources)
            try:
                tracker.sweep(workers)
            finally:
                stored = recorder.flush(store)  # what was read before a failure is kept
            coverage = tracker.coverage
    except DomainError as exc:
        fail(exc)
    finally:
        client.close()
    summary = {
        "addresses": len(book), "found_by": book.counts(), "read": tracker.tally.reads, "failed": tracker.tally.failed,
        "changes": tracker.tally.rows, "stored_rows": stored, "requests": client.counters.requests,
        "weight": client.counters.weight, "rate_limited": client.counters.rate_limited,
        "seconds": round(time.monotonic() - started, 1),
        "coins": [{k: (v.isoformat() if k == "ts" else v) for k, v in row.items()} for row in coverage],
    }  # fmt: skip
    if as_json:
        emit_json(summary)
        return
    found = ", ".join(f"{n:,} {s}" for s, n in book.counts().items())
    console.print(f"Hyperliquid: {tracker.tally.reads:,} of {len(book):,} addresses read ({found})")
    c = client.counters
    console.print(f"  {tracker.tally.failed:,} skipped, {stored:,} rows stored, {c.requests:,} requests (weight {c.weight:,}), "
                  f"{c.rate_limited:,} × 429, {summary['seconds']} s")  # fmt: skip
    for row in coverage:
        console.print(
            f"  {row['coin']}: {row['positions']:,} positions, long {usd(row['long_usd'])}, short {usd(row['short_usd'])}"
        )
        console.print(f"    coverage {_share(row['coverage'])} of {usd(row['open_interest_usd'])} open interest")


def _share(value: object) -> str:
    return f"{float(value) * 100:.1f} %" if isinstance(value, float) and value == value else "unknown"


@onchain_app.command("follow")
def follow(
    venue: VenueOption = "hyperliquid",
    coin: CoinOption = None,
    address: AddressOption = None,
    addresses: ListOption = None,
    trades: TradesOption = None,
    fills: FillsOption = None,
    leaderboard: LeaderboardOption = None,
    stream: Annotated[bool, typer.Option(help="Find addresses in the live `trades` stream of each coin.")] = True,
    ws_url: Annotated[str, typer.Option(help="The websocket the trades stream is read from.")] = "wss://api.hyperliquid.xyz/ws",
    info_url: InfoUrlOption = "https://api.hyperliquid.xyz/info",
    budget: BudgetOption = 1200,
    flush: Annotated[str, typer.Option(help="How often what changed is written to the store.")] = "1m",
    run_for: Annotated[str | None, typer.Option("--for", help="Stop after this long (10m, 2h); default: until Ctrl-C.")] = None,
    workers: WorkersOption = 4,
    store_dir: StoreOption = None,
) -> None:
    """Follow Hyperliquid positions into the store: addresses found live and in the sources, read by priority.

    The addresses holding 90 % of the discovered notional are read again within 2 minutes, every other one in
    turn (within 20 minutes while the budget allows), never past --budget weight a minute; the market (mark,
    open interest) every minute. A status line each --flush. Ctrl-C stops after a last write.
    """
    import math
    import threading

    from liqheat.cli.common import store_root
    from liqheat.store.parquet_store import Store
    from liqheat.timeutil import duration_seconds
    from liqheat.venues.hyperliquid.discovery import gather, stream_trades
    from liqheat.venues.hyperliquid.info import InfoClient, WeightBudget
    from liqheat.venues.hyperliquid.scheduler import Refresher
    from liqheat.venues.hyperliquid.tracker import Recorder, Tracker

    _hyperliquid(venue)
    coins = _coins(coin)
    _workers(workers)
    stop = threading.Event()
    try:
        every = duration_seconds(flush, "flush")
        limit = duration_seconds(run_for, "for") if run_for is not None else None
        if not ws_url.startswith(("ws://", "wss://")):
            fail(f"--ws-url must be a ws:// or wss:// URL, got {ws_url!r}")
        book = gather(addresses=address or (), lists=addresses or (), trades=trades or (), fills=fills or (),
                      leaderboard=leaderboard)  # fmt: skip
        if not len(book) and not stream:
            fail("no address to read: give --address, --addresses, --trades, --fills or --leaderboard, or keep --stream")
        client = InfoClient(info_url, budget=WeightBudget(budget))
    except DomainError as exc:
        fail(exc)
    try:
        store = Store(store_root(store_dir, writing=True))
        with store.writer():
            recorder = Recorder(coins)
            primed = recorder.prime(store, sorted(coins))
            tracker = Tracker(client, Refresher(), recorder)
            tracker.add(book.sources)
            tracker.add(u for (u, _) in recorder.held)
            console.print(f"following {', '.join(sorted(coins))} on {info_url}: {len(tracker.refresher):,} addresses "
                          f"({primed:,} open positions in the store), budget {budget:,} weight a minute")  # fmt: skip
            if stream:
                thread = threading.Thread(target=stream_trades, args=(sorted(coins), tracker.add, stop),
                                          kwargs={"url": ws_url}, daemon=True)  # fmt: skip
                thread.start()
            clock = client.budget.clock
            start = clock.now()

            def status(stored: int) -> None:
                f = tracker.freshness()
                console.print(f"{tracker.ts():%H:%M:%S} {f.addresses:,} addresses ({f.read:,} read, {f.hot:,} hot), "
                              f"90 % of notional within {f.p90_notional_age:.0f} s, oldest {f.max_age:.0f} s; "
                              f"{stored:,} rows stored, {client.counters.rate_limited:,} × 429", soft_wrap=True)  # fmt: skip

            readers = tracker.follow(stop, workers)
            next_flush = start + every
            end = start + limit if limit is not None else math.inf
            try:
                while not stop.is_set() and clock.now() < end:
                    if stop.wait(max(0.0, min(next_flush, end) - clock.now())):
                        break
                    if clock.now() >= next_flush:
                        next_flush += every
                        status(recorder.flush(store))
            except KeyboardInterrupt:
                console.print("stopping")
            finally:
                stop.set()
                for reader in readers:
                    reader.join(timeout=client.timeout + 5)  # one in a request or a backoff may not answer at once
                status(recorder.flush(store))
            if tracker.error is not None:
                fail(tracker.error)
    except DomainError as exc:
        fail(exc)
    finally:
        stop.set()
        client.close()


@onchain_app.command("hl-map")
def hl_map(
    coin: Annotated[str, typer.Option(help="The coin whose exact levels are drawn.")] = "BTC",
    bands: Annotated[str, typer.Option(help="Band width: a percentage of the price (2%) or USD (1000).")] = "2%",
    depth: Annotated[str, typer.Option(help="How far the map reaches each way from the price.")] = "30%",
    at: Annotated[str | None, typer.Option(help="The positions as of this UTC time (default: the latest stored).")] = None,
    store_dir: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The exact levels of the Hyperliquid positions in the store: what their liquidations would take per price band.

    Each position sits at the venue's own liquidationPx (longs below the price, shorts above; see
    liqheat.venues.hyperliquid.state for what it assumes of cross-margin accounts), its notional |size| × that
    price. Coverage is the stored positions' notional against the venue's open interest at the last market read.
    """
    import pandas as pd
    from rich import box
    from rich.table import Table

    from liqheat.cli.common import store_root
    from liqheat.store.parquet_store import Store
    from liqheat.timeutil import parse_time
    from liqheat.venues.aave.levels import band_edges, parse_bands, parse_fraction
    from liqheat.venues.hyperliquid.levels import exact_map
    from liqheat.venues.hyperliquid.tracker import stored_coverage, stored_positions

    name = coin.strip().upper()
    try:
        reach = parse_fraction(depth, "depth")
        parse_bands(bands, 1.0)  # its form, before the store is read; the width once the price is known
        when = parse_time(at, "at")
        until = when + pd.Timedelta(microseconds=1) if when is not None else None  # the rows at `at` itself too
        store = Store(store_root(store_dir))
        positions = stored_positions(store, name, until)
        market = stored_coverage(store, name, until)
        if not positions:
            fail(f"no {name} position in the store {store.root}{' as of ' + at if at else ''}: "
                 f"run liqheat onchain snapshot or follow --coin {name} first")  # fmt: skip
        price = float(market["mark_px"]) if market else positions[0].mark_px
        m = exact_map(positions, price, band_edges(price, parse_bands(bands, price), reach), coin=name,
                      open_interest_usd=float(market["open_interest_usd"]) if market else None)  # fmt: skip
    except DomainError as exc:
        fail(exc)
    as_of = market["ts"].strftime("%Y-%m-%d %H:%M UTC") if market else "unknown"
    if as_json:
        emit_json({**m.to_dict(), "as_of": as_of})
        return
    cover = f"coverage {m.coverage * 100:.1f} % of {usd(m.open_interest_usd or 0)} open interest" if m.coverage is not None else (
        "coverage unknown (no market read stored)")  # fmt: skip
    table = Table(
        title=f"Hyperliquid: {name} {price_text(m.price)} at {as_of}, {m.positions:,} positions, {cover}",
        header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    for col in ("band", "from", "long", "pos", "cum long", "short", "pos "):
        table.add_column(col, justify="right", no_wrap=True)
    reach_usd = m.long_reach_usd
    for i in reversed(range(len(m.edges) - 1)):
        if not (m.long_usd[i] or m.short_usd[i]):
            continue
        mid = (m.edges[i] + m.edges[i + 1]) / 2
        table.add_row(
            f"{price_text(m.edges[i])}–{price_text(m.edges[i + 1])}", f"{(mid / m.price - 1) * 100:+.1f}%",
            usd(m.long_usd[i]), f"{m.long_positions[i]:,}", usd(reach_usd[i]) if m.edges[i] < m.price else "",
            usd(m.short_usd[i]), f"{m.short_positions[i]:,}",
        )  # fmt: skip
    console.print(table)
    console.print("exact: each position at its own liquidationPx")
    console.print(f"long: {name} sold as it falls; short: {name} bought as it rises")
    if m.unreachable or m.outside:
        console.print(f"not drawn: {m.unreachable:,} positions no price liquidates, {m.outside:,} beyond ±{reach:.0%}")


@onchain_app.command("compare")
def compare(
    bundle: Annotated[Path, typer.Argument(help="A bundle of the venue's own market (its candles and open interest).")],
    coin: Annotated[str, typer.Option(help="The coin of the stored Hyperliquid positions.")] = "BTC",
    at: Annotated[str | None, typer.Option(help="When to compare (UTC; default: the bundle's last candle).")] = None,
    store_dir: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The engine's estimated map against the exact map the stored Hyperliquid positions make, and their leverage.

    Per side, the earth mover's distance between the two maps (each of unit mass, on log price, in % of price)
    beside the naive map's; the notional of each, the exact scaled to the venue by coverage; the share of
    notional per leverage band the positions reveal against the engine's assumed one, and the log-normal
    fitted to it (the prior liqheat fit --set can start from). See liqheat.evaluation.onchain.
    """
    from rich import box
    from rich.table import Table

    from liqheat.analytics.exact import StoredPositions
    from liqheat.bundle import read_bundle
    from liqheat.cli.common import store_root
    from liqheat.evaluation.onchain import compare_exact
    from liqheat.timeutil import parse_time

    try:
        when = parse_time(at, "at")
        root = store_root(store_dir)
        result = compare_exact(read_bundle(bundle), StoredPositions(root, coin.strip().upper()), at=when)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(result.to_dict())
        return
    cover = "coverage unknown" if result.coverage is None else f"{result.coverage:.1%} of its open interest"
    table = Table(title=f"estimated vs exact ({result.source}, {result.positions:,} positions, {cover}) at "
                  f"{result.at:%Y-%m-%d %H:%M} UTC, price {price_text(result.price)}",
                  header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)  # fmt: skip
    for col in ("side", "EMD engine", "EMD naive", "estimated", "exact", "exact ÷ coverage"):
        table.add_column(col, justify="right", no_wrap=True)
    for side in ("long", "short"):
        scaled = result.scaled(side)
        table.add_row(
            side, f"{getattr(result, f'emd_{side}'):.2f}%", f"{getattr(result, f'naive_{side}'):.2f}%",
            usd(getattr(result, f"estimated_{side}_usd")), usd(getattr(result, f"exact_{side}_usd")),
            "—" if scaled is None else usd(scaled),
        )  # fmt: skip
    console.print(table)
    lev = Table(title="notional per leverage band", header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    lev.add_column("band")
    lev.add_column("positions reveal", justify="right")
    lev.add_column("engine assumes", justify="right")
    for k, band in enumerate(result.bands):
        revealed = "—" if result.revealed is None else f"{result.revealed[k]:.1%}"
        lev.add_row(band, revealed, f"{result.assumed[k]:.1%}")
    console.print(lev)
    if result.fitted_median is not None and result.fitted_sigma is not None:
        console.print(f"fitted to the positions: --set leverage_median={result.fitted_median:.3g} "
                      f"--set leverage_sigma={max(result.fitted_sigma, 0.05):.3g}")  # fmt: skip
