"""Health factor, liquidation prices and liquidation calls of an Aave position.

The pool (``GenericLogic.calculateUserAccountData``) computes

    HF = Σ_i collateral_i · price_i · LT_i  ÷  Σ_j debt_j · price_j

and lets anyone liquidate below 1. Move the prices of a set of assets M (one asset with the others held
fixed, or a correlated group such as WBTC/cbBTC or an e-mode category) by a common factor s:

    HF(s) = (a·s + b) / (c·s + d)

with a, b the LT-weighted collateral inside and outside M and c, d the debt inside and outside M. HF(s) = 1
is linear in s, so the liquidation price has a closed form, s* = (d − b) / (a − c): liquidated on a fall
below s* when a > c (collateral in M outweighs debt in M), on a rise above it when a < c. No iteration.

A liquidation call (``LiquidationLogic``) repays part of one debt reserve and seizes ``repaid × bonus`` of
one collateral reserve; how much follows the market's :class:`~.position.CloseRules`. We model a liquidator
who, once HF < 1, repays the largest debt, seizes the largest collateral and takes the most the pool allows:
:func:`liquidation_path` follows those calls as the price keeps moving, each at the price where HF first
reaches 1 again. It omits the v3.3 rule against leaving under $1,000 behind, which binds only when a
position is nearly exhausted, and the 1-wei roundings of the contracts.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from liqheat.model import DomainError
from liqheat.venues.aave.position import CloseRules, Holding, Market, Position


def _weighted(position: Position, moved: Collection[str]) -> tuple[float, float, float, float]:
    """(a, b, c, d) of the module docstring: LT-weighted collateral and debt, inside and outside ``moved``."""
    a = b = c = d = 0.0
    for h in position.collateral:
        w = h.usd * position.liquidation_threshold(h.asset)
        if h.asset in moved:
            a += w
        else:
            b += w
    for h in position.debt:
        if h.asset in moved:
            c += h.usd
        else:
            d += h.usd
    return a, b, c, d


def health_factor(position: Position, moved: Collection[str] = (), scale: float = 1.0) -> float:
    """HF with the prices of ``moved`` multiplied by ``scale``; ``inf`` without debt (as the pool says)."""
    a, b, c, d = _weighted(position, moved)
    debt = c * scale + d
    return math.inf if debt <= 0 else (a * scale + b) / debt


class Direction(StrEnum):
    """Which way the moved prices must go for the position to be liquidated."""

    FALL = "fall"
    RISE = "rise"
    NEVER = "never"
    ALWAYS = "always"  # HF < 1 at every price of the moved assets: liquidatable now, whatever they do


@dataclass(frozen=True, slots=True)
class Trigger:
    """Where HF(s) = 1: the factor ``scale`` on the moved prices (NaN for NEVER and ALWAYS)."""

    direction: Direction
    scale: float

    @property
    def crosses(self) -> bool:
        return self.direction in (Direction.FALL, Direction.RISE)

    def liquidatable_at(self, scale: float) -> bool:
        """Whether HF < 1 with the moved prices at ``scale`` times today's."""
        if self.direction is Direction.FALL:
            return scale < self.scale
        if self.direction is Direction.RISE:
            return scale > self.scale
        return self.direction is Direction.ALWAYS


def solve(position: Position, moved: Collection[str]) -> Trigger:
    """The closed-form crossing of HF = 1 when the prices of ``moved`` move together (module docstring)."""
    a, b, c, d = _weighted(position, moved)
    if c <= 0 and d <= 0:
        return Trigger(Direction.NEVER, math.nan)
    if a == c:
        return Trigger(Direction.ALWAYS if b < d else Direction.NEVER, math.nan)
    s = (d - b) / (a - c)
    if a > c:
        return Trigger(Direction.FALL, s) if s > 0 else Trigger(Direction.NEVER, math.nan)
    return Trigger(Direction.RISE, s) if s > 0 else Trigger(Direction.ALWAYS, math.nan)


def _price_of(position: Position, asset: str) -> float:
    for h in (*position.collateral, *position.debt):
        if h.asset == asset:
            return h.price
    raise DomainError(f"account {position.account} holds no {asset!r} as collateral or debt", param="asset")


def correlated(market: Market, asset: str) -> frozenset[str]:
    """``asset`` and every asset sharing an e-mode category with it: what moves with it (BTC wrappers, ETH and its LSTs)."""
    group = {asset}
    for category in market.emodes.values():
        if asset in category.assets:
            group |= category.assets
    return frozenset(group)


def liquidation_price(position: Position, asset: str, together: Iterable[str] = ()) -> float | None:
    """The price of ``asset`` at which HF = 1, the other prices held fixed except ``together``, which move by the
    same factor (pass :func:`correlated` to move an e-mode group). ``None`` when no price of it crosses 1:
    the position is safe whatever it does, or liquidatable whatever it does (see :func:`solve`)."""
    price = _price_of(position, asset)
    trigger = solve(position, frozenset({asset, *together}))
    return trigger.scale * price if trigger.crosses else None


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One liquidation call: the factor on the moved prices it happens at, the health factor just before,
    the debt repaid and the collateral seized (tokens and USD at that price; seized includes the treasury's fee)."""

    scale: float
    health_factor: float
    debt_asset: str
    repaid: float
    repaid_usd: float
    collateral_asset: str
    seized: float
    seized_usd: float
    full: bool  # the close factor did not apply: the whole reserve debt could be repaid


def _priced(h: Holding, moved: Collection[str], scale: float) -> float:
    return h.price * scale if h.asset in moved else h.price


def max_repay_usd(
    rules: CloseRules, debt_usd: float, collateral_usd: float, total_debt_usd: float, hf: float
) -> tuple[float, bool]:
    """The most of one debt reserve (worth ``debt_usd``) one call may repay, and whether the close factor was lifted,
    as ``LiquidationLogic`` decides it from the seized reserve's and the debt reserve's worth and the health factor."""
    if hf > rules.full_below_hf and collateral_usd >= rules.full_below_usd and debt_usd >= rules.full_below_usd:
        cap = rules.close_factor * (total_debt_usd if rules.of_total_debt else debt_usd)
        if debt_usd > cap:
            return cap, False
    return debt_usd, True


def liquidation_call(position: Position, moved: Collection[str], scale: float) -> tuple[Liquidation, Position]:
    """The largest call the pool allows with the prices of ``moved`` at ``scale`` times today's, and the
    position after it. The caller decides that HF < 1 there (at HF = 1 exactly this is the limit just below)."""
    debts = [(h, h.amount * _priced(h, moved, scale)) for h in position.debt if h.amount > 0]
    collateral = [(h, h.amount * _priced(h, moved, scale)) for h in position.collateral if h.amount > 0]
    if not debts or not collateral:
        raise DomainError(f"account {position.account}: nothing to liquidate (no debt or no collateral left)")
    debt, debt_usd = max(debts, key=lambda x: x[1])
    coll, coll_usd = max(collateral, key=lambda x: x[1])
    hf = health_factor(position, moved, scale)
    repay_usd, full = max_repay_usd(position.market.rules, debt_usd, coll_usd, sum(u for _, u in debts), hf)
    bonus = position.liquidation_bonus(coll.asset)
    seize_usd = repay_usd * bonus
    if seize_usd >= coll_usd:
        seize_usd, repay_usd = coll_usd, coll_usd / bonus
    repaid = debt.amount if repay_usd >= debt_usd else repay_usd / _priced(debt, moved, scale)
    seized = coll.amount if seize_usd >= coll_usd else seize_usd / _priced(coll, moved, scale)
    after = position.with_balances({coll.asset: max(coll.amount - seized, 0.0)}, {debt.asset: max(debt.amount - repaid, 0.0)})
    call = Liquidation(scale, hf, debt.asset, repaid, repay_usd, coll.asset, seized, seize_usd, full)
    return call, after


def liquidation_path(
    position: Position,
    moved: Collection[str],
    *,
    lowest: float = 1e-6,
    highest: float = 1e6,
    min_usd: float = 1.0,
    max_calls: int = 1000,
) -> list[Liquidation]:
    """Every call a price move of ``moved`` would bring, in order: from today's prices the move goes the way
    that liquidates the position (:func:`solve`), each call at the factor where HF first falls to 1 (today's,
    if it already has), until the factor leaves [``lowest``, ``highest``] (by default a millionfold move: a
    position whose debt moves with the price can be chased forever), nothing crosses 1 any more, or the
    debt or the collateral left is worth less than ``min_usd``."""
    calls: list[Liquidation] = []
    at, way = 1.0, None
    for _ in range(max_calls):
        trigger = solve(position, moved)
        if trigger.direction is Direction.NEVER:
            break
        if trigger.direction is Direction.ALWAYS:
            scale = at
        else:
            if way is not None and trigger.direction is not way:
                break
            way = trigger.direction
            scale = min(at, trigger.scale) if way is Direction.FALL else max(at, trigger.scale)
        if not lowest <= scale <= highest:
            break
        call, position = liquidation_call(position, moved, scale)
        calls.append(call)
        at = scale
        debt_left = sum(h.amount * _priced(h, moved, scale) for h in position.debt)
        collateral_left = sum(h.amount * _priced(h, moved, scale) for h in position.collateral)
        if debt_left < min_usd or collateral_left < min_usd:
            break
    return calls
