"""Reserve parameters and price groups we ship, for positions read without their pool's configuration
(the shared subgraph snapshot). A live read takes every parameter from the pool itself (:mod:`.rpc`).

Sources: WBTC on Aave v3 Ethereum (LT 78 %, bonus 5 %, protocol fee 10 %) from the configuration snapshot
``reports/AaveV3Ethereum_UpgradeAaveV3ETHPooolWETHParameters_20231031_after.json`` of bgd-labs/aave-proposals-v3;
cbBTC (LT 78 %, bonus 7.5 %, fee 10 %) from its listing diff in the same repository; no later change to
either up to its 2026-02-20 snapshot. The pool has run v3.3+ liquidation rules since early 2025.
"""

from __future__ import annotations

import math

from liqheat.model import DomainError
from liqheat.venues.aave.position import V3_3, Market, Reserve

ETHEREUM_V3 = Market(
    "Aave v3 Ethereum Core",
    {
        "WBTC": Reserve("WBTC", 0.78, 1.05, protocol_fee=0.10),
        "cbBTC": Reserve("cbBTC", 0.78, 1.075, protocol_fee=0.10),
    },
    rules=V3_3,
)

# Assets whose oracle price is the underlying's (wrappers at par; LBTC and LSTs at an exchange rate that moves
# slowly): a move of the underlying moves them by the same factor.
UNDERLYING: dict[str, frozenset[str]] = {
    "BTC": frozenset({"WBTC", "cbBTC", "tBTC", "LBTC", "FBTC", "eBTC"}),
    "ETH": frozenset({"WETH", "wstETH", "weETH", "rETH", "cbETH", "osETH", "rsETH", "ETHx", "ezETH"}),
}

# Debts priced at $1 when no price is given: USD stablecoins (Aave prices GHO at exactly $1, the others by
# capped Chainlink feeds within a fraction of a percent of it).
USD_PEGGED = frozenset(
    {"USDC", "USDT", "DAI", "GHO", "PYUSD", "USDe", "USDS", "RLUSD", "USDtb", "FRAX", "LUSD", "crvUSD", "USDG", "GUSD", "USDP"}
    | {"PAX"}
)


# The asset whose price stands for the underlying's on a map's axis.
REFERENCE = {"BTC": "WBTC", "ETH": "WETH"}


def parse_prices(items: list[str] | None) -> dict[str, float]:
    """``["WETH=1850", "BTC=64000"]`` → {"WETH": 1850.0, "BTC": 64000.0}: USD prices by symbol, as a user gives them."""
    out: dict[str, float] = {}
    for item in items or []:
        symbol, sep, value = item.partition("=")
        try:
            price = float(value) if sep and symbol.strip() else math.nan
        except ValueError:
            price = math.nan
        if not (math.isfinite(price) and price > 0):
            raise DomainError(f"price must be SYMBOL=USD with a price > 0 (WETH=1850), got {item!r}", param="price")
        out[symbol.strip()] = price
    return out


def underlying(asset: str) -> frozenset[str]:
    """The price group of an underlying (``BTC``, ``ETH``, case-insensitive); an error lists the known ones."""
    found = UNDERLYING.get(asset.strip().upper())
    if found is None:
        raise DomainError(f"asset must be one of {', '.join(UNDERLYING)}, got {asset!r}", param="asset")
    return found
