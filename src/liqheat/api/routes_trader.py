"""What a trader does with the map at a time: clusters, support and resistance, a cascade, a sized plan,
sentiment; and the exact liquidation price of one position, of any symbol or of the market's own. The same
answers as ``liqheat clusters``, ``levels``, ``cascade``, ``plan``, ``sentiment`` and ``calc``."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query

from liqheat.analytics.cascade import DEPTH_SCALE, market_book, parse_shock
from liqheat.analytics.cascade import cascade as run_cascade
from liqheat.analytics.clusters import Cluster, clusters_of, concentration, ranked
from liqheat.analytics.levels import confluence, levels
from liqheat.analytics.liqmap import whole
from liqheat.analytics.planner import parse_risk, venue_symbol
from liqheat.analytics.planner import plan as make_plan
from liqheat.analytics.planner import sentiment as read_sentiment
from liqheat.api import encode
from liqheat.api.busy import HEAVY
from liqheat.api.deps import At, MarketDep, Window, map_at, window_of
from liqheat.api.errors import ApiError, naming
from liqheat.api.markets import Market
from liqheat.api.models import ERRORS, Calc, Cascade, Clusters, Levels, Plan, Sentiment
from liqheat.timeutil import iso
from liqheat.venues.calc import calculate, position_from_inputs
from liqheat.venues.registry import RULES, rules
from liqheat.venues.symbols import resolve
from liqheat.venues.tables import lookup

router = APIRouter(prefix="/api", responses=ERRORS)

MarginVenue = Annotated[
    str | None,
    Query(pattern=f"^({'|'.join(RULES)})$", description=f"whose margin rules: {', '.join(RULES)}; default: the market model's"),
]


@router.get(
    "/markets/{market_id}/clusters",
    summary="The largest bands of notional at risk per side",
    response_model=Clusters,
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=HEAVY,
)
def clusters(
    m: MarketDep,
    at: At = None,
    top: Annotated[int, Query(ge=1, le=20)] = 5,
    rank: Annotated[
        Literal["reach", "size"],
        Query(description="reach: by the notional expected to liquidate within 24 h (near and large first); size: by notional"),
    ] = "reach",
    format: Literal["json", "csv"] = "json",
    lev_min: Annotated[float, Query(ge=1, le=200, description="Only positions of this leverage and up (ages unknown then).")] = 1,
    lev_max: Annotated[float, Query(ge=1, le=200)] = 200,
) -> Any:
    if lev_min > lev_max:
        raise ApiError(400, f"lev_min {lev_min} is above lev_max {lev_max}", "lev_min")
    mm = map_at(m, at)
    if lev_min > 1 or lev_max < 200:
        with naming(None, aliases={"no leverage bucket": "lev_min"}):
            part = whole(mm, m.timeline, m.params, (lev_min, lev_max))
        # the band's own map; its past maps are not kept, so its clusters carry no age
        mm = replace(mm, long=part.long, short=part.short, past_ts=(), past_long=mm.past_long[:0], past_short=mm.past_short[:0])
    every = ranked(clusters_of(mm, top=None), rank)
    found = [c for side in ("long", "short") for c in [x for x in every if x.side == side][:top]]
    if format == "csv":
        table = pd.DataFrame([c.to_dict() for c in found], columns=list(Cluster.__dataclass_fields__))
        return encode.csv_response(str(table.to_csv(index=False)), f"liqheat-{m.id}-clusters.csv")
    return {
        "market": m.id,
        "at": iso(mm.ts),
        "price": mm.price,
        "atr_pct": mm.atr_pct,
        "clusters": [c.to_dict() for c in found],
        "concentration": concentration(mm, every),
    }


@router.get(
    "/markets/{market_id}/levels",
    summary="Support and resistance, and their confluence with the clusters",
    response_model=Levels,
    dependencies=HEAVY,
)
def sr_levels(
    m: MarketDep,
    at: At = None,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    lookback: Annotated[int, Query(ge=10, le=1_000_000)] = 720,
    rank: Annotated[
        Literal["reach", "size"],
        Query(description="reach: confluence weighs each cluster by its chance of being reached within 24 h; size: not"),
    ] = "reach",
) -> dict[str, Any]:
    mm = map_at(m, at)
    found = levels(m.bundle.candles.iloc[: mm.index + 1], mm.price, lookback=lookback)
    meets = confluence(clusters_of(mm, top=10), found, rank=rank)
    return {
        "market": m.id,
        "at": iso(mm.ts),
        "price": mm.price,
        "levels": [lv.to_dict() for lv in found[:top]],
        "confluence": [x.to_dict() for x in meets[:top]],
    }


@router.get(
    "/markets/{market_id}/cascade",
    summary="Push price by a shock and follow the liquidation chain",
    response_model=Cascade,
    dependencies=HEAVY,
)
def cascade_route(
    m: MarketDep,
    shock: Annotated[str, Query(description="The push in %: -3%, -3 or +2.5% (negative = down, through the longs).")],
    depth_scale: Annotated[float, Query(ge=DEPTH_SCALE[0], le=DEPTH_SCALE[1], description="Book depth × this.")] = 1.0,
    depth: Annotated[
        Literal["market", "reference"],
        Query(description="market: Binance BTCUSDT's book scaled by this market's traded volume; reference: that book as is."),
    ] = "market",
    book: Literal["calm", "crash"] = "calm",
    refill: Annotated[float, Query(ge=0, le=1)] = 0.0,
    at: At = None,
) -> dict[str, Any]:
    with naming("shock"):
        pct = parse_shock(shock)
    mm = map_at(m, at)
    b = m.bundle
    model = market_book(book, b.candles, mm.index, b.meta.timeframe_delta, depth=depth, symbol=b.meta.symbol).scaled(depth_scale)
    result = run_cascade(mm, pct, model, clusters_of(mm, top=20), refill=refill)
    return {"market": m.id, "at": iso(mm.ts), "time": int(mm.ts.timestamp()), **result.to_dict()}


@router.get(
    "/markets/{market_id}/plan",
    summary="Size a trade from its risk; stop, target and own liquidation price",
    response_model=Plan,
    dependencies=HEAVY,
)
def plan_route(
    m: MarketDep,
    side: Literal["long", "short"],
    entry: Annotated[float, Query(gt=0)],
    leverage: Annotated[float, Query(ge=1, le=1000)],
    balance: Annotated[float, Query(gt=0)],
    risk: Annotated[str, Query(description="of the balance: 1% or 0.01")] = "1%",
    venue: MarginVenue = None,
    max_stop_atr: Annotated[float, Query(gt=0, le=100, description="the farthest stop from the entry, in ATRs")] = 4.0,
    at: At = None,
) -> dict[str, Any]:
    mm = map_at(m, at)
    with naming("risk"):
        fraction = parse_risk(risk)
    with naming("venue", "side", "entry", "leverage", "balance", aliases={"the stop": "entry", "notional": "balance"}):
        p = make_plan(mm, clusters_of(mm, top=None), side=side, entry=entry, leverage=leverage, balance=balance,
                      risk=fraction, venue=venue or m.params.venue, contract=m.bundle.meta.contract,
                      max_stop_atr=max_stop_atr)  # fmt: skip
    return {"market": m.id, "at": iso(mm.ts), "price": mm.price, **p.to_dict()}


@router.get(
    "/markets/{market_id}/sentiment",
    summary="Long vs short at risk, funding and open-interest change",
    response_model=Sentiment,
    dependencies=HEAVY,
)
def sentiment_route(m: MarketDep, window: Window = "24h", at: At = None) -> dict[str, Any]:
    span = window_of(window)
    mm = map_at(m, at)
    b = m.bundle
    return {"market": m.id, **read_sentiment(mm, b.candles, b.open_interest, b.funding, span)}


CalcSide = Annotated[str, Query(description="long or short")]
CalcEntry = Annotated[float, Query(gt=0)]
CalcLeverage = Annotated[float, Query(ge=1)]
CalcSize = Annotated[float, Query(gt=0, description="base units (linear) or contracts (inverse)")]
CalcBalance = Annotated[float | None, Query(description="the wallet balance; cross margin needs it")]


def _calc(
    venue: str,
    symbol: str,
    side: str,
    entry: float,
    leverage: float,
    size: float,
    margin_mode: str,
    balance: float | None,
    *,
    symbol_param: str = "symbol",
) -> dict[str, Any]:
    """The one calculator behind both routes; each refusal names the query parameter it came from (a market's
    symbol is no parameter: a venue without its contract or table is the ``venue``'s fault there)."""
    if margin_mode == "cross" and balance is None:
        raise ApiError(400, "cross margin needs balance (the account's wallet balance)", "balance")
    with naming("venue"):
        rule = rules(venue)
    with naming(symbol_param):
        market = resolve(symbol, rule.tables_from)
        rule.rules_for(market.kind)
        table = lookup(rule.tables_from, market)
    with naming(None, "side", "size", "entry", "leverage", "balance", aliases={"margin": "balance"}):
        position, vt = position_from_inputs(venue, symbol, side, entry, leverage, size, margin_mode=margin_mode,
                                            balance=balance, table=table)  # fmt: skip
        result: dict[str, Any] = calculate(venue, position, table=vt).to_dict()
    return result


@router.get("/calc", summary="Exact liquidation price of one position (see liqheat calc)", response_model=Calc)
def calc(
    venue: Annotated[str, Query(description=f"whose margin rules: {', '.join(RULES)}")],
    symbol: Annotated[str, Query(description="unified (BTC/USDT:USDT, BTC/USD:BTC) or the venue's own name (BTCUSDT …)")],
    side: CalcSide,
    entry: CalcEntry,
    leverage: CalcLeverage,
    size: CalcSize,
    margin_mode: Literal["isolated", "cross"] = "isolated",
    balance: CalcBalance = None,
) -> dict[str, Any]:
    return _calc(venue, symbol, side, entry, leverage, size, margin_mode, balance)


def own_venue(m: Market) -> str:
    """The venue whose rules a market's positions follow: its own when the bundle has one venue with rules
    (a Hyperliquid bundle is priced by Hyperliquid's tiers), else the model's (an aggregate of several)."""
    venues = [v.lower() for v in m.bundle.meta.venues]
    return venues[0] if len(venues) == 1 and venues[0] in RULES else m.params.venue


@router.get(
    "/markets/{market_id}/calc",
    summary="Exact liquidation price of one position in this market: its own coin and contract, its venue's tiers",
    response_model=Calc,
)
def market_calc(
    m: MarketDep,
    side: CalcSide,
    entry: CalcEntry,
    leverage: CalcLeverage,
    size: CalcSize,
    venue: Annotated[
        str | None,
        Query(
            pattern=f"^({'|'.join(RULES)})$",
            description=f"whose margin rules: {', '.join(RULES)}; default: the market's own venue when it has one, "
            "else the model's",
        ),
    ] = None,
    margin_mode: Literal["isolated", "cross"] = "isolated",
    balance: CalcBalance = None,
) -> dict[str, Any]:
    """The symbol is the market's (its coin's USDT perpetual, USDC on Hyperliquid, or its inverse one), so ETH
    is priced with ETH's brackets whatever the page's symbol box says; the answer's venue and symbol say which."""
    chosen = venue or own_venue(m)
    symbol = venue_symbol(chosen, m.bundle.meta.symbol, m.bundle.meta.contract)
    return _calc(chosen, symbol, side, entry, leverage, size, margin_mode, balance, symbol_param="venue")
