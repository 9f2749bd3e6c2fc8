"""The markets a server knows, and what it has already computed for them.

A market is a validated bundle with an id. Replays are cached per market and parameter set, so a
page that pans and zooms does not replay the market on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
import pandas as pd

from liqheat.analytics.exact import ExactLayer, ExactSource, exact_layer
from liqheat.analytics.maps import HISTORY_POINTS, MarketMap, history_stride, market_map
from liqheat.api.encode import num, seconds
from liqheat.bundle import Bundle, BundleMeta, Columns, read_bundle
from liqheat.engine.bounds import tables_of
from liqheat.engine.frames import MARGIN, Followed, HeatmapFrame, framed, heatmap_frame, heatmap_layout, layout_edges
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.engine.timeline import Timeline
from liqheat.evaluation.score import ScoreReport, SideScore, score
from liqheat.model import DomainError
from liqheat.timeutil import iso

_SLUG = re.compile(r"[^a-z0-9]+")
T = TypeVar("T")
LIVE_SCORE_EVERY = 60.0  # seconds a live market's score is kept across candles (Market.score_every)
EARLIER = 3  # versions (of as many candle counts) kept to carry on from when data about the last candles comes late
KEPT_MAPS = HISTORY_POINTS + 8  # float64 maps a timeline keeps to date clusters: those of the last candle's map
FOLLOWED = 4  # heatmaps ending at the last candle a market keeps following


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "market"


_META = ("symbol", "contract", "quote", "timeframe", "venues", "funding_interval")
_FIRST = ("liquidations_interval", "score_from")  # unset until a store market's first liquidation: then set, not edited


def extends(old: Bundle, new: Bundle) -> bool:
    """Whether ``new`` is ``old`` with rows appended: the same market, the same candles, and the same open
    interest and funding up to the close of ``old``'s last candle (all that ``old``'s view reads), more after. A
    bundle that had no liquidations may gain them (and the scoring start they bring)."""
    return _extends(old.meta, tables_of(old), new.meta, tables_of(new))


def _extends(meta0: BundleMeta, old: dict[str, Columns], meta1: BundleMeta, new: dict[str, Columns]) -> bool:
    """:func:`extends` on the bundles' tables (:func:`~liqheat.engine.bounds.tables_of`).

    Cheap: a column that ``new`` shares in memory with ``old`` (a feed that publishes a prefix of a longer
    table) is the same; another is compared bit for bit.
    """
    if any(getattr(meta0, k) != getattr(meta1, k) for k in _META):
        return False
    if any(getattr(meta0, k) is not None and getattr(meta0, k) != getattr(meta1, k) for k in _FIRST):
        return False
    c0, c1 = old["candles"], new["candles"]
    n = len(c0.ts)
    if not n or len(c1.ts) < n or set(c0.values) != set(c1.values):
        return False
    if not (_same(c0.ts, c1.ts, n) and all(_same(c0.values[k], c1.values[k], n) for k in c0.values)):
        return False
    cutoff = int(c0.ts[-1]) + meta0.timeframe_delta.value // 1000
    for name in ("open_interest", "funding"):
        a, b = old.get(name), new.get(name)
        if a is None or b is None or not len(a.ts) or not len(b.ts):
            if (a is None or not len(a.ts)) != (b is None or not len(b.ts)):
                return False
            continue
        # the rows before the close as they were, and the sample the close reads (the last at or before it) the same:
        # a store's aggregate adds a row at the new candle's open, which is the old close, carrying the last sample on
        k = int(np.searchsorted(a.ts, cutoff, side="left"))
        if k != int(np.searchsorted(b.ts, cutoff, side="left")) or set(a.values) != set(b.values):
            return False
        if not (_same(a.ts, b.ts, k) and all(_same(a.values[c], b.values[c], k) for c in a.values)):
            return False
        i, j = int(np.searchsorted(a.ts, cutoff, side="right")) - 1, int(np.searchsorted(b.ts, cutoff, side="right")) - 1
        if (i < 0) != (j < 0) or (i >= 0 and not all(_same(a.values[c][i:], b.values[c][j:], 1) for c in a.values)):
            return False
    return True


def _same(a: np.ndarray, b: np.ndarray, n: int) -> bool:
    """The first ``n`` values of two columns hold the same bits."""
    x, y = a[:n], b[:n]
    if x.dtype != y.dtype or len(x) != n or len(y) != n:
        return False
    if x.__array_interface__["data"][0] == y.__array_interface__["data"][0] and x.strides == y.strides:
        return True
    return bool(np.array_equal(x.view(np.uint8), y.view(np.uint8)))


class Changes:
    """Wakes the event streams when a market's version moves, so a page hears of a candle at once rather than at
    a stream's next look; each stream waits on an asyncio event of its own loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.add(waiter)
        return waiter

    def unsubscribe(self, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiting.discard(waiter)

    def notify(self) -> None:
        with self._lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            with contextlib.suppress(RuntimeError):  # a loop already closed: its stream is gone
                loop.call_soon_threadsafe(event.set)


class Served(NamedTuple):
    bundle: Bundle
    view: MarketView
    timeline: Timeline
    generation: int  # moves when the history changed, not when it grew
    version: int


@dataclass
class Market:
    id: str
    bundle: Bundle
    params: ModelParams = field(default_factory=ModelParams)
    kind: str = "bundle"
    version: int = 0
    venue_oi: pd.DataFrame | None = None  # ts + USD open interest per venue label, for store-backed markets
    exact: list[ExactSource] = field(default_factory=list)  # on-chain positions' levels on this market's symbol
    changes: Changes | None = None  # the registry's: told when the version moves
    map_bytes: int = 64 << 20  # what the kept maps may hold (a map with its history is ~1 MB)
    frame_bytes: int = 256 << 20  # what the kept heatmaps may hold (a 2,000 × 1,000 one is 32 MB and its candles)
    answer_bytes: int = 128 << 20  # what the kept encoded heatmap answers may hold
    # a market growing by the minute keeps its score (months of realized liquidations) this many seconds
    # across new candles, instead of scoring the whole history again on every one; 0: always exact
    score_every: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _view: MarketView | None = field(default=None, repr=False)
    _tables: dict[str, Columns] | None = field(default=None, repr=False)  # the bundle's, as the last grow read them
    _timeline: Timeline | None = field(default=None, repr=False)
    _generation: int = field(default=0, repr=False)  # moves when the history changed, not when it grew
    _derived: dict[str, tuple[int, Any]] = field(default_factory=dict, repr=False)  # per version: predictions, score
    _maps: dict[tuple[int, int, bool], tuple[MarketMap, int]] = field(default_factory=dict, repr=False)
    _frames: dict[tuple[Any, ...], tuple[HeatmapFrame, int]] = field(default_factory=dict, repr=False)
    _answers: dict[tuple[Any, ...], tuple[bytes, int]] = field(default_factory=dict, repr=False)
    _kept_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _followed: dict[tuple[Any, ...], Followed] = field(default_factory=dict, repr=False)
    _follow_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # the versions before this one (oldest first), each as (meta, tables, view, timeline): what a revision carries on from
    _earlier: list[tuple[BundleMeta, dict[str, Columns], MarketView, Timeline | None]] = field(default_factory=list, repr=False)

    def grow(self, bundle: Bundle) -> None:
        """Replace the data with a longer version of it: the version moves, pages refresh.

        When ``bundle`` is this one with candles appended (:func:`extends`), the market is carried on: the new
        candles are replayed from the state after the last one (:meth:`Timeline.extend`), the maps kept stay
        (a map after a candle never changes when later ones arrive) and a followed heatmap gains its new
        columns only. When it extends one of the :data:`EARLIER` versions before (a store's open interest sampled
        at a candle's close often arrives after that candle: the last candles read it anew), the market is carried
        on from that version, its later maps dropped. Otherwise (history edited, or new rows out of bounds)
        everything is built again, lazily.
        """
        tables = tables_of(bundle)
        with self._lock:
            before = self._tables if self._tables is not None else tables_of(self.bundle)
            revised = False
            carried = None
            if _extends(self.bundle.meta, before, bundle.meta, tables):
                carried = self._carried(bundle, tables, self._view, self._timeline)
                if self._view is not None and carried is not None:
                    entry = (self.bundle.meta, before, self._view, self._timeline)
                    if self._earlier and len(self._earlier[-1][2]) == len(self._view):
                        self._earlier[-1] = entry  # grown by liquidations only: one version per candle count
                    else:
                        self._earlier = [*self._earlier, entry][-EARLIER:]
            else:
                for i in range(len(self._earlier) - 1, -1, -1):
                    meta, old, view, timeline = self._earlier[i]
                    if _extends(meta, old, bundle.meta, tables):
                        carried = self._carried(bundle, tables, view, timeline, revised=True)
                        revised = carried is not None
                        self._earlier = self._earlier[: i + 1] if revised else []
                        break
            if carried is None:
                self._earlier = []
            if any(getattr(self.bundle.meta, k) != getattr(bundle.meta, k) for k in _FIRST):
                self.__dict__.pop("_score_kept", None)  # the first liquidations: a score now, not in score_every
            self._tables = tables
            if carried is None or revised:
                self._generation += 1
            self._view, self._timeline = (None, None) if carried is None else carried
            self.bundle = bundle
            self.version += 1
            self._derived.clear()
        if self.changes is not None:
            self.changes.notify()
        with self._kept_lock:
            if carried is None or revised:
                self._maps.clear()
            self._frames.clear()
            self._answers.clear()
        if carried is None or revised:
            with self._follow_lock:
                self._followed.clear()

    def _carried(
        self,
        bundle: Bundle,
        tables: dict[str, Columns],
        view: MarketView | None,
        timeline: Timeline | None,
        *,
        revised: bool = False,
    ) -> tuple[MarketView | None, Timeline | None] | None:
        """``view`` and ``timeline`` (this market's, or of a version before with ``revised``) carried on over
        ``bundle`` (which extends theirs; ``tables``: its tables); None when the new rows do not pass the view's
        checks (the full rebuild then reports them)."""
        if view is None:
            return None, None
        try:
            step = int(bundle.meta.timeframe_delta.value // 1000)
            tail = MarketView.from_tables(tables, step, bundle.meta.symbol, start=len(view), folder=bundle.path)
            grown = view.extended(tail)
            return grown, None if timeline is None else timeline.extend(grown, branch=revised)
        except DomainError:
            return None

    @property
    def view(self) -> MarketView:
        return self._served().view

    @property
    def timeline(self) -> Timeline:
        """The replay kept for maps and heatmaps (checkpoints, snapshots, the maps that date clusters): built
        once, then carried on as the market grows."""
        return self._served().timeline

    def _served(self) -> Served:
        """What the market serves now, as one (a grow between reading the bundle and reading the timeline would
        pair one version's bundle with another's timeline)."""
        with self._lock:
            if self._view is None:
                self._view = MarketView.from_bundle(self.bundle)
            if self._timeline is None:
                self._timeline = self._built(self._view)
            return Served(self.bundle, self._view, self._timeline, self._generation, self.version)

    def _built(self, view: MarketView) -> Timeline:
        """The timeline of ``view`` replayed from the start (call with the lock held). Built as the one of all its
        candles but the last, carried on by that one: the same numbers, and a version to carry on from when the
        open interest sampled at the last close arrives late (a market just served, with no version before it,
        was otherwise built again from the start: each of a service's markets once, all at its first minute)."""
        step = self.bundle.meta.timeframe_delta
        settings: dict[str, Any] = {"keep_every": history_stride(step), "keep_maps": KEPT_MAPS}
        grows = self.kind == "store" or self._tables is not None  # a store market, or one that grew before
        if not grows or self._earlier or len(view) < 2:
            return Timeline(view, self.params, **settings)
        n = len(view) - 1
        before = Timeline(view.head(n), self.params, **settings)
        tables = self._tables if self._tables is not None else tables_of(self.bundle)
        c = tables["candles"]
        shorter = {**tables, "candles": Columns(c.ts[:n], {k: v[:n] for k, v in c.values.items()})}
        self._earlier = [(self.bundle.meta, shorter, view.head(n), before)]
        return before.extend(view)

    @property
    def predictions(self) -> pd.DataFrame:
        """Per-candle predicted liquidations, read from the timeline's replay (:func:`liqheat.evaluation.fit.predict`'s)."""
        return self._predictions(self._served())

    def _predictions(self, now: Served) -> pd.DataFrame:
        def build() -> pd.DataFrame:
            p = now.timeline.predictions
            return pd.DataFrame({"ts": now.bundle.candles["ts"], "long_usd": p[:, 0] + p[:, 2], "short_usd": p[:, 1] + p[:, 3]})

        return self._of_version("predictions", now, build)

    @property
    def score(self) -> ScoreReport | None:
        now = self._served()

        def build() -> ScoreReport | None:
            liq = now.bundle.liquidations
            if liq is None or liq.empty or now.bundle.meta.score_from is None:
                return None
            try:
                return score(now.bundle, self._predictions(now), params=self.params.to_dict())
            except DomainError:
                return None

        kept = self.__dict__.get("_score_kept")
        if kept is not None and kept[0] == now.generation and time.monotonic() - kept[1] < self.score_every:
            report: ScoreReport | None = kept[2]
            return report
        report = self._of_version("score", now, build)
        self.__dict__["_score_kept"] = (now.generation, time.monotonic(), report)
        return report

    def _of_version(self, name: str, now: Served, build: Callable[[], T]) -> T:
        """``build()`` for the version ``now`` serves, kept until the market grows (and not kept when it grew
        meanwhile: a value of the last version must not outlive it)."""
        with self._lock:
            found = self._derived.get(name)
        if found is not None and found[0] == now.version:
            return cast(T, found[1])
        value = build()
        with self._lock:
            if self.version == now.version:
                self._derived[name] = (now.version, value)
        return value

    def map_at(self, index: int, *, ages: bool = True) -> MarketMap:
        """The map after candle ``index``: every route that shows or reads a map at a candle asks here.

        Read from the market's timeline (from a kept state or map, or replayed from its last checkpoint before,
        never from the start), with the past maps that date the clusters unless ``ages`` is off (``/map`` needs
        none). The last asked are kept, up to :attr:`map_bytes`, while the market grows: a map never changes
        when candles are appended.
        """
        now = self._served()
        points = HISTORY_POINTS if ages else 0
        return _kept(
            self._maps,
            (now.generation, index, ages),
            lambda: market_map(now.bundle, self.params, index=index, history_points=points, timeline=now.timeline),
            self.map_bytes,
            self._kept_lock,
            keep=lambda: self._generation == now.generation,
        )

    def heatmap(
        self, window: pd.Timedelta, end: pd.Timestamp | None, bins: int, columns: int, band: tuple[float, float] | None
    ) -> HeatmapFrame:
        """The heatmap of ``window`` ending at ``end``, read from the timeline. The last asked are kept, up
        to :attr:`frame_bytes`: the page asks again on every change of side, range or resolution. One that
        ends at the last candle is followed: when the market grows, only its new columns are computed."""
        now = self._served()
        seconds = f"{int(window.total_seconds())}s"

        def build() -> HeatmapFrame:
            if end is None:
                return self._follow(now, seconds, bins, columns, band)
            return heatmap_frame(now.bundle, self.params, window=seconds, end=end, max_bins=bins, max_columns=columns,
                                 leverage_band=band, timeline=now.timeline)  # fmt: skip

        return _kept(self._frames, (now.version, window, end, bins, columns, band), build, self.frame_bytes, self._kept_lock,
                     keep=lambda: self.version == now.version)  # fmt: skip

    def exact_layers(
        self, window: pd.Timedelta, end: pd.Timestamp | None, bins: int, columns: int, band: tuple[float, float] | None
    ) -> tuple[pd.DatetimeIndex, np.ndarray, list[ExactLayer]]:
        """Each exact source's levels on the columns and rows of :meth:`heatmap` asked alike (their times, their
        price edges): the layout only, not the heatmap's values, so the page asks for both at once."""
        now = self._served()
        timeline = now.timeline
        layout = heatmap_layout(now.bundle, window=f"{int(window.total_seconds())}s", end=end, max_bins=bins,
                                max_columns=columns, margin=MARGIN, leverage_band=band, grid=timeline.grid,
                                leverages=timeline.leverages, timeline=timeline)  # fmt: skip
        edges = layout_edges(layout)
        view = now.view
        layers = [exact_layer(source, view.ts, view.low, view.high, layout.columns, edges) for source in self.exact]
        return pd.DatetimeIndex(now.bundle.candles["ts"].iloc[layout.columns]), edges, layers

    def _follow(self, now: Served, window: str, bins: int, columns: int, band: tuple[float, float] | None) -> HeatmapFrame:
        """The heatmap of ``window`` ending at the last candle, from the columns it shares with the one before."""
        timeline = now.timeline
        layout = heatmap_layout(now.bundle, window=window, end=None, max_bins=bins, max_columns=columns, margin=MARGIN,
                                leverage_band=band, grid=timeline.grid, leverages=timeline.leverages,
                                timeline=timeline)  # fmt: skip
        key = (window, bins, columns, band)
        with self._follow_lock:
            followed = self._followed.get(key)
            if followed is not None and followed.layout.i1 > layout.i1:  # a request older than the last followed
                followed = Followed.start(timeline, layout, now.generation)
            else:
                self._followed.pop(key, None)
                if followed is None or not followed.carries(layout, now.generation):
                    followed = Followed.start(timeline, layout, now.generation)
                else:
                    followed.advance(timeline, layout)
                if followed.nbytes <= self.frame_bytes:
                    self._followed[key] = followed
                    while len(self._followed) > FOLLOWED:
                        self._followed.pop(next(iter(self._followed)))
            long, short = followed.frame(layout)
        return framed(now.bundle, self.params, layout, long, short)

    def answer(self, key: tuple[Any, ...], build: Callable[[], bytes], version: int) -> bytes:
        """An encoded heatmap answer (``key`` names the frame and the encoding) of a frame asked at ``version``
        (read before asking for the frame: the frame is of it or later), kept up to :attr:`answer_bytes`: 200
        clients asking for the same year are answered from memory. Kept only while ``version`` is the market's:
        one built as the market grows could be of a later frame than its key says."""
        return _kept(self._answers, (version, *key), build, self.answer_bytes, self._kept_lock,
                     keep=lambda: self.version == version)  # fmt: skip

    def kept(self) -> dict[str, tuple[int, int]]:
        """What the caches hold: per cache, how many values and how many bytes."""
        with self._kept_lock:
            weights = {name: [w for _, w in c.values()] for name, c in
                       (("maps", self._maps), ("frames", self._frames), ("answers", self._answers))}  # fmt: skip
            return {name: (len(w), sum(w)) for name, w in weights.items()}

    def describe(self) -> dict[str, Any]:
        meta = self.bundle.meta
        c = self.bundle.candles
        liq = self.bundle.liquidations
        report = self.score
        return {
            "id": self.id,
            "kind": self.kind,
            "symbol": meta.symbol,
            "quote": meta.quote,
            "contract": meta.contract.value,
            "venues": list(meta.venues),
            "timeframe": meta.timeframe,
            "first": iso(c["ts"].iloc[0]),
            "last": iso(c["ts"].iloc[-1]),
            "candles": len(c),
            "has_liquidations": liq is not None and not liq.empty,
            "source": meta.source,
            "version": self.version,
            "score": None if report is None else {s.side: _side_score(s) for s in report.sides},
            "venue_status": meta.extra.get("venue_status", []),
            "exact": [source.source for source in self.exact],
        }

    def venue_shares(self, points: int = 400) -> dict[str, Any]:
        """Each venue's share of open interest over time (at most ``points`` samples), for the page's
        per-venue split of a hovered level, and each venue's freshness."""
        status = self.bundle.meta.extra.get("venue_status", [])
        frame = self.venue_oi
        if frame is None or frame.empty:
            return {"venues": [], "ts": [], "shares": {}, "status": status}
        cols = [c for c in frame.columns if c != "ts"]
        values = frame[cols].to_numpy(dtype="float64")
        total = np.nansum(values, axis=1)
        keep = total > 0
        stride = max(1, int(keep.sum()) // points)
        idx = np.flatnonzero(keep)[::stride]
        shares = {c: [num(v, 5) for v in values[idx, i] / total[idx]] for i, c in enumerate(cols)}
        ts = seconds(frame["ts"].iloc[idx])
        return {"venues": cols, "ts": ts, "shares": shares, "status": status}

    def venue_shares_at(self, ts: pd.Timestamp) -> dict[str, float]:
        """Each venue's share of open interest at ``ts`` (each venue's last sample at or before it, so a lagging
        venue keeps its last known part), those with some; empty for a market without per-venue open interest."""
        frame = self.venue_oi
        if frame is None or frame.empty:
            return {}
        k = int(frame["ts"].searchsorted(ts, side="right")) - 1
        if k < 0:
            return {}
        row = frame.drop(columns="ts").iloc[: k + 1].astype("float64").ffill().iloc[-1]
        row = row[np.isfinite(row) & (row > 0)]
        total = float(row.sum())
        return {str(v): float(x) / total for v, x in row.items()} if total > 0 else {}


def _side_score(s: SideScore) -> dict[str, float | None]:
    return {"model": num(s.model, 4), "yardstick": num(s.yardstick, 4), "margin": num(s.margin, 4)}


def weight(value: object) -> int:
    """Bytes held by ``value``'s arrays and frames (shared views counted in full, a frame's cells at 8 bytes: an upper
    bound for the numbers and times the caches hold)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):  # 8 bytes a cell, as every column of a bundle: memory_usage() takes 1 ms
        return int(value.size) * 8 + int(value.index.memory_usage(deep=False))
    if isinstance(value, pd.Index | pd.Series):
        return int(value.memory_usage(deep=False))
    parts = [getattr(value, f.name) for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value) else []
    return 256 + sum(weight(v) for v in parts if isinstance(v, np.ndarray | pd.DataFrame | pd.Index | pd.Series))


def _kept(
    cache: dict[Any, tuple[T, int]],
    key: Any,
    build: Callable[[], T],
    budget: int,
    lock: threading.Lock,
    keep: Callable[[], bool] | None = None,
) -> T:
    """``cache[key]``, built when missing (outside ``lock``: requests for other keys need not wait);
    the least recently asked go while the kept values weigh more than ``budget`` bytes. A value heavier
    than the whole budget, or built when ``keep()`` says no more, is answered, not kept."""
    with lock:
        if key in cache:
            cache[key] = found = cache.pop(key)
            return found[0]
    value = build()
    size = weight(value)
    with lock:
        cache.pop(key, None)
        if size <= budget and (keep is None or keep()):
            cache[key] = (value, size)
            total = sum(w for _, w in cache.values())
            while total > budget:
                _, (_, dropped) = next(iter(cache.items()))
                cache.pop(next(iter(cache)))
                total -= dropped
    return value


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What changed on disk: each file's name, size and modification time."""
    try:
        return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in folder.iterdir() if f.is_file()))
    except OSError:
        return ()


class Registry:
    """Markets by id, in the order they were added (the page opens on the first)."""

    def __init__(self) -> None:
        self._markets: dict[str, Market] = {}
        self._watched: dict[str, tuple[Path, tuple[tuple[str, int, int], ...]]] = {}
        self._stores: dict[str, Any] = {}  # store markets: each kept current by a store.aggregate.Following
        self.problems: dict[str, str] = {}
        self.store: Any = None  # the store behind ``/api/liquidations`` (``serve --store``)
        self.alerts: Any = None  # the alert state behind ``/api/alerts`` (``liqheat run``): an AlertStore
        self.alert_rules: list[Any] = []  # the rules evaluated, as the config states them
        self.changes = Changes()

    def add(
        self, bundle: Bundle, *, market_id: str | None = None, kind: str = "bundle", params: ModelParams | None = None
    ) -> Market:
        base = market_id or slug(bundle.path.name if bundle.path else bundle.meta.symbol)
        mid, n = base, 2
        while mid in self._markets:
            mid, n = f"{base}-{n}", n + 1
        market = Market(id=mid, bundle=bundle, params=params or ModelParams(), kind=kind, changes=self.changes)
        self._markets[mid] = market
        return market

    def add_exact(self, levels: ExactSource) -> list[str]:
        """Show ``levels`` beside the estimated map of every market on their symbol (BTC: BTC, BTC/USDT:USDT, …);
        returns those markets' ids. A market on no such symbol is a clear error: the levels would be shown nowhere."""
        on = [m for m in self._markets.values() if m.bundle.meta.symbol.split("/")[0].upper() == levels.symbol.upper()]
        if not on:
            symbols = ", ".join(sorted({m.bundle.meta.symbol for m in self._markets.values()})) or "none"
            raise DomainError(f"{levels.source}: no market served is on {levels.symbol} (markets: {symbols})", param="onchain")
        for market in on:
            market.exact = [*market.exact, levels]
        return [m.id for m in on]

    def add_folder(self, folder: Path) -> Market:
        market = self.add(read_bundle(folder))
        self._watched[market.id] = (folder, _stamp(folder))
        return market

    def refresh(self, only: Collection[str] | None = None) -> list[str]:
        """Reload watched bundle folders that changed on disk; a bundle that no longer validates is
        kept as it was (and reported), never half-loaded. Returns the ids that grew. ``only``: just these markets
        (a service takes each market whose candles have just been written on its own, as soon as it can)."""
        if only is not None:
            return self._refresh_stores(only)
        grown = []
        for market_id, (folder, stamp) in list(self._watched.items()):
            now = _stamp(folder)
            if now == stamp:
                continue
            self._watched[market_id] = (folder, now)
            try:
                bundle = read_bundle(folder)
            except DomainError as exc:
                self.problems[market_id] = str(exc)
                continue
            self.problems.pop(market_id, None)
            self._markets[market_id].grow(bundle)
            grown.append(market_id)
        return grown + self._refresh_stores()

    def add_store(self, store: Any, feeds: list[Any], timeframe: str, since: pd.Timestamp | None = None) -> Market:
        """A market aggregated from the store (one or several venues); refreshed when a follower writes.

        Several venues give each its own market too (added after the aggregate), so a trader picks the
        aggregate or one venue per request, not at start-up."""
        aggregated = self._add_store(store, feeds, timeframe, since)
        venues = list(dict.fromkeys(f.venue for f in feeds))
        if len(venues) > 1:
            for venue in venues:
                try:
                    self._add_store(store, [f for f in feeds if f.venue == venue], timeframe, since)
                except DomainError as exc:  # the aggregate serves; this venue alone has too little to map
                    self.problems[slug(f"{feeds[0].market.base}-{venue}-{timeframe}")] = str(exc)
        return aggregated

    def _add_store(self, store: Any, feeds: list[Any], timeframe: str, since: pd.Timestamp | None) -> Market:
        from liqheat.store.aggregate import Following

        self.store = store
        following = Following(store, feeds, timeframe, since)
        agg = following.refresh()
        assert agg is not None  # the first refresh aggregates every row
        labels = "-".join(dict.fromkeys(f.venue for f in feeds))
        market = self.add(agg.bundle, market_id=slug(f"{feeds[0].market.base}-{labels}-{timeframe}"), kind="store")
        market.venue_oi = agg.venue_oi
        self._stores[market.id] = following
        market.score_every = LIVE_SCORE_EVERY
        return market

    def _refresh_stores(self, only: Collection[str] | None = None) -> list[str]:
        """Store markets whose rows changed since the last look, grown: each reads what the followers' writes
        replaced (this market's files only: another market's writes cost it a few stat calls) and aggregates the
        rows from the first that changed, not the whole history."""
        grown = []
        for market_id, following in list(self._stores.items()):
            if only is not None and market_id not in only:
                continue
            with following.lock:  # grown in the order refreshed: a concurrent refresh's older answer never lands last
                try:
                    agg = following.refresh()
                except DomainError as exc:
                    self.problems[market_id] = str(exc)
                    continue
                self.problems.pop(market_id, None)
                if agg is None:
                    continue  # files replaced with the rows they held, or nothing written
                market = self._markets[market_id]
                market.grow(agg.bundle)
                market.venue_oi = agg.venue_oi
            grown.append(market_id)
        return grown

    def warm(self) -> list[threading.Thread]:
        """Build every market's timeline in the background, so the first heatmap query need not replay."""
        markets = list(self._markets.values())
        threads = [threading.Thread(target=lambda m=m: m.timeline, name=f"warm-{m.id}", daemon=True) for m in markets]
        for thread in threads:
            thread.start()
        return threads

    def versions(self) -> dict[str, int]:
        return {m.id: m.version for m in self._markets.values()}

    def remove(self, market_id: str) -> None:
        """Stop serving ``market_id`` (a service whose config no longer lists it); an unknown id is a no-op."""
        self._markets.pop(market_id, None)
        self._stores.pop(market_id, None)
        self._watched.pop(market_id, None)
        self.problems.pop(market_id, None)

    def get(self, market_id: str) -> Market:
        found = self._markets.get(market_id)
        if found is None:
            known = ", ".join(self._markets) or "none"
            raise KeyError(f"unknown market {market_id!r} (known: {known})")
        return found

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._markets.values())

    def __len__(self) -> int:
        return len(self._markets)
