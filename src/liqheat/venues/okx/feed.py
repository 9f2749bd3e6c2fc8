"""OKX v5 perpetual swaps: linear (BTC-USDT-SWAP, 0.01 BTC a contract) and inverse (BTC-USD-SWAP, 100 USD)."""

from __future__ import annotations

from typing import Any

from liqheat.model import ContractKind, DomainError
from liqheat.venues.spec import Capabilities, VenueSpec, num


def _oi_units(entry: dict[str, Any], market: dict[str, Any]) -> tuple[float | None, float | None]:
    """The rubik history rows are [ts, contracts, coin, USD]; ccxt puts the coin in baseVolume."""
    return num(entry.get("baseVolume")), num(entry.get("openInterestValue"))


def _expand(liq: dict[str, Any]) -> list[dict[str, Any]]:
    """One OKX message carries every detail of an instrument's liquidations; ccxt keeps only the first."""
    details = (liq.get("info") or {}).get("details") or []
    if not details:
        return [liq]
    return [
        {
            "timestamp": num(d.get("ts")),
            "price": d.get("bkPx"),
            "contracts": d.get("sz"),
            "side": d.get("side"),
            "posSide": d.get("posSide"),
        }
        for d in details
    ]


def _side(raw: dict[str, Any], event: dict[str, Any]) -> tuple[str, str]:
    """``posSide`` names the position in long/short mode; in net mode it is "net" and the forced order's
    side tells (a sell closes a long)."""
    pos, side = str(event.get("posSide") or "").lower(), str(event.get("side") or "").lower()
    if pos in ("long", "short"):
        return pos, f"{side}/{pos}"
    if side in ("buy", "sell"):
        return ("long" if side == "sell" else "short"), side
    raise DomainError(f"okx liquidation without a side: {raw!r}")


SPEC = VenueSpec(
    name="okx",
    ccxt_ids={ContractKind.LINEAR: "okx", ContractKind.INVERSE: "okx"},
    capabilities=Capabilities(
        candles="full history (1m and up; older than a few days through history-candles)",
        open_interest_history="rubik statistics, 5m steps, 100 per page, recent months only",
        funding_history="last 3 months (8h)",
        tiers="public (position tiers, in contracts), no key",
        liquidations_stream="liquidation-orders: every SWAP liquidation, several per message",
        liquidations_history="none through ccxt",
        ccxt_has=(
            "fetchOHLCV",
            "fetchOpenInterestHistory",
            "fetchFundingRateHistory",
            "fetchMarketLeverageTiers",
            "watchLiquidations",
            "watchOHLCV",
        ),
    ),
    candle_page=100,
    oi_page=100,
    oi_period="5m",
    funding_page=100,
    funding_older_than="after",  # a lone `before` returns the newest rows
    oi_units=_oi_units,
    liquidation_side=_side,
    expand=_expand,
    tier_unit={ContractKind.LINEAR: "contracts", ContractKind.INVERSE: "contracts"},
    tier_market={ContractKind.LINEAR: "swap", ContractKind.INVERSE: "swap"},
    tier_deduction=False,
)
