"""Exact liquidation prices under a venue's rules: the function behind ``liqheat calc`` and the web calculator.

Venue-free: the rules (:class:`~liqheat.margin.rules.Venue`) and the bracket table come in as values;
:mod:`liqheat.venues.calc` looks them up by name. Venues trigger liquidation on their *mark* price,
not on the last trade; every result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from liqheat.margin.rules import FractionalReduction, KindRules, TierReduction, Venue
from liqheat.margin.solver import Solution, TierBy, equity, solve, tier_key
from liqheat.margin.tables import VenueTable
from liqheat.model import Bracket, BracketTable, ContractKind, DomainError, MarginMode, Position, Side

MAX_STEPS = 200
STALE_DAYS = 365


@dataclass(frozen=True, slots=True)
class Step:
    """One stage of a stepwise liquidation: at ``price``, ``contracts_closed`` go, ``contracts_left`` stay."""

    price: float
    contracts_closed: float
    contracts_left: float
    notional_closed: float
    full: bool


@dataclass(frozen=True, slots=True)
class Result:
    venue: Venue
    position: Position
    table: BracketTable
    solution: Solution
    collateral: float
    fee_rate: float
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    formula_source: str

    @property
    def liquidation_price(self) -> float:
        return self.solution.price

    @property
    def distance_pct(self) -> float:
        if not self.solution.liquidatable:
            return math.inf if self.position.side is Side.SHORT else -100.0
        return (self.solution.price / self.position.entry_price - 1) * 100

    @property
    def settle(self) -> str:
        return self.position.spec.market.settle

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; ``liquidation_price`` is always a number (0 = never liquidated)."""
        p = self.position
        b = self.solution.bracket
        finite = self.solution.liquidatable
        return {
            "venue": self.venue.id,
            "symbol": p.spec.market.unified,
            "contract": p.spec.kind.value,
            "contract_size": p.spec.contract_size,
            "side": p.side.value,
            "entry_price": p.entry_price,
            "size_contracts": p.contracts,
            "size_base": p.spec.notional_base(p.contracts, p.entry_price),
            "notional_quote": p.entry_notional_quote,
            "leverage": p.leverage,
            "margin_mode": p.margin_mode.value,
            "collateral": self.collateral,
            "initial_margin": p.initial_margin,
            "settle_currency": self.settle,
            "liquidation_price": self.solution.price if finite else 0.0,
            "liquidatable": finite,
            "bankruptcy_price": self.solution.bankruptcy_price if math.isfinite(self.solution.bankruptcy_price) else 0.0,
            "distance_pct": self.distance_pct if finite else None,
            "maintenance_margin": self.solution.maintenance_margin,
            "bracket": {
                "tier": b.tier,
                "floor": b.floor,
                "cap": b.cap if math.isfinite(b.cap) else None,
                "unit": self.table.notional_unit,
                "max_leverage": b.max_leverage,
                "mmr": b.mmr,
                "maint_amount": b.maint_amount,
            },
            "fee_rate": self.fee_rate,
            "trigger": self.venue.trigger,
            "steps": [
                {
                    "price": s.price,
                    "contracts_closed": s.contracts_closed,
                    "contracts_left": s.contracts_left,
                    "notional_closed": s.notional_closed,
                    "full": s.full,
                }
                for s in self.steps
            ],
            "notes": list(self.notes),
            "formula_source": self.formula_source,
            "table_source": self.table.source,
            "table_as_of": self.table.as_of,
        }


def _tier_index(table: BracketTable, bracket: Bracket) -> int:
    return table.brackets.index(bracket)


def _contracts_for_key(position: Position, tier_by: TierBy, key: float, price: float) -> float:
    """How many contracts make tier key ``key`` (the inverse of :func:`_key_at`)."""
    if tier_by is TierBy.CONTRACTS:
        return key
    unit = tier_key(replace(position, contracts=1.0), tier_by, price)
    return key / unit


def _steps(
    v: Venue, rules: KindRules, table: BracketTable, position: Position, first: Solution, collateral: float
) -> tuple[Step, ...]:
    """Follow a stepwise liquidation from the first trigger until the position is gone."""
    steps: list[Step] = []
    pos, sol, cash = position, first, collateral
    model = v.steps
    spec = position.spec
    last_target = len(table)
    while sol.liquidatable and len(steps) < MAX_STEPS - 1:
        price = sol.price
        keep = 0.0
        if isinstance(model, FractionalReduction):
            if spec.notional_quote(pos.contracts, price) > model.above_notional:
                keep = pos.contracts * (1 - model.fraction)
        elif isinstance(model, TierReduction):
            tier = _tier_index(table, sol.bracket)
            if tier + 1 >= model.full_below_tier:
                # Each cut goes at least one tier below the last one, so a position whose notional
                # regrows with the price (a short) is not shaved in ever smaller slices.
                target = 0 if model.levels is None else min(tier - model.levels, last_target - 1)
                if target >= 0:
                    last_target = target
                    cap = table.brackets[target].cap
                    keep = min(_contracts_for_key(pos, rules.rule.tier_by, cap, price) * (1 - 1e-12), pos.contracts)
        if keep <= 0:
            break
        left_equity = equity(pos, price, cash)
        remaining = replace(pos, contracts=keep)
        # Equity after the partial close is unchanged (the loss was already unrealised); restate it as
        # collateral against the entry price of what is left.
        cash = left_equity - equity(remaining, price, 0.0)
        next_sol = solve(remaining, table, rules.rule, cash)
        if next_sol.liquidatable and pos.side.sign * (next_sol.price - price) >= 0:
            break  # still short of margin after the cut: the rest goes at once
        closed = pos.contracts - keep
        steps.append(Step(price, closed, keep, spec.notional_quote(closed, price), False))
        pos, sol = remaining, next_sol
    if sol.liquidatable:
        steps.append(Step(sol.price, pos.contracts, 0.0, spec.notional_quote(pos.contracts, sol.price), True))
    return tuple(steps)


def calculate(
    v: Venue,
    position: Position,
    *,
    table: VenueTable,
    fee_rate: float | None = None,
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
    strict_leverage: bool = True,
) -> Result:
    """The liquidation price of ``position`` under venue rules ``v`` and bracket table ``table``.

    ``position.margin`` is the isolated margin (default: initial margin) or, in cross mode, the
    wallet balance. ``other_maintenance``/``other_upnl`` are the maintenance margin and unrealised
    PnL of the account's other cross positions (Binance's TMM1 and UPNL1), 0 for a one-position account.
    """
    spec_market = position.spec.market
    rules = v.rules_for(spec_market.kind)
    vt = table
    fee = v.default_taker_fee if fee_rate is None else fee_rate
    if not (0 <= fee < 0.05):
        raise DomainError(f"fee rate must be a fraction in [0, 0.05), got {fee}")
    rule = replace(rules.rule, extra_rate=fee) if v.fee_in_maintenance else rules.rule
    notes: list[str] = [f"Triggered by the {v.trigger}, not the last trade: a candle wick past this price need not liquidate."]

    entry_key = tier_key(position, rule.tier_by, position.entry_price)
    entry_bracket = vt.table.for_notional(entry_key)
    if position.leverage > entry_bracket.max_leverage + 1e-9:
        message = (
            f"leverage {position.leverage:g}x exceeds the {entry_bracket.max_leverage:g}x maximum of tier {entry_bracket.tier} "
            f"for this position size on {v.name} {spec_market} "
            f"({entry_key:,.2f} {vt.table.notional_unit})"
        )
        if strict_leverage:
            raise DomainError(message)
        notes.append(message)

    collateral = position.collateral
    if position.margin_mode is MarginMode.CROSS:
        if position.margin is None:
            raise DomainError("balance: cross margin needs the account's wallet balance", param="balance")
        collateral = position.margin - other_maintenance + other_upnl
    if position.margin is not None and position.margin < position.initial_margin * (1 - 1e-9):
        notes.append(
            f"Margin {position.margin:,.8g} {spec_market.settle} is below the initial margin {position.initial_margin:,.8g} "
            f"{spec_market.settle} at {position.leverage:g}x (fees or funding paid): a venue would not open it so."
        )
    if rules.fee_scales_extra_margin and position.margin_mode is MarginMode.ISOLATED:
        extra = collateral - position.initial_margin
        if extra > 0:
            # Bybit UTA: margin added by hand counts net of the fee to close it (÷ (1 ∓ taker) linear, ÷ (1 ± taker) inverse).
            sign = position.side.sign if spec_market.kind is ContractKind.LINEAR else -position.side.sign
            collateral = position.initial_margin + extra / (1 - sign * fee)

    solution = solve(position, vt.table, rule, collateral)
    if solution.liquidatable and position.side.sign * (solution.price - position.entry_price) >= 0:
        raise DomainError(
            f"this position is below maintenance margin already at its entry price: its liquidation price "
            f"{solution.price:,.8g} lies {'above' if position.side is Side.LONG else 'below'} the entry; add margin"
        )
    if not solution.liquidatable:
        notes.append("The collateral covers any move: this position cannot be liquidated.")
    steps = _steps(v, rules, vt.table, position, solution, collateral)
    if v.steps is not None and len(steps) > 1:
        notes.append(v.steps.description)
    elif v.unpublished_steps_note and solution.liquidatable:
        notes.append(v.unpublished_steps_note)
    notes.extend(v.notes)
    if position.margin_mode is MarginMode.CROSS:
        notes.append("Cross margin: exact for an account holding this one position; funding and other positions move it.")
    age = _age_days(vt.table.as_of)
    if age is not None and age > STALE_DAYS:
        notes.append(f"The {v.name} table for {spec_market} dates from {vt.table.as_of}: tiers may have changed since.")
    return Result(
        venue=v,
        position=position,
        table=vt.table,
        solution=solution,
        collateral=collateral,
        fee_rate=fee if v.fee_matters else 0.0,
        steps=steps,
        notes=tuple(notes),
        formula_source=rules.formula_source,
    )


def _age_days(as_of: str) -> int | None:
    try:
        return (date.today() - date.fromisoformat(as_of[:10])).days
    except ValueError:
        return None
