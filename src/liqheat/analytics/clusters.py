"""Crowded zones of a liquidation map: contiguous price bands of high notional at risk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cluster:
    side: str
    price_low: float
    price_high: float
    peak_price: float
    notional_usd: float
    share: float
    distance_pct: float


def find_clusters(
    values: np.ndarray, edges: np.ndarray, price: float, side: str, top: int = 3, smooth_bins: int = 5
) -> list[Cluster]:
    """The ``top`` bands of one side's map, largest notional first.

    The map is smoothed over ``smooth_bins`` bins. A band is a local peak and the bins around it
    that stay above half of it. Longs are only looked for below ``price``, shorts above it.
    """
    centers = np.sqrt(edges[:-1] * edges[1:])
    mask = centers < price if side == "long" else centers > price
    v = np.where(mask, values, 0.0)
    total = float(v.sum())
    if total <= 0:
        return []
    kernel = np.ones(smooth_bins) / smooth_bins
    smooth = np.convolve(v, kernel, mode="same")
    taken = np.zeros(len(v), dtype=bool)
    found: list[Cluster] = []
    for peak in np.argsort(smooth)[::-1]:
        if smooth[peak] <= 0:
            break
        if taken[peak]:
            continue
        left = smooth[peak - 1] if peak > 0 else -np.inf
        right = smooth[peak + 1] if peak < len(v) - 1 else -np.inf
        if smooth[peak] < left or smooth[peak] < right:
            continue  # a shoulder of a band, not a peak of its own
        half = 0.5 * smooth[peak]
        lo = peak
        while lo > 0 and smooth[lo - 1] >= half and not taken[lo - 1]:
            lo -= 1
        hi = peak
        while hi < len(v) - 1 and smooth[hi + 1] >= half and not taken[hi + 1]:
            hi += 1
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
                share=notional / total,
                distance_pct=(peak_price / price - 1) * 100,
            )
        )
    return sorted(found, key=lambda c: c.notional_usd, reverse=True)[:top]
