"""Aave health factor, liquidation prices and liquidation calls, on positions worked out by hand."""

from __future__ import annotations

import math

import pytest

from liqheat.model import DomainError
from liqheat.venues.aave.health import (
    Direction,
    correlated,
    health_factor,
    liquidation_call,
    liquidation_path,
    liquidation_price,
    max_repay_usd,
    solve,
)
from liqheat.venues.aave.position import V2, V3_0, V3_3, EModeCategory, Holding, Market, Position, Reserve

BTC_EMODE = EModeCategory(4, "LBTC_WBTC", 0.86, 1.03, frozenset({"LBTC", "WBTC"}), borrowable=frozenset({"WBTC"}))
ETH_EMODE = EModeCategory(1, "ETH correlated", 0.95, 1.01, frozenset({"wstETH", "WETH"}), borrowable=frozenset({"WETH"}))
MARKET = Market(
    "test pool",
    {
        "WBTC": Reserve("WBTC", 0.78, 1.05, protocol_fee=0.1),
        "LBTC": Reserve("LBTC", 0.75, 1.07),
        "wstETH": Reserve("wstETH", 0.81, 1.06),
        "WETH": Reserve("WETH", 0.83, 1.05),
        "USDC": Reserve("USDC", 0.78, 1.045),
        "GHOST": Reserve("GHOST", 0.40, 1.10, debt_ceiling_usd=2_000_000, borrowable_in_isolation=False),
    },
    {4: BTC_EMODE, 1: ETH_EMODE},
)


def pos(collateral: dict[str, tuple[float, float]], debt: dict[str, tuple[float, float]], emode: int = 0, market: Market = MARKET
        ) -> Position:  # fmt: skip
    return Position("0xabc", market, tuple(Holding(a, q, p) for a, (q, p) in collateral.items()),
                    tuple(Holding(a, q, p) for a, (q, p) in debt.items()), emode)  # fmt: skip


def test_one_collateral_one_stable_debt() -> None:
    p = pos({"WBTC": (1.0, 60_000.0)}, {"USDC": (30_000.0, 1.0)})
    assert health_factor(p) == pytest.approx(60_000 * 0.78 / 30_000)
    assert liquidation_price(p, "WBTC") == pytest.approx(30_000 / 0.78, rel=1e-12)
    assert liquidation_price(p, "USDC") == pytest.approx(60_000 * 0.78 / 30_000, rel=1e-12)  # the debt's price rising to $1.56
    t = solve(p, {"WBTC"})
    assert t.direction is Direction.FALL
    assert t.liquidatable_at(t.scale * 0.999)
    assert not t.liquidatable_at(t.scale * 1.001)


def test_two_collaterals_others_held_fixed() -> None:
    p = pos({"WBTC": (1.0, 60_000.0), "WETH": (10.0, 2_000.0)}, {"USDC": (50_000.0, 1.0)})
    # 1·x·0.78 + 10·2000·0.83 = 50,000  →  x = (50,000 − 16,600) / 0.78
    assert liquidation_price(p, "WBTC") == pytest.approx((50_000 - 16_600) / 0.78, rel=1e-12)
    # ETH alone: 60,000·0.78 + 10·y·0.83 = 50,000
    assert liquidation_price(p, "WETH") == pytest.approx((50_000 - 46_800) / (10 * 0.83), rel=1e-12)
    # with less debt the WBTC leg covers it alone: no ETH price liquidates it
    q = pos({"WBTC": (1.0, 60_000.0), "WETH": (10.0, 2_000.0)}, {"USDC": (40_000.0, 1.0)})
    assert liquidation_price(q, "WETH") is None
    assert solve(q, {"WETH"}).direction is Direction.NEVER


def test_an_emode_category_sets_threshold_and_bonus_of_the_collateral_it_lists_only() -> None:
    p = pos({"WBTC": (1.0, 60_000.0), "wstETH": (1.0, 2_400.0)}, {"WBTC": (0.5, 60_000.0)}, emode=4)
    assert p.liquidation_threshold("WBTC") == 0.86
    assert p.liquidation_bonus("WBTC") == 1.03
    assert p.liquidation_threshold("wstETH") == 0.81  # not collateral of category 4: the reserve's
    assert health_factor(p) == pytest.approx((60_000 * 0.86 + 2_400 * 0.81) / 30_000)


def test_correlated_assets_moved_together() -> None:
    # wstETH collateral, WETH and USDC debt, in the ETH e-mode: only the USDC leg is exposed to ETH's price
    p = pos({"wstETH": (10.0, 2_400.0)}, {"WETH": (8.0, 2_000.0), "USDC": (4_000.0, 1.0)}, emode=1)
    group = correlated(MARKET, "wstETH")
    assert group == {"wstETH", "WETH"}
    # 10·2400·s·0.95 = 8·2000·s + 4000  →  s = 4000 / (22,800 − 16,000)
    s = 4_000 / (10 * 2_400 * 0.95 - 8 * 2_000)
    assert liquidation_price(p, "wstETH", together=group) == pytest.approx(2_400 * s, rel=1e-12)
    assert health_factor(p, group, s) == pytest.approx(1.0, rel=1e-12)
    # wstETH alone (its peg to WETH breaking): a much nearer price
    alone = (8 * 2_000 + 4_000) / (10 * 0.95)
    assert liquidation_price(p, "wstETH") == pytest.approx(alone, rel=1e-12)
    # collateral and debt in one group, nothing else: HF does not move with their price at all
    q = pos({"WBTC": (1.0, 60_000.0)}, {"WBTC": (0.5, 60_000.0)}, emode=4)
    assert solve(q, correlated(MARKET, "WBTC")).direction is Direction.NEVER
    assert liquidation_price(q, "WBTC", together=correlated(MARKET, "WBTC")) is None


def test_debt_in_the_moved_asset_is_liquidated_on_a_rise() -> None:
    p = pos({"USDC": (100_000.0, 1.0)}, {"WBTC": (1.0, 60_000.0)})
    t = solve(p, {"WBTC"})
    assert t.direction is Direction.RISE
    assert liquidation_price(p, "WBTC") == pytest.approx(100_000 * 0.78, rel=1e-12)
    assert not t.liquidatable_at(1.0)
    assert t.liquidatable_at(1.31)


def test_a_position_below_one_whatever_the_moved_price() -> None:
    p = pos({"WETH": (1.0, 2_000.0)}, {"USDC": (5_000.0, 1.0)})
    assert solve(p, {"WBTC"}).direction is Direction.ALWAYS
    assert solve(p, {"WBTC"}).liquidatable_at(123.0)
    assert solve(pos({"WETH": (1.0, 2_000.0)}, {}), {"WETH"}).direction is Direction.NEVER
    assert health_factor(pos({"WETH": (1.0, 2_000.0)}, {})) == math.inf


def test_isolation_mode_is_the_pools_rule_and_leaves_the_health_factor_alone() -> None:
    alone = pos({"GHOST": (1_000.0, 10.0)}, {"USDC": (1_000.0, 1.0)})
    assert alone.isolated_asset == "GHOST"
    assert health_factor(alone) == pytest.approx(4.0)
    with_another = pos({"GHOST": (1_000.0, 10.0), "WETH": (1.0, 2_000.0)}, {"USDC": (1_000.0, 1.0)})
    assert with_another.isolated_asset is None
    assert pos({"WBTC": (1.0, 60_000.0)}, {}).isolated_asset is None


@pytest.mark.parametrize(
    ("rules", "debt_usd", "collateral_usd", "total", "hf", "expected"),
    [
        (V3_3, 80_000.0, 150_000.0, 100_000.0, 0.97, (50_000.0, False)),  # half of the total debt, not of the reserve's
        (V3_3, 30_000.0, 150_000.0, 100_000.0, 0.97, (30_000.0, True)),  # the reserve holds less than half: all of it
        (V3_3, 80_000.0, 150_000.0, 100_000.0, 0.95, (80_000.0, True)),  # at 0.95 and below: the whole reserve debt
        (V3_3, 1_999.0, 150_000.0, 100_000.0, 0.99, (1_999.0, True)),  # a debt reserve under $2,000: whole
        (V3_3, 80_000.0, 1_500.0, 100_000.0, 0.99, (80_000.0, True)),  # a collateral reserve under $2,000: whole
        (V3_0, 80_000.0, 150_000.0, 100_000.0, 0.97, (40_000.0, False)),  # v3.0-3.2: half of the reserve's debt
        (V3_0, 1_000.0, 1_000.0, 100_000.0, 0.97, (500.0, False)),
        (V3_0, 80_000.0, 150_000.0, 100_000.0, 0.90, (80_000.0, True)),
        (V2, 80_000.0, 150_000.0, 100_000.0, 0.40, (40_000.0, False)),  # v2: always half
    ],
)
def test_close_factor(rules, debt_usd, collateral_usd, total, hf, expected) -> None:  # type: ignore[no-untyped-def]
    assert max_repay_usd(rules, debt_usd, collateral_usd, total, hf) == pytest.approx(expected)


def test_a_call_repays_half_and_seizes_the_bonus() -> None:
    p = pos({"WBTC": (2.0, 60_000.0)}, {"USDC": (80_000.0, 1.0), "WETH": (5.0, 2_000.0)})
    s = solve(p, {"WBTC"}).scale
    call, after = liquidation_call(p, {"WBTC"}, s)
    price = 60_000 * s
    assert call.health_factor == pytest.approx(1.0)
    assert (call.debt_asset, call.collateral_asset, call.full) == ("USDC", "WBTC", False)
    assert call.repaid_usd == pytest.approx(45_000.0)  # half of $90,000 of debt, from the USDC reserve
    assert call.seized_usd == pytest.approx(45_000 * 1.05)
    assert call.seized == pytest.approx(45_000 * 1.05 / price)
    assert after.debt[0].amount == pytest.approx(35_000.0)
    assert after.debt[1].amount == 5.0
    assert after.collateral[0].amount == pytest.approx(2.0 - call.seized)
    assert health_factor(after, {"WBTC"}, s) > 1.0  # a call at HF ≈ 1 restores it (LT × bonus < 1)


def test_a_call_is_capped_by_the_collateral() -> None:
    p = pos({"WBTC": (0.01, 60_000.0), "WETH": (1.0, 2_000.0)}, {"USDC": (1_500.0, 1.0)})  # $600 of WBTC, all of it goes
    call, after = liquidation_call(p, {"WETH"}, 0.5)
    assert call.collateral_asset == "WETH"
    p = pos({"WBTC": (0.01, 60_000.0)}, {"USDC": (700.0, 1.0)})
    call, after = liquidation_call(p, {"WBTC"}, 0.5)  # HF = 300·0.78/700 < 0.95: whole debt, but only $300 to seize
    assert call.full
    assert call.seized_usd == pytest.approx(300.0)
    assert call.repaid_usd == pytest.approx(300.0 / 1.05)
    assert after.collateral[0].amount == 0.0
    assert after.debt[0].amount == pytest.approx(700.0 - 300.0 / 1.05)


def test_the_path_walks_down_until_the_position_is_gone() -> None:
    p = pos({"WBTC": (10.0, 60_000.0)}, {"USDC": (300_000.0, 1.0)})
    calls = liquidation_path(p, {"WBTC"})
    scales = [c.scale for c in calls]
    assert scales[0] == pytest.approx(300_000 / (10 * 60_000 * 0.78))
    assert scales == sorted(scales, reverse=True)
    assert [c.full for c in calls[:-1]] == [False] * (len(calls) - 1)
    assert calls[-1].full
    assert all(c.health_factor == pytest.approx(1.0) for c in calls)
    assert sum(c.repaid_usd for c in calls) == pytest.approx(300_000.0, rel=1e-9)
    assert sum(c.seized_usd for c in calls) == pytest.approx(300_000.0 * 1.05, rel=1e-9)
    assert liquidation_path(p, {"WBTC"}, lowest=scales[0] * 0.9) == calls[:1]
    # already below 1 today: the first call is at today's price
    q = pos({"WBTC": (1.0, 60_000.0)}, {"USDC": (50_000.0, 1.0)})
    assert liquidation_path(q, {"WBTC"})[0].scale == 1.0
    assert liquidation_path(pos({"WBTC": (1.0, 60_000.0)}, {}), {"WBTC"}) == []


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Reserve("X", 0.95, 1.10), "liquidation_threshold × liquidation_bonus must be ≤ 1"),
        (lambda: Reserve("X", 1.2, 1.0), "reserve X liquidation_threshold must be within [0, 1]"),
        (lambda: Reserve("X", 0.5, 0.9), "reserve X liquidation_bonus must be within [1, 2]"),
        (lambda: EModeCategory(0, "none", 0.9, 1.01, frozenset()), "e-mode category id must be within 1..255"),
        (lambda: Holding("WBTC", -1.0, 60_000.0), "WBTC: amount must be a finite number ≥ 0, got -1.0"),
        (lambda: Holding("WBTC", 1.0, 0.0), "WBTC: price must be a finite number > 0, got 0.0"),
        (lambda: pos({"DOGE": (1.0, 0.1)}, {}), "account 0xabc: market test pool has no collateral reserve 'DOGE'"),
        (lambda: pos({"WBTC": (1.0, 1.0)}, {}, emode=9), "account 0xabc: e-mode 9 is not a category of test pool (known: 1, 4)"),
        (lambda: Position("0xabc", MARKET, (Holding("WBTC", 1, 1), Holding("WBTC", 2, 1)), ()), "lists WBTC more than once"),
        (lambda: liquidation_price(pos({"WBTC": (1.0, 1.0)}, {}), "WETH"), "account 0xabc holds no 'WETH'"),
        (lambda: liquidation_call(pos({"WBTC": (1.0, 1.0)}, {}), {"WBTC"}, 1.0), "account 0xabc: nothing to liquidate"),
    ],
)
def test_bad_input_is_named(build, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError, match=None) as caught:
        build()
    assert message in str(caught.value)
