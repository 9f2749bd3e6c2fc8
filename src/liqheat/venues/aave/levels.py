"""Exact liquidation levels of many Aave positions on one underlying's price (BTC, ETH): what each
position's liquidation calls would take at each price, summed per price band.

The price axis is the underlying's; every asset of its group (``markets.UNDERLYING``: WBTC, cbBTC, ... for
BTC) moves with it, other prices stay. *Long* levels are the group's collateral seized as the price falls
(what liquidators receive and sell); *short* levels the group's debt repaid as it rises (what they buy).
A position already liquidatable at today's price is counted at today's price.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from liqheat.model import DomainError, Side
from liqheat.venues.aave.health import liquidation_path
from liqheat.venues.aave.position import Position


@dataclass(frozen=True, slots=True)
class Level:
    """One liquidation call of one position, at an underlying price, with the group's part of it in USD
    and in units of the underlying."""

    account: str
    side: Side
    price: float
    usd: float
    amount: float
    repaid_usd: float
    seized_usd: float


def position_levels(position: Position, group: Collection[str], price: float, *, low: float, high: float) -> list[Level]:
    """The calls of :func:`~.health.liquidation_path` for a move of ``group``, the underlying at ``price`` today,
    while the underlying stays within [``low``, ``high``]. A call neither seizing the group's collateral nor
    repaying its debt (the liquidator takes another asset) has no part on this axis and is left out."""
    levels: list[Level] = []
    for call in liquidation_path(position, group, lowest=low / price, highest=high / price):
        at = call.scale * price
        if call.collateral_asset in group:
            side, usd = Side.LONG, call.seized_usd
        elif call.debt_asset in group:
            side, usd = Side.SHORT, call.repaid_usd
        else:
            continue
        levels.append(Level(position.account, side, at, usd, usd / at, call.repaid_usd, call.seized_usd))
    return levels


def parse_fraction(text: str, name: str) -> float:
    """``2%`` → 0.02, ``0.02`` → 0.02: a share of the price as a user writes it."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        message = f"{name} must be a percentage such as 2% or a fraction such as 0.02, got {text!r}"
        raise DomainError(message, param=name) from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise DomainError(f"{name} must be within (0 %, 100 %), got {text!r}", param=name)
    return value


def parse_bands(text: str, price: float) -> float:
    """Band width in USD from ``2%`` (of ``price``) or ``1000`` (USD)."""
    raw = text.strip()
    if raw.endswith("%"):
        return parse_fraction(raw, "bands") * price
    try:
        value = float(raw)
    except ValueError:
        message = f"bands must be a width in USD (1000) or a percentage of the price (2%), got {text!r}"
        raise DomainError(message, param="bands") from None
    if not (math.isfinite(value) and value > 0):
        raise DomainError(f"bands must be a width > 0, got {text!r}", param="bands")
    return value


def band_edges(price: float, width: float, depth: float) -> npt.NDArray[np.float64]:
    """Edges of bands ``width`` USD wide from ``price`` × (1 − depth) to × (1 + depth), one edge on ``price``
    itself so no band straddles it; the outer bands reach past the depth rather than fall short of it."""
    if not (math.isfinite(price) and price > 0):
        raise DomainError(f"price must be a number > 0, got {price!r}", param="price")
    if not (math.isfinite(depth) and 0 < depth < 1):
        raise DomainError(f"depth must be a fraction within (0, 1), got {depth!r}", param="depth")
    if not (math.isfinite(width) and width > 0):
        raise DomainError(f"bands must be a width > 0, got {width!r}", param="bands")
    n = math.ceil(depth * price / width - 1e-9)
    if n > 10_000:
        raise DomainError(f"bands of {width:g} USD give {2 * n} bands over ±{depth:.0%}: at most 20,000", param="bands")
    down = min(n, math.floor(price / width - 1e-9))  # no edge below 0
    return price + width * np.arange(-down, n + 1, dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class LevelMap:
    """Exact levels per price band: ``edges`` (n + 1, ascending) and per band the long and short USD, the
    same in units of the underlying, and how many positions reach it."""

    asset: str
    price: float
    edges: npt.NDArray[np.float64]
    long_usd: npt.NDArray[np.float64]
    short_usd: npt.NDArray[np.float64]
    long_amount: npt.NDArray[np.float64]
    short_amount: npt.NDArray[np.float64]
    long_positions: npt.NDArray[np.int64]
    short_positions: npt.NDArray[np.int64]
    positions: int

    @property
    def long_reach_usd(self) -> npt.NDArray[np.float64]:
        """Per band below today's price, the long USD of every band from today's price down to it (0 above)."""
        below = self.edges[:-1] < self.price
        return np.where(below, (self.long_usd * below)[::-1].cumsum()[::-1], 0.0)

    def to_dict(self) -> dict[str, Any]:
        bands = [
            {"low": float(self.edges[i]), "high": float(self.edges[i + 1]),
             "long_usd": float(self.long_usd[i]), "long_amount": float(self.long_amount[i]),
             "long_positions": int(self.long_positions[i]), "short_usd": float(self.short_usd[i]),
             "short_amount": float(self.short_amount[i]), "short_positions": int(self.short_positions[i])}
            for i in range(len(self.edges) - 1)
        ]  # fmt: skip
        return {"asset": self.asset, "price": self.price, "positions": self.positions, "kind": "exact", "bands": bands}


def level_map(
    positions: Iterable[Position], group: Collection[str], price: float, edges: npt.ArrayLike, *, asset: str
) -> LevelMap:
    """Sum every position's levels into the bands of ``edges`` (ascending prices of the underlying ``asset``,
    at ``price`` today); levels outside the edges are not computed. A long level on an edge belongs to the band
    below it, a short one to the band above: the band the price enters as it reaches the level."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0) or e[0] < 0:
        raise DomainError("edges must be at least two finite prices ≥ 0, strictly ascending", param="bands")
    n = len(e) - 1
    usd = {s: np.zeros(n) for s in Side}
    amount = {s: np.zeros(n) for s in Side}
    count = {s: np.zeros(n, dtype=np.int64) for s in Side}
    total = 0
    for position in positions:
        total += 1
        reached: dict[Side, set[int]] = {Side.LONG: set(), Side.SHORT: set()}
        for level in position_levels(position, group, price, low=float(e[0]), high=float(e[-1])):
            if level.side is Side.LONG:
                i = 0 if level.price == e[0] else int(np.searchsorted(e, level.price, side="left")) - 1
            else:
                i = n - 1 if level.price == e[-1] else int(np.searchsorted(e, level.price, side="right")) - 1
            if not 0 <= i < n:
                continue
            usd[level.side][i] += level.usd
            amount[level.side][i] += level.amount
            reached[level.side].add(i)
        for side, bands in reached.items():
            for i in bands:
                count[side][i] += 1
    return LevelMap(asset, price, e, usd[Side.LONG], usd[Side.SHORT], amount[Side.LONG], amount[Side.SHORT],
                    count[Side.LONG], count[Side.SHORT], total)  # fmt: skip
