"""Replay, incremental update and heatmap frames: three uses of the one kernel in :mod:`.kernel`.

A :class:`MarketView` is a bundle turned into aligned arrays: one row per candle, with open interest
and funding looked up causally. Open interest *before* candle t is the latest sample at or before
t's open. Open interest *after* it is the latest sample at or before t's close (samples are stamped
at the end of their bar), which is known when candle t ends and is used only to build the map for
t + 1 onwards. An :class:`Engine` owns the state and advances it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from liqheat.engine import compiled as kernel
from liqheat.engine.bounds import check_tables, tables_of
from liqheat.engine.growing import Rows
from liqheat.engine.params import ModelParams, ParameterError
from liqheat.model import ContractSpec, DomainError, Market, Position, Side
from liqheat.venues.calc import calculate
from liqheat.venues.registry import rules as venue_rules
from liqheat.venues.tables import shipped

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from liqheat.bundle import Bundle, BundleColumns, Columns

_LN2 = math.log(2.0)
_OHLC = ("open", "high", "low", "close")


def _asof(sample_ts: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The latest sample at or before each time in ``at`` (NaN before the first sample)."""
    idx = np.searchsorted(sample_ts, at, side="right") - 1
    out = np.full(at.shape, np.nan)
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


_COLUMNS = ("ts", "open", "high", "low", "close", "volume", "taker_buy", "oi_before", "oi_after", "funding")


@dataclass(frozen=True)
class MarketView:
    """Aligned per-candle arrays of one market (all float64 except ``ts``, µs since the epoch)."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None
    taker_buy: np.ndarray | None
    oi_before: np.ndarray
    oi_after: np.ndarray
    funding: np.ndarray
    timeframe_hours: float
    symbol: str
    _rows: Rows | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def from_bundle(cls, bundle: Bundle, start: int = 0) -> MarketView:
        """The view of a bundle whose numbers lie within :data:`liqheat.engine.bounds.LIMITS` (refused otherwise).

        From candle ``start`` on, the same rows as the whole view's, checked and looked up from the samples
        they need only: what a live market computes for the candles it has just gained.
        """
        timeframe_us = int(bundle.meta.timeframe_delta.value // 1000)
        return cls.from_tables(tables_of(bundle), timeframe_us, bundle.meta.symbol, start=start, folder=bundle.path)

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, Columns | None], timeframe_us: int, symbol: str, *, start: int = 0, folder: Path | None = None
    ) -> MarketView:
        """:meth:`from_bundle` from a bundle's tables as arrays (:func:`~liqheat.engine.bounds.tables_of`, or
        :func:`liqheat.bundle.read_columns`'s): ``folder`` names the files a number out of bounds is in."""
        c, oi, f = (tables.get(name) for name in ("candles", "open_interest", "funding"))
        if c is None or oi is None:
            raise DomainError("a view needs candles and open interest")
        if not 0 <= start <= len(c.ts):
            raise DomainError(f"start must be within the bundle's {len(c.ts)} candles, got {start}")
        check_tables(folder, tables, int(c.ts[start - 1]) if start else None)
        ts = c.ts[start:]

        def samples(table: Columns, column: str) -> tuple[np.ndarray, np.ndarray]:
            first = max(0, int(np.searchsorted(table.ts, ts[0], side="right")) - 1) if len(ts) else len(table.ts)
            return table.ts[first:], table.values[column][first:]

        return cls.from_arrays(
            ts=ts,
            candles={k: values[start:] for k, values in c.values.items()},
            oi=samples(oi, "oi_usd"),
            funding=samples(f, "rate") if f is not None and len(f.ts) else None,
            timeframe_us=timeframe_us,
            symbol=symbol,
        )

    def head(self, n: int) -> MarketView:
        """The view of the first ``n`` candles: each row reads only what is known at its candle's close, so these
        are the rows of the bundle as it stood then (views of these arrays, not copies)."""
        if not 0 < n <= len(self):
            raise DomainError(f"a head must keep 1 … {len(self)} candles, got {n}")
        cut = {name: getattr(self, name)[:n] for name in _COLUMNS if getattr(self, name) is not None}
        return replace(self, _rows=None, **cut)

    def extended(self, tail: MarketView) -> MarketView:
        """This view followed by ``tail``'s candles (the same market's, later): the earlier rows are not
        copied again, and views of them handed out before stay as they were."""
        if (tail.symbol, tail.timeframe_hours) != (self.symbol, self.timeframe_hours):
            raise DomainError(f"a {tail.symbol} {tail.timeframe_hours:g} h tail cannot extend a {self.symbol} view")
        if (tail.volume is None, tail.taker_buy is None) != (self.volume is None, self.taker_buy is None):
            raise DomainError("the tail's candles have other columns than the view's (volume, taker buy volume)")
        if len(self) and len(tail) and tail.ts[0] <= self.ts[-1]:
            raise DomainError("the tail must start after the view's last candle")
        names = [name for name in _COLUMNS if getattr(self, name) is not None]
        rows = self._rows or Rows({name: getattr(self, name) for name in names})
        rows = rows.grown(len(self), {name: getattr(tail, name) for name in names})
        columns: dict[str, Any] = {name: rows[name] for name in names}
        return replace(self, _rows=rows, **columns)

    @classmethod
    def from_columns(cls, bundle: BundleColumns) -> MarketView:
        """The same view from a bundle read as arrays (:func:`liqheat.bundle.read_columns`): no pandas."""
        return cls.from_tables(bundle.tables, bundle.timeframe_micros, bundle.meta["symbol"], folder=bundle.folder)

    @classmethod
    def from_arrays(
        cls,
        ts: np.ndarray,
        candles: dict[str, np.ndarray],
        oi: tuple[np.ndarray, np.ndarray],
        funding: tuple[np.ndarray, np.ndarray] | None,
        timeframe_us: int,
        symbol: str,
    ) -> MarketView:
        """Candles keyed by column; open interest and funding as (µs times, values) samples."""
        rates = np.zeros(len(ts))
        if funding is not None:
            rates = np.nan_to_num(_asof(funding[0], funding[1], ts + timeframe_us), nan=0.0)
        return cls(
            ts=ts,
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=candles["close"],
            volume=candles.get("volume"),
            taker_buy=candles.get("taker_buy_volume"),
            oi_before=_asof(oi[0], oi[1], ts),
            oi_after=_asof(oi[0], oi[1], ts + timeframe_us),
            funding=rates,
            timeframe_hours=timeframe_us / 3.6e9,
            symbol=symbol,
        )


_DRIVEN = ("churn", "net_new", "close_frac", "long_share", "dt_hours")


@dataclass(frozen=True)
class Drivers:
    """What the kernel needs per candle, derived from a view and the parameters (vectorised).

    ``churn[t]`` uses only data from before candle t (open interest at its open, the activity of the
    candles before it): it is what candle t can liquidate inside itself. ``net_new[t]`` and
    ``close_frac[t]`` use what candle t's close reveals, and shape only the map for later candles.
    ``volume_sum`` is the running total of the view's volume (None without volume): what the trailing
    activity of candles appended later is computed from.
    """

    churn: np.ndarray
    net_new: np.ndarray
    close_frac: np.ndarray
    long_share: np.ndarray
    dt_hours: np.ndarray
    volume_sum: np.ndarray | None = None
    _rows: Rows | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return int(self.churn.shape[0])

    @property
    def gross(self) -> np.ndarray:
        """Everything opened in each candle."""
        return np.asarray(self.churn + self.net_new)

    def extended(self, view: MarketView, params: ModelParams) -> Drivers:
        """The drivers of ``view``, which extends the view these were computed from: only its new candles are
        computed, each to the same bits as :func:`drivers` of the whole view (every driver of candle t depends
        on candles up to t alone)."""
        start = len(self)
        if len(view) < start or (self.volume_sum is None) != (view.volume is None):
            raise DomainError(f"a view of {len(view)} candles does not extend drivers of {start}")
        tail = _driver_rows(view, params, start, self.volume_sum)
        names = [name for name in (*_DRIVEN, "volume_sum") if getattr(tail, name) is not None]
        rows = self._rows or Rows({name: getattr(self, name) for name in names})
        rows = rows.grown(start, {name: getattr(tail, name) for name in names})
        return replace(self, **{name: rows[name] for name in names}, _rows=rows)


def relative_activity(volume: np.ndarray, window: int) -> np.ndarray:
    """Each candle's volume over the mean of the ``window`` candles before it (1 where unknown).

    Causal: candle t is compared with candles t − window … t − 1 only.
    """
    return _activity(volume, np.cumsum(volume), 0, window, 0, len(volume))


def _activity(volume: np.ndarray, running: np.ndarray, offset: int, window: int, first: int, stop: int) -> np.ndarray:
    """:func:`relative_activity` of candles ``first … stop − 1``, from ``running[i − offset]``, the total of
    ``volume[0 … i]`` (``np.cumsum`` adds in order: a total carried on later has the same bits)."""
    t = np.arange(first, stop)
    start = np.maximum(0, t - window)
    count = t - start

    def before(i: np.ndarray) -> np.ndarray:  # volume[0] + … + volume[i − 1]
        return np.where(i > 0, running[np.maximum(i - 1 - offset, 0)] if len(running) else 0.0, 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, (before(t) - before(start)) / np.maximum(count, 1), np.nan)
        rel = np.where((count > 0) & (mean > 0), volume[first:stop] / mean, 1.0)
    return np.asarray(rel)


def drivers(view: MarketView, params: ModelParams) -> Drivers:
    """Gross opening, fraction closed and long share per candle, from the data and the parameters."""
    return _driver_rows(view, params, 0, None)


def _driver_rows(view: MarketView, params: ModelParams, start: int, volume_sum: np.ndarray | None) -> Drivers:
    """The drivers of candles ``start …`` of ``view`` (``volume_sum``: the running volume of the candles
    before ``start``). Each is elementwise in the candles but the trailing activity, read from the total."""
    n = len(view)
    rows = slice(start, n)
    tf = view.timeframe_hours
    oi_before = np.nan_to_num(view.oi_before[rows], nan=0.0)
    oi_after = np.where(np.isnan(view.oi_after[rows]), oi_before, view.oi_after[rows])
    delta = np.where(np.isnan(view.oi_before[rows]), 0.0, oi_after - oi_before)
    turnover = params.turnover_per_hour * tf * oi_before
    running = None
    if view.volume is not None:
        known = volume_sum[:start] if volume_sum is not None else np.zeros(0)
        if len(known) != start:
            raise DomainError(f"the running volume covers {len(known)} candles, not the {start} before these")
        running = np.cumsum(np.concatenate((known[-1:], view.volume[rows])))[min(1, start) :]
        window = max(1, round(params.volume_window_hours / tf))
        first = max(0, start - 1)
        lo = max(0, first - window - 1)  # the earliest total read
        totals = np.concatenate((known[lo:], running)) if start else running
        previous = _activity(view.volume, totals, lo if start else 0, window, first, max(first, n - 1))
        turnover = turnover * (np.concatenate(([1.0], previous)) if start == 0 else previous)  # known at t's open
    churn = params.at_risk_share * turnover
    net_new = params.at_risk_share * np.maximum(delta, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        close_frac = np.where(oi_before > 0, (turnover + np.maximum(-delta, 0.0)) / oi_before, 0.0)
    close_frac = np.clip(close_frac, 0.0, 1.0)
    high, low, open_, close = view.high[rows], view.low[rows], view.open[rows], view.close[rows]
    rng = high - low
    if view.taker_buy is not None and view.volume is not None:
        volume, taker_buy = view.volume[rows], view.taker_buy[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            signal = np.where(volume > 0, 2.0 * taker_buy / volume - 1.0, 0.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            signal = np.where(rng > 0, (close - open_) / rng, 0.0)
    signal = signal + params.funding_weight * np.clip(view.funding[rows] / 1e-4, -3.0, 3.0)
    long_share = np.clip(0.5 + params.split_damping * np.clip(signal, -1.0, 1.0), 0.05, 0.95)
    dt = np.full(n - start, tf)
    if n > max(1, start):
        first = max(1, start)
        steps = (view.ts[first:] - view.ts[first - 1 : -1]) / 3.6e9
        dt[first - start :] = np.maximum(steps, tf)
    return Drivers(churn=churn, net_new=net_new, close_frac=close_frac, long_share=long_share, dt_hours=dt, volume_sum=running)


def liquidation_offsets(params: ModelParams, symbol: str = "BTC") -> tuple[np.ndarray, np.ndarray]:
    """Log distance from entry to liquidation per leverage bucket, from the venue's exact rule.

    Uses the venue's tier-1 bracket for ``symbol`` (falling back to its BTC table): an isolated
    position at leverage L opened at initial margin. A bucket above the venue's tier-1 maximum is
    taken at that maximum, since nobody can open more there.
    """
    rules = venue_rules(params.venue)
    tables = shipped()
    candidates = [vt for (v, _), vt in tables.items() if v == rules.tables_from and vt.spec.market.kind.value == "linear"]
    if not candidates:
        raise DomainError(f"no linear bracket table for venue {params.venue!r}")
    chosen = next((vt for vt in candidates if vt.spec.market.base == symbol.upper()), None)
    chosen = chosen or next((vt for vt in candidates if vt.spec.market.base == "BTC"), candidates[0])
    levs, _ = params.leverages()
    spec = ContractSpec(Market("X", chosen.spec.market.quote, chosen.spec.market.settle), chosen.spec.contract_size)
    table = chosen
    off_long = np.empty(len(levs))
    off_short = np.empty(len(levs))
    entry = 1_000.0
    contracts = 1e-3 / chosen.spec.contract_size
    cap = table.table.brackets[0].max_leverage
    for i, lev in enumerate(levs):
        for side, out in ((Side.LONG, off_long), (Side.SHORT, off_short)):
            position = Position(spec=spec, side=side, entry_price=entry, contracts=contracts, leverage=float(min(lev, cap)))
            result = calculate(params.venue, _respec(position, table.spec), table=table, strict_leverage=False)
            out[i] = math.log(result.liquidation_price / entry) if result.solution.liquidatable else -20.0
    return off_long, off_short


def _respec(position: Position, spec: ContractSpec) -> Position:
    return Position(spec, position.side, position.entry_price, position.contracts, position.leverage)


MAX_BINS = 2**17
"""Price bins a grid may have: a trader's map keeps 181 frames of it (181 × 2¹⁷ × 16 B ≈ 380 MB); BTC's
span at the default bin width needs about 2,300."""
MAX_CELLS = 2**22
"""Bins × leverage buckets: the state is two float64 arrays of this many cells (64 MiB)."""


def check_grid(n_bins: int, width: float, buckets: int = 1) -> None:
    """Refuse a grid before it is allocated, naming ``bin_width`` and the smallest one that would fit."""
    if n_bins <= MAX_BINS and n_bins * buckets <= MAX_CELLS:
        return
    fits = width * n_bins / min(MAX_BINS, MAX_CELLS // buckets)
    size = f"{n_bins:,} price bins" + (f" × {buckets} leverage buckets" if buckets > 1 else "")
    limit = f"{MAX_BINS:,} bins" + (f" and {MAX_CELLS:,} cells" if buckets > 1 else "")
    raise ParameterError(
        f"bin_width {width:g} needs {size} to cover this market, past the engine's {limit}: use bin_width ≥ {fits:.2g}",
        param="bin_width",
    )


@dataclass(frozen=True)
class Grid:
    """A log-price grid: bin b covers [exp(lo + b·w), exp(lo + (b+1)·w)).

    ``lo`` is snapped down to a whole number ``k0`` of bin widths, so bin edges sit at absolute
    log-prices: two grids of the same width put a price in the same bin whatever their extent.
    """

    lo: float
    width: float
    n_bins: int

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.n_bins > 0 and math.isfinite(self.lo)):
            raise DomainError(f"grid needs a finite lo, width > 0 and bins > 0, got {self.lo}, {self.width}, {self.n_bins}")
        check_grid(self.n_bins, self.width)
        object.__setattr__(self, "lo", self.k0 * self.width)

    @property
    def k0(self) -> int:
        return math.floor(self.lo / self.width + 1e-9)

    @classmethod
    def covering(cls, low: float, high: float, params: ModelParams, off_long: np.ndarray, off_short: np.ndarray) -> Grid:
        lo = math.log(low) + float(off_long.min()) - 0.1
        hi = math.log(high) + float(off_short.max()) + 0.1
        n = math.ceil((hi - lo) / params.bin_width) + 2
        check_grid(n, params.bin_width, params.leverage_buckets)
        return cls(lo=lo, width=params.bin_width, n_bins=n)

    def edges(self) -> np.ndarray:
        return np.asarray(np.exp(self.lo + self.width * np.arange(self.n_bins + 1)))

    def centers(self) -> np.ndarray:
        return np.asarray(np.exp(self.lo + self.width * (np.arange(self.n_bins) + 0.5)))


class Engine:
    """State of outstanding liquidation levels, advanced one candle (or many) at a time."""

    def __init__(self, params: ModelParams, grid: Grid, off_long: np.ndarray, off_short: np.ndarray) -> None:
        check_grid(grid.n_bins, grid.width, params.leverage_buckets)
        self.params = params
        self.grid = grid
        self.leverages, self.weights = params.leverages()
        self.off_long = off_long
        self.off_short = off_short
        self.log_decay = -_LN2 / params.half_lives(self.leverages)
        n_lev = len(self.leverages)
        self.longs = np.zeros((grid.n_bins, n_lev))
        self.shorts = np.zeros((grid.n_bins, n_lev))
        self.g_long = np.ones(n_lev)
        self.g_short = np.ones(n_lev)
        self.tot_long = np.zeros(n_lev)
        self.tot_short = np.zeros(n_lev)
        self.front = np.array([-1, grid.n_bins], dtype=np.int64)
        self.ledger = np.zeros(kernel.LEDGER_SIZE)
        self._out = np.zeros(4)
        self._decay_cache = np.full(n_lev + 1, -1.0)

    @classmethod
    def for_view(cls, view: MarketView, params: ModelParams) -> Engine:
        off_long, off_short = liquidation_offsets(params, view.symbol)
        grid = Grid.covering(float(view.low.min()), float(view.high.max()), params, off_long, off_short)
        return cls(params, grid, off_long, off_short)

    def run(
        self,
        view: MarketView,
        frame_at: np.ndarray | None = None,
        group: int = 1,
        lev_mask: np.ndarray | None = None,
        *,
        start: int = 0,
        stop: int | None = None,
        driven: Drivers | None = None,
        rows: tuple[int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Replay candles [start, stop) of ``view``; returns their predictions (× 4) and the frames.

        ``frame_at`` holds absolute candle indices: frame f is the map after candle ``frame_at[f]``, in display
        bins of ``group`` engine bins, only display rows ``rows`` (first, last) when given: a heatmap reads only
        the rows it shows. Starting past 0 needs the state of candle ``start`` (see :meth:`state`); ``driven``
        spares recomputing the drivers of the whole view for each range.
        """
        d = driven or drivers(view, self.params)
        stop = len(view) if stop is None else stop
        part = slice(start, stop)
        frames_at = np.asarray(frame_at if frame_at is not None else np.empty(0, dtype=np.int64), dtype=np.int64)
        if stop > start:
            self._ensure_covers(float(view.low[part].min()), float(view.high[part].max()))
        n_out = -(-self.grid.n_bins // group)  # on the grid the candles need: frames after a growth are whole
        row0 = 0
        if rows is not None:
            if not 0 <= rows[0] <= rows[1] < n_out:
                raise DomainError(f"rows {rows[0]} … {rows[1]} are outside the map's 0 … {n_out - 1}")
            row0, n_out = rows[0], rows[1] - rows[0] + 1
        frames_long = np.zeros((len(frames_at), n_out))
        frames_short = np.zeros((len(frames_at), n_out))
        mask = np.ones(len(self.leverages), dtype=np.bool_) if lev_mask is None else np.asarray(lev_mask, dtype=np.bool_)
        predictions = np.zeros((stop - start, 4))
        kernel.replay(
            self.longs, self.shorts, self.g_long, self.g_short, self.tot_long, self.tot_short, self.front, self.ledger,
            self.grid.k0, 1.0 / self.grid.width, view.high[part], view.low[part], d.churn[part], d.net_new[part],
            d.close_frac[part], d.long_share[part], d.dt_hours[part], self.off_long, self.off_short, self.weights,
            self.log_decay, self.params.intra_sweep, self.params.entry_points, self._decay_cache, predictions, self._out,
            frames_at - start, mask, group, row0, frames_long, frames_short,
        )  # fmt: skip
        return predictions, frames_long, frames_short

    _STATE = ("longs", "shorts", "g_long", "g_short", "tot_long", "tot_short", "front", "ledger", "_decay_cache")

    def state(self) -> dict[str, np.ndarray]:
        """A copy of everything the next candle depends on (a checkpoint)."""
        return {name: getattr(self, name).copy() for name in self._STATE}

    def restore(self, saved: dict[str, np.ndarray], grid: Grid | None = None) -> None:
        """Go back to a checkpoint taken with :meth:`state` on this grid, or on ``grid`` (of the same bin width,
        with every level inside this one): bins sit at absolute log-prices, so moving is a shift."""
        if grid is not None and grid != self.grid:
            saved = moved(saved, grid, self.grid)
        elif saved["longs"].shape != self.longs.shape:
            raise DomainError("checkpoint was taken on another grid")
        for name in self._STATE:
            setattr(self, name, saved[name].copy())

    def update(
        self, high: float, low: float, churn: float, close_frac: float, long_share: float, dt_hours: float, net_new: float = 0.0
    ) -> np.ndarray:
        """Advance one candle (live use); returns [swept long, swept short, intra long, intra short].

        The same compiled step as :meth:`run`, in O(levels touched). The grid grows when the price
        leaves it.
        """
        checks = (
            (
                math.isfinite(high) and math.isfinite(low) and 0 < low <= high,
                f"candle needs 0 < low ≤ high, got low {low}, high {high}",
            ),
            (math.isfinite(churn) and churn >= 0 and math.isfinite(net_new) and net_new >= 0, "churn and net_new must be ≥ 0"),
            (0 <= close_frac <= 1, f"close_frac must be in [0, 1], got {close_frac}"),
            (0 <= long_share <= 1, f"long_share must be in [0, 1], got {long_share}"),
            (math.isfinite(dt_hours) and dt_hours >= 0, f"dt_hours must be ≥ 0, got {dt_hours}"),
        )
        for ok, message in checks:
            if not ok:
                raise DomainError(message)
        self._ensure_covers(low, high, opens=churn + net_new > 0)
        kernel.step(
            self.longs, self.shorts, self.g_long, self.g_short, self.tot_long, self.tot_short, self.front, self.ledger,
            self.grid.k0, 1.0 / self.grid.width, high, low, churn, net_new, close_frac, long_share, self.off_long,
            self.off_short, self.weights, self.log_decay, dt_hours, self.params.intra_sweep, self.params.entry_points,
            self._decay_cache, self._out,
        )  # fmt: skip
        return self._out.copy()

    def _ensure_covers(self, low: float, high: float, opens: bool = True) -> None:
        """Grow the grid (never shrink it) so that a candle in [low, high] lies inside it and, if it
        ``opens`` positions, so does every level it creates."""
        grid = self.grid
        below = float(self.off_long.min()) - 0.05 if opens else 0.0
        above = float(self.off_short.max()) + 0.05 if opens else 0.0
        need_lo = math.floor((math.log(low) + below) / grid.width)
        need_hi = math.ceil((math.log(high) + above) / grid.width)
        add_below = max(0, grid.k0 - need_lo)
        add_above = max(0, need_hi - (grid.k0 + grid.n_bins - 1))
        if not (add_below or add_above):
            return
        pad_below = add_below + (grid.n_bins // 4 if add_below else 0)
        pad_above = add_above + (grid.n_bins // 4 if add_above else 0)
        n_lev = self.longs.shape[1]
        n = grid.n_bins + pad_below + pad_above
        check_grid(n, grid.width, n_lev)
        for name in ("longs", "shorts"):
            grown = np.zeros((n, n_lev))
            grown[pad_below : pad_below + grid.n_bins] = getattr(self, name)
            setattr(self, name, grown)
        top, bottom = int(self.front[0]), int(self.front[1])
        self.front[0] = top + pad_below if top >= 0 else -1
        self.front[1] = bottom + pad_below if bottom < grid.n_bins else n
        self.grid = Grid(lo=(grid.k0 - pad_below) * grid.width, width=grid.width, n_bins=n)

    def at_risk(self, lev_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Notional at risk per engine bin, long and short."""
        mask = np.ones(len(self.leverages), dtype=np.bool_) if lev_mask is None else np.asarray(lev_mask, dtype=np.bool_)
        long_out = np.zeros(self.grid.n_bins)
        short_out = np.zeros(self.grid.n_bins)
        kernel.snapshot(self.longs, self.shorts, self.g_long, self.g_short, mask, 1, 0, long_out, short_out)
        return long_out, short_out

    @property
    def total_at_risk(self) -> float:
        return float(self.tot_long.sum() + self.tot_short.sum())

    def rescale(self, total: float) -> None:
        """Scale the whole map so that the notional at risk equals ``total`` (e.g. open interest)."""
        current = self.total_at_risk
        if current <= 0:
            return
        f = total / current
        self.g_long *= f
        self.g_short *= f
        self.tot_long *= f
        self.tot_short *= f


def moved(saved: dict[str, np.ndarray], source: Grid, target: Grid) -> dict[str, np.ndarray]:
    """An engine state taken on ``source`` as it stands on ``target`` (same bin width): the bins ``target``
    lacks must be empty, which they are when it covers every candle and level the state has seen."""
    if source.width != target.width:
        raise DomainError(f"a state on bins of {source.width:g} cannot move to bins of {target.width:g}")
    shift = source.k0 - target.k0
    lo, hi = max(0, -shift), min(source.n_bins, target.n_bins - shift)
    out = dict(saved)
    for name in ("longs", "shorts"):
        values = saved[name]
        kept = values[lo:hi] if hi > lo else values[:0]
        if np.count_nonzero(values) != np.count_nonzero(kept):
            raise DomainError("the target grid lacks bins that hold levels")
        out[name] = np.zeros((target.n_bins, values.shape[1]))
        out[name][lo + shift : hi + shift] = kept
    top, bottom = int(saved["front"][0]), int(saved["front"][1])
    top = max(-1, min(top + shift, target.n_bins - 1)) if top >= 0 else -1
    bottom = min(max(bottom + shift, 0), target.n_bins) if bottom < source.n_bins else target.n_bins
    out["front"] = np.array([top, bottom], dtype=np.int64)
    return out


def predicted_sides(view: MarketView, params: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-candle predicted liquidations (USD) of a causal replay: longs, shorts (inside and at the close)."""
    predictions, _, _ = Engine.for_view(view, params).run(view)
    return predictions[:, 0] + predictions[:, 2], predictions[:, 1] + predictions[:, 3]
