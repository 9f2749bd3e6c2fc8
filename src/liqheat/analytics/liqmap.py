"""The liquidation map a trader reads beside the heatmap: notional at risk per price band at one time, split
by leverage band (stacked) or by venue, and cumulative from the price outwards per side.

Only what can still liquidate is shown: longs below price, shorts above it (a level on the wrong side is
swept by the next candle for certain). The leverage split is exact: the engine replayed once per leverage
band, so the bands add up to the whole map. The venue split is not: an aggregated market knows one map, and
each venue's part is its share of open interest at the map's time (the hover's split), which says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from liqheat.analytics.maps import MarketMap, known_grid, on_grid
from liqheat.engine.params import ModelParams
from liqheat.engine.timeline import Timeline
from liqheat.model import DomainError

# the page's leverage filter, half-open so a bucket falls in exactly one
LEVERAGE_BANDS: tuple[tuple[float, float, str], ...] = (
    (1.0, 10.0, "< 10×"),
    (10.0, 25.0, "10–25×"),
    (25.0, 50.0, "25–50×"),
    (50.0, 200.01, "≥ 50×"),
)
SPLITS = ("none", "leverage", "venue", "source")


@dataclass(frozen=True)
class Part:
    label: str
    long: np.ndarray  # per band of the shown map, USD
    short: np.ndarray
    kind: str = "estimated"  # or "exact": on-chain positions' levels (analytics.exact)


@dataclass(frozen=True)
class LiquidationMap:
    price: float
    edges: np.ndarray
    parts: list[Part]
    long: np.ndarray
    short: np.ndarray
    cumulative_long: np.ndarray  # longs from price downwards
    cumulative_short: np.ndarray  # shorts from price upwards
    split_by: str
    note: str


def leverage_parts(
    mm: MarketMap,
    timeline: Timeline,
    params: ModelParams,
    lev_range: tuple[float, float] = (1.0, 200.0),
    bands: tuple[tuple[float, float, str], ...] = LEVERAGE_BANDS,
) -> list[Part]:
    """The map after ``mm``'s candle once per band of ``bands`` within ``lev_range`` (engine bins on ``mm``'s
    grid); bands holding no leverage bucket of the model are left out."""
    target = known_grid(timeline.view, params, timeline.off_long, timeline.off_short, mm.index)
    if len(mm.edges) != target.n_bins + 1:
        raise DomainError("the map was not built on this timeline's market")
    parts = []
    lev = timeline.leverages
    for low, high, label in bands:
        mask = (lev >= max(low, lev_range[0])) & (lev < high) & (lev <= lev_range[1])
        if not mask.any():
            continue
        fl, fs = timeline.maps_at_open(np.array([mm.index + 1], dtype=np.int64), 1, mask)
        parts.append(Part(label, on_grid(fl, timeline.grid, target)[0], on_grid(fs, timeline.grid, target)[0]))
    if not parts:
        raise DomainError(f"no leverage bucket lies in {lev_range[0]:g}x … {lev_range[1]:g}x", param="lev_min")
    return parts


def whole(mm: MarketMap, timeline: Timeline, params: ModelParams, lev_range: tuple[float, float]) -> Part:
    """The map within ``lev_range`` as one part (``mm`` itself when the range holds every bucket)."""
    if bool(np.all((timeline.leverages >= lev_range[0]) & (timeline.leverages <= lev_range[1]))):
        return Part("all", mm.long, mm.short)
    band = leverage_parts(mm, timeline, params, lev_range, ((1.0, 200.01, "all"),))[0]
    return Part(f"{lev_range[0]:g}–{lev_range[1]:g}×", band.long, band.short)


def venue_parts(total: Part, shares: dict[str, float]) -> list[Part]:
    """``total`` split by each venue's share of open interest at the map's time."""
    weight = sum(shares.values())
    if not shares or not math.isfinite(weight) or weight <= 0:
        raise DomainError("by=venue needs each venue's open interest at the map's time", param="by")
    return [Part(v, total.long * s / weight, total.short * s / weight) for v, s in shares.items()]


def liquidation_map(
    mm: MarketMap,
    parts: list[Part],
    *,
    low: float,
    high: float,
    bins: int,
    side: str = "both",
    split_by: str = "none",
    note: str = "",
) -> LiquidationMap:
    """``parts`` summed into ``bins`` equal log-bands over [``low``, ``high``], only what can still liquidate,
    with the cumulative curves of the parts' total."""
    if not (0 < low < mm.price < high and math.isfinite(high)):
        raise DomainError(f"the price range must hold the price {mm.price:,.2f}, got {low:,.2f} … {high:,.2f}", param="span_pct")
    if side not in ("both", "long", "short"):
        raise DomainError(f"side must be both, long or short, got {side!r}", param="side")
    lo, hi = math.log(low), math.log(high)
    edges = np.exp(np.linspace(lo, hi, bins + 1))
    centers = np.log(mm.centers)
    idx = np.floor((centers - lo) / (hi - lo) * bins).astype(np.int64)
    ok = (idx >= 0) & (idx < bins)
    # sides are told apart on the engine's fine bins (MarketMap.at_risk), before summing into wider bands: the
    # band that holds the price keeps the high-leverage levels just below and just above it
    below = mm.centers < mm.price
    long_ok, short_ok = ok & below, ok & ~below
    shown = []
    for p in parts:
        long = np.bincount(idx[long_ok], weights=p.long[long_ok], minlength=bins) if side != "short" else np.zeros(bins)
        short = np.bincount(idx[short_ok], weights=p.short[short_ok], minlength=bins) if side != "long" else np.zeros(bins)
        shown.append(Part(p.label, long, short, p.kind))
    long = np.sum([p.long for p in shown], axis=0) if shown else np.zeros(bins)
    short = np.sum([p.short for p in shown], axis=0) if shown else np.zeros(bins)
    starts_below, ends_above = edges[:-1] < mm.price, edges[1:] > mm.price
    return LiquidationMap(
        price=mm.price,
        edges=edges,
        parts=shown,
        long=long,
        short=short,
        cumulative_long=np.where(starts_below, np.cumsum(long[::-1])[::-1], 0.0),
        cumulative_short=np.where(ends_above, np.cumsum(short), 0.0),
        split_by=split_by,
        note=note,
    )
