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
from liqheat.engine.replay import Engine, MarketView
from liqheat.engine.timeline import Timeline
from liqheat.model import DomainError
from liqheat.timeutil import iso, parse_duration


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


def heatmap_frame(
    bundle: Bundle,
    params: ModelParams,
    *,
    window: str = "7d",
    end: pd.Timestamp | None = None,
    max_bins: int = 300,
    max_columns: int = 1000,
    margin: float = 0.15,
    leverage_band: tuple[float, float] | None = None,
    timeline: Timeline | None = None,
) -> HeatmapFrame:
    """Replay ``bundle`` and take the map at each candle of the window ending at ``end``.

    ``leverage_band`` keeps only the levels of positions whose leverage lies in [low, high]. With a
    ``timeline`` of the same bundle and parameters, nothing is replayed from the start: a long window's
    columns are aligned to the timeline's snapshots (read, not replayed) and a short one replays from
    the checkpoint before it.
    """
    if not (10 <= max_bins <= 5000):
        raise DomainError(f"bins must be 10..5000, got {max_bins}", param="bins")
    if not (2 <= max_columns <= 20000):
        raise DomainError(f"columns must be 2..20000, got {max_columns}", param="columns")
    span = parse_duration(window, "window")
    candles = bundle.candles
    ts = candles["ts"]
    last = ts.iloc[-1]
    end = last if end is None else end
    if end < ts.iloc[0]:
        raise DomainError(f"end {iso(end)} is before the bundle's first candle {iso(ts.iloc[0])}", param="end")
    if end > last:
        raise DomainError(f"end {iso(end)} is after the bundle's last candle {iso(last)}", param="end")
    i1 = int(ts.searchsorted(end, side="right")) - 1
    i0 = max(1, int(ts.searchsorted(end - span, side="right")))
    if i1 < i0:
        raise DomainError(f"window {window} ending {end:%Y-%m-%dT%H:%M:%SZ} holds no candle after the first")
    stride = max(1, math.ceil((i1 - i0 + 1) / max_columns))
    cols = np.arange(i0, i1 + 1, stride, dtype=np.int64)
    if timeline is not None and stride >= timeline.stride and leverage_band is None:
        step = timeline.stride * math.ceil(stride / timeline.stride)
        first = timeline.stride * math.ceil(i0 / timeline.stride)
        if first <= i1:
            cols = np.arange(first, i1 + 1, step, dtype=np.int64)
    view = timeline.view if timeline is not None else MarketView.from_bundle(bundle)
    engine = timeline.engine() if timeline is not None else Engine.for_view(view, params)
    grid = engine.grid
    shown = candles.iloc[i0 : i1 + 1]
    lo_price = float(shown["low"].min()) * (1 - margin)
    hi_price = float(shown["high"].max()) * (1 + margin)
    b_lo = max(0, int((math.log(lo_price) - grid.lo) / grid.width))
    b_hi = min(grid.n_bins - 1, int((math.log(hi_price) - grid.lo) / grid.width))
    group = max(1, math.ceil((b_hi - b_lo + 1) / max_bins))
    while b_hi // group - b_lo // group + 1 > max_bins:  # groups are aligned to the grid: a window can straddle one
        group += 1
    mask = None
    if leverage_band is not None:
        mask = (engine.leverages >= leverage_band[0]) & (engine.leverages <= leverage_band[1])
        if not mask.any():
            raise DomainError(f"no leverage bucket lies in {leverage_band[0]:g}x … {leverage_band[1]:g}x")
    if timeline is not None:
        frames_long, frames_short = timeline.maps_at_open(cols, group, mask)
    else:
        _, frames_long, frames_short = engine.run(view, frame_at=cols - 1, group=group, lev_mask=mask)
    r0, r1 = b_lo // group, b_hi // group
    rows = np.arange(r0, r1 + 1)
    edges = np.exp(grid.lo + grid.width * group * np.append(rows, r1 + 1))
    return HeatmapFrame(
        market=f"{bundle.meta.symbol} ({', '.join(bundle.meta.venues)})",
        timeframe=bundle.meta.timeframe,
        times=pd.DatetimeIndex(ts.iloc[cols]),
        price_edges=edges,
        long=frames_long[:, r0 : r1 + 1],
        short=frames_short[:, r0 : r1 + 1],
        candles=shown,
        params=params,
        window=window,
    )
