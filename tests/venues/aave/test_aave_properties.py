"""Properties of the Aave liquidation-price solver on random positions: HF is 1 at the price it gives, more
debt never moves that price away, it agrees with brute force, and liquidation calls behave as the pool's."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import aave_bisect, aave_hf
from liqheat.venues.aave.health import Direction, health_factor, liquidation_call, liquidation_path, solve
from liqheat.venues.aave.position import V3_0, V3_3, CloseRules, Holding, Market, Position, Reserve

COLLATERAL = ("WBTC", "cbBTC", "WETH", "USDC")
DEBT = ("WBTC", "WETH", "USDC", "DAI")
GRID = np.geomspace(1e-3, 1e3, 241)


@st.composite
def markets(draw: st.DrawFn) -> Market:
    reserves = {}
    for asset in COLLATERAL:
        lt = draw(st.floats(0.3, 0.95))
        bonus = draw(st.floats(1.0, min(1.0 / lt, 1.2)))
        reserves[asset] = Reserve(asset, lt, bonus, protocol_fee=draw(st.floats(0.0, 0.2)))
    rules: CloseRules = draw(st.sampled_from([V3_3, V3_0]))
    return Market("random", reserves, rules=rules)


USD = st.floats(1.0, 1e8)


@st.composite
def positions(draw: st.DrawFn) -> tuple[Position, frozenset[str]]:
    market = draw(markets())
    prices = {a: draw(st.floats(0.01, 1e5)) for a in {*COLLATERAL, *DEBT}}
    coll = draw(st.lists(st.sampled_from(COLLATERAL), min_size=1, max_size=4, unique=True))
    debt = draw(st.lists(st.sampled_from(DEBT), min_size=1, max_size=4, unique=True))
    position = Position(
        "0xrandom", market,
        tuple(Holding(a, draw(USD) / prices[a], prices[a]) for a in coll),
        tuple(Holding(a, draw(USD) / prices[a], prices[a]) for a in debt),
    )  # fmt: skip
    moved = frozenset(draw(st.sets(st.sampled_from(sorted({*coll, *debt})), min_size=1)))
    return position, moved


@settings(max_examples=400, deadline=None)
@given(positions())
def test_health_factor_is_one_at_the_computed_price(case: tuple[Position, frozenset[str]]) -> None:
    """…and where no price is computed, HF − 1 keeps one sign at every price: the one the direction says."""
    position, moved = case
    trigger = solve(position, moved)
    if trigger.crosses:
        assert math.isclose(aave_hf(position, moved, trigger.scale), 1.0, rel_tol=1e-9)
        assert math.isclose(health_factor(position, moved, trigger.scale), 1.0, rel_tol=1e-9)
    else:
        below = {aave_hf(position, moved, float(s)) < 1.0 for s in GRID}
        assert below == {trigger.direction is Direction.ALWAYS}


@settings(max_examples=400, deadline=None)
@given(positions(), st.sampled_from(DEBT), USD)
def test_more_debt_never_moves_the_liquidation_price_away(case: tuple[Position, frozenset[str]], asset: str, usd: float) -> None:
    position, moved = case
    price = next((h.price for h in (*position.collateral, *position.debt) if h.asset == asset), 100.0)
    debts = {h.asset: h.amount for h in position.debt}
    debts[asset] = debts.get(asset, 0.0) + usd / price
    more = Position(position.account, position.market, position.collateral,
                    tuple(Holding(a, q, price if a == asset else next(h.price for h in position.debt if h.asset == a))
                          for a, q in debts.items()))  # fmt: skip
    before, after = solve(position, moved), solve(more, moved)
    for s in GRID:  # every price at which the position was liquidatable, the deeper one is too
        if before.liquidatable_at(float(s)):
            assert after.liquidatable_at(float(s)), (before, after, s)
    if before.direction is Direction.FALL and after.direction is Direction.FALL:
        assert after.scale >= before.scale * (1 - 1e-12)
    if before.direction is Direction.RISE and after.direction is Direction.RISE:
        assert after.scale <= before.scale * (1 + 1e-12)
    if before.direction is Direction.ALWAYS:
        assert after.direction is Direction.ALWAYS


@settings(max_examples=150, deadline=None)
@given(positions())
def test_closed_form_matches_bisection(case: tuple[Position, frozenset[str]]) -> None:
    position, moved = case
    trigger = solve(position, moved)
    assume(not trigger.crosses or 1e-8 < trigger.scale < 1e8)
    found = aave_bisect(position, moved)
    if trigger.crosses:
        assert found is not None
        assert math.isclose(found, trigger.scale, rel_tol=1e-9)
    else:
        assert found is None


@settings(max_examples=300, deadline=None)
@given(positions(), st.floats(0.0, 0.9))
def test_a_call_moves_the_health_factor_as_the_pool_says(case: tuple[Position, frozenset[str]], depth: float) -> None:
    """A call seizing collateral k lowers HF only when HF < bonus_k × LT_k; it never creates debt or collateral."""
    position, moved = case
    trigger = solve(position, moved)
    assume(trigger.direction is not Direction.NEVER)
    scale = {Direction.FALL: trigger.scale * (1 - depth), Direction.RISE: trigger.scale / (1 - depth)}.get(trigger.direction, 1.0)
    hf = health_factor(position, moved, scale)
    call, after = liquidation_call(position, moved, scale)
    bonus_lt = position.liquidation_bonus(call.collateral_asset) * position.liquidation_threshold(call.collateral_asset)
    if hf >= bonus_lt * (1 + 1e-9):
        assert health_factor(after, moved, scale) >= hf * (1 - 1e-9)
    assert call.seized_usd <= call.repaid_usd * position.liquidation_bonus(call.collateral_asset) * (1 + 1e-9)
    assert all(a.amount <= b.amount for a, b in zip(after.collateral, position.collateral, strict=True))
    assert all(a.amount <= b.amount for a, b in zip(after.debt, position.debt, strict=True))


@settings(max_examples=150, deadline=None)
@given(positions())
def test_a_path_goes_one_way_and_each_call_is_at_hf_one_or_below(case: tuple[Position, frozenset[str]]) -> None:
    position, moved = case
    calls = liquidation_path(position, moved)
    scales = [c.scale for c in calls]
    assert scales == sorted(scales) or scales == sorted(scales, reverse=True)
    assert all(c.health_factor <= 1.0 + 1e-9 for c in calls)
    assert sum(c.repaid_usd for c in calls) <= sum(h.usd for h in position.debt) * max([*scales, 1.0]) * (1 + 1e-9)
