"""Binance futures: USD-M (linear, ccxt ``binanceusdm``) and COIN-M (inverse, ``binancecoinm``)."""

from __future__ import annotations

from typing import Any

from liqheat.model import ContractKind
from liqheat.venues.spec import Capabilities, VenueSpec, num


def _oi_units(entry: dict[str, Any], market: dict[str, Any]) -> tuple[float | None, float | None]:
    """USD-M: sumOpenInterest is in the coin, sumOpenInterestValue in USDT. COIN-M: sumOpenInterest
    counts contracts (100 USD each for BTC) and sumOpenInterestValue is in the coin."""
    amount, value = num(entry.get("openInterestAmount")), num(entry.get("openInterestValue"))
    if market.get("inverse"):
        size = num(market.get("contractSize")) or 1.0
        return value, None if amount is None else amount * size
    return amount, value


SPEC = VenueSpec(
    name="binance",
    ccxt_ids={ContractKind.LINEAR: "binanceusdm", ContractKind.INVERSE: "binancecoinm"},
    capabilities=Capabilities(
        candles="full history (1m and up)",
        open_interest_history="last 30 days only, 5m steps: `liqheat follow` records it from the day it starts",
        oi_history_days=30,
        funding_history="full history (8h)",
        tiers="needs a read-only API key (leverageBracket is a private endpoint)",
        liquidations_stream="forceOrder: at most one order per symbol per second, so a lower bound",
        liquidations_history="none through the API (record the stream, or import recordings)",
        ccxt_has=(
            "fetchOHLCV",
            "fetchMarketLeverageTiers",
            "fetchOpenInterestHistory",
            "fetchFundingRateHistory",
            "watchLiquidations",
            "watchOHLCV",
        ),
    ),
    candle_page=1000,  # the API allows 1,500 but ccxt caps a klines request at 1,000
    oi_page=500,
    oi_period="5m",
    funding_page=1000,
    oi_units=_oi_units,
    tier_unit={ContractKind.LINEAR: "quote", ContractKind.INVERSE: "base"},
    tier_market={ContractKind.LINEAR: "usdm", ContractKind.INVERSE: "coinm"},
    liquidations_lower_bound=True,
    tiers_need_key=True,
)
