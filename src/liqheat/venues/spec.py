"""What a venue's feed is to liqheat, as data: ccxt classes, typed capabilities, page sizes, units.

A venue's quirks are fields here or tiny functions in its own ``venues/<venue>/feed.py``; the one ccxt
adapter (:mod:`liqheat.sources.ccxt`) reads them and never branches on a venue's name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from liqheat.model import ContractKind, DomainError


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a venue gives through its public API. ``None`` means it does not give it at all; a string
    says how (shown to users), and the typed fields are what code decides on."""

    candles: str
    funding_history: str
    tiers: str
    liquidations_history: str
    candles_stream: bool = True
    open_interest_history: str | None = None
    # how far back open-interest history reaches (Binance: 30 days); None: as far as candles
    oi_history_days: int | None = None
    open_interest_now: str | None = None
    liquidations_stream: str | None = None
    # the ccxt ``exchange.has`` keys these claims rest on (checked against ccxt in tests/venues)
    ccxt_has: tuple[str, ...] = ()


def liq_side_from_order(raw: dict[str, Any], liq: dict[str, Any]) -> tuple[str, str]:
    """The forced order's side: a SELL closes a long (Binance ``S``, OKX ``side``)."""
    native = str(liq.get("side") or "").lower()
    if native not in ("buy", "sell"):
        raise DomainError(f"liquidation without a buy/sell side: {raw!r}")
    return ("long" if native == "sell" else "short"), native


def liq_side_from_position(raw: dict[str, Any], liq: dict[str, Any]) -> tuple[str, str]:
    """Bybit names the *position*: "Buy" means a long was liquidated (its docs, allLiquidation ``S``)."""
    native = str(liq.get("side") or "").lower()
    if native not in ("buy", "sell"):
        raise DomainError(f"liquidation without a buy/sell side: {raw!r}")
    return ("long" if native == "buy" else "short"), native


@dataclass(frozen=True)
class VenueSpec:
    """What a venue is to liqheat; every quirk is a field here, not a branch in the code that reads it."""

    name: str
    ccxt_ids: dict[ContractKind, str]
    capabilities: Capabilities
    candle_page: int = 1000
    oi_page: int = 500
    oi_period: str = "1h"
    funding_page: int = 1000
    # the native "older than" cursor of a venue whose funding page, given only a lower bound, holds the newest
    # rows (OKX ``after``): funding is then walked backwards from ``until``
    funding_older_than: str | None = None
    # (ccxt open-interest entry, ccxt market) -> (base amount, USD value); None where the venue does not say
    oi_units: Callable[[dict[str, Any], dict[str, Any]], tuple[float | None, float | None]] | None = None
    liquidation_side: Callable[[dict[str, Any], dict[str, Any]], tuple[str, str]] = liq_side_from_order
    # a ccxt liquidation -> the raw events it stands for (OKX packs several into one, ccxt keeps the first)
    expand: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    tier_unit: dict[ContractKind, str] = field(default_factory=dict)  # "quote", "base" or "contracts"
    tier_market: dict[ContractKind, str] = field(default_factory=dict)  # the "market" word of a tables/ file
    tier_deduction: bool = True  # False where a tier's rate applies to the whole position (OKX): no amount to rebuild
    liquidations_lower_bound: bool = False
    tiers_need_key: bool = False  # bracket tiers only to a read-only API key (LIQHEAT_<VENUE>_KEY / _SECRET)
    linear_quote: str = "USDT"  # the quote of the venue's main linear perpetuals
    # symbol aliases only this venue gives: a bare coin (Hyperliquid ``BTC``) or ``<coin>PERP`` (Bybit
    # ``BTCPERP``) names this quote's perpetual; None where the spelling means nothing at this venue
    bare_coin_quote: str | None = None
    perp_suffix_quote: str | None = None
    max_retries: int = 5


def num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
