"""Markets and what the chart draws: the list, candles, the heatmap, the liquidation map at a time, the
summary, each venue's share, and the event stream that says a market grew."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from liqheat.api import encode
from liqheat.api.busy import HEAVY
from liqheat.api.deps import At, End, MarketDep, RegistryDep, Window, end_of, map_at, time_of, window_of
from liqheat.api.errors import ApiError, naming
from liqheat.api.models import ERRORS, Candles, Heatmap, LiquidationMap, MarketInfo, Summary, VenueShares
from liqheat.timeutil import iso, parse_duration

INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")

router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/events", summary="Server-sent events: a market grew (its version moved)")
async def events(
    request: Request, markets: RegistryDep, poll: Annotated[float, Query(gt=0.05, le=60)] = 1.0
) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        seen = markets.versions()
        yield f"event: hello\ndata: {json.dumps(seen)}\n\n"
        while not await request.is_disconnected():
            await asyncio.sleep(poll)
            markets.refresh()
            now = markets.versions()
            for market_id, version in now.items():
                if seen.get(market_id) != version:
                    payload = {"market": market_id, "version": version, "last": markets.get(market_id).describe()["last"]}
                    yield f"event: grew\ndata: {json.dumps(payload)}\n\n"
            seen = now

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


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
    interval: Annotated[str | None, Query(description=f"one of {', '.join(INTERVALS)}; default: the market's")] = None,
) -> Response:
    """Candles opened in (end − window, end]. Sent as it is built (a year of minutes is millions of numbers)."""
    span = window_of(window)
    stop = end_of(m, end)
    c = m.bundle.candles
    stop = stop if stop is not None else c["ts"].iloc[-1]
    frame = c[(c["ts"] > stop - span) & (c["ts"] <= stop)]
    tf = m.bundle.meta.timeframe_delta
    step = tf
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
    window: Window = "7d",
    end: End = None,
    bins: Annotated[int, Query(ge=10, le=1000)] = 300,
    columns: Annotated[int, Query(ge=2, le=2000)] = 800,
    side: Literal["both", "long", "short"] = "both",
    lev_min: Annotated[float, Query(ge=1, le=200)] = 1,
    lev_max: Annotated[float, Query(ge=1, le=200)] = 200,
    format: Literal["json", "bin", "q16", "csv"] = "json",
) -> Response:
    """``json`` for reading, ``bin`` (float32), ``q16`` for the page (log-scaled uint16: half the bytes of bin), ``csv``.

    Sent as built, never checked against the model: the page asks for up to 2,000 × 1,000 cells."""
    if lev_min > lev_max:
        raise ApiError(400, f"lev_min {lev_min} is above lev_max {lev_max}", "lev_min")
    span = window_of(window)
    band = None if lev_min <= 1 and lev_max >= 200 else (lev_min, lev_max)
    stop = time_of(end, "end")
    version = m.version
    with naming("window", "end", aliases={"no leverage bucket": "lev_min"}):
        frame = m.heatmap(span, stop, bins, columns, band)
    long = frame.long if side in ("both", "long") else np.zeros_like(frame.long)
    short = frame.short if side in ("both", "short") else np.zeros_like(frame.short)
    if format == "csv":
        return encode.csv_stream(encode.matrix_csv(frame.times, frame.price_edges, long, short), f"liqheat-{m.id}-{window}.csv")

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

    content = m.answer((span, stop, bins, columns, band, side, format), build, version)
    return Response(content, media_type="application/json" if format == "json" else "application/octet-stream")


@router.get(
    "/markets/{market_id}/map",
    summary="The liquidation map at a time: notional per price, cumulative per side",
    response_model=LiquidationMap,
    dependencies=HEAVY,
)
def liquidation_map(
    m: MarketDep,
    at: At = None,
    bins: Annotated[int, Query(ge=10, le=1000)] = 200,
    span_pct: Annotated[float, Query(ge=0.1, le=90)] = 30.0,
) -> dict[str, Any]:
    mm = map_at(m, at, ages=False)
    edges, lv, sv = _rebin(mm.edges, mm.long, mm.short, mm.price, span_pct, bins)
    centers = np.sqrt(edges[:-1] * edges[1:])
    below = centers < mm.price
    # Levels on the wrong side of price are swept by the next candle for certain (its low is at or
    # below its open, its high at or above): they are not at risk, so the map does not show them.
    lv = np.where(below, lv, 0.0)
    sv = np.where(below, 0.0, sv)
    cum_long = np.where(below, np.cumsum(lv[::-1])[::-1], 0.0)  # longs below price: from price downwards
    cum_short = np.where(~below, np.cumsum(sv), 0.0)
    return {
        "market": m.id,
        "at": iso(mm.ts),
        "price": mm.price,
        "price_edges": edges.round(8).tolist(),
        "long": lv.round(2).tolist(),
        "short": sv.round(2).tolist(),
        "cumulative_long": cum_long.round(2).tolist(),
        "cumulative_short": cum_short.round(2).tolist(),
    }


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
    liq = m.bundle.liquidations
    recent = liq[liq["ts"] > last - pd.Timedelta(hours=24)] if liq is not None else None
    return {
        **m.describe(),
        "price": float(c["close"].iloc[-1]),
        "change_24h_pct": float((c["close"].iloc[-1] / day["open"].iloc[0] - 1) * 100),
        "open_interest_usd": float(oi["oi_usd"].iloc[-1]),
        "open_interest_as_of": iso(oi["ts"].iloc[-1]),
        "funding_rate": float(funding["rate"].iloc[-1]) if funding is not None and len(funding) else None,
        "liquidations_24h": None
        if recent is None
        else {side: float(recent.loc[recent["side"] == side, "usd"].sum()) for side in ("long", "short")},
        "params": m.params.to_dict(),
    }


def _rebin(
    edges: np.ndarray, long: np.ndarray, short: np.ndarray, price: float, span_pct: float, bins: int
) -> tuple[np.ndarray, ...]:
    """Sum engine bins into ``bins`` equal log-bins within ±``span_pct`` of price."""
    lo, hi = math.log(price * (1 - span_pct / 100)), math.log(price * (1 + span_pct / 100))
    new_edges = np.exp(np.linspace(lo, hi, bins + 1))
    centers = np.log(np.sqrt(edges[:-1] * edges[1:]))
    idx = np.floor((centers - lo) / (hi - lo) * bins).astype(np.int64)
    ok = (idx >= 0) & (idx < bins)
    lv = np.bincount(idx[ok], weights=long[ok], minlength=bins)
    sv = np.bincount(idx[ok], weights=short[ok], minlength=bins)
    return new_edges, lv, sv
