"""The exact Hyperliquid map of one coin: per price band, the notional the venue would liquidate there, from each
position's own ``liquidationPx`` (longs below the price, shorts above), with the share of the market it covers.

The notional at a level is the position's size at its liquidation price (|szi| × liquidationPx): what the
liquidation orders would sell (longs) or buy (shorts). A position already past its level (the read lagged the
price) is counted at today's price; one with no liquidation price is counted as unreachable. Bands, edges and
the placement of a level on an edge are those of the Aave map (``venues/aave/levels.py``) so both merge with the
estimated map the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from liqheat.model import DomainError, Side
from liqheat.venues.hyperliquid.state import Position

SOURCE = "exact"


@dataclass(frozen=True, slots=True, eq=False)
class ExactMap:
    """``edges`` (n + 1, ascending) and per band the long and short USD and how many positions sit there.
    ``covered_usd`` is the discovered notional (mean of long and short) and ``coverage`` its share of the venue's
    open interest (None when the open interest is unknown)."""

    coin: str
    price: float
    edges: npt.NDArray[np.float64]
    long_usd: npt.NDArray[np.float64]
    short_usd: npt.NDArray[np.float64]
    long_positions: npt.NDArray[np.int64]
    short_positions: npt.NDArray[np.int64]
    positions: int
    unreachable: int
    outside: int
    covered_usd: float
    open_interest_usd: float | None
    source: str = SOURCE

    @property
    def coverage(self) -> float | None:
        if not self.open_interest_usd:
            return None
        return self.covered_usd / self.open_interest_usd

    @property
    def long_reach_usd(self) -> npt.NDArray[np.float64]:
        """Per band below today's price, the long USD of every band from today's price down to it (0 above)."""
        below = self.edges[:-1] < self.price
        return np.where(below, (self.long_usd * below)[::-1].cumsum()[::-1], 0.0)

    def to_dict(self) -> dict[str, Any]:
        bands = [
            {"low": float(self.edges[i]), "high": float(self.edges[i + 1]), "long_usd": float(self.long_usd[i]),
             "long_positions": int(self.long_positions[i]), "short_usd": float(self.short_usd[i]),
             "short_positions": int(self.short_positions[i])}
            for i in range(len(self.edges) - 1)
        ]  # fmt: skip
        return {"venue": "hyperliquid", "asset": self.coin, "price": self.price, "kind": self.source, "positions": self.positions,
                "unreachable": self.unreachable, "outside": self.outside, "covered_usd": self.covered_usd,
                "open_interest_usd": self.open_interest_usd, "coverage": self.coverage, "bands": bands}  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class LevelRows:
    """One row per position with a level: its price, whether it is a long (liquidates as the price falls), the
    notional there. The shape of ``analytics.exact.ExactLevels``' arrays, so the merged map takes them as they are."""

    price: npt.NDArray[np.float64]
    long: npt.NDArray[np.bool_]
    usd: npt.NDArray[np.float64]


def level_rows(positions: Iterable[Position], price: float) -> LevelRows:
    """Every position with a liquidation price, at it (one already past it at ``price``), |size| × that price."""
    rows = [(min(p.liquidation_px, price) if p.side is Side.LONG else max(p.liquidation_px, price), p.side is Side.LONG,
             abs(p.size)) for p in positions if p.liquidation_px is not None]  # fmt: skip
    at = np.array([r[0] for r in rows], dtype=np.float64)
    return LevelRows(at, np.array([r[1] for r in rows], dtype=np.bool_), at * np.array([r[2] for r in rows], dtype=np.float64))


def exact_map(positions: Iterable[Position], price: float, edges: npt.ArrayLike, *, coin: str,
              open_interest_usd: float | None = None) -> ExactMap:  # fmt: skip
    """Sum ``positions`` of ``coin`` (others are refused) into the bands of ``edges``, the coin at ``price`` now.
    A long level on an edge belongs to the band below it, a short one to the band above."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0) or e[0] < 0:
        raise DomainError("edges must be at least two finite prices ≥ 0, strictly ascending", param="bands")
    if not (np.isfinite(price) and price > 0):
        raise DomainError(f"price must be a number > 0, got {price!r}", param="price")
    n = len(e) - 1
    usd = {s: np.zeros(n) for s in Side}
    count = {s: np.zeros(n, dtype=np.int64) for s in Side}
    total = unreachable = outside = 0
    held = {Side.LONG: 0.0, Side.SHORT: 0.0}
    for p in positions:
        if p.coin != coin:
            raise DomainError(f"a {p.coin} position of {p.user} on the {coin} map", param="coin")
        total += 1
        held[p.side] += abs(p.size) * price
        if p.liquidation_px is None:
            unreachable += 1
            continue
        at = min(p.liquidation_px, price) if p.side is Side.LONG else max(p.liquidation_px, price)
        if p.side is Side.LONG:
            i = 0 if at == e[0] else int(np.searchsorted(e, at, side="left")) - 1
        else:
            i = n - 1 if at == e[-1] else int(np.searchsorted(e, at, side="right")) - 1
        if not 0 <= i < n:
            outside += 1
            continue
        usd[p.side][i] += abs(p.size) * at
        count[p.side][i] += 1
    covered = (held[Side.LONG] + held[Side.SHORT]) / 2
    return ExactMap(coin, price, e, usd[Side.LONG], usd[Side.SHORT], count[Side.LONG], count[Side.SHORT], total,
                    unreachable, outside, covered, open_interest_usd)  # fmt: skip
