"""What the routes share: the registry (kept on ``app.state`` by :func:`liqheat.api.app.create_app`), the
market a path names, and the query parameters several routes read the same way (times, windows, the
map at a time). Each names its parameter when it refuses a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import pandas as pd
from fastapi import Depends, Query, Request

from liqheat.analytics.maps import MarketMap, index_at
from liqheat.api.errors import ApiError, naming
from liqheat.api.markets import Market, Registry
from liqheat.timeutil import WINDOWS, iso, parse_time, parse_window


def registry(request: Request) -> Registry:
    """The markets this app serves."""
    found: Registry = request.app.state.registry
    return found


RegistryDep = Annotated[Registry, Depends(registry)]


def market(market_id: str, markets: RegistryDep) -> Market:
    """The market ``market_id`` names; 404 listing the known ones otherwise."""
    try:
        return markets.get(market_id)
    except KeyError as exc:
        raise ApiError(404, str(exc.args[0]), "market_id") from None


MarketDep = Annotated[Market, Depends(market)]

At = Annotated[
    str | None,
    Query(description="Time of the map (ISO 8601; no zone means UTC): after the last candle closed by then. Default: the last."),
]
End = Annotated[str | None, Query(description="End of the window (ISO 8601; no zone means UTC). Default: the last candle.")]
Window = Annotated[str, Query(description=f"Look-back: one of {', '.join(WINDOWS)}, or a duration like 6h, 2d (≤ 10 years).")]


def window_of(text: str) -> pd.Timedelta:
    with naming("window"):
        return parse_window(text, "window")


def time_of(text: str | None, param: str) -> pd.Timestamp | None:
    with naming(param):
        return parse_time(text, param)


def end_of(m: Market, text: str | None) -> pd.Timestamp | None:
    """The ``end`` a query asks for, refused when outside the market's candles (their opens, and the last close)."""
    end = time_of(text, "end")
    ts = m.bundle.candles["ts"]
    if end is not None and (end < ts.iloc[0] or end > ts.iloc[-1] + m.bundle.meta.timeframe_delta):
        raise ApiError(400, f"end {iso(end)} is outside {m.id} ({iso(ts.iloc[0])} … {iso(ts.iloc[-1])})", "end")
    return end


def map_at(m: Market, at: str | None, *, ages: bool = True) -> MarketMap:
    """The map at ``at`` every map route reads: after the last candle closed by then (the one causal
    :func:`~liqheat.analytics.maps.index_at`), from the market's timeline."""
    with naming("at"):
        index = index_at(m.bundle, parse_time(at, "at"), name=m.id)
    return m.map_at(index, ages=ages)


@dataclass(frozen=True, slots=True)
class Frame:
    """The columns and rows a heatmap is laid out on, as the heatmap and its exact layer both read them (the page asks
    the two with the same values, so one bitmap and its violet layer share their cells)."""

    window: str
    span: pd.Timedelta
    stop: pd.Timestamp | None
    bins: int
    columns: int
    side: Literal["both", "long", "short"]
    band: tuple[float, float] | None  # None: every leverage

    @property
    def sides(self) -> list[str]:
        return [s for s in ("long", "short") if self.side in ("both", s)]


def frame(
    window: Window = "7d",
    end: End = None,
    bins: Annotated[int, Query(ge=10, le=1000)] = 300,
    columns: Annotated[int, Query(ge=2, le=2000)] = 800,
    side: Literal["both", "long", "short"] = "both",
    lev_min: Annotated[float, Query(ge=1, le=200)] = 1,
    lev_max: Annotated[float, Query(ge=1, le=200)] = 200,
) -> Frame:
    if lev_min > lev_max:
        raise ApiError(400, f"lev_min {lev_min} is above lev_max {lev_max}", "lev_min")
    band = None if lev_min <= 1 and lev_max >= 200 else (lev_min, lev_max)
    return Frame(window, window_of(window), time_of(end, "end"), bins, columns, side, band)


FrameDep = Annotated[Frame, Depends(frame)]
