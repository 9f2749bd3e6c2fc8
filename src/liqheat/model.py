"""Domain types shared by every layer: immutable, typed, venue-free.

Market data flows as columnar frames (a bundle's tables, the store's series), not as per-row records;
the records here are what the margin math and the analytics take: markets, contracts, positions, tiers.

Venue spellings and quirks end at the source that reads them; from here on a market is a
:class:`Market` (ccxt's unified symbol) and a side always means *which position*.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    """Which position: for a liquidation event, the position that was liquidated."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for a long, -1 for a short: PnL = sign × quantity × (price − entry)."""
        return 1 if self is Side.LONG else -1


class ContractKind(StrEnum):
    """Linear contracts settle in the quote currency, inverse ones in the base coin."""

    LINEAR = "linear"
    INVERSE = "inverse"


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class DomainError(ValueError):
    """A value a user supplied (or a file holds) that the domain cannot accept.

    ``param`` names the parameter at fault in the library's own words (``window``, ``depth_scale``);
    the message starts with that name. The faces turn it into their own: ``--depth-scale`` in the
    CLI, the query name in the API's error body.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise DomainError(message)


def _finite_positive(name: str, value: float) -> None:
    _require(math.isfinite(value) and value > 0, f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Market:
    """A perpetual market named as ccxt does: ``BASE/QUOTE:SETTLE``.

    ``BTC/USDT:USDT`` is linear (settled in the quote), ``BTC/USD:BTC`` inverse (settled in the base).
    """

    base: str
    quote: str
    settle: str

    def __post_init__(self) -> None:
        for name in ("base", "quote", "settle"):
            value = getattr(self, name)
            _require(
                value.isascii() and value.isalnum() and value == value.upper(),
                f"market {name} must be upper-case letters/digits, got {value!r}",
            )
        _require(
            self.settle in (self.base, self.quote),
            f"settle currency {self.settle} must be the base ({self.base}) or the quote ({self.quote})",
        )

    @property
    def kind(self) -> ContractKind:
        return ContractKind.INVERSE if self.settle == self.base else ContractKind.LINEAR

    @property
    def unified(self) -> str:
        return f"{self.base}/{self.quote}:{self.settle}"

    def __str__(self) -> str:
        return self.unified

    @classmethod
    def parse_unified(cls, symbol: str) -> Market:
        """Parse ``BASE/QUOTE:SETTLE`` strictly (aliases are resolved in :mod:`liqheat.venues.symbols`)."""
        try:
            pair, settle = symbol.split(":")
            base, quote = pair.split("/")
        except ValueError:
            raise DomainError(f"not a unified symbol (BASE/QUOTE:SETTLE): {symbol!r}") from None
        return cls(base, quote, settle)


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """What one contract is.

    ``contract_size`` is in base units per contract for linear contracts (1 on Binance USD-M,
    0.01 BTC on OKX's BTC-USDT-SWAP) and in quote units (face value) for inverse ones (100 USD on
    Binance COIN-M BTCUSD_PERP, 1 USD on Bybit BTCUSD).
    """

    market: Market
    contract_size: float = 1.0

    def __post_init__(self) -> None:
        _finite_positive("contract_size", self.contract_size)

    @property
    def kind(self) -> ContractKind:
        return self.market.kind

    def notional_quote(self, contracts: float, price: float) -> float:
        """Position value in the quote currency at ``price``."""
        if self.kind is ContractKind.LINEAR:
            return contracts * self.contract_size * price
        return contracts * self.contract_size

    def notional_base(self, contracts: float, price: float) -> float:
        """Position value in the base coin at ``price``."""
        if self.kind is ContractKind.LINEAR:
            return contracts * self.contract_size
        return contracts * self.contract_size / price


@dataclass(frozen=True, slots=True)
class Position:
    """One position: ``contracts`` of ``spec`` opened at ``entry_price`` with ``leverage``.

    ``margin`` is the collateral the position can lose: its isolated margin, or for cross margin the
    account's wallet balance (the position's margin included). It defaults to the initial margin,
    entry notional ÷ leverage.
    """

    spec: ContractSpec
    side: Side
    entry_price: float
    contracts: float
    leverage: float
    margin_mode: MarginMode = MarginMode.ISOLATED
    margin: float | None = None

    def __post_init__(self) -> None:
        _finite_positive("entry price", self.entry_price)
        _finite_positive("size", self.contracts)
        _require(math.isfinite(self.leverage) and self.leverage >= 1, f"leverage must be ≥ 1, got {self.leverage}")
        if self.margin is not None:
            _finite_positive("margin", self.margin)

    @property
    def initial_margin(self) -> float:
        """Entry notional ÷ leverage, in the settle currency."""
        return self.entry_value_settle / self.leverage

    @property
    def collateral(self) -> float:
        """What the position can lose before equity reaches zero, in the settle currency."""
        return self.initial_margin if self.margin is None else self.margin

    @property
    def entry_notional_quote(self) -> float:
        return self.spec.notional_quote(self.contracts, self.entry_price)

    @property
    def entry_value_settle(self) -> float:
        """Entry notional in the currency the position is margined in."""
        if self.spec.kind is ContractKind.LINEAR:
            return self.spec.notional_quote(self.contracts, self.entry_price)
        return self.spec.notional_base(self.contracts, self.entry_price)


@dataclass(frozen=True, slots=True)
class Bracket:
    """One maintenance-margin tier: notional in [floor, cap) needs ``mmr`` × notional − ``maint_amount``.

    ``maint_amount`` is Binance's "cum" / Bybit's "MM deduction": it makes maintenance margin a
    continuous function of notional across tiers.
    """

    tier: int
    floor: float
    cap: float
    max_leverage: float
    mmr: float
    maint_amount: float = 0.0

    def __post_init__(self) -> None:
        _require(
            self.floor >= 0 and self.cap > self.floor, f"tier {self.tier}: need 0 ≤ floor < cap, got {self.floor}, {self.cap}"
        )
        _require(
            math.isfinite(self.max_leverage) and self.max_leverage >= 1,
            f"tier {self.tier}: max leverage must be ≥ 1 and finite, got {self.max_leverage}",
        )
        _require(
            math.isfinite(self.maint_amount), f"tier {self.tier}: maintenance amount must be finite, got {self.maint_amount!r}"
        )
        _require(0 < self.mmr < 1, f"tier {self.tier}: maintenance margin rate must be in (0, 1), got {self.mmr}")

    def maintenance(self, notional: float) -> float:
        return notional * self.mmr - self.maint_amount

    def holds(self, notional: float) -> bool:
        return self.floor <= notional < self.cap


@dataclass(frozen=True, slots=True)
class BracketTable:
    """A venue's maintenance-margin tiers for one market, with where and when they were read.

    Notional is measured in ``notional_unit``: the quote currency for linear markets, the base coin
    for inverse ones (Binance COIN-M brackets are in BTC, for example).
    """

    venue: str
    market: Market
    notional_unit: str
    source: str
    as_of: str
    brackets: tuple[Bracket, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _require(len(self.brackets) > 0, f"{self.venue} {self.market}: bracket table is empty")
        first = self.brackets[0]
        _require(first.floor == 0, f"{self.venue} {self.market}: first tier must start at 0, got {first.floor}")
        for lower, upper in zip(self.brackets, self.brackets[1:], strict=False):
            _require(
                math.isclose(upper.floor, lower.cap, rel_tol=1e-12),
                f"{self.venue} {self.market}: tier {upper.tier} starts at {upper.floor}, tier {lower.tier} ends at {lower.cap}",
            )
            _require(upper.mmr >= lower.mmr, f"{self.venue} {self.market}: MMR falls from tier {lower.tier} to {upper.tier}")
            _require(
                upper.max_leverage <= lower.max_leverage,
                f"{self.venue} {self.market}: max leverage rises from tier {lower.tier} to {upper.tier}",
            )

    def __iter__(self) -> Iterator[Bracket]:
        return iter(self.brackets)

    def __len__(self) -> int:
        return len(self.brackets)

    def for_notional(self, notional: float) -> Bracket:
        """The tier holding ``notional``; beyond the last cap there is no tier (the venue refuses)."""
        for bracket in self.brackets:
            if bracket.holds(notional):
                return bracket
        last = self.brackets[-1]
        if notional == last.cap:  # a venue's maximum position size is itself allowed (OKX maxSz)
            return last
        raise DomainError(
            f"notional {notional:,.2f} {self.notional_unit} exceeds the largest {self.venue} tier for {self.market} "
            f"({self.brackets[-1].cap:,.0f} {self.notional_unit})"
        )

    def maintenance(self, notional: float) -> float:
        return self.for_notional(notional).maintenance(notional)

    @property
    def max_leverage(self) -> float:
        return self.brackets[0].max_leverage
