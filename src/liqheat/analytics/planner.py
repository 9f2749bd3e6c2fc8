"""Position planner: size a trade from the risk a trader accepts, and place its stop and target against
the liquidation clusters around the entry.

- Stop: for a long, just below the long-liquidation cluster beneath the entry (a sweep of that band
  is where forced selling runs out); for a short, just above the short cluster over it; else 2 ATR; else
  just short of the nearest cluster (out before its sweep, at least half an ATR away). A
  stop must be sound: within a maximum distance (4 ATR by default), short of the position's own
  liquidation price, and not inside another cluster; the next cluster out is tried, and when no stop
  is sound the plan says so.
- Size: risk (balance × risk %) ÷ distance to the stop, capped by what the balance can margin at the
  leverage.
- The position's own liquidation price is exact (the venue's tiered rule, isolated margin).
- Target: the nearest cluster in the trade's direction (it attracts price and fills the exit), with
  the reward/risk ratio.
- Warnings when the entry, the stop or the own liquidation price sits inside a cluster, or when the
  position would be liquidated before its stop; and the isolated margin that moves the liquidation
  price beyond the stop and the cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from liqheat.analytics.clusters import Cluster
from liqheat.analytics.maps import MarketMap
from liqheat.analytics.reach import touch_probability
from liqheat.engine.bounds import PRICE, USD
from liqheat.model import ContractKind, DomainError, MarginMode, Position
from liqheat.timeutil import iso
from liqheat.venues.calc import calculate, position_from_inputs
from liqheat.venues.registry import linear_quote

STOP_BUFFER_PCT = 0.2
MAX_STOP_ATR = 4.0  # the farthest stop a plan suggests, in ATR (14 hourly bars)
MIN_STOP_ATR = 0.5  # a stop nearer than this is noise, not a stop


def _stop(
    side: str, entry: float, atr: float, max_atr: float, own_liq: float, guards: list[Cluster], clusters: list[Cluster]
) -> tuple[float, str, bool]:
    """(stop, why, sound): the nearest sound stop beyond a cluster of the trade's own side, else 2 ATR, else none."""
    sign = -1.0 if side == "long" else 1.0  # the direction of a loss
    limit = entry + sign * max_atr * atr
    if math.isfinite(own_liq) and own_liq > 0:
        before_liq = own_liq - sign * 0.1 * abs(entry - own_liq)  # a tenth of the way back toward the entry
        limit = max(limit, before_liq) if side == "long" else min(limit, before_liq)

    def beyond_limit(p: float) -> bool:
        return p < limit if side == "long" else p > limit

    word = "below" if side == "long" else "above"
    for c in guards:
        zone: Cluster | None = c
        stop = math.nan
        while zone is not None:  # past the guard and every cluster it runs into (a wide zone comes in adjoining bands)
            edge = zone.price_low if side == "long" else zone.price_high
            stop = edge * (1 + sign * STOP_BUFFER_PCT / 100)
            if beyond_limit(stop):
                break
            zone = _inside(stop, clusters)
        if beyond_limit(stop):
            break  # farther guards are farther still
        low, high = (edge, c.price_high) if side == "long" else (c.price_low, edge)
        return stop, f"{STOP_BUFFER_PCT}% {word} the {side} cluster {low:,.2f}–{high:,.2f}", True
    stop = entry + sign * 2 * atr
    if atr > 0 and not beyond_limit(stop) and _inside(stop, clusters) is None:
        return stop, "2 ATR" + ("" if not guards else " (no cluster of its side to stand behind within reach)"), True
    if guards:  # out before the sweep: just short of the nearest cluster, when that leaves room to breathe
        c = guards[0]
        near = c.price_high if side == "long" else c.price_low
        stop = near * (1 - sign * STOP_BUFFER_PCT / 100)
        if abs(entry - stop) >= MIN_STOP_ATR * atr and not beyond_limit(stop) and _inside(stop, clusters) is None:
            where = "above" if side == "long" else "below"
            return stop, (f"{STOP_BUFFER_PCT}% {where} the {side} cluster {c.price_low:,.2f}–{c.price_high:,.2f}: out before "
                          f"its sweep (the zone beyond it runs past the maximum stop)"), True  # fmt: skip
    why = (f"every stop beyond a cluster, 2 ATR away or just before the nearest lies past {limit:,.2f}, the nearer of "
           f"{max_atr:g} ATR "
           f"and the position's own liquidation price {own_liq:,.2f}, or inside a cluster: lower the leverage or widen "
           "the maximum stop distance")  # fmt: skip
    return limit, why, False


def venue_symbol(venue: str, base: str, contract: ContractKind) -> str:
    """The venue's market for a bundle's coin: the USDT perpetual (USDC on Hyperliquid) or the inverse one."""
    if contract is ContractKind.INVERSE:
        return f"{base}/USD:{base}"
    quote = linear_quote(venue)
    return f"{base}/{quote}:{quote}"


def parse_risk(text: str | float) -> float:
    """``1%`` or ``0.01`` → 0.01."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        message = f"risk must be a percentage such as 1% or a fraction such as 0.01, got {text!r}"
        raise DomainError(message, param="risk") from None
    if not (0 < value <= 1):
        raise DomainError(f"risk must be in (0, 100 %], got {text!r}", param="risk")
    return value


@dataclass
class Plan:
    side: str
    entry: float
    leverage: float
    balance: float
    risk_usd: float
    size_base: float
    notional_usd: float
    margin_usd: float
    stop: float
    stop_reason: str
    liquidation_price: float
    take_profit: float | None
    reward_risk: float | None
    below: list[Cluster]
    above: list[Cluster]
    warnings: list[str] = field(default_factory=list)
    margin_to_clear: float | None = None
    venue: str = "binance"
    symbol: str = ""
    notes: list[str] = field(default_factory=list)
    # chance price reaches each level from the map's price within 24 h / 72 h (the driftless model of analytics.reach)
    reach: dict[str, dict[str, float]] = field(default_factory=dict)
    sound_stop: bool = True  # false: no stop satisfies the rules (plan's docstring); the one given is the farthest allowed
    max_stop_atr: float = MAX_STOP_ATR

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("below", "above")}
        out["clusters_below"] = [c.to_dict() for c in self.below]
        out["clusters_above"] = [c.to_dict() for c in self.above]
        return out


def _inside(price: float, clusters: list[Cluster]) -> Cluster | None:
    return next((c for c in clusters if c.price_low <= price <= c.price_high), None)


def _liq(venue: str, symbol: str, side: str, entry: float, leverage: float, size: float, margin: float | None) -> float:
    position, table = position_from_inputs(venue, symbol, side, entry, leverage, size)
    if margin is not None:
        position = Position(position.spec, position.side, position.entry_price, position.contracts, position.leverage,
                            MarginMode.ISOLATED, margin)  # fmt: skip
    result = calculate(venue, position, table=table, strict_leverage=False)
    return result.liquidation_price if result.solution.liquidatable else (0.0 if side == "long" else math.inf)


def plan(
    m: MarketMap,
    clusters: list[Cluster],
    *,
    side: str,
    entry: float,
    leverage: float,
    balance: float,
    risk: float,
    venue: str = "binance",
    contract: ContractKind = ContractKind.LINEAR,
    min_share: float = 0.03,
    max_stop_atr: float = MAX_STOP_ATR,
) -> Plan:
    """``clusters`` smaller than ``min_share`` of their side's notional at risk are not crowded zones and are ignored.

    The stop is the first of these that is sound: beyond the nearest cluster of the trade's own side, then
    beyond the next, …, then 2 ATR. Sound means within ``max_stop_atr`` ATR of the entry, short of the
    position's own liquidation price (with a margin of a tenth of the distance), and not inside a cluster.
    When none is, the plan says so (``sound_stop`` false) and stops at the farthest sound distance.
    """
    if side not in ("long", "short"):
        raise DomainError(f"side must be long or short, got {side!r}", param="side")
    # a price as a market's (engine.bounds); a balance up to the USD bound; no venue offers more than 200×
    for name, value, (low, high) in (("entry", entry, PRICE), ("leverage", leverage, (1.0, 200.0)), ("balance", balance, USD)):
        if not (math.isfinite(value) and low <= value <= high and value > 0):
            span = f"{'(' if low == 0 else '['}{low:g}, {high:g}]"
            raise DomainError(f"{name} must be a number in {span}, got {value!r}", param=name)
    symbol = venue_symbol(venue, m.symbol, contract)
    clusters = [c for c in clusters if (c.side_share if c.side_share is not None else c.share) >= min_share]
    # the trade's own side of the map: stops sit beyond the clusters of positions like it
    below = sorted([c for c in clusters if c.side == "long" and c.peak_price < entry], key=lambda c: -c.peak_price)
    above = sorted([c for c in clusters if c.side == "short" and c.peak_price > entry], key=lambda c: c.peak_price)
    atr = m.atr_pct / 100 * entry
    notes = []
    if not (math.isfinite(max_stop_atr) and max_stop_atr > 0):
        raise DomainError(f"max_stop_atr must be > 0, got {max_stop_atr!r}", param="max_stop_atr")
    risk_usd = balance * risk
    if not risk_usd > 0:
        raise DomainError(f"balance {balance!r} at risk {risk:g} is no amount to risk (it rounds to 0)", param="balance")
    own = _liq(venue, symbol, side, entry, leverage, balance * leverage / entry, None)  # at the most it could hold
    stop, reason, sound = _stop(side, entry, atr, max_stop_atr, own, below if side == "long" else above, clusters)
    problem = None
    if not sound:
        problem = f"no sound stop: {reason}"
        reason = f"no sound stop: the farthest allowed ({max_stop_atr:g} ATR or before the own liquidation)"
    target = (above[0].peak_price if above else None) if side == "long" else (below[0].peak_price if below else None)
    if stop <= 0:
        raise DomainError(f"the stop ({stop:,.2f}) is not a price: entry {entry:,.2f} is too close to zero")
    distance = abs(entry - stop)
    if distance <= 0:  # a market that never moved (ATR 0) and no cluster to stand behind
        raise DomainError(f"no stop can be placed away from the entry {entry:,.2f}: the ATR is 0 and no cluster guards it")
    size = risk_usd / distance if distance > 0 else math.inf
    if not math.isfinite(size):
        raise DomainError(f"entry {entry!r} is too close to zero: its stop is {distance!r} away, no size fits", param="entry")
    if not size > 0:
        message = f"balance {balance!r} risks {risk_usd!r} over a stop {distance!r} away from entry {entry!r}: no size"
        raise DomainError(message, param="balance")
    max_size = balance * leverage / entry
    warnings: list[str] = [problem] if problem else []
    if size > max_size:
        warnings.append(f"the risk allows {size:,.6f} but the balance margins only {max_size:,.6f} at {leverage:g}×: size capped")
        size = max_size
    notional = size * entry
    margin = notional / leverage
    liq = _liq(venue, symbol, side, entry, leverage, size, None)
    for label, price in (("entry", entry), ("stop", stop), ("own liquidation price", liq)):
        c = _inside(price, clusters)
        if c is not None:
            warnings.append(f"the {label} {price:,.2f} sits inside a {c.side} cluster {c.price_low:,.2f}–{c.price_high:,.2f}")
    before_stop = liq >= stop if side == "long" else liq <= stop
    if before_stop:
        warnings.append(f"liquidated at {liq:,.2f} before the stop at {stop:,.2f}: lower the leverage or add margin")
    margin_to_clear = None
    beyond = stop
    c_liq = _inside(liq, clusters)
    if c_liq is not None:
        beyond = min(beyond, c_liq.price_low) if side == "long" else max(beyond, c_liq.price_high)
    if before_stop or c_liq is not None:
        margin_to_clear = _margin_to_clear(venue, symbol, side, entry, leverage, size, margin, beyond, balance)
        if margin_to_clear is None:
            warnings.append(f"no isolated margin up to the balance moves the liquidation price beyond {beyond:,.2f}")
    reward = None if target is None else abs(target - entry) / distance
    if target is None:
        notes.append("no cluster in the trade's direction: no target suggested")
    reach = {
        label: {f"{h}h": float(touch_probability(math.log(price / m.price), m.sigma_hour, h)) for h in (24, 72)}
        for label, price in (("stop", stop), ("take_profit", target), ("liquidation_price", liq))
        if price is not None and price > 0
    }
    if m.sigma_hour > 0:
        own = reach.get("liquidation_price", {}).get("72h", 0.0)  # none at 1× long: it never liquidates above 0
        if own >= 0.05:
            warnings.append(f"the own liquidation price {liq:,.2f} has a {own:.0%} chance of being reached within 72 h "
                            "(driftless model at the last 3 days' volatility)")  # fmt: skip
        notes.append(
            f"chance price reaches the stop within 24 h: {reach['stop']['24h']:.0%}"
            + (f"; the target within 72 h: {reach['take_profit']['72h']:.0%}" if "take_profit" in reach else "")
        )
    return Plan(
        side=side, entry=entry, leverage=leverage, balance=balance, risk_usd=risk_usd, size_base=size, notional_usd=notional,
        margin_usd=margin, stop=stop, stop_reason=reason, liquidation_price=liq, take_profit=target, reward_risk=reward,
        below=below[:3], above=above[:3], warnings=warnings, margin_to_clear=margin_to_clear, venue=venue, symbol=symbol,
        notes=notes, reach=reach, sound_stop=sound, max_stop_atr=max_stop_atr,
    )  # fmt: skip


def _margin_to_clear(
    venue: str, symbol: str, side: str, entry: float, leverage: float, size: float, margin: float, beyond: float, balance: float
) -> float | None:
    """The isolated margin (≤ balance) whose liquidation price lies beyond ``beyond`` (bisection: the
    liquidation price moves monotonically away from entry as margin grows)."""

    def clear(mg: float) -> bool:
        liq = _liq(venue, symbol, side, entry, leverage, size, mg)
        return liq < beyond if side == "long" else liq > beyond

    if not clear(balance):
        return None
    lo, hi = margin, balance
    for _ in range(60):
        mid = (lo + hi) / 2
        if clear(mid):
            hi = mid
        else:
            lo = mid
    return hi


def sentiment(m: MarketMap, candles: Any, open_interest: Any, funding: Any, window: Any) -> dict[str, Any]:
    """Long against short notional at risk, and the funding and open-interest change over ``window``."""
    long, short = m.at_risk()
    total_long, total_short = float(long.sum()), float(short.sum())
    end = m.ts
    start = end - window
    oi = open_interest[(open_interest["ts"] <= end)]
    oi_then = oi[oi["ts"] <= start]
    oi_now_v = float(oi["oi_usd"].iloc[-1]) if len(oi) else math.nan
    oi_then_v = float(oi_then["oi_usd"].iloc[-1]) if len(oi_then) else (float(oi["oi_usd"].iloc[0]) if len(oi) else math.nan)
    out: dict[str, Any] = {
        "at": iso(end),
        "window_hours": window.total_seconds() / 3600,
        "long_at_risk_usd": total_long,
        "short_at_risk_usd": total_short,
        "long_short_ratio": total_long / total_short if total_short > 0 else None,
        "skew": (total_long - total_short) / (total_long + total_short) if total_long + total_short > 0 else 0.0,
        "open_interest_usd": oi_now_v,
        "open_interest_change_pct": (oi_now_v / oi_then_v - 1) * 100 if oi_then_v and oi_then_v > 0 else None,
        "price_change_pct": None,
        "funding_mean": None,
        "funding_last": None,
    }
    part = candles[(candles["ts"] < end) & (candles["ts"] >= start)]
    if len(part):
        out["price_change_pct"] = (float(part["close"].iloc[-1]) / float(part["open"].iloc[0]) - 1) * 100
    if funding is not None and len(funding):
        f = funding[(funding["ts"] <= end) & (funding["ts"] > start)]
        if len(f):
            out["funding_mean"] = float(f["rate"].mean())
            out["funding_last"] = float(f["rate"].iloc[-1])
    return out
