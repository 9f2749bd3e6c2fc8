"""``liqheat config check`` and ``liqheat alerts list|test|history``: the service's config and its alerts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape

from liqheat.cli.common import app, console, emit_json, errors, fail
from liqheat.model import DomainError

if TYPE_CHECKING:
    from liqheat.service.config import ConfigError, ServiceConfig

ConfigArg = Annotated[Path, typer.Argument(help="The service's TOML config (see deploy/liqheat.example.toml).")]
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The service's TOML config (see deploy/liqheat.example.toml).")
]


def _config_failed(exc: ConfigError) -> NoReturn:
    """Every problem of the config on its own line, then exit 2."""
    for key, message in exc.problems:
        where = f"{exc.source}: {key}: " if key else f"{exc.source}: "
        errors.print(f"[bold red]error:[/] {escape(where + message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _load(path: Path) -> ServiceConfig:
    from liqheat.service.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        _config_failed(exc)


config_app = typer.Typer(help="The service's config: check it.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(config: ConfigArg) -> None:
    """Read a config as the service would (environment variables over it) and say what it asks for; exit 2 naming
    each bad key."""
    from liqheat.service.config import summary

    cfg = _load(config)
    try:
        lines = summary(cfg)
    except DomainError as exc:
        fail(exc)
    console.print(escape(f"{config}: valid"), highlight=False)
    for line in lines:
        console.print(escape(f"  {line}"), highlight=False, soft_wrap=True)


alerts_app = typer.Typer(help="Alert rules, a test alert to every destination, and the alerts sent so far.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("list")
def alerts_list(config: ConfigOption = Path("liqheat.toml")) -> None:
    """The config's alert rules and where each sends."""
    from liqheat.service.config import describe_rule

    cfg = _load(config)
    try:
        rules = cfg.rules()
        destinations = cfg.build_destinations()
    except DomainError as exc:
        fail(exc)
    if not rules:
        console.print(f"{config}: no alert rules")
    for rule in rules:
        console.print(
            escape(f"{describe_rule(rule)} → {', '.join(rule.destinations or destinations) or 'nowhere'}"),
            highlight=False,
            soft_wrap=True,
        )
    for name, d in destinations.items():
        console.print(escape(f"destination {name}: {d.describe()}"), highlight=False, soft_wrap=True)


@alerts_app.command("test")
def alerts_test(config: ConfigOption = Path("liqheat.toml")) -> None:
    """Send a test alert to every destination now (not through the outbox) and say how each went; exit 1 if one failed."""
    from liqheat.alerts.deliver import send_trial

    cfg = _load(config)
    try:
        destinations = cfg.build_destinations()
    except DomainError as exc:
        fail(exc)
    if not destinations:
        fail(f"{config}: no destinations to test")
    results = send_trial(destinations)
    for name, problem in results.items():
        if problem is None:
            console.print(
                f"[green]sent[/]   {escape(name)}: {escape(destinations[name].describe())}", highlight=False, soft_wrap=True
            )
        else:
            console.print(f"[red]failed[/] {escape(name)}: {escape(problem)}", highlight=False, soft_wrap=True)
    if any(p is not None for p in results.values()):
        raise typer.Exit(1)


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


@alerts_app.command("history")
def alerts_history(
    config: ConfigOption = Path("liqheat.toml"),
    state: Annotated[Path | None, typer.Option("--state", help="The alert state file itself (instead of the config's).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="The newest N alerts.")] = 20,
    market: Annotated[str | None, typer.Option(help="Only this market's alerts (its id, e.g. btc-binance-1m).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """The alerts recorded, newest first, with where each was delivered and why a delivery is still waiting."""
    from liqheat.alerts.state import AlertStore

    path = state if state is not None else _load(config).state_path
    if not path.is_file():
        fail(f"{'--state' if state is not None else 'the alert state'} {path}: no such file (no alert recorded yet?)")
    try:
        with AlertStore(path) as store:
            records = store.history(limit, market)
            waiting = store.waiting()
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(
            [
                {
                    "seq": r.seq,
                    "recorded": _when(r.created),
                    **r.alert.to_dict(),
                    "deliveries": [d.__dict__ for d in r.deliveries],
                }
                for r in records
            ]
        )
        return
    if not records:
        console.print(f"{path}: no alerts" + (f" for {market}" if market else ""))
    for r in records:
        console.print(f"[bold]{_when(r.created)}[/] {escape(r.alert.title)}", highlight=False, soft_wrap=True)
        console.print(escape(f"  {r.alert.text}"), highlight=False, soft_wrap=True)
        for d in r.deliveries:
            if d.status == "delivered":
                line = f"  [green]delivered[/] {escape(d.destination)} at {_when(d.delivered_at)} (try {d.attempts})"
            else:
                tried = f", {d.attempts} failed tries, last: {d.last_error}" if d.attempts else ""
                line = f"  [yellow]waiting[/]   {escape(d.destination)}: next try {_when(d.next_try)}{escape(tried)}"
            console.print(line, highlight=False, soft_wrap=True)
    failing = [d for d in waiting if d.attempts]
    if waiting:
        console.print(f"{len(waiting)} deliveries waiting, {len(failing)} of them after failures", highlight=False)


@app.command("run")
def run_service(
    config: ConfigOption,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Follow the markets into the store (off: another process writes).")
    ] = True,
    tick: Annotated[float, typer.Option(help="Seconds between two looks at the store, the rules and the outbox.")] = 1.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error (JSON lines when not a terminal).")] = "info",
) -> None:
    """Run the service: follow the config's markets, serve them, alert on them; SIGHUP rereads the config. Exit 2 on a
    bad config, 3 when every venue refused."""
    import signal

    from liqheat.api.app import create_app
    from liqheat.api.hosts import allowed_hosts
    from liqheat.api.server import Limits, serve
    from liqheat.logs import LEVELS, configure
    from liqheat.service.run import Service

    if log_level not in LEVELS:
        fail(f"--log-level must be one of {', '.join(LEVELS)}, got {log_level!r}")
    if not (0.05 <= tick <= 3600):
        fail(f"--tick must be in [0.05, 3600] seconds, got {tick:g}")
    cfg = _load(config)
    configure(log_level)
    try:
        service = Service(cfg, config, follow=follow, tick=tick)
        service.start()
        hosts = allowed_hosts(cfg.server.host, [])
    except DomainError as exc:
        fail(exc)
    signal.signal(signal.SIGHUP, lambda *_: service.reload_asked.set())
    console.print(f"[bold]liqheat run[/]: {len(service.specs())} markets, {len(cfg.alerts)} rules, "
                  f"http://{cfg.server.host}:{cfg.server.port}/ (SIGHUP rereads {config}; Ctrl-C stops)")  # fmt: skip
    try:
        serve(create_app(service.registry, hosts=hosts), cfg.server.host, cfg.server.port, Limits(), log_level=log_level)
    finally:
        service.stop()
    if service.followers is not None and service.followers.all_failed():
        errors.print("[bold red]error:[/] every venue refused: " + "; ".join(service.followers.failed.values()))
        raise typer.Exit(code=3)
    console.print("stopped")
