"""The ``liqheat`` command line. Each command calls one library function and formats its result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from liqheat.model import DomainError

app = typer.Typer(
    name="liqheat",
    help="liqheat: an open, measured liquidation heatmap for crypto perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Bad input: say what is wrong on stderr and exit 2 (the convention for usage errors)."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


BundleArg = Annotated[Path, typer.Argument(help="A market bundle folder (meta.json, candles, open_interest, ...).")]


@app.command()
def info(bundle: BundleArg, as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Validate a market bundle and summarise it: rows, time range, gaps, liquidations."""
    from liqheat.bundle import read_bundle
    from liqheat.cli.summary import bundle_summary, print_bundle_summary

    try:
        loaded = read_bundle(bundle)
    except DomainError as exc:
        fail(str(exc))
    summary = bundle_summary(loaded)
    if as_json:
        emit_json(summary)
    else:
        print_bundle_summary(console, summary)


@app.command()
def convert(
    bundle: BundleArg,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the converted bundle to.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "parquet",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing bundle at --out.")] = False,
) -> None:
    """Rewrite a bundle as CSV or Parquet (validated on the way; written atomically)."""
    from liqheat.bundle import read_bundle, write_bundle

    if fmt not in ("csv", "parquet"):
        fail(f"--format must be csv or parquet, got {fmt!r}")
    try:
        loaded = read_bundle(bundle)
        written = write_bundle(loaded, out, fmt="csv" if fmt == "csv" else "parquet", overwrite=overwrite)
    except DomainError as exc:
        fail(str(exc))
    console.print(f"wrote {written} ({fmt}, {len(loaded.candles):,} candles)")


def main() -> None:
    from liqheat.cli import calc, demo, model_cmds, serve, store_cmds, trader  # noqa: F401  (registers their commands)

    app()


if __name__ == "__main__":
    main()
