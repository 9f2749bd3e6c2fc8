"""Liquidation prices by venue name: the registry's rules and tables around the venue-free calculator.

This is what the faces call (``liqheat calc``, ``/api/calc``, the planner): they know a venue by
name and a symbol as a user types it.
"""

from __future__ import annotations

import math

from liqheat.margin.calculator import Result
from liqheat.margin.calculator import calculate as calculate_with
from liqheat.margin.tables import VenueTable
from liqheat.model import ContractKind, DomainError, MarginMode, Market, Position, Side
from liqheat.venues.registry import rules
from liqheat.venues.symbols import resolve
from liqheat.venues.tables import lookup


def calculate(
    venue_id: str,
    position: Position,
    *,
    table: VenueTable | None = None,
    fee_rate: float | None = None,
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
    strict_leverage: bool = True,
) -> Result:
    """The liquidation price of ``position`` on venue ``venue_id`` (its shipped or refreshed table
    unless ``table`` is given); see :func:`liqheat.margin.calculator.calculate`."""
    v = rules(venue_id)
    vt = table or lookup(v.tables_from, position.spec.market)
    return calculate_with(
        v,
        position,
        table=vt,
        fee_rate=fee_rate,
        other_maintenance=other_maintenance,
        other_upnl=other_upnl,
        strict_leverage=strict_leverage,
    )


def position_from_inputs(
    venue_id: str,
    symbol: str,
    side: str,
    entry: float,
    leverage: float,
    size: float,
    *,
    margin_mode: str = "isolated",
    balance: float | None = None,
    table: VenueTable | None = None,
) -> tuple[Position, VenueTable]:
    """Build a position from what a user types. ``size`` is base units (linear) or contracts (inverse)."""
    v = rules(venue_id)
    market: Market = resolve(symbol, v.tables_from)
    v.rules_for(market.kind)
    vt = table or lookup(v.tables_from, market)
    if vt.spec.market != market:
        raise DomainError(f"table file is for {vt.spec.market}, not {market}")
    try:
        side_value = Side(side.lower())
    except ValueError:
        raise DomainError(f"side must be long or short, got {side!r}") from None
    try:
        mode = MarginMode(margin_mode.lower())
    except ValueError:
        raise DomainError(f"margin mode must be isolated or cross, got {margin_mode!r}") from None
    if not (math.isfinite(size) and size > 0):
        raise DomainError(f"size must be a number > 0, got {size}")
    contracts = size / vt.spec.contract_size if market.kind is ContractKind.LINEAR else size
    position = Position(
        spec=vt.spec,
        side=side_value,
        entry_price=entry,
        contracts=contracts,
        leverage=leverage,
        margin_mode=mode,
        margin=balance,
    )
    return position, vt
