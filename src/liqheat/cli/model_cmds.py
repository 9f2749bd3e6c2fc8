"""``liqheat replay``, ``score``, ``fit`` and ``heatmap``: the engine's faces."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from liqheat.cli.common import BundleArg, app, console, emit_json, fail
from liqheat.model import DomainError

if TYPE_CHECKING:
    import pandas as pd

    from liqheat.engine.params import ModelParams
    from liqheat.evaluation.score import ScoreReport

ParamsFile = Annotated[Path | None, typer.Option("--params", help="A JSON file of model parameters (see liqheat fit --out).")]
SetParam = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one model parameter, NAME=VALUE (repeatable), e.g. --set half_life_hours=48."),
]


def load_params(path: Path | None, overrides: list[str] | None) -> ModelParams:
    from liqheat.engine.params import ModelParams

    params = ModelParams()
    if path is not None:
        try:
            params = ModelParams.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DomainError(f"--params {path}: cannot read ({exc.strerror})") from None
        except DomainError as exc:  # the file is the parameter at fault, not a --set
            raise DomainError(f"--params {path}: {exc}", param="--params") from None
    pairs: dict[str, str] = {}
    for item in overrides or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DomainError(f"--set takes NAME=VALUE, got {item!r}")
        pairs[name.strip()] = value.strip()
    return params.with_overrides(pairs) if pairs else params


def _ts(text: str | None, what: str) -> pd.Timestamp | None:
    from liqheat.timeutil import parse_time

    return parse_time(text, what)


@app.command()
def replay(
    bundle: BundleArg,
    out: Annotated[Path, typer.Option("--out", help="CSV to write: ts,long_usd,short_usd, one row per candle.")],
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Replay a bundle causally and write each candle's predicted liquidations."""
    from liqheat.bundle.read import read_columns
    from liqheat.engine.replay import MarketView, predicted_sides
    from liqheat.fsutil import check_writable
    from liqheat.render.files import write_predictions

    try:
        check_writable(out, param="out")
        params = load_params(params_file, set_param)
        view = MarketView.from_columns(read_columns(bundle))
        write_predictions(view.ts, *predicted_sides(view, params), out, param="out")
    except DomainError as exc:
        fail(exc)
    console.print(f"wrote {out} ({len(view):,} candles) · params {params.to_json()}", highlight=False, soft_wrap=True)


def _fmt(x: object) -> str:
    return f"{x:.3f}" if isinstance(x, float) else "—"


def print_score(report_dict: dict[str, object], title: str) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)  # fits 80 columns
    for column in ("side", "liqheat", "naive", "excursion", "yardstick", "margin", "buckets", "pred/real"):
        table.add_column(column, justify="left" if column == "side" else "right")
    for side in ("long", "short"):
        s = report_dict[side]
        assert isinstance(s, dict)
        margin = s["margin"]
        margin_text = "—" if margin is None else f"[{'green' if margin > 0 else 'red'}]{margin:+.3f}[/]"
        ratio = s["predicted_to_realized"]
        table.add_row(
            side,
            *(_fmt(s[key]) for key in ("model", "naive", "excursion", "yardstick")),
            margin_text,
            str(s["buckets"]),
            "—" if ratio is None else f"{ratio:.2f}",
        )
    console.print(table)


def verdict(report: ScoreReport) -> str:
    """One line a trader can act on: does the map explain more than the yardstick, per side?"""
    parts = []
    for s in report.sides:
        if math.isnan(s.margin):  # too few buckets
            parts.append(f"{s.side}: not enough buckets")
        elif s.margin >= 0.05:
            parts.append(f"[green]{s.side} beats the yardstick by {s.margin:+.3f} (≥ 0.05)[/]")
        elif s.margin > 0:
            parts.append(f"[yellow]{s.side} beats the yardstick by {s.margin:+.3f}[/]")
        else:
            parts.append(f"[red]{s.side} does not beat the yardstick ({s.margin:+.3f})[/]")
    return " · ".join(parts)


@app.command()
def score(
    bundle: BundleArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    start: Annotated[str | None, typer.Option("--from", help="Score only buckets from this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Score only buckets before this time.")] = None,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
    calibration_file: Annotated[
        Path | None, typer.Option("--calibration", help="Apply a calibration (liqheat calibrate --out) to the map first.")
    ] = None,
) -> None:
    """Spearman rank correlation of the model with realized liquidations, beside the yardstick."""
    from rich.markup import escape

    from liqheat.bundle import read_bundle
    from liqheat.engine import calibration as calib
    from liqheat.evaluation.fit import predict
    from liqheat.evaluation.score import score as score_bundle

    try:
        params = load_params(params_file, set_param)
        loaded = read_bundle(bundle)
        calibration = None
        if calibration_file is not None:
            try:
                text = calibration_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise DomainError(f"--calibration {calibration_file}: cannot read ({exc})", param="--calibration") from None
            calibration = calib.load(text, bundle.name, f"--calibration {calibration_file}")
        report = score_bundle(
            loaded, predict(loaded, params, calibration=calibration), start=_ts(start, "--from"), until=_ts(until, "--until"),
            params={**params.to_dict(), **({"calibration": calibration.to_dict()} if calibration else {})},
        )  # fmt: skip
    except DomainError as exc:
        fail(exc)
    data = report.to_dict()
    if as_json:
        emit_json(data)
        return
    print_score(data, f"{escape(report.bundle)} · {report.window[0]} → {report.window[1]} · {report.interval} buckets")
    console.print(verdict(report), highlight=False)
    console.print(f"[dim]params {escape(params.to_json())}[/]", highlight=False, soft_wrap=True)
    if calibration is not None:
        console.print(f"[dim]calibration {escape(calibration.to_json())}[/]", highlight=False, soft_wrap=True)


@app.command()
def fit(
    bundles: Annotated[list[Path], typer.Argument(help="Bundles to fit on (each is cut at the middle of its scored buckets).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the fitted parameters to this JSON file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
    scheduler: Annotated[
        str | None, typer.Option(help="A Dask scheduler (tcp://host:8786): each candidate is a task on its workers.")
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Without --scheduler: a local Dask cluster of this many processes (0: fit in this one).")
    ] = 0,
) -> None:
    """Fit parameters on the first half of each bundle's scored window, check on the second half."""
    from rich.markup import escape
    from rich.progress import Progress

    from liqheat.bundle import read_bundle
    from liqheat.evaluation.fit import DEFAULT_GRID, Split
    from liqheat.evaluation.fit import fit as fit_params
    from liqheat.fsutil import atomic_write, check_writable

    try:
        if out is not None:
            check_writable(out, param="out")
        start = load_params(params_file, set_param)
        if workers < 0:
            raise DomainError(f"--workers must be ≥ 0, got {workers}", param="workers")
        splits = [Split.halves(read_bundle(path)) for path in bundles]
        client: Any = None
        cluster: Any = None
        if scheduler is not None or workers > 0:
            from liqheat.scale.fit import candidates_on, connect

            client, cluster = connect(scheduler, workers)
            if not as_json:
                console.print(f"[dim]fitting on Dask: {client.dashboard_link}[/]", highlight=False)
        try:
            with Progress(console=console, transient=True, disable=as_json) as progress:
                task = progress.add_task("fitting", total=2 * sum(len(v) for v in DEFAULT_GRID.values()))
                result = fit_params(
                    splits, start=start, progress=lambda done, total: progress.update(task, completed=done, total=total),
                    evaluate=None if client is None else candidates_on(client, splits),
                )  # fmt: skip
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        if out is not None:
            text = result.params.to_json() + "\n"
            atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"), param="out")
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(result.to_dict())
        return
    for split in splits:
        name = split.name
        print_score(result.fit[name].to_dict(), f"{escape(name)} · fit (before {split.at:%Y-%m-%d})")
        print_score(result.check[name].to_dict(), f"{escape(name)} · check (from {split.at:%Y-%m-%d}, unseen while fitting)")
    console.print(f"params {escape(result.params.to_json())}", highlight=False, soft_wrap=True)
    if out is not None:
        console.print(f"wrote {out}")


def _leverage_band(text: str | None) -> tuple[float, float] | None:
    """``10-25`` → (10.0, 25.0); None for every position."""
    if text is None:
        return None
    low, sep, high = text.partition("-")
    try:
        band = (float(low), float(high))
    except ValueError:
        band = (math.nan, math.nan)
    if not sep or not all(math.isfinite(x) and 1 <= x <= 200 for x in band) or band[0] > band[1]:
        raise DomainError(f"--leverage must be LOW-HIGH within 1-200, low ≤ high (e.g. 10-25), got {text!r}")
    return band


@app.command()
def heatmap(
    bundle: BundleArg,
    out: Annotated[Path, typer.Option("--out", help="Output file: .png, .json or .parquet.")],
    window: Annotated[str, typer.Option(help="How much history to show: 12h, 7d, 30d, ...")] = "7d",
    end: Annotated[str | None, typer.Option(help="Last candle shown (ISO 8601); default: the bundle's last candle.")] = None,
    bins: Annotated[int, typer.Option(help="Price rows (at most).")] = 300,
    columns: Annotated[int, typer.Option(help="Time columns (at most).")] = 1000,
    side: Annotated[str, typer.Option(help="both, long or short.")] = "both",
    leverage: Annotated[
        str | None, typer.Option(help="Only positions of this leverage: LOW-HIGH, e.g. 10-25 or 50-200 (the page's filter).")
    ] = None,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """The liquidation heatmap over a window: PNG (candles over the map), JSON or Parquet matrix."""
    from liqheat.bundle import read_bundle
    from liqheat.engine.frames import heatmap_frame
    from liqheat.fsutil import check_writable
    from liqheat.render.files import HEATMAP_SUFFIXES, SIDES, write_heatmap

    if side not in SIDES:
        fail(f"--side must be {', '.join(SIDES[:-1])} or {SIDES[-1]}, got {side!r}")
    if out.suffix.lower() not in HEATMAP_SUFFIXES:
        fail(f"--out must end in {', '.join(HEATMAP_SUFFIXES[:-1])} or {HEATMAP_SUFFIXES[-1]}, got {out.name!r}")
    try:
        check_writable(out, param="out")
        params = load_params(params_file, set_param)
        loaded = read_bundle(bundle)
        band = _leverage_band(leverage)
        frame = heatmap_frame(loaded, params, window=window, end=_ts(end, "--end"), max_bins=bins, max_columns=columns,
                              leverage_band=band)  # fmt: skip
        write_heatmap(frame, out, side=side, param="out")
    except DomainError as exc:
        fail(exc)
    console.print(
        f"wrote {out}: {frame.long.shape[0]} columns × {frame.long.shape[1]} price rows, "
        f"{frame.times[0]:%Y-%m-%d %H:%M} → {frame.times[-1]:%Y-%m-%d %H:%M} UTC"
    )
