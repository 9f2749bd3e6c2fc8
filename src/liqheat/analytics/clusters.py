"""Crowded zones of a liquidation map: contiguous price bands of high notional at risk, and how
concentrated the map is (top clusters' share, distance profile, round-number affinity)."""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from liqheat.analytics.maps import MarketMap
from liqheat.analytics.reach import reaches
from liqheat.model import DomainError

HORIZONS = (4, 24, 72)  # the hours of a cluster's hit_prob_* and expected_usd_*
MAX_WIDTH_PCT = 2.5  # a band's widest, % of price: about two hourly ATRs of BTC


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
    bands = _bands(values, edges, price, side, top, smooth_bins, atr_pct, total_usd, max_width_pct)
    return [Cluster(**band.fields) for band in bands]


class _Band(NamedTuple):
    """A cluster as found, with the bins it covers (``lo … hi − 1``): what its age and reach read."""

    lo: int
    hi: int
    fields: dict[str, Any]


def _bands(
    values: np.ndarray,
    edges: np.ndarray,
    price: float,
    side: str,
    top: int | None,
    smooth_bins: int,
    atr_pct: float | None,
    total_usd: float | None,
    max_width_pct: float = MAX_WIDTH_PCT,
) -> list[_Band]:
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
    # A peak is above nothing next to it, on its side of price (smoothing spreads a band past price); a shoulder
    # of a band is no peak of its own. Only these are visited, largest first: a whole map is thousands of bins.
    around = np.pad(smooth, 1, constant_values=-np.inf)
    peaks = (smooth > 0) & mask & (smooth >= around[:-2]) & (smooth >= around[2:])
    order = np.argsort(smooth)[::-1]
    # Python floats: the same numbers, read faster one by one
    level, inside, at, mid = smooth.tolist(), mask.tolist(), edges.tolist(), centers.tolist()
    logs = np.log(edges).tolist()  # a band's width is a difference of these
    taken = [False] * len(level)
    last = len(level) - 1
    share_of = total_usd if total_usd else total
    found: list[_Band] = []
    # candidates largest first: the peaks, and the bins beside a band the width cap cut (where the plateau goes
    # on, a band of its own begins; beside a band that ended below half its peak, a bin is its shoulder)
    heap = [(-level[i], i) for i in order[peaks[order]].tolist()]
    cut: set[int] = set()
    while heap:
        _, peak = heapq.heappop(heap)
        if taken[peak]:
            continue
        if peak in cut:
            left = level[peak - 1] if peak > 0 and not taken[peak - 1] else -math.inf
            right = level[peak + 1] if peak < last and not taken[peak + 1] else -math.inf
            if level[peak] < left or level[peak] < right:
                continue  # the rest of the plateau rises further out: its own peak is a candidate already
        half = 0.5 * level[peak]
        lo = hi = peak
        while True:
            down = lo > 0 and level[lo - 1] >= half and not taken[lo - 1] and inside[lo - 1]
            up = hi < last and level[hi + 1] >= half and not taken[hi + 1] and inside[hi + 1]
            if not (down or up):
                break
            grow_down = down and (not up or level[lo - 1] >= level[hi + 1])
            if (logs[hi + 1] - logs[lo - 1] if grow_down else logs[hi + 2] - logs[lo]) > max_log_width:
                for x, more in ((lo - 1, down), (hi + 1, up)):
                    if more and x not in cut:
                        cut.add(x)
                        heapq.heappush(heap, (-level[x], x))
                break
            if grow_down:
                lo -= 1
            else:
                hi += 1
        taken[lo : hi + 1] = [True] * (hi + 1 - lo)
        notional = float(v[lo : hi + 1].sum())
        if notional <= 0:
            continue
        peak_price = mid[peak]
        fields = {
            "side": side,
            "price_low": at[lo],
            "price_high": at[hi + 1],
            "peak_price": peak_price,
            "notional_usd": notional,
            "share": notional / share_of,
            "distance_pct": (peak_price / price - 1) * 100,
            "distance_atr": (peak_price / price - 1) * 100 / atr_pct if atr_pct else None,
            "side_share": notional / total,
        }
        found.append(_Band(lo, hi + 1, fields))
    ranked = sorted(found, key=lambda band: band.fields["notional_usd"], reverse=True)
    return ranked if top is None else ranked[:top]


def band_age(m: MarketMap, c: Cluster, keep: float = 0.5) -> float:
    """Hours the band has held at least ``keep`` of its present notional, looking back through the
    map's past frames without a break (the oldest frame kept bounds it from below)."""
    lo = int(np.searchsorted(m.edges, c.price_low, side="left"))
    hi = int(np.searchsorted(m.edges, c.price_high, side="left"))
    return _held(m.past_long if c.side == "long" else m.past_short, lo, hi, keep * c.notional_usd, _hours_back(m))


def _hours_back(m: MarketMap) -> list[float]:
    """How many hours before the map each of its past frames is (``Timedelta.total_seconds() / 3600``: a
    whole number of nanoseconds below 2⁵³ over 10⁹ rounds as the same number of microseconds over 10⁶)."""
    now = m.ts.value
    return [(now - ts.value) / 1e9 / 3600 for ts in m.past_ts]


def _held(past: np.ndarray, lo: int, hi: int, floor: float, hours: list[float]) -> float:
    """The hours back of the oldest past frame from which bins ``lo … hi − 1`` held ``floor`` ever since."""
    held = bisect.bisect_right(_band_sums(past, lo, hi), -floor)
    return hours[held - 1] if held else 0.0


class _BandSums:
    """Each past frame's notional in bins ``lo … hi − 1`` (``past[i, lo:hi].sum()``, bit for bit), as the running
    minimum from the newest frame back, negated (a rising list: the frames that held a floor are the first
    ``bisect_right(sums, −floor)``), kept while read-only past frames live.

    The maps of a live market's next candles share their past frames (``Timeline.remembered``) and most of
    their bands; summing 180 frames of every band again would take a good part of the candle. Writable
    frames could change under the same identity: they are summed every time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._of: dict[int, tuple[weakref.ref[np.ndarray], dict[tuple[int, int], list[float]]]] = {}

    def __call__(self, past: np.ndarray, lo: int, hi: int) -> list[float]:
        if past.flags.writeable:
            return self._sums(past, lo, hi)
        key = id(past)
        with self._lock:
            entry = self._of.get(key)
            if entry is None or entry[0]() is not past:
                entry = (weakref.ref(past, lambda ref: self._forget(key, ref)), {})
                self._of[key] = entry
            sums = entry[1].get((lo, hi))
        if sums is None:
            sums = self._sums(past, lo, hi)
            with self._lock:
                entry[1][(lo, hi)] = sums
        return sums

    @staticmethod
    def _sums(past: np.ndarray, lo: int, hi: int) -> list[float]:
        sums = past[:, lo:hi].sum(axis=1)  # each row summed as past[i, lo:hi].sum() is
        held = np.fmin.accumulate(np.where(np.isnan(sums), np.inf, sums))  # a NaN frame is never below a floor
        return (-held).tolist()  # type: ignore[no-any-return]

    def _forget(self, key: int, ref: weakref.ref[np.ndarray]) -> None:
        """Drop the sums of frames that are gone (no lock: this runs wherever the collector does)."""
        entry = self._of.get(key)
        if entry is not None and entry[0] is ref:
            self._of.pop(key, None)


_band_sums = _BandSums()


def clusters_of(m: MarketMap, top: int | None = 5) -> list[Cluster]:
    """Both sides' clusters of a map with distance in ATR, age and reach (:mod:`.reach`), largest first per side."""
    long, short = m.at_risk()
    total = float(long.sum() + short.sum())  # the denominator of concentration() too
    centers = m.centers
    hours = _hours_back(m)
    oldest = hours[-1] if hours else 0.0
    out = []
    for side, values, past in (("long", long, m.past_long), ("short", short, m.past_short)):
        found = _bands(values, m.edges, m.price, side, top, 5, m.atr_pct, total)
        bands = [(band.fields["price_low"], band.fields["price_high"]) for band in found]
        hit, expected = reaches(values, m.edges, centers, m.price, m.sigma_hour, side, bands, HORIZONS)
        for band, p, e in zip(found, hit.T.tolist(), expected.T.tolist(), strict=True):
            # no past maps (a leverage band's map): age unknown
            age = _held(past, band.lo, band.hi, 0.5 * band.fields["notional_usd"], hours) if hours else None
            out.append(
                Cluster(
                    **band.fields,
                    age_hours=age,
                    age_at_least=None if age is None else age >= oldest,
                    hit_prob_4h=p[0],
                    hit_prob_24h=p[1],
                    hit_prob_72h=p[2],
                    expected_usd_4h=e[0],
                    expected_usd_24h=e[1],
                    expected_usd_72h=e[2],
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
