"""A market's replay, done once and kept, so that a heatmap of any window costs a fraction of a replay, and
carried on candle by candle when the market grows.

Kept:
- the engine state every ``checkpoint_every`` candles, after the last one, and more densely near the end
  (:func:`checkpoint_candles`), so a window replays only from the checkpoint before it, and a window
  ending now (the one a trader looks at) from one no further before its start than half its length;
- the map after every ``stride``-th candle, with ``stride`` a power of two chosen so there are at most
  ``max_snapshots`` of them. A long window whose columns fall on those candles is read, not replayed;
- each candle's predictions, from the same replay;
- optionally the float64 maps after every ``keep_every``-th candle (the newest ``keep_maps``): the past
  maps that date a map's clusters, so the map of a new candle needs no replay at all.

The maps are exact: a column is served from a snapshot only when its candle is one the snapshot was
taken at, never from a neighbour. Snapshots are float32 (half the memory); :meth:`Timeline.maps_after`
reads only float64 states and maps, so the trader's map is bit for bit a full replay's.

:meth:`Timeline.extend` runs only the candles a grown view adds, from the state after the last one. The
engine is causal (candle n changes nothing before it), so the extended timeline serves the same numbers as
one built from scratch on the longer view, bit for bit: the same grid (the one covering the whole view),
snapshots at the same candles (every other one goes when the stride doubles), the same predictions.
States and snapshots taken before the grid grew are kept on the grid they were taken on and moved when
read: bin edges are absolute multiples of the bin width, so growing a grid is a shift, never a re-bin.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar, cast

import numpy as np

from liqheat.engine import compiled as kernel
from liqheat.engine.growing import Blocks, Rows
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Drivers, Engine, Grid, MarketView, drivers
from liqheat.model import DomainError

State = dict[str, np.ndarray]
T = TypeVar("T")
PARALLEL_FROM = 16_384  # candles: a replay this long is cut into runs that go at once (10–20 ms of kernel each)
PARALLEL_MAX = 4


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(min(PARALLEL_MAX, os.cpu_count() or 1), thread_name_prefix="liqheat-replay")


def checkpoint_candles(n: int, every: int, recent: int, since: int = 0) -> list[int]:
    """The candles in (``since``, ``n``] a timeline of ``n`` candles keeps the state at (see :func:`kept_at`)."""
    step = _step(every, recent)
    return [k for k in range(step * (since // step + 1), n, step) if kept_at(k, n, every, recent)] + ([n] if n > since else [])


def kept_at(k: int, n: int, every: int, recent: int) -> bool:
    """Whether a timeline of ``n`` candles keeps the state at candle ``k``: every ``every``-th, the last, and near
    the end every ``recent``-th, the gap doubling with the distance from the end (a candle ``d`` before it is
    kept on multiples of the power of two at most ``d``/2, between ``recent`` and ``every``): about two more
    per doubling of the distance, a dozen on a year of minutes. As the timeline grows the set it keeps is this
    set on the new length (a gap only widens). Recent ones only when ``every`` is a multiple of ``recent``."""
    if k == n:
        return True
    step = _step(every, recent)
    spacing = min(every, max(step, 1 << max(0, ((n - k) // 2).bit_length() - 1)))
    return k % spacing == 0


def _step(every: int, recent: int) -> int:
    return recent if 0 < recent < every and every % recent == 0 else every


def snapshot_stride(n: int, max_snapshots: int) -> int:
    """The power of two that keeps the snapshots of ``n`` candles to ``max_snapshots``."""
    return 1 << max(0, math.ceil(math.log2(max(1.0, n / max_snapshots))))


class _Kept:
    """Float64 maps after some candles, each on the grid it was taken on: the newest ``capacity`` are kept,
    so a market that grows keeps the ones its next maps need. Shared by a timeline and its extensions
    (a map after candle i never changes when candles are appended). So is the value last remembered
    (:meth:`Timeline.remembered`)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._maps: dict[int, tuple[Grid, np.ndarray, np.ndarray]] = {}
        self._last: tuple[Hashable, object] | None = None
        self._lock = threading.Lock()

    def get(self, candle: int) -> tuple[Grid, np.ndarray, np.ndarray] | None:
        with self._lock:
            return self._maps.get(candle)

    def put(self, candle: int, grid: Grid, long: np.ndarray, short: np.ndarray) -> None:
        with self._lock:
            if candle in self._maps or self.capacity <= 0:
                return
            if len(self._maps) >= self.capacity:
                oldest = min(self._maps)
                if candle < oldest:
                    return
                del self._maps[oldest]
            self._maps[candle] = (grid, long.copy(), short.copy())

    def __len__(self) -> int:
        return len(self._maps)

    def branch(self, below: int) -> _Kept:
        """A store of its own holding the maps after candles before ``below`` (for a timeline carried on from an
        earlier version, whose later candles read other data), and no remembered value."""
        kept = _Kept(self.capacity)
        with self._lock:
            kept._maps = {c: m for c, m in self._maps.items() if c < below}
        return kept

    def remembered(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return cast(T, self._last[1])
        value = build()
        with self._lock:
            self._last = (key, value)
        return value


class Timeline:
    def __init__(
        self,
        view: MarketView,
        params: ModelParams,
        *,
        checkpoint_every: int = 32_768,
        recent_every: int = 2048,
        max_snapshots: int = 8192,
        keep_every: int = 0,
        keep_maps: int = 0,
    ) -> None:
        if len(view) == 0:
            raise DomainError("a timeline needs at least one candle")
        self.view = view
        self.params = params
        self.checkpoint_every = checkpoint_every
        self.recent_every = recent_every
        self.max_snapshots = max_snapshots
        self.keep_every = keep_every
        self.driven: Drivers = drivers(view, params)
        engine = Engine.for_view(view, params)
        self.grid: Grid = engine.grid
        self._span = (float(view.low.min()), float(view.high.max()))
        self.leverages = engine.leverages
        self.off_long, self.off_short = engine.off_long, engine.off_short
        self._kept = _Kept(keep_maps)
        n = len(view)
        self.stride = snapshot_stride(n, max_snapshots)
        self.checkpoints: dict[int, tuple[Grid, State]] = {0: (engine.grid, engine.state())}
        snaps = np.arange(self.stride, n + 1, self.stride, dtype=np.int64) - 1  # maps at these candles' close
        kept = np.arange(keep_every - 1, n, keep_every, dtype=np.int64)[-keep_maps:] if keep_every and keep_maps else snaps[:0]
        longs: list[np.ndarray] = []
        shorts: list[np.ndarray] = []
        predictions: list[np.ndarray] = []
        begin = 0
        for end in checkpoint_candles(n, checkpoint_every, recent_every):
            p, fl, fs = self._run(engine, begin, end, snaps, kept)
            predictions.append(p)
            longs.append(fl)
            shorts.append(fs)
            begin = end
        self._predictions = Rows({"p": np.concatenate(predictions)})
        self._snap_grid = engine.grid
        self._snaps = Blocks({"long": np.vstack(longs), "short": np.vstack(shorts)})
        self._bind()

    def _bind(self) -> None:
        """Take this version's views of the growing arrays and its number of snapshots (later versions write only
        past them)."""
        self.predictions: np.ndarray = self._predictions["p"]
        self.snapshots: int = len(self._snaps)

    def _run(
        self, engine: Engine, begin: int, end: int, snaps: np.ndarray, kept: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candles ``begin … end − 1`` on ``engine``: their predictions and the float32 snapshots (on the
        engine's grid) after the candles of ``snaps`` among them; keeps the maps after those of ``kept`` and
        the checkpoint at ``end``."""
        inside = (snaps >= begin) & (snaps < end)
        keep = kept[(kept >= begin) & (kept < end)]
        wanted = np.union1d(snaps[inside], keep)
        p, fl, fs = engine.run(self.view, frame_at=wanted, start=begin, stop=end, driven=self.driven)
        for candle in keep:
            row = int(np.searchsorted(wanted, candle))
            self._kept.put(int(candle), engine.grid, fl[row], fs[row])
        rows = np.searchsorted(wanted, snaps[inside])
        self.checkpoints[end] = (engine.grid, engine.state())
        return p, fl[rows].astype(np.float32), fs[rows].astype(np.float32)

    @property
    def snapshot_candles(self) -> np.ndarray:
        """The candles whose opening map is a snapshot (row r is candle (r + 1) × stride)."""
        return np.arange(1, self.snapshots + 1, dtype=np.int64) * self.stride

    def extend(self, view: MarketView, *, branch: bool = False) -> Timeline:
        """This timeline carried on over ``view``, which extends its view by candles at the end: only those are
        replayed, from the state after the last one. The answer serves what a timeline built on ``view`` would,
        bit for bit; this one stays as it was (a request may still be reading it). ``branch``: this timeline was
        extended before over other data (a later version's), so the maps kept after those later candles are not
        shared."""
        n0, n = len(self.view), len(view)
        last = n0 - 1
        if n < n0 or any(getattr(view, k)[last] != getattr(self.view, k)[last] for k in ("ts", "open", "high", "low", "close")):
            raise DomainError(f"a view of {n} candles does not extend this timeline's {n0}")
        grown = object.__new__(Timeline)
        grown.__dict__.update(self.__dict__)
        if branch:
            grown._kept = self._kept.branch(n0)
        grown.view = view
        if n == n0:
            return grown
        grown.driven = self.driven.extended(view, self.params)
        added = slice(n0, n)
        grown._span = (min(self._span[0], float(view.low[added].min())), max(self._span[1], float(view.high[added].max())))
        grown.grid = Grid.covering(*grown._span, self.params, self.off_long, self.off_short)
        grown.stride = snapshot_stride(n, self.max_snapshots)
        every, recent = self.checkpoint_every, self.recent_every
        grown.checkpoints = {  # n0: the newest column
            k: v for k, v in self.checkpoints.items() if k in (0, n0) or kept_at(k, n, every, recent)
        }
        engine = self.engine(self.checkpoints[n0])
        snap_at = np.arange(grown.stride * (n0 // grown.stride + 1), n + 1, grown.stride, dtype=np.int64) - 1
        kept = np.arange(self.keep_every - 1, n, self.keep_every, dtype=np.int64) if self.keep_every else snap_at[:0]
        kept = kept[kept >= n0]
        predictions, frames = [], []
        begin = n0
        for end in checkpoint_candles(n, every, recent, since=n0):
            p, fl, fs = grown._run(engine, begin, end, snap_at, kept)
            predictions.append(p)
            frames.append((engine.grid, fl, fs))
            begin = end
        grown._predictions = self._predictions.grown(n0, {"p": np.concatenate(predictions)})
        on = engine.grid  # the grid only grows: it holds every earlier one
        new_long = np.vstack([_moved(fl, grid, on) for grid, fl, _ in frames])
        new_short = np.vstack([_moved(fs, grid, on) for grid, _, fs in frames])
        snaps, count = self._snaps, self.snapshots
        if grown.stride != self.stride or on != self._snap_grid:  # rarely: once per doubling of the candles, or
            step = grown.stride // self.stride  # when the grid grows (it grows with room to spare)
            kept = np.arange(step - 1, count, step, dtype=np.int64)  # the rows whose candle is a multiple of the stride
            long, short = (_moved(snaps.take(name, kept), self._snap_grid, on) for name in ("long", "short"))
            snaps, count = Blocks({"long": long, "short": short}), len(kept)
        grown._snap_grid = on
        grown._snaps = snaps.grown(count, {"long": new_long, "short": new_short})
        grown._bind()
        return grown

    def engine(self, checkpoint: tuple[Grid, State] | None = None) -> Engine:
        """A fresh engine on this timeline's grid (its liquidation offsets kept, not worked out again), or one
        at ``checkpoint`` on the grid the checkpoint was taken on."""
        if checkpoint is None:
            return Engine(self.params, self.grid, self.off_long, self.off_short)
        grid, state = checkpoint
        engine = Engine(self.params, grid, self.off_long, self.off_short)
        engine.restore(state)
        return engine

    def _restored(self, start: int) -> Engine:
        """An engine on this timeline's grid in the state of checkpoint ``start``."""
        engine = self.engine()
        grid, state = self.checkpoints[start]
        engine.restore(state, grid)
        return engine

    def maps_after(self, candles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The map after each candle in ``candles`` (ascending) closes, float64, per engine bin.

        Read from a checkpoint (the state after a candle) or a kept map where there is one, the rest replayed
        from the last checkpoint at or before the first of them: a full replay's maps, bit for bit.
        """
        candles = np.asarray(candles, dtype=np.int64)
        if not len(candles) or candles[0] < 0 or candles[-1] >= len(self.view) or np.any(np.diff(candles) < 0):
            raise DomainError(f"candles must be ascending within 0 … {len(self.view) - 1}, got {candles.tolist()}")
        return self._after(candles, 1, None)

    def span(self, index: int) -> tuple[float, float]:
        """The lowest low and the highest high of candles 0 … ``index`` (kept for the last one)."""
        if index == len(self.view) - 1:
            return self._span
        return float(self.view.low[: index + 1].min()), float(self.view.high[: index + 1].max())

    def past_maps(self, candles: list[int], grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """The maps after ``candles`` (descending) on ``grid``, float64, read-only: :meth:`maps_after`'s, moved
        (the maps that date a map's clusters, which the maps of the next candles share: see :meth:`remembered`)."""
        if candles:
            long, short = self.maps_after(np.array(candles[::-1], dtype=np.int64))
            long, short = _moved(long[::-1], self.grid, grid), _moved(short[::-1], self.grid, grid)
        else:
            long = short = np.zeros((0, grid.n_bins))
        maps = np.ascontiguousarray(long), np.ascontiguousarray(short)  # newest first, in its own memory
        for values in maps:
            values.flags.writeable = False
        return maps

    def remembered(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, or what it gave last time if that was for ``key``: one value, kept by this timeline and its
        extensions, for what a market's next map shares with its last and would cost more than the candle to build
        again (its past maps: 180 maps that change every few hours). ``key`` must name everything it depends on
        but the candles a timeline and its extensions share."""
        return self._kept.remembered(key, build)

    def maps_at_open(
        self,
        candles: np.ndarray,
        group: int,
        lev_mask: np.ndarray | None,
        *,
        snapshots: bool | None = None,
        rows: tuple[int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The map each candle in ``candles`` (ascending, ≥ 1) opens on, in display bins of ``group``: all of
        them, or display rows ``rows`` (first, last) only, which is all a heatmap reads.

        ``snapshots`` says whether to read the float32 snapshots (every candle a multiple of :attr:`stride`,
        all leverage) or the float64 maps; by default the snapshots when they can serve. A heatmap whose columns
        are computed in parts says which, so that every part is served as the whole would be.
        """
        candles = np.asarray(candles, dtype=np.int64)
        width = -(-self.grid.n_bins // group)
        r0, r1 = (0, width - 1) if rows is None else rows
        if not 0 <= r0 <= r1 < width:
            raise DomainError(f"rows {r0} … {r1} are outside the map's 0 … {width - 1}")
        full = lev_mask is None or bool(np.all(lev_mask))
        aligned = full and len(candles) > 0 and bool(np.all(candles % self.stride == 0))
        if snapshots is None:
            snapshots = aligned
        if snapshots and not aligned:
            raise DomainError(f"snapshots serve every leverage at multiples of {self.stride} candles only")
        if snapshots:
            at = candles // self.stride - 1
            b0, b1 = r0 * group, min(self.grid.n_bins, (r1 + 1) * group)
            long = _window(self._snaps, "long", at, self._snap_grid, self.grid, b0, b1)
            short = _window(self._snaps, "short", at, self._snap_grid, self.grid, b0, b1)
            return _grouped(long, group), _grouped(short, group)
        return self._after(candles - 1, group, None if full else lev_mask, (r0, r1))

    def _after(
        self, after: np.ndarray, group: int, lev_mask: np.ndarray | None, rows: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The maps after candles ``after`` (ascending) on this timeline's grid, in display bins of ``group``,
        display rows ``rows`` (first, last; all by default)."""
        width = -(-self.grid.n_bins // group)
        r0, r1 = (0, width - 1) if rows is None else rows
        whole = (r0, r1) == (0, width - 1)
        out_long = np.empty((len(after), r1 - r0 + 1))
        out_short = np.empty((len(after), r1 - r0 + 1))
        mask = np.ones(len(self.leverages), dtype=np.bool_) if lev_mask is None else np.asarray(lev_mask, dtype=np.bool_)
        plain = group == 1 and lev_mask is None
        todo = []
        for row, candle in enumerate(after.tolist()):
            kept = self._kept.get(candle) if plain else None
            if candle + 1 in self.checkpoints:
                self._snapshot(candle + 1, mask, group, r0, out_long[row], out_short[row])
            elif kept is not None:
                grid, long, short = kept
                out_long[row] = _moved(long[None], grid, self.grid)[0, r0 : r1 + 1]
                out_short[row] = _moved(short[None], grid, self.grid)[0, r0 : r1 + 1]
            else:
                todo.append(row)
        if todo:
            wanted = after[todo]
            parts = self._parts(wanted)

            def replayed(part: tuple[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
                start, candles = part
                _, fl, fs = self._restored(start).run(
                    self.view,
                    frame_at=candles,
                    group=group,
                    lev_mask=lev_mask,
                    start=start,
                    stop=int(candles[-1]) + 1,
                    driven=self.driven,
                    rows=(r0, r1),
                )
                return fl, fs

            done = list(_pool().map(replayed, parts)) if len(parts) > 1 else [replayed(parts[0])]
            fl, fs = (np.concatenate([d[i] for d in done]) for i in (0, 1))
            out_long[todo], out_short[todo] = fl, fs
            if plain and whole and self.keep_every:
                for row, candle in enumerate(wanted.tolist()):
                    if (candle + 1) % self.keep_every == 0:
                        self._kept.put(candle, self.grid, fl[row], fs[row])
        return out_long, out_short

    def _parts(self, wanted: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """The replay of the maps after ``wanted`` (ascending) as runs from checkpoints: one from the last checkpoint
        at or before the first, or, when that is long (a month of minutes), up to one per core, cut at the
        checkpoints nearest equal shares. The runs replay no candle twice and give the one run's maps bit for bit
        (a checkpoint is the exact state); they run at once on the JIT kernel, which lets go of the GIL."""
        first = max(k for k in self.checkpoints if k <= wanted[0])
        stop = int(wanted[-1]) + 1
        workers = min(PARALLEL_MAX, os.cpu_count() or 1)
        cuts: list[int] = []
        if workers > 1 and stop - first >= PARALLEL_FROM:
            inside = np.array(sorted(k for k in self.checkpoints if first < k <= wanted[-1]), dtype=np.int64)
            for j in range(1, workers):
                if not len(inside):
                    break
                share = first + (stop - first) * j / workers
                cut = int(inside[np.abs(inside - share).argmin()])
                if cut > (cuts[-1] if cuts else first):
                    cuts.append(cut)
        at = np.searchsorted(wanted, cuts)
        return [(start, rows) for start, rows in zip([first, *cuts], np.split(wanted, at), strict=True) if len(rows)]

    def _snapshot(
        self, checkpoint: int, mask: np.ndarray, group: int, row0: int, out_long: np.ndarray, out_short: np.ndarray
    ) -> None:
        """The map of checkpoint ``checkpoint`` on this timeline's grid, display rows from ``row0``, read from the
        saved state in place when it was saved on this grid or needs no grouping (a live market asks for the newest
        one on every candle)."""
        grid, state = self.checkpoints[checkpoint]
        if grid == self.grid:
            kernel.snapshot(
                state["longs"], state["shorts"], state["g_long"], state["g_short"], mask, group, row0, out_long, out_short
            )
        elif group == 1:
            long, short = np.empty((2, grid.n_bins))
            kernel.snapshot(state["longs"], state["shorts"], state["g_long"], state["g_short"], mask, 1, 0, long, short)
            rows = slice(row0, row0 + len(out_long))
            out_long[:] = _moved(long[None], grid, self.grid)[0, rows]
            out_short[:] = _moved(short[None], grid, self.grid)[0, rows]
        else:
            engine = self._restored(checkpoint)
            kernel.snapshot(engine.longs, engine.shorts, engine.g_long, engine.g_short, mask, group, row0, out_long, out_short)


def _moved(rows: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Rows of maps on ``source``'s bins as rows on ``target``'s (bins ``target`` lacks are empty ones)."""
    if source == target:
        return rows
    out = np.zeros((rows.shape[0], target.n_bins), dtype=rows.dtype)
    shift = source.k0 - target.k0
    lo, hi = max(0, -shift), min(source.n_bins, target.n_bins - shift)
    if hi > lo:
        out[:, lo + shift : hi + shift] = rows[:, lo:hi]
    return out


def _window(rows: Blocks, name: str, at: np.ndarray, source: Grid, target: Grid, b0: int, b1: int) -> np.ndarray:
    """Rows ``at`` of column ``name``, maps on ``source``'s bins, as ``target``'s bins ``b0 … b1 − 1``: :func:`_moved`
    then cut, without moving the bins that are cut (a year's snapshots are 13 MB; a window shows a fifth of their
    bins)."""
    shift = source.k0 - target.k0  # target bin = source bin + shift
    lo, hi = max(b0 - shift, 0), min(b1 - shift, source.n_bins)
    if source == target:
        return rows.take(name, at, slice(b0, b1))
    out = np.zeros((len(at), b1 - b0), dtype=np.float32)
    if hi > lo:
        out[:, lo + shift - b0 : hi + shift - b0] = rows.take(name, at, slice(lo, hi))
    return out


def _grouped(values: np.ndarray, group: int) -> np.ndarray:
    """Sum ``group`` adjacent bins (the last group may be short), as the kernel's snapshot does, in float64."""
    if group == 1:
        return values.astype(np.float64)
    n = values.shape[1]
    whole = n // group
    out = np.empty((values.shape[0], -(-n // group)))
    out[:, :whole] = values[:, : whole * group].reshape(values.shape[0], whole, group).sum(axis=2, dtype=np.float64)
    if whole * group < n:
        out[:, whole] = values[:, whole * group :].sum(axis=1, dtype=np.float64)
    return out
