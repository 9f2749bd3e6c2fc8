"""Everything that grades the model, gathered for one page (``liqheat report``): the score per bundle and per
calendar month with predicted ÷ realized, how well the reach of clusters is told, what price does after a
sweep, and the parameters with the data range they were used on. :mod:`liqheat.render.report` draws it.

The engine's parameters are not refit here: the per-month scores are of one fixed model, so a month
is out of sample for it exactly as much as the parameters were chosen before that month (README, fit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from liqheat import __version__
from liqheat.bundle import Bundle
from liqheat.engine.params import ModelParams
from liqheat.evaluation import calibrate, hits, sweeps
from liqheat.evaluation.fit import predict
from liqheat.evaluation.score import ScoreReport, score
from liqheat.timeutil import iso

MIN_BUCKETS = 5  # a Spearman over fewer buckets says nothing; such months are listed, not scored


def _side(report: ScoreReport, side: str) -> dict[str, Any]:
    s = report.side(side)

    def num(x: float) -> float | None:
        return None if math.isnan(x) else x

    return {"model": num(s.model), "yardstick": num(s.yardstick), "margin": num(s.margin), "buckets": s.buckets,
            "predicted_to_realized": num(s.total_ratio)}  # fmt: skip


def months(bundle: Bundle, predictions: pd.DataFrame) -> list[dict[str, Any]]:
    """The score of each calendar month from ``score_from`` on (months with too few buckets get no score)."""
    assert bundle.meta.score_from is not None
    first = bundle.meta.score_from.tz_convert("UTC").tz_localize(None).to_period("M").to_timestamp().tz_localize("UTC")
    end = bundle.candles["ts"].iloc[-1] + bundle.meta.timeframe_delta
    out = []
    start = first
    while start < end:
        until = start + pd.offsets.MonthBegin(1)
        r = score(bundle, predictions, start=start, until=until)
        row: dict[str, Any] = {"month": f"{start:%Y-%m}", "from": r.window[0], "until": iso(until)}
        for side in ("long", "short"):
            figures = _side(r, side)
            if figures["buckets"] < MIN_BUCKETS:
                figures.update(model=None, yardstick=None, margin=None)
            row[side] = figures
        out.append(row)
        start = until
    return out


def calibrated(
    bundles: Sequence[Bundle], parts: Sequence[calibrate.Parts], result: calibrate.WalkForward
) -> list[dict[str, Any]]:
    """Per bundle, the engine and its walk-forward calibration side by side: whole window and each month."""
    rows = []
    for bundle, part in zip(bundles, parts, strict=True):
        engine = calibrate.frame(part, part.swept)
        walked = calibrate.frame(part, result.predictions[part.name])
        whole = {"engine": score(bundle, engine), "calibrated": score(bundle, walked)}
        by_month = {"engine": months(bundle, engine), "calibrated": months(bundle, walked)}
        rows.append({
            "name": part.name,
            "whole": {k: {side: _side(r, side) for side in ("long", "short")} for k, r in whole.items()},
            "months": [{"month": e["month"], "engine": {side: e[side] for side in ("long", "short")},
                        "calibrated": {side: c[side] for side in ("long", "short")}}
                       for e, c in zip(by_month["engine"], by_month["calibrated"], strict=True)],
            "calibration": result.final[part.name].to_dict(),
        })  # fmt: skip
    return rows


def build(
    bundles: Sequence[Bundle],
    params: ModelParams | None = None,
    *,
    every_hours: float = 4.0,
    draws: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The report's data; each bundle needs realized liquidations (``score_from``)."""
    params = params or ModelParams()
    tell = progress or (lambda _: None)
    per_bundle: list[dict[str, Any]] = []
    samples = []
    for bundle in bundles:
        name = bundle.path.name if bundle.path else bundle.meta.symbol
        pred = predict(bundle, params)
        step = bundle.meta.timeframe_delta
        whole = score(bundle, pred, params=params.to_dict())
        per_bundle.append({
            "name": name,
            "symbol": bundle.meta.symbol,
            "venues": list(bundle.meta.venues),
            "timeframe": bundle.meta.timeframe,
            "data": {"from": iso(bundle.candles["ts"].iloc[0]), "until": iso(bundle.candles["ts"].iloc[-1] + step)},
            "scored": {"from": whole.window[0], "until": whole.window[1], "interval": whole.interval},
            "long": _side(whole, "long"),
            "short": _side(whole, "short"),
            "months": months(bundle, pred),
        })  # fmt: skip
        tell(f"{name}: scored")
        samples.append(hits.samples(bundle, params, every_hours=every_hours))
        tell(f"{name}: cluster samples")
    parts = [calibrate.Parts.of(b, params) for b in bundles]
    walked = calibrate.walk_forward(parts)
    tell("calibrated walk-forward")
    pooled = pd.concat(samples, ignore_index=True)
    reach = hits.report(pooled, reps=draws)
    tell("reach graded")
    after = sweeps.sweeps(bundles, params, names=[str(b["name"]) for b in per_bundle])
    tell("sweeps studied")
    return {
        "version": __version__,
        "params": params.to_dict(),
        "bundles": per_bundle,
        "calibrated": calibrated(bundles, parts, walked),
        "calibration_settings": walked.settings,
        "reach": reach,
        "sweeps": {"settings": after["settings"], "pooled": after["pooled"] or after["bundles"][0]},
    }
