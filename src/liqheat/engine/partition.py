"""A market replayed a month at a time: each month a pure function of its own data and what the months before left.

:func:`replay_month` takes one month's candles and samples and the :class:`Carried` state of the month before,
and returns the month's predictions, its heatmap frames and the state the next month starts from. Chained
month after month, it gives one uninterrupted :meth:`~liqheat.engine.replay.Engine.run` over the whole
history, bit for bit (``tests/engine/test_partition.py``), so a market's months chain and markets run in
parallel.

What is carried, and why each piece (the smallest state that keeps the chain exact):

- the map: stored notional per (price bin, leverage bucket) on the bins that hold a level, numbered from an
  absolute bin ``k0``, and the scale per bucket. Notional is stored × scale; folding the scale into the bins
  would round differently from the replay that never folds it;
- the totals per bucket and the ledger: accounting only (no prediction reads them), 2 × buckets + 5 numbers,
  carried so that the chained engine's state is the uninterrupted one's;
- the drivers' memory: a candle's churn is scaled by the previous candle's volume against the mean of the
  ``window`` before it, a difference of two running totals summed from the first candle. So the running
  totals of the last ``window + 2`` candles, the last candle's volume and its open time (the next candle's
  time step);
- the latest open-interest and funding sample before the month: a candle reads the latest sample at or before
  it, which may lie months back.

Not carried: the grid (bins sit at absolute log-prices, so any grid that covers the levels sweeps the same
bins in the same order), the sweep fronts (a bound on where levels lie; any bound at or past the outermost
level sweeps the same sums, so the tight one is recomputed from the bins) and the decay cache (exp of the
same numbers).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from liqheat.engine.layout import LEDGER_SIZE
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Drivers, Engine, Grid, MarketView, drivers, liquidation_offsets
from liqheat.model import DomainError

FORMAT = 1
"""The version of :meth:`Carried.to_bytes`'s layout."""

Samples = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Carried:
    """The state a month leaves for the next one (see the module's docstring for why each field)."""

    candles: int
    k0: int
    longs: np.ndarray
    shorts: np.ndarray
    g_long: np.ndarray
    g_short: np.ndarray
    tot_long: np.ndarray
    tot_short: np.ndarray
    ledger: np.ndarray
    last_ts: int
    last_volume: float
    volume_sum: np.ndarray
    oi_sample: Samples
    funding_sample: Samples

    @classmethod
    def empty(cls, buckets: int) -> Carried:
        """Before the first candle: an empty map, no samples."""
        none = np.zeros(0)
        return cls(
            candles=0, k0=0, longs=np.zeros((0, buckets)), shorts=np.zeros((0, buckets)), g_long=np.ones(buckets),
            g_short=np.ones(buckets), tot_long=np.zeros(buckets), tot_short=np.zeros(buckets), ledger=np.zeros(LEDGER_SIZE),
            last_ts=0, last_volume=math.nan, volume_sum=none, oi_sample=(np.zeros(0, np.int64), none),
            funding_sample=(np.zeros(0, np.int64), none),
        )  # fmt: skip

    _ARRAYS = ("longs", "shorts", "g_long", "g_short", "tot_long", "tot_short", "ledger", "volume_sum")

    def to_bytes(self) -> bytes:
        """The state as an uncompressed ``.npz`` (no pickles), its scalars in a JSON header."""
        head = {"format": FORMAT, "candles": self.candles, "k0": self.k0, "last_ts": self.last_ts}
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        arrays["last_volume"] = np.array([self.last_volume])
        arrays["oi_ts"], arrays["oi_value"] = self.oi_sample
        arrays["funding_ts"], arrays["funding_value"] = self.funding_sample
        buffer = io.BytesIO()
        np.savez(buffer, head=np.frombuffer(json.dumps(head, sort_keys=True).encode(), dtype=np.uint8), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Carried:
        """Read :meth:`to_bytes`' output; a state of another format is refused by name."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                arrays = {name: saved[name] for name in saved.files}
            head = json.loads(arrays.pop("head").tobytes())
        except (OSError, ValueError, KeyError) as exc:
            raise DomainError(f"not an engine state ({exc})") from None
        if head.get("format") != FORMAT:
            raise DomainError(f"engine state of format {head.get('format')}, this liqheat reads format {FORMAT}")
        return cls(
            candles=int(head["candles"]),
            k0=int(head["k0"]),
            last_ts=int(head["last_ts"]),
            last_volume=float(arrays["last_volume"][0]),
            oi_sample=(arrays["oi_ts"], arrays["oi_value"]),
            funding_sample=(arrays["funding_ts"], arrays["funding_value"]),
            **{name: arrays[name] for name in cls._ARRAYS},
        )


@dataclass(frozen=True)
class Month:
    """What :func:`replay_month` gives: ``predictions`` (candles × [swept long, swept short, intra long, intra
    short], USD), the maps after the candles ``frame_at`` on the bins from absolute bin ``frame_k0``, and the
    state for the next month."""

    ts: np.ndarray
    predictions: np.ndarray
    frame_at: np.ndarray
    frame_k0: int
    frames_long: np.ndarray
    frames_short: np.ndarray
    carried: Carried


@lru_cache(maxsize=64)
def offsets(params: ModelParams, symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~liqheat.engine.replay.liquidation_offsets`, worked out once per process for a market's months."""
    return liquidation_offsets(params, symbol)


def volume_window(params: ModelParams, timeframe_hours: float) -> int:
    """Candles in the trailing volume window (as the drivers count them)."""
    return max(1, round(params.volume_window_hours / timeframe_hours))


def _with_sample(carried: Samples, samples: Samples | None) -> Samples | None:
    """The month's samples after the latest one before the month (times ascending)."""
    before_ts, before_value = carried
    if samples is None or not len(samples[0]):
        return (before_ts, before_value) if len(before_ts) else samples
    if len(before_ts) and before_ts[-1] < samples[0][0]:
        return np.concatenate((before_ts, samples[0])), np.concatenate((before_value, samples[1]))
    return samples


def _latest_before(samples: Samples | None, until: int, previous: Samples) -> Samples:
    """The latest of ``samples`` stamped before ``until`` (µs), else ``previous``."""
    if samples is None:
        return previous
    i = int(np.searchsorted(samples[0], until, side="left"))
    return (samples[0][i - 1 : i].copy(), samples[1][i - 1 : i].copy()) if i else previous


def _engine_at(params: ModelParams, symbol: str, low: float, high: float, carried: Carried) -> Engine:
    """An engine on a grid covering the month's range and every carried level, those levels in place."""
    off_long, off_short = offsets(params, symbol)
    grid = Grid.covering(low, high, params, off_long, off_short)
    if not len(carried.longs):
        return Engine(params, grid, off_long, off_short)
    lo = min(grid.k0, carried.k0)
    hi = max(grid.k0 + grid.n_bins, carried.k0 + len(carried.longs))
    engine = Engine(params, Grid(lo=lo * grid.width, width=grid.width, n_bins=hi - lo), off_long, off_short)
    at = slice(carried.k0 - lo, carried.k0 - lo + len(carried.longs))
    engine.longs[at] = carried.longs
    engine.shorts[at] = carried.shorts
    long_rows = np.flatnonzero(engine.longs.any(axis=1))
    short_rows = np.flatnonzero(engine.shorts.any(axis=1))
    engine.front[:] = (long_rows[-1] if len(long_rows) else -1, short_rows[0] if len(short_rows) else engine.grid.n_bins)
    return engine


def replay_month(
    params: ModelParams,
    symbol: str,
    timeframe_us: int,
    ts: np.ndarray,
    candles: dict[str, np.ndarray],
    oi: Samples,
    funding: Samples | None,
    carried: Carried | None,
    *,
    until: int,
    frame_every_us: int = 0,
) -> Month:
    """Replay one month of ``symbol``'s candles (``ts`` µs, ascending, all before ``until``, the month's end) from
    the state ``carried`` left (None: the first month, an empty map).

    ``oi`` and ``funding`` are the samples stamped from the month's start up to its last candle's close (the
    ones before the month are carried). A frame is the map after each candle that closes on a multiple of
    ``frame_every_us`` (0: none).
    """
    if len(ts) and (ts[-1] >= until or (carried is not None and carried.candles and ts[0] <= carried.last_ts)):
        raise DomainError("the month's candles must lie after the carried state's and before the month's end")
    buckets = params.leverage_buckets
    if carried is not None and carried.g_long.shape[0] != buckets:
        raise DomainError(f"the carried state has {carried.g_long.shape[0]} leverage buckets, leverage_buckets is {buckets}")
    carried = carried or Carried.empty(buckets)
    oi_samples = _with_sample(carried.oi_sample, oi)
    funding_samples = _with_sample(carried.funding_sample, funding)
    next_oi = _latest_before(oi_samples, until, carried.oi_sample)
    next_funding = _latest_before(funding_samples, until, carried.funding_sample)
    if not len(ts):
        none = np.zeros((0, 4))
        return Month(
            ts, none, ts[:0], 0, none[:, :0], none[:, :0], replace(carried, oi_sample=next_oi, funding_sample=next_funding)
        )
    if oi_samples is None or not len(oi_samples[0]):
        raise DomainError(f"{symbol}: no open interest at or before the month's candles (a replay needs it)")
    view = MarketView.from_arrays(
        ts=ts, candles=candles, oi=oi_samples, funding=funding_samples, timeframe_us=timeframe_us, symbol=symbol
    )
    engine = _engine_at(params, symbol, float(view.low.min()), float(view.high.max()), carried)
    frame_at = np.flatnonzero((ts + timeframe_us) % frame_every_us == 0) if frame_every_us > 0 else np.zeros(0, np.int64)
    window = volume_window(params, view.timeframe_hours)
    if not carried.candles:
        driven = drivers(view, params)
        predictions, frames_long, frames_short = engine.run(view, frame_at=frame_at, driven=driven)
        running = driven.volume_sum
    else:
        engine.g_long[:], engine.g_short[:] = carried.g_long, carried.g_short
        engine.tot_long[:], engine.tot_short[:] = carried.tot_long, carried.tot_short
        engine.ledger[:] = carried.ledger
        whole, before = _after(view, carried)
        running = None if view.volume is None else carried.volume_sum
        unread = np.zeros(before)  # the drivers of the rows before: never read, only counted
        prior = Drivers(unread, unread, unread, unread, unread, volume_sum=running)
        driven = prior.extended(whole, params)
        predictions, frames_long, frames_short = engine.run(whole, frame_at=frame_at + before, start=before, driven=driven)
        running = driven.volume_sum
    longs, shorts = engine.longs, engine.shorts
    held = np.flatnonzero(longs.any(axis=1) | shorts.any(axis=1))
    lo, hi = (int(held[0]), int(held[-1]) + 1) if len(held) else (0, 0)
    state = Carried(
        candles=carried.candles + len(ts),
        k0=engine.grid.k0 + lo,
        longs=longs[lo:hi].copy(),
        shorts=shorts[lo:hi].copy(),
        g_long=engine.g_long.copy(),
        g_short=engine.g_short.copy(),
        tot_long=engine.tot_long.copy(),
        tot_short=engine.tot_short.copy(),
        ledger=engine.ledger.copy(),
        last_ts=int(ts[-1]),
        last_volume=float(view.volume[-1]) if view.volume is not None else math.nan,
        volume_sum=running[-(window + 2) :].copy() if running is not None else np.zeros(0),
        oi_sample=next_oi,
        funding_sample=next_funding,
    )
    return Month(ts, predictions, frame_at, engine.grid.k0, frames_long, frames_short, state)


def _after(view: MarketView, carried: Carried) -> tuple[MarketView, int]:
    """``view`` behind rows that stand for the candles before it, and how many: as many as the carried running
    volume totals (one without volume). The drivers read only the last such row's open time and volume and the
    totals; the rest of those rows is never read."""
    before = len(carried.volume_sum) if view.volume is not None else 1
    if view.volume is not None and (before == 0 or math.isnan(carried.last_volume)):
        raise DomainError("the month's candles have volume, the months before had none: replay from the first month")
    if view.volume is None and len(carried.volume_sum):
        raise DomainError("the months before had volume, this month's candles have none: replay from the first month")
    ts_before = carried.last_ts - view_step(view) * np.arange(before - 1, -1, -1, dtype=np.int64)

    def joined(values: np.ndarray, last: float = math.nan) -> np.ndarray:
        head = np.full(before, np.nan)
        head[-1] = last
        return np.concatenate((head, values))

    whole = MarketView(
        ts=np.concatenate((ts_before, view.ts)),
        open=joined(view.open),
        high=joined(view.high),
        low=joined(view.low),
        close=joined(view.close),
        volume=None if view.volume is None else joined(view.volume, carried.last_volume),
        taker_buy=None if view.taker_buy is None else joined(view.taker_buy),
        oi_before=joined(view.oi_before),
        oi_after=joined(view.oi_after),
        funding=joined(view.funding),
        timeframe_hours=view.timeframe_hours,
        symbol=view.symbol,
    )
    return whole, before


def view_step(view: MarketView) -> int:
    """The view's timeframe in µs."""
    return round(view.timeframe_hours * 3.6e9)
