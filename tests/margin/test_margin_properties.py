"""Properties every venue's liquidation math must have, on the shipped tables."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liqheat.margin.calculator import Result
from liqheat.margin.solver import MarginRule, TierBy, ValueAt, equity, solve
from liqheat.margin.tables import VenueTable
from liqheat.model import Bracket, BracketTable, ContractKind, ContractSpec, MarginMode, Market, Position, Side
from liqheat.venues.calc import calculate
from liqheat.venues.registry import rules as venue
from liqheat.venues.tables import shipped

CASES = [
    ("binance", ("binance", "BTC/USDT:USDT")),
    ("binance", ("binance", "ETH/USDT:USDT")),
    ("binance", ("binance", "BTC/USD:BTC")),
    ("bybit", ("bybit", "BTC/USDT:USDT")),
    ("bybit", ("bybit", "BTC/USD:BTC")),
    ("bybit-classic", ("bybit", "BTC/USDT:USDT")),
    ("okx", ("okx", "BTC/USDT:USDT")),
    ("hyperliquid", ("hyperliquid", "BTC/USDC:USDC")),
    ("hyperliquid", ("hyperliquid", "SOL/USDC:USDC")),
]
SIDES = st.sampled_from([Side.LONG, Side.SHORT])
PRICES = st.floats(min_value=10.0, max_value=200_000.0)
FRACTIONS = st.floats(min_value=1e-4, max_value=1.0)  # share of the table's usable capacity


def _position(vt: VenueTable, side: Side, entry: float, share: float, leverage_share: float) -> Position:
    """A position in range of the table: size a share of the last finite cap, leverage allowed there."""
    table = vt.table
    finite_caps = [b.cap for b in table if math.isfinite(b.cap)]
    top = (finite_caps[-1] if finite_caps else table.brackets[0].floor + 1e9) * 0.999
    spec = vt.spec
    unit = table.notional_unit
    if unit == "contracts":
        contracts = max(top * share, 0.01)
    elif spec.kind is ContractKind.LINEAR:
        contracts = top * share / (entry * spec.contract_size)
    else:
        contracts = top * share * entry / spec.contract_size
    probe = Position(spec, side, entry, contracts, 1.0)
    key = (
        contracts
        if unit == "contracts"
        else (probe.entry_notional_quote if spec.kind is ContractKind.LINEAR else spec.notional_base(contracts, entry))
    )
    max_lev = table.for_notional(key).max_leverage
    leverage = 1.0 + (max_lev - 1.0) * leverage_share
    return Position(spec, side, entry, contracts, leverage)


def _run(venue_id: str, vt: VenueTable, position: Position) -> Result:
    return calculate(venue_id, position, table=vt, fee_rate=0.0005 if venue_id in ("okx", "bybit") else None)


@pytest.mark.parametrize(("venue_id", "key"), CASES, ids=lambda c: c if isinstance(c, str) else c[1])
@settings(max_examples=80, deadline=None)
@given(side=SIDES, entry=PRICES, share=FRACTIONS, lev=st.floats(min_value=0.05, max_value=1.0))
def test_long_below_short_above_and_bankruptcy_beyond(
    venue_id: str, key: tuple[str, str], side: Side, entry: float, share: float, lev: float
) -> None:
    vt = shipped()[key]
    result = _run(venue_id, vt, _position(vt, side, entry, share, lev))
    sol = result.solution
    if not sol.liquidatable:
        # Only a low-leverage long on a linear contract or a short on an inverse one can be unliquidatable.
        assert (side is Side.LONG) == (vt.spec.kind is ContractKind.LINEAR)
        return
    assert side.sign * (sol.price - entry) < 0
    assert side.sign * (sol.bankruptcy_price - sol.price) <= 1e-9 * entry
    d = result.to_dict()
    assert d["distance_pct"] * side.sign < 0


@pytest.mark.parametrize(("venue_id", "key"), CASES, ids=lambda c: c if isinstance(c, str) else c[1])
@settings(max_examples=80, deadline=None)
@given(side=SIDES, entry=PRICES, share=FRACTIONS, lev=st.floats(min_value=0.05, max_value=1.0))
def test_equity_equals_maintenance_at_the_liquidation_price(
    venue_id: str, key: tuple[str, str], side: Side, entry: float, share: float, lev: float
) -> None:
    """The defining equation, checked independently of how the solver found the price."""
    vt = shipped()[key]
    position = _position(vt, side, entry, share, lev)
    result = _run(venue_id, vt, position)
    sol = result.solution
    assume(sol.liquidatable)
    eq = equity(position, sol.price, result.collateral)
    assert eq == pytest.approx(sol.maintenance_margin, rel=1e-7, abs=1e-9 * position.entry_value_settle)
    rule = venue(venue_id).rules_for(vt.spec.kind).rule
    if rule.tier_by is TierBy.NOTIONAL_AT_LIQUIDATION:
        spec = position.spec
        notional = (
            spec.notional_quote(position.contracts, sol.price)
            if spec.kind is ContractKind.LINEAR
            else spec.notional_base(position.contracts, sol.price)
        )
        assert sol.bracket.floor <= notional * (1 + 1e-9)
        if sol.bracket is not vt.table.brackets[-1]:  # the last tier is open-ended for maintenance
            assert notional <= sol.bracket.cap * (1 + 1e-9)


@pytest.mark.parametrize(("venue_id", "key"), CASES, ids=lambda c: c if isinstance(c, str) else c[1])
@settings(max_examples=60, deadline=None)
@given(side=SIDES, entry=PRICES, share=FRACTIONS, lo=st.floats(0.02, 1.0), hi=st.floats(0.02, 1.0))
def test_higher_leverage_is_closer_to_entry(
    venue_id: str, key: tuple[str, str], side: Side, entry: float, share: float, lo: float, hi: float
) -> None:
    vt = shipped()[key]
    low, high = sorted((lo, hi))
    a = _run(venue_id, vt, _position(vt, side, entry, share, low)).solution
    b = _run(venue_id, vt, _position(vt, side, entry, share, high)).solution
    dist_a = abs(a.price - entry) if a.liquidatable else math.inf
    dist_b = abs(b.price - entry) if b.liquidatable else math.inf
    assert dist_b <= dist_a * (1 + 1e-9)


@pytest.mark.parametrize(("venue_id", "key"), CASES, ids=lambda c: c if isinstance(c, str) else c[1])
@settings(max_examples=60, deadline=None)
@given(side=SIDES, entry=PRICES, s1=st.floats(1e-4, 0.3), s2=st.floats(1e-4, 0.3), lev=st.floats(1.1, 10.0))
def test_larger_notional_never_liquidates_further_away(
    venue_id: str, key: tuple[str, str], side: Side, entry: float, s1: float, s2: float, lev: float
) -> None:
    vt = shipped()[key]
    small, large = sorted((s1, s2))
    p_large = _position(vt, side, entry, large, 1.0)  # leverage: the maximum the larger size allows
    lev = min(lev, p_large.leverage)
    assume(lev >= 1.1)
    a = _run(venue_id, vt, replace(_position(vt, side, entry, small, 0.0), leverage=lev)).solution
    b = _run(venue_id, vt, replace(p_large, leverage=lev)).solution
    dist_a = abs(a.price - entry) if a.liquidatable else math.inf
    dist_b = abs(b.price - entry) if b.liquidatable else math.inf
    assert dist_b <= dist_a * (1 + 1e-9)


@pytest.mark.parametrize("value_at", list(ValueAt))
@settings(max_examples=150, deadline=None)
@given(
    side=SIDES,
    entry=PRICES,
    face=st.floats(min_value=100.0, max_value=5e7),
    lev=st.floats(min_value=1.0, max_value=100.0),
    mmrs=st.lists(st.floats(0.001, 0.2), min_size=1, max_size=4).map(sorted),
)
def test_inverse_is_linear_on_the_reciprocal_price(
    value_at: ValueAt, side: Side, entry: float, face: float, lev: float, mmrs: list[float]
) -> None:
    """An inverse long of V USD at P is a linear short of V units of USD priced in coin at 1/P."""
    caps = [face / entry * 0.61 * 2 ** (i - 1) for i in range(1, len(mmrs))] + [math.inf]  # no cap at the entry key
    brackets: list[Bracket] = []
    floor, cum = 0.0, 0.0
    for i, (mmr, cap) in enumerate(zip(mmrs, caps, strict=True)):
        if brackets:
            cum += floor * (mmr - brackets[-1].mmr)
        brackets.append(Bracket(i + 1, floor, cap, 125, mmr, cum))
        floor = cap
    inverse_market = Market("BTC", "USD", "BTC")
    reciprocal_market = Market("USD", "BTC", "BTC")
    table = BracketTable("test", inverse_market, "BTC", "property", "2026-01-01", tuple(brackets))
    mirror = replace(table, market=reciprocal_market)
    tier_by = TierBy.NOTIONAL_AT_ENTRY if value_at is ValueAt.ENTRY else TierBy.NOTIONAL_AT_LIQUIDATION
    rule = MarginRule(value_at, tier_by)
    inverse = Position(ContractSpec(inverse_market, 1.0), side, entry, face, lev)
    linear = Position(ContractSpec(reciprocal_market, 1.0), Side.SHORT if side is Side.LONG else Side.LONG, 1 / entry, face, lev)
    assert inverse.initial_margin == pytest.approx(linear.initial_margin)
    a = solve(inverse, table, rule)
    b = solve(linear, mirror, rule)
    assert a.liquidatable == b.liquidatable
    if a.liquidatable:
        assert a.price == pytest.approx(1 / b.price, rel=1e-9)
        assert a.bracket.tier == b.bracket.tier


@pytest.mark.parametrize(
    ("venue_id", "key"), [c for c in CASES if c[0] != "bybit-classic"], ids=lambda c: c if isinstance(c, str) else c[1]
)
@settings(max_examples=40, deadline=None)
@given(side=SIDES, entry=PRICES, share=st.floats(1e-4, 0.05), extra=st.floats(0.0, 5.0))
def test_cross_balance_moves_the_liquidation_price_away(
    venue_id: str, key: tuple[str, str], side: Side, entry: float, share: float, extra: float
) -> None:
    vt = shipped()[key]
    base = _position(vt, side, entry, share, 0.5)
    im = base.initial_margin
    lean = _run(venue_id, vt, replace(base, margin_mode=MarginMode.CROSS, margin=im)).solution
    rich = _run(venue_id, vt, replace(base, margin_mode=MarginMode.CROSS, margin=im * (1 + extra))).solution
    d_lean = abs(lean.price - entry) if lean.liquidatable else math.inf
    d_rich = abs(rich.price - entry) if rich.liquidatable else math.inf
    assert d_rich >= d_lean * (1 - 1e-9)


@pytest.mark.parametrize(("venue_id", "key"), CASES, ids=lambda c: c if isinstance(c, str) else c[1])
@settings(max_examples=40, deadline=None)
@given(side=SIDES, entry=PRICES, share=FRACTIONS, lev=st.floats(0.05, 1.0))
def test_stepwise_liquidation_accounts_for_every_contract_moving_against_it(
    venue_id: str, key: tuple[str, str], side: Side, entry: float, share: float, lev: float
) -> None:
    vt = shipped()[key]
    position = _position(vt, side, entry, share, lev)
    result = _run(venue_id, vt, position)
    assume(result.solution.liquidatable)
    steps = result.steps
    assert steps
    assert all(not s.full for s in steps[:-1])
    if steps[-1].full:
        assert steps[-1].contracts_left == 0
    else:  # the cuts left a remainder whose collateral now covers any move (low leverage)
        assert steps[-1].contracts_left > 0
    closed = sum(s.contracts_closed for s in steps)
    assert closed + steps[-1].contracts_left == pytest.approx(position.contracts, rel=1e-9)
    lefts = [s.contracts_left for s in steps]
    assert lefts == sorted(lefts, reverse=True)
    prices = [s.price * side.sign for s in steps]
    assert prices == sorted(prices, reverse=True)  # each stage further along the adverse move
    assert steps[0].price == result.liquidation_price
