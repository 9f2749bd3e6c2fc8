"""The one venue registry: every venue's feed, rules and tables, and capabilities that ccxt backs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import ccxt
import ccxt.pro
import pytest

from liqheat.model import DomainError
from liqheat.venues.registry import FEEDS, RULES, linear_quote, rules, spec
from liqheat.venues.spec import Capabilities, VenueSpec
from liqheat.venues.tables import shipped

# what each capability needs from ccxt (the adapter's calls)
NEEDS = {
    "open_interest_history": "fetchOpenInterestHistory",
    "liquidations_stream": "watchLiquidations",
    "funding_history": "fetchFundingRateHistory",
}


def _has(ccxt_id: str) -> dict[str, Any]:
    return {**getattr(ccxt, ccxt_id)().has, **{k: v for k, v in getattr(ccxt.pro, ccxt_id)().has.items() if v}}


def unbacked(feed: VenueSpec) -> list[str]:
    """The ccxt calls ``feed`` claims that ccxt's classes for it do not have."""
    return sorted({key for ccxt_id in feed.ccxt_ids.values() for key in feed.capabilities.ccxt_has if not _has(ccxt_id).get(key)})


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_every_claimed_capability_is_in_ccxts_exchange_has(name: str) -> None:
    assert isinstance(FEEDS[name].capabilities, Capabilities)
    assert unbacked(FEEDS[name]) == []


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_capabilities_and_the_ccxt_calls_they_rest_on_agree(name: str) -> None:
    caps = FEEDS[name].capabilities
    for field, key in NEEDS.items():
        claimed = getattr(caps, field) is not None
        assert claimed == (key in caps.ccxt_has), f"{name}: {field} is {'claimed' if claimed else 'not claimed'} but {key} is not"
    assert caps.candles_stream == ("watchOHLCV" in caps.ccxt_has)
    assert caps.oi_history_days is None or caps.open_interest_history is not None


def test_a_capability_ccxt_lacks_is_caught() -> None:
    feed = FEEDS["hyperliquid"]
    claims = replace(feed.capabilities, ccxt_has=(*feed.capabilities.ccxt_has, "fetchOpenInterestHistory", "watchLiquidations"))
    assert unbacked(replace(feed, capabilities=claims)) == ["fetchOpenInterestHistory", "watchLiquidations"]


def test_every_rule_has_its_tables_and_feed() -> None:
    tables = shipped()
    for rule in RULES.values():
        assert rule.tables_from in FEEDS, f"{rule.id} borrows tables from {rule.tables_from}, which has no feed"
        assert any(venue == rule.tables_from for venue, _ in tables), f"no shipped table for {rule.id}"
    assert linear_quote("hyperliquid") == "USDC"
    assert linear_quote("bybit-classic") == "USDT"


def test_unknown_venues_list_the_known_ones() -> None:
    with pytest.raises(DomainError, match=r"unknown venue 'ftx' \(known: binance, bybit, bybit-classic, okx, hyperliquid\)"):
        rules("ftx")
    with pytest.raises(DomainError, match=r"unknown venue 'ftx' \(known: binance, bybit, okx, hyperliquid\)"):
        spec("ftx")


def test_the_template_refuses_to_be_used() -> None:
    with pytest.raises(NotImplementedError, match="copy the folder"):
        import liqheat.venues._template.feed  # noqa: F401
