"""Open a venue's source by name: the registry's feed spec behind the one ccxt adapter."""

from __future__ import annotations

from typing import Any

from liqheat.model import Market
from liqheat.sources.ccxt import CcxtSource
from liqheat.venues.registry import spec


def open_source(venue: str, market: Market, exchange: Any = None, **kwargs: Any) -> CcxtSource:
    return CcxtSource(spec(venue), market, exchange, **kwargs)
