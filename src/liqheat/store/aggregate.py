"""Several venues' series for one coin, as one market: a common time grid, one quote currency (USD),
summed open interest and liquidations, and a status per venue (fresh, lagging, with gaps).

Stale data is never carried in: a venue's open interest counts at a grid time only if its latest
sample is recent enough (``max_stale``). When a venue is missing, the total is scaled up by that venue's
share at the last time every venue was present, and the row is flagged, so a venue dropping out reads
as a hole in coverage, not as positions closing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from liqheat.bundle import Bundle, BundleMeta
from liqheat.model import DomainError, Market
from liqheat.store.parquet_store import FileId, Series, Store
from liqheat.timeutil import epoch_micros, find_gaps, iso, parse_duration
from liqheat.venues.registry import spec

USD_RATES: dict[str, float] = {"USD": 1.0, "USDT": 1.0, "USDC": 1.0, "FDUSD": 1.0, "BUSD": 1.0}


@dataclass(frozen=True)
class Feed:
    """One venue's market, as it is stored."""

    venue: str
    market: Market

    @property
    def label(self) -> str:
        return f"{self.venue}:{self.market.unified}"


def parse_feeds(venues: Sequence[str], symbol: str | None) -> list[Feed]:
    """``binance`` (with ``symbol``) or ``binance:BTCUSD_PERP``: the venue's spelling is resolved per venue."""
    from liqheat.venues.symbols import resolve

    feeds = []
    for item in venues:
        venue, _, own = item.partition(":")
        text = own or symbol
        if not text:
            hint = f"give the symbol too, or the market after a colon (e.g. {venue}:BTCUSDT)"
            raise DomainError(f"venue {item}: {hint}", param="venue")
        feeds.append(Feed(venue.strip().lower(), resolve(text, venue)))
    if len({f.label for f in feeds}) != len(feeds):
        raise DomainError(f"venue lists a market twice: {', '.join(f.label for f in feeds)}", param="venue")
    bases = {f.market.base for f in feeds}
    if len(bases) > 1:
        raise DomainError(f"venues must trade the same coin to be aggregated, got {', '.join(sorted(bases))}")
    return feeds


@dataclass
class VenueStatus:
    venue: str
    symbol: str
    first: pd.Timestamp | None
    last_candle: pd.Timestamp | None
    last_open_interest: pd.Timestamp | None
    last_liquidation: pd.Timestamp | None
    lag: pd.Timedelta | None
    state: str
    candle_gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)
    stream_gaps: list[tuple[pd.Timestamp, pd.Timestamp, str]] = field(default_factory=list)
    oi_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        def maybe_iso(ts: pd.Timestamp | None) -> str | None:
            return None if ts is None else iso(ts)

        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "state": self.state,
            "first": maybe_iso(self.first),
            "last_candle": maybe_iso(self.last_candle),
            "last_open_interest": maybe_iso(self.last_open_interest),
            "last_liquidation": maybe_iso(self.last_liquidation),
            "lag_seconds": None if self.lag is None else self.lag.total_seconds(),
            "oi_share": self.oi_share,
            "candle_gaps": [[maybe_iso(a), maybe_iso(b)] for a, b in self.candle_gaps],
            "stream_gaps": [[maybe_iso(a), maybe_iso(b), s] for a, b, s in self.stream_gaps],
        }


@dataclass
class Aggregate:
    bundle: Bundle
    status: list[VenueStatus]
    venue_oi: pd.DataFrame  # ts + one USD column per venue label (NaN where stale)
    scaled_rows: int


def _rate(currency: str, rates: dict[str, float]) -> float:
    if currency not in rates:
        raise DomainError(f"no USD rate for {currency}; pass one (e.g. --rate {currency}=1.0)")
    return rates[currency]


def feed_series(feed: Feed, timeframe: str) -> tuple[Series, ...]:
    """What :func:`aggregate` reads of one venue: candles, open interest, funding, liquidations, gaps."""
    m = feed.market
    return (
        Series("candles", feed.venue, m.unified, timeframe),
        *(Series(kind, feed.venue, m.unified) for kind in ("open_interest", "funding", "liquidations", "gaps")),
    )


def aggregate(
    store: Store,
    feeds: Sequence[Feed],
    timeframe: str,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
    *,
    rates: dict[str, float] | None = None,
    max_stale: pd.Timedelta | None = None,
    now: pd.Timestamp | None = None,
) -> Aggregate:
    step, rates, max_stale = _settings(feeds, timeframe, rates, max_stale)
    data = [(feed, *(store.read(s, since, until) for s in feed_series(feed, timeframe))) for feed in feeds]
    return _aggregated(store, feeds, timeframe, step, data, rates, max_stale, now)[0]


def _settings(
    feeds: Sequence[Feed], timeframe: str, rates: dict[str, float] | None, max_stale: pd.Timedelta | None
) -> tuple[pd.Timedelta, dict[str, float], pd.Timedelta]:
    if not feeds:
        raise DomainError("aggregate needs at least one venue")
    step = parse_duration(timeframe, "timeframe")
    rates = {**USD_RATES, **(rates or {})}
    max_stale = max_stale if max_stale is not None else max(step * 2, pd.Timedelta(hours=1))
    for feed in feeds:
        _rate(feed.market.quote, rates)
    return step, rates, max_stale


@dataclass
class _GridRows:
    """What aggregation puts on grid rows: the candles (rows some venue has), each venue's open interest, the total
    (rows where it exists) and whether it was scaled up from the venues present."""

    candles: pd.DataFrame
    venue_oi: pd.DataFrame
    oi: pd.DataFrame
    scaled: np.ndarray


@dataclass(frozen=True)
class _Seen:
    """What a venue's status reads of its series."""

    first: pd.Timestamp | None
    last: pd.Timestamp | None
    last_oi: pd.Timestamp | None
    last_liq: pd.Timestamp | None
    candle_gaps: list[tuple[pd.Timestamp, pd.Timestamp]]
    stream_gaps: list[tuple[pd.Timestamp, pd.Timestamp, str]]


def _aggregated(
    store: Store,
    feeds: Sequence[Feed],
    timeframe: str,
    step: pd.Timedelta,
    data: list[Any],
    rates: dict[str, float],
    max_stale: pd.Timedelta,
    now: pd.Timestamp | None,
) -> tuple[Aggregate, np.ndarray, list[_Seen]]:
    """The aggregate of every venue's whole series (``data``: per feed, the feed then its candles, open interest,
    funding, liquidations and gaps), with the per-row scaling flags and what the status read of each venue."""
    have = [d for d in data if not d[1].empty]
    if not have:
        raise DomainError(
            f"the store {store.root} has no {timeframe} candles of {', '.join(f.label for f in feeds)} in that range"
        )
    start = min(d[1]["ts"].iloc[0] for d in have)
    stop = max(d[1]["ts"].iloc[-1] for d in have) + step
    cols = [f.label for f in feeds]
    rows = _grid_rows(data, _grid(start, stop, step), rates, max_stale, cols)
    seen = [_seen_of(candles, oi, liq, gaps, step) for _, candles, oi, _, liq, gaps in data]
    funding = [(feed.label, frame) for feed, _, _, frame, _, _ in data]
    agg = _assembled(store, feeds, timeframe, step, rows, _liquidations(data, rates), funding, seen, now)
    return agg, rows.scaled, seen


def _grid_rows(
    data: list[Any], grid: np.ndarray, rates: dict[str, float], max_stale: pd.Timedelta, cols: list[str],
    seed: np.ndarray | None = None,
) -> _GridRows:  # fmt: skip
    """The rows of ``grid`` (µs times) from every venue's candles at those times and open interest samples up to them
    (a sample older than ``max_stale`` counts as none). ``seed``: each venue's open interest at the last row before
    the grid where every venue had one (what a venue missing at the grid's first rows is scaled from), or None when
    there is no row before the grid. In arrays: a store market does this on every candle, and a frame's merges and
    masked assignments cost milliseconds each whatever the rows."""
    n = len(grid)
    # candles: the first listed venue that has each candle, in USD
    price = {c: np.full(n, np.nan) for c in ("open", "high", "low", "close", "volume")}
    for feed, candles, *_ in data:
        if candles.empty:
            continue
        rate = _rate(feed.market.quote, rates)
        at, found = _at(epoch_micros(candles["ts"]), grid)
        close = np.where(found, candles["close"].to_numpy(np.float64)[at], np.nan)
        take = np.isnan(price["close"]) & ~np.isnan(close)
        for col in ("open", "high", "low", "close"):
            price[col][take] = candles[col].to_numpy(np.float64)[at[take]] * rate
        price["volume"][take] = candles["volume"].to_numpy(np.float64)[at[take]]
    filled = ~np.isnan(price["close"])

    # open interest: per venue, the latest sample at or before each time if it is fresh, in USD
    stale = max_stale.value // 1000
    venue_oi: dict[str, np.ndarray] = {}
    for feed, _, oi, *_ in data:
        col = feed.label
        if oi.empty or "oi_usd" not in oi:
            venue_oi[col] = np.full(n, np.nan)
            continue
        rate = _rate(feed.market.quote if feed.market.kind.value == "linear" else "USD", rates)
        usd = oi["oi_usd"].to_numpy(np.float64)
        keep = ~np.isnan(usd) & oi["ts"].notna().to_numpy()
        sample_ts, usd = epoch_micros(oi["ts"][keep]), usd[keep]
        order = np.argsort(sample_ts, kind="stable")
        sample_ts, usd = sample_ts[order], usd[order]
        k = np.searchsorted(sample_ts, grid, side="right") - 1
        fresh = (k >= 0) & (grid - sample_ts[np.maximum(k, 0)] <= stale) if len(sample_ts) else np.zeros(n, dtype=bool)
        venue_oi[col] = np.where(fresh, usd[np.maximum(k, 0)] * rate if len(usd) else np.nan, np.nan)
    values = np.column_stack([venue_oi[c] for c in cols]) if cols else np.zeros((n, 0))
    if seed is None:
        total, scaled = _total_oi(values, ~np.isnan(values))
    else:
        with_seed = np.vstack([seed[None, :], values])
        total, scaled = (a[1:] for a in _total_oi(with_seed, ~np.isnan(with_seed)))
    has = ~np.isnan(total)
    oi_frame = pd.DataFrame({"ts": _times(grid[has]), "oi_usd": total[has]})
    candles_out = pd.DataFrame({"ts": _times(grid[filled]), **{c: v[filled] for c, v in price.items()}})
    return _GridRows(candles_out, pd.DataFrame({"ts": _times(grid), **venue_oi}), oi_frame, scaled)


def _at(ts: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each grid time, the row of ``ts`` (sorted, distinct) at that time, and whether there is one."""
    if not len(ts):
        return np.zeros(len(grid), dtype=np.int64), np.zeros(len(grid), dtype=bool)
    at = np.minimum(np.searchsorted(ts, grid, side="left"), len(ts) - 1)
    return at, ts[at] == grid


def _times(us: np.ndarray) -> pd.Series:
    """µs since the epoch as a UTC time column (the store's unit)."""
    return pd.Series(pd.DatetimeIndex(np.asarray(us, dtype=np.int64).view("datetime64[us]")).tz_localize("UTC"))


def _grid(start: pd.Timestamp, stop: pd.Timestamp, step: pd.Timedelta) -> np.ndarray:
    """The grid times in [start, stop) every ``step``, as µs since the epoch."""
    width = step.value // 1000
    first = start.value // 1000
    return np.arange(first, stop.value // 1000, width, dtype=np.int64) if stop > start else np.zeros(0, dtype=np.int64)


def _liquidations(data: list[Any], rates: dict[str, float]) -> pd.DataFrame | None:
    """Every venue's liquidations in USD, in time order (a venue listed first before a later one at the same time)."""
    liq_parts = []
    for feed, _, _, _, liq, _ in data:
        if liq.empty:
            continue
        rate = _rate(feed.market.quote if feed.market.kind.value == "linear" else "USD", rates)
        part = liq[["ts", "side", "usd", "price"]].copy()
        part["usd"] = part["usd"] * rate
        part["price"] = part["price"] * _rate(feed.market.quote, rates)
        liq_parts.append(part)
    if not liq_parts:
        return None
    out: pd.DataFrame = pd.concat(liq_parts, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    return out


def _seen_of(candles: pd.DataFrame, oi: pd.DataFrame, liq: pd.DataFrame, gaps: pd.DataFrame, step: pd.Timedelta) -> _Seen:
    return _Seen(
        first=candles["ts"].iloc[0] if not candles.empty else None,
        last=candles["ts"].iloc[-1] if not candles.empty else None,
        last_oi=oi["ts"].iloc[-1] if not oi.empty else None,
        last_liq=liq["ts"].iloc[-1] if not liq.empty else None,
        candle_gaps=find_gaps(candles["ts"], step) if not candles.empty else [],
        stream_gaps=_stream_gaps(gaps),
    )


def _stream_gaps(gaps: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    rows = [(g.ts, g.until, str(g.stream)) for g in gaps.itertuples()] if not gaps.empty else []
    return cast(list[tuple[pd.Timestamp, pd.Timestamp, str]], rows)


def _last_valid(values: np.ndarray) -> np.ndarray:
    """Each column's last value that is not NaN (NaN for a column with none): the venues' last known open interest,
    looked for from the end a stretch at a time (a venue's is most often on the last rows)."""
    out = np.full(values.shape[1], np.nan)
    for j in range(values.shape[1]):
        column = values[:, j]
        end, stretch = len(column), 1024
        while end > 0:
            begin = max(0, end - stretch)
            found = np.flatnonzero(~np.isnan(column[begin:end]))
            if found.size:
                out[j] = column[begin + int(found[-1])]
                break
            end, stretch = begin, stretch * 4
    return out


def _assembled(
    store: Store,
    feeds: Sequence[Feed],
    timeframe: str,
    step: pd.Timedelta,
    rows: _GridRows,
    liquidations: pd.DataFrame | None,
    funding: list[tuple[str, pd.DataFrame]],
    seen: list[_Seen],
    now: pd.Timestamp | None,
    last_oi: np.ndarray | None = None,
) -> Aggregate:
    """The aggregate of grid rows (all of them), liquidations, every venue's funding and what its status reads.
    ``last_oi``: each venue's last known open interest, when the caller knows it without reading every row."""
    if rows.oi.empty:
        raise DomainError("no time where every venue has fresh open interest: fetch or follow open interest first")
    cols = [f.label for f in feeds]
    funding_out = _funding(funding, rows.venue_oi, cols)
    end = now if now is not None else max(s.last for s in seen if s.last is not None) + step
    if last_oi is None:
        last_oi = _last_valid(rows.venue_oi[cols].to_numpy(dtype="float64"))
    status = _status(feeds, seen, step, end, last_oi)
    candles_out = rows.candles
    market = feeds[0].market
    meta = BundleMeta(
        symbol=market.base,
        contract=market.kind,
        quote="USD",
        timeframe=timeframe,
        venues=tuple(f.venue for f in feeds),
        source=f"liqheat store {store.root}: {', '.join(f.label for f in feeds)}",
        funding_interval="8h" if funding_out is not None else None,
        liquidations_interval="1h" if liquidations is not None else None,
        score_from=candles_out["ts"].iloc[0] + pd.Timedelta(days=1) if liquidations is not None else None,
        notes=_notes(feeds, int(rows.scaled.sum()), status),
        extra={"venue_status": [s.to_dict() for s in status]},
    )
    bundle = Bundle(meta=meta, candles=candles_out, open_interest=rows.oi, funding=funding_out, liquidations=liquidations)
    return Aggregate(bundle=bundle, status=status, venue_oi=rows.venue_oi, scaled_rows=int(rows.scaled.sum()))


def _total_oi(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open interest over every venue per row: the sum where every venue has a fresh sample; elsewhere what the
    venues present hold, scaled up by their share of the last row where all had one (when its total was positive).
    Row by row in Python this took half of a store market's refresh."""
    n = len(values)
    full = present.all(axis=1)
    sums = np.where(present, values, 0.0).sum(axis=1)
    total = np.where(full, sums, np.nan)
    scaled = np.zeros(n, dtype=bool)
    last_full = np.maximum.accumulate(np.where(full, np.arange(n), -1)) if n else np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(~full & present.any(axis=1) & (last_full >= 0))
    if rows.size:
        src = last_full[rows]
        positive = total[src] > 0
        rows, src = rows[positive], src[positive]
        weights = values[src] / total[src][:, None]
        share = np.where(present[rows], weights, 0.0).sum(axis=1)
        ok = share > 0
        total[rows[ok]] = sums[rows[ok]] / share[ok]
        scaled[rows[ok]] = True
    return total, scaled


def _funding(funding: list[tuple[str, pd.DataFrame]], venue_oi: pd.DataFrame, cols: list[str]) -> pd.DataFrame | None:
    """An open-interest-weighted mean of the venues' rates, each restated per 8 hours, every 8 hours (each venue's
    rate its last at most 8 hours before; its weight its open interest on the last grid row at or before)."""
    series = []
    for label, funding_rows in funding:
        if funding_rows.empty or len(funding_rows) < 1:
            continue
        spacing = funding_rows["ts"].diff().median() if len(funding_rows) > 1 else pd.Timedelta(hours=8)
        hours = max(1.0, round(spacing.total_seconds() / 3600)) if isinstance(spacing, pd.Timedelta) else 8.0
        ts = epoch_micros(funding_rows["ts"])
        order = np.argsort(ts, kind="stable")
        series.append((label, ts[order], funding_rows["rate"].to_numpy(np.float64)[order] * (8.0 / hours)))
    if not series:
        return None
    eight = pd.Timedelta(hours=8).value // 1000
    first = min(int(ts[0]) for _, ts, _ in series)
    start = -(-first // eight) * eight  # Timestamp.ceil("8h"): on multiples of 8 hours since the epoch
    stop = max(int(ts[-1]) for _, ts, _ in series)
    if start > stop:
        start = first
    grid = np.arange(start, stop + 1, eight, dtype=np.int64)
    if not len(grid):
        return None
    rates = []
    weights = []
    at = np.searchsorted(epoch_micros(venue_oi["ts"]), grid, side="right") - 1
    for label, ts, rate in series:
        k = np.searchsorted(ts, grid, side="right") - 1
        near = (k >= 0) & (grid - ts[np.maximum(k, 0)] <= eight)
        rates.append(np.where(near, rate[np.maximum(k, 0)], np.nan))
        if label in venue_oi:
            column = venue_oi[label].to_numpy(dtype="float64")
            w = np.where(at >= 0, column[np.maximum(at, 0)], np.nan)
        else:
            w = np.full(len(grid), np.nan)
        weights.append(np.where(np.isnan(w), 1.0, w))
    r, w = np.vstack(rates), np.vstack(weights)
    mask = ~np.isnan(r)
    denom = (w * mask).sum(axis=0)
    mean = np.where(denom > 0, (np.nan_to_num(r) * w * mask).sum(axis=0) / np.where(denom > 0, denom, 1), np.nan)
    keep = ~np.isnan(mean)
    out = pd.DataFrame({"ts": _times(grid[keep]), "rate": mean[keep]})
    return out if not out.empty else None


def _status(
    feeds: Sequence[Feed], seen: list[_Seen], step: pd.Timedelta, end: pd.Timestamp, last_oi: np.ndarray
) -> list[VenueStatus]:
    """Each venue's freshness and gaps; ``last_oi``: each venue's last known open interest (its share of their sum)."""
    total = float(np.nansum(last_oi))
    out = []
    for j, (feed, s) in enumerate(zip(feeds, seen, strict=True)):
        lag = end - (s.last + step) if s.last is not None else None
        if s.last is None:
            state = "no data"
        elif lag is not None and lag > max(step * 2, pd.Timedelta(minutes=2)):
            state = "lagging"
        elif s.candle_gaps or s.stream_gaps:
            state = "gaps"
        else:
            state = "fresh"
        share = None
        if total > 0 and not math.isnan(float(last_oi[j])):
            share = float(last_oi[j]) / total
        out.append(
            VenueStatus(
                venue=feed.venue,
                symbol=feed.market.unified,
                first=s.first,
                last_candle=s.last,
                last_open_interest=s.last_oi,
                last_liquidation=s.last_liq,
                lag=lag,
                state=state,
                candle_gaps=s.candle_gaps,
                stream_gaps=s.stream_gaps,
                oi_share=share,
            )
        )
    return out


def _notes(feeds: Sequence[Feed], scaled: int, status: list[VenueStatus]) -> str:
    parts = [f"Aggregated from {', '.join(f.label for f in feeds)} in USD (USDT and USDC at 1.0 unless --rate says otherwise)."]
    if scaled:
        parts.append(f"{scaled} row(s) of open interest are scaled from the venues present (a venue was stale or missing).")
    for s in status:
        if s.state != "fresh":
            parts.append(f"{s.venue}: {s.state}.")
    for name in sorted({f.venue for f in feeds if spec(f.venue).liquidations_lower_bound}):
        parts.append(f"{name.capitalize()} liquidations come from a throttled stream: a lower bound.")
    return " ".join(parts)


RECENT_MONTHS = 2  # month files of a long series a following market keeps read: what a new candle's rows may read
_LONG = ("candles", "open_interest", "liquidations")  # the kinds that grow by the minute; funding and gaps stay small


class _Rebuild(Exception):
    """What changed cannot be carried on from the rows kept (an older month rewritten, the first candle moved, a gap
    longer than the rows kept): aggregate every row again."""


@dataclass(frozen=True)
class _Kept:
    """One series as a following market last read it: every month file's size and time, and the rows of the newest
    :data:`RECENT_MONTHS` months (every month of a small series)."""

    files: dict[str, FileId]
    frames: dict[str, pd.DataFrame]

    @property
    def horizon(self) -> pd.Timestamp | None:
        """From when on every row is kept (None: from the first)."""
        older = [m for m in self.files if m not in self.frames]
        if not older:
            return None
        return pd.Timestamp(f"{min(self.frames)}-01", tz="UTC") if self.frames else pd.Timestamp.max.tz_localize("UTC")

    def since(self, lo: pd.Timestamp) -> pd.DataFrame:
        """The rows from ``lo`` on (all kept: see :meth:`covers`)."""
        parts = []
        for month in sorted(self.frames):
            frame = self.frames[month]
            if len(frame):
                k = int(np.searchsorted(epoch_micros(frame["ts"]), lo.value // 1000, side="left"))
                if k < len(frame):
                    parts.append(frame.iloc[k:])
        if not parts:
            return pd.DataFrame(columns=["ts"])
        return (parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)).reset_index(drop=True)

    def whole(self) -> pd.DataFrame:
        return self.since(pd.Timestamp.min.tz_localize("UTC"))

    def covers(self, lo: pd.Timestamp) -> bool:
        horizon = self.horizon
        return horizon is None or lo >= horizon


def _raw(column: pd.Series) -> np.ndarray:
    """A column's values as numbers compared bit for bit (times as µs), or as objects."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return epoch_micros(column)
    values = column.to_numpy()
    if values.dtype.kind in "fiub":
        return values.view(f"u{values.dtype.itemsize}") if values.dtype.kind == "f" else values
    return np.asarray(column.astype(object).where(column.notna(), None).to_numpy())


def _first_change(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.Timestamp | None:
    """The time of the first row that differs between two reads of a month (rows before it are as they were), or
    None when they hold the same rows. Raises :class:`_Rebuild` when the columns changed."""
    if old is None or old.empty:
        return None if new.empty else pd.Timestamp(new["ts"].iloc[0])
    if new.empty:
        return pd.Timestamp(old["ts"].iloc[0])
    if list(old.columns) != list(new.columns) or any(old[c].dtype != new[c].dtype for c in old.columns):
        raise _Rebuild
    n = min(len(old), len(new))
    differs = np.zeros(n, dtype=bool)
    for c in old.columns:
        differs |= _raw(old[c])[:n] != _raw(new[c])[:n]
    at = int(np.argmax(differs)) if differs.any() else n
    if at == len(old) == len(new):
        return None
    times = [pd.Timestamp(frame["ts"].iloc[at]) for frame in (old, new) if at < len(frame)]
    return min(times)


class Following:
    """A store market's aggregate kept current as followers write: :meth:`refresh` reads the month files a write
    replaced (a few stat calls tell which), finds the first row that changed, and aggregates again only the grid
    rows from there on (with the rows before them that those read: open interest up to ``max_stale`` earlier), the
    rows before kept as they were. The answer is :func:`aggregate`'s on the whole store, bit for bit: every output
    row depends only on the venues' rows at or before it (the scaling of a missing venue on the last row before the
    recomputed ones where every venue was present, carried in), and what does not (funding, a small table, and the
    venues' status) is recomputed whole. What the rows kept cannot answer is aggregated from every row again."""

    def __init__(
        self, store: Store, feeds: Sequence[Feed], timeframe: str, since: pd.Timestamp | None = None,
        *, rates: dict[str, float] | None = None, max_stale: pd.Timedelta | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.feeds = list(feeds)
        self.timeframe = timeframe
        self.since = since
        self.step, self.rates, self.max_stale = _settings(self.feeds, timeframe, rates, max_stale)
        self.aggregate: Aggregate | None = None
        self.rebuilds = 0  # how many refreshes aggregated every row (the first one included)
        self._kept: dict[Series, _Kept] = {}
        self._scaled = np.zeros(0, dtype=bool)
        self._seen: list[_Seen] = []
        # one refresh at a time (a service's watch loop and a page's event stream both refresh): each carries on from
        # the state the last one left; hold it across using the answer too, so an older answer is never used last
        self.lock = threading.RLock()

    @property
    def series(self) -> list[Series]:
        return [s for feed in self.feeds for s in feed_series(feed, self.timeframe)]

    def refresh(self) -> Aggregate | None:
        """The aggregate after what was written since the last refresh; None when no row changed."""
        with self.lock:
            if self.aggregate is not None:
                try:
                    return self._carried()
                except _Rebuild:
                    pass
            return self._rebuilt()

    def _read(self, series: Series, month: str) -> pd.DataFrame:
        return self.store.read(series, self.since, months=[month])

    def _rebuilt(self) -> Aggregate:
        """Every row aggregated (:func:`aggregate`), and the newest months kept for the next refresh. A file replaced
        while it was read is read again on the next refresh, from every row."""
        listed = {s: self.store.months(s) for s in self.series}
        kept = {}
        for s, files in listed.items():
            months = sorted(files) if s.kind not in _LONG else sorted(files)[-RECENT_MONTHS:]
            kept[s] = _Kept(files, {m: self._read(s, m) for m in months})
        data = [(feed, *(self.store.read(s, self.since) for s in feed_series(feed, self.timeframe))) for feed in self.feeds]
        agg, scaled, seen = _aggregated(self.store, self.feeds, self.timeframe, self.step, data, self.rates, self.max_stale, None)
        if any(self.store.months(s) != files for s, files in listed.items()):
            kept = {}  # written meanwhile: what was kept may be later than what was aggregated
        self.aggregate, self._kept, self._scaled, self._seen = agg, kept, scaled, seen
        self.rebuilds += 1
        return agg

    def _carried(self) -> Aggregate | None:
        old = self.aggregate
        assert old is not None
        if not self._kept:
            raise _Rebuild
        kept: dict[Series, _Kept] = {}
        cut: pd.Timestamp | None = None
        changed = False
        for s in self.series:
            before = self._kept[s]
            files = self.store.months(s)
            if files == before.files:
                kept[s] = before
                continue
            frames = dict(before.frames)
            horizon = before.horizon
            for month in sorted(set(files) | set(before.files)):
                if files.get(month) == before.files.get(month):
                    continue
                if month not in files or (horizon is not None and pd.Timestamp(f"{month}-01", tz="UTC") < horizon):
                    raise _Rebuild  # a month removed, or one older than those kept rewritten
                grown = self._grown(s, month, before)
                if grown is not None:
                    frames[month], at = grown
                else:
                    frames[month] = self._read(s, month)
                    at = _first_change(before.frames.get(month), frames[month])
                if at is not None:
                    changed = True
                    if s.kind in _LONG:
                        cut = at if cut is None else min(cut, at)
            if s.kind in _LONG:
                frames = {m: frames[m] for m in sorted(frames)[-RECENT_MONTHS:]}
            kept[s] = _Kept(files, frames)
        if not changed:
            self._kept = kept  # files rewritten with the rows they held
            return None
        agg = self._tail(old, kept, cut)
        self._kept = kept
        return agg

    def _grown(self, s: Series, month: str, before: _Kept) -> tuple[pd.DataFrame, pd.Timestamp | None] | None:
        """The month's rows and the time of the first new one (None: none) when the store tells which rows were
        appended to the file read last (:meth:`Store.appended`); None when it cannot, and the month is read whole."""
        old, was = before.frames.get(month), before.files.get(month)
        if old is None or was is None or not len(old):
            return None
        tail = self.store.appended(s, month, was, self.since)
        if tail is None:
            return None
        if not len(tail):
            return old, None
        if list(tail.columns) != list(old.columns) or any(old[c].dtype != tail[c].dtype for c in old.columns):
            return None
        return pd.concat([old, tail], ignore_index=True), pd.Timestamp(tail["ts"].iloc[0])

    def _tail(self, old: Aggregate, kept: dict[Series, _Kept], cut: pd.Timestamp | None) -> Aggregate:
        """``old`` with the grid rows from the first one at or after ``cut`` aggregated again from ``kept``, and the
        liquidations from ``cut`` on (None: only funding or gaps changed)."""
        step = self.step
        grid_ts = old.venue_oi["ts"]
        start = pd.Timestamp(grid_ts.iloc[0])
        end = pd.Timestamp(grid_ts.iloc[-1]) + step  # the grid's rows from here on are new (without a candle, perhaps)
        cut = end if cut is None else min(cut, end)
        if cut <= start:
            raise _Rebuild
        g0 = start + step * -(-(cut - start).value // step.value)  # in integers: a float ratio of a year's ns rounds
        lo = g0 - self.max_stale
        data = []
        seen = []
        for feed, was in zip(self.feeds, self._seen, strict=True):
            candles_s, oi_s, funding_s, liq_s, gaps_s = feed_series(feed, self.timeframe)
            if not all(kept[s].covers(lo) for s in (candles_s, oi_s, liq_s)):
                raise _Rebuild
            candles, oi, liq = (kept[s].since(lo) for s in (candles_s, oi_s, liq_s))
            gaps = kept[gaps_s].whole()
            seen.append(self._seen_tail(was, candles, oi, liq, gaps, cut, lo))
            liq_tail = liq[liq["ts"] >= cut] if len(liq) else liq
            data.append((feed, candles, oi, kept[funding_s].whole(), liq_tail, gaps))
        firsts = [s.first for s in seen if s.first is not None]
        if not firsts or min(firsts) != start:
            raise _Rebuild  # the first candle moved: another grid
        stop = max(s.last for s in seen if s.last is not None) + step
        grid = _grid(g0, stop, step)
        cols = [f.label for f in self.feeds]
        i0 = int(np.searchsorted(epoch_micros(grid_ts), g0.value // 1000, side="left"))
        before = old.venue_oi.iloc[:i0]
        seed = _last_full(before[cols].to_numpy(dtype="float64")) if len(cols) > 1 else None  # one venue: never scaled
        tail = _grid_rows(data, grid, self.rates, self.max_stale, cols, seed)
        candles0 = old.bundle.candles
        j0 = int(np.searchsorted(epoch_micros(candles0["ts"]), g0.value // 1000, side="left"))
        oi0 = old.bundle.open_interest
        k0 = int(np.searchsorted(epoch_micros(oi0["ts"]), g0.value // 1000, side="left"))
        rows = _GridRows(
            candles=_joined(candles0.iloc[:j0], tail.candles),
            venue_oi=_joined(old.venue_oi.iloc[:i0], tail.venue_oi),
            oi=_joined(oi0.iloc[:k0], tail.oi),
            scaled=np.concatenate([self._scaled[:i0], tail.scaled]),
        )
        liq0 = old.bundle.liquidations
        if liq0 is not None:
            liq0 = liq0.iloc[: int(np.searchsorted(epoch_micros(liq0["ts"]), cut.value // 1000, side="left"))]
        liq_new = _liquidations(data, self.rates)
        parts = [p for p in (liq0, liq_new) if p is not None and len(p)]
        liquidations = _joined(*parts) if parts else None
        last_oi = _last_valid(tail.venue_oi[cols].to_numpy(dtype="float64")) if len(grid) else np.full(len(cols), np.nan)
        if np.isnan(last_oi).any():
            missing = np.isnan(last_oi)
            last_oi[missing] = _last_valid(before[[c for c, m in zip(cols, missing, strict=True) if m]].to_numpy(dtype="float64"))
        funding = [(feed.label, d[3]) for feed, d in zip(self.feeds, data, strict=True)]
        agg = _assembled(self.store, self.feeds, self.timeframe, step, rows, liquidations, funding, seen, None, last_oi)
        self.aggregate, self._scaled, self._seen = agg, rows.scaled, seen
        return agg

    def _seen_tail(
        self, before: _Seen, candles: pd.DataFrame, oi: pd.DataFrame, liq: pd.DataFrame, gaps: pd.DataFrame,
        cut: pd.Timestamp, lo: pd.Timestamp,
    ) -> _Seen:  # fmt: skip
        """What the status reads of a venue whose rows before ``cut`` are as ``before`` saw them, and from ``lo`` on
        are ``candles``, ``oi`` and ``liq``."""

        def first(frame: pd.DataFrame, was: pd.Timestamp | None) -> pd.Timestamp | None:
            if was is not None and was < lo:
                return was
            return pd.Timestamp(frame["ts"].iloc[0]) if len(frame) else None

        def last(frame: pd.DataFrame, was: pd.Timestamp | None) -> pd.Timestamp | None:
            if len(frame):
                return pd.Timestamp(frame["ts"].iloc[-1])
            if was is not None and was >= lo:
                raise _Rebuild  # the rows from lo on are gone: the last is one not kept
            return was

        gone = candles[candles["ts"] < cut] if len(candles) else candles
        begin = first(candles, before.first)
        if len(gone) == 0 and begin is not None and begin < cut:
            raise _Rebuild  # candles before cut but none kept: the gap before cut is longer than the rows kept
        around = candles.iloc[max(0, len(gone) - 1) :] if len(candles) else candles
        gaps_tail = find_gaps(around["ts"], self.step) if len(around) else []
        return _Seen(
            first=begin,
            last=last(candles, before.last),
            last_oi=last(oi, before.last_oi),
            last_liq=last(liq, before.last_liq),
            candle_gaps=[g for g in before.candle_gaps if g[1] < cut] + gaps_tail,
            stream_gaps=_stream_gaps(gaps),
        )


def _joined(*frames: pd.DataFrame) -> pd.DataFrame:
    """Frames one after the other, numbered from 0 (one alone is not copied)."""
    parts = [f for f in frames if len(f)] or list(frames[:1])
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    return pd.concat(parts, ignore_index=True)


def _last_full(values: np.ndarray) -> np.ndarray | None:
    """The last row where every venue has open interest (looked for from the end, a stretch at a time), or None."""
    stretch = 1024
    end = len(values)
    while end > 0:
        begin = max(0, end - stretch)
        full = np.flatnonzero(~np.isnan(values[begin:end]).any(axis=1))
        if full.size:
            return np.asarray(values[begin + int(full[-1])])
        end, stretch = begin, stretch * 4
    return None
