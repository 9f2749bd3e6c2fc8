"""A market's replay, done once and kept, so that a heatmap of any window costs a fraction of a replay.

Two things are kept:
- the engine state every ``checkpoint_every`` candles, so a window replays only from the checkpoint
  before it;
- the map after every ``stride``-th candle, with ``stride`` a power of two chosen so there are at most
  ``max_snapshots`` of them. A long window whose columns fall on those candles is read, not replayed.

The maps are exact: a column is served from a snapshot only when its candle is one the snapshot was
taken at, never from a neighbour. Snapshots are float32 (half the memory); :meth:`Timeline.maps_after`
reads only the float64 checkpoints, so the trader's map is bit for bit a full replay's.
"""

from __future__ import annotations

import math

import numpy as np

from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Drivers, Engine, Grid, MarketView, drivers
from liqheat.model import DomainError


class Timeline:
    def __init__(
        self, view: MarketView, params: ModelParams, *, checkpoint_every: int = 32_768, max_snapshots: int = 4096
    ) -> None:
        self.view = view
        self.params = params
        self.driven: Drivers = drivers(view, params)
        engine = Engine.for_view(view, params)
        self.grid: Grid = engine.grid
        self.leverages = engine.leverages
        self.off_long, self.off_short = engine.off_long, engine.off_short
        n = len(view)
        self.stride = 1 << max(0, math.ceil(math.log2(max(1.0, n / max_snapshots))))
        self.snapshot_candles = np.arange(self.stride, n + 1, self.stride, dtype=np.int64)  # map at these candles' open
        self.checkpoints: dict[int, dict[str, np.ndarray]] = {0: engine.state()}
        longs: list[np.ndarray] = []
        shorts: list[np.ndarray] = []
        for begin in range(0, n, checkpoint_every):
            end = min(n, begin + checkpoint_every)
            wanted = self.snapshot_candles[(self.snapshot_candles - 1 >= begin) & (self.snapshot_candles - 1 < end)] - 1
            _, fl, fs = engine.run(view, frame_at=wanted, start=begin, stop=end, driven=self.driven)
            longs.append(fl.astype(np.float32))
            shorts.append(fs.astype(np.float32))
            self.checkpoints[end] = engine.state()
        width = self.grid.n_bins
        self.snap_long = np.vstack(longs) if longs else np.zeros((0, width), np.float32)
        self.snap_short = np.vstack(shorts) if shorts else np.zeros((0, width), np.float32)

    def engine(self) -> Engine:
        """A fresh engine on this timeline's grid (its liquidation offsets kept, not worked out again)."""
        return Engine(self.params, self.grid, self.off_long, self.off_short)

    def maps_after(self, candles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The map after each candle in ``candles`` (ascending) closes, float64, per engine bin.

        Replayed from the last checkpoint at or before the first of them (read straight from a
        checkpoint when that is the state after the only one): a full replay's maps, bit for bit.
        """
        candles = np.asarray(candles, dtype=np.int64)
        if not len(candles) or candles[0] < 0 or candles[-1] >= len(self.view) or np.any(np.diff(candles) < 0):
            raise DomainError(f"candles must be ascending within 0 … {len(self.view) - 1}, got {candles.tolist()}")
        engine = self.engine()
        after = int(candles[-1]) + 1
        if candles[0] == candles[-1] and after in self.checkpoints:
            engine.restore(self.checkpoints[after])
            long, short = engine.at_risk()
            return np.tile(long, (len(candles), 1)), np.tile(short, (len(candles), 1))
        start = max(k for k in self.checkpoints if k <= candles[0])
        engine.restore(self.checkpoints[start])
        _, fl, fs = engine.run(self.view, frame_at=candles, start=start, stop=after, driven=self.driven)
        return fl, fs

    def maps_at_open(self, candles: np.ndarray, group: int, lev_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The map each candle in ``candles`` (ascending, ≥ 1) opens on, in display bins of ``group``."""
        full = lev_mask is None or bool(np.all(lev_mask))
        if full and len(candles) and bool(np.all(candles % self.stride == 0)):
            rows = candles // self.stride - 1
            return _grouped(self.snap_long[rows], group), _grouped(self.snap_short[rows], group)
        start = max(k for k in self.checkpoints if k <= int(candles[0]) - 1)
        engine = self.engine()
        engine.restore(self.checkpoints[start])
        _, fl, fs = engine.run(
            self.view,
            frame_at=candles - 1,
            group=group,
            lev_mask=lev_mask,
            start=start,
            stop=int(candles[-1]),
            driven=self.driven,
        )
        return fl, fs


def _grouped(values: np.ndarray, group: int) -> np.ndarray:
    """Sum ``group`` adjacent bins (the last group may be short), as the kernel's snapshot does."""
    if group == 1:
        return values.astype(np.float64)
    n = values.shape[1]
    pad = (-n) % group
    padded = np.pad(values.astype(np.float64), ((0, 0), (0, pad)))
    return np.asarray(padded.reshape(values.shape[0], -1, group).sum(axis=2))
