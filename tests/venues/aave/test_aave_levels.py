"""Exact level maps: each position's liquidation calls summed into price bands on an underlying's axis."""

from __future__ import annotations

import numpy as np
import pytest

from liqheat.model import DomainError, Side
from liqheat.venues.aave.health import liquidation_path
from liqheat.venues.aave.levels import band_edges, level_map, parse_bands, parse_fraction, position_levels
from liqheat.venues.aave.markets import ETHEREUM_V3, UNDERLYING, parse_prices, underlying
from liqheat.venues.aave.position import Holding, Market, Position, Reserve

BTC = UNDERLYING["BTC"]
MARKET = Market("test", {**ETHEREUM_V3.reserves, "USDC": Reserve("USDC", 0.78, 1.045), "WETH": Reserve("WETH", 0.83, 1.05)})


def pos(account: str, collateral: dict[str, tuple[float, float]], debt: dict[str, tuple[float, float]]) -> Position:
    return Position(account, MARKET, tuple(Holding(a, q, p) for a, (q, p) in collateral.items()),
                    tuple(Holding(a, q, p) for a, (q, p) in debt.items()))  # fmt: skip


LONG = pos("0xlong", {"WBTC": (10.0, 60_000.0)}, {"USDC": (300_000.0, 1.0)})
SHORT = pos("0xshort", {"USDC": (100_000.0, 1.0)}, {"cbBTC": (1.0, 60_000.0)})
ELSEWHERE = pos("0xeth", {"WETH": (100.0, 2_000.0)}, {"USDC": (100_000.0, 1.0)})


def test_band_edges_put_an_edge_on_the_price_and_reach_the_depth() -> None:
    e = band_edges(60_000.0, 1_000.0, 0.1)
    assert e[0] == 54_000.0
    assert e[-1] == 66_000.0
    assert 60_000.0 in e
    assert np.allclose(np.diff(e), 1_000.0)
    assert band_edges(60_000.0, 7_000.0, 0.1).tolist() == [53_000.0, 60_000.0, 67_000.0]
    assert band_edges(1_000.0, 300.0, 0.99)[0] == 100.0  # never below zero
    assert parse_bands("2%", 60_000.0) == pytest.approx(1_200.0)
    assert parse_bands("1000", 60_000.0) == 1_000.0
    assert parse_fraction("30%", "depth") == pytest.approx(0.3)
    assert parse_prices(["WETH=1850", " EURC = 1.17"]) == {"WETH": 1850.0, "EURC": 1.17}
    assert underlying("btc") == BTC


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_bands("wide", 1.0), "bands must be a width in USD (1000) or a percentage of the price (2%), got 'wide'"),
        (lambda: parse_bands("-5", 1.0), "bands must be a width > 0, got '-5'"),
        (lambda: parse_fraction("150%", "depth"), "depth must be within (0 %, 100 %), got '150%'"),
        (lambda: band_edges(60_000.0, 0.001, 0.5), "at most 20,000"),
        (lambda: parse_prices(["WETH"]), "price must be SYMBOL=USD with a price > 0 (WETH=1850), got 'WETH'"),
        (lambda: parse_prices(["WETH=-3"]), "got 'WETH=-3'"),
        (lambda: underlying("DOGE"), "asset must be one of BTC, ETH, got 'DOGE'"),
        (lambda: level_map([], BTC, 1.0, [2.0, 1.0], asset="BTC"), "edges must be at least two finite prices"),
    ],
)
def test_bad_input_is_named(call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        call()
    assert message in str(caught.value)


def test_levels_are_the_calls_of_the_path_on_the_underlyings_axis() -> None:
    levels = position_levels(LONG, BTC, 60_000.0, low=0.0, high=1e9)
    calls = liquidation_path(LONG, BTC)
    assert [lv.price for lv in levels] == pytest.approx([c.scale * 60_000 for c in calls])
    assert levels[0].price == pytest.approx(300_000 / (10 * 0.78))
    assert levels[0].usd == pytest.approx(150_000 * 1.05)
    assert levels[0].side is Side.LONG
    assert levels[0].amount == pytest.approx(150_000 * 1.05 / levels[0].price)
    short = position_levels(SHORT, BTC, 60_000.0, low=0.0, high=1e9)
    assert short[0].side is Side.SHORT
    assert short[0].price == pytest.approx(78_000.0)
    assert short[0].usd == short[0].repaid_usd == pytest.approx(78_000 * 0.5)  # half the total debt
    assert position_levels(ELSEWHERE, BTC, 60_000.0, low=0.0, high=1e9) == []


def test_the_map_sums_levels_per_band_and_counts_positions_once_per_band() -> None:
    edges = band_edges(60_000.0, 5_000.0, 0.5)
    m = level_map([LONG, SHORT, ELSEWHERE], BTC, 60_000.0, edges, asset="BTC")
    assert m.positions == 3
    inside = [lv for p in (LONG, SHORT) for lv in position_levels(p, BTC, 60_000.0, low=30_000.0, high=90_000.0)]
    assert m.long_usd.sum() == pytest.approx(sum(lv.usd for lv in inside if lv.side is Side.LONG))
    assert m.short_usd.sum() == pytest.approx(sum(lv.usd for lv in inside if lv.side is Side.SHORT))
    first = int(np.searchsorted(edges, 300_000 / 7.8, side="right")) - 1
    assert (edges[first], edges[first + 1]) == (35_000.0, 40_000.0)
    assert m.long_usd[first] == pytest.approx(157_500.0)
    assert m.long_positions[first] == 1
    assert m.long_positions.sum() == len({int(np.searchsorted(edges, lv.price, side="right")) - 1
                                         for lv in inside if lv.side is Side.LONG})  # fmt: skip
    rise = int(np.searchsorted(edges, 78_000.0, side="right")) - 1
    assert m.short_usd[rise] == pytest.approx(39_000.0)
    assert m.short_positions[rise] == 1
    assert m.long_usd[edges[:-1] >= 60_000.0].sum() == 0.0
    assert m.short_usd[edges[1:] <= 60_000.0].sum() == 0.0
    reach = m.long_reach_usd
    assert reach[first] == pytest.approx(m.long_usd[first:6].sum())  # bands 1..5: [35,000, 60,000)
    assert reach[edges[:-1] >= 60_000.0].sum() == 0.0
    bands = m.to_dict()["bands"]
    assert len(bands) == len(edges) - 1
    assert m.to_dict()["kind"] == "exact"
    assert bands[first] == {"low": 35_000.0, "high": 40_000.0, "long_usd": pytest.approx(157_500.0),
                            "long_amount": pytest.approx(157_500.0 / (300_000 / 7.8)), "long_positions": 1,
                            "short_usd": 0.0, "short_amount": 0.0, "short_positions": 0}  # fmt: skip


def test_a_position_liquidatable_today_counts_at_todays_price() -> None:
    underwater = pos("0xunder", {"WBTC": (1.0, 60_000.0)}, {"USDC": (50_000.0, 1.0)})
    m = level_map([underwater], BTC, 60_000.0, band_edges(60_000.0, 1_000.0, 0.1), asset="BTC")
    first = liquidation_path(underwater, BTC)[0]
    assert first.scale == 1.0
    assert m.long_usd[m.edges[:-1] == 59_000.0].sum() == pytest.approx(first.seized_usd)  # the band just below
    assert m.long_usd[m.edges[:-1] == 60_000.0].sum() == 0.0
