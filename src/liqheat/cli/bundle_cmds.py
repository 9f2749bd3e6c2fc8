"""``liqheat info`` and ``liqheat convert``: a bundle validated and summarised, or rewritten."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqheat.cli.common import BundleArg, app, console, emit_json, fail
from liqheat.model import DomainError


@app.command()
def info(bundle: BundleArg, as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Validate a market bundle and summarise it: rows, time range, gaps, liquidations."""
    from liqheat.bundle import read_bundle
    from liqheat.cli.summary import bundle_summary, print_bundle_summary
    from liqheat.engine.bounds import check_bundle

    try:
        loaded = read_bundle(bundle)
        check_bundle(loaded)
    except DomainError as exc:
        fail(exc)
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
    from liqheat.fsutil import check_writable

    if fmt not in ("csv", "parquet"):
        fail(f"--format must be csv or parquet, got {fmt!r}")
    try:
        check_writable(out, folder=True, param="out")
        loaded = read_bundle(bundle)
        written = write_bundle(loaded, out, fmt="csv" if fmt == "csv" else "parquet", overwrite=overwrite)
    except DomainError as exc:
        fail(exc)
    console.print(f"wrote {written} ({fmt}, {len(loaded.candles):,} candles)")
