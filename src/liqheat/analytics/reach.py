"""How likely price reaches a level soon, and how much a cluster would liquidate if it does.

The model is the driftless one: log price a Brownian motion with the volatility of the last days, so the
chance that it touches a level at log distance ``d`` within ``T`` hours is, by the reflection principle,
``erfc(d / (σ √(2T)))``. Volatility is Parkinson's estimator over the candles' high-low ranges, which is
what a touch depends on (:func:`liqheat.analytics.maps.sigma_per_hour`). ``evaluation/hits.py`` grades
it against what price did and against learned models; it is what a trader sees unless a learned model
beats it out of sample.

A cluster's ``hit_prob`` is the chance of touching its near edge; ``expected_usd`` sums, over the band's
bins, each bin's notional times the chance of reaching that bin: a partial sweep counts in part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from liqheat.analytics.maps import MarketMap

HORIZONS_H = (4, 24, 72)


def touch_probability(log_distance: np.ndarray | float, sigma: float, hours: float) -> np.ndarray:
    """Chance a driftless log price with volatility ``sigma`` (per √hour) touches a level ``log_distance``
    away (≥ 0) within ``hours``: the reflection principle."""
    d = np.abs(np.asarray(log_distance, dtype=np.float64))
    if sigma <= 0 or hours <= 0:
        return np.where(d == 0, 1.0, 0.0)
    x = d / (sigma * math.sqrt(2.0 * hours))
    return np.fromiter(map(math.erfc, x.ravel().tolist()), np.float64, x.size).reshape(x.shape)


@dataclass(frozen=True)
class Reach:
    """A band's chances of being reached, and the notional it would liquidate, per horizon (hours)."""

    hit_prob: dict[int, float]
    expected_usd: dict[int, float]


def reach_of(m: MarketMap, side: str, price_low: float, price_high: float, horizons: tuple[int, ...] = HORIZONS_H) -> Reach:
    """The driftless model's reach of one side's band [price_low, price_high) on map ``m``."""
    long, short = m.at_risk()
    values = long if side == "long" else short
    return band_reaches(values, m.edges, m.centers, m.price, m.sigma_hour, side, [(price_low, price_high)], horizons)[0]


def band_reaches(
    values: np.ndarray,
    edges: np.ndarray,
    centers: np.ndarray,
    price: float,
    sigma: float,
    side: str,
    bands: list[tuple[float, float]],
    horizons: tuple[int, ...] = HORIZONS_H,
) -> list[Reach]:
    """:func:`reach_of` of many bands of one side (``values``: its notional at risk per bin) at once."""
    hit, expected = reaches(values, edges, centers, price, sigma, side, bands, horizons)
    return [
        Reach(hit_prob=dict(zip(horizons, h, strict=True)), expected_usd=dict(zip(horizons, e, strict=True)))
        for h, e in zip(hit.T.tolist(), expected.T.tolist(), strict=True)
    ]


def reaches(
    values: np.ndarray,
    edges: np.ndarray,
    centers: np.ndarray,
    price: float,
    sigma: float,
    side: str,
    bands: list[tuple[float, float]],
    horizons: tuple[int, ...] = HORIZONS_H,
) -> tuple[np.ndarray, np.ndarray]:
    """The hit chance and the expected notional of each band (columns) within each horizon (rows).

    A map's clusters are a hundred bands, which a live market reads again on every candle: each number is the
    one :func:`reach_of` computes, bit for bit (the same operations on the same numbers, in fewer calls).
    """
    shape = (len(horizons), len(bands))
    if not bands:
        return np.zeros(shape), np.zeros(shape)
    near_d = np.array([abs(math.log((high if side == "long" else low) / price)) for low, high in bands])
    lo = np.searchsorted(edges, [low for low, _ in bands], side="left")
    hi = np.searchsorted(edges, [high for _, high in bands], side="left")
    covered = np.zeros(len(values), dtype=np.bool_)
    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        covered[a:b] = True
    inside = np.flatnonzero(covered)
    bin_d = np.abs(np.log(centers[inside] / price))
    chance = np.zeros((len(horizons), len(values)))
    for row, h in enumerate(horizons):
        chance[row, inside] = touch_probability(bin_d, sigma, h)
    hit = np.array([touch_probability(near_d, sigma, h) for h in horizons]).reshape(shape)
    notional = values * chance  # row r, bin b: values[b] × its chance within horizons[r]
    expected = np.empty(shape)
    for k, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        expected[:, k] = notional[:, a:b].sum(axis=1)  # each row of a strided slice summed as np.sum(row[a:b]) is
    return hit, expected
