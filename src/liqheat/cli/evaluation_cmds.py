"""``liqheat calibrate``, ``hits``, ``sweeps`` and ``report``: the evaluation's faces."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from liqheat.cli.common import app, console, emit_json, errors, fail
from liqheat.cli.model_cmds import ParamsFile, SetParam, load_params
from liqheat.model import DomainError


def _hours(text: str, what: str) -> float:
    from liqheat.timeutil import parse_duration

    return float(parse_duration(text, what).total_seconds() / 3600)


def _ci(stat: dict[str, Any] | None, scale: float = 1.0, digits: int = 2, signed: bool = False) -> str:
    """``46 [40, 53]``; bold when a difference's interval excludes 0."""
    if not stat or stat.get("estimate") is None:
        return "—"
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    if stat.get("low") is None:
        return f.format(stat["estimate"] * scale)
    est, low, high = (f.format(stat[k] * scale) for k in ("estimate", "low", "high"))
    text = escape(f"{est} [{low}, {high}]")
    return f"[bold]{text}[/]" if signed and (stat["low"] > 0 or stat["high"] < 0) else text


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _table(title: str, columns: tuple[str, ...]) -> Any:
    from rich.table import Table

    table = Table(title=escape(title), header_style="bold", show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="left" if column == "group" else "right", no_wrap=True)
    return table


def _print_report(title: str, rep: dict[str, Any], horizon: float) -> None:
    console.rule(escape(title))
    rates = _table("continuation rate, %", ("group", "after", "n", "sweeps", "null", "Δ pts"))
    means = _table("mean signed return, % (+ continuation, − reversal)", ("group", "after", "sweeps", "null", "Δ"))
    for g in rep["groups"]:
        c, m = g["continuation"], g["mean_pct"]
        head = (g["group"], f"{g['after_hours']}h")
        rates.add_row(*head, str(c["cluster"].get("n", 0)), _ci(c["cluster"], 100, 0), _ci(c["null"], 100, 0),
                      _ci(c["diff"], 100, 0, signed=True))  # fmt: skip
        means.add_row(*head, _ci(m["cluster"], signed=True), _ci({"estimate": m["null"]["estimate"]}, signed=True),
                      _ci(m["diff"], signed=True))  # fmt: skip
    touch = _table(f"reached within {horizon:g} h, %", ("group", "clusters", "touch", "null", "Δ pts"))
    for t in rep["touch"]:
        null = {"estimate": t["null"]["estimate"]}
        touch.add_row(t["group"], str(t["cluster"].get("n", 0)), _ci(t["cluster"], 100, 1), _ci(null, 100, 1),
                      _ci(t["diff"], 100, 1, signed=True))  # fmt: skip
    for table in (rates, means, touch):
        console.print(table)
    said = None
    for c in rep["claims"]:
        if c["claim"] != said:
            console.print(f"[bold]{escape(c['claim'])}[/]", highlight=False, soft_wrap=True)
            said = c["claim"]
        after = "" if c["after_hours"] is None else f" · {c['after_hours']}h"
        colour = {"supported": "green", "contradicted": "red"}.get(c["verdict"], "default")
        console.print(f"  {escape(c['group'] + after)}: [{colour}]{c['verdict']}[/] ({escape(c['detail'])})",
                      highlight=False, soft_wrap=True)  # fmt: skip


@app.command()
def sweeps(
    bundles: Annotated[list[Path], typer.Argument(help="Market bundle folders (pooled over calendar days when several).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    horizon: Annotated[str, typer.Option(help="How long after a sample a cluster may be swept.")] = "72h",
    every: Annotated[str, typer.Option(help="Sample the map on this UTC grid.")] = "4h",
    warmup: Annotated[str, typer.Option(help="Skip samples this early in each bundle (the map is still thin).")] = "7d",
    top: Annotated[int, typer.Option(help="Clusters per side at each sample, largest first.")] = 3,
    reach: Annotated[float, typer.Option(help="Only clusters within this many ATRs of price (0: the whole map).")] = 10.0,
    nulls: Annotated[int, typer.Option(help="Random levels per cluster for the null.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the null's levels and of the bootstrap.")] = 0,
    draws: Annotated[int, typer.Option(help="Bootstrap draws.")] = 2000,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """After a sweep: continuation or reversal 1/4/24 h after a cluster is swept, against random levels at its distance."""
    from liqheat.bundle import read_bundle
    from liqheat.evaluation.sweeps import SweepSettings
    from liqheat.evaluation.sweeps import sweeps as run_sweeps

    try:
        params = load_params(params_file, set_param)
        settings = SweepSettings(
            horizon_hours=_hours(horizon, "--horizon"), every_hours=_hours(every, "--every"),
            warmup_hours=_hours(warmup, "--warmup"), top=top, reach_atr=reach if reach > 0 else math.inf, nulls=nulls,
            seed=seed, draws=draws,
        )  # fmt: skip
        loaded = [read_bundle(path) for path in bundles]
        result = run_sweeps(loaded, params, settings, names=[path.name for path in bundles],
                            progress=None if as_json else lambda name: errors.print(f"[dim]{name} done[/]"))  # fmt: skip
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(result)
        return
    for rep in result["bundles"]:
        title = f"{rep['name']} · {rep['samples']} samples · {rep['selections']} clusters · {rep['events']} sweeps"
        _print_report(title, rep, settings.horizon_hours)
    if result["pooled"] is not None:
        pooled = result["pooled"]
        _print_report(f"pooled · {pooled['selections']} clusters · {pooled['events']} sweeps", pooled, settings.horizon_hours)
    console.print(
        "[dim]continuation = share of sweeps followed by a further move the same way; null = random levels at the same "
        "side and ATR distance from a random candle's close; \\[low, high] = 95 % block bootstrap over days; bold Δ: the "
        "interval excludes 0, otherwise no difference[/]",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def hits(
    bundles: Annotated[list[Path], typer.Argument(help="Market bundles (the pooled figures put their samples together).")],
    every: Annotated[str, typer.Option(help="A map every so long.")] = "4h",
    top: Annotated[int, typer.Option(min=1, max=20, help="Clusters per side of each map.")] = 5,
    draws: Annotated[int, typer.Option(min=100, max=20_000, help="Block-bootstrap draws.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """How well the chance a cluster is reached is told: the driftless model against learned ones, walk-forward."""
    import pandas as pd
    from rich.progress import Progress

    from liqheat.bundle import read_bundle
    from liqheat.evaluation.hits import report, samples

    try:
        params = load_params(params_file, set_param)
        every_h = _hours(every, "--every")
        data, reports = {}, {}
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("maps, clusters, walk-forward fits", total=2 * len(bundles) + (len(bundles) > 1))
            for path in bundles:
                data[path.name] = samples(read_bundle(path), params, every_hours=every_h, top=top)
                progress.advance(task)
                reports[path.name] = report(data[path.name], reps=draws)
                progress.advance(task)
            if len(data) > 1:
                reports["pooled"] = report(pd.concat(data.values(), ignore_index=True), reps=draws)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(reports)
        return
    for name, rep in reports.items():
        table = _table(f"{name}: chance a cluster's near edge is reached (walk-forward, out of sample)",
                       ("horizon", "samples", "observed", "baseline says", "Brier baseline", "base rate",
                        "isotonic skill", "boosted skill"))  # fmt: skip
        for horizon, r in rep.items():
            if not r["samples"]:
                table.add_row(horizon, "0", *["—"] * 6)
                continue
            skill = {s["model"]: s for s in r["skill"]}
            shown = [_ci({"estimate": skill[m]["skill"], "low": skill[m]["low"], "high": skill[m]["high"]}, signed=True, digits=3)
                     for m in ("isotonic", "boosted")]  # fmt: skip
            table.add_row(horizon, f"{r['samples']:,}", f"{r['observed']:.2%}", f"{r['baseline_mean']:.2%}",
                          f"{r['brier']['baseline']:.4f}", f"{r['brier']['base_rate']:.4f}", *shown)  # fmt: skip
        console.print(table)


@app.command()
def report(
    bundles: Annotated[list[Path], typer.Argument(help="Market bundles with realized liquidations.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML page to write (self-contained: no script, no network).")],
    every: Annotated[str, typer.Option(help="A map every so long, for the reach and sweep studies.")] = "4h",
    draws: Annotated[int, typer.Option(min=100, max=20_000, help="Block-bootstrap draws.")] = 1000,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """One HTML page of how good the model is: score per bundle and month, reach of clusters, after a sweep."""
    from rich.progress import Progress

    from liqheat.bundle import read_bundle
    from liqheat.evaluation.report import build
    from liqheat.fsutil import check_writable
    from liqheat.render.report import write_report

    try:
        check_writable(out, param="out")
        params = load_params(params_file, set_param)
        every_h = _hours(every, "--every")
        loaded = [read_bundle(path) for path in bundles]
        with Progress(console=errors, transient=True) as progress:
            task = progress.add_task("score, reach, sweeps", total=2 * len(loaded) + 3)
            data = build(loaded, params, every_hours=every_h, draws=draws, progress=lambda _: progress.advance(task))
        write_report(data, out)
    except DomainError as exc:
        fail(exc)
    console.print(f"wrote {out}")


def _cell(side: dict[str, Any]) -> tuple[str, str]:
    model, ratio = side.get("model"), side.get("predicted_to_realized")
    return ("—" if model is None else f"{model:.3f}", "—" if ratio is None else f"{ratio:.2f}")


@app.command()
def calibrate(
    bundles: Annotated[list[Path], typer.Argument(help="Market bundles with realized liquidations (the background is pooled).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the calibration fitted on all the data (JSON, one per bundle).")
    ] = None,
    refit: Annotated[str, typer.Option("--refit", help="Refit every so long (walk-forward).")] = "7d",
    min_train: Annotated[str, typer.Option("--min-train", help="Realized history needed before the first refit.")] = "7d",
    window: Annotated[str, typer.Option("--window", help="Trailing realized history the scale is fitted on.")] = "14d",
    shrink: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="How far (in log) the scale moves to the trailing ratio.")
    ] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    params_file: ParamsFile = None,
    set_param: SetParam = None,
) -> None:
    """Fit the map's calibration walk-forward (background, scale) and score it per bundle and month against the engine."""
    from rich.progress import Progress

    from liqheat.bundle import read_bundle
    from liqheat.evaluation import calibrate as calib
    from liqheat.evaluation.report import calibrated
    from liqheat.fsutil import atomic_write, check_writable

    try:
        if out is not None:
            check_writable(out, param="out")
        params = load_params(params_file, set_param)
        spans = (("--refit", refit), ("--min-train", min_train), ("--window", window))
        days = {name: _hours(text, name) / 24 for name, text in spans}
        loaded = [read_bundle(path) for path in bundles]
        with Progress(console=errors, transient=True, disable=as_json) as progress:
            task = progress.add_task("walk-forward", total=None)
            parts = [calib.Parts.of(b, params) for b in loaded]
            result = calib.walk_forward(
                parts, refit_days=days["--refit"], min_train_days=days["--min-train"], window_days=days["--window"],
                shrink=shrink, progress=lambda done, total: progress.update(task, completed=done, total=total),
            )  # fmt: skip
        rows = calibrated(loaded, parts, result)
        data = {**calib.summary(result), "bundles": rows, "params": params.to_dict()}
        if out is not None:
            text = json.dumps({"calibrations": data["calibrations"], "settings": data["settings"]}, indent=2, sort_keys=True)
            atomic_write(out, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"), param="out")
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(data)
        return
    for row in rows:
        table = _table(f"{row['name']} · walk-forward", ("period", "side", "engine", "calib.", "yardst.", "eng. ÷", "calib. ÷"))
        for period in [{"month": "whole", **row["whole"]}, *row["months"]]:
            for side in ("long", "short"):
                e, c = period["engine"][side], period["calibrated"][side]
                if e.get("buckets", 0) == 0:
                    continue
                ys = c.get("yardstick")
                table.add_row(period["month"] if side == "long" else "", side, _cell(e)[0], _cell(c)[0],
                              "—" if ys is None else f"{ys:.3f}", _cell(e)[1], _cell(c)[1])  # fmt: skip
        console.print(table)
    console.print("[dim]Spearman per side; ÷ = predicted ÷ realized (target: [0.5, 2] per month, [0.67, 1.5] whole)[/]")
    for name, c in result.final.items():
        console.print(f"{escape(name)}: {escape(c.to_json())}", highlight=False, soft_wrap=True)
    if out is not None:
        console.print(f"wrote {out}")
