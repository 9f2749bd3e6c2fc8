"""How a venue liquidates, as data over the one solver in :mod:`.solver`: the types only.

Each venue's own rule lives in ``venues/<venue>/rules.py`` with its sources; the calculator reads
these fields and never branches on a venue's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from liqheat.margin.solver import MarginRule
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
    # OKX counts the liquidation fee (position value × taker fee) in maintenance margin
    fee_in_maintenance: bool = False
    # said when the whole position is shown at one price though the venue may close it in parts it does not publish
    unpublished_steps_note: str = ""

    def rules_for(self, kind: ContractKind) -> KindRules:
        rules = self.kinds.get(kind)
        if rules is None:
            have = ", ".join(k.value for k in self.kinds)
            raise DomainError(f"{self.name} has no {kind.value} perpetuals in liqheat (supported: {have})")
        return rules

    @property
    def tables_from(self) -> str:
        """The venue whose tables and symbol aliases this rule uses (Bybit classic: Bybit's)."""
        return self.table_venue or self.id

    @property
    def fee_matters(self) -> bool:
        """Whether the taker fee moves the liquidation price under this rule."""
        return self.fee_in_maintenance or any(k.fee_scales_extra_margin for k in self.kinds.values())
