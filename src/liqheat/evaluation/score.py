"""Score a model against the liquidations that happened, exactly as ../shared/data/README.md defines.

Per-candle predictions are summed per side into the bundle's ``liquidations_interval`` buckets.
Buckets at or after ``score_from`` that have a realized row for that side are kept (a missing day is
missing, not zero; a kept bucket with no candle predicts 0). The figure is the Spearman rank
correlation per side. Two level-free models set the bar: *naive* (open interest at the candle's open
× the adverse excursion) and *excursion* (the excursion alone). The yardstick is the better of the
two, per side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liqheat.bundle import Bundle
from liqheat.model import DomainError
from liqheat.timeutil import iso, parse_duration

SIDES = ("long", "short")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation with average ranks for ties; NaN with fewer than 3 points."""
    if len(a) < 3:
        return math.nan
    ra = pd.Series(a).rank(method="average").to_numpy(dtype=np.float64, copy=True)
    rb = pd.Series(b).rank(method="average").to_numpy(dtype=np.float64, copy=True)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else math.nan


def level_free_models(bundle: Bundle) -> dict[str, pd.DataFrame]:
    """The naive and excursion models per candle: columns ts, long_usd, short_usd."""
    c = bundle.candles
    oi = bundle.open_interest
    # Latest sample at or before the candle's open, carried forward across gaps.
    at_open = pd.merge_asof(c[["ts"]], oi.rename(columns={"ts": "oi_ts"}), left_on="ts", right_on="oi_ts", direction="backward")
    oi_open = at_open["oi_usd"].to_numpy(np.float64)
    o = c["open"].to_numpy(np.float64)
    down = np.maximum(0.0, (o - c["low"].to_numpy(np.float64)) / o)
    up = np.maximum(0.0, (c["high"].to_numpy(np.float64) - o) / o)
    return {
        "naive": pd.DataFrame(
            {"ts": c["ts"], "long_usd": np.nan_to_num(oi_open * down), "short_usd": np.nan_to_num(oi_open * up)}
        ),
        "excursion": pd.DataFrame({"ts": c["ts"], "long_usd": down, "short_usd": up}),
    }


@dataclass(frozen=True)
class SideScore:
    side: str
    model: float
    naive: float
    excursion: float
    buckets: int
    predicted_total: float
    realized_total: float

    @property
    def yardstick(self) -> float:
        return max(self.naive, self.excursion)

    @property
    def margin(self) -> float:
        return self.model - self.yardstick

    @property
    def total_ratio(self) -> float:
        return self.predicted_total / self.realized_total if self.realized_total > 0 else math.nan


@dataclass(frozen=True)
class ScoreReport:
    bundle: str
    interval: str
    window: tuple[str, str]
    sides: tuple[SideScore, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def side(self, name: str) -> SideScore:
        return next(s for s in self.sides if s.side == name)

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 6)

        return {
            "bundle": self.bundle,
            "interval": self.interval,
            "window": {"from": self.window[0], "until": self.window[1]},
            **{
                s.side: {
                    "model": num(s.model),
                    "naive": num(s.naive),
                    "excursion": num(s.excursion),
                    "yardstick": num(s.yardstick),
                    "margin": num(s.margin),
                    "buckets": s.buckets,
                    "predicted_usd": num(s.predicted_total),
                    "realized_usd": num(s.realized_total),
                    "predicted_to_realized": num(s.total_ratio),
                }
                for s in self.sides
            },
            "params": self.params,
        }


def _buckets(frame: pd.DataFrame, interval: pd.Timedelta) -> pd.DataFrame:
    keyed = frame.assign(bucket=frame["ts"].dt.floor(interval))
    return keyed.groupby("bucket")[["long_usd", "short_usd"]].sum()


def score(
    bundle: Bundle,
    predictions: pd.DataFrame,
    *,
    start: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
    params: dict[str, Any] | None = None,
) -> ScoreReport:
    """Score per-candle ``predictions`` (ts, long_usd, short_usd) on ``bundle``'s realized liquidations.

    ``start``/``until`` narrow the scored buckets further (e.g. a hold-out period); ``start`` never
    reaches before ``score_from``.
    """
    meta = bundle.meta
    liq = bundle.liquidations
    if liq is None or liq.empty or meta.liquidations_interval is None or meta.score_from is None:
        raise DomainError(f"{bundle.path}: no realized liquidations to score against (liquidations.csv, score_from)")
    if len(predictions) != len(bundle.candles):
        raise DomainError(f"predictions have {len(predictions)} rows for {len(bundle.candles)} candles")
    interval = parse_duration(meta.liquidations_interval, "liquidations_interval")
    begin = meta.score_from if start is None else max(meta.score_from, start)
    realized_rows = liq[(liq["ts"] >= begin) & ((liq["ts"] < until) if until is not None else True)]
    realized_rows = realized_rows.assign(bucket=realized_rows["ts"].dt.floor(interval))
    models = {"model": predictions, **level_free_models(bundle)}
    bucketed = {name: _buckets(frame, interval) for name, frame in models.items()}
    sides = []
    for side in SIDES:
        realized = realized_rows[realized_rows["side"] == side].groupby("bucket")["usd"].sum()
        figures: dict[str, float] = {}
        predicted_total = math.nan
        for name, frame in bucketed.items():
            pred = frame[f"{side}_usd"].reindex(realized.index, fill_value=0.0).to_numpy(np.float64)
            figures[name] = spearman(pred, realized.to_numpy(np.float64))
            if name == "model":
                predicted_total = float(pred.sum())
        sides.append(
            SideScore(
                side=side,
                model=figures["model"],
                naive=figures["naive"],
                excursion=figures["excursion"],
                buckets=len(realized),
                predicted_total=predicted_total,
                realized_total=float(realized.sum()),
            )
        )
    end = until if until is not None else bundle.candles["ts"].iloc[-1] + meta.timeframe_delta
    return ScoreReport(
        bundle=bundle.path.name if bundle.path else meta.symbol,
        interval=meta.liquidations_interval,
        window=(iso(begin), iso(end)),
        sides=tuple(sides),
        params=params or {},
    )
