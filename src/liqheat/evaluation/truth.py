"""How close an estimated liquidation map is to the true one (known in a simulated market).

The distance is the earth mover's distance between the two maps of one side, each normalised to
unit mass, on log-price: how far, in % of price, notional must move to turn one map into the other.
The bar is a naive map: the same notional spread evenly by distance from price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NAIVE_REACH_LONG = math.log(2.0)  # longs down to −50 % (2x)
NAIVE_REACH_SHORT = math.log(1.5)  # shorts up to +50 %


def emd_pct(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> float:
    """Earth mover's distance between two non-negative histograms on ``edges``, in % of price."""
    sa, sb = float(a.sum()), float(b.sum())
    if sa <= 0 or sb <= 0:
        return math.nan
    widths = np.diff(np.log(edges))
    cdf_gap = np.abs(np.cumsum(a / sa) - np.cumsum(b / sb))
    return float((cdf_gap[:-1] * 0.5 * (widths[:-1] + widths[1:])).sum() * 100.0)


def naive_map(edges: np.ndarray, price: float, side: str) -> np.ndarray:
    """Unit notional spread evenly by log-distance from ``price``: below it for longs, above for shorts."""
    log_edges = np.log(edges)
    p = math.log(price)
    if side == "long":
        lo, hi = p - NAIVE_REACH_LONG, p
    else:
        lo, hi = p, p + NAIVE_REACH_SHORT
    overlap = np.clip(np.minimum(log_edges[1:], hi) - np.maximum(log_edges[:-1], lo), 0.0, None)
    return np.asarray(overlap / overlap.sum())


@dataclass(frozen=True)
class MapDistance:
    """Mean distances over the snapshots compared, per side: the engine's map and the naive one."""

    snapshots: int
    engine_long: float
    engine_short: float
    naive_long: float
    naive_short: float

    @property
    def engine_beats_naive(self) -> bool:
        return self.engine_long < self.naive_long and self.engine_short < self.naive_short


def compare(
    estimated: list[tuple[np.ndarray, np.ndarray]],
    truth: list[tuple[np.ndarray, np.ndarray]],
    prices: list[float],
    edges: np.ndarray,
) -> MapDistance:
    """Average EMD of estimated vs true maps (and naive vs true) over matched snapshots."""
    rows = []
    for (el, es), (tl, ts), price in zip(estimated, truth, prices, strict=True):
        rows.append(
            (
                emd_pct(el, tl, edges),
                emd_pct(es, ts, edges),
                emd_pct(naive_map(edges, price, "long"), tl, edges),
                emd_pct(naive_map(edges, price, "short"), ts, edges),
            )
        )
    values = np.array(rows, dtype=np.float64)
    means = np.nanmean(values, axis=0) if len(rows) else np.full(4, math.nan)
    return MapDistance(len(rows), *(float(m) for m in means))
