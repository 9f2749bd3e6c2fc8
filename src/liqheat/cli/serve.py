"""``liqheat serve``: the HTTP API and the page over bundles and the embedded demo market."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from liqheat.cli.common import AllowedHost, app, console, fail, store_root
from liqheat.model import DomainError

if TYPE_CHECKING:
    from liqheat.demo.live import Feeder
    from liqheat.evaluation.synthetic.market import SimParams

DEMO_CACHE = "demo-cache"  # the folder in the store where serve keeps the demo market


def serve_registry(
    registry: object,
    host: str,
    port: int,
    allowed_host: list[str] | None = None,
    header_timeout: float = 10.0,
    feeder: Feeder | None = None,
    log_level: str | None = None,
) -> None:
    """Run the server until interrupted; a taken port is a clear error, not a traceback. A stop (Ctrl-C,
    SIGTERM) ends the open event streams, stops ``feeder`` (the live demo) and returns."""
    from liqheat.api.app import create_app, vendor_dir
    from liqheat.api.hosts import allowed_hosts
    from liqheat.api.server import Limits, serve

    if not (0 < header_timeout <= 3600):
        fail(f"--header-timeout must be in (0, 3600] seconds, got {header_timeout:g}")

    try:
        hosts = allowed_hosts(host, allowed_host or [])
    except DomainError as exc:
        fail(exc)

    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        fail(f"--host {host!r} is not an address or a name this machine resolves ({exc.strerror})")
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # IPv4 or IPv6, as the host is
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port")
    if not (vendor_dir() / "lightweight-charts.standalone.production.js").is_file():
        console.print(
            f"[yellow]warning:[/] the page's chart library is missing from {vendor_dir()}: "
            "in a checkout, run bash scripts/setup.sh (npm ci, then scripts/vendor_js.py)"
        )
    registry.warm()  # type: ignore[attr-defined]
    console.print(f"[bold]liqheat[/] serving on http://{host}:{port}/  (API docs at /docs; Ctrl-C stops)")
    try:
        serve(create_app(registry, hosts=hosts), host, port, Limits(header_timeout=header_timeout),  # type: ignore[arg-type]
              log_level=log_level)  # fmt: skip
    finally:
        if feeder is not None:
            feeder.stop()
    console.print("stopped")


@app.command()
def serve(
    bundle: Annotated[list[Path] | None, typer.Option("--bundle", help="A market bundle to serve (repeatable).")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Also serve the embedded synthetic market.")] = True,
    live: Annotated[bool, typer.Option("--live/--still", help="Let the demo market grow by one minute every second.")] = True,
    out: Annotated[
        Path | None,
        typer.Option(help=f"Where the demo market is cached (default: {DEMO_CACHE}/ in the store folder, see --store)."),
    ] = None,
    store_dir: Annotated[
        Path | None,
        typer.Option(
            "--store",
            help="Store folder: its realized liquidations, and the market of --venue (default: $LIQHEAT_HOME or ~/.liqheat).",
        ),
    ] = None,
    venue: Annotated[
        list[str] | None,
        typer.Option("--venue", help="Serve the store's market on this venue (venue or venue:SYMBOL; repeat to aggregate)."),
    ] = None,
    symbol: Annotated[str | None, typer.Option(help="With --store: the market, resolved per venue.")] = None,
    timeframe: Annotated[str, typer.Option(help="With --store: the candle timeframe.")] = "1m",
    since: Annotated[str | None, typer.Option(help="With --store: first time to serve (default: all stored).")] = None,
    onchain: Annotated[
        list[str] | None,
        typer.Option(
            "--onchain",
            help="SOURCE=PATH: exact on-chain levels beside the estimated map of the markets on their asset "
            "(aave=an Aave v3 snapshot folder, levels on BTC; repeatable).",
        ),
    ] = None,
    allowed_host: AllowedHost = None,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a whole request head; slower ones are closed.")
    ] = 10.0,
    log_level: Annotated[
        str | None,
        typer.Option(help="debug, info, warning or error: log at this level (JSON lines when not a terminal), access log too."),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the heatmap page at /."""
    from liqheat.logs import LEVELS

    if log_level is not None and log_level not in LEVELS:
        fail(f"--log-level must be one of {', '.join(LEVELS)}, got {log_level!r}")
    from liqheat.api.markets import Registry

    if not (0 < port < 65536):
        fail(f"--port must be 1..65535, got {port}")
    registry = Registry()
    feeder = None
    try:
        for folder in bundle or []:
            registry.add_folder(folder)
        if store_dir is not None or venue:
            from liqheat.store.aggregate import parse_feeds
            from liqheat.store.parquet_store import Store
            from liqheat.timeutil import parse_time

            store = Store(store_dir)
            if not store.root.is_dir():
                fail(f"--store {store.root}: no such folder (fetch, follow or import into it first)")
            registry.store = store
            if venue:
                registry.add_store(store, parse_feeds(venue, symbol), timeframe, parse_time(since, "--since"))
        if demo:
            feeder = add_demo_market(registry, out if out is not None else store_root(store_dir) / DEMO_CACHE, live=live)
        for item in onchain or []:
            attach_onchain(registry, item)
    except DomainError as exc:
        fail(exc)
    if not len(registry):
        if registry.store is not None:
            fail("--store needs --venue to serve a market (e.g. --venue binance --symbol BTC/USDT:USDT), or leave --demo on")
        fail("nothing to serve: give --bundle DIR or leave --demo on")
    serve_registry(registry, host, port, allowed_host, header_timeout, feeder, log_level)


ONCHAIN = ("aave", "hyperliquid")


def attach_onchain(registry: object, item: str) -> None:
    """``--onchain SOURCE=PATH``: the source's exact levels beside the markets on their asset: ``aave=`` an Aave
    snapshot folder, ``hyperliquid=`` a store that ``liqheat onchain follow`` keeps (each coin it holds)."""
    from liqheat.analytics.exact import Snapshots, aave_levels, stored_sources

    source, _, path = item.partition("=")
    source = source.strip().lower()
    if source not in ONCHAIN or not path.strip():
        fail(f"--onchain must be SOURCE=PATH with SOURCE one of {', '.join(ONCHAIN)}, got {item!r}")
    folder = Path(path.strip())
    if not folder.is_dir():
        fail(f"--onchain {item}: {folder} is not a folder")
    if source == "aave":
        with console.status(f"reading the exact levels of {folder}"):
            levels = aave_levels(str(folder))
        shown = registry.add_exact(Snapshots.of(levels))  # type: ignore[attr-defined]
        console.print(f"{levels.source}: {len(levels.price):,} exact levels of {levels.positions:,} positions as of "
                      f"{levels.as_of:%Y-%m-%d}, beside {', '.join(shown)}")  # fmt: skip
        return
    coins = stored_sources(folder)
    if not coins:
        fail(f"--onchain {item}: the store {folder} holds no Hyperliquid positions (liqheat onchain follow writes them)")
    attached = []
    for coin in coins:
        try:
            attached += [f"{coin.coin} → {m}" for m in registry.add_exact(coin)]  # type: ignore[attr-defined]
        except DomainError:
            continue  # a coin no served market is on
    if not attached:
        held = ", ".join(c.coin for c in coins)
        fail(f"--onchain {item}: no market served is on a coin the store holds positions of ({held})")
    console.print(f"hyperliquid: exact levels of the stored positions beside {', '.join(attached)}")


def add_demo_market(registry: object, out: Path, live: bool = False, params: SimParams | None = None) -> Feeder | None:
    """The synthetic market of ``liqheat demo`` (simulated once, then reused from ``out``); with ``live``,
    the started :class:`~liqheat.demo.live.Feeder` that grows it (the caller stops it).

    ``live`` simulates one more day and publishes it a minute per second, so the page has a market that
    grows (the cached days are the same market: same seed, same random stream). It resumes where the
    last run left off (``out/live.json``, see :mod:`liqheat.demo.clock`): a restart never turns the
    market's clock back.
    """
    from liqheat.api.markets import LIVE_SCORE_EVERY, Registry
    from liqheat.demo import clock
    from liqheat.demo.job import market as demo_market
    from liqheat.evaluation.synthetic.market import SimParams, simulate
    from liqheat.fsutil import check_writable

    assert isinstance(registry, Registry)
    params = params or SimParams()
    check_writable(out, folder=True, param="out")
    sim, reused = demo_market(out, params)
    if not reused:
        console.print(f"simulated the demo market (cached in {out} for next time)")
    if not live:
        registry.add(sim.bundle, market_id="demo", kind="synthetic")
        return None
    from liqheat.demo.live import Feeder, published

    start = clock.resume_at(out, params)
    full = simulate(clock.ahead(params, start)).bundle
    market = registry.add(published(full, start), market_id="demo", kind="synthetic")
    market.score_every = LIVE_SCORE_EVERY
    feeder = Feeder(market, full, start, record=clock.Recorder(out, params)).start()
    console.print("the demo market grows by one simulated minute every second (--still to stop it)")
    return feeder
