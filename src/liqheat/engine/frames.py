"""Heatmap frames: the engine's map sampled over a window, as (time column, price row) matrices.

A heatmap column at candle t shows the levels at risk *as candle t opens*: the map built from the
data before t, the one candle t can sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from liqheat.bundle import Bundle
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, Grid, MarketView
from liqheat.engine.timeline import Timeline
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros, iso, parse_duration

MARGIN = 0.15  # price shown beyond the window's candles, each way


@dataclass(frozen=True)
class HeatmapFrame:
    """Notional at risk per (time column, price row), with the axes and the candles shown."""

    market: str
    timeframe: str
    times: pd.DatetimeIndex
    price_edges: np.ndarray
    long: np.ndarray
    short: np.ndarray
    candles: pd.DataFrame
    params: ModelParams
    window: str  # the look-back asked for (``7d``): what a drawing's title says beside its first and last time

    @property
    def price_centers(self) -> np.ndarray:
        return np.asarray(np.sqrt(self.price_edges[:-1] * self.price_edges[1:]))


@dataclass(frozen=True)
class Layout:
    """What a heatmap frame shows and how its columns are read: the window's candles ``i0 … i1``, the
    candles whose opening map each column is, display rows ``r0 … r1`` of ``group`` bins of ``grid``."""

    i0: int
    i1: int
    columns: np.ndarray
    group: int
    r0: int
    r1: int
    grid: Grid
    mask: np.ndarray | None
    snapshots: bool  # the columns are read from the timeline's float32 snapshots
    window: str = ""  # the look-back asked for, as written (a drawing's title says it)


def _check_size(max_bins: int, max_columns: int) -> None:
    if not (10 <= max_bins <= 5000):
        raise DomainError(f"bins must be 10..5000, got {max_bins}", param="bins")
    if not (2 <= max_columns <= 20000):
        raise DomainError(f"columns must be 2..20000, got {max_columns}", param="columns")


def heatmap_layout(
    bundle: Bundle,
    *,
    window: str,
    end: pd.Timestamp | None,
    max_bins: int,
    max_columns: int,
    margin: float,
    leverage_band: tuple[float, float] | None,
    grid: Grid,
    leverages: np.ndarray,
    timeline: Timeline | None,
) -> Layout:
    """The columns and rows of the heatmap of ``window`` ending at ``end`` (see :func:`heatmap_frame`).

    Columns fall on whole multiples of their stride (counted from the first candle), as the snapshots do:
    the frame of the window one candle later shares every column but the first and the newest. A window whose
    columns would be at least half the timeline's snapshot stride apart has them on the snapshots: at least half
    the columns asked, read rather than replayed.
    """
    _check_size(max_bins, max_columns)
    span = parse_duration(window, "window")
    candles = bundle.candles
    ts = epoch_micros(candles["ts"])  # read in place: pandas would take longer than a live market's new column
    stop = int(ts[-1]) * 1000 if end is None else end.value  # ns
    if end is not None and stop < int(ts[0]) * 1000:
        raise DomainError(f"end {iso(end)} is before the bundle's first candle {iso(candles['ts'].iloc[0])}", param="end")
    if end is not None and stop > int(ts[-1]) * 1000:
        raise DomainError(f"end {iso(end)} is after the bundle's last candle {iso(candles['ts'].iloc[-1])}", param="end")
    i1 = int(np.searchsorted(ts, stop // 1000, side="right")) - 1  # µs floored: the candles at or before it
    i0 = max(1, int(np.searchsorted(ts, (stop - span.value) // 1000, side="right")))
    if i1 < i0:
        shown_end = candles["ts"].iloc[-1] if end is None else end
        raise DomainError(f"window {window} ending {shown_end:%Y-%m-%dT%H:%M:%SZ} holds no candle after the first")
    step = max(1, math.ceil((i1 - i0 + 1) / max_columns))
    if timeline is not None and 2 * step >= timeline.stride and leverage_band is None:  # read, not replayed: at least
        step = timeline.stride * math.ceil(step / timeline.stride)  # half the columns asked (180 days of minutes)
    first = step * math.ceil(i0 / step)
    cols = np.arange(first, i1 + 1, step, dtype=np.int64) if first <= i1 else np.arange(i0, i1 + 1, step, dtype=np.int64)
    lo_price = float(candles["low"].to_numpy(np.float64)[i0 : i1 + 1].min()) * (1 - margin)
    hi_price = float(candles["high"].to_numpy(np.float64)[i0 : i1 + 1].max()) * (1 + margin)
    b_lo = max(0, int((math.log(lo_price) - grid.lo) / grid.width))
    b_hi = min(grid.n_bins - 1, int((math.log(hi_price) - grid.lo) / grid.width))
    group = max(1, math.ceil((b_hi - b_lo + 1) / max_bins))
    while b_hi // group - b_lo // group + 1 > max_bins:  # groups are aligned to the grid: a window can straddle one
        group += 1
    mask = None
    if leverage_band is not None:
        mask = (leverages >= leverage_band[0]) & (leverages <= leverage_band[1])
        if not mask.any():
            raise DomainError(f"no leverage bucket lies in {leverage_band[0]:g}x … {leverage_band[1]:g}x")
    full = mask is None or bool(mask.all())
    snapshots = timeline is not None and full and bool(np.all(cols % timeline.stride == 0))
    return Layout(i0, i1, cols, group, b_lo // group, b_hi // group, grid, mask, snapshots, window)


def heatmap_frame(
    bundle: Bundle,
    params: ModelParams,
    *,
    window: str = "7d",
    end: pd.Timestamp | None = None,
    max_bins: int = 300,
    max_columns: int = 1000,
    margin: float = MARGIN,
    leverage_band: tuple[float, float] | None = None,
    timeline: Timeline | None = None,
) -> HeatmapFrame:
    """Replay ``bundle`` and take the map at each candle of the window ending at ``end``.

    ``leverage_band`` keeps only the levels of positions whose leverage lies in [low, high]. With a
    ``timeline`` of the same bundle and parameters, nothing is replayed from the start: a long window's
    columns are aligned to the timeline's snapshots (read, not replayed) and a short one replays from
    the checkpoint before it.
    """
    _check_size(max_bins, max_columns)
    view = timeline.view if timeline is not None else MarketView.from_bundle(bundle)
    engine = timeline.engine() if timeline is not None else Engine.for_view(view, params)
    layout = heatmap_layout(bundle, window=window, end=end, max_bins=max_bins, max_columns=max_columns, margin=margin,
                            leverage_band=leverage_band, grid=engine.grid, leverages=engine.leverages,
                            timeline=timeline)  # fmt: skip
    cols, group, mask = layout.columns, layout.group, layout.mask
    rows = (layout.r0, layout.r1)
    if timeline is not None:
        frames_long, frames_short = timeline.maps_at_open(cols, group, mask, snapshots=layout.snapshots, rows=rows)
    else:
        _, frames_long, frames_short = engine.run(view, frame_at=cols - 1, group=group, lev_mask=mask, rows=rows)
    return framed(bundle, params, layout, frames_long, frames_short)


def layout_edges(layout: Layout) -> np.ndarray:
    """The price edges of ``layout``'s rows (ascending): its frame's, and those a layer drawn over it lines up with."""
    grid = layout.grid
    return np.asarray(np.exp(grid.lo + grid.width * layout.group * np.arange(layout.r0, layout.r1 + 2)))


def framed(bundle: Bundle, params: ModelParams, layout: Layout, long: np.ndarray, short: np.ndarray) -> HeatmapFrame:
    """The frame of ``layout`` from its columns' values on its rows."""
    edges = layout_edges(layout)
    return HeatmapFrame(
        market=f"{bundle.meta.symbol} ({', '.join(bundle.meta.venues)})",
        timeframe=bundle.meta.timeframe,
        times=pd.DatetimeIndex(bundle.candles["ts"].iloc[layout.columns]),
        price_edges=edges,
        long=long,
        short=short,
        candles=bundle.candles.iloc[layout.i0 : layout.i1 + 1],
        params=params,
        window=layout.window,
    )


class Followed:
    """The columns of a heatmap that ends at the last candle, kept over more rows than it shows, so that the
    frame of the market one candle later computes only its new columns.

    A column is the map as its candle opens, which never changes once the candle is in; the window one candle
    later shows the same columns, less the oldest when it leaves and plus the newest (:func:`heatmap_layout`
    puts them on whole multiples of their stride). They carry over while the display groups keep their
    alignment (the grid's bin 0 and the grouping), the leverage band and the way columns are read stay the
    same, and the rows shown stay inside the rows kept; the frame is then the one :func:`heatmap_frame` builds,
    bit for bit. Frames handed out are views that later columns never overwrite.
    """

    def __init__(self, layout: Layout, generation: int, lo: int, hi: int, long: np.ndarray, short: np.ndarray) -> None:
        self.layout = layout
        self.generation = generation
        self.lo, self.hi = lo, hi
        self._long, self._short = long, short  # columns _first … _stop − 1 of these, then room
        self._first, self._stop = 0, len(layout.columns)

    @classmethod
    def start(cls, timeline: Timeline, layout: Layout, generation: int) -> Followed:
        width = -(-timeline.grid.n_bins // layout.group)
        pad = (layout.r1 - layout.r0 + 1) // 4 + 8
        lo, hi = max(0, layout.r0 - pad), min(width - 1, layout.r1 + pad)
        long, short = timeline.maps_at_open(
            layout.columns, layout.group, layout.mask, snapshots=layout.snapshots, rows=(lo, hi)
        )
        n = len(layout.columns)
        kept = [np.empty((n + max(64, n // 8), hi - lo + 1)) for _ in range(2)]
        kept[0][:n], kept[1][:n] = long, short
        return cls(layout, generation, lo, hi, *kept)

    @property
    def nbytes(self) -> int:
        return int(self._long.nbytes + self._short.nbytes)

    def _shared(self, layout: Layout) -> int | None:
        """How many of the kept columns open ``layout``'s (None when they are not its first ones)."""
        kept, wanted = self.layout.columns, layout.columns
        drop = int(np.searchsorted(kept, wanted[0]))
        shared = len(kept) - drop
        if shared > len(wanted) or not np.array_equal(kept[drop:], wanted[:shared]):
            return None
        return shared

    def carries(self, layout: Layout, generation: int) -> bool:
        """Whether the kept columns serve ``layout`` (of the same market, later)."""
        mine = self.layout
        same_mask = (mine.mask is None and layout.mask is None) or (
            mine.mask is not None and layout.mask is not None and np.array_equal(mine.mask, layout.mask)
        )
        return (
            generation == self.generation
            and (layout.group, layout.grid.k0, layout.snapshots) == (mine.group, mine.grid.k0, mine.snapshots)
            and same_mask
            and self.lo <= layout.r0
            and layout.r1 <= self.hi
            and self._shared(layout) is not None
        )

    def advance(self, timeline: Timeline, layout: Layout) -> None:
        """Move to ``layout`` (:meth:`carries` it): compute its new columns, let go of those it no longer shows."""
        shared = self._shared(layout)
        assert shared is not None
        self._first = self._stop - shared
        fresh = layout.columns[shared:]
        if len(fresh):
            long, short = timeline.maps_at_open(
                fresh, layout.group, layout.mask, snapshots=layout.snapshots, rows=(self.lo, self.hi)
            )
            self._make_room(len(fresh))
            rows = slice(self._stop, self._stop + len(fresh))
            self._long[rows] = long
            self._short[rows] = short
            self._stop += len(fresh)
        self.layout = layout

    def _make_room(self, more: int) -> None:
        """Room for ``more`` columns after the last, in new arrays when the kept ones are full (frames handed out
        keep the old ones)."""
        if self._stop + more <= len(self._long):
            return
        live = self._stop - self._first
        capacity = live + more + max(64, live // 8)
        for name in ("_long", "_short"):
            values = getattr(self, name)
            grown = np.empty((capacity, values.shape[1]))
            grown[:live] = values[self._first : self._stop]
            setattr(self, name, grown)
        self._first, self._stop = 0, live

    def frame(self, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
        """The long and short values of ``layout``'s frame (views)."""
        rows = slice(layout.r0 - self.lo, layout.r1 - self.lo + 1)
        columns = slice(self._first, self._stop)
        return self._long[columns, rows], self._short[columns, rows]
