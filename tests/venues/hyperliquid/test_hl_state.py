"""Parsing ``clearinghouseState`` and ``metaAndAssetCtxs`` answers (positions/README.md says where each came from),
and malformed ones refused with an error naming the account, coin and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqheat.model import DomainError, Side
from liqheat.venues.hyperliquid.state import parse_clearinghouse_state, parse_meta_and_asset_ctxs

HERE = Path(__file__).parent / "positions"
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text())


def test_the_sdk_recording_gives_every_open_position_with_its_exact_level() -> None:
    state = parse_clearinghouse_state(USER, load("clearinghouseState-sdk.json"))
    assert state.account_value == pytest.approx(1182.312496)
    assert len(state.positions) == 12
    btc = next(p for p in state.positions if p.coin == "BTC")
    assert (btc.side, btc.size, btc.entry_px, btc.liquidation_px) == (Side.SHORT, -0.00785, 26951.0, 173198.69592357)
    assert (btc.margin_mode, btc.leverage, btc.position_value) == ("cross", 20.0, 211.64542)
    assert btc.mark_px == pytest.approx(211.64542 / 0.00785)
    assert sum(p.liquidation_px is None for p in state.positions) == 7  # the longs: nothing liquidates them
    assert state.notional() == pytest.approx(3434.815334)  # marginSummary.totalNtlPos
    assert state.notional(frozenset({"BTC", "ETH"})) == pytest.approx(211.64542 + 227.675114)


def test_the_docs_example_is_an_isolated_long_whose_level_follows_the_venues_formula() -> None:
    state = parse_clearinghouse_state(USER, load("clearinghouseState-docs.json"))
    (eth,) = state.positions
    assert (eth.coin, eth.side, eth.margin_mode, eth.leverage) == ("ETH", Side.LONG, "isolated", 20.0)
    assert state.time_ms == 1708622398623
    l = 1 / (2 * 50)  # noqa: E741  (the docs' name)
    expected = eth.mark_px - (eth.margin_used - eth.position_value * l) / eth.size / (1 - l)
    assert eth.liquidation_px == pytest.approx(expected, rel=1e-6)


def test_zero_sizes_are_no_positions_and_nan_is_no_level() -> None:
    payload = load("clearinghouseState-sdk.json")
    payload["assetPositions"][0]["position"]["szi"] = "0.0"
    payload["assetPositions"][1]["position"]["liquidationPx"] = "NaN"
    state = parse_clearinghouse_state(USER, payload)
    assert len(state.positions) == 11
    assert next(p for p in state.positions if p.coin == "ETH").liquidation_px is None


def test_market_contexts_give_open_interest_in_usd() -> None:
    ctxs = parse_meta_and_asset_ctxs(load("metaAndAssetCtxs-sdk.json"))
    assert list(ctxs) == ["BTC"]
    assert ctxs["BTC"].open_interest_usd == pytest.approx(0.22168 * 28429.3)


def _set(payload: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(payload)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


P0 = ("assetPositions", 0, "position")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("marginSummary",), KeyError, "clearinghouseState of 0x5e9e…: field 'marginSummary' is missing"),
        (("assetPositions",), {}, "field 'assetPositions' must be a list, got dict"),
        ((*P0, "szi"), "abc", "assetPositions[0].position (BTC): field 'szi' must be a decimal string, got 'abc'"),
        ((*P0, "szi"), "inf", "assetPositions[0].position (BTC): field 'szi' must be finite, got 'inf'"),
        ((*P0, "entryPx"), None, "assetPositions[0].position (BTC): field 'entryPx' must be a decimal string, got None"),
        ((*P0, "liquidationPx"), "-5", "field 'liquidationPx' must be ≥ 0, got '-5'"),
        ((*P0, "liquidationPx"), True, "field 'liquidationPx' must be a decimal string, got True"),
        ((*P0, "positionValue"), KeyError, "assetPositions[0].position (BTC): field 'positionValue' is missing"),
        ((*P0, "leverage", "type"), "portfolio", "(BTC).leverage: field 'type' must be cross or isolated, got 'portfolio'"),
        ((*P0, "leverage", "value"), 0, "(BTC).leverage: field 'value' must be > 0, got 0"),
        ((*P0, "coin"), "", "assetPositions[0].position: field 'coin' must be a non-empty string, got ''"),
        (("assetPositions", 1, "position", "coin"), "BTC", "a coin is listed twice in assetPositions"),
        (("assetPositions", 2), "x", "assetPositions[2]: must be a JSON object, got str"),
    ],
)
def test_malformed_accounts_are_refused_naming_the_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    payload = _set(load("clearinghouseState-sdk.json"), path, value)
    with pytest.raises(DomainError) as info:
        parse_clearinghouse_state(USER, payload)
    assert message.replace("0x5e9e…", USER) in str(info.value)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "metaAndAssetCtxs: must be a list of [meta, asset contexts], got dict"),
        ([{"universe": [{"name": "BTC"}]}, []], "metaAndAssetCtxs: 1 coins in universe but 0 asset contexts"),
        ([{"universe": [{"name": "BTC"}]}, [{"markPx": "1", "openInterest": "x"}]],
         "asset context 0 (BTC): field 'openInterest' must be a decimal string, got 'x'"),
        ([{"universe": [{"name": "BTC"}]}, [{"markPx": "0", "openInterest": "1"}]], "(BTC): markPx must be > 0"),
        ([{"universe": [{}]}, [{}]], "metaAndAssetCtxs: universe[0]: field 'name' is missing"),
    ],
)  # fmt: skip
def test_malformed_markets_are_refused_naming_the_field(payload: Any, message: str) -> None:
    with pytest.raises(DomainError, match=None) as info:
        parse_meta_and_asset_ctxs(payload)
    assert message in str(info.value)


FIELDS = ["szi", "entryPx", "positionValue", "liquidationPx", "marginUsed", "unrealizedPnl"]
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2),
                 st.floats(allow_nan=True, allow_infinity=True))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, 11), name=st.sampled_from(FIELDS), junk=JUNK)
def test_any_junk_in_a_field_is_parsed_or_refused_by_name(index: int, name: str, junk: Any) -> None:
    payload = _set(load("clearinghouseState-sdk.json"), ("assetPositions", index, "position", name), junk)
    error = None
    try:
        state = parse_clearinghouse_state(USER, payload)
    except DomainError as exc:
        error = str(exc)
    if error is not None:
        assert f"'{name}'" in error or f"{name} must" in error
        assert f"assetPositions[{index}]" in error
        return
    for p in state.positions:
        assert p.size != 0
        assert p.position_value >= 0
        assert p.liquidation_px is None or p.liquidation_px >= 0
