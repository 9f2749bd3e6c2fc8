"""A market bundle from the store: what the engine, the scorer and the page read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from liqheat.bundle import Bundle, BundleMeta, Format, write_bundle
from liqheat.model import DomainError, Market
from liqheat.store.parquet_store import Series, Store
from liqheat.timeutil import parse_duration, parse_time


def export_bundle(
    store: Store,
    out: Path,
    *,
    venue: str,
    market: Market,
    timeframe: str,
    since: str | None = None,
    until: str | None = None,
    fmt: Format = "parquet",
    overwrite: bool = False,
) -> Path:
    parse_duration(timeframe, "timeframe")
    start, stop = parse_time(since, "since"), parse_time(until, "until")
    symbol = market.unified
    candles = store.read(Series("candles", venue, symbol, timeframe), start, stop)
    if candles.empty:
        raise DomainError(f"the store {store.root} has no {timeframe} candles of {venue} {symbol} in that range")
    oi = store.read(Series("open_interest", venue, symbol), start, stop)
    if oi.empty:
        raise DomainError(f"the store {store.root} has no open interest of {venue} {symbol} in that range (a bundle needs it)")
    funding = store.read(Series("funding", venue, symbol), start, stop)
    liq = store.read(Series("liquidations", venue, symbol), start, stop)
    has_liq = not liq.empty
    meta = BundleMeta(
        symbol=market.base,
        contract=market.kind,
        quote=market.quote,
        timeframe=timeframe,
        venues=(venue,),
        source=f"liqheat store {store.root} ({venue} {symbol})",
        funding_interval="8h" if not funding.empty else None,
        liquidations_interval="1h" if has_liq else None,
        score_from=candles["ts"].iloc[0] + pd.Timedelta(days=1) if has_liq else None,
        notes="Liquidations from a throttled stream are a lower bound." if has_liq else None,
    )
    cols = [c for c in ("ts", "open", "high", "low", "close", "volume", "taker_buy_volume") if c in candles]
    bundle = Bundle(
        meta=meta,
        candles=candles[cols],
        open_interest=oi[["ts", "oi_usd"]],
        funding=funding[["ts", "rate"]] if not funding.empty else None,
        liquidations=liq[["ts", "side", "usd", "price"]] if has_liq else None,
    )
    return write_bundle(bundle, out, fmt=fmt, overwrite=overwrite)
