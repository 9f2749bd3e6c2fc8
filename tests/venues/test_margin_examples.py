"""Every worked example the venues publish, and the shipped bracket tables."""

from __future__ import annotations

import math

import pytest

from liqheat.model import DomainError, Side
from liqheat.venues.calc import calculate, position_from_inputs
from liqheat.venues.examples import EXAMPLES, Example
from liqheat.venues.tables import shipped


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.venue}:{e.published}")
def test_published_example(example: Example) -> None:
    result = example.run()
    assert result.liquidation_price == pytest.approx(example.published, abs=example.tolerance)


def test_bybit_headline_example_without_the_examples_table() -> None:
    """Bybit's 1 BTC long at 20,000, 50x, MMR 0.5 % → 19,700, through the shipped BTCUSDT table (tier 1 = 0.5 %)."""
    position, vt = position_from_inputs("bybit-classic", "BTCUSDT", "long", 20_000, 50, 1)
    result = calculate("bybit-classic", position, table=vt)
    assert result.solution.bracket.mmr == 0.005
    assert result.liquidation_price == pytest.approx(19_700, abs=1e-9)
    assert result.solution.maintenance_margin == pytest.approx(100)
    assert result.position.initial_margin == pytest.approx(400)


def test_bybit_uta_moves_maintenance_to_the_mark_price() -> None:
    """The current UTA formula on the same inputs: 20,000 × 0.98 / 0.995 (maintenance valued at the mark)."""
    position, vt = position_from_inputs("bybit", "BTCUSDT", "long", 20_000, 50, 1)
    assert calculate("bybit", position, table=vt).liquidation_price == pytest.approx(20_000 * 0.98 / 0.995)


def test_okx_margin_ratio_rule_includes_the_taker_fee() -> None:
    """OKX: equity = contracts·ctVal·mark·(MMR + taker); long 1 BTC (100 contracts) at 100,000, 10x, fee 0.05 %."""
    position, vt = position_from_inputs("okx", "BTC-USDT-SWAP", "long", 100_000, 10, 1)
    assert position.contracts == pytest.approx(100)
    result = calculate("okx", position, table=vt, fee_rate=0.0005)
    assert result.liquidation_price == pytest.approx(90_000 / (1 - 0.004 - 0.0005))
    short, vt = position_from_inputs("okx", "BTC-USDT-SWAP", "short", 100_000, 10, 1)
    assert calculate("okx", short, table=vt, fee_rate=0.0005).liquidation_price == pytest.approx(110_000 / 1.0045)


def test_binance_bracket_is_the_one_at_the_liquidation_price() -> None:
    """A long whose entry notional is in tier 2 but whose notional at the liquidation price falls in tier 1."""
    table = shipped()[("binance", "BTC/USDT:USDT")].table
    cap1 = table.brackets[0].cap
    size = cap1 / 100_000 * 1.01  # 1 % above tier 1's cap at entry
    position, vt = position_from_inputs("binance", "BTCUSDT", "long", 100_000, 20, size)
    result = calculate("binance", position, table=vt)
    assert table.for_notional(size * 100_000).tier == 2
    assert result.solution.bracket.tier == 1
    assert size * result.liquidation_price < cap1


def test_hyperliquid_large_position_is_liquidated_twenty_percent_at_a_time() -> None:
    position, vt = position_from_inputs("hyperliquid", "BTC", "long", 60_000, 20, 10)
    result = calculate("hyperliquid", position, table=vt)
    steps = result.steps
    assert len(steps) > 1
    for step in steps[:-1]:
        assert not step.full
        assert step.contracts_closed == pytest.approx(0.2 * (step.contracts_closed + step.contracts_left))
        assert step.notional_closed / 0.2 > 100_000
    assert steps[-1].full
    assert steps[-1].contracts_left == 0
    assert steps[-1].contracts_closed * steps[-1].price <= 100_000
    assert sum(s.contracts_closed for s in steps) == pytest.approx(10)
    assert [s.price for s in steps] == sorted((s.price for s in steps), reverse=True)


def test_small_positions_are_liquidated_in_one_step() -> None:
    for venue_id, symbol in (("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("okx", "BTC-USDT-SWAP"), ("hyperliquid", "BTC")):
        position, vt = position_from_inputs(venue_id, symbol, "short", 60_000, 10, 0.5)
        steps = calculate(venue_id, position, table=vt).steps
        assert len(steps) == 1
        assert steps[0].full


def test_bybit_reduces_a_high_tier_position_to_the_lower_tier_first() -> None:
    position, vt = position_from_inputs("bybit", "BTCUSDT", "long", 60_000, 10, 100)
    result = calculate("bybit", position, table=vt)
    table = vt.table
    first = result.steps[0]
    assert result.solution.bracket.tier > 1
    assert not first.full
    lower_cap = table.brackets[result.solution.bracket.tier - 2].cap
    assert first.contracts_left * first.price == pytest.approx(lower_cap, rel=1e-9)
    assert result.steps[-1].full


def test_one_x_long_with_full_collateral_cannot_be_liquidated_on_a_linear_contract() -> None:
    position, vt = position_from_inputs("binance", "BTCUSDT", "long", 60_000, 1, 1, margin_mode="cross", balance=1_000_000)
    result = calculate("binance", position, table=vt)
    assert not result.solution.liquidatable
    assert result.to_dict()["liquidation_price"] == 0.0
    assert any("cannot be liquidated" in note for note in result.notes)


def test_every_result_says_it_triggers_on_the_mark_price() -> None:
    for venue_id, symbol in (("binance", "BTCUSD_PERP"), ("bybit", "BTCUSD"), ("okx", "ETH-USDT-SWAP"), ("hyperliquid", "SOL")):
        size = 100 if venue_id in ("binance", "bybit") else 1
        position, vt = position_from_inputs(venue_id, symbol, "long", 3_000, 5, size)
        notes = calculate(venue_id, position, table=vt).notes
        assert "mark price" in notes[0]


@pytest.mark.parametrize("key", sorted(shipped()), ids=lambda k: f"{k[0]}:{k[1]}")
def test_shipped_table_is_continuous_and_dated(key: tuple[str, str]) -> None:
    vt = shipped()[key]
    table = vt.table
    assert table.source
    assert table.as_of[:2] == "20"
    if table.venue == "okx":
        assert all(b.maint_amount == 0 for b in table)  # OKX applies one rate to the whole position
        return
    for lower, upper in zip(table.brackets, table.brackets[1:], strict=False):
        # Maintenance margin is continuous at each tier boundary (Binance cum / Bybit deduction rule).
        assert upper.maintenance(upper.floor) == pytest.approx(lower.maintenance(upper.floor), rel=1e-9, abs=1e-9)


def test_leverage_above_the_tier_maximum_is_refused() -> None:
    position, vt = position_from_inputs("hyperliquid", "BTC", "long", 60_000, 100, 1)
    with pytest.raises(DomainError, match="exceeds the 40x maximum"):
        calculate("hyperliquid", position, table=vt)


def test_position_beyond_the_largest_tier_is_refused() -> None:
    position, vt = position_from_inputs("okx", "BTC-USDT-SWAP", "long", 60_000, 10, 100)
    with pytest.raises(DomainError, match="exceeds the largest okx tier"):
        calculate("okx", position, table=vt)


def test_inverse_short_with_ample_coin_collateral_is_never_liquidated() -> None:
    position, vt = position_from_inputs("binance", "BTCUSD_PERP", "short", 60_000, 1, 6, margin_mode="cross", balance=1.0)
    result = calculate("binance", position, table=vt)
    assert not result.solution.liquidatable
    assert result.position.side is Side.SHORT
    assert math.isinf(result.solution.price)
