"""Cascade simulator: push price by a shock, let the levels it crosses liquidate into a finite book,
and follow the chain until the forced flow no longer reaches new levels.

The book is a cumulative depth curve per side (USD within x % of mid), calibrated on Binance's real
BTCUSDT bookDepth of 2025-10-10 (``depth_model.json``, written by ``scripts/calibrate_depth.py``;
the package never needs ../shared). Forced orders walk that book from the pre-shock mid: the total
forced notional Q so far moves price by the x where depth(x) = Q. Inside the first point (1 %) and
beyond the last (5 %), where nothing was observed, the curve grows as x², the square-root impact law
(x = √(Q / d1) %).

Another market's book is that one scaled by traded volume (:func:`market_book`): × (the market's USD
traded per hour over the 7 days up to the map ÷ Binance BTCUSDT's over the calibration hours,
2025-10-10 00:00–20:00 UTC). A market whose candles carry no volume keeps the reference book as
measured, and says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from liqheat.analytics.clusters import Cluster
from liqheat.analytics.maps import MarketMap
from liqheat.model import DomainError


@dataclass(frozen=True)
class DepthCurve:
    """Cumulative USD depth at ``pct`` % from mid (increasing), for one side of the book."""

    pct: tuple[float, ...]
    usd: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.pct) < 1 or len(self.pct) != len(self.usd) or self.pct[0] <= 0 or any(u <= 0 for u in self.usd):
            raise DomainError("a depth curve needs matching positive pct and usd points")

    def scaled(self, factor: float) -> DepthCurve:
        return DepthCurve(self.pct, tuple(u * factor for u in self.usd))

    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        pct = np.asarray(self.pct, dtype=np.float64)
        usd = np.maximum.accumulate(np.asarray(self.usd, dtype=np.float64))
        usd = usd + np.arange(len(usd)) * 1e-6 * usd[0]  # strictly increasing, so the curve inverts
        return pct, usd

    def depth(self, x: float) -> float:
        """USD within ``x`` % of mid."""
        pct, usd = self._points()
        if x <= pct[0]:
            return float(usd[0] * (x / pct[0]) ** 2)
        if x <= pct[-1]:
            return float(np.interp(x, pct, usd))
        return float(usd[-1] * (x / pct[-1]) ** 2)

    def move(self, q: float) -> float:
        """The % move that consuming ``q`` USD of this side causes (the inverse of :meth:`depth`)."""
        if q <= 0:
            return 0.0
        pct, usd = self._points()
        if q <= usd[0]:
            return float(pct[0] * math.sqrt(q / usd[0]))
        if q <= usd[-1]:
            return float(np.interp(q, usd, pct))
        return float(pct[-1] * math.sqrt(q / usd[-1]))


DEPTH_SCALE = (1e-4, 1e4)
SHOCK = (-90.0, 900.0)  # % moves a cascade starts from (open bounds): down to a tenth of the price, up to ten times it


def parse_shock(text: str | float) -> float:
    """A shock in % as a user writes it: ``-3%``, ``-3``, ``+2.5%``, ``−3 %`` (a typographic minus) → -3.0, -3.0, 2.5, -3.0.

    The one parser of ``liqheat cascade --shock`` and the API's ``shock``; refused unless a finite, non-zero
    % in (-90, 900)."""
    raw = str(text).strip().replace("\u2212", "-")
    number = raw[:-1].strip() if raw.endswith("%") else raw
    try:
        value = float(number)
    except ValueError:
        raise DomainError(f"shock must be a percentage such as -3% or +2.5, got {text!r}", param="shock") from None
    if not (math.isfinite(value) and SHOCK[0] < value < SHOCK[1] and value != 0):
        raise DomainError(f"shock must be a non-zero % in ({SHOCK[0]:g}, {SHOCK[1]:g}), got {value!r}", param="shock")
    return value


@dataclass(frozen=True)
class DepthModel:
    bid: DepthCurve  # absorbs forced sells (long liquidations, price falling)
    ask: DepthCurve  # absorbs forced buys (short liquidations, price rising)
    source: str
    # which book this is and how it was scaled (:func:`market_book`): what a cascade's answer says under "depth"
    basis: dict[str, Any] = field(default_factory=dict, compare=False)

    def scaled(self, factor: float) -> DepthModel:
        """The book × ``factor`` in [1e-4, 1e4]: the calibrated book holds $245M within 1 % of BTC's mid, so
        from $24k (thinner than any listed perpetual's) to $2.4T (more than all of crypto's open interest)."""
        if not (math.isfinite(factor) and DEPTH_SCALE[0] <= factor <= DEPTH_SCALE[1]):
            low, high = DEPTH_SCALE
            raise DomainError(f"depth_scale must be a number in [{low:g}, {high:g}], got {factor!r}", param="depth_scale")
        basis = self.basis | {"depth_scale": factor, "scale": self.basis["market_scale"] * factor} if self.basis else {}
        return DepthModel(self.bid.scaled(factor), self.ask.scaled(factor), f"{self.source} × {factor:g}", basis)

    @classmethod
    def square_root(cls, d1_usd: float, source: str = "square-root law") -> DepthModel:
        """Depth d1 · x² at every distance: Δ = 1 % · √(Q / d1), the synthetic market's own impact law."""
        curve = DepthCurve((1.0,), (d1_usd,))  # one point: x² on both sides of it (two would interpolate linearly between)
        return cls(curve, DepthCurve((1.0,), (d1_usd,)), f"{source}, d1 = ${d1_usd:,.0f}")


@cache
def calibrated_raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((resources.files("liqheat.analytics") / "depth_model.json").read_text(encoding="utf-8"))
    return data


def calibrated(state: str = "calm") -> DepthModel:
    """The shipped depth of Binance BTCUSDT on 2025-10-10: ``calm`` (its first 20 hours) or ``crash`` (21:00–21:30)."""
    raw = calibrated_raw()
    if state not in ("calm", "crash"):
        raise DomainError(f"book must be calm or crash, got {state!r}", param="book")
    part = raw[state]
    return DepthModel(
        bid=DepthCurve(tuple(part["bid"]["pct"]), tuple(part["bid"]["usd"])),
        ask=DepthCurve(tuple(part["ask"]["pct"]), tuple(part["ask"]["usd"])),
        source=f"{raw['source']}; {state}",
    )


VOLUME_WINDOW = pd.Timedelta(days=7)  # the market's traded volume the book is scaled by: the week up to the map
DEPTHS = ("market", "reference")


def usd_per_hour(
    candles: pd.DataFrame, index: int, timeframe: pd.Timedelta, window: pd.Timedelta = VOLUME_WINDOW
) -> float | None:
    """USD traded per hour (volume × close, summed, ÷ the hours the candles cover) over the candles opened in the
    ``window`` up to and including candle ``index``; None when the candles carry no volume there."""
    if "volume" not in candles:
        return None
    ts = candles["ts"]
    start = ts.iloc[index] + timeframe - window
    lo = int(ts.searchsorted(start, side="left"))
    part = candles.iloc[lo : index + 1]
    usd = (part["volume"] * part["close"]).to_numpy(np.float64)
    usd = usd[np.isfinite(usd)]
    if not usd.size or float(usd.sum()) <= 0:
        return None
    hours = int(usd.size) * float(timeframe.total_seconds()) / 3600
    return float(usd.sum()) / hours


def market_book(
    state: str, candles: pd.DataFrame, index: int, timeframe: pd.Timedelta, *, depth: str = "market", symbol: str = "?"
) -> DepthModel:
    """The calibrated ``state`` book for the market of ``candles`` at candle ``index``.

    ``depth="market"`` (the default) scales Binance BTCUSDT's book by traded volume: × (this market's USD per
    hour over the :data:`VOLUME_WINDOW` up to the map ÷ the reference's over the hours the calm book was measured
    on, ``reference_volume`` in ``depth_model.json``), the rule that a book as deep as its market trades. Without
    volume in the candles it is the reference book as measured (``basis`` says so). ``depth="reference"`` is the
    reference book whatever the market. ``basis`` holds the figures; :meth:`DepthModel.scaled` multiplies on top.
    """
    if depth not in DEPTHS:
        raise DomainError(f"depth must be {' or '.join(DEPTHS)}, got {depth!r}", param="depth")
    book = calibrated(state)
    ref = calibrated_raw()["reference_volume"]
    reference = float(ref["usd_per_hour"])
    traded = usd_per_hour(candles, index, timeframe) if depth == "market" else None
    basis: dict[str, Any] = {
        "reference": f"{calibrated_raw()['reference_market']}, {state} book of 2025-10-10",
        "rule": "reference",
        "market_usd_per_hour": traded,
        "reference_usd_per_hour": reference,
        "window_days": VOLUME_WINDOW.days,
        "market_scale": 1.0,
        "depth_scale": 1.0,
        "scale": 1.0,
    }
    if depth == "reference":
        return replace(book, source=f"{book.source} (the reference book, not scaled to {symbol})", basis=basis)
    if traded is None:
        note = f"{symbol}'s candles carry no volume to scale it by: the reference book as measured"
        return replace(book, source=f"{book.source} ({note})", basis=basis | {"rule": "no volume: reference"})
    factor = traded / reference
    return DepthModel(book.bid.scaled(factor), book.ask.scaled(factor),
                      f"{book.source} × {factor:.4g} ({symbol}'s traded volume ÷ the reference's)",
                      basis | {"rule": "volume", "market_scale": factor, "scale": factor})  # fmt: skip


@dataclass(frozen=True)
class Round:
    n: int
    price: float
    move_pct: float  # from the pre-shock price
    fired_usd: float  # liquidated in this round
    forced_total_usd: float
    clusters: tuple[int, ...]  # indices into CascadeResult.clusters first reached in this round


@dataclass
class CascadeResult:
    price_before: float
    shock_pct: float
    price_after: float
    move_pct: float
    liquidated_usd: float
    rounds: list[Round]
    clusters: list[Cluster]
    stop_reason: str
    depth_source: str
    refill: float = 0.0
    risk: dict[str, float] = field(default_factory=dict)
    depth: dict[str, Any] = field(default_factory=dict)  # which book and how it was scaled (DepthModel.basis)

    def to_dict(self) -> dict[str, Any]:
        return {
            "price_before": self.price_before,
            "shock_pct": self.shock_pct,
            "price_after": self.price_after,
            "move_pct": self.move_pct,
            "amplification": self.move_pct / self.shock_pct if self.shock_pct else None,
            "liquidated_usd": self.liquidated_usd,
            "stop_reason": self.stop_reason,
            "depth_source": self.depth_source,
            "depth": self.depth,
            "refill": self.refill,
            "rounds": [r.__dict__ | {"clusters": list(r.clusters)} for r in self.rounds],
            "clusters_fired": [c.to_dict() for c in self.clusters],
            "risk": self.risk,
        }


def simulate_cascade(
    centers: np.ndarray,
    long: np.ndarray,
    short: np.ndarray,
    price: float,
    shock_pct: float,
    depth: DepthModel,
    clusters: list[Cluster] | None = None,
    *,
    refill: float = 0.0,
    max_rounds: int = 1000,
    tolerance_usd: float = 1.0,
) -> CascadeResult:
    """Follow the chain from ``price`` after a ``shock_pct`` move (negative: down, through the longs).

    ``refill`` is how much of the book comes back between rounds: 0 (the default) walks one static
    book, so the total forced flow Q moves price by depth⁻¹(Q) however the flow is split into rounds;
    1 meets a full book every round (each round's flow q moves it by depth⁻¹(q), the synthetic
    market's law), which makes the result depend on how finely the flow is split. On 2025-10-10 the
    bid side thinned instead of refilling, so the static book is the default.
    """
    parse_shock(shock_pct)
    if not (0 <= refill <= 1):
        raise DomainError(f"refill must be in [0, 1], got {refill!r}", param="refill")
    down = shock_pct < 0
    levels = long if down else short
    book = depth.bid if down else depth.ask
    sign = -1.0 if down else 1.0
    on_side = (centers < price) if down else (centers > price)
    values = np.where(on_side, levels, 0.0)
    fired = np.zeros(len(values), dtype=bool)
    clusters = [c for c in (clusters or []) if c.side == ("long" if down else "short")]
    reached: set[int] = set()
    forced = 0.0
    impact = 0.0
    rounds: list[Round] = []
    current = price * (1 + shock_pct / 100)
    reason = "no level in reach"
    for n in range(1, max_rounds + 1):
        crossed = on_side & ~fired & ((centers >= current) if down else (centers <= current))
        amount = float(values[crossed].sum())
        fired |= crossed
        lo, hi = (current, price) if down else (price, current)
        new = tuple(i for i, c in enumerate(clusters) if i not in reached and c.price_high >= lo and c.price_low <= hi)
        reached.update(new)
        if amount <= tolerance_usd:
            reason = "no new level reached" if n > 1 else "the shock reached no level"
            rounds.append(Round(n, current, (current / price - 1) * 100, 0.0, forced, new))
            break
        static = book.move(forced + amount) - book.move(forced)
        impact += (1 - refill) * static + refill * book.move(amount)
        forced += amount
        after = price * (1 + shock_pct / 100) * (1 + sign * impact / 100)
        if after <= 0:  # the book's bid side holds less than the forced selling, all the way down to zero
            raise DomainError(
                f"depth_scale: the book is too thin for this map: ${forced:,.0f} of forced selling empties its bid side "
                f"(${book.depth(100.0):,.0f} down to zero) and would take the price below zero; give a deeper book",
                param="depth_scale",
            )
        rounds.append(Round(n, current, (current / price - 1) * 100, amount, forced, new))
        if (down and after >= current) or (not down and after <= current):
            reason = "impact spent"
            break
        current = after
    else:
        reason = f"stopped after {max_rounds} rounds"
    return CascadeResult(
        price_before=price,
        shock_pct=shock_pct,
        price_after=current,
        move_pct=(current / price - 1) * 100,
        liquidated_usd=forced,
        rounds=rounds,
        clusters=[clusters[i] for i in sorted(reached, key=lambda i: abs(clusters[i].peak_price - price))],
        stop_reason=reason,
        depth_source=depth.source,
        refill=refill,
        depth=dict(depth.basis),
    )


def cascade_risk(m: MarketMap, depth: DepthModel) -> dict[str, float]:
    """Notional liquidated per 1 % move ÷ book depth per 1 %, for a fall (longs, bid) and a rise (shorts, ask)."""
    long, short = m.at_risk()
    c = m.centers
    within_down = float(long[(c >= m.price * 0.99) & (c < m.price)].sum())
    within_up = float(short[(c <= m.price * 1.01) & (c > m.price)].sum())
    return {
        "down": within_down / depth.bid.depth(1.0),
        "up": within_up / depth.ask.depth(1.0),
        "long_within_1pct_usd": within_down,
        "short_within_1pct_usd": within_up,
        "bid_depth_1pct_usd": depth.bid.depth(1.0),
        "ask_depth_1pct_usd": depth.ask.depth(1.0),
    }


def cascade(
    m: MarketMap, shock_pct: float, depth: DepthModel, clusters: list[Cluster] | None = None, refill: float = 0.0
) -> CascadeResult:
    long, short = m.at_risk()
    result = simulate_cascade(m.centers, long, short, m.price, shock_pct, depth, clusters, refill=refill)
    result.risk = cascade_risk(m, depth)
    return result
