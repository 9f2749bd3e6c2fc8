"""What every command module shares: the typer app, the consoles, and how bad input and JSON leave."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="liqheat",
    help="liqheat: an open, measured liquidation heatmap for crypto perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from liqheat import __version__

        typer.echo(f"liqheat {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print liqheat's version and exit.")
    ] = False,
) -> None:
    # no docstring: the app's help stays the one given to typer.Typer above
    pass


def fail(message: str) -> NoReturn:
    """Bad input: say what is wrong on stderr and exit 2 (the convention for usage errors)."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


BundleArg = Annotated[Path, typer.Argument(help="A market bundle folder (meta.json, candles, open_interest, ...).")]
