"""The map a trader reads: notional at risk per price bin at one time, with its recent past.

Every trader analytic (clusters, confluence, cascades, the planner, sentiment) starts from a
:class:`MarketMap`, built by one causal replay up to the chosen candle. Causal to the last bit: the map
at a candle is exactly the map of the market cut after that candle (:func:`known_grid`).
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
from liqheat.timeutil import iso

VOL_WINDOW_H = 72.0  # three days of ranges: long enough to be stable, short enough to follow a regime change
_PARKINSON = 1.0 / (4.0 * math.log(2.0))
HISTORY = pd.Timedelta(days=30)
HISTORY_POINTS = 180  # earlier maps kept over HISTORY, to date the clusters


@dataclass(frozen=True)
class MarketMap:
    """Long and short notional at risk (USD) per price bin after candle ``index`` closed."""

    symbol: str
    index: int
    ts: pd.Timestamp  # the close of candle ``index``: the time the map describes
    price: float
    edges: np.ndarray
    long: np.ndarray
    short: np.ndarray
    atr_pct: float  # average true range of the last 14 hourly bars, % of price (atr_pcts)
    timeframe: pd.Timedelta
    past_ts: tuple[pd.Timestamp, ...]  # earlier maps, newest first, for the age of a band
    past_long: np.ndarray  # (len(past_ts), bins)
    past_short: np.ndarray
    sigma_hour: float = 0.0  # volatility of log price per √hour (sigma_per_hour): what reaching a level depends on

    @property
    def centers(self) -> np.ndarray:
        centers: np.ndarray = np.sqrt(self.edges[:-1] * self.edges[1:])
        return centers

    def at_risk(self) -> tuple[np.ndarray, np.ndarray]:
        """Only what can still liquidate: longs below price, shorts above it."""
        below = self.centers < self.price
        return np.where(below, self.long, 0.0), np.where(below, 0.0, self.short)


def sigma_per_hour(high: np.ndarray, low: np.ndarray, index: int, timeframe_hours: float) -> float:
    """Parkinson volatility of log price per √hour from the candles of the last :data:`VOL_WINDOW_H` hours
    up to and including candle ``index`` (known once it closes)."""
    count = max(1, round(VOL_WINDOW_H / timeframe_hours))
    lo = max(0, index - count + 1)
    ranges = np.log(high[lo : index + 1] / low[lo : index + 1])
    return float(math.sqrt(_PARKINSON * float(np.mean(ranges**2)) / timeframe_hours))


ATR_HOURS = 14  # the ATR's horizon: 14 hourly bars, whatever the candles' timeframe


def atr_pcts(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, timeframe: pd.Timedelta, hours: int = ATR_HOURS
) -> np.ndarray:
    """The ATR in % of price after each candle: the mean true range ÷ close of the last ``hours`` hourly bars.

    Hourly bars, not candles, so that a distance in ATRs means the same on 1-minute candles as on hourly
    ones (14 one-minute ranges are a fraction of an hour's, and put every cluster hundreds of ATRs away).
    A bar is the ``round(1 h / timeframe)`` candles up to one that closes on the bar's end, ending at the
    map's close; its true range reaches back to the close a bar earlier (the first candle's open at the
    start of the data). Candles longer than an hour are bars of their own, their ranges scaled to an hour
    by √(1 h / timeframe), the random-walk rule.
    """
    hour_share = timeframe / pd.Timedelta(hours=1)
    per_bar = max(1, round(1 / hour_share))
    bar_high = pd.Series(high).rolling(per_bar, min_periods=1).max().to_numpy()
    bar_low = pd.Series(low).rolling(per_bar, min_periods=1).min().to_numpy()
    prev = np.concatenate((np.full(min(per_bar, len(close)), open_[0] if len(open_) else np.nan), close[:-per_bar]))
    true_range = np.maximum(bar_high - bar_low, np.maximum(np.abs(bar_high - prev), np.abs(bar_low - prev))) / close
    out = np.empty(len(close))
    for r in range(min(per_bar, len(close))):  # the bars ending at candle i are candles i, i - per_bar, …
        out[r::per_bar] = pd.Series(true_range[r::per_bar]).rolling(hours, min_periods=1).mean().to_numpy()
    scale = math.sqrt(1 / hour_share) if hour_share > 1 else 1.0
    return np.asarray(out * 100 * scale)


def atr_pct(candles: pd.DataFrame, index: int, timeframe: pd.Timedelta, hours: int = ATR_HOURS) -> float:
    """:func:`atr_pcts` after candle ``index`` alone."""
    o, h, lw, c = (candles[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    return true_range_pct(o, h, lw, c, index, timeframe, hours)


def true_range_pct(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    index: int,
    timeframe: pd.Timedelta,
    hours: int = ATR_HOURS,
) -> float:
    """:func:`atr_pcts` after candle ``index``, from the candles it needs, on a view's arrays: a live market asks
    on every candle, and pandas would take longer than the replay."""
    hour_share = timeframe / pd.Timedelta(hours=1)
    per_bar = max(1, round(1 / hour_share))
    ranges = []
    for k in range(hours):
        end = index - k * per_bar
        if end < 0:
            break
        start = max(0, end - per_bar + 1)
        bar_high, bar_low = float(high[start : end + 1].max()), float(low[start : end + 1].min())
        prev = float(close[end - per_bar]) if end - per_bar >= 0 else float(open_[0])
        ranges.append(max(bar_high - bar_low, abs(bar_high - prev), abs(bar_low - prev)) / float(close[end]))
    scale = math.sqrt(1 / hour_share) if hour_share > 1 else 1.0
    return float(np.mean(ranges) * 100 * scale)


def history_stride(step: pd.Timedelta, history: pd.Timedelta = HISTORY, points: int = HISTORY_POINTS) -> int:
    """Candles between two past maps: ``points`` of them over ``history``."""
    back = max(1, int(history / step))
    return max(1, back // points) if points > 0 else back + 1


def past_candles(index: int, step: pd.Timedelta, history: pd.Timedelta = HISTORY, points: int = HISTORY_POINTS) -> list[int]:
    """The candles after which the past maps of the map after ``index`` are taken, newest first: every
    :func:`history_stride`-th candle counted from the first (those whose close is a multiple of the stride),
    over ``history`` before ``index``. Counted from the first candle, not from ``index``, so that the map of
    the next candle shares them and a growing market finds them kept (:class:`~liqheat.engine.timeline.Timeline`)."""
    if points <= 0:
        return []
    back = max(1, int(history / step))
    stride = history_stride(step, history, points)
    newest = stride * (index // stride) - 1
    return [i for i in range(newest, max(-1, index - back - 1), -stride) if i >= 0]


def index_at(bundle: Bundle, at: pd.Timestamp | None, *, what: str = "at", name: str = "the bundle") -> int:
    """The last candle that has closed by ``at`` (the last candle when None): the one causal rule.

    A candle's high and low are known only when it closes, so at 05:30 on 1-hour candles the map is the
    one after the 04:00 candle, never one that has seen the 05:00 candle. The CLI and the API both ask
    here; ``what`` (``--at``, ``at``) and ``name`` (the bundle, a market id) word the error for the asker.
    """
    ts = bundle.candles["ts"]
    step = bundle.meta.timeframe_delta
    if at is None:
        return len(ts) - 1
    i = int(ts.searchsorted(at - step, side="right")) - 1
    if i < 0 or at > ts.iloc[-1] + step:
        raise DomainError(f"{what} {iso(at)} is outside {name} ({iso(ts.iloc[0] + step)} … {iso(ts.iloc[-1] + step)})")
    return i


def market_map(
    bundle: Bundle,
    params: ModelParams | None = None,
    at: pd.Timestamp | None = None,
    *,
    history: pd.Timedelta = HISTORY,
    history_points: int = HISTORY_POINTS,
    view: MarketView | None = None,
    index: int | None = None,
    timeline: Timeline | None = None,
) -> MarketMap:
    """The map after ``at`` (or candle ``index``) plus ``history_points`` earlier maps over ``history``.

    Without a ``timeline`` it replays from the first candle; with the market's kept :class:`Timeline`
    (same bundle and parameters) from its last checkpoint before the earliest map wanted. The maps are
    the same to the last bit (tests/analytics/test_maps.py); the server keeps a timeline, the CLI does not.
    """
    params = params or ModelParams()
    if index is None:
        index = index_at(bundle, at)
    elif not 0 <= index < len(bundle.candles):
        raise DomainError(f"candle index {index} is outside the bundle (0 … {len(bundle.candles) - 1})")
    if timeline is not None and (timeline.params != params or len(timeline.view) != len(bundle.candles)):
        raise DomainError("the timeline was built from another bundle or other parameters")
    view = timeline.view if timeline is not None else view or MarketView.from_bundle(bundle)
    past = past_candles(index, bundle.meta.timeframe_delta, history, history_points)  # none: the route needs no ages
    step = bundle.meta.timeframe_delta
    if timeline is not None:
        grid = Grid.covering(*timeline.span(index), params, timeline.off_long, timeline.off_short)  # known_grid's
        long, short = timeline.maps_after(np.array([index]))

        def dated() -> tuple[np.ndarray, np.ndarray, tuple[pd.Timestamp, ...]]:
            return *timeline.past_maps(past, grid), tuple(bundle.candles["ts"].iloc[past] + step)

        key = ("past", tuple(past), grid, step)
        past_long, past_short, past_ts = timeline.remembered(key, dated) if past else dated()
        return _assembled(bundle, view, grid, index, on_grid(long, timeline.grid, grid)[0],
                          on_grid(short, timeline.grid, grid)[0], past_ts, past_long, past_short)  # fmt: skip
    engine = Engine.for_view(view, params)
    frames = np.array([*past[::-1], index], dtype=np.int64)  # the kernel writes frames in time order
    _, ascending_long, ascending_short = engine.run(view, frame_at=frames, stop=index + 1)
    grid = known_grid(view, params, engine.off_long, engine.off_short, index)
    long, short = on_grid(ascending_long[::-1], engine.grid, grid), on_grid(ascending_short[::-1], engine.grid, grid)
    past_ts = tuple(bundle.candles["ts"].iloc[past] + step)
    return _assembled(bundle, view, grid, index, long[0], short[0], past_ts, long[1:], short[1:])


def maps_at(bundle: Bundle, params: ModelParams, indices: np.ndarray, view: MarketView | None = None) -> list[MarketMap]:
    """The map after each candle in ``indices`` (ascending), from one replay; without past maps (no ages).

    Each is bit for bit :func:`market_map` at that candle: the same replay, cut to the same known grid."""
    view = view or MarketView.from_bundle(bundle)
    frames = np.asarray(indices, dtype=np.int64)
    if frames.size and (np.any(np.diff(frames) <= 0) or frames[0] < 0 or frames[-1] >= len(view)):
        raise DomainError(f"candle indices must rise within the bundle (0 … {len(view) - 1})")
    engine = Engine.for_view(view, params)
    _, long, short = engine.run(view, frame_at=frames, stop=int(frames[-1]) + 1 if frames.size else 0)
    maps = []
    for row, index in enumerate(frames.tolist()):
        grid = known_grid(view, params, engine.off_long, engine.off_short, index)
        at_long, at_short = on_grid(long[row : row + 1], engine.grid, grid), on_grid(short[row : row + 1], engine.grid, grid)
        maps.append(_assembled(bundle, view, grid, index, at_long[0], at_short[0], (), at_long[1:], at_short[1:]))
    return maps


def _assembled(
    bundle: Bundle,
    view: MarketView,
    grid: Grid,
    index: int,
    long: np.ndarray,
    short: np.ndarray,
    past_ts: tuple[pd.Timestamp, ...],
    past_long: np.ndarray,
    past_short: np.ndarray,
) -> MarketMap:
    """The map after candle ``index`` on ``grid`` (the one a replay up to ``index`` alone would use), with the past
    maps (newest first) on it."""
    ts, step = bundle.candles["ts"], bundle.meta.timeframe_delta
    return MarketMap(
        symbol=bundle.meta.symbol,
        index=index,
        ts=ts.iloc[index] + step,
        price=float(view.close[index]),
        edges=edges_of(grid),
        long=long,
        short=short,
        atr_pct=true_range_pct(view.open, view.high, view.low, view.close, index, step),
        timeframe=step,
        past_ts=past_ts,
        past_long=past_long,
        past_short=past_short,
        sigma_hour=sigma_per_hour(view.high, view.low, index, step.total_seconds() / 3600),
    )


def known_grid(view: MarketView, params: ModelParams, off_long: np.ndarray, off_short: np.ndarray, index: int) -> Grid:
    """The grid a replay of candles 0 … ``index`` alone would use.

    The engine's grid spans every candle of the market, later ones too: a map on it would carry where
    prices went afterwards, if only in the last bits of its sums. On this grid it carries nothing later.
    """
    low, high = float(view.low[: index + 1].min()), float(view.high[: index + 1].max())
    return Grid.covering(low, high, params, off_long, off_short)


def on_grid(maps: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Rows of ``source``'s bins as rows of ``target``'s (same bin width); bins ``source`` lacks are empty.

    Exact: bins sit at absolute log-prices, and a replay never puts a level outside the grid covering
    its candles, so what is cut off is zero.
    """
    out = np.zeros((maps.shape[0], target.n_bins))
    shift = target.k0 - source.k0
    lo, hi = max(shift, 0), min(shift + target.n_bins, source.n_bins)
    if hi > lo:
        out[:, lo - shift : hi - shift] = maps[:, lo:hi]
    return out


def edges_of(grid: Grid) -> np.ndarray:
    """Bin edges from whole bin numbers, so an edge has the same value on every grid that holds it."""
    return np.asarray(np.exp(grid.width * (grid.k0 + np.arange(grid.n_bins + 1))))
