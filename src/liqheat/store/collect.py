"""Venue data into the store: ``fetch`` (REST backfill of a time range) and ``follow`` (live streams with
reconnect and backfill of what a drop missed).

Both write in chunks and move a stream's cursor only after its rows are on disk, so a run killed at
any point and started again resumes at the cursor: no gap, and the store's merge absorbs the overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from liqheat.model import DomainError
from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.errors import RetryableVenueError
from liqheat.store.parquet_store import Series, Store
from liqheat.timeutil import find_gaps, parse_duration

log = logging.getLogger("liqheat.collect")
Progress = Callable[[str, float], None]
STREAMS = ("candles", "open_interest", "funding")


def candle_stream(timeframe: str) -> str:
    return f"candles-{timeframe}"


def complete_open_interest(oi: pd.DataFrame, candles: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """Fill the unit a venue leaves out (Bybit linear gives coins only) at the last price known at each
    sample: the close of the last candle (of length ``step``) that had closed by then, never one still
    open (whose close lies in the sample's future). Rows with no such candle are dropped with a log line."""
    if oi.empty:
        return oi
    need = oi["oi_usd"].isna() | oi["oi_base"].isna()
    if not need.any():
        return oi
    out = oi.copy()
    if candles.empty:
        closes = pd.Series(math.nan, index=out.index)
    else:
        ref = candles[["ts", "close"]].sort_values("ts")
        ref["ts"] = ref["ts"] + step
        closes = pd.merge_asof(out[["ts"]], ref, on="ts", direction="backward")["close"]
        closes.index = out.index
    out["oi_usd"] = out["oi_usd"].fillna(out["oi_base"] * closes)
    out["oi_base"] = out["oi_base"].fillna(out["oi_usd"] / closes)
    lost = out["oi_usd"].isna()
    if lost.any():
        log.warning("%d open-interest sample(s) have no candle to price them; left out", int(lost.sum()))
    return out[~lost].reset_index(drop=True)


@dataclass
class FetchReport:
    venue: str
    symbol: str
    added: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def _windows(start: pd.Timestamp, stop: pd.Timestamp, width: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    out = []
    while start < stop:
        out.append((start, min(stop, start + width)))
        start = out[-1][1]
    return out


def fetch_history(
    store: Store,
    source: CcxtSource,
    timeframe: str,
    since: pd.Timestamp,
    until: pd.Timestamp,
    *,
    streams: tuple[str, ...] = STREAMS,
    pages_per_chunk: int = 10,
    progress: Progress | None = None,
) -> FetchReport:
    """Backfill [since, until) of candles, open interest and funding; resumes from each stream's cursor.

    Needs the writer lock (taken here). Streams the venue cannot give are skipped and reported.
    """
    unknown = set(streams) - set(STREAMS)
    if unknown:
        raise DomainError(f"unknown stream(s) {', '.join(sorted(unknown))} (known: {', '.join(STREAMS)})")
    if until <= since:
        raise DomainError(f"until ({until}) must be after the start ({since})", param="until")
    step = parse_duration(timeframe, "timeframe")
    venue, symbol = source.venue, source.market.unified
    report = FetchReport(venue, symbol)
    notes: list[str] = []  # what was left out here, beside what the source logged
    with store.writer():
        if "candles" in streams:
            series = Series("candles", venue, symbol, timeframe)
            report.added["candles"] = _backfill(
                store, series, candle_stream(timeframe), since, until, step * source.spec.candle_page * pages_per_chunk,
                lambda a, b: source.fetch_candles(None, timeframe, a, b), "candles", progress,
            )  # fmt: skip
            report.gaps = candle_gaps(store.read(series, since, until), step, since, until)
        if "open_interest" in streams:
            caps = source.capabilities
            if caps.open_interest_history is None:
                report.skipped["open_interest"] = caps.open_interest_now or "no history at this venue"
            else:
                width = parse_duration(source.spec.oi_period, "oi period") * source.spec.oi_page * pages_per_chunk
                oi_floor = since
                if caps.oi_history_days is not None:
                    reach = pd.Timedelta(days=caps.oi_history_days) - pd.Timedelta(minutes=10)
                    oi_floor = max(since, pd.Timestamp.now(tz="UTC") - reach)
                    if oi_floor > since:
                        report.skipped["open_interest"] = f"before {oi_floor:%Y-%m-%d %H:%M}: {caps.open_interest_history}"
                candles = Series("candles", venue, symbol, timeframe)

                def oi_window(a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
                    frame = source.fetch_open_interest(a, b)
                    priced = complete_open_interest(frame, store.read(candles, a - step * 2, b), step)
                    if len(priced) < len(frame):
                        notes.append(
                            f"open interest: {len(frame) - len(priced)} sample(s) in {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} "
                            f"have no {timeframe} candle to price them; left out"
                        )
                    return priced

                report.added["open_interest"] = _backfill(
                    store, Series("open_interest", venue, symbol), "open_interest", oi_floor, until, width, oi_window,
                    "open interest", progress,
                )  # fmt: skip
        if "funding" in streams:
            report.added["funding"] = _backfill(
                store, Series("funding", venue, symbol), "funding", since, until, pd.Timedelta(days=90),
                lambda a, b: source.fetch_funding(a, b), "funding", progress,
            )  # fmt: skip
    report.log = [*source.log, *notes]
    return report


def _backfill(
    store: Store,
    series: Series,
    stream: str,
    since: pd.Timestamp,
    until: pd.Timestamp,
    width: pd.Timedelta,
    fetch: Callable[[pd.Timestamp, pd.Timestamp], pd.DataFrame],
    label: str,
    progress: Progress | None,
) -> int:
    """Fetch window by window from the cursor (if it lies inside the range) and write each before the next.

    Everything between the first stored row and the cursor is complete (the cursor only moves after a
    window is written), so a rerun starts at the cursor; a rerun whose ``since`` reaches back before the
    first stored row fetches that older stretch first, newest window first, so that what is stored stays
    one unbroken stretch even if the run is killed there.
    """
    cursor = store.cursor(series.venue, series.symbol, stream)
    if cursor is not None and since <= cursor < until:
        first = store.first(series)
        older = _windows(since, min(first, cursor), width)[::-1] if first is not None and since < first else []
        windows = [*older, *_windows(cursor, until, width)]
    else:
        windows = _windows(since, until, width)
    added = 0
    for i, (a, b) in enumerate(windows, start=1):
        frame = fetch(a, b)
        if not frame.empty:
            added += store.write(series, frame)
            store.advance(series.venue, series.symbol, stream, frame["ts"].iloc[-1])
        if progress:
            progress(label, i / len(windows))
    return added


def candle_gaps(
    candles: pd.DataFrame, step: pd.Timedelta, since: pd.Timestamp, until: pd.Timestamp
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Missing stretches [a, b) of a candle series inside [since, until) (the venue had no data or a page failed)."""
    return find_gaps(candles["ts"], step, since, until)


# ------------------------------------------------------------------------------------------- follow


@dataclass
class FollowState:
    """What a follower has done: batches written, reconnects, the stretches a stream could not see."""

    batches: dict[str, int] = field(default_factory=dict)
    reconnects: dict[str, int] = field(default_factory=dict)
    missed: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.log.append(message)
        log.warning("%s", message)


class Follower:
    """Follow one market on one venue: closed candles and liquidations over websockets, open interest
    and funding by polling. After a drop it reconnects with backoff, backfills the candles it missed
    over REST, and records the stretch of liquidations no venue can replay (``missed``).

    Every venue's followers share one event loop (``liqheat follow``), so nothing here may block it: REST
    goes through the source's ``*_async`` methods (ccxt.pro's own REST), and waits are ``sleep`` (async).
    The caller holds the store's writer lock for the whole run (one writer process).
    """

    def __init__(
        self,
        store: Store,
        source: CcxtSource,
        timeframe: str = "1m",
        *,
        poll_every: float = 60.0,
        poll_phase: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
        max_backoff: float = 60.0,
        on_write: Callable[[str, pd.DataFrame], None] | None = None,
    ) -> None:
        self.store, self.source, self.timeframe = store, source, timeframe
        self.on_write = on_write  # told the kind (a Series kind) and the rows once on disk (a service wakes on it)
        self.step = parse_duration(timeframe, "timeframe")
        self.poll_every = poll_every
        # seconds added once after the first poll: followers started together then poll at their own moments, not
        # all at once (and not all on the candles' close)
        self.poll_phase = poll_phase
        self.sleep, self.now = sleep, now
        self.max_backoff = max_backoff
        self.state = FollowState()
        self.venue, self.symbol = source.venue, source.market.unified

    @property
    def label(self) -> str:
        return f"{self.venue} {self.symbol}"

    async def backfill_candles(self) -> int:
        """REST candles from the cursor (or one hour back) to now: what a drop or a restart missed."""
        series = Series("candles", self.venue, self.symbol, self.timeframe)
        stream = candle_stream(self.timeframe)
        cursor = self.store.cursor(self.venue, self.symbol, stream)
        now = self.now().floor(self.step)
        start = cursor if cursor is not None else now - pd.Timedelta(hours=1)
        if start >= now:
            return 0
        frame = await self.source.fetch_candles_async(None, self.timeframe, start, now)
        if frame.empty:
            return 0
        added = self.store.write(series, frame)
        self.store.advance(self.venue, self.symbol, stream, frame["ts"].iloc[-1])
        self._told("candles", frame)
        return added

    async def _stream(
        self, name: str, open_stream: Callable[[], AsyncIterator[pd.DataFrame]], on_batch: Callable[[pd.DataFrame], None],
        on_reconnect: Callable[[pd.Timestamp, pd.Timestamp], Awaitable[None]], max_batches: int | None,
    ) -> None:  # fmt: skip
        """Run one stream forever (or for ``max_batches``), reconnecting with backoff after what passes with time."""
        attempt = 0
        dropped_at: pd.Timestamp | None = None
        done = 0
        while max_batches is None or done < max_batches:
            try:
                async for batch in open_stream():
                    if dropped_at is not None:
                        await on_reconnect(dropped_at, self.now())
                        dropped_at = None
                    attempt = 0
                    on_batch(batch)
                    done += 1
                    self.state.batches[name] = self.state.batches.get(name, 0) + 1
                    if max_batches is not None and done >= max_batches:
                        return
                return
            except RetryableVenueError as exc:
                if dropped_at is None:
                    dropped_at = self.now()
                delay = min(self.max_backoff, 0.5 * 2**attempt)
                attempt += 1
                self.state.reconnects[name] = self.state.reconnects.get(name, 0) + 1
                self.state.note(f"{self.label} {name}: {exc}; reconnecting in {delay:g}s")
                await self.sleep(delay)

    def _write_candles(self, frame: pd.DataFrame) -> None:
        series = Series("candles", self.venue, self.symbol, self.timeframe)
        self.store.write(series, frame)
        self.store.advance(self.venue, self.symbol, candle_stream(self.timeframe), frame["ts"].iloc[-1])
        self._told("candles", frame)

    def _write_liquidations(self, frame: pd.DataFrame) -> None:
        self.store.write(Series("liquidations", self.venue, self.symbol), frame)
        self.store.advance(self.venue, self.symbol, "liquidations", frame["ts"].max())
        self._told("liquidations", frame)

    def _told(self, kind: str, rows: pd.DataFrame) -> None:
        if self.on_write is not None:
            self.on_write(kind, rows)

    async def _candles_reconnected(self, since: pd.Timestamp, now: pd.Timestamp) -> None:
        added = await self.backfill_candles()
        self.state.note(f"{self.label} candles: back after a drop at {since:%H:%M:%S}; backfilled {added} candle(s) over REST")

    async def _liquidations_reconnected(self, since: pd.Timestamp, now: pd.Timestamp) -> None:
        """Liquidations pushed while the socket was down are gone (no venue replays them): say so, once."""
        gap = {"venue": self.venue, "symbol": self.symbol, "stream": "liquidations", "from": since, "to": now}
        self.state.missed.append(gap)
        rows = pd.DataFrame({"ts": [since], "until": [now], "stream": ["liquidations"], "reason": ["websocket drop"]})
        self.store.write(Series("gaps", self.venue, self.symbol), rows)
        self._told("gaps", rows)
        self.state.note(f"{self.label} liquidations: nothing seen from {since:%H:%M:%S} to {now:%H:%M:%S} (socket down)")

    async def poll_open_interest(self) -> int:
        if self.source.capabilities.open_interest_history is not None:
            cursor = self.store.cursor(self.venue, self.symbol, "open_interest")
            start = cursor if cursor is not None else self.now() - pd.Timedelta(hours=1)
            frame = await self.source.fetch_open_interest_async(start, self.now())
        else:
            frame = await self.source.fetch_open_interest_now_async(self.now())
        candles = self.store.read(Series("candles", self.venue, self.symbol, self.timeframe), self.now() - pd.Timedelta(hours=2))
        frame = complete_open_interest(frame, candles, self.step)
        if frame.empty:
            return 0
        added = self.store.write(Series("open_interest", self.venue, self.symbol), frame)
        self.store.advance(self.venue, self.symbol, "open_interest", frame["ts"].iloc[-1])
        self._told("open_interest", frame)
        return added

    async def poll_funding(self) -> int:
        cursor = self.store.cursor(self.venue, self.symbol, "funding")
        start = cursor if cursor is not None else self.now() - pd.Timedelta(days=1)
        frame = await self.source.fetch_funding_async(start, self.now() + pd.Timedelta(seconds=1))
        if frame.empty:
            return 0
        added = self.store.write(Series("funding", self.venue, self.symbol), frame)
        self.store.advance(self.venue, self.symbol, "funding", frame["ts"].iloc[-1])
        self._told("funding", frame)
        return added

    async def _poll(self, max_polls: int | None) -> None:
        done = 0
        while max_polls is None or done < max_polls:
            for name, poll in (("open_interest", self.poll_open_interest), ("funding", self.poll_funding)):
                try:
                    await poll()
                except (RetryableVenueError, DomainError) as exc:
                    self.state.note(f"{self.label} {name} poll: {exc}; next poll in {self.poll_every:g}s")
            done += 1
            if max_polls is None or done < max_polls:
                await self.sleep(self.poll_every + (self.poll_phase if done == 1 else 0.0))

    async def run(self, *, max_batches: int | None = None, max_polls: int | None = None) -> FollowState:
        """Backfill candles, then run the streams and the poller until cancelled (or the limits, for tests)."""
        await self.backfill_candles()
        jobs = [
            self._stream("candles", lambda: self.source.watch_candles(self.timeframe), self._write_candles,
                         self._candles_reconnected, max_batches),
            self._poll(max_polls),
        ]  # fmt: skip
        if self.source.capabilities.liquidations_stream is not None:
            jobs.append(
                self._stream("liquidations", self.source.watch_liquidations, self._write_liquidations,
                             self._liquidations_reconnected, max_batches)
            )  # fmt: skip
        tasks = [asyncio.ensure_future(job) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            # one job failing (or the run being cancelled) stops the others: none keeps writing behind the caller
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.source.close()
        return self.state
