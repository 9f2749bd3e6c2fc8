"""``liqheat run``: one process that follows the config's markets into the store, serves them (API and page),
evaluates the alert rules on every map that moved and delivers what fired.

Three threads besides the server's: the followers (one asyncio loop, a task per venue and symbol; the one writer
of the store), and the watch loop, which every ``tick`` seconds picks up what the followers wrote (the markets
grow through the incremental path), evaluates the rules and flushes the outbox. A candle wakes it at once; of the
markets whose candles closed together, it takes first those whose candle came where a rule could fire
(:meth:`Rule.reach <liqheat.alerts.rules.Rule.reach>` on the clusters of their last evaluation). SIGHUP asks the watch loop to
read the config again: markets are added or removed, rules and destinations replaced, without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqheat.alerts.state import AlertStore
from liqheat.analytics.clusters import clusters_of
from liqheat.api.markets import Registry
from liqheat.model import DomainError
from liqheat.service.config import MarketSpec, ServiceConfig, load_config

log = logging.getLogger("liqheat.service")
# what a served market's kept maps may hold: the watch loop asks for the newest map on every candle, and at the
# server's 64 MB each of 50 markets would keep its last hour of maps (3 GB) for a page that rarely asks for them
MAP_BYTES = 8 << 20
# with followers in this process, the watch loop reads only the markets they wrote; every market is looked at this
# often besides (a few stat calls each), in case rows changed otherwise
SWEEP_EVERY = 30.0
# the followers' cursors reach cursors.json at most this often (seconds), not after every write: two syncs fewer
# on each candle, liquidation and poll; a restart re-reads at most this much, and the store merges it away
CURSOR_EVERY = 1.0
# a candle's prices (the venue's quote) against reach ranges (in USD from the last map): widened by this much, for
# the quote's rate to the dollar
QUOTE_SLACK = 0.005
# while candles are being written (markets closing together), a market not within reach waits until none was written
# for this long (seconds), at most SETTLE_MAX after the first: the followers write the burst without the watch loop
# contending for the interpreter (each of their file syncs then waited out a switch interval: 1.8 s for 50 candles,
# 0.3 s alone), and a market within reach is taken as soon as its candle is on disk
SETTLE = 0.025
SETTLE_MAX = 1.0
GOLDEN = (5**0.5 - 1) / 2
Clock = Callable[[], pd.Timestamp]


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def venue_source(spec: MarketSpec) -> Any:
    """The venue's own source (ccxt over the network): what a follower reads unless a test or bench replays one."""
    from liqheat.sources.registry import open_source

    return open_source(spec.venue, spec.market)


@dataclass
class Followers:
    """The followers of the config's markets on one asyncio loop in a thread of its own; each is a task, so one
    market added or removed leaves the others streaming. ``open`` makes a market's source (the venue's, or a
    replay of it); ``now`` is the followers' clock; ``written`` is told the market and the kind of rows a follower
    has just put on disk."""

    store: Any
    poll_every: float = 60.0
    open: Callable[[MarketSpec], Any] = venue_source
    now: Clock = utc_now
    written: Callable[[str, str, pd.DataFrame], None] | None = None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    tasks: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _flusher: Any = None
    _started: int = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run_forever, name="followers", daemon=True)
        self._thread.start()
        if self.store.cursor_every > 0:
            self._flusher = asyncio.run_coroutine_threadsafe(self._flushing(), self.loop)

    async def _flushing(self) -> None:
        """The cursors the followers advanced, written on a timer (the store writes them at most this often)."""
        while True:
            await asyncio.sleep(self.store.cursor_every)
            try:
                self.store.flush_cursors()
            except OSError as exc:  # tried again on the next turn; the cursors on disk stay behind their data
                log.error("cursors not written: %s", exc)

    def follow(self, spec: MarketSpec) -> None:
        from liqheat.store.collect import Follower

        source = self.open(spec)
        self.sources[spec.id] = source
        told = self.written
        on_write = None if told is None else (lambda kind, rows: told(spec.id, kind, rows))
        # each market's polls at its own moment of the period: a low-discrepancy sequence spreads any number evenly
        self._started += 1
        phase = (self._started * GOLDEN) % 1.0 * self.poll_every
        follower = Follower(self.store, source, spec.timeframe, poll_every=self.poll_every, poll_phase=phase, now=self.now,
                            on_write=on_write)  # fmt: skip

        async def run() -> None:
            from liqheat.sources.errors import VenueError

            try:
                await follower.run()
            except VenueError as exc:  # refused for good (a symbol the venue dropped, a key it wants): say so
                self.failed[spec.id] = str(exc)
                log.error("following %s stopped: %s", spec.id, exc, extra={"market": spec.id})

        self.tasks[spec.id] = asyncio.run_coroutine_threadsafe(run(), self.loop)  # type: ignore[assignment]

    def drop(self, market_id: str) -> None:
        task = self.tasks.pop(market_id, None)
        if task is not None:
            task.cancel()
        source = self.sources.pop(market_id, None)
        if source is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(_closed(source), self.loop)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel every follower, let each end (a follower stopped mid-backfill still holds its venue's
        connections), close the venues' sessions, then stop the loop."""
        sources = list(self.sources.values())
        tasks = list(self.tasks.values()) + ([self._flusher] if self._flusher is not None else [])
        self.tasks.clear()
        self._flusher = None
        self.sources.clear()

        async def shutdown() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*(asyncio.wrap_future(t) for t in tasks), return_exceptions=True)
            await asyncio.gather(*(_closed(s) for s in sources))
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # the venues' throttlers
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout)
            except Exception:  # a venue that will not close in time is left to the process's end
                log.warning("followers did not all stop within %g s", timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)

    def all_failed(self) -> bool:
        return bool(self.tasks) and all(m in self.failed for m in self.tasks)


async def _closed(source: Any) -> None:
    try:
        await source.close()
    except Exception as exc:  # closing is best effort: the process is stopping or the market was dropped
        log.debug("closing %s: %s", getattr(source, "venue", source), exc)


class Service:
    """What ``liqheat run`` keeps: the config, the registry of served markets, the alert state and the followers.

    ``sources``, ``clock`` and ``poll_every`` are for replays (tests, bench/service.py): a market's source instead of
    the venue's, the clock the followers and the ``stale`` rule read, the seconds between open-interest polls."""

    def __init__(
        self,
        config: ServiceConfig,
        path: Path | None = None,
        *,
        follow: bool = True,
        tick: float = 1.0,
        sources: Callable[[MarketSpec], Any] = venue_source,
        clock: Clock = utc_now,
        poll_every: float = 60.0,
    ) -> None:
        from liqheat.store.parquet_store import Store

        self.path = path
        self.tick = tick
        self.clock = clock
        self.config = config
        self.store = Store(config.store_path)
        self.store.cursor_every = CURSOR_EVERY
        self.registry = Registry()
        self.registry.store = self.store
        self.alerts = AlertStore(config.state_path)
        self.registry.alerts = self.alerts
        self.registry.alert_rules = config.rules()
        self.monitor = config.monitor(self.alerts)
        self.deliverer = config.deliverer(self.alerts)
        self.followers = Followers(self.store, poll_every, sources, clock, self.written) if follow else None
        self.waiting: dict[str, str] = {}  # markets of the config not served yet (nothing stored), and why
        self.unseen: set[str] = set()  # markets served but not yet evaluated
        self._clusters: dict[str, tuple[Any, list[Any]]] = {}  # per market: the map last evaluated and its clusters
        self._specs: dict[str, MarketSpec] | None = None
        self.stopping = threading.Event()
        self.wake = threading.Event()  # a follower wrote candles: look now rather than at the next tick
        # markets whose candles were written since the last look, in that order: whether the candle came within reach
        self.fresh: dict[str, bool] = {}
        self._reach: dict[str, list[tuple[float, float]] | None] = {}  # per market, from its last evaluation
        self._candle_at = self._burst_from = 0.0  # time.monotonic() of the last candle written, and of the burst's first
        self._near = threading.Event()  # a candle within reach was written
        self.touched: set[str] = set()  # markets with other rows written since the last look
        self._swept = -SWEEP_EVERY  # time.monotonic() of the last look at every market
        self._fresh_lock = threading.Lock()
        self.reload_asked = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: Any = None

    # -- markets ----------------------------------------------------------------------------------------------

    def specs(self) -> dict[str, MarketSpec]:
        """The config's markets by id (resolved once per config, not on every tick)."""
        if self._specs is None:
            self._specs = {s.id: s for s in self.config.market_list()}
        return self._specs

    def sync(self) -> list[str]:
        """Serve every market of the config that has data, drop the ones it no longer lists; the ids added."""
        from liqheat.store.aggregate import Feed

        wanted = self.specs()
        for market_id in [m.id for m in self.registry if m.id not in wanted]:
            self.registry.remove(market_id)
            self._clusters.pop(market_id, None)
            self._reach.pop(market_id, None)
            if self.followers is not None:
                self.followers.drop(market_id)
            log.info("market %s removed", market_id, extra={"market": market_id})
        added = []
        served = {m.id for m in self.registry}
        for market_id, spec in wanted.items():
            if self.followers is not None and market_id not in self.followers.tasks:
                self.followers.follow(spec)
            if market_id in served:
                continue
            try:
                market = self.registry.add_store(self.store, [Feed(spec.venue, spec.market)], spec.timeframe)
            except DomainError as exc:
                if self.waiting.get(market_id) != str(exc):
                    log.info("market %s waits for data: %s", market_id, exc, extra={"market": market_id})
                self.waiting[market_id] = str(exc)
                self.registry.problems[market_id] = f"waiting for data: {exc}"
                continue
            market.map_bytes = MAP_BYTES
            self.waiting.pop(market_id, None)
            self.registry.problems.pop(market_id, None)
            added.append(market_id)
            log.info("serving %s", market_id, extra={"market": market_id})
        return added

    def reload(self) -> None:
        """Read the config again (SIGHUP); a config with errors is reported and the running one kept."""
        if self.path is None:
            return
        try:
            config = load_config(self.path)
        except DomainError as exc:
            log.error("config %s not reloaded: %s", self.path, exc)
            return
        if config.store_path != self.config.store_path:
            log.error("config %s not reloaded: store.path cannot change while running", self.path)
            return
        self.config = config
        self._specs = None
        self.registry.alert_rules = config.rules()
        self.monitor = config.monitor(self.alerts)
        self.deliverer = config.deliverer(self.alerts)
        log.info("config %s reloaded: %d markets, %d rules", self.path, len(self.specs()), len(config.alerts))
        self.sync()

    # -- the watch loop --------------------------------------------------------------------------------------------

    def evaluate(self, market_id: str) -> int:
        """The rules on the market's map after its last candle; the number of alerts that fired."""
        m = self.registry.get(market_id)
        mm = m.map_at(len(m.bundle.candles) - 1)
        kept = self._clusters.get(market_id)
        if kept is None or kept[0] is not mm:  # liquidations alone leave the map after the last candle as it was
            kept = self._clusters[market_id] = (mm, clusters_of(mm, top=None))
        fired = self.monitor.evaluate(market_id, mm, kept[1], m.bundle, self.clock())
        self._reach[market_id] = self.monitor.reach(market_id, kept[1], mm.atr_pct)
        for alert in fired:
            log.info("alert %s: %s", alert.rule, alert.title, extra={"market": market_id, "key": alert.key})
        return len(fired)

    def _evaluated(self, market_id: str) -> int:
        try:
            return self.evaluate(market_id)
        except DomainError as exc:
            log.error("alerts of %s not evaluated: %s", market_id, exc, extra={"market": market_id})
            return 0

    def step(self) -> None:
        """Markets whose candles were just written first, one at a time, each read, evaluated and what it fired
        sent before the next (an alert waits for its own market, not for fifty): those whose candle came within a
        rule's reach in the order they were written, then the others; then every other market that changed: those
        the followers wrote other rows of (liquidations, open interest), and every market once per
        :data:`SWEEP_EVERY` (each tick without followers here: another process writes)."""
        if self.reload_asked.is_set():
            self.reload_asked.clear()
            self.reload()
        fresh: list[str] = []
        while True:  # candles written meanwhile come before the other rows, those within reach before any other
            with self._fresh_lock:
                if not self.fresh:
                    break
                now = time.monotonic()
                market_id = next((m for m, near in self.fresh.items() if near), None)
                settle = min(SETTLE - (now - self._candle_at), SETTLE_MAX - (now - self._burst_from))
                if market_id is None and settle <= 0:
                    market_id = next(iter(self.fresh))
                if market_id is not None:
                    del self.fresh[market_id]
            if market_id is None:  # the followers are still writing: wait for them, or for a candle within reach
                self._near.wait(settle)
                self._near.clear()
                continue
            fresh.append(market_id)
            if self.registry.refresh(only=[market_id]) or market_id in self.unseen:
                self.unseen.discard(market_id)
                if self._evaluated(market_id):
                    self.deliverer.flush(budget=self.tick)
        with self._fresh_lock:
            touched, self.touched = self.touched, set()
        now = time.monotonic()
        if self.followers is None or now - self._swept >= SWEEP_EVERY:
            self._swept = now
            grown = self.registry.refresh()
        else:
            others = touched - set(fresh)
            grown = self.registry.refresh(only=others) if others else []
        moved = set(grown) | set(self.sync()) | self.unseen
        self.unseen = set()
        for market_id in sorted(moved):
            self._evaluated(market_id)
        report = self.deliverer.flush(budget=self.tick)
        for f in report.failed:
            log.warning("delivery of %s to %s failed (attempt %d): %s", f.key, f.destination, f.attempts, f.reason,
                        extra={"destination": f.destination})  # fmt: skip
        if self.followers is not None:
            for market_id, why in self.followers.failed.items():
                self.registry.problems[market_id] = f"venue failure: {why}"

    def written(self, market_id: str, kind: str, rows: pd.DataFrame | None = None) -> None:
        """A follower put ``rows`` on disk (called on the followers' loop): candles wake the watch loop, so an alert
        waits for the evaluation, not for the next tick; other rows are read at the next tick."""
        near = kind == "candles" and self.within_reach(market_id, rows)
        with self._fresh_lock:
            if kind != "candles":
                self.touched.add(market_id)
                return
            now = time.monotonic()
            if not self.fresh:
                self._burst_from = now
            self._candle_at = now
            self.fresh[market_id] = self.fresh.get(market_id, False) or near
        if near:
            self._near.set()
        self.wake.set()

    def within_reach(self, market_id: str, candles: pd.DataFrame | None) -> bool:
        """Whether ``candles`` traded where one of the market's rules could fire, judged on its last evaluation
        (true when it cannot tell: never evaluated, no prices, a rule that cannot say)."""
        ranges = self._reach.get(market_id)
        if ranges is None or candles is None or not {"low", "high"} <= set(candles.columns) or not len(candles):
            return True
        lows, highs = candles["low"].to_numpy(np.float64), candles["high"].to_numpy(np.float64)
        if not (np.isfinite(lows).all() and np.isfinite(highs).all()):
            return True
        low, high = float(lows.min()) * (1 - QUOTE_SLACK), float(highs.max()) * (1 + QUOTE_SLACK)
        return any(lo <= high and low <= hi for lo, hi in ranges)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self.wake.clear()  # candles written from here on bring the next step forward
            try:
                self.step()
            except Exception:  # the service keeps watching; the traceback goes to the log
                log.exception("watch loop step failed")
            self.wake.wait(max(0.0, self.tick - (time.monotonic() - started)))

    def start(self) -> None:
        if self.followers is not None:
            self._writer = self.store.writer()
            self._writer.__enter__()
            self.followers.start()
        self.unseen = set(self.sync())  # served before the loop's first look: evaluated by it
        self._thread = threading.Thread(target=self._loop, name="watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Followers stopped, the watch loop ended, the outbox flushed once more, the store's writer released."""
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.followers is not None:
            self.followers.stop()
        report = self.deliverer.flush(budget=10.0)
        if report.waiting:
            log.warning("%d deliveries still waiting: the next run sends them", report.waiting)
        if self._writer is not None:
            self._writer.__exit__(None, None, None)
            self._writer = None
