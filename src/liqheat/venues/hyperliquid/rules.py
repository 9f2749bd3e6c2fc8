"""Hyperliquid's liquidation rule — https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations :
liq_price = price − side·margin_available / size / (1 − l·side), l = 1/(2 × max leverage of the tier
holding the position value at the liquidation price).
"""

from __future__ import annotations

from liqheat.margin.rules import FractionalReduction, KindRules, Venue
from liqheat.margin.solver import MarginRule, TierBy, ValueAt
from liqheat.model import ContractKind

RULES = Venue(
    id="hyperliquid",
    name="Hyperliquid",
    kinds={
        ContractKind.LINEAR: KindRules(
            MarginRule(ValueAt.MARK, TierBy.NOTIONAL_AT_LIQUIDATION),
            "https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations",
        ),
    },
    trigger="mark price (Hyperliquid: median of oracle-based, book and CEX perp prices)",
    steps=FractionalReduction(
        fraction=0.2,
        above_notional=100_000.0,
        description="Hyperliquid sends 20 % of a position above 100k USDC as a market liquidation order; for "
        "30 s after, any further liquidation order is for the whole position. Below 2/3 of maintenance "
        "margin the liquidator vault takes over (backstop).",
    ),
    notes=("No clearance fee on Hyperliquid liquidations.",),
)
