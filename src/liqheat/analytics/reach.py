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
    return np.asarray(np.vectorize(math.erfc)(d / (sigma * math.sqrt(2.0 * hours))), dtype=np.float64)


@dataclass(frozen=True)
class Reach:
    """A band's chances of being reached, and the notional it would liquidate, per horizon (hours)."""

    hit_prob: dict[int, float]
    expected_usd: dict[int, float]


def reach_of(m: MarketMap, side: str, price_low: float, price_high: float, horizons: tuple[int, ...] = HORIZONS_H) -> Reach:
    """The driftless model's reach of one side's band [price_low, price_high) on map ``m``."""
    near = price_high if side == "long" else price_low
    near_d = abs(math.log(near / m.price))
    lo = int(np.searchsorted(m.edges, price_low, side="left"))
    hi = int(np.searchsorted(m.edges, price_high, side="left"))
    long, short = m.at_risk()
    values = (long if side == "long" else short)[lo:hi]
    bin_d = np.abs(np.log(m.centers[lo:hi] / m.price))
    return Reach(
        hit_prob={h: float(touch_probability(near_d, m.sigma_hour, h)) for h in horizons},
        expected_usd={h: float(np.sum(values * touch_probability(bin_d, m.sigma_hour, h))) for h in horizons},
    )
