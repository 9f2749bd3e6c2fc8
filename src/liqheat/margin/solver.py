"""Venue-free liquidation math: the price at which equity falls to the maintenance margin.

Every venue we support liquidates when, at the mark price P,

    collateral + PnL(P) = maintenance(P)

with PnL(P) = s·Q·(P − entry) for linear contracts (quote currency, Q in base units) and
s·V·(1/entry − 1/P) for inverse ones (coin, V the face value in quote), s = +1 long / −1 short.
Maintenance margin is ``rate × value − deduction`` for the tier the venue picks. Venues differ only in
*which value* (at the mark price or at entry), *which tier* (the one holding the notional at the
liquidation price, at entry, or by contract count) and an extra rate (OKX adds the taker fee). Each
case is linear in P (or 1/P) within a tier, so we solve every tier exactly and keep the one whose
selection rule holds at the solution: no iteration that could stop early or oscillate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from liqheat.model import Bracket, BracketTable, ContractKind, DomainError, Position


class ValueAt(StrEnum):
    """Where the position value in the maintenance margin is measured."""

    MARK = "mark"
    ENTRY = "entry"


class TierBy(StrEnum):
    """What selects the maintenance tier."""

    NOTIONAL_AT_LIQUIDATION = "notional_at_liquidation"
    NOTIONAL_AT_ENTRY = "notional_at_entry"
    CONTRACTS = "contracts"


@dataclass(frozen=True, slots=True)
class MarginRule:
    """How one venue measures maintenance margin. Pure data: the venue modules fill it in."""

    value_at: ValueAt
    tier_by: TierBy
    extra_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Solution:
    """A liquidation price with the tier it lies in and the maintenance margin there."""

    price: float
    bracket: Bracket
    maintenance_margin: float
    bankruptcy_price: float

    @property
    def liquidatable(self) -> bool:
        return self.price > 0 and math.isfinite(self.price)


def tier_key(position: Position, tier_by: TierBy, price: float) -> float:
    """What picks the tier at ``price``: contracts, or the notional at entry or at ``price`` (quote for
    linear contracts, coin for inverse ones)."""
    spec = position.spec
    if tier_by is TierBy.CONTRACTS:
        return position.contracts
    at = position.entry_price if tier_by is TierBy.NOTIONAL_AT_ENTRY else price
    if spec.kind is ContractKind.LINEAR:
        return spec.notional_quote(position.contracts, at)
    return spec.notional_base(position.contracts, at)


def _solve_tier(position: Position, bracket: Bracket, rule: MarginRule, collateral: float) -> float:
    """Liquidation price if ``bracket`` applies; ``inf`` or ≤ 0 where none exists."""
    s = position.side.sign
    rate = bracket.mmr + rule.extra_rate
    ded = bracket.maint_amount
    e = position.entry_price
    spec = position.spec
    if spec.kind is ContractKind.LINEAR:
        q = position.contracts * spec.contract_size
        if rule.value_at is ValueAt.MARK:
            # collateral + sQ(P − e) = rate·Q·P − ded
            denom = q * (rate - s)
            return (collateral + ded - s * q * e) / denom if denom else math.inf
        # collateral + sQ(P − e) = rate·Q·e − ded
        return e + (rate * q * e - ded - collateral) / (s * q)
    v = position.contracts * spec.contract_size
    if rule.value_at is ValueAt.MARK:
        # collateral + sV(1/e − 1/P) = rate·V/P − ded   →   (rate + s)·V / P = collateral + ded + sV/e
        denom = collateral + ded + s * v / e
        price = (rate + s) * v / denom if denom else math.inf
        # A short whose coin collateral outgrows its loss is never liquidated.
        return price if price > 0 else math.inf
    # collateral + sV(1/e − 1/P) = rate·V/e − ded   →   sV/P = collateral + ded + (s − rate)·V/e
    denom = collateral + ded + (s - rate) * v / e
    return s * v / denom if s * denom > 0 else math.inf


def bankruptcy_price(position: Position, collateral: float) -> float:
    """Where equity reaches zero (``0`` for a long that can never lose its whole collateral)."""
    s = position.side.sign
    e = position.entry_price
    spec = position.spec
    if spec.kind is ContractKind.LINEAR:
        q = position.contracts * spec.contract_size
        return max(0.0, e - s * collateral / q)
    v = position.contracts * spec.contract_size
    denom = 1 / e + s * collateral / v
    return 1 / denom if denom > 0 else math.inf


def solve(position: Position, table: BracketTable, rule: MarginRule, collateral: float | None = None) -> Solution:
    """The mark price at which ``position`` is liquidated under ``rule`` and ``table``.

    ``collateral`` overrides the position's own (the cross-margin wallet balance, or what is left
    after a partial liquidation). A long whose collateral covers a fall to zero gets price 0.
    """
    cash = position.collateral if collateral is None else collateral
    last = table.brackets[-1]
    ranked: list[tuple[float, float, float, Bracket]] = []
    for bracket in table:
        price = _solve_tier(position, bracket, rule, cash)
        key = tier_key(position, rule.tier_by, price if 0 < price < math.inf else position.entry_price)
        # The last cap limits what may be opened; a position that grows past it by a price move
        # still owes the last tier's rate, so for maintenance the last tier is open-ended.
        cap = math.inf if bracket is last else bracket.cap
        if key < bracket.floor:
            miss = (bracket.floor - key) / bracket.floor
        elif key >= cap:
            miss = (key - cap) / cap
        else:
            miss = 0.0
        ranked.append((miss, abs(price - position.entry_price) if math.isfinite(price) else math.inf, price, bracket))
    # Maintenance margin is continuous and increasing in notional, so exactly one tier is consistent;
    # a solution a rounding error outside its tier (at a boundary) still counts. Where a published
    # table's rounding admits two, the price nearer to entry is the conservative one.
    miss, _, price, bracket = min(ranked, key=lambda r: (r[0] > 1e-9, r[1] if r[0] <= 1e-9 else r[0]))
    if miss > 1e-9:
        raise DomainError(f"no consistent maintenance tier for this position on {table.venue} {table.market}")
    bankrupt = bankruptcy_price(position, cash)
    if price <= 0 or not math.isfinite(price):
        return Solution(price=0.0 if price <= 0 else math.inf, bracket=bracket, maintenance_margin=0.0, bankruptcy_price=bankrupt)
    value_price = position.entry_price if rule.value_at is ValueAt.ENTRY else price
    notional = (
        position.spec.notional_quote(position.contracts, value_price)
        if position.spec.kind is ContractKind.LINEAR
        else position.spec.notional_base(position.contracts, value_price)
    )
    maintenance = notional * (bracket.mmr + rule.extra_rate) - bracket.maint_amount
    return Solution(price=price, bracket=bracket, maintenance_margin=maintenance, bankruptcy_price=bankrupt)


def equity(position: Position, price: float, collateral: float) -> float:
    """Collateral plus unrealised PnL at ``price``, in the settle currency."""
    s = position.side.sign
    spec = position.spec
    if spec.kind is ContractKind.LINEAR:
        return collateral + s * position.contracts * spec.contract_size * (price - position.entry_price)
    return collateral + s * position.contracts * spec.contract_size * (1 / position.entry_price - 1 / price)
