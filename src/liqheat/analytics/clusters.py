"""Crowded zones of a liquidation map: contiguous price bands of high notional at risk, and how
concentrated the map is (top clusters' share, distance profile, round-number affinity)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from liqheat.analytics.maps import MarketMap
from liqheat.analytics.reach import reach_of
from liqheat.model import DomainError


@dataclass(frozen=True)
class Cluster:
    side: str
    price_low: float
    price_high: float
    peak_price: float
    notional_usd: float
    share: float  # of all notional at risk, both sides
    distance_pct: float
    distance_atr: float | None = None
    age_hours: float | None = None
    age_at_least: bool | None = None  # the band is older than the oldest map kept: age is a lower bound
    side_share: float | None = None  # of its own side's notional at risk
    hit_prob_4h: float | None = None  # the chance price touches the band's near edge within 4 h (analytics.reach)
    hit_prob_24h: float | None = None
    hit_prob_72h: float | None = None
    expected_usd_4h: float | None = None  # notional it would liquidate within 4 h, each bin times its own chance
    expected_usd_24h: float | None = None
    expected_usd_72h: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


MAX_WIDTH_PCT = 2.5  # a band's widest, % of price: about two hourly ATRs of BTC


def find_clusters(
    values: np.ndarray,
    edges: np.ndarray,
    price: float,
    side: str,
    top: int | None = 3,
    smooth_bins: int = 5,
    atr_pct: float | None = None,
    total_usd: float | None = None,
    max_width_pct: float = MAX_WIDTH_PCT,
) -> list[Cluster]:
    """The ``top`` bands of one side's map, largest notional first.

    The map is smoothed over ``smooth_bins`` bins. A band is a local peak and the bins around it
    that stay above half of it, grown toward its larger neighbour first and never wider than
    ``max_width_pct`` % of price: a plateau is cut into bands a trader can act on (a stop or a target
    sits at a price, not across 10 % of it), each with its own peak. Longs are only looked for below
    ``price``, shorts above it. ``share`` is of ``total_usd`` (all notional at risk; this side's when
    not given), ``side_share`` of this side's.
    """
    if not (math.isfinite(max_width_pct) and max_width_pct > 0):
        raise DomainError(f"max_width_pct must be > 0, got {max_width_pct}", param="max_width_pct")
    max_log_width = math.log1p(max_width_pct / 100)
    centers = np.sqrt(edges[:-1] * edges[1:])
    mask = centers < price if side == "long" else centers > price
    v = np.where(mask, values, 0.0)
    total = float(v.sum())
    if total <= 0:
        return []
    kernel = np.ones(smooth_bins) / smooth_bins
    smooth = np.convolve(v, kernel, mode="same")
    taken = np.zeros(len(v), dtype=bool)
    cut: set[int] = set()  # bins beside a band the width cap stopped
    found: list[Cluster] = []
    for peak in np.argsort(smooth)[::-1]:
        if smooth[peak] <= 0:
            break
        if taken[peak] or not mask[peak]:  # smoothing spreads a band past price: its peak stays on its side
            continue
        # beside a band the cap cut, the rest of the plateau starts a band of its own; beside one that ended
        # below half its peak, a bin is that band's shoulder
        left = smooth[peak - 1] if peak > 0 and not (taken[peak - 1] and peak in cut) else -np.inf
        right = smooth[peak + 1] if peak < len(v) - 1 and not (taken[peak + 1] and peak in cut) else -np.inf
        if smooth[peak] < left or smooth[peak] < right:
            continue  # a shoulder of a band, not a peak of its own
        half = 0.5 * smooth[peak]
        lo = hi = peak

        while True:
            down = lo > 0 and smooth[lo - 1] >= half and not taken[lo - 1] and bool(mask[lo - 1])
            up = hi < len(v) - 1 and smooth[hi + 1] >= half and not taken[hi + 1] and bool(mask[hi + 1])
            if not (down or up):
                break
            b = lo - 1 if down and (not up or smooth[lo - 1] >= smooth[hi + 1]) else hi + 1
            if math.log(edges[max(hi, b) + 1] / edges[min(lo, b)]) > max_log_width:
                cut.update(x for x, more in ((lo - 1, down), (hi + 1, up)) if more)  # where the plateau goes on
                break
            lo, hi = min(lo, b), max(hi, b)
        taken[lo : hi + 1] = True
        notional = float(v[lo : hi + 1].sum())
        if notional <= 0:
            continue
        peak_price = float(centers[peak])
        found.append(
            Cluster(
                side=side,
                price_low=float(edges[lo]),
                price_high=float(edges[hi + 1]),
                peak_price=peak_price,
                notional_usd=notional,
                share=notional / (total_usd if total_usd else total),
                distance_pct=(peak_price / price - 1) * 100,
                distance_atr=(peak_price / price - 1) * 100 / atr_pct if atr_pct else None,
                side_share=notional / total,
            )
        )
    ranked = sorted(found, key=lambda c: c.notional_usd, reverse=True)
    return ranked if top is None else ranked[:top]


def band_age(m: MarketMap, c: Cluster, keep: float = 0.5) -> float:
    """Hours the band has held at least ``keep`` of its present notional, looking back through the
    map's past frames without a break (the oldest frame kept bounds it from below)."""
    edges = m.edges
    lo = int(np.searchsorted(edges, c.price_low, side="left"))
    hi = int(np.searchsorted(edges, c.price_high, side="left"))
    past = m.past_long if c.side == "long" else m.past_short
    since = m.ts
    for ts, frame in zip(m.past_ts, past, strict=True):
        if frame[lo:hi].sum() < keep * c.notional_usd:
            break
        since = ts
    return float((m.ts - since).total_seconds() / 3600)


def clusters_of(m: MarketMap, top: int | None = 5) -> list[Cluster]:
    """Both sides' clusters of a map with distance in ATR, age and reach (:mod:`.reach`), largest first per side."""
    long, short = m.at_risk()
    total = float(long.sum() + short.sum())  # the denominator of concentration() too
    out = []
    for side, values in (("long", long), ("short", short)):
        for c in find_clusters(values, m.edges, m.price, side, top=top, atr_pct=m.atr_pct, total_usd=total):
            age = band_age(m, c) if m.past_ts else None  # no past maps (a leverage band's map): age unknown
            oldest = (m.ts - m.past_ts[-1]).total_seconds() / 3600 if m.past_ts else 0.0
            r = reach_of(m, side, c.price_low, c.price_high)
            out.append(
                replace(
                    c,
                    age_hours=age,
                    age_at_least=None if age is None else age >= oldest,
                    hit_prob_4h=r.hit_prob[4],
                    hit_prob_24h=r.hit_prob[24],
                    hit_prob_72h=r.hit_prob[72],
                    expected_usd_4h=r.expected_usd[4],
                    expected_usd_24h=r.expected_usd[24],
                    expected_usd_72h=r.expected_usd[72],
                )
            )
    return out


RANKS = ("reach", "size")


def ranked(clusters: list[Cluster], rank: str = "reach") -> list[Cluster]:
    """Each side's clusters in the order a trader reads them: ``reach`` by the notional they are expected to
    liquidate within 24 h (near and large first), ``size`` by notional. Longs first, then shorts."""
    if rank not in RANKS:
        raise DomainError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}", param="rank")

    def key(c: Cluster) -> tuple[float, float]:
        return ((c.expected_usd_24h or 0.0) if rank == "reach" else c.notional_usd, c.notional_usd)

    return [c for side in ("long", "short") for c in sorted((x for x in clusters if x.side == side), key=key, reverse=True)]


DISTANCE_BUCKETS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, math.inf)


def round_step(price: float) -> float:
    """Round prices: multiples of 5 × 10^(digits − 2), e.g. 5,000 for BTC at 60,000, 500 for ETH at 3,000."""
    return float(5 * 10 ** (math.floor(math.log10(price)) - 1))


def concentration(m: MarketMap, clusters: list[Cluster] | None = None, near_pct: float = 0.5) -> dict[str, Any]:
    """How concentrated the map is.

    - ``top5pct_share``: share of all at-risk notional held by the largest 5 % of clusters (at least one);
    - ``distance_profile``: share of each side's notional by distance from price (%);
    - ``round_affinity``: share of notional within ``near_pct`` % of a round price, against the share of
      the map's price axis (weighted by log-price width where there is notional) that chance gives.
    """
    long, short = m.at_risk()
    total = float(long.sum() + short.sum())
    found = clusters if clusters is not None else clusters_of(m, top=None)
    ranked = sorted(found, key=lambda c: c.notional_usd, reverse=True)
    k = max(1, math.ceil(0.05 * len(ranked))) if ranked else 0
    top_share = sum(c.notional_usd for c in ranked[:k]) / total if total > 0 else 0.0
    centers = m.centers
    distance = np.abs(centers / m.price - 1) * 100
    profile = {}
    for side, values in (("long", long), ("short", short)):
        side_total = float(values.sum())
        rows = []
        for lo, hi in itertools.pairwise(DISTANCE_BUCKETS):
            inside = (distance >= lo) & (distance < hi)
            rows.append({"from_pct": lo, "to_pct": None if math.isinf(hi) else hi,
                         "share": float(values[inside].sum() / side_total) if side_total > 0 else 0.0})  # fmt: skip
        profile[side] = rows
    step = round_step(m.price)
    nearest = np.round(centers / step) * step
    near = np.abs(centers / np.where(nearest > 0, nearest, np.inf) - 1) * 100 <= near_pct
    values = long + short
    observed = float(values[near].sum() / total) if total > 0 else 0.0
    width = np.log(m.edges[1:] / m.edges[:-1])
    occupied = values > 0
    chance = float(width[near & occupied].sum() / width[occupied].sum()) if occupied.any() else 0.0
    return {
        "clusters": len(ranked),
        "top5pct_clusters": k,
        "top5pct_share": top_share,
        "distance_profile": profile,
        "round_affinity": {
            "round_step": step,
            "within_pct": near_pct,
            "observed_share": observed,
            "chance_share": chance,
            "ratio": observed / chance if chance > 0 else None,
        },
    }
