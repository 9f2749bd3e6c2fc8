"""The HTTP API (OpenAPI at /docs) and the page at /. Thin: each route calls the engine or analytics.

Every parameter is validated; a bad market, window, resolution or time is a 4xx with a message.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from liqheat import __version__
from liqheat.analytics.cascade import calibrated
from liqheat.analytics.cascade import cascade as run_cascade
from liqheat.analytics.clusters import Cluster, clusters_of, concentration
from liqheat.analytics.levels import confluence, levels
from liqheat.analytics.planner import parse_risk
from liqheat.analytics.planner import plan as make_plan
from liqheat.analytics.planner import sentiment as read_sentiment
from liqheat.api.markets import Market, Registry
from liqheat.engine.frames import HeatmapFrame, heatmap_frame
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros, parse_duration

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"  # package data: the page ships in the package
WINDOWS = ("4h", "12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y")
INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")


def vendor_dir() -> Path:
    """Lightweight Charts inside the package, served at /vendor/: a build copies it there from npm's package
    (scripts/vendor_js.py, run by setup.py's build hook and, for the editable install, by scripts/setup.sh)."""
    return STATIC / "vendor"


def _window(text: str) -> pd.Timedelta:
    value = "365d" if text == "1y" else text
    try:
        span = parse_duration(value, "window")
    except (DomainError, OverflowError, ValueError) as exc:
        if "too long" in str(exc):
            raise HTTPException(400, f"window {text} is longer than 10 years") from None
        choices = ", ".join(WINDOWS)
        raise HTTPException(400, f"window must be one of {choices} (or a duration like 6h, 2d), got {text!r}") from None
    if span > pd.Timedelta(days=3660):
        raise HTTPException(400, f"window {text} is longer than 10 years")
    return span


def _time(text: str | None, what: str) -> pd.Timestamp | None:
    if text is None or text == "":
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, OverflowError):
        raise HTTPException(400, f"{what} is not an ISO 8601 time: {text!r}") from None
    if pd.isna(ts):
        raise HTTPException(400, f"{what} is not an ISO 8601 time: {text!r}")
    if not (1970 <= ts.year <= 2200):
        raise HTTPException(400, f"{what} {text!r} is outside any market's data (years 1970-2200)")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def create_app(registry: Registry) -> FastAPI:
    app = FastAPI(
        title="liqheat",
        version=__version__,
        description="An open, measured liquidation heatmap: markets, candles, heatmaps, liquidation maps, clusters.",
    )

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    def market(market_id: str) -> Market:
        try:
            return registry.get(market_id)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None

    def cached_frame(
        market_id: str, seconds: int, end: pd.Timestamp | None, bins: int, columns: int, lev_min: float, lev_max: float
    ) -> HeatmapFrame:
        return versioned_frame(market_id, market(market_id).version, seconds, end, bins, columns, lev_min, lev_max)

    @lru_cache(maxsize=32)
    def versioned_frame(
        market_id: str,
        version: int,
        seconds: int,
        end: pd.Timestamp | None,
        bins: int,
        columns: int,
        lev_min: float,
        lev_max: float,
    ) -> HeatmapFrame:
        """A heatmap query reads the market's kept replay (its timeline); the page asks again on every change."""
        m = market(market_id)
        band = None if lev_min <= 1 and lev_max >= 200 else (lev_min, lev_max)
        return heatmap_frame(
            m.bundle,
            m.params,
            window=f"{seconds}s",
            end=end,
            max_bins=bins,
            max_columns=columns,
            leverage_band=band,
            timeline=m.timeline,
        )

    @app.get("/api/events", summary="Server-sent events: a market grew (its version moved)")
    async def events(request: Request, poll: Annotated[float, Query(gt=0.05, le=60)] = 1.0) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            seen = registry.versions()
            yield f"event: hello\ndata: {json.dumps(seen)}\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(poll)
                registry.refresh()
                now = registry.versions()
                for market_id, version in now.items():
                    if seen.get(market_id) != version:
                        payload = {"market": market_id, "version": version, "last": registry.get(market_id).describe()["last"]}
                        yield f"event: grew\ndata: {json.dumps(payload)}\n\n"
                seen = now

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/markets", summary="Every market this server knows")
    def markets() -> list[dict[str, Any]]:
        return [m.describe() for m in registry]

    @app.get("/api/markets/{market_id}", summary="One market")
    def one(market_id: str) -> dict[str, Any]:
        return market(market_id).describe()

    @app.get("/api/markets/{market_id}/venues", summary="Per-venue open-interest shares over time, and each venue's freshness")
    def venues(market_id: str, points: Annotated[int, Query(ge=2, le=5000)] = 400) -> dict[str, Any]:
        return market(market_id).venue_shares(points)

    @app.get("/api/markets/{market_id}/candles", summary="Candles over a window, resampled to an interval")
    def candles(
        market_id: str,
        window: str = "7d",
        end: str | None = None,
        interval: Annotated[str | None, Query(description=f"one of {', '.join(INTERVALS)}; default: the market's")] = None,
    ) -> dict[str, Any]:
        m = market(market_id)
        frame = _slice(m, _window(window), _time(end, "end"))
        tf = m.bundle.meta.timeframe_delta
        step = tf
        if interval is not None:
            if interval not in INTERVALS:
                raise HTTPException(400, f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
            step = parse_duration(interval, "interval")
            if step < tf or step % tf != pd.Timedelta(0):
                tf_text = m.bundle.meta.timeframe
                raise HTTPException(400, f"interval {interval} is finer than, or not a multiple of, the market's {tf_text}")
        if step != tf:
            agg = {"open": "first", "high": "max", "low": "min", "close": "last"}
            if "volume" in frame:
                agg["volume"] = "sum"
            frame = frame.set_index("ts").resample(step, label="left", closed="left").agg(agg).dropna().reset_index()
        return {
            "market": m.id,
            "interval": interval or m.bundle.meta.timeframe,
            "time": (epoch_micros(frame["ts"]) // 1_000_000).tolist(),
            "open": frame["open"].round(8).tolist(),
            "high": frame["high"].round(8).tolist(),
            "low": frame["low"].round(8).tolist(),
            "close": frame["close"].round(8).tolist(),
            "volume": frame["volume"].round(8).tolist() if "volume" in frame else None,
        }

    @app.get("/api/markets/{market_id}/heatmap", summary="Notional at risk per (time, price) over a window")
    def heatmap(
        market_id: str,
        window: str = "7d",
        end: str | None = None,
        bins: Annotated[int, Query(ge=10, le=1000)] = 300,
        columns: Annotated[int, Query(ge=2, le=2000)] = 800,
        side: Annotated[str, Query(pattern="^(both|long|short)$")] = "both",
        lev_min: Annotated[float, Query(ge=1, le=200)] = 1,
        lev_max: Annotated[float, Query(ge=1, le=200)] = 200,
        format: Annotated[str, Query(pattern="^(json|bin|q16|csv)$")] = "json",
    ) -> Any:
        m = market(market_id)
        if lev_min > lev_max:
            raise HTTPException(400, f"lev_min {lev_min} is above lev_max {lev_max}")
        span = _window(window)
        frame = cached_frame(m.id, int(span.total_seconds()), _time(end, "end"), bins, columns, lev_min, lev_max)
        long = frame.long if side in ("both", "long") else np.zeros_like(frame.long)
        short = frame.short if side in ("both", "short") else np.zeros_like(frame.short)
        header = {
            "market": m.id,
            "side": side,
            "time": [int(t.timestamp()) for t in frame.times],
            "price_edges": [round(float(p), 8) for p in frame.price_edges],
            "columns": int(frame.long.shape[0]),
            "rows": int(frame.long.shape[1]),
            "unit": "USD notional at risk at the candle's open",
            "max": float(max(long.max(initial=0.0), short.max(initial=0.0))),
        }
        if format == "json":
            return {**header, "long": np.round(long, 2).tolist(), "short": np.round(short, 2).tolist()}
        if format == "csv":
            return _csv_response(_matrix_csv(frame.times, frame.price_edges, long, short), f"liqheat-{m.id}-{window}.csv")
        if format == "q16":
            # half the bytes of float32: v = expm1(code / scale), relative error ≤ log1p(max) / 131070
            top = float(max(long.max(initial=0.0), short.max(initial=0.0)))
            scale = 65535.0 / math.log1p(top) if top > 0 else 1.0
            header = {**header, "encoding": "log1p-uint16", "scale": scale}
            payload = b"".join(np.round(np.log1p(a) * scale).astype("<u2").tobytes() for a in (long, short))
        else:
            payload = long.astype("<f4").tobytes() + short.astype("<f4").tobytes()
        head = json.dumps(header).encode()
        body = struct.pack("<I", len(head)) + head + b"\0" * ((4 - (4 + len(head)) % 4) % 4)
        return Response(content=body + payload, media_type="application/octet-stream")

    @app.get("/api/markets/{market_id}/map", summary="The liquidation map at a time: notional per price, cumulative per side")
    def liquidation_map(
        market_id: str,
        at: str | None = None,
        bins: Annotated[int, Query(ge=10, le=1000)] = 200,
        span_pct: Annotated[float, Query(ge=0.1, le=90)] = 30.0,
    ) -> dict[str, Any]:
        m = market(market_id)
        index = m.index_at(_time(at, "at"))
        engine, long, short = m.engine_at(index)
        price = float(m.bundle.candles["close"].iloc[index])
        edges, lv, sv = _rebin(engine.grid.edges(), long, short, price, span_pct, bins)
        centers = np.sqrt(edges[:-1] * edges[1:])
        below = centers < price
        # Levels on the wrong side of price are swept by the next candle for certain (its low is at or
        # below its open, its high at or above): they are not at risk, so the map does not show them.
        lv = np.where(below, lv, 0.0)
        sv = np.where(below, 0.0, sv)
        cum_long = np.where(below, np.cumsum(lv[::-1])[::-1], 0.0)  # longs below price: from price downwards
        cum_short = np.where(~below, np.cumsum(sv), 0.0)
        return {
            "market": m.id,
            "at": _iso(m.bundle.candles["ts"].iloc[index] + m.bundle.meta.timeframe_delta),
            "price": price,
            "price_edges": edges.round(8).tolist(),
            "long": lv.round(2).tolist(),
            "short": sv.round(2).tolist(),
            "cumulative_long": cum_long.round(2).tolist(),
            "cumulative_short": cum_short.round(2).tolist(),
        }

    @app.get("/api/markets/{market_id}/clusters", summary="The largest bands of notional at risk per side")
    def clusters(
        market_id: str,
        at: str | None = None,
        top: Annotated[int, Query(ge=1, le=20)] = 5,
        format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    ) -> Any:
        m = market(market_id)
        index = m.index_at(_time(at, "at"))
        mm = m.map_at(index)
        every = clusters_of(mm, top=None)
        found = [c for side in ("long", "short") for c in [x for x in every if x.side == side][:top]]
        if format == "csv":
            table = pd.DataFrame([c.to_dict() for c in found], columns=list(Cluster.__dataclass_fields__))
            return _csv_response(str(table.to_csv(index=False)), f"liqheat-{m.id}-clusters.csv")
        return {
            "market": m.id,
            "at": _iso(mm.ts),
            "price": mm.price,
            "atr_pct": mm.atr_pct,
            "clusters": [c.to_dict() for c in found],
            "concentration": concentration(mm, every),
        }

    @app.get("/api/markets/{market_id}/levels", summary="Support and resistance, and their confluence with the clusters")
    def sr_levels(
        market_id: str,
        at: str | None = None,
        top: Annotated[int, Query(ge=1, le=100)] = 10,
        lookback: Annotated[int, Query(ge=10, le=1_000_000)] = 720,
    ) -> dict[str, Any]:
        m = market(market_id)
        index = m.index_at(_time(at, "at"))
        mm = m.map_at(index)
        found = levels(m.bundle.candles.iloc[: index + 1], mm.price, lookback=lookback)
        meets = confluence(clusters_of(mm, top=10), found)
        return {
            "market": m.id,
            "at": _iso(mm.ts),
            "price": mm.price,
            "levels": [lv.to_dict() for lv in found[:top]],
            "confluence": [x.to_dict() for x in meets[:top]],
        }

    @app.get("/api/markets/{market_id}/cascade", summary="Push price by a shock and follow the liquidation chain")
    def cascade_route(
        market_id: str,
        shock: Annotated[float, Query(gt=-90, lt=900, description="% move, negative = down")],
        depth_scale: Annotated[float, Query(gt=0, le=1000)] = 1.0,
        book: Annotated[str, Query(pattern="^(calm|crash)$")] = "calm",
        refill: Annotated[float, Query(ge=0, le=1)] = 0.0,
        at: str | None = None,
    ) -> dict[str, Any]:
        if shock == 0:
            raise HTTPException(400, "shock must not be 0")
        m = market(market_id)
        index = m.index_at(_time(at, "at"))
        mm = m.map_at(index)
        result = run_cascade(mm, shock, calibrated(book).scaled(depth_scale), clusters_of(mm, top=20), refill=refill)
        return {"market": m.id, "at": _iso(mm.ts), "time": int(mm.ts.timestamp()), **result.to_dict()}

    @app.get("/api/markets/{market_id}/plan", summary="Size a trade from its risk; stop, target and own liquidation price")
    def plan_route(
        market_id: str,
        side: Annotated[str, Query(pattern="^(long|short)$")],
        entry: Annotated[float, Query(gt=0)],
        leverage: Annotated[float, Query(ge=1, le=1000)],
        balance: Annotated[float, Query(gt=0)],
        risk: str = "1%",
        venue: Annotated[str, Query(pattern="^(binance|bybit|okx|hyperliquid)$")] = "binance",
        at: str | None = None,
    ) -> dict[str, Any]:
        m = market(market_id)
        index = m.index_at(_time(at, "at"))
        mm = m.map_at(index)
        p = make_plan(mm, clusters_of(mm, top=None), side=side, entry=entry, leverage=leverage, balance=balance,
                      risk=parse_risk(risk), venue=venue, contract=m.bundle.meta.contract)  # fmt: skip
        return {"market": m.id, "at": _iso(mm.ts), "price": mm.price, **p.to_dict()}

    @app.get("/api/markets/{market_id}/sentiment", summary="Long vs short at risk, funding and open-interest change")
    def sentiment_route(market_id: str, window: str = "24h", at: str | None = None) -> dict[str, Any]:
        m = market(market_id)
        span = _window(window)
        index = m.index_at(_time(at, "at"))
        mm = m.map_at(index)
        b = m.bundle
        return {"market": m.id, **read_sentiment(mm, b.candles, b.open_interest, b.funding, span)}

    @app.get("/api/markets/{market_id}/liquidations", summary="Realized liquidations over a window")
    def liquidations(
        market_id: str, window: str = "7d", end: str | None = None, limit: Annotated[int, Query(ge=1, le=100000)] = 5000
    ) -> dict[str, Any]:
        m = market(market_id)
        liq = m.bundle.liquidations
        span = _window(window)
        requested = _time(end, "end")
        if requested is not None:
            _slice(m, span, requested)  # the same range check as every other route
        stop = requested or (m.bundle.candles["ts"].iloc[-1] + m.bundle.meta.timeframe_delta)
        if liq is None:
            rows = pd.DataFrame(columns=["ts", "side", "usd", "price"])
        else:
            # [stop − window, stop): per-bar totals are stamped at their bar's open
            rows = liq[(liq["ts"] >= stop - span) & (liq["ts"] < stop) & (liq["usd"] > 0)]
            rows = rows.nlargest(limit, "usd").sort_values("ts") if len(rows) > limit else rows
        return {
            "market": m.id,
            "time": [int(t.timestamp()) for t in rows["ts"]],
            "side": rows["side"].tolist(),
            "usd": rows["usd"].round(2).tolist(),
            "price": [None if pd.isna(p) else float(p) for p in rows["price"]] if "price" in rows else [None] * len(rows),
        }

    @app.get(
        "/api/markets/{market_id}/liquidations/totals", summary="Realized liquidations per hour or day and side, the largest"
    )
    def liquidation_totals(
        market_id: str,
        window: str = "7d",
        end: str | None = None,
        bucket: Annotated[str, Query(pattern="^(1h|1d)$")] = "1h",
        largest: Annotated[int, Query(ge=0, le=100)] = 10,
    ) -> dict[str, Any]:
        m = market(market_id)
        span = _window(window)
        requested = _time(end, "end")
        if requested is not None:
            _slice(m, span, requested)
        stop = requested or (m.bundle.candles["ts"].iloc[-1] + m.bundle.meta.timeframe_delta)
        liq = m.bundle.liquidations
        empty = pd.DataFrame({"ts": pd.Series(dtype="datetime64[us, UTC]"), "side": [], "usd": [], "price": []})
        rows = empty if liq is None else liq[(liq["ts"] >= stop - span) & (liq["ts"] < stop)]
        buckets = rows["ts"].dt.floor(parse_duration(bucket, "bucket"))
        sums = {
            side: rows[rows["side"] == side].groupby(buckets[rows["side"] == side])["usd"].sum() for side in ("long", "short")
        }
        index = sorted(set(sums["long"].index) | set(sums["short"].index))
        orders = rows[rows["price"].notna() & (rows["usd"] > 0)] if "price" in rows else rows.iloc[0:0]
        return {
            "market": m.id,
            "bucket": bucket,
            "venues": list(m.bundle.meta.venues),
            "time": [int(t.timestamp()) for t in index],
            "long_usd": [round(float(sums["long"].get(t, 0.0)), 2) for t in index],
            "short_usd": [round(float(sums["short"].get(t, 0.0)), 2) for t in index],
            "largest": [
                {"ts": _iso(pd.Timestamp(ts)), "side": str(side), "usd": round(float(value), 2), "price": float(p)}
                for ts, side, value, p in orders.nlargest(largest, "usd")[["ts", "side", "usd", "price"]].itertuples(index=False)
            ],
        }

    @app.get("/api/liquidations", summary="Realized liquidations in the store: per hour or day by venue, side and symbol")
    def store_liquidations(
        window: str = "7d",
        end: str | None = None,
        bucket: Annotated[str, Query(pattern="^(1h|1d)$")] = "1d",
        venue: Annotated[list[str] | None, Query()] = None,
        symbol: Annotated[list[str] | None, Query()] = None,
        top: Annotated[int, Query(ge=1, le=500)] = 20,
        largest: Annotated[int, Query(ge=0, le=100)] = 10,
    ) -> dict[str, Any]:
        from liqheat.store.realized import realized
        from liqheat.symbols import resolve

        if registry.store is None:
            raise HTTPException(
                404, "this server has no store: start it with --store DIR (or --venue) to see realized liquidations"
            )
        span = _window(window)
        requested = _time(end, "end")
        try:
            markets = [resolve(s, venue[0] if venue and len(venue) == 1 else None).unified for s in symbol or []]
            found = realized(
                registry.store, bucket=bucket, window=span, until=requested, venues=venue, symbols=markets, largest=largest
            )
        except DomainError as exc:
            raise HTTPException(404 if "no liquidations" in str(exc) else 400, str(exc)) from None
        return found.to_dict(top=top)

    @app.get(
        "/api/markets/{market_id}/summary", summary="Price, open interest, funding, realized liquidations, the model's score"
    )
    def summary(market_id: str) -> dict[str, Any]:
        m = market(market_id)
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
            "open_interest_as_of": _iso(oi["ts"].iloc[-1]),
            "funding_rate": float(funding["rate"].iloc[-1]) if funding is not None and len(funding) else None,
            "liquidations_24h": None
            if recent is None
            else {side: float(recent.loc[recent["side"] == side, "usd"].sum()) for side in ("long", "short")},
            "params": m.params.to_dict(),
        }

    @app.get("/api/calc", summary="Exact liquidation price of one position (see liqheat calc)")
    def calc(
        venue: str,
        symbol: str,
        side: str,
        entry: Annotated[float, Query(gt=0)],
        leverage: Annotated[float, Query(ge=1)],
        size: Annotated[float, Query(gt=0)],
        margin_mode: Annotated[str, Query(pattern="^(isolated|cross)$")] = "isolated",
        balance: float | None = None,
    ) -> dict[str, Any]:
        from liqheat.venues.calc import calculate, position_from_inputs

        if margin_mode == "cross" and balance is None:
            raise HTTPException(400, "cross margin needs balance (the account's wallet balance)")
        position, vt = position_from_inputs(venue, symbol, side, entry, leverage, size, margin_mode=margin_mode, balance=balance)
        result: dict[str, Any] = calculate(venue, position, table=vt).to_dict()
        return result

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    vendor = vendor_dir()
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
    return app


def _matrix_csv(times: pd.DatetimeIndex, edges: np.ndarray, long: np.ndarray, short: np.ndarray) -> str:
    """One row per (time, price band): ts, price_low, price_high, long_usd, short_usd."""
    n_t, n_p = long.shape
    table = pd.DataFrame(
        {
            "ts": np.repeat([_iso(t) for t in times], n_p),
            "price_low": np.tile(edges[:-1], n_t).round(8),
            "price_high": np.tile(edges[1:], n_t).round(8),
            "long_usd": long.reshape(-1).round(2),
            "short_usd": short.reshape(-1).round(2),
        }
    )
    return str(table.to_csv(index=False))


def _csv_response(text: str, filename: str) -> Response:
    return Response(content=text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _slice(m: Market, span: pd.Timedelta, end: pd.Timestamp | None) -> pd.DataFrame:
    c = m.bundle.candles
    stop = end if end is not None else c["ts"].iloc[-1]
    if stop < c["ts"].iloc[0] or stop > c["ts"].iloc[-1] + m.bundle.meta.timeframe_delta:
        raise HTTPException(400, f"end {_iso(stop)} is outside {m.id} ({_iso(c['ts'].iloc[0])} … {_iso(c['ts'].iloc[-1])})")
    return c[(c["ts"] > stop - span) & (c["ts"] <= stop)]


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
