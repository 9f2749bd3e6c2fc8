"""Fit model parameters on the early part of a bundle and check them on the later part.

Coordinate descent over a small grid per parameter: the objective is the mean of the long and short
Spearman scores on the fit window. Then ``at_risk_share`` is set so that predicted and realized
totals match on the fit window. That last step is a scale, so it leaves rank scores unchanged.
Nothing from the check window is seen while fitting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from liqheat.bundle import Bundle
from liqheat.engine.calibration import Calibration
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView, predicted_sides
from liqheat.evaluation.score import ScoreReport, score
from liqheat.model import DomainError
from liqheat.timeutil import parse_duration

DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "turnover_per_hour": (0.01, 0.02, 0.05, 0.1, 0.2),
    "half_life_hours": (12.0, 24.0, 48.0, 96.0, 192.0),
    "intra_sweep": (0.25, 0.5, 0.75, 1.0),
    "leverage_median": (5.0, 10.0, 15.0, 25.0, 40.0),
    "leverage_sigma": (0.5, 0.8, 1.2),
    "half_life_exponent": (0.0, 0.5, 1.0),
    "split_damping": (0.0, 0.1, 0.2, 0.3),
}


def predict(
    bundle: Bundle, params: ModelParams, view: MarketView | None = None, calibration: Calibration | None = None
) -> pd.DataFrame:
    """Per-candle predicted liquidations (ts, long_usd, short_usd) of a causal replay, calibrated if asked."""
    view = view or MarketView.from_bundle(bundle)
    long_usd, short_usd = predicted_sides(view, params)
    if calibration is not None:
        long_usd, short_usd = calibration.predicted(long_usd, short_usd, view.open, view.high, view.low, view.oi_before)
    return pd.DataFrame({"ts": bundle.candles["ts"], "long_usd": long_usd, "short_usd": short_usd})


@dataclass(frozen=True)
class Split:
    """One bundle cut in two: buckets before ``at`` fit, buckets from ``at`` on check."""

    bundle: Bundle
    at: pd.Timestamp

    @property
    def name(self) -> str:
        return self.bundle.path.name if self.bundle.path else self.bundle.meta.symbol

    @classmethod
    def halves(cls, bundle: Bundle) -> Split:
        """Cut at the first bucket of the later half of the scored buckets (by count)."""
        liq = bundle.liquidations
        if liq is None or liq.empty or bundle.meta.score_from is None or bundle.meta.liquidations_interval is None:
            raise DomainError(f"{bundle.path}: no realized liquidations to fit on")
        interval = parse_duration(bundle.meta.liquidations_interval, "liquidations_interval")
        buckets = liq.loc[liq["ts"] >= bundle.meta.score_from, "ts"].dt.floor(interval).drop_duplicates().sort_values()
        if len(buckets) < 6:
            raise DomainError(f"{bundle.path}: {len(buckets)} scored buckets are too few to split")
        return cls(bundle, buckets.iloc[len(buckets) // 2])


@dataclass(frozen=True)
class FitResult:
    params: ModelParams
    fit: dict[str, ScoreReport]
    check: dict[str, ScoreReport]
    evaluations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluations": self.evaluations,
            "params": self.params.to_dict(),
            "fit": {name: r.to_dict() for name, r in self.fit.items()},
            "check": {name: r.to_dict() for name, r in self.check.items()},
        }


def objective(reports: Iterable[ScoreReport]) -> float:
    """Mean margin over the yardstick, shortfalls counted twice: a model that wins big on one
    bundle and loses on another should not beat one that wins everywhere."""
    margins = [s.margin for r in reports for s in r.sides]
    if not margins or any(math.isnan(m) for m in margins):
        return -math.inf
    return (sum(margins) + sum(min(m, 0.0) for m in margins)) / len(margins)


def objective_of(params: ModelParams, splits: Sequence[Split], views: Sequence[MarketView]) -> float:
    """The :func:`objective` of ``params`` fitted on each split's early buckets (what :func:`fit` maximises): a pure
    function of its arguments, so a cluster's workers can evaluate candidates (:mod:`liqheat.scale.fit`)."""
    return objective(_fit_reports(params, splits, views).values())


def _fit_reports(params: ModelParams, splits: Sequence[Split], views: Sequence[MarketView]) -> dict[str, ScoreReport]:
    return {
        sp.name: score(sp.bundle, predict(sp.bundle, params, view), until=sp.at, params=params.to_dict())
        for sp, view in zip(splits, views, strict=True)
    }


def fit(
    splits: list[Split],
    *,
    start: ModelParams | None = None,
    grid: dict[str, tuple[float, ...]] | None = None,
    passes: int = 2,
    scale_on: int = 0,
    progress: Callable[[int, int], None] | None = None,
    evaluate: Callable[[list[ModelParams]], list[float]] | None = None,
) -> FitResult:
    """Fit on each split's early buckets; check on its later ones.

    Coordinate ascent: each parameter in turn takes the value of its grid that raises the objective most (the
    first of equals), until a pass changes nothing. A coordinate's candidates differ from the best only in that
    parameter, so they are evaluated at once: by ``evaluate`` (a list of parameters → their objectives, e.g. on
    a Dask cluster) or here one by one; the result is the same either way, bit for bit.

    ``at_risk_share`` is then scaled so that predicted and realized totals match on the fit window of
    ``splits[scale_on]`` (the aggregated bundle, whose open interest and liquidations cover the same
    venues).
    """
    views = [MarketView.from_bundle(sp.bundle) for sp in splits]
    grid = grid or DEFAULT_GRID
    best = start or ModelParams()
    total = passes * sum(len(v) for v in grid.values())
    done = 0
    run = evaluate or (lambda candidates: [objective_of(c, splits, views) for c in candidates])

    best_value = run([best])[0]
    for _ in range(passes):
        improved = False
        for name, values in grid.items():
            candidates = [replace(best, **{name: value}) for value in _typed(best, name, values)]
            fresh = [c for c in candidates if c != best]
            values_of = iter(run(fresh))
            before, before_value = best, best_value
            for candidate in candidates:
                done += 1
                current = before_value if candidate == before else next(values_of)
                if candidate == best:
                    continue
                if current > best_value + 1e-9:
                    best, best_value, improved = candidate, current, True
            if progress:
                progress(done, total)
        if not improved:
            break
    anchor = _fit_reports(best, splits, views)[splits[scale_on].name]
    realized = sum(s.realized_total for s in anchor.sides)
    predicted = sum(s.predicted_total for s in anchor.sides)
    if predicted > 0 and realized > 0:
        best = replace(best, at_risk_share=min(1.0, best.at_risk_share * realized / predicted))
    check = {
        sp.name: score(sp.bundle, predict(sp.bundle, best, view), start=sp.at, params=best.to_dict())
        for sp, view in zip(splits, views, strict=True)
    }
    return FitResult(params=best, fit=_fit_reports(best, splits, views), check=check, evaluations=done)


def _typed(params: ModelParams, name: str, values: Iterable[float]) -> list[Any]:
    current = getattr(params, name)
    return [type(current)(v) for v in values]
