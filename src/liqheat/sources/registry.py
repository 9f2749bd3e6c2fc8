"""The venues liqheat can read through ccxt, by name."""

from __future__ import annotations

from typing import Any

from liqheat.model import DomainError, Market
from liqheat.sources import binance, bybit, hyperliquid, okx
from liqheat.sources.ccxt_source import CcxtSource, VenueSpec

VENUES: dict[str, VenueSpec] = {spec.name: spec for spec in (binance.SPEC, bybit.SPEC, okx.SPEC, hyperliquid.SPEC)}


def spec(name: str) -> VenueSpec:
    found = VENUES.get(name.strip().lower())
    if found is None:
        raise DomainError(f"unknown venue {name!r} (known: {', '.join(VENUES)})")
    return found


def open_source(venue: str, market: Market, exchange: Any = None, **kwargs: Any) -> CcxtSource:
    return CcxtSource(spec(venue), market, exchange, **kwargs)
