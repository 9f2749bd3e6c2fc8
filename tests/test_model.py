"""Domain types: validation, contract conversions, bracket tables, immutability."""

from __future__ import annotations

import dataclasses
import math

import pytest

from liqheat.model import (
    Bracket,
    BracketTable,
    ContractKind,
    ContractSpec,
    DomainError,
    MarginMode,
    Market,
    Position,
    Side,
)

LINEAR = Market("BTC", "USDT", "USDT")
INVERSE = Market("BTC", "USD", "BTC")


def tiers(*rows: tuple[float, float, float, float, float]) -> tuple[Bracket, ...]:
    """(floor, cap, max_leverage, mmr, maint_amount) rows → brackets numbered from 1."""
    return tuple(Bracket(i + 1, *row) for i, row in enumerate(rows))


def table(*rows: tuple[float, float, float, float, float]) -> BracketTable:
    return BracketTable("test", LINEAR, "USDT", "unit test", "2025-01-01", tiers(*rows))


THREE_TIERS = (
    (0, 100_000, 125, 0.004, 0),
    (100_000, 1_000_000, 50, 0.01, 600),
    (1_000_000, 5_000_000, 20, 0.025, 15_600),
)


# ------------------------------------------------------------------------------------ Side, Market


def test_side_sign() -> None:
    assert Side.LONG.sign == 1
    assert Side.SHORT.sign == -1
    # PnL = sign × quantity × (price − entry): a long gains when the price rises, a short loses
    assert Side.LONG.sign * 2 * (110 - 100) == 20
    assert Side.SHORT.sign * 2 * (110 - 100) == -20


def test_side_values() -> None:
    assert Side("long") is Side.LONG
    assert Side("short") is Side.SHORT
    with pytest.raises(ValueError, match="up"):
        Side("up")


def test_market_kind_and_unified() -> None:
    assert LINEAR.kind is ContractKind.LINEAR
    assert INVERSE.kind is ContractKind.INVERSE
    assert LINEAR.unified == "BTC/USDT:USDT"
    assert INVERSE.unified == "BTC/USD:BTC"
    assert str(INVERSE) == "BTC/USD:BTC"
    assert Market("ETH", "USDC", "USDC").kind is ContractKind.LINEAR


@pytest.mark.parametrize(
    ("base", "quote", "settle", "match"),
    [
        ("btc", "USDT", "USDT", "base"),
        ("BTC", "US-DT", "US-DT", "quote"),
        ("BTC", "USDT", "", "settle"),
        ("BTC", "USDT", "ETH", "settle currency ETH must be the base"),
    ],
)
def test_market_validation(base: str, quote: str, settle: str, match: str) -> None:
    with pytest.raises(DomainError, match=match):
        Market(base, quote, settle)


def test_parse_unified_is_strict() -> None:
    assert Market.parse_unified("BTC/USD:BTC") == INVERSE
    for text in ("BTCUSDT", "BTC/USDT", "BTC:USDT", "BTC/USDT:USDT:USDT"):
        with pytest.raises(DomainError, match="not a unified symbol"):
            Market.parse_unified(text)


# ------------------------------------------------------------------------------------ ContractSpec


def test_linear_spec_okx_contract_size() -> None:
    """OKX BTC-USDT-SWAP: one contract is 0.01 BTC, so 100 contracts are 1 BTC."""
    spec = ContractSpec(LINEAR, contract_size=0.01)
    assert spec.kind is ContractKind.LINEAR
    assert spec.notional_base(100, 60_000) == pytest.approx(1.0)
    assert spec.notional_quote(100, 60_000) == pytest.approx(60_000)
    assert spec.notional_base(100, 30_000) == pytest.approx(1.0)  # base amount does not depend on price
    assert spec.notional_quote(100, 30_000) == pytest.approx(30_000)


def test_inverse_spec_face_value() -> None:
    """Binance COIN-M BTCUSD_PERP: one contract is 100 USD, so 600 contracts are 60,000 USD."""
    spec = ContractSpec(INVERSE, contract_size=100)
    assert spec.kind is ContractKind.INVERSE
    assert spec.notional_quote(600, 60_000) == pytest.approx(60_000)
    assert spec.notional_quote(600, 30_000) == pytest.approx(60_000)  # USD value is fixed
    assert spec.notional_base(600, 60_000) == pytest.approx(1.0)
    assert spec.notional_base(600, 30_000) == pytest.approx(2.0)  # coin value grows as the price falls


def test_spec_default_contract_size_is_one() -> None:
    assert ContractSpec(LINEAR).notional_quote(2, 50_000) == pytest.approx(100_000)


@pytest.mark.parametrize("size", [0, -1, math.nan, math.inf])
def test_spec_rejects_bad_contract_size(size: float) -> None:
    with pytest.raises(DomainError, match="contract_size"):
        ContractSpec(LINEAR, contract_size=size)


# ------------------------------------------------------------------------------------ time series


# ------------------------------------------------------------------------------------ Position


def test_linear_position_margins() -> None:
    p = Position(ContractSpec(LINEAR, 0.01), Side.LONG, entry_price=60_000, contracts=100, leverage=20)
    assert p.entry_notional_quote == pytest.approx(60_000)
    assert p.entry_value_settle == pytest.approx(60_000)
    assert p.initial_margin == pytest.approx(3_000)
    assert p.collateral == pytest.approx(3_000)
    assert p.margin_mode is MarginMode.ISOLATED
    with_margin = dataclasses.replace(p, margin=4_500.0)
    assert with_margin.collateral == 4_500.0
    assert with_margin.initial_margin == pytest.approx(3_000)


def test_inverse_position_margins_are_in_the_coin() -> None:
    p = Position(ContractSpec(INVERSE, 100), Side.SHORT, entry_price=60_000, contracts=600, leverage=20)
    assert p.entry_notional_quote == pytest.approx(60_000)
    assert p.entry_value_settle == pytest.approx(1.0)  # BTC
    assert p.initial_margin == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"leverage": 0.5}, "leverage must be ≥ 1"),
        ({"leverage": 0.0}, "leverage must be ≥ 1"),
        ({"leverage": math.nan}, "leverage"),
        ({"leverage": math.inf}, "leverage"),
        ({"contracts": 0.0}, "size"),
        ({"contracts": -1.0}, "size"),
        ({"entry_price": 0.0}, "entry price"),
        ({"entry_price": -60_000.0}, "entry price"),
        ({"margin": 0.0}, "margin"),
        ({"margin": -10.0}, "margin"),
    ],
)
def test_position_validation(changes: dict[str, float], match: str) -> None:
    fields: dict[str, object] = {"spec": ContractSpec(LINEAR), "side": Side.LONG, "entry_price": 60_000.0, "contracts": 1.0}
    fields["leverage"] = 20.0
    fields.update(changes)
    with pytest.raises(DomainError, match=match):
        Position(**fields)  # type: ignore[arg-type]


def test_leverage_one_is_allowed() -> None:
    assert Position(ContractSpec(LINEAR), Side.LONG, 60_000, 1, 1).initial_margin == pytest.approx(60_000)


# ------------------------------------------------------------------------------------ brackets


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ((-1, 100, 10, 0.01, 0), "floor < cap"),
        ((100, 100, 10, 0.01, 0), "floor < cap"),
        ((0, 100, 0.5, 0.01, 0), "max leverage must be ≥ 1"),
        ((0, 100, 10, 0.0, 0), "maintenance margin rate"),
        ((0, 100, 10, 1.0, 0), "maintenance margin rate"),
        ((0, 100, 10, math.nan, 0), "maintenance margin rate"),
    ],
)
def test_bracket_validation(row: tuple[float, float, float, float, float], match: str) -> None:
    with pytest.raises(DomainError, match=match):
        Bracket(1, *row)


@pytest.mark.parametrize(("name", "value"), [("maint_amount", math.nan), ("maint_amount", math.inf), ("max_leverage", math.inf)])
def test_bracket_rejects_non_finite_numbers(name: str, value: float) -> None:
    row: dict[str, float] = {"floor": 0, "cap": 100, "max_leverage": 10, "mmr": 0.01, "maint_amount": 0}
    row[name] = value
    with pytest.raises(DomainError):
        Bracket(1, **row)


def test_bracket_maintenance_and_holds() -> None:
    b = Bracket(2, 100_000, 1_000_000, 50, 0.01, 600)
    assert b.maintenance(200_000) == pytest.approx(2_000 - 600)
    assert b.holds(100_000)
    assert b.holds(999_999.99)
    assert not b.holds(1_000_000)
    assert not b.holds(99_999.99)


def test_bracket_table_basics() -> None:
    t = table(*THREE_TIERS)
    assert len(t) == 3
    assert [b.tier for b in t] == [1, 2, 3]
    assert t.max_leverage == 125


@pytest.mark.parametrize(
    ("notional", "tier"),
    [
        (0, 1),
        (1, 1),
        (99_999.99, 1),
        (100_000, 2),  # floor inclusive
        (100_000.01, 2),
        (999_999.99, 2),
        (1_000_000, 3),  # the cap of tier 2 is exclusive
        (4_999_999.99, 3),
    ],
)
def test_for_notional_boundaries(notional: float, tier: int) -> None:
    assert table(*THREE_TIERS).for_notional(notional).tier == tier


def test_the_last_cap_itself_is_allowed() -> None:
    """A venue's maximum position size is a size you may hold (OKX's maxSz is inclusive)."""
    assert table(*THREE_TIERS).for_notional(5_000_000).tier == 3


@pytest.mark.parametrize("notional", [5_000_000.01, 1e12])
def test_for_notional_beyond_the_last_cap(notional: float) -> None:
    with pytest.raises(DomainError, match=r"exceeds the largest test tier for BTC/USDT:USDT \(5,000,000 USDT\)"):
        table(*THREE_TIERS).for_notional(notional)


def test_open_ended_last_tier_holds_anything() -> None:
    t = table((0, 100, 10, 0.01, 0), (100, math.inf, 5, 0.02, 1))
    assert t.for_notional(1e15).tier == 2


def test_table_maintenance_is_continuous_across_tiers() -> None:
    """The shipped-style maint_amount makes maintenance continuous at tier boundaries."""
    t = table(*THREE_TIERS)
    assert t.maintenance(100_000) == pytest.approx(100_000 * 0.004)
    assert t.maintenance(100_000 - 1e-6) == pytest.approx(t.maintenance(100_000))
    assert t.maintenance(1_000_000 - 1e-6) == pytest.approx(t.maintenance(1_000_000))
    assert t.maintenance(2_000_000) == pytest.approx(2_000_000 * 0.025 - 15_600)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ((), "bracket table is empty"),
        (((10, 100, 10, 0.01, 0),), "first tier must start at 0"),
        (((0, 100, 10, 0.01, 0), (200, 300, 5, 0.02, 0)), "tier 2 starts at 200, tier 1 ends at 100"),
        (((0, 100, 10, 0.01, 0), (50, 300, 5, 0.02, 0)), "tier 2 starts at 50, tier 1 ends at 100"),
        (((0, 100, 10, 0.02, 0), (100, 300, 5, 0.01, 0)), "MMR falls from tier 1 to 2"),
        (((0, 100, 10, 0.01, 0), (100, 300, 20, 0.02, 0)), "max leverage rises from tier 1 to 2"),
    ],
    ids=["empty", "floor", "gap", "overlap", "falling-mmr", "rising-leverage"],
)
def test_bracket_table_validation(rows: tuple[tuple[float, float, float, float, float], ...], match: str) -> None:
    with pytest.raises(DomainError, match=match):
        table(*rows)


def test_flat_mmr_and_leverage_across_tiers_are_allowed() -> None:
    t = table((0, 100, 10, 0.01, 0), (100, 200, 10, 0.01, 0))
    assert t.for_notional(150).tier == 2


# ------------------------------------------------------------------------------------ immutability


@pytest.mark.parametrize(
    ("obj", "attr", "value"),
    [
        (LINEAR, "base", "ETH"),
        (ContractSpec(LINEAR, 0.01), "contract_size", 1.0),
        (Position(ContractSpec(LINEAR), Side.LONG, 60_000, 1, 20), "leverage", 100.0),
        (Bracket(1, 0, 100, 10, 0.01), "mmr", 0.5),
        (table(*THREE_TIERS), "brackets", ()),
    ],
    ids=lambda v: type(v).__name__ if dataclasses.is_dataclass(v) else str(v),
)
def test_frozen(obj: object, attr: str, value: object) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, attr, value)


def test_frozen_values_are_hashable_and_compare_by_value() -> None:
    assert Market("BTC", "USDT", "USDT") == LINEAR
    assert len({LINEAR, Market("BTC", "USDT", "USDT"), INVERSE}) == 2
