"""Grade the chance a cluster is reached: the driftless model of ``analytics/reach.py`` against what price
did, and against two learned models fitted walk-forward, out of sample.

A sample is one cluster of the map after candle t (every ``every_hours``), with what was known then:
its distance, the volatility, its size against open interest, momentum, funding. Its label per horizon
is whether any later candle's low (longs) or high (shorts) reached the band's near edge within that many
hours. Samples whose horizon runs past the bundle's end are dropped (their answer is unknown).

Walk-forward: the models are refit every ``refit_days`` on every sample whose label was known by then
(``t + horizon`` before the refit time), and predict the samples up to the next refit. Skill is
``1 − Brier(model) / Brier(baseline)``; its interval comes from a block bootstrap over days, blocks as
long as the horizon, since samples less than a horizon apart share their future.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liqheat.analytics.clusters import clusters_of
from liqheat.analytics.maps import VOL_WINDOW_H, maps_at
from liqheat.analytics.reach import HORIZONS_H
from liqheat.bundle import Bundle
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros

FEATURES = ("side", "log_distance", "z24", "log_size_oi", "side_share", "momentum_24h", "funding", "oi_change_24h", "sigma")
MODELS = ("baseline", "base_rate", "isotonic", "boosted")  # base_rate: the training frequency, the floor any model must beat


def samples(bundle: Bundle, params: ModelParams | None = None, *, every_hours: float = 4.0, top: int = 5) -> pd.DataFrame:
    """One row per cluster per sampled map: features known at the map's time, and the labels ``hit_{h}``."""
    params = params or ModelParams()
    view = MarketView.from_bundle(bundle)
    tf_h = view.timeframe_hours
    every = max(1, round(every_hours / tf_h))
    warm = max(round(VOL_WINDOW_H / tf_h), round(24 / tf_h))
    n = len(view)
    indices = np.arange(warm, n - 1, every)
    if indices.size == 0:
        raise DomainError(f"{bundle.path or bundle.meta.symbol}: too few candles to sample clusters ({n})")
    rows: list[dict[str, Any]] = []
    back = round(24 / tf_h)
    for m in maps_at(bundle, params, indices, view):
        i = m.index
        sigma = m.sigma_hour
        oi = view.oi_after[i]
        momentum = math.log(view.close[i] / view.close[i - back])
        oi_before = view.oi_after[i - back]
        oi_change = math.log(oi / oi_before) if oi > 0 and oi_before > 0 else 0.0
        for c in clusters_of(m, top=top):
            near = c.price_high if c.side == "long" else c.price_low
            sign = 1.0 if c.side == "short" else -1.0  # the direction price moves to reach it
            d = abs(math.log(near / m.price))
            row: dict[str, Any] = {
                "ts": m.ts,
                "index": i,
                "near": near,
                "side": sign,
                "log_distance": math.log(max(d, 1e-6)),
                "z24": d / (sigma * math.sqrt(24.0)) if sigma > 0 else np.inf,
                "log_size_oi": math.log(c.notional_usd / oi) if oi > 0 else 0.0,
                "side_share": c.side_share or 0.0,
                "momentum_24h": sign * momentum,
                "funding": float(view.funding[i]),
                "oi_change_24h": oi_change,
                "sigma": sigma,
                "notional_usd": c.notional_usd,
            }
            for h in HORIZONS_H:
                steps = round(h / tf_h)
                row[f"baseline_{h}"] = getattr(c, f"hit_prob_{h}h")  # the driftless model, as clusters_of set it
                if i + steps >= n:
                    row[f"hit_{h}"] = np.nan
                elif c.side == "long":
                    row[f"hit_{h}"] = float(view.low[i + 1 : i + 1 + steps].min() <= near)
                else:
                    row[f"hit_{h}"] = float(view.high[i + 1 : i + 1 + steps].max() >= near)
            rows.append(row)
    return pd.DataFrame(rows)


def walk_forward(data: pd.DataFrame, horizon: int, *, refit_days: float = 7.0, min_train_days: float = 21.0) -> pd.DataFrame:
    """Out-of-sample predictions of every model for the samples after the first refit.

    Columns: ts, y (hit within ``horizon``), and one probability per model in :data:`MODELS`."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.isotonic import IsotonicRegression

    label = f"hit_{horizon}"
    data = data[data[label].notna()].sort_values("ts", kind="stable").reset_index(drop=True)
    parts = []
    for _, train_rows, test_rows in splits(data["ts"], horizon, refit_days=refit_days, min_train_days=min_train_days):
        train, test = data.iloc[train_rows], data.iloc[test_rows]
        if train[label].nunique() < 2:
            continue
        y = train[label].to_numpy()
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(train[f"baseline_{horizon}"], y)
        boosted = HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0, random_state=0
        ).fit(_features(train, horizon), y)
        parts.append(
            pd.DataFrame(
                {
                    "ts": test["ts"].to_numpy(),
                    "y": test[label].to_numpy(),
                    "baseline": test[f"baseline_{horizon}"].to_numpy(),
                    "base_rate": np.full(len(test), float(y.mean())),
                    "isotonic": iso.predict(test[f"baseline_{horizon}"]),
                    "boosted": boosted.predict_proba(_features(test, horizon))[:, 1],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["ts", "y", *MODELS])


def splits(
    ts: pd.Series, horizon: int, *, refit_days: float, min_train_days: float
) -> list[tuple[pd.Timestamp, np.ndarray, np.ndarray]]:
    """(refit time, training rows, test rows) of an expanding-window walk-forward over sorted times ``ts``.

    A row trains a refit only if its label was known by then (``ts + horizon <= refit``); the test rows
    are those from the refit to the next one."""
    if ts.empty:
        return []
    start = ts.iloc[0] + pd.Timedelta(days=min_train_days)
    refits = pd.date_range(start, ts.iloc[-1], freq=pd.Timedelta(days=refit_days))
    values = epoch_micros(ts)
    known = values + horizon * 3_600_000_000
    out = []
    for k, refit in enumerate(refits):
        end = refits[k + 1] if k + 1 < len(refits) else ts.iloc[-1] + pd.Timedelta(seconds=1)
        at, until = refit.value // 1000, end.value // 1000
        test = np.flatnonzero((values >= at) & (values < until))
        train = np.flatnonzero(known <= at)
        if test.size and train.size:
            out.append((refit, train, test))
    return out


def _features(frame: pd.DataFrame, horizon: int) -> np.ndarray:
    base = frame[f"baseline_{horizon}"].clip(1e-6, 1 - 1e-6)
    logit = np.log((base / (1 - base)).to_numpy(dtype=np.float64))
    return np.column_stack([frame[list(FEATURES)].replace([np.inf, -np.inf], 50.0).to_numpy(), logit])


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


@dataclass(frozen=True)
class Skill:
    """Brier skill of a model against the baseline, with a block-bootstrap interval (2.5 %, 97.5 %)."""

    model: str
    brier: float
    skill: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "beats the baseline"
        if self.high < 0:
            return "worse than the baseline"
        return "no difference from the baseline"


def skills(pred: pd.DataFrame, horizon: int, *, reps: int = 1000, seed: int = 0) -> list[Skill]:
    """Each learned model's skill over the baseline, resampling whole blocks of days (blocks ≥ the horizon)."""
    if pred.empty:
        return []
    days = ((pred["ts"] - pred["ts"].min()) / pd.Timedelta(days=1)).astype(int).to_numpy()
    block = max(1, math.ceil(horizon / 24))
    blocks = days // block
    ids = np.unique(blocks)
    members = [np.flatnonzero(blocks == b) for b in ids]
    rng = np.random.default_rng(seed)
    y = pred["y"].to_numpy(dtype=np.float64)
    errors = {m: (pred[m].to_numpy(dtype=np.float64) - y) ** 2 for m in MODELS}
    draws = [np.concatenate([members[j] for j in rng.integers(0, len(ids), len(ids))]) for _ in range(reps)]
    out = []
    base_total = errors["baseline"].mean()
    for m in MODELS[1:]:
        boot = np.array([1 - errors[m][rows].mean() / errors["baseline"][rows].mean() for rows in draws])
        lo, hi = np.quantile(boot, [0.025, 0.975])
        out.append(Skill(m, float(errors[m].mean()), float(1 - errors[m].mean() / base_total), float(lo), float(hi)))
    return out


def report(data: pd.DataFrame, horizons: tuple[int, ...] = HORIZONS_H, *, reps: int = 1000) -> dict[str, Any]:
    """Walk-forward figures per horizon: samples, base rate, Brier of each model, skills, the baseline's reliability."""
    out: dict[str, Any] = {}
    for h in horizons:
        pred = walk_forward(data, h)
        if pred.empty:
            out[f"{h}h"] = {"samples": 0}
            continue
        y = pred["y"].to_numpy(dtype=np.float64)
        out[f"{h}h"] = {
            "samples": len(pred),
            "days": int((pred["ts"].max() - pred["ts"].min()) / pd.Timedelta(days=1)) + 1,
            "observed": float(y.mean()),
            "baseline_mean": float(pred["baseline"].mean()),
            "brier": {m: brier(pred[m].to_numpy(), y) for m in MODELS},
            "skill": [s.__dict__ | {"verdict": s.verdict} for s in skills(pred, h, reps=reps)],
            "reliability": reliability(pred["baseline"].to_numpy(), y),
        }
    return out


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed frequency in equal-width bins of predicted probability (empty bins left out)."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            out.append({"low": b / bins, "high": (b + 1) / bins, "count": int(sel.sum()),
                        "predicted": float(p[sel].mean()), "observed": float(y[sel].mean())})  # fmt: skip
    return out
