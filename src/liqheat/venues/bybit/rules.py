"""Bybit's liquidation rules: the Unified Trading Account (today's) and the classic standard account.

* UTA, isolated — https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
  long LP = [EP·Q − EP·Q/lev − extra/(1 − taker) − MMded] ÷ [Q − Q·MMR]: maintenance on the mark price.
* Classic — https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract
  LP = EP ∓ (IM − MM)/size ∓ extra/size with MM on the position value at entry (1 BTC long at 20,000,
  50×, MMR 0.5 % → 19,700).
"""

from __future__ import annotations

from liqheat.margin.rules import KindRules, TierReduction, Venue
from liqheat.margin.solver import MarginRule, TierBy, ValueAt
from liqheat.model import ContractKind

_UTA = "https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account"

_AT_MARK = MarginRule(ValueAt.MARK, TierBy.NOTIONAL_AT_LIQUIDATION)

RULES = Venue(
    id="bybit",
    name="Bybit (Unified Trading Account)",
    kinds={
        ContractKind.LINEAR: KindRules(_AT_MARK, _UTA, fee_scales_extra_margin=True),
        ContractKind.INVERSE: KindRules(_AT_MARK, _UTA, fee_scales_extra_margin=True),
    },
    trigger="mark price (Bybit: median of index-based fair prices and the last trade)",
    steps=TierReduction(
        levels=1,
        full_below_tier=2,
        description="Bybit, above the lowest risk-limit tier, first closes the part of the position above the "
        "lower tier's limit; if margin is still short, the rest is taken over at the bankruptcy price.",
    ),
    default_taker_fee=0.00055,
)

CLASSIC = Venue(
    id="bybit-classic",
    name="Bybit (classic/standard account)",
    kinds={
        ContractKind.LINEAR: KindRules(
            MarginRule(ValueAt.ENTRY, TierBy.NOTIONAL_AT_ENTRY),
            "https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract",
        ),
        ContractKind.INVERSE: KindRules(MarginRule(ValueAt.ENTRY, TierBy.NOTIONAL_AT_ENTRY), _UTA),
    },
    trigger="mark price",
    steps=TierReduction(levels=1, full_below_tier=2, description="as Bybit: reduce to the lower risk-limit tier first"),
    notes=("Classic formula: maintenance margin on the position value at entry (Bybit's standard account).",),
    table_venue="bybit",
)
