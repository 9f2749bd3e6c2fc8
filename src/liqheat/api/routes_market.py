"""Markets and what the chart draws: the server's offer, the list, candles, the heatmap, the liquidation map at a
time, the summary, each venue's share, and the event stream that says a market grew."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from liqheat import __version__
from liqheat.analytics.exact import ESTIMATED, EXACT, exact_parts
from liqheat.analytics.liqmap import Part, leverage_parts, venue_parts, whole
from liqheat.analytics.liqmap import liquidation_map as build_map
from liqheat.api import encode
from liqheat.api.busy import HEAVY
from liqheat.api.deps import At, End, FrameDep, MarketDep, RegistryDep, Window, end_of, map_at, window_of
from liqheat.api.errors import ApiError, naming
from liqheat.api.models import (
    ERRORS,
    Candles,
    ExactHeatmap,
    Heatmap,
    LiquidationMap,
    MarketInfo,
    ServerInfo,
    Summary,
    VenueShares,
)  # fmt: skip
from liqheat.bundle import Bundle
from liqheat.timeutil import CANDLE_INTERVALS, display_interval, iso, parse_duration

QUIET = 0.25  # seconds an event stream waits, when no market grows, before it looks whether the server stops
MAP_MARGIN = 0.15  # the heatmap's: the window's traded range, this much wider each way
INTERVALS = CANDLE_INTERVALS

router = APIRouter(prefix="/api", responses=ERRORS)


DELTA_ROWS = 500


def _last_ts(m: Any) -> pd.Timestamp:
    ts: pd.Timestamp = m.bundle.candles["ts"].iloc[-1]
    return ts


def _grew(m: Any, version: int, previous: pd.Timestamp | None) -> dict[str, Any]:
    """What a page needs to follow a market that grew: its version, last candle and the candles after ``previous``."""
    c = m.bundle.candles
    payload: dict[str, Any] = {"market": m.id, "version": version, "last": iso(c["ts"].iloc[-1])}
    if previous is None:
        return payload
    k = int(c["ts"].searchsorted(previous, side="right"))
    if k == 0 or c["ts"].iloc[k - 1] != previous or len(c) - k > DELTA_ROWS:
        return payload  # history changed, or too much is new: the page asks again
    new = c.iloc[k:]
    payload["previous_last"] = iso(previous)
    payload["candles"] = {
        "time": encode.seconds(new["ts"]),
        **{col: new[col].round(8).tolist() for col in ("open", "high", "low", "close")},
    }
    return payload


@router.get("/events", summary="Server-sent events: a market grew (its version moved); bye when the server stops")
async def events(
    request: Request, markets: RegistryDep, poll: Annotated[float, Query(gt=0.05, le=60)] = 1.0
) -> StreamingResponse:
    # A stream ends when the server stops (a tab holding it open must not hold up the stop) with a last
    # `bye`, so the page knows at once that the server is gone and starts retrying.
    stopping: threading.Event = getattr(request.app.state, "stopping", None) or threading.Event()

    # A market grown in this process wakes the stream (Registry.changes); files on disk are looked at every
    # `poll` seconds, and a stopping server is noticed within QUIET.
    # A `grew` event carries the candles appended since the stream last spoke of the market (at most
    # DELTA_ROWS, after `previous_last`), so a page at that candle appends them instead of asking again.
    async def stream() -> AsyncIterator[str]:
        seen = markets.versions()
        last_sent = {m: _last_ts(markets.get(m)) for m in seen}
        yield f"event: hello\ndata: {json.dumps(seen)}\n\n"
        looked = asyncio.get_running_loop().time()
        loop, grown = waiter = markets.changes.subscribe()  # a market grown in this process wakes the stream at once
        try:
            while not await request.is_disconnected():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(grown.wait(), timeout=min(QUIET, poll))
                grown.clear()
                if stopping.is_set():
                    yield "event: bye\ndata: {}\n\n"
                    return
                if loop.time() - looked >= poll:
                    markets.refresh()
                    looked = loop.time()
                now = markets.versions()
                for market_id, version in now.items():
                    if seen.get(market_id) != version:
                        payload = _grew(markets.get(market_id), version, last_sent.get(market_id))
                        last_sent[market_id] = _last_ts(markets.get(market_id))
                        yield f"event: grew\ndata: {json.dumps(payload)}\n\n"
                seen = now
        finally:
            markets.changes.unsubscribe(waiter)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/server",
    summary="What this server offers beyond its markets: its version and whether it has a store",
    response_model=ServerInfo,
)
def server(registry: RegistryDep) -> dict[str, Any]:
    """A page asks here before it asks ``/api/liquidations``, which only a server with a store answers (404 else)."""
    return {"version": __version__, "store": registry.store is not None, "markets": len(registry),
            "alerts": registry.alerts is not None}  # fmt: skip


@router.get("/markets", summary="Every market this server knows", response_model=list[MarketInfo])
def markets(registry: RegistryDep) -> list[dict[str, Any]]:
    return [m.describe() for m in registry]


@router.get("/markets/{market_id}", summary="One market", response_model=MarketInfo)
def one(m: MarketDep) -> dict[str, Any]:
    return m.describe()


@router.get(
    "/markets/{market_id}/venues",
    summary="Per-venue open-interest shares over time, and each venue's freshness",
    response_model=VenueShares,
)
def venues(m: MarketDep, points: Annotated[int, Query(ge=2, le=5000)] = 400) -> dict[str, Any]:
    return m.venue_shares(points)


@router.get(
    "/markets/{market_id}/candles",
    summary="Candles over a window, resampled to an interval",
    response_model=Candles,
    dependencies=HEAVY,
)
def candles(
    m: MarketDep,
    window: Window = "7d",
    end: End = None,
    interval: Annotated[
        str | None,
        Query(description=f"one of {', '.join(INTERVALS)}, or auto (the finest that keeps the window to about 3,000 "
              "candles); default: the market's"),
    ] = None,
) -> Response:
    """Candles opened in (end − window, end]. Sent as it is built (a year of minutes is millions of numbers). With
    ``interval=auto`` the answer's ``interval`` says which was taken: a page can ask before it knows the market."""
    span = window_of(window)
    stop = end_of(m, end)
    c = m.bundle.candles
    stop = stop if stop is not None else c["ts"].iloc[-1]
    frame = c[(c["ts"] > stop - span) & (c["ts"] <= stop)]
    tf = m.bundle.meta.timeframe_delta
    step = tf
    if interval == "auto":
        interval = display_interval(span, tf)  # None: the market's own candles
    if interval is not None:
        if interval not in INTERVALS:
            raise ApiError(400, f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}", "interval")
        step = parse_duration(interval, "interval")
        if step < tf or step % tf != pd.Timedelta(0):
            tf_text = m.bundle.meta.timeframe
            raise ApiError(400, f"interval {interval} is finer than, or not a multiple of, the market's {tf_text}", "interval")
    if step != tf:
        agg = {"open": "first", "high": "max", "low": "min", "close": "last"}
        if "volume" in frame:
            agg["volume"] = "sum"
        frame = frame.set_index("ts").resample(step, label="left", closed="left").agg(agg).dropna().reset_index()
    return encode.json_response(
        {
            "market": m.id,
            "interval": interval or m.bundle.meta.timeframe,
            "time": encode.seconds(frame["ts"]),
            "open": frame["open"].round(8).tolist(),
            "high": frame["high"].round(8).tolist(),
            "low": frame["low"].round(8).tolist(),
            "close": frame["close"].round(8).tolist(),
            "volume": frame["volume"].round(8).tolist() if "volume" in frame else None,
        }
    )


@router.get(
    "/markets/{market_id}/heatmap",
    summary="Notional at risk per (time, price) over a window",
    response_model=Heatmap,
    responses={200: {"content": {"application/octet-stream": {}, "text/csv": {}}}},
    dependencies=HEAVY,
)
def heatmap(
    m: MarketDep,
    f: FrameDep,
    format: Literal["json", "bin", "q16", "csv"] = "json",
    since: Annotated[
        int | None,
        Query(description="q16 only: the time (epoch s) of the last column the asker has; with `lo` and `rows`, the answer "
              "is only the columns after it when the rest is what the asker holds (`delta`: true)."),
    ] = None,
    lo: Annotated[float | None, Query(description="With `since`: the asker's first price edge.")] = None,
    rows: Annotated[int | None, Query(description="With `since`: the asker's row count.")] = None,
) -> Response:
    """``json`` for reading, ``bin`` (float32), ``q16`` for the page (log-scaled uint16: half the bytes of bin), ``csv``.

    Sent as built, never checked against the model: the page asks for up to 2,000 × 1,000 cells. A live page asks
    with ``since``: when its rows are the frame's and ``since`` is one of the frame's columns, the answer holds the
    columns after it (``delta``), and ``first``, the frame's first column, up to which the asker drops its own."""
    version = m.version
    side = f.side
    with naming("window", "end", aliases={"no leverage bucket": "lev_min"}):
        frame = m.heatmap(f.span, f.stop, f.bins, f.columns, f.band)
    long = frame.long if "long" in f.sides else np.zeros_like(frame.long)
    short = frame.short if "short" in f.sides else np.zeros_like(frame.short)
    if format == "csv":
        return encode.csv_stream(encode.matrix_csv(frame.times, frame.price_edges, long, short), f"liqheat-{m.id}-{f.window}.csv")

    if since is not None and format == "q16":
        times = encode.seconds(frame.times)
        same_rows = rows == frame.long.shape[1] and lo is not None and math.isclose(lo, round(float(frame.price_edges[0]), 8))
        if same_rows and since in times:
            k = times.index(since) + 1
            scale, payload = encode.q16(long[k:], short[k:])
            header = {"market": m.id, "side": side, "delta": True, "first": times[0], "time": times[k:],
                      "price_edges": [round(float(p), 8) for p in frame.price_edges], "columns": len(times) - k,
                      "rows": int(frame.long.shape[1]), "encoding": "log1p-uint16", "scale": scale}  # fmt: skip
            return Response(encode.framed(header, payload), media_type="application/octet-stream")

    def build() -> bytes:
        header = {
            "market": m.id,
            "side": side,
            "time": encode.seconds(frame.times),
            "price_edges": [round(float(p), 8) for p in frame.price_edges],
            "columns": int(frame.long.shape[0]),
            "rows": int(frame.long.shape[1]),
            "unit": "USD notional at risk at the candle's open",
            "max": float(max(long.max(initial=0.0), short.max(initial=0.0))),
        }
        if format == "json":
            return encode.json_bytes({**header, "long": np.round(long, 2).tolist(), "short": np.round(short, 2).tolist()})
        if format == "q16":
            scale, payload = encode.q16(long, short)
            return encode.framed({**header, "encoding": "log1p-uint16", "scale": scale}, payload)
        return encode.framed(header, long.astype("<f4").tobytes() + short.astype("<f4").tobytes())

    content = m.answer((f.span, f.stop, f.bins, f.columns, f.band, side, format), build, version)
    return Response(content, media_type="application/json" if format == "json" else "application/octet-stream")


@router.get(
    "/markets/{market_id}/heatmap/exact",
    summary="Exact on-chain levels on the heatmap's columns and rows: each from its snapshot until crossed or replaced",
    response_model=ExactHeatmap,
    dependencies=HEAVY,
)
def heatmap_exact(m: MarketDep, f: FrameDep) -> dict[str, Any]:
    """The layer the page draws over the heatmap asked with the same values (the leverage only lays out the rows:
    an exact level is a position's own, not a leverage band's). A market without exact sources has no runs."""
    with naming("window", "end", aliases={"no leverage bucket": "lev_min"}):
        times, edges, layers = m.exact_layers(f.span, f.stop, f.bins, f.columns, f.band)
    sides = f.sides
    found: dict[str, list[Any]] = {k: [] for k in ("source", "side", "row", "first", "last", "usd")}
    top = 0.0
    for k, layer in enumerate(layers):
        for name in sides:
            row, first, last, usd = encode.runs(getattr(layer, name))
            found["source"] += [k] * len(row)
            found["side"] += [name] * len(row)
            found["row"] += row.tolist()
            found["first"] += first.tolist()
            found["last"] += last.tolist()
            found["usd"] += usd.round(2).tolist()
            top = max(top, float(usd.max(initial=0.0)))
    sources = [
        {"source": layer.source, "label": layer.label,
         "snapshots": [{"as_of": iso(lv.as_of), "positions": lv.positions, "coverage": lv.coverage, "note": lv.note}
                       for lv in layer.snapshots]}
        for layer in layers
    ]  # fmt: skip
    note = ("each level from the first candle after its snapshot until a candle's low (a long) or high (a short) reaches "
            "it or a later snapshot of its source replaces it; the model's decay never applies")  # fmt: skip
    return {"market": m.id, "side": f.side, "time": encode.seconds(times), "price_edges": [round(float(p), 8) for p in edges],
            "columns": len(times), "rows": len(edges) - 1, "sources": sources, "runs": found, "max": top,
            "note": note}  # fmt: skip


@router.get(
    "/markets/{market_id}/map",
    summary="The liquidation map at a time: notional per price (split by leverage, venue or source), cumulative per side",
    response_model=LiquidationMap,
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=HEAVY,
)
def liquidation_map(
    m: MarketDep,
    at: At = None,
    bins: Annotated[int, Query(ge=10, le=1000)] = 200,
    span_pct: Annotated[float, Query(ge=0.1, le=90, description="± this % of price (without window).")] = 30.0,
    window: Annotated[
        str | None, Query(description="The prices traded over this window before the map, ± 15 % (the heatmap's range).")
    ] = None,
    side: Literal["both", "long", "short"] = "both",
    lev_min: Annotated[float, Query(ge=1, le=200)] = 1,
    lev_max: Annotated[float, Query(ge=1, le=200)] = 200,
    by: Annotated[
        Literal["none", "leverage", "venue", "source"],
        Query(description="Split each band by leverage band (exact), by venue (by open-interest share) or by source."),
    ] = "none",
    source: Annotated[
        Literal["all", "estimated", "exact"],
        Query(description="The model's estimated levels, on-chain positions' exact ones (liqheat serve --onchain), or both."),
    ] = "all",
    format: Literal["json", "csv"] = "json",
) -> Any:
    if lev_min > lev_max:
        raise ApiError(400, f"lev_min {lev_min} is above lev_max {lev_max}", "lev_min")
    if source == "exact" and not m.exact:
        raise ApiError(400, f"market {m.id} has no exact source: serve it with --onchain aave=FOLDER", "source")
    mm = map_at(m, at, ages=False)
    if window is None:
        low, high = mm.price * (1 - span_pct / 100), mm.price * (1 + span_pct / 100)
    else:
        span = window_of(window)
        c = m.bundle.candles.iloc[: mm.index + 1]
        seen = c[c["ts"] > c["ts"].iloc[-1] - span]
        low, high = float(seen["low"].min()) * (1 - MAP_MARGIN), float(seen["high"].max()) * (1 + MAP_MARGIN)
    lev_range = (lev_min, lev_max)
    note = ""
    view = m.view
    exact = [] if source == "estimated" else exact_parts(m.exact, mm, view.ts, view.low, view.high)
    with naming("by", aliases={"no leverage bucket": "lev_min"}):
        if source == "exact":
            parts = []
        elif by == "leverage":
            parts = leverage_parts(mm, m.timeline, m.params, lev_range)
        else:
            total = whole(mm, m.timeline, m.params, lev_range)
            parts = [Part(ESTIMATED, total.long, total.short) if by == "source" else total]
            if by == "venue":
                shares = m.venue_shares_at(mm.ts)
                if not shares:
                    venues = ", ".join(m.bundle.meta.venues)
                    raise ApiError(400, f"by=venue needs each venue's open interest; this market has one series ({venues})", "by")
                parts = venue_parts(total, shares)
                note = "each venue's part is its share of open interest at the map's time, not a map of its own"
        parts += [part for _, part, _ in exact]
        lm = build_map(mm, parts, low=low, high=high, bins=bins, side=side, split_by=by, note=note)
    if format == "csv":
        return encode.csv_stream(encode.map_csv(lm), f"liqheat-{m.id}-map-{iso(mm.ts)[:13]}.csv")
    shown = float(lm.long.sum() + lm.short.sum())
    onchain = sum(float(p.long.sum() + p.short.sum()) for p in lm.parts if p.kind == EXACT)
    body = {
        "market": m.id,
        "at": iso(mm.ts),
        "price": lm.price,
        "price_edges": lm.edges.round(8).tolist(),
        "long": lm.long.round(2).tolist(),
        "short": lm.short.round(2).tolist(),
        "cumulative_long": lm.cumulative_long.round(2).tolist(),
        "cumulative_short": lm.cumulative_short.round(2).tolist(),
        "split_by": by,
        "parts": [
            {"label": p.label, "kind": p.kind, "long": p.long.round(2).tolist(), "short": p.short.round(2).tolist()}
            for p in lm.parts
        ],
        "note": note,
        "exact": [
            {"source": lv.source, "as_of": iso(lv.as_of), "positions": lv.positions, "coverage": lv.coverage,
             "open_levels": n_open, "note": lv.note}
            for lv, _, n_open in exact
        ],
        "onchain_share": onchain / shown if exact and shown > 0 else None,
    }
    return body


@router.get(
    "/markets/{market_id}/summary",
    summary="Price, open interest, funding, realized liquidations, the model's score",
    response_model=Summary,
)
def summary(m: MarketDep) -> dict[str, Any]:
    c = m.bundle.candles
    last = c["ts"].iloc[-1]
    day = c[c["ts"] > last - pd.Timedelta(hours=24)]
    oi = m.bundle.open_interest
    funding = m.bundle.funding
    return {
        **m.describe(),
        "price": float(c["close"].iloc[-1]),
        "change_24h_pct": float((c["close"].iloc[-1] / day["open"].iloc[0] - 1) * 100),
        "open_interest_usd": float(oi["oi_usd"].iloc[-1]),
        "open_interest_as_of": iso(oi["ts"].iloc[-1]),
        "funding_rate": float(funding["rate"].iloc[-1]) if funding is not None and len(funding) else None,
        "liquidations_24h": realized_24h(m.bundle),
        "params": m.params.to_dict(),
    }


DAY = pd.Timedelta(hours=24)


def realized_24h(bundle: Bundle) -> dict[str, float] | None:
    """Realized USD per side over the 24 h up to the last candle's close; None when the data cannot say.

    Unknown is not $0: the Hyperliquid bundles' daily totals end weeks before their candles, and a page
    showing "liquidated 24h $0" there is wrong. Totals per bar (rows without a price) know a bar only where
    it has a row, so every ``liquidations_interval`` bar opening in the window needs one. A stream of orders
    (rows with prices) has no row for a quiet hour, so it must have begun by the window's start and hold
    an order inside it (none in 24 h cannot be told from a stream that stopped).
    """
    liq = bundle.liquidations
    if liq is None or liq.empty:
        return None
    end = bundle.candles["ts"].iloc[-1] + bundle.meta.timeframe_delta
    start = end - DAY
    ts = liq["ts"]
    recent = liq[(ts >= start) & (ts < end)]
    if recent.empty:
        return None
    if "price" in liq and liq["price"].notna().any():
        if ts.iloc[0] > start:
            return None
    else:
        step = parse_duration(bundle.meta.liquidations_interval or bundle.meta.timeframe, "liquidations_interval")
        bars = pd.date_range(start.ceil(step), end, freq=step, inclusive="left")
        if not bars.isin(recent["ts"]).all():
            return None
    return {side: float(recent.loc[recent["side"] == side, "usd"].sum()) for side in ("long", "short")}
