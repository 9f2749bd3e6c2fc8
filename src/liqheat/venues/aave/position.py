"""An Aave position as the pool sees it: collateral and debt balances at oracle prices, under one market's
reserve parameters, e-mode categories and liquidation rules.

Amounts are token units (interest included) and prices USD per token, as the pool's oracle gives them.
Thresholds are fractions (0.78) and bonuses multipliers (1.05 = 5 %), not the basis points on chain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from liqheat.model import DomainError


def _fraction(name: str, value: float, *, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise DomainError(f"{name} must be within [{low:g}, {high:g}], got {value!r}", param=name.split()[-1])


def _threshold_and_bonus(owner: str, threshold: float, bonus: float) -> None:
    """What the pool's configurator enforces, and what makes every liquidation raise the health factor:
    LT < 1, bonus ≥ 1 and LT × bonus ≤ 1 (else seizing collateral would cost more LT-weighted value than it repays)."""
    _fraction(f"{owner} liquidation_threshold", threshold, low=0.0, high=1.0)
    _fraction(f"{owner} liquidation_bonus", bonus, low=1.0, high=2.0)
    if threshold * bonus > 1.0 + 1e-12:
        raise DomainError(
            f"{owner}: liquidation_threshold × liquidation_bonus must be ≤ 1 (as Aave's configurator requires), "
            f"got {threshold:g} × {bonus:g} = {threshold * bonus:g}",
            param="liquidation_bonus",
        )


@dataclass(frozen=True, slots=True)
class Reserve:
    """One asset's risk parameters in one pool. ``debt_ceiling_usd`` > 0 makes it an isolated asset;
    ``protocol_fee`` is the share of the bonus the treasury takes (it leaves the borrower all the same)."""

    symbol: str
    liquidation_threshold: float
    liquidation_bonus: float
    protocol_fee: float = 0.0
    debt_ceiling_usd: float = 0.0
    borrowable_in_isolation: bool = False

    def __post_init__(self) -> None:
        if not self.symbol.strip():
            raise DomainError("reserve symbol must not be empty", param="symbol")
        _threshold_and_bonus(f"reserve {self.symbol}", self.liquidation_threshold, self.liquidation_bonus)
        _fraction(f"reserve {self.symbol} protocol_fee", self.protocol_fee, low=0.0, high=1.0)
        if not (math.isfinite(self.debt_ceiling_usd) and self.debt_ceiling_usd >= 0):
            raise DomainError(f"reserve {self.symbol}: debt_ceiling_usd must be ≥ 0, got {self.debt_ceiling_usd!r}")


@dataclass(frozen=True, slots=True)
class EModeCategory:
    """An efficiency-mode category: a user in it gets its threshold and bonus on the collateral it lists
    (v3.2+ bitmaps; in v3.0–3.1 every asset of the category). Its assets usually move together (BTC, ETH)."""

    id: int
    label: str
    liquidation_threshold: float
    liquidation_bonus: float
    collateral: frozenset[str]
    borrowable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 1 <= self.id <= 255:
            raise DomainError(f"e-mode category id must be within 1..255 (0 is no e-mode), got {self.id}", param="emode")
        _threshold_and_bonus(f"e-mode {self.id} ({self.label})", self.liquidation_threshold, self.liquidation_bonus)

    @property
    def assets(self) -> frozenset[str]:
        return self.collateral | self.borrowable


@dataclass(frozen=True, slots=True)
class CloseRules:
    """How much debt one liquidation call may repay (``LiquidationLogic.executeLiquidationCall``).

    The close factor applies while the health factor is above ``full_below_hf``; at or below it the whole
    debt of the reserve may go. From v3.3 the whole debt may also go when the seized collateral reserve or
    the repaid debt reserve is worth less than ``full_below_usd``, and the close factor is a share of the
    account's total debt rather than of that reserve's debt.
    """

    name: str
    close_factor: float = 0.5
    full_below_hf: float = 0.95
    full_below_usd: float = 2000.0
    of_total_debt: bool = True

    def __post_init__(self) -> None:
        _fraction("close rules close_factor", self.close_factor, low=0.0, high=1.0)
        _fraction("close rules full_below_hf", self.full_below_hf, low=0.0, high=1.0)
        if not (math.isfinite(self.full_below_usd) and self.full_below_usd >= 0):
            raise DomainError(f"full_below_usd must be ≥ 0, got {self.full_below_usd!r}", param="full_below_usd")


V3_3 = CloseRules("v3.3+")
V3_0 = CloseRules("v3.0-3.2", full_below_usd=0.0, of_total_debt=False)
V2 = CloseRules("v2", full_below_hf=0.0, full_below_usd=0.0, of_total_debt=False)


@dataclass(frozen=True, slots=True, eq=False)
class Market:
    """One pool (Aave v3 Ethereum Core, Base, ...): its collateral reserves, e-mode categories and rules.
    Only assets used as collateral need a reserve: a debt's price is all the health factor takes from it."""

    name: str
    reserves: Mapping[str, Reserve]
    emodes: Mapping[int, EModeCategory] = field(default_factory=dict)
    rules: CloseRules = V3_3

    def __post_init__(self) -> None:
        for symbol, reserve in self.reserves.items():
            if symbol != reserve.symbol:
                raise DomainError(f"market {self.name}: reserve {reserve.symbol!r} is filed under {symbol!r}")
        for number, category in self.emodes.items():
            if number != category.id:
                raise DomainError(f"market {self.name}: e-mode {category.id} is filed under {number}")

    def reserve(self, asset: str) -> Reserve:
        found = self.reserves.get(asset)
        if found is None:
            known = ", ".join(sorted(self.reserves))
            raise DomainError(f"market {self.name} has no collateral reserve {asset!r} (known: {known})", param="asset")
        return found


@dataclass(frozen=True, slots=True)
class Holding:
    """A balance of one asset (token units) and its oracle price (USD per token)."""

    asset: str
    amount: float
    price: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amount) and self.amount >= 0):
            raise DomainError(f"{self.asset}: amount must be a finite number ≥ 0, got {self.amount!r}", param="amount")
        if not (math.isfinite(self.price) and self.price > 0):
            raise DomainError(f"{self.asset}: price must be a finite number > 0, got {self.price!r}", param="price")

    @property
    def usd(self) -> float:
        return self.amount * self.price


@dataclass(frozen=True, slots=True, eq=False)
class Position:
    """One account in one pool: what it supplied *and enabled as collateral*, what it owes, its e-mode."""

    account: str
    market: Market
    collateral: tuple[Holding, ...]
    debt: tuple[Holding, ...]
    emode: int = 0

    def __post_init__(self) -> None:
        for kind, holdings in (("collateral", self.collateral), ("debt", self.debt)):
            seen = [h.asset for h in holdings]
            dupes = sorted({a for a in seen if seen.count(a) > 1})
            if dupes:
                raise DomainError(f"account {self.account}: {kind} lists {', '.join(dupes)} more than once")
        for h in self.collateral:
            try:
                self.market.reserve(h.asset)
            except DomainError as exc:
                raise DomainError(f"account {self.account}: {exc}") from None
        if self.emode and self.emode not in self.market.emodes:
            known = ", ".join(str(k) for k in sorted(self.market.emodes)) or "none"
            message = f"account {self.account}: e-mode {self.emode} is not a category of {self.market.name} (known: {known})"
            raise DomainError(message, param="emode")

    @property
    def category(self) -> EModeCategory | None:
        return self.market.emodes.get(self.emode) if self.emode else None

    @property
    def isolated_asset(self) -> str | None:
        """The isolated asset when the account is in isolation mode, as the pool decides it
        (``UserConfiguration.getIsolationModeState``): its only collateral has a debt ceiling. Isolation limits
        what may be borrowed, not the health factor: a second collateral enabled before the asset was
        isolated takes the account out of it."""
        used = [h for h in self.collateral if h.amount > 0]
        if len(used) == 1 and self.market.reserve(used[0].asset).debt_ceiling_usd > 0:
            return used[0].asset
        return None

    def liquidation_threshold(self, asset: str) -> float:
        """The e-mode threshold for collateral the user's category lists, else the reserve's."""
        category = self.category
        if category is not None and asset in category.collateral:
            return category.liquidation_threshold
        return self.market.reserve(asset).liquidation_threshold

    def liquidation_bonus(self, asset: str) -> float:
        category = self.category
        if category is not None and asset in category.collateral:
            return category.liquidation_bonus
        return self.market.reserve(asset).liquidation_bonus

    def with_balances(self, collateral: Mapping[str, float], debt: Mapping[str, float]) -> Position:
        """The same account with new amounts (assets not named keep theirs), at the same prices."""
        return Position(
            self.account, self.market,
            tuple(Holding(h.asset, collateral.get(h.asset, h.amount), h.price) for h in self.collateral),
            tuple(Holding(h.asset, debt.get(h.asset, h.amount), h.price) for h in self.debt),
            self.emode,
        )  # fmt: skip
