"""Hyperliquid perpetuals (USDC-settled), through ccxt ``hyperliquid``.

Its liquidations are on-chain fills, exact rather than estimated; they are read from the node's fills
(see ../shared/data/raw and a later issue), not from a public stream.
"""

from __future__ import annotations

from typing import Any

from liqheat.model import ContractKind
from liqheat.venues.spec import Capabilities, VenueSpec, num


def _oi_units(entry: dict[str, Any], market: dict[str, Any]) -> tuple[float | None, float | None]:
    """Open interest is in the coin; its USD value is at the mark price the same payload carries."""
    amount = num(entry.get("openInterestAmount"))
    mark = num((entry.get("info") or {}).get("markPx"))
    return amount, None if amount is None or mark is None else amount * mark


SPEC = VenueSpec(
    name="hyperliquid",
    ccxt_ids={ContractKind.LINEAR: "hyperliquid"},
    capabilities=Capabilities(
        candles="the last 5,000 candles of each timeframe",
        open_interest_now="current value only: `liqheat follow` records it as it goes",
        funding_history="full history (1h)",
        tiers="not through ccxt (margin tables ship with liqheat)",
        liquidations_history="on-chain fills (node data), not through ccxt",
        ccxt_has=("fetchOHLCV", "fetchOpenInterest", "fetchFundingRateHistory", "watchOHLCV"),
    ),
    candle_page=5000,
    funding_page=500,
    oi_units=_oi_units,
    linear_quote="USDC",
    bare_coin_quote="USDC",
)
