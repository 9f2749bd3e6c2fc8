"""The markets a server knows, and what it has already computed for them.

A market is a validated bundle with an id. Replays are cached per market and parameter set, so a
page that pans and zooms does not replay the market on every request.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from liqheat.analytics.maps import HISTORY_POINTS, MarketMap, market_map
from liqheat.api.encode import num, seconds
from liqheat.bundle import Bundle, read_bundle
from liqheat.engine.frames import HeatmapFrame, heatmap_frame
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.engine.timeline import Timeline
from liqheat.evaluation.fit import predict
from liqheat.evaluation.score import ScoreReport, SideScore, score
from liqheat.model import DomainError
from liqheat.timeutil import iso

_SLUG = re.compile(r"[^a-z0-9]+")
T = TypeVar("T")


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "market"


@dataclass
class Market:
    id: str
    bundle: Bundle
    params: ModelParams = field(default_factory=ModelParams)
    kind: str = "bundle"
    version: int = 0
    venue_oi: pd.DataFrame | None = None  # ts + USD open interest per venue label, for store-backed markets
    map_bytes: int = 64 << 20  # what the kept maps may hold (a map with its history is ~1 MB)
    frame_bytes: int = 256 << 20  # what the kept heatmaps may hold (a 2,000 × 1,000 one is 32 MB and its candles)
    answer_bytes: int = 128 << 20  # what the kept encoded heatmap answers may hold
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _maps: dict[tuple[int, int, bool], tuple[MarketMap, int]] = field(default_factory=dict, repr=False)
    _frames: dict[tuple[Any, ...], tuple[HeatmapFrame, int]] = field(default_factory=dict, repr=False)
    _answers: dict[tuple[Any, ...], tuple[bytes, int]] = field(default_factory=dict, repr=False)
    _kept_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def grow(self, bundle: Bundle) -> None:
        """Replace the data with a longer version of it: caches go, the version moves, pages refresh."""
        for name in ("view", "predictions", "score", "timeline"):
            self.__dict__.pop(name, None)
        with self._kept_lock:
            self._maps.clear()
            self._frames.clear()
            self._answers.clear()
        self.bundle = bundle
        self.version += 1

    @cached_property
    def view(self) -> MarketView:
        return MarketView.from_bundle(self.bundle)

    @cached_property
    def timeline(self) -> Timeline:
        """The replay kept for heatmaps (checkpoints and snapshots): built once per version."""
        with self._lock:
            return Timeline(self.view, self.params)

    @cached_property
    def predictions(self) -> pd.DataFrame:
        with self._lock:
            return predict(self.bundle, self.params, self.view)

    @cached_property
    def score(self) -> ScoreReport | None:
        liq = self.bundle.liquidations
        if liq is None or liq.empty or self.bundle.meta.score_from is None:
            return None
        try:
            return score(self.bundle, self.predictions, params=self.params.to_dict())
        except DomainError:
            return None

    def map_at(self, index: int, *, ages: bool = True) -> MarketMap:
        """The map after candle ``index``: every route that shows or reads a map at a candle asks here.

        Read from the market's timeline (replayed from its last checkpoint before, never from the
        start), with the past maps that date the clusters unless ``ages`` is off (``/map`` needs none).
        The last asked are kept, up to :attr:`map_bytes`.
        """
        points = HISTORY_POINTS if ages else 0
        return _kept(
            self._maps,
            (self.version, index, ages),
            lambda: market_map(self.bundle, self.params, index=index, history_points=points, timeline=self.timeline),
            self.map_bytes,
            self._kept_lock,
        )

    def heatmap(
        self, window: pd.Timedelta, end: pd.Timestamp | None, bins: int, columns: int, band: tuple[float, float] | None
    ) -> HeatmapFrame:
        """The heatmap of ``window`` ending at ``end``, read from the timeline. The last asked are kept, up
        to :attr:`frame_bytes`: the page asks again on every change of side, range or resolution."""

        def build() -> HeatmapFrame:
            seconds = f"{int(window.total_seconds())}s"
            return heatmap_frame(self.bundle, self.params, window=seconds, end=end, max_bins=bins, max_columns=columns,
                                 leverage_band=band, timeline=self.timeline)  # fmt: skip

        return _kept(self._frames, (self.version, window, end, bins, columns, band), build, self.frame_bytes, self._kept_lock)

    def answer(self, key: tuple[Any, ...], build: Callable[[], bytes]) -> bytes:
        """An encoded heatmap answer (``key`` names the frame and the encoding), kept up to
        :attr:`answer_bytes`: 200 clients asking for the same year are answered from memory."""
        return _kept(self._answers, (self.version, *key), build, self.answer_bytes, self._kept_lock)

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


def _fingerprint(bundle: Bundle) -> tuple[Any, ...]:
    """What changes when a store market gains or edits rows anywhere, or its venues' state moves: its meta (the
    venue status with it), its tables' lengths and a hash of every row."""
    parts: list[Any] = [repr(bundle.meta)]
    for name in ("candles", "open_interest", "funding", "liquidations"):
        table = bundle.table(name)
        rows = None if table is None else pd.util.hash_pandas_object(table, index=False).to_numpy()
        parts.append(None if rows is None else (len(rows), int(rows.sum(dtype=np.uint64)), int(np.bitwise_xor.reduce(rows))))
    return tuple(parts)


def _side_score(s: SideScore) -> dict[str, float | None]:
    return {"model": num(s.model, 4), "yardstick": num(s.yardstick, 4), "margin": num(s.margin, 4)}


def weight(value: object) -> int:
    """Bytes held by ``value``'s arrays and frames (shared views counted in full: an upper bound)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=False).sum())
    if isinstance(value, pd.Index | pd.Series):
        return int(value.memory_usage(deep=False))
    parts = [getattr(value, f.name) for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value) else []
    return 256 + sum(weight(v) for v in parts if isinstance(v, np.ndarray | pd.DataFrame | pd.Index | pd.Series))


def _kept(cache: dict[Any, tuple[T, int]], key: Any, build: Callable[[], T], budget: int, lock: threading.Lock) -> T:
    """``cache[key]``, built when missing (outside ``lock``: requests for other keys need not wait);
    the least recently asked go while the kept values weigh more than ``budget`` bytes. A value heavier
    than the whole budget is answered, not kept."""
    with lock:
        if key in cache:
            cache[key] = found = cache.pop(key)
            return found[0]
    value = build()
    size = weight(value)
    with lock:
        cache.pop(key, None)
        if size <= budget:
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
        self._stores: dict[str, tuple[Any, list[Any], str, pd.Timestamp | None, tuple[tuple[str, int, int], ...]]] = {}
        self.problems: dict[str, str] = {}
        self.store: Any = None  # the store behind ``/api/liquidations`` (``serve --store``)

    def add(
        self, bundle: Bundle, *, market_id: str | None = None, kind: str = "bundle", params: ModelParams | None = None
    ) -> Market:
        base = market_id or slug(bundle.path.name if bundle.path else bundle.meta.symbol)
        mid, n = base, 2
        while mid in self._markets:
            mid, n = f"{base}-{n}", n + 1
        market = Market(id=mid, bundle=bundle, params=params or ModelParams(), kind=kind)
        self._markets[mid] = market
        return market

    def add_folder(self, folder: Path) -> Market:
        market = self.add(read_bundle(folder))
        self._watched[market.id] = (folder, _stamp(folder))
        return market

    def refresh(self) -> list[str]:
        """Reload watched bundle folders that changed on disk; a bundle that no longer validates is
        kept as it was (and reported), never half-loaded. Returns the ids that grew."""
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
        from liqheat.store.aggregate import aggregate

        self.store = store
        agg = aggregate(store, feeds, timeframe, since)
        labels = "-".join(dict.fromkeys(f.venue for f in feeds))
        market = self.add(agg.bundle, market_id=slug(f"{feeds[0].market.base}-{labels}-{timeframe}"), kind="store")
        market.venue_oi = agg.venue_oi
        self._stores[market.id] = (store, list(feeds), timeframe, since, _stamp(store.root))
        return market

    def _refresh_stores(self) -> list[str]:
        from liqheat.store.aggregate import aggregate

        grown = []
        for market_id, (store, feeds, timeframe, since, stamp) in list(self._stores.items()):
            now = _stamp(store.root)
            if now == stamp:
                continue
            self._stores[market_id] = (store, feeds, timeframe, since, now)
            try:
                agg = aggregate(store, feeds, timeframe, since)
            except DomainError as exc:
                self.problems[market_id] = str(exc)
                continue
            self.problems.pop(market_id, None)
            market = self._markets[market_id]
            if _fingerprint(agg.bundle) == _fingerprint(market.bundle):
                continue  # another venue wrote: this market's rows are as they were
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
