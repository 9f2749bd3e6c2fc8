"""Bybit v5: linear (USDT, USDC) and inverse perpetuals, both through ccxt ``bybit``."""

from __future__ import annotations

from typing import Any

from liqheat.model import ContractKind
from liqheat.venues.spec import Capabilities, VenueSpec, liq_side_from_position, num


def _oi_units(entry: dict[str, Any], market: dict[str, Any]) -> tuple[float | None, float | None]:
    """Linear open interest is in the coin (ccxt: amount), inverse in USD (ccxt: value)."""
    return num(entry.get("openInterestAmount")), num(entry.get("openInterestValue"))


SPEC = VenueSpec(
    name="bybit",
    ccxt_ids={ContractKind.LINEAR: "bybit", ContractKind.INVERSE: "bybit"},
    capabilities=Capabilities(
        candles="full history (1m and up)",
        open_interest_history="full history, 5m steps (200 per page)",
        funding_history="full history (8h)",
        tiers="public (risk limits), no key",
        liquidations_stream="allLiquidation: every liquidation, pushed every 500 ms; 'Buy' means a long was liquidated",
        liquidations_history="none through the API",
        ccxt_has=(
            "fetchOHLCV",
            "fetchOpenInterestHistory",
            "fetchFundingRateHistory",
            "fetchMarketLeverageTiers",
            "watchLiquidations",
            "watchOHLCV",
        ),
    ),
    candle_page=1000,
    oi_page=200,
    oi_period="5m",
    funding_page=200,
    oi_units=_oi_units,
    liquidation_side=liq_side_from_position,
    perp_suffix_quote="USDC",
    tier_unit={ContractKind.LINEAR: "quote", ContractKind.INVERSE: "base"},
    tier_market={ContractKind.LINEAR: "linear", ContractKind.INVERSE: "inverse"},
)
