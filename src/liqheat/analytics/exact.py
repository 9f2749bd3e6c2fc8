"""Exact liquidation levels beside the estimated map: positions whose balances are public (Aave, Hyperliquid),
each liquidating at a price that is known, not modelled.

The engine's map is an estimate for the venues whose positions are private; an on-chain position's level is
a fact as of the snapshot that read it. The two are shown side by side, never blended: each exact source is
its own part of the liquidation map, labelled ``exact``, with its time and coverage. An exact level does not
decay by model. It is on the map from its snapshot's time until the price crosses it (the position is then
liquidated: the level is its liquidation price) or a later snapshot of the same source replaces it. A map of
a time before a source's first snapshot shows none of it: nothing is known of it then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from liqheat.analytics.liqmap import Part
from liqheat.analytics.maps import MarketMap
from liqheat.model import DomainError

EXACT = "exact"
ESTIMATED = "estimated"


@dataclass(frozen=True, eq=False)
class ExactLevels:
    """The levels of one source's positions as of ``as_of``: each at ``price`` (USD of ``symbol``), long (it
    liquidates as the price falls to it) or short, for ``usd`` of notional (what the liquidation takes).

    ``coverage`` is the share of the venue's open interest the positions read hold (None when the snapshot holds
    every position of the protocol); ``note`` says what the levels assume."""

    source: str
    symbol: str
    as_of: pd.Timestamp
    price: np.ndarray
    long: np.ndarray
    usd: np.ndarray
    positions: int
    coverage: float | None = None
    note: str = ""
    leverage: np.ndarray | None = None  # per level, where the venue says it (Hyperliquid): what the positions reveal

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise DomainError("an exact source needs a name", param="source")
        n = len(self.price)
        for name in ("long", "usd"):
            if len(getattr(self, name)) != n:
                raise DomainError(f"{self.source}: {name} has {len(getattr(self, name))} values for {n} prices", param=name)
        if n and not (np.all(np.isfinite(self.price)) and np.all(self.price > 0)):
            raise DomainError(f"{self.source}: every price must be a number > 0", param="price")
        if n and not (np.all(np.isfinite(self.usd)) and np.all(self.usd >= 0)):
            raise DomainError(f"{self.source}: every usd must be a number ≥ 0", param="usd")
        if self.leverage is not None and (len(self.leverage) != n or (n and not np.all(self.leverage > 0))):
            raise DomainError(f"{self.source}: leverage needs one value > 0 per price", param="leverage")
        if self.coverage is not None and not (math.isfinite(self.coverage) and self.coverage >= 0):
            raise DomainError(f"{self.source}: coverage must be a share ≥ 0, got {self.coverage!r}", param="coverage")
        if self.as_of.tzinfo is None:
            raise DomainError(f"{self.source}: as_of must carry a time zone, got {self.as_of}", param="as_of")

    @property
    def label(self) -> str:
        return f"{self.source} ({EXACT})"

    def open_at(self, ts_us: np.ndarray, low: np.ndarray, high: np.ndarray, index: int) -> np.ndarray:
        """Which levels are still open after candle ``index`` closes (candles opening at ``ts_us``, µs since the
        epoch, with their ``low`` and ``high``): none before ``as_of``; after it, those that the candles opening
        from ``as_of`` on, up to ``index``, have not crossed."""
        if index < 0 or index >= len(ts_us):
            raise DomainError(f"candle {index} is outside 0 … {len(ts_us) - 1}", param="at")
        k = index + 1
        first, closed = self.closes(ts_us[:k], low[:k], high[:k])
        return np.asarray((first <= index) & (closed > index), dtype=bool)

    def closes(self, ts_us: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[int, np.ndarray]:
        """The one rule of when a level is on the map: ``first``, the candle open at ``as_of`` (the levels are known
        when it closes), and per level the first candle from there whose low (a long) or high (a short) reaches it,
        ``len(ts_us)`` when none does. A level is open after candle i closes when ``first <= i < closes[level]``;
        :meth:`open_at` and the time-resolved layer both read it here. A read taken while a candle is open (a live
        store reads every minute, inside the current candle) shows at that candle's close, less the levels its whole
        range reaches: which part of the range came after the read is not known, so those are taken as crossed."""
        n = len(ts_us)
        at = self.as_of.value // 1000
        first = int(np.searchsorted(ts_us, at, side="right")) - 1  # the last candle opening at or before the read
        if first < 0:
            first = 0
        elif n > 1:  # a read after that candle's close (the last candle lasts as long as the one before) is known next
            step = ts_us[first + 1] - ts_us[first] if first + 1 < n else ts_us[first] - ts_us[first - 1]
            first += int(at >= ts_us[first] + step)
        if first >= n or not len(self.price):
            return first, np.full(len(self.price), n, dtype=np.int64)
        lowest = np.minimum.accumulate(low[first:])  # falls: a long is crossed from the first candle reaching it
        highest = np.maximum.accumulate(high[first:])
        long_at = np.searchsorted(-lowest, -self.price, side="left")
        short_at = np.searchsorted(highest, self.price, side="left")
        return first, first + np.where(self.long, long_at, short_at).astype(np.int64)


class ExactSource(Protocol):
    """Where a market's exact levels come from: fixed snapshots (:class:`Snapshots`) or positions kept over time
    (a store of Hyperliquid reads); ``levels_at`` gives the last known before ``at``, or None."""

    @property
    def source(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    def levels_at(self, at: pd.Timestamp) -> ExactLevels | None: ...

    def levels_over(self, times: Sequence[pd.Timestamp]) -> list[ExactLevels | None]:
        """``levels_at`` of each of ``times`` (ascending), one object per snapshot: a heatmap asks for hundreds."""
        ...


@dataclass(frozen=True)
class Snapshots:
    """Snapshots of one source, each replacing the one before from its time on."""

    source: str
    symbol: str
    taken: tuple[ExactLevels, ...]

    def levels_at(self, at: pd.Timestamp) -> ExactLevels | None:
        before = [s for s in self.taken if s.as_of <= at]
        return max(before, key=lambda s: s.as_of) if before else None

    def levels_over(self, times: Sequence[pd.Timestamp]) -> list[ExactLevels | None]:
        return [self.levels_at(t) for t in times]

    @classmethod
    def of(cls, levels: ExactLevels) -> Snapshots:
        return cls(levels.source, levels.symbol, (levels,))


def latest(sources: Sequence[ExactSource], at: pd.Timestamp) -> list[ExactLevels]:
    """Per source, its levels as of ``at`` (the last snapshot at or before it); sources with none then are left out."""
    found = [s.levels_at(at) for s in sources]
    return [levels for levels in found if levels is not None]


def rows_of(levels: ExactLevels, edges: np.ndarray) -> np.ndarray:
    """The bin of ``edges`` (ascending prices) each level falls in, -1 or ``len(edges) - 1`` outside: a level on an
    edge is in the bin above it, as a price falls into the bin it reaches."""
    return np.asarray(np.searchsorted(edges, levels.price, side="right") - 1, dtype=np.int64)


def on_bins(levels: ExactLevels, is_open: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open levels' USD per bin of ``edges`` (ascending prices), long and short; levels outside are left out.
    A level on an edge is in the bin above it, as a price falls into the bin it reaches."""
    n = len(edges) - 1
    i = rows_of(levels, edges)
    inside = is_open & (i >= 0) & (i < n)
    long = np.bincount(i[inside & levels.long], weights=levels.usd[inside & levels.long], minlength=n)
    short = np.bincount(i[inside & ~levels.long], weights=levels.usd[inside & ~levels.long], minlength=n)
    return long.astype(np.float64), short.astype(np.float64)


def aave_levels(folder: str, asset: str = "BTC") -> ExactLevels:
    """The exact levels of an Aave v3 snapshot folder (:mod:`liqheat.venues.aave.snapshot`) on ``asset``, as of
    the snapshot's day (its price history's last row, 00:00 UTC): every position's liquidation calls while the
    asset moves with the other prices held."""
    from liqheat.venues.aave.snapshot import snapshot_levels

    found = snapshot_levels(Path(folder), asset=asset)
    snap = found.snapshot
    as_of = snap.as_of.tz_localize("UTC") if snap.as_of.tzinfo is None else snap.as_of.tz_convert("UTC")
    note = (f"Aave v3 Ethereum positions holding {found.asset} collateral as of {as_of:%Y-%m-%d}: each call at the "
            f"{found.asset} price that brings the health factor to 1, the other prices held")  # fmt: skip
    return ExactLevels("aave v3", found.asset, as_of, found.price, found.long, found.usd, len(snap.positions), None, note)


def exact_parts(
    sources: Sequence[ExactSource], mm: MarketMap, ts_us: np.ndarray, low: np.ndarray, high: np.ndarray
) -> list[tuple[ExactLevels, Part, int]]:
    """Each source's latest snapshot at ``mm``'s time as a part on ``mm``'s bins (levels the candles since the
    snapshot crossed are gone), with how many of its levels are open."""
    out = []
    for levels in latest(sources, mm.ts):
        is_open = levels.open_at(ts_us, low, high, mm.index)
        long, short = on_bins(levels, is_open, mm.edges)
        out.append((levels, Part(levels.label, long, short, EXACT), int(is_open.sum())))
    return out


@dataclass(frozen=True, eq=False)
class ExactLayer:
    """One source's exact notional per heatmap column and price row (``long``, ``short``: columns × rows, USD),
    and the snapshots it was read from, oldest first."""

    source: str
    long: np.ndarray
    short: np.ndarray
    snapshots: tuple[ExactLevels, ...]

    @property
    def label(self) -> str:
        return f"{self.source} ({EXACT})"


def exact_layer(
    source: ExactSource, ts_us: np.ndarray, low: np.ndarray, high: np.ndarray, columns: np.ndarray, edges: np.ndarray
) -> ExactLayer:
    """``source``'s levels over a heatmap's columns: column k is the map as candle ``columns[k]`` opens (after
    candle ``columns[k] - 1`` closed, with the snapshot in force then, as :func:`exact_parts` reads a map), on
    the bins of ``edges``. A level counts from its snapshot's first candle until a candle crosses it or a later
    snapshot replaces it (:meth:`ExactLevels.closes`): each snapshot's crossings are found once, then summed per
    row over the columns it is in force, not per column."""
    columns = np.asarray(columns, dtype=np.int64)
    n_cols, n_rows = len(columns), len(edges) - 1
    if n_cols and (columns[0] < 1 or columns[-1] >= len(ts_us) or np.any(np.diff(columns) <= 0)):
        raise DomainError("a column must be a candle after the first, in order", param="columns")
    found = source.levels_over(list(pd.to_datetime(ts_us[columns], unit="us", utc=True)))
    diff = np.zeros((2, n_cols + 1, n_rows))  # long, short: +usd where a level enters, -usd where it leaves
    used: list[ExactLevels] = []
    k = 0
    while k < n_cols:
        levels, end = found[k], k + 1
        while end < n_cols and found[end] is levels:
            end += 1
        if levels is not None:
            used.append(levels)
            first, closed = levels.closes(ts_us, low, high)
            after = columns[k:end] - 1  # the candle whose close each column's map follows
            start = k + int(np.searchsorted(after, first, side="left"))
            stop = k + np.searchsorted(after, closed, side="left")
            rows = rows_of(levels, edges)
            keep = (rows >= 0) & (rows < n_rows) & (stop > start)
            for side, is_side in enumerate((levels.long, ~levels.long)):
                m = keep & is_side
                np.add.at(diff[side], (np.full(int(m.sum()), start), rows[m]), levels.usd[m])
                np.add.at(diff[side], (stop[m], rows[m]), -levels.usd[m])
        k = end
    # the running sums leave rounding dust where levels left: cents are what the API sends
    long, short = (np.maximum(np.round(np.cumsum(d, axis=0)[:-1], 2), 0.0) for d in diff)
    return ExactLayer(source.source, long, short, tuple(used))


@dataclass(frozen=True)
class StoredPositions:
    """Hyperliquid positions kept in a store over time (``liqheat onchain follow``): at any time, each account's
    last read before it, at its own ``liquidationPx`` for |size| × that price. Cross-margin levels are exact as of
    their read only (see :mod:`liqheat.venues.hyperliquid.state`); the snapshot's time is the last read's."""

    root: Path
    coin: str
    source: str = "hyperliquid"

    @property
    def symbol(self) -> str:
        return self.coin

    def levels_at(self, at: pd.Timestamp) -> ExactLevels | None:
        return self.levels_over([at])[0]

    def levels_over(self, times: Sequence[pd.Timestamp]) -> list[ExactLevels | None]:
        """From one read of the store: the times that follow the same last read share one snapshot."""
        from liqheat.store.parquet_store import Store
        from liqheat.venues.hyperliquid.tracker import stored_coverage, stored_reads

        store = Store(self.root)
        until = [t + pd.Timedelta(microseconds=1) for t in times]  # reads at ``at`` itself are known at ``at``
        out: list[ExactLevels | None] = []
        made: dict[pd.Timestamp, ExactLevels | None] = {}
        for (held, as_of), u in zip(stored_reads(store, self.coin, until), until, strict=True):
            if as_of is None:
                out.append(None)
                continue
            if as_of not in made:  # the coverage as of the first time that follows this read
                covered = stored_coverage(store, self.coin, u)
                made[as_of] = self._levels(held, as_of, covered)
            out.append(made[as_of])
        return out

    def _levels(self, held: Sequence[Any], as_of: pd.Timestamp, covered: dict[str, Any] | None) -> ExactLevels | None:
        positions = [p for p in held if p.liquidation_px is not None]
        if not positions:
            return None
        price = np.array([p.liquidation_px for p in positions], dtype=np.float64)
        size = np.array([p.size for p in positions], dtype=np.float64)
        share = None if covered is None else float(covered["coverage"])
        note = (f"Hyperliquid {self.coin} positions read up to {as_of:%Y-%m-%d %H:%M} UTC, each at its own liquidationPx "
                "(cross margin: the account's other positions and prices held as of the read)")  # fmt: skip
        coverage = share if share is not None and math.isfinite(share) else None
        users = len({p.user for p in positions})
        leverage = np.array([p.leverage for p in positions], dtype=np.float64)
        return ExactLevels(self.source, self.coin, as_of.tz_convert("UTC") if as_of.tzinfo else as_of.tz_localize("UTC"),
                           price, size > 0, np.abs(size) * price, users, coverage, note, leverage)  # fmt: skip


def stored_sources(root: Path) -> list[StoredPositions]:
    """A Hyperliquid source per coin the store holds positions of."""
    from liqheat.venues.hyperliquid.tracker import VENUE

    folders = sorted((root / "positions" / f"venue={VENUE}").glob("symbol=*"))
    return [StoredPositions(root, f.name.split("=", 1)[1]) for f in folders if f.is_dir()]
