"""Realized liquidations: a market's over a window (single orders, and totals per hour or day), and the
store's across venues and symbols (``liqheat serve --store``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

from liqheat.api import encode
from liqheat.api.deps import End, MarketDep, RegistryDep, Window, end_of, time_of, window_of
from liqheat.api.errors import ApiError, naming
from liqheat.api.markets import Market
from liqheat.api.models import ERRORS, Alerts, Liquidations, LiquidationTotals, StoreLiquidations
from liqheat.model import DomainError
from liqheat.timeutil import iso, parse_duration
from liqheat.venues.registry import FEEDS, spec
from liqheat.venues.symbols import resolve

router = APIRouter(prefix="/api", responses=ERRORS)


def _stop(m: Market, window: str, end: str | None) -> tuple[pd.Timedelta, pd.Timestamp]:
    """The window and its end (default: the last candle's close); [stop − window, stop) holds the bars
    whose per-bar totals are stamped at their open."""
    span = window_of(window)
    requested = end_of(m, end)
    return span, requested or (m.bundle.candles["ts"].iloc[-1] + m.bundle.meta.timeframe_delta)


@router.get("/markets/{market_id}/liquidations", summary="Realized liquidations over a window", response_model=Liquidations)
def liquidations(
    m: MarketDep, window: Window = "7d", end: End = None, limit: Annotated[int, Query(ge=1, le=100000)] = 5000
) -> Response:
    """Sent as built (the model documents it): checking thousands of rows against it took 35 ms of a live page's
    refresh, six times the answer itself."""
    span, stop = _stop(m, window, end)
    liq = m.bundle.liquidations
    if liq is None:
        rows = pd.DataFrame(columns=["ts", "side", "usd", "price"])
    else:
        rows = liq[(liq["ts"] >= stop - span) & (liq["ts"] < stop) & (liq["usd"] > 0)]
        rows = rows.nlargest(limit, "usd").sort_values("ts") if len(rows) > limit else rows
    body = {
        "market": m.id,
        "time": encode.seconds(rows["ts"]),
        "side": rows["side"].tolist(),
        "usd": rows["usd"].round(2).tolist(),
        "price": encode.nums(rows["price"]) if "price" in rows else [None] * len(rows),
    }
    return encode.json_response(body)


@router.get(
    "/markets/{market_id}/liquidations/totals",
    summary="Realized liquidations per hour or day and side, the largest",
    response_model=LiquidationTotals,
)
def liquidation_totals(
    m: MarketDep,
    window: Window = "7d",
    end: End = None,
    bucket: Literal["1h", "1d"] = "1h",
    largest: Annotated[int, Query(ge=0, le=100)] = 10,
) -> dict[str, Any]:
    span, stop = _stop(m, window, end)
    liq = m.bundle.liquidations
    empty = pd.DataFrame({"ts": pd.Series(dtype="datetime64[us, UTC]"), "side": [], "usd": [], "price": []})
    rows = empty if liq is None else liq[(liq["ts"] >= stop - span) & (liq["ts"] < stop)]
    buckets = rows["ts"].dt.floor(parse_duration(bucket, "bucket"))
    sums = {side: rows[rows["side"] == side].groupby(buckets[rows["side"] == side])["usd"].sum() for side in ("long", "short")}
    index = sorted(set(sums["long"].index) | set(sums["short"].index))
    orders = rows[rows["price"].notna() & (rows["usd"] > 0)] if "price" in rows else rows.iloc[0:0]
    return {
        "market": m.id,
        "bucket": bucket,
        "venues": list(m.bundle.meta.venues),
        "time": encode.seconds(index),
        "long_usd": [round(float(sums["long"].get(t, 0.0)), 2) for t in index],
        "short_usd": [round(float(sums["short"].get(t, 0.0)), 2) for t in index],
        "largest": [
            {"ts": iso(pd.Timestamp(ts)), "side": str(side), "usd": round(float(value), 2), "price": float(p)}
            for ts, side, value, p in orders.nlargest(largest, "usd")[["ts", "side", "usd", "price"]].itertuples(index=False)
        ],
    }


@router.get(
    "/liquidations",
    summary="Realized liquidations in the store: per hour or day by venue, side and symbol",
    response_model=StoreLiquidations,
)
def store_liquidations(
    markets: RegistryDep,
    window: Window = "7d",
    end: End = None,
    bucket: Literal["1h", "1d"] = "1d",
    venue: Annotated[list[str] | None, Query(description=f"repeatable: {', '.join(FEEDS)}")] = None,
    symbol: Annotated[list[str] | None, Query(description="repeatable: BTCUSDT, BTC/USDT:USDT, …")] = None,
    top: Annotated[int, Query(ge=1, le=500)] = 20,
    largest: Annotated[int, Query(ge=0, le=100)] = 10,
) -> dict[str, Any]:
    from liqheat.store.realized import realized

    if markets.store is None:
        raise ApiError(404, "this server has no store (GET /api/server says so): serve one to see realized liquidations")
    span = window_of(window)
    requested = time_of(end, "end")
    with naming("venue"):
        for name in venue or []:
            spec(name)
    with naming("symbol"):
        unified = [resolve(s, venue[0] if venue and len(venue) == 1 else None).unified for s in symbol or []]
    try:
        found = realized(markets.store, bucket=bucket, window=span, until=requested, venues=venue, symbols=unified,
                         largest=largest)  # fmt: skip
    except DomainError as exc:
        raise ApiError(404 if "no liquidations" in str(exc) else 400, str(exc)) from None
    return found.to_dict(top=top)


@router.get(
    "/alerts", summary="The service's alert rules and its latest alerts with each delivery's state", response_model=Alerts
)
def alerts(
    markets: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    market: Annotated[str | None, Query(description="Only this market's alerts.")] = None,
) -> dict[str, Any]:
    """A 404 on a server that evaluates no alerts (only ``liqheat run`` does)."""
    if markets.alerts is None:
        raise ApiError(404, "this server evaluates no alert rules (the service does: liqheat run)", None)

    def listed(xs: tuple[str, ...] | None) -> list[str] | None:
        return None if xs is None else list(xs)  # None: every market, every destination

    rules = [
        {"name": r.name, "kind": r.kind, "markets": listed(r.markets), "destinations": listed(r.destinations)}
        for r in markets.alert_rules
    ]
    records = markets.alerts.history(limit=limit, market_id=market)
    return {
        "rules": rules,
        "alerts": [
            {
                "seq": r.seq,
                **{k: v for k, v in r.alert.to_dict().items() if k != "data"},
                "created": r.created,
                "deliveries": [
                    {
                        "destination": d.destination,
                        "status": d.status,
                        "attempts": d.attempts,
                        "last_error": d.last_error,
                        "delivered_at": d.delivered_at,
                    }
                    for d in r.deliveries
                ],
            }
            for r in records
        ],
    }
