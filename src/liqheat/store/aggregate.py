"""Several venues' series for one coin, as one market: a common time grid, one quote currency (USD),
summed open interest and liquidations, and a status per venue (fresh, lagging, with gaps).

Stale data is never carried in: a venue's open interest counts at a grid time only if its latest
sample is recent enough (``max_stale``). When a venue is missing, the total is scaled up by that venue's
share at the last time every venue was present, and the row is flagged, so a venue dropping out reads
as a hole in coverage, not as positions closing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liqheat.bundle import Bundle, BundleMeta
from liqheat.model import DomainError, Market
from liqheat.store.parquet_store import Series, Store
from liqheat.timeutil import find_gaps, iso, parse_duration
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


def stamp(store: Store, feeds: Sequence[Feed], timeframe: str) -> tuple[tuple[str, int, int], ...]:
    """The files :func:`aggregate` would read for ``feeds``, each with its size and modification time: when this
    is unchanged, so is the aggregate. A few stat calls, where aggregating reads every file."""
    out = []
    for feed in feeds:
        for series in feed_series(feed, timeframe):
            for path in sorted(series.folder(store.root).glob("month=*/data.parquet")):
                try:
                    st = path.stat()
                except OSError:  # replaced between the listing and the stat: the next look sees the new file
                    continue
                out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)


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
    if not feeds:
        raise DomainError("aggregate needs at least one venue")
    step = parse_duration(timeframe, "timeframe")
    rates = {**USD_RATES, **(rates or {})}
    max_stale = max_stale if max_stale is not None else max(step * 2, pd.Timedelta(hours=1))
    for feed in feeds:
        _rate(feed.market.quote, rates)
    data = []
    for feed in feeds:
        candles, oi, funding, liq, gaps = (store.read(s, since, until) for s in feed_series(feed, timeframe))
        data.append((feed, candles, oi, funding, liq, gaps))
    have = [d for d in data if not d[1].empty]
    if not have:
        raise DomainError(
            f"the store {store.root} has no {timeframe} candles of {', '.join(f.label for f in feeds)} in that range"
        )
    start = min(d[1]["ts"].iloc[0] for d in have)
    stop = max(d[1]["ts"].iloc[-1] for d in have) + step
    grid = pd.DataFrame({"ts": pd.date_range(start, stop - step, freq=step).astype("datetime64[us, UTC]")})
    end = now if now is not None else stop

    # candles: the first listed venue that has each candle, in USD
    price = pd.DataFrame(index=grid.index, columns=["open", "high", "low", "close", "volume"], dtype="float64")
    source_of = pd.Series("", index=grid.index, dtype="object")
    for feed, candles, *_ in data:
        if candles.empty:
            continue
        rate = _rate(feed.market.quote, rates)
        joined = grid.merge(candles, on="ts", how="left")
        take = price["close"].isna() & joined["close"].notna()
        for col in ("open", "high", "low", "close"):
            price.loc[take, col] = joined.loc[take, col] * rate
        price.loc[take, "volume"] = joined.loc[take, "volume"]
        source_of[take] = feed.venue
    filled = price["close"].notna()

    # open interest: per venue, the latest sample at or before each time if it is fresh, in USD
    venue_oi = grid.copy()
    for feed, _, oi, *_ in data:
        col = feed.label
        if oi.empty or "oi_usd" not in oi:
            venue_oi[col] = np.nan
            continue
        rate = _rate(feed.market.quote if feed.market.kind.value == "linear" else "USD", rates)
        samples = oi[["ts", "oi_usd"]].dropna().rename(columns={"ts": "sample_ts"}).sort_values("sample_ts")
        joined = pd.merge_asof(grid, samples, left_on="ts", right_on="sample_ts", direction="backward")
        fresh = (joined["ts"] - joined["sample_ts"]) <= max_stale
        venue_oi[col] = np.where(fresh, joined["oi_usd"] * rate, np.nan)
    cols = [f.label for f in feeds]
    values = venue_oi[cols].to_numpy(dtype="float64")
    present = ~np.isnan(values)
    total, scaled = _total_oi(values, present)
    oi_frame = pd.DataFrame({"ts": grid["ts"], "oi_usd": total})[~np.isnan(total)].reset_index(drop=True)
    if oi_frame.empty:
        raise DomainError("no time where every venue has fresh open interest: fetch or follow open interest first")

    # liquidations: every venue's events in USD
    liq_parts = []
    for feed, _, _, _, liq, _ in data:
        if liq.empty:
            continue
        rate = _rate(feed.market.quote if feed.market.kind.value == "linear" else "USD", rates)
        part = liq[["ts", "side", "usd", "price"]].copy()
        part["usd"] = part["usd"] * rate
        part["price"] = part["price"] * _rate(feed.market.quote, rates)
        liq_parts.append(part)
    liquidations: pd.DataFrame | None = None
    if liq_parts:
        liquidations = pd.concat(liq_parts, ignore_index=True).sort_values("ts", kind="stable")

    # funding: an open-interest-weighted mean of the rates, each restated per 8 hours
    funding_out = _funding(data, venue_oi, cols)

    candles_out = pd.concat([grid, price], axis=1)[filled].reset_index(drop=True)
    status = _status(data, step, end, venue_oi, cols)
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
        notes=_notes(feeds, int(scaled.sum()), status),
        extra={"venue_status": [s.to_dict() for s in status]},
    )
    bundle = Bundle(
        meta=meta,
        candles=candles_out,
        open_interest=oi_frame,
        funding=funding_out,
        liquidations=liquidations.reset_index(drop=True) if liquidations is not None else None,
    )
    return Aggregate(bundle=bundle, status=status, venue_oi=venue_oi, scaled_rows=int(scaled.sum()))


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


def _funding(data: list[Any], venue_oi: pd.DataFrame, cols: list[str]) -> pd.DataFrame | None:
    series = []
    for feed, _, _, funding, *_ in data:
        if funding.empty or len(funding) < 1:
            continue
        spacing = funding["ts"].diff().median() if len(funding) > 1 else pd.Timedelta(hours=8)
        hours = max(1.0, round(spacing.total_seconds() / 3600)) if isinstance(spacing, pd.Timedelta) else 8.0
        frame = funding[["ts", "rate"]].copy()
        frame["rate"] = frame["rate"] * (8.0 / hours)
        series.append((feed.label, frame))
    if not series:
        return None
    start = min(f["ts"].iloc[0] for _, f in series).ceil("8h")
    stop = max(f["ts"].iloc[-1] for _, f in series)
    if start > stop:
        start = min(f["ts"].iloc[0] for _, f in series)
    grid = pd.DataFrame({"ts": pd.date_range(start, stop, freq="8h").astype("datetime64[us, UTC]")})
    if grid.empty:
        return None
    rates = []
    weights = []
    oi = venue_oi.set_index("ts")
    for label, frame in series:
        joined = pd.merge_asof(grid, frame.sort_values("ts"), on="ts", direction="backward", tolerance=pd.Timedelta(hours=8))
        rates.append(joined["rate"].to_numpy(dtype="float64"))
        w = oi[label].reindex(grid["ts"], method="ffill").to_numpy(dtype="float64") if label in oi else np.full(len(grid), np.nan)
        weights.append(np.where(np.isnan(w), 1.0, w))
    r, w = np.vstack(rates), np.vstack(weights)
    mask = ~np.isnan(r)
    denom = (w * mask).sum(axis=0)
    mean = np.where(denom > 0, (np.nan_to_num(r) * w * mask).sum(axis=0) / np.where(denom > 0, denom, 1), np.nan)
    out = pd.DataFrame({"ts": grid["ts"], "rate": mean}).dropna().reset_index(drop=True)
    return out if not out.empty else None


def _status(data: list[Any], step: pd.Timedelta, end: pd.Timestamp, venue_oi: pd.DataFrame, cols: list[str]) -> list[VenueStatus]:
    last_row = venue_oi[cols].ffill().iloc[-1] if len(venue_oi) else None
    total = float(np.nansum(last_row.to_numpy(dtype="float64"))) if last_row is not None else 0.0
    out = []
    for feed, candles, oi, _, liq, gaps in data:
        last = candles["ts"].iloc[-1] if not candles.empty else None
        lag = end - (last + step) if last is not None else None
        candle_gaps = find_gaps(candles["ts"], step) if not candles.empty else []
        stream_gaps = [(g.ts, g.until, str(g.stream)) for g in gaps.itertuples()] if not gaps.empty else []
        if last is None:
            state = "no data"
        elif lag is not None and lag > max(step * 2, pd.Timedelta(minutes=2)):
            state = "lagging"
        elif candle_gaps or stream_gaps:
            state = "gaps"
        else:
            state = "fresh"
        share = None
        if last_row is not None and total > 0 and not math.isnan(float(last_row[feed.label])):
            share = float(last_row[feed.label]) / total
        out.append(
            VenueStatus(
                venue=feed.venue,
                symbol=feed.market.unified,
                first=candles["ts"].iloc[0] if not candles.empty else None,
                last_candle=last,
                last_open_interest=oi["ts"].iloc[-1] if not oi.empty else None,
                last_liquidation=liq["ts"].iloc[-1] if not liq.empty else None,
                lag=lag,
                state=state,
                candle_gaps=candle_gaps,
                stream_gaps=stream_gaps,
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
