"""OKX's liquidation rule — https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules :
liquidation at margin ratio 100 %, margin ratio = equity / (contracts·ctVal·mark·(MMR + taker fee));
tiers by contract count.
"""

from __future__ import annotations

from liqheat.margin.rules import KindRules, TierReduction, Venue
from liqheat.margin.solver import MarginRule, TierBy, ValueAt
from liqheat.model import ContractKind

RULES = Venue(
    id="okx",
    name="OKX",
    kinds={
        ContractKind.LINEAR: KindRules(
            MarginRule(ValueAt.MARK, TierBy.CONTRACTS, extra_rate=0.0),
            "https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules",
        ),
    },
    trigger="mark price (OKX: spot index plus a moving average of the basis)",
    steps=TierReduction(
        levels=2,
        full_below_tier=3,
        description="OKX reduces positions in tier 3 and above by two tiers at a time; tiers 1-2 are liquidated in full.",
    ),
    default_taker_fee=0.0005,
    notes=("OKX adds the liquidation fee (position value × taker fee rate) to maintenance margin.",),
    fee_in_maintenance=True,
)
