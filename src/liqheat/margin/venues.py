"""Each venue's published liquidation rule, as data over the one solver in :mod:`.solver`.

Sources (read 2026-11; the quotes and worked examples are in docs/liquidation-rules.md):

* Binance USD-M — https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
  LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q); the bracket is the one holding the notional *at the
  liquidation price*; maintenance on the mark price.
* Binance COIN-M — https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46
  LP = (Q·CS·MMR + side·Q·CS) / (WB + cum + side·Q·CS/EP), brackets in coin.
* Bybit (Unified Trading Account, isolated) — https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
  long LP = [EP·Q − EP·Q/lev − extra/(1 − taker) − MMded] ÷ [Q − Q·MMR]: maintenance on the mark price.
* Bybit classic (standard account) — https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract
  LP = EP ∓ (IM − MM)/size ∓ extra/size with MM on the position value at entry (1 BTC long at 20,000,
  50×, MMR 0.5 % → 19,700).
* OKX — https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules : liquidation at margin ratio
  100 %, margin ratio = equity / (contracts·ctVal·mark·(MMR + taker fee)); tiers by contract count.
* Hyperliquid — https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
  liq_price = price − side·margin_available / size / (1 − l·side), l = 1/(2 × max leverage of the tier
  holding the position value at the liquidation price).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from liqheat.margin.solver import MarginRule, TierBy, ValueAt
from liqheat.model import ContractKind, DomainError


@dataclass(frozen=True, slots=True)
class TierReduction:
    """Positions above the lowest tiers are first cut down to a lower tier, then (if still short
    of margin) closed. ``levels`` is how many tiers one cut descends (``None``: down to tier 1)."""

    levels: int | None = 1
    full_below_tier: int = 2
    description: str = ""


@dataclass(frozen=True, slots=True)
class FractionalReduction:
    """Positions above ``above_notional`` are liquidated ``fraction`` at a time."""

    fraction: float
    above_notional: float
    description: str = ""


StepModel = TierReduction | FractionalReduction | None


@dataclass(frozen=True, slots=True)
class KindRules:
    rule: MarginRule
    formula_source: str
    fee_scales_extra_margin: bool = False


@dataclass(frozen=True, slots=True)
class Venue:
    id: str
    name: str
    kinds: dict[ContractKind, KindRules]
    trigger: str
    steps: StepModel
    default_taker_fee: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    table_venue: str = ""

    def rules_for(self, kind: ContractKind) -> KindRules:
        rules = self.kinds.get(kind)
        if rules is None:
            have = ", ".join(k.value for k in self.kinds)
            raise DomainError(f"{self.name} has no {kind.value} perpetuals in liqheat (supported: {have})")
        return rules

    @property
    def tables_from(self) -> str:
        return self.table_venue or self.id


_AT_LIQ = TierBy.NOTIONAL_AT_LIQUIDATION

VENUES: dict[str, Venue] = {
    v.id: v
    for v in (
        Venue(
            id="binance",
            name="Binance",
            kinds={
                ContractKind.LINEAR: KindRules(
                    MarginRule(ValueAt.MARK, _AT_LIQ),
                    "https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93",
                ),
                ContractKind.INVERSE: KindRules(
                    MarginRule(ValueAt.MARK, _AT_LIQ),
                    "https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46",
                ),
            },
            trigger="mark price (index-based)",
            steps=None,
        ),
        Venue(
            id="bybit",
            name="Bybit (Unified Trading Account)",
            kinds={
                ContractKind.LINEAR: KindRules(
                    MarginRule(ValueAt.MARK, _AT_LIQ),
                    "https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account",
                    fee_scales_extra_margin=True,
                ),
                ContractKind.INVERSE: KindRules(
                    MarginRule(ValueAt.MARK, _AT_LIQ),
                    "https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account",
                    fee_scales_extra_margin=True,
                ),
            },
            trigger="mark price (Bybit: median of index-based fair prices and the last trade)",
            steps=TierReduction(
                levels=1,
                full_below_tier=2,
                description="Bybit, above the lowest risk-limit tier, first closes the part of the position above the "
                "lower tier's limit; if margin is still short, the rest is taken over at the bankruptcy price.",
            ),
            default_taker_fee=0.00055,
        ),
        Venue(
            id="bybit-classic",
            name="Bybit (classic/standard account)",
            kinds={
                ContractKind.LINEAR: KindRules(
                    MarginRule(ValueAt.ENTRY, TierBy.NOTIONAL_AT_ENTRY),
                    "https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract",
                ),
                ContractKind.INVERSE: KindRules(
                    MarginRule(ValueAt.ENTRY, TierBy.NOTIONAL_AT_ENTRY),
                    "https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account",
                ),
            },
            trigger="mark price",
            steps=TierReduction(levels=1, full_below_tier=2, description="as Bybit: reduce to the lower risk-limit tier first"),
            notes=("Classic formula: maintenance margin on the position value at entry (Bybit's standard account).",),
            table_venue="bybit",
        ),
        Venue(
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
        ),
        Venue(
            id="hyperliquid",
            name="Hyperliquid",
            kinds={
                ContractKind.LINEAR: KindRules(
                    MarginRule(ValueAt.MARK, _AT_LIQ),
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
        ),
    )
}


def venue(name: str) -> Venue:
    """Look a venue up by id; the error lists the ones that exist."""
    found = VENUES.get(name.strip().lower())
    if found is None:
        raise DomainError(f"unknown venue {name!r} (known: {', '.join(VENUES)})")
    return found
