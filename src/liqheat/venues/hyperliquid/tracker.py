"""Hyperliquid positions read by priority and kept in the store over time.

The store holds, per coin (``positions/venue=hyperliquid/symbol=<coin>``), one row each time a position is seen
to open, change or close (size, entry, margin mode or leverage changed, or its liquidation price moved by more
than ``tolerance``): a read that finds nothing new adds nothing, so a month stays small while every change is
kept. The positions at any time are each account's last row before it with a size. A closed position is a row
of size 0. ``coverage/venue=hyperliquid/symbol=<coin>`` holds, at each market read, the open interest and the
discovered notional beside it.

Rows wait in memory and are merged into the store by :meth:`Recorder.flush` (the store's one writer, atomic
month files, merged on (ts, user, coin): a flush repeated after a crash adds nothing twice). A restarted tracker
first reads each account's last stored row, so it neither repeats nor loses a change.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liqheat.model import DomainError
from liqheat.store.parquet_store import REPAIR, Series, Store
from liqheat.timeutil import epoch_micros
from liqheat.venues.hyperliquid.info import Clock, InfoClient, Unavailable
from liqheat.venues.hyperliquid.scheduler import Freshness, Refresher
from liqheat.venues.hyperliquid.state import AccountState, AssetContext, Position

VENUE = "hyperliquid"
COLUMNS = ("ts", "user", "coin", "size", "entry_px", "position_value", "liquidation_px", "margin_mode", "leverage",
           "margin_used", "account_value")  # fmt: skip
log = logging.getLogger("liqheat.hyperliquid")


def _row_key(p: Position) -> tuple[float, float, str, float]:
    return p.size, p.entry_px, p.margin_mode, p.leverage


@dataclass
class Recorder:
    """What the store does not know yet: changed positions and coverage rows, by coin."""

    coins: frozenset[str] | None = None
    tolerance: float = 1e-3
    last: dict[tuple[str, str], tuple[tuple[float, float, str, float], float]] = field(default_factory=dict)
    held: dict[tuple[str, str], float] = field(default_factory=dict)
    open: dict[str, set[str]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    coverage_rows: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wanted(self, coin: str) -> bool:
        return self.coins is None or coin in self.coins

    def prime(self, store: Store, coins: Iterable[str]) -> int:
        """Start from the store's last row of every (account, coin); returns how many open positions it holds."""
        for coin in coins:
            frame = _read(store, coin, None)
            if frame.empty:
                continue
            last = _columns(frame.groupby("user", sort=False).tail(1))
            for user, size, entry, mode, leverage, liq in zip(last["user"], last["size"], last["entry_px"], last["margin_mode"],
                                                              last["leverage"], last["liquidation_px"], strict=True):  # fmt: skip
                self.last[(user, coin)] = ((size, entry, mode, leverage), liq)
                if size:
                    self.held[(user, coin)] = size
                    self.open.setdefault(user, set()).add(coin)
        return len(self.held)

    def record(self, state: AccountState, ts: pd.Timestamp) -> int:
        """Keep the rows of ``state`` that differ from what was last recorded; returns how many."""
        added = 0
        seen = set()
        with self._lock:
            for p in state.positions:
                if not self.wanted(p.coin):
                    continue
                seen.add(p.coin)
                liq = math.nan if p.liquidation_px is None else p.liquidation_px
                before = self.last.get((p.user, p.coin))
                self.held[(p.user, p.coin)] = p.size
                if before is not None and before[0] == _row_key(p) and _close(before[1], liq, self.tolerance):
                    continue
                self.last[(p.user, p.coin)] = (_row_key(p), liq)
                self.rows.append({"ts": ts, "user": p.user, "coin": p.coin, "size": p.size, "entry_px": p.entry_px,
                                  "position_value": p.position_value, "liquidation_px": liq, "margin_mode": p.margin_mode,
                                  "leverage": p.leverage, "margin_used": p.margin_used,
                                  "account_value": state.account_value})  # fmt: skip
                added += 1
            for coin in sorted(self.open.get(state.user, set()) - seen):
                key = self.last[(state.user, coin)][0]
                self.last[(state.user, coin)] = ((0.0, math.nan, key[2], key[3]), math.nan)
                self.held.pop((state.user, coin), None)
                self.rows.append({"ts": ts, "user": state.user, "coin": coin, "size": 0.0, "entry_px": math.nan,
                                  "position_value": 0.0, "liquidation_px": math.nan, "margin_mode": key[2],
                                  "leverage": key[3], "margin_used": 0.0, "account_value": state.account_value})  # fmt: skip
                added += 1
            self.open[state.user] = seen
        return added

    def coverage(self, ctxs: dict[str, AssetContext], ts: pd.Timestamp, addresses: int) -> list[dict[str, Any]]:
        """One coverage row per followed coin the market read lists: open interest beside the discovered notional."""
        rows = []
        with self._lock:
            by_coin: dict[str, list[float]] = {}
            for (_, coin), size in self.held.items():
                by_coin.setdefault(coin, []).append(size)
            for coin, ctx in sorted(ctxs.items()):
                if not self.wanted(coin) or (self.coins is None and coin not in by_coin):
                    continue
                sizes = np.array(by_coin.get(coin, []), dtype=np.float64)
                long_usd = float(sizes[sizes > 0].sum() * ctx.mark_px)
                short_usd = float(-sizes[sizes < 0].sum() * ctx.mark_px)
                oi_usd = ctx.open_interest_usd
                covered = (long_usd + short_usd) / 2
                rows.append({"ts": ts, "coin": coin, "mark_px": ctx.mark_px, "open_interest": ctx.open_interest,
                             "open_interest_usd": oi_usd, "long_usd": long_usd, "short_usd": short_usd,
                             "covered_usd": covered, "coverage": covered / oi_usd if oi_usd else math.nan,
                             "positions": len(sizes), "addresses": addresses})  # fmt: skip
            self.coverage_rows.extend(rows)
        return rows

    def flush(self, store: Store) -> int:
        """Merge the waiting rows into ``store`` (its writer lock held by the caller); returns rows newly stored.
        A write that fails (a full disk) puts every row back to wait for the next flush; what part of them it had
        stored already is merged again, adding nothing twice."""
        with self._lock:
            rows, self.rows = self.rows, []
            coverage, self.coverage_rows = self.coverage_rows, []
        added = 0
        try:
            for kind, batch in (("positions", rows), ("coverage", coverage)):
                if not batch:
                    continue
                frame = pd.DataFrame(batch)
                frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[us, UTC]")
                for coin, part in frame.groupby("coin", sort=True):
                    added += store.write(Series(kind, VENUE, str(coin)), part.reset_index(drop=True))
        except BaseException:
            with self._lock:
                self.rows[:0] = rows
                self.coverage_rows[:0] = coverage
            raise
        return added


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def stored_positions(store: Store, coin: str, at: pd.Timestamp | None = None) -> list[Position]:
    """The open positions of ``coin`` the store knows as of ``at`` (default: its latest rows)."""
    return stored_read(store, coin, at)[0]


def stored_read(store: Store, coin: str, at: pd.Timestamp | None = None) -> tuple[list[Position], pd.Timestamp | None]:
    """:func:`stored_positions` and the time of the last row before ``at`` (the last read that changed anything),
    from one read of the store."""
    return _held(_read(store, coin, at), coin)


def stored_reads(store: Store, coin: str, times: Sequence[pd.Timestamp]) -> list[tuple[list[Position], pd.Timestamp | None]]:
    """:func:`stored_read` before each of ``times`` (ascending), from one read of the store; the times that follow
    the same last row share one answer."""
    if not times:
        return []
    frame = _read(store, coin, times[-1])
    stamps = epoch_micros(frame["ts"]) if not frame.empty else np.array([], dtype=np.int64)
    out: list[tuple[list[Position], pd.Timestamp | None]] = []
    kept: dict[int, tuple[list[Position], pd.Timestamp | None]] = {}
    for t in times:
        n = int(np.searchsorted(stamps, pd.Timestamp(t).value // 1000, side="left"))  # a naive time is UTC
        if n not in kept:
            kept[n] = _held(frame.iloc[:n], coin)
        out.append(kept[n])
    return out


def _held(frame: pd.DataFrame, coin: str) -> tuple[list[Position], pd.Timestamp | None]:
    """Each account's last row of ``frame`` (its rows up to some time) as its position, and the last row's time."""
    if frame.empty:
        return [], None
    c = _columns(frame.groupby("user", sort=True).tail(1))
    return [Position(user, coin, size, entry, value, None if math.isnan(liq) else liq, mode, leverage, used, 0.0)
            for user, size, entry, value, liq, mode, leverage, used in zip(
                c["user"], c["size"], c["entry_px"], c["position_value"], c["liquidation_px"], c["margin_mode"],
                c["leverage"], c["margin_used"], strict=True) if size != 0], pd.Timestamp(frame["ts"].max())  # fmt: skip


def _read(store: Store, coin: str, at: pd.Timestamp | None) -> pd.DataFrame:
    frame = store.read(Series("positions", VENUE, coin), until=at)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if not frame.empty and missing:
        raise DomainError(f"store {store.root}: positions of {coin} lack column(s) {', '.join(missing)}; {REPAIR}")
    return frame


def _columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The stored columns as Python values: text as str, numbers as float."""
    text = ("user", "coin", "margin_mode")
    return {c: [str(v) for v in frame[c]] if c in text else [float(v) for v in frame[c].to_numpy(dtype=np.float64)]
            for c in COLUMNS if c != "ts"}  # fmt: skip


def stored_coverage(store: Store, coin: str, at: pd.Timestamp | None = None) -> dict[str, Any] | None:
    """The last coverage row of ``coin`` as of ``at``, or None."""
    frame = store.read(Series("coverage", VENUE, coin), until=at)
    if frame.empty:
        return None
    return {str(k): v for k, v in frame.iloc[-1].items()}


@dataclass
class Tally:
    reads: int = 0
    failed: int = 0
    rows: int = 0
    stored: int = 0


class Tracker:
    """Reads accounts in the :class:`Refresher`'s order through an :class:`InfoClient` and records what changed;
    the market (mark, open interest) is read every ``meta_every`` seconds."""

    def __init__(self, client: InfoClient, refresher: Refresher, recorder: Recorder, *, meta_every: float = 60.0,
                 start: pd.Timestamp | None = None) -> None:  # fmt: skip
        self.client = client
        self.refresher = refresher
        self.recorder = recorder
        self.clock: Clock = client.budget.clock
        self.meta_every = meta_every
        self.origin = (start or pd.Timestamp.now(tz="UTC")) - pd.Timedelta(seconds=self.clock.now())
        self.markets: dict[str, AssetContext] = {}
        self.coverage: list[dict[str, Any]] = []
        self.meta_at = -math.inf
        self.tally = Tally()
        self.error: DomainError | None = None
        self._lock = threading.Lock()

    def ts(self) -> pd.Timestamp:
        return self.origin + pd.Timedelta(seconds=self.clock.now())

    def freshness(self) -> Freshness:
        with self._lock:
            return self.refresher.freshness(self.clock.now())

    def add(self, users: Iterable[str]) -> int:
        """Addresses found (by a stream thread too); returns how many were new."""
        now = self.clock.now()
        with self._lock:
            return sum(self.refresher.add(u, now) for u in users)

    def read_market(self) -> list[dict[str, Any]]:
        with self._lock:
            self.meta_at = self.clock.now()
        self.markets = self.client.meta_and_asset_ctxs()
        with self._lock:
            known = len(self.refresher)
        self.coverage = self.recorder.coverage(self.markets, self.ts(), known)
        return self.coverage

    def _market_due(self) -> bool:
        """Whether the market read is due, claiming it (another reader goes on with accounts)."""
        with self._lock:
            due = self.clock.now() - self.meta_at >= self.meta_every
            if due:
                self.meta_at = self.clock.now()
        return due

    def step(self) -> str | None:
        """Read the next account (and the market when due); None when no address is known."""
        if self._market_due():
            self.read_market()
        with self._lock:
            user = self.refresher.next(self.clock.now())
        if user is not None:
            self.read(user)
        return user

    def follow(self, stop: threading.Event, workers: int = 1) -> list[threading.Thread]:
        """Start ``workers`` threads reading in priority order until ``stop`` is set. An endpoint down past every
        retry is tried again a minute later; one that refuses (4xx) stops them all, its error in :attr:`error`."""
        if not 1 <= workers <= 64:
            raise DomainError(f"workers must be 1 … 64, got {workers}", param="workers")

        def work() -> None:
            while not stop.is_set():
                try:
                    if self.step() is None:
                        stop.wait(1.0)
                except Unavailable as exc:
                    log.warning("%s; trying again in a minute", exc)
                    stop.wait(60.0)
                except DomainError as exc:
                    self.error = exc
                    stop.set()

        threads = [threading.Thread(target=work, name=f"hyperliquid-reader-{i}", daemon=True) for i in range(workers)]
        for thread in threads:
            thread.start()
        return threads

    def read(self, user: str) -> AccountState | None:
        """Read one account and record it; an account whose answer is malformed is logged, counted and skipped
        (None), an endpoint that keeps failing raises."""
        try:
            state = self.client.clearinghouse_state(user)
        except DomainError as exc:
            with self._lock:
                self.refresher.done(user, self.clock.now(), self.refresher.notional.get(user, 0.0))
            if exc.param == "info_url":
                raise
            log.warning("hyperliquid %s: skipped (%s)", user, exc)
            with self._lock:
                self.tally.failed += 1
            return None
        rows = self.recorder.record(state, self.ts())
        with self._lock:
            self.tally.reads += 1
            self.tally.rows += rows
            self.refresher.done(user, self.clock.now(), state.notional(self.recorder.coins))
        return state

    def sweep(self, workers: int = 1) -> int:
        """Read the market, every known address not read yet (by ``workers`` threads), then the market again (a
        snapshot whose coverage is as of its end); returns how many accounts were read."""
        if not 1 <= workers <= 64:
            raise DomainError(f"workers must be 1 … 64, got {workers}", param="workers")
        self.read_market()
        with self._lock:
            pending = iter([u for u in self.refresher.found_at if u not in self.refresher.read_at])
            before = self.tally.reads + self.tally.failed
        errors: list[BaseException] = []

        def work() -> None:
            try:
                while not errors:
                    with self._lock:
                        user = next(pending, None)
                    if user is None:
                        return
                    if self._market_due():
                        self.read_market()
                    self.read(user)
            except BaseException as exc:
                errors.append(exc)

        if workers == 1:
            work()
        else:
            threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        self.read_market()
        with self._lock:
            return self.tally.reads + self.tally.failed - before
