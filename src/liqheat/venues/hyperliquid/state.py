"""Hyperliquid's ``/info`` answers as records: an account's perpetual positions (``clearinghouseState``) and each
market's mark price and open interest (``metaAndAssetCtxs``).

Shapes: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals and the
official Python SDK's ``api/info/userstate.yaml``, ``api/info/assetctxs.yaml`` and recorded test responses.
Numbers come as decimal strings; a bad one is refused with the account, coin and field it sits in.

What ``liquidationPx`` assumes (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):
``liq_price = price − side × margin_available / size / (1 − l × side)``, ``l`` one over twice the maximum
leverage. For an *isolated* position ``margin_available`` is its own margin less its maintenance margin, so the
price is the position's alone. For a *cross* position it is the account's value less the maintenance margin of
all its cross positions: the price at which the whole account falls to maintenance if this coin alone moves
and every other position, its mark and the account's balance stay as they are now. It is computed at current
prices: a move in another coin, funding or a trade shifts it, so a cross level is exact only as of its read.
``null`` (or ``"NaN"``) means no price liquidates the position (the account could lose all of it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from liqheat.model import DomainError, Side

MARGIN_MODES = ("cross", "isolated")


def _field(record: Mapping[str, Any], name: str, where: str) -> Any:
    if not isinstance(record, Mapping):
        raise DomainError(f"{where}: must be a JSON object, got {type(record).__name__}", param=where.rsplit(" ", 1)[-1])
    if name not in record:
        raise DomainError(f"{where}: field {name!r} is missing", param=name)
    return record[name]


def decimal(record: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> float | None:
    """A decimal string (or number) field as a finite float; ``None`` for null or "NaN" when ``optional``."""
    value = _field(record, name, where)
    if optional and (value is None or value == "NaN"):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DomainError(f"{where}: field {name!r} must be a decimal string, got {value!r}", param=name)
    try:
        number = float(value)
    except ValueError:
        raise DomainError(f"{where}: field {name!r} must be a decimal string, got {value!r}", param=name) from None
    if not math.isfinite(number):
        raise DomainError(f"{where}: field {name!r} must be finite, got {value!r}", param=name)
    return number


def _required(record: Mapping[str, Any], name: str, where: str) -> float:
    value = decimal(record, name, where)
    assert value is not None
    return value


@dataclass(frozen=True, slots=True)
class Position:
    """One open perpetual position as the clearinghouse reports it. ``size`` is signed (``szi``: > 0 long);
    ``position_value`` is |size| × mark at the read; ``liquidation_px`` None when nothing liquidates it."""

    user: str
    coin: str
    size: float
    entry_px: float
    position_value: float
    liquidation_px: float | None
    margin_mode: str
    leverage: float
    margin_used: float
    unrealized_pnl: float

    def __post_init__(self) -> None:
        if self.size == 0:
            raise DomainError(f"{self.user} {self.coin}: size must not be 0 (a closed position is no position)", param="szi")
        if self.margin_mode not in MARGIN_MODES:
            raise DomainError(f"{self.user} {self.coin}: leverage type must be cross or isolated, got {self.margin_mode!r}",
                              param="leverage")  # fmt: skip
        if self.position_value < 0 or self.leverage <= 0:
            raise DomainError(f"{self.user} {self.coin}: positionValue must be ≥ 0 and leverage > 0", param="positionValue")
        if self.liquidation_px is not None and self.liquidation_px < 0:
            message = f"{self.user} {self.coin}: liquidationPx must be ≥ 0, got {self.liquidation_px}"
            raise DomainError(message, param="liquidationPx")

    @property
    def side(self) -> Side:
        return Side.LONG if self.size > 0 else Side.SHORT

    @property
    def mark_px(self) -> float:
        """The mark price the read valued the position at."""
        return self.position_value / abs(self.size)


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's perpetual positions at one read, with its value (cross margin and isolated together)."""

    user: str
    account_value: float
    positions: tuple[Position, ...]
    time_ms: int | None = None

    def notional(self, coins: frozenset[str] | None = None) -> float:
        """Sum of the position values (in ``coins`` only, when given): what the refresh priority weighs."""
        return sum(p.position_value for p in self.positions if coins is None or p.coin in coins)


def parse_position(user: str, entry: Any, index: int) -> Position | None:
    """One ``assetPositions`` item; None for a zero size (the venue lists flat coins it once held)."""
    where = f"clearinghouseState of {user}: assetPositions[{index}]"
    raw = _field(entry, "position", where)
    coin = _field(raw, "coin", f"{where}.position")
    if not isinstance(coin, str) or not coin:
        raise DomainError(f"{where}.position: field 'coin' must be a non-empty string, got {coin!r}", param="coin")
    here = f"{where}.position ({coin})"
    size = _required(raw, "szi", here)
    if size == 0:
        return None
    leverage = _field(raw, "leverage", here)
    mode = _field(leverage, "type", f"{here}.leverage")
    value = decimal(leverage, "value", f"{here}.leverage")
    if mode not in MARGIN_MODES:
        raise DomainError(f"{here}.leverage: field 'type' must be cross or isolated, got {mode!r}", param="type")
    if value is None or value <= 0:
        raise DomainError(f"{here}.leverage: field 'value' must be > 0, got {leverage.get('value')!r}", param="value")
    position_value = _required(raw, "positionValue", here)
    if position_value < 0:
        raise DomainError(f"{here}: field 'positionValue' must be ≥ 0, got {raw['positionValue']!r}", param="positionValue")
    liq = decimal(raw, "liquidationPx", here, optional=True)
    if liq is not None and liq < 0:
        raise DomainError(f"{here}: field 'liquidationPx' must be ≥ 0, got {raw['liquidationPx']!r}", param="liquidationPx")
    return Position(
        user=user, coin=coin, size=size, entry_px=_required(raw, "entryPx", here), position_value=position_value,
        liquidation_px=liq, margin_mode=str(mode), leverage=value, margin_used=_required(raw, "marginUsed", here),
        unrealized_pnl=_required(raw, "unrealizedPnl", here),
    )  # fmt: skip


def parse_clearinghouse_state(user: str, payload: Any) -> AccountState:
    """A ``clearinghouseState`` answer for ``user``: its non-zero positions and account value."""
    where = f"clearinghouseState of {user}"
    items = _field(payload, "assetPositions", where)
    if not isinstance(items, list):
        raise DomainError(f"{where}: field 'assetPositions' must be a list, got {type(items).__name__}", param="assetPositions")
    summary = _field(payload, "marginSummary", where)
    account_value = _required(summary, "accountValue", f"{where}: marginSummary")
    positions = tuple(p for i, entry in enumerate(items) if (p := parse_position(user, entry, i)) is not None)
    coins = [p.coin for p in positions]
    if len(set(coins)) != len(coins):
        message = f"{where}: a coin is listed twice in assetPositions ({', '.join(sorted(coins))})"
        raise DomainError(message, param="assetPositions")
    time = payload.get("time")
    return AccountState(user, account_value, positions, time if isinstance(time, int) and not isinstance(time, bool) else None)


@dataclass(frozen=True, slots=True)
class AssetContext:
    """One perpetual market at a read: mark price, open interest (coin units, one side) and its maximum leverage."""

    coin: str
    mark_px: float
    open_interest: float
    max_leverage: int | None

    @property
    def open_interest_usd(self) -> float:
        return self.open_interest * self.mark_px


def parse_meta_and_asset_ctxs(payload: Any) -> dict[str, AssetContext]:
    """A ``metaAndAssetCtxs`` answer, ``[{"universe": [...]}, [ctx, ...]]`` (the n-th context is the n-th coin's),
    as coin → context. Delisted coins are kept: their open interest is what still stands."""
    where = "metaAndAssetCtxs"
    if not isinstance(payload, list) or len(payload) != 2:
        raise DomainError(f"{where}: must be a list of [meta, asset contexts], got {type(payload).__name__}", param="payload")
    universe = _field(payload[0], "universe", f"{where}[0]")
    ctxs = payload[1]
    if not isinstance(universe, list) or not isinstance(ctxs, list):
        raise DomainError(f"{where}: universe and asset contexts must be lists", param="universe")
    if len(universe) != len(ctxs):
        raise DomainError(f"{where}: {len(universe)} coins in universe but {len(ctxs)} asset contexts", param="universe")
    out: dict[str, AssetContext] = {}
    for i, (meta, ctx) in enumerate(zip(universe, ctxs, strict=True)):
        name = _field(meta, "name", f"{where}: universe[{i}]")
        if not isinstance(name, str) or not name:
            raise DomainError(f"{where}: universe[{i}]: field 'name' must be a non-empty string, got {name!r}", param="name")
        here = f"{where}: asset context {i} ({name})"
        mark = _required(ctx, "markPx", here)
        oi = _required(ctx, "openInterest", here)
        if mark <= 0 or oi < 0:
            raise DomainError(f"{here}: markPx must be > 0 and openInterest ≥ 0, got {ctx['markPx']!r}, {ctx['openInterest']!r}",
                              param="markPx" if mark <= 0 else "openInterest")  # fmt: skip
        lev = meta.get("maxLeverage")
        out[name] = AssetContext(name, mark, oi, lev if isinstance(lev, int) and not isinstance(lev, bool) else None)
    return out
