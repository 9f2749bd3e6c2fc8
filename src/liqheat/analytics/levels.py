"""Support and resistance from price and volume alone, and their confluence with liquidation clusters.

- Swing pivots at several scales: a high (low) that no candle within ``k`` on either side exceeds.
  Pivots within ``merge_pct`` of each other are one level; its strength adds the scales that found it
  (a pivot seen at a larger scale weighs more) and the later candles that touched it and turned.
- Volume-profile high-volume nodes: each candle's volume spread evenly over its [low, high] on a
  log-price histogram; a node is a local maximum above mean + 1 standard deviation; its strength is
  its share of the volume.
- Confluence: a cluster and a level meet when the level lies inside the cluster's band or within
  ``near_pct`` of its peak; the score is the cluster's share × the level's normalised strength.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liqheat.analytics.clusters import RANKS, Cluster
from liqheat.model import DomainError

SCALES = (5, 20, 60)


@dataclass(frozen=True)
class Level:
    price: float
    kind: str  # "support" (below price) or "resistance" (above)
    source: str  # "pivot" or "volume"
    strength: float  # 0..1 within its source
    touches: int = 0
    scales: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "scales": list(self.scales)}


def _pivots(high: np.ndarray, low: np.ndarray, k: int) -> tuple[list[int], list[int]]:
    n = len(high)
    highs, lows = [], []
    for i in range(k, n - k):
        window_h = high[i - k : i + k + 1]
        window_l = low[i - k : i + k + 1]
        if high[i] == window_h.max() and np.count_nonzero(window_h == high[i]) == 1:
            highs.append(i)
        if low[i] == window_l.min() and np.count_nonzero(window_l == low[i]) == 1:
            lows.append(i)
    return highs, lows


def _touches(level: float, after: int, high: np.ndarray, low: np.ndarray, close: np.ndarray, tol_pct: float) -> int:
    """Later candles that reached within ``tol_pct`` of the level and closed back on the side they came from."""
    tol = level * tol_pct / 100
    count = 0
    for j in range(after + 1, len(high)):
        if low[j] - tol <= level <= high[j] + tol:
            came_from_above = close[j - 1] > level
            if (came_from_above and close[j] > level) or (not came_from_above and close[j] < level):
                count += 1
    return count


def pivot_levels(candles: pd.DataFrame, price: float, scales: tuple[int, ...] = SCALES, merge_pct: float = 0.3) -> list[Level]:
    high = candles["high"].to_numpy(np.float64)
    low = candles["low"].to_numpy(np.float64)
    close = candles["close"].to_numpy(np.float64)
    found: list[tuple[float, int, int]] = []  # (price, scale, index)
    for k in scales:
        if len(high) < 2 * k + 1:
            continue
        highs, lows = _pivots(high, low, k)
        found += [(float(high[i]), k, i) for i in highs] + [(float(low[i]), k, i) for i in lows]
    if not found:
        return []
    found.sort()
    groups: list[list[tuple[float, int, int]]] = [[found[0]]]
    for item in found[1:]:
        if item[0] <= groups[-1][0][0] * (1 + merge_pct / 100):
            groups[-1].append(item)
        else:
            groups.append([item])
    raw = []
    for g in groups:
        level = float(np.mean([p for p, _, _ in g]))
        scales_hit = tuple(sorted({k for _, k, _ in g}))
        first = min(i for _, _, i in g)
        touches = _touches(level, first, high, low, close, merge_pct)
        raw.append((level, sum(math.log2(k) for k in scales_hit) + math.log1p(touches), touches, scales_hit))
    top = max(r[1] for r in raw)
    return [
        Level(price=lv, kind="support" if lv < price else "resistance", source="pivot", strength=w / top, touches=t, scales=sc)
        for lv, w, t, sc in raw
    ]


def volume_nodes(candles: pd.DataFrame, price: float, bins: int = 200) -> list[Level]:
    if "volume" not in candles or candles["volume"].isna().all() or float(candles["volume"].sum()) <= 0:
        return []
    low = candles["low"].to_numpy(np.float64)
    high = candles["high"].to_numpy(np.float64)
    volume = np.nan_to_num(candles["volume"].to_numpy(np.float64))
    edges = np.exp(np.linspace(math.log(low.min()), math.log(high.max()) + 1e-12, bins + 1))
    hist = np.zeros(bins)
    lo_i = np.clip(np.searchsorted(edges, low, side="right") - 1, 0, bins - 1)
    hi_i = np.clip(np.searchsorted(edges, high, side="right") - 1, 0, bins - 1)
    for a, b, v in zip(lo_i, hi_i, volume, strict=True):
        hist[a : b + 1] += v / (b - a + 1)
    threshold = hist.mean() + hist.std()
    total = hist.sum()
    centers = np.sqrt(edges[:-1] * edges[1:])
    out = []
    for i in range(bins):
        left = hist[i - 1] if i > 0 else -np.inf
        right = hist[i + 1] if i < bins - 1 else -np.inf
        if hist[i] > threshold and hist[i] >= left and hist[i] > right:
            out.append((float(centers[i]), float(hist[i] / total)))
    if not out:
        return []
    top = max(s for _, s in out)
    return [Level(price=p, kind="support" if p < price else "resistance", source="volume", strength=s / top) for p, s in out]


def levels(candles: pd.DataFrame, price: float, *, lookback: int | None = 24 * 30) -> list[Level]:
    """Pivot levels and high-volume nodes of the last ``lookback`` candles, strongest first."""
    part = candles.iloc[-lookback:] if lookback else candles
    found = pivot_levels(part, price) + volume_nodes(part, price)
    return sorted(found, key=lambda lv: lv.strength, reverse=True)


@dataclass(frozen=True)
class Confluence:
    cluster: Cluster
    level: Level
    score: float
    distance_pct: float  # level to cluster peak

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster.to_dict(),
            "level": self.level.to_dict(),
            "score": self.score,
            "distance_pct": self.distance_pct,
        }


def confluence(clusters: list[Cluster], found: list[Level], near_pct: float = 0.5, rank: str = "reach") -> list[Confluence]:
    """Cluster-level pairs that meet, best first. Long clusters pair with supports, short ones with resistances.

    The cluster weighs by its share of its side (a side's crowding, not the other's); with ``rank`` =
    ``reach`` also by the chance price reaches it within 24 h, so a far band does not lead the list
    (a cluster whose chance is unknown, from a map without volatility, weighs by its share alone).
    """
    if rank not in RANKS:
        raise DomainError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}", param="rank")
    out = []
    for c in clusters:
        want = "support" if c.side == "long" else "resistance"
        weight = c.side_share if c.side_share is not None else c.share
        if rank == "reach":
            weight *= c.hit_prob_24h if c.hit_prob_24h is not None else 1.0
        for lv in found:
            if lv.kind != want:
                continue
            inside = c.price_low <= lv.price <= c.price_high
            dist = (lv.price / c.peak_price - 1) * 100
            if inside or abs(dist) <= near_pct:
                closeness = 1.0 if abs(dist) <= near_pct else near_pct / abs(dist)
                out.append(
                    Confluence(
                        cluster=c,
                        level=lv,
                        score=weight * lv.strength * closeness,
                        distance_pct=dist,
                    )
                )
    return sorted(out, key=lambda x: x.score, reverse=True)
