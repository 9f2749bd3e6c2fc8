"""Binance's liquidation rule (USD-M and COIN-M).

* USD-M — https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
  LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q); the bracket is the one holding the notional *at the
  liquidation price*; maintenance on the mark price.
* COIN-M — https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46
  LP = (Q·CS·MMR + side·Q·CS) / (WB + cum + side·Q·CS/EP), brackets in coin.
"""

from __future__ import annotations

from liqheat.margin.rules import KindRules, Venue
from liqheat.margin.solver import MarginRule, TierBy, ValueAt
from liqheat.model import ContractKind

RULES = Venue(
    id="binance",
    name="Binance",
    kinds={
        ContractKind.LINEAR: KindRules(
            MarginRule(ValueAt.MARK, TierBy.NOTIONAL_AT_LIQUIDATION),
            "https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93",
        ),
        ContractKind.INVERSE: KindRules(
            MarginRule(ValueAt.MARK, TierBy.NOTIONAL_AT_LIQUIDATION),
            "https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46",
        ),
    },
    trigger="mark price (index-based)",
    steps=None,
    unpublished_steps_note="Binance may first reduce a position partially with one IOC order; it publishes no size "
    "for that step, so the whole position is shown at the liquidation price.",
)
