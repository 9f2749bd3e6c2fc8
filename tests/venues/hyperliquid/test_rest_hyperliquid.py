"""Hyperliquid perpetuals (BTC, USDC-settled) through ccxt, on recorded venue-native payloads.

Every request is a POST to /info with a JSON body ``{"type": ...}``, so the replay answers by that type.
Fixtures beside this file follow Hyperliquid's documented answers: ``info.json`` holds spotMeta,
spotMetaAndAssetCtxs, perpDexs (``[null]``: the main dex only) and metaAndAssetCtxs (``universe`` and the
asset contexts, index-aligned; ``openInterest`` in the coin, ``markPx`` in USDC); candleSnapshot (``t``/``T``
open and close time, ``v`` in the coin) and fundingHistory (hourly, stamped a few ms after the hour).
The replay answers like the venue: rows with time in [startTime, endTime], oldest first.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import ccxt
import ccxt.pro
import pandas as pd
import pytest

from liqheat.model import DomainError
from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.registry import open_source
from liqheat.venues.hyperliquid import feed as hyperliquid
from liqheat.venues.symbols import resolve

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2025-10-10T00:00:00Z")
MARKET = resolve("BTC", "hyperliquid")


def ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


class Replay:
    """Stands in for ccxt's HTTP layer: POST https://api.hyperliquid.xyz/info, answered by the body's type."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        assert (method, url) == ("POST", "https://api.hyperliquid.xyz/info")
        request = json.loads(body)
        self.bodies.append(request)
        kind = request["type"]
        recorded = load("info.json")
        if kind in recorded:
            return recorded[kind]
        if kind == "candleSnapshot":
            req = request["req"]
            assert (req["coin"], req["interval"]) == ("BTC", "1m")
            return [c for c in load("candleSnapshot.json") if req["startTime"] <= c["t"] <= req["endTime"]]
        if kind == "fundingHistory":
            assert request["coin"] == "BTC"
            end = request.get("endTime", 2**62)
            return [f for f in load("fundingHistory.json") if request["startTime"] <= f["time"] <= end][:500]
        raise AssertionError(f"unexpected request {body}")

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["type"] == kind]


def source(replay: Replay, **spec: Any) -> CcxtSource:
    exchange = ccxt.hyperliquid()
    exchange.enableRateLimit = False  # no throttle: the transport is a replay
    exchange.fetch = replay
    if spec:
        return CcxtSource(replace(hyperliquid.SPEC, **spec), MARKET, exchange)
    return open_source("hyperliquid", MARKET, exchange)


def test_candles() -> None:
    replay = Replay()
    frame = source(replay).fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=4))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=i) for i in range(4)]  # 00:04 is `until`, left out
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame.loc[0, ["open", "high", "low", "close", "volume"]].tolist() == [121690.0, 121747.0, 121634.0, 121705.0, 41.23001]
    assert frame["close"].tolist() == [121705.0, 121766.0, 121601.0, 121646.0]
    assert replay.of("candleSnapshot")[0]["req"]["startTime"] == ms(START)


def test_candles_are_paged() -> None:
    replay = Replay()
    # two a page: ccxt keeps the first two of the snapshot, and the next page starts after them
    frame = source(replay, candle_page=2).fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=5))
    assert frame["volume"].tolist() == [41.23001, 27.51844, 66.00512, 25.9042, 19.33108]
    starts = [b["req"]["startTime"] for b in replay.of("candleSnapshot")]
    assert starts[:3] == [ms(START), ms(START + pd.Timedelta(minutes=2)), ms(START + pd.Timedelta(minutes=4))]


def test_open_interest_now_is_coins_at_the_mark_price() -> None:
    """Read by ``liqheat follow`` only, so through ccxt.pro's async REST (the follower's event loop)."""
    replay = Replay()
    pro = ccxt.pro.hyperliquid({"enableRateLimit": False})

    async def transport(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        return replay(url, method, headers, body)

    async def read() -> pd.DataFrame:
        pro.fetch = transport
        try:
            return await open_source("hyperliquid", MARKET, pro=pro).fetch_open_interest_now_async()
        finally:
            await pro.close()

    before = pd.Timestamp(time.time(), unit="s", tz="UTC").floor("ms")
    frame = asyncio.run(read())
    after = pd.Timestamp(time.time(), unit="s", tz="UTC").ceil("ms")
    assert replay.of("metaAndAssetCtxs")
    assert len(frame) == 1
    assert frame.loc[0, "oi_base"] == 31245.67891  # BTC's context, not ETH's
    assert frame.loc[0, "oi_usd"] == pytest.approx(31245.67891 * 121712.0)
    assert before <= frame.loc[0, "ts"] <= after  # the venue does not stamp it: the time it was read


def test_open_interest_has_no_history() -> None:
    replay = Replay()
    with pytest.raises(DomainError, match="no open-interest history"):
        source(replay).fetch_open_interest(START, START + pd.Timedelta(hours=1))
    assert replay.bodies == []  # refused before asking the venue


def test_funding_is_hourly_with_the_venues_stamps() -> None:
    replay = Replay()
    frame = source(replay, funding_page=2).fetch_funding(START, START + pd.Timedelta(hours=4))
    assert frame["ts"].tolist() == [START + pd.Timedelta(hours=h, milliseconds=31 + h) for h in range(4)]
    assert frame["rate"].tolist() == [0.0000125, 0.0000099, -0.0000104, 0.0000125]
    starts = [b["startTime"] for b in replay.of("fundingHistory")]
    assert starts[:2] == [ms(START), ms(START + pd.Timedelta(hours=1, milliseconds=33))]  # after the last row of page 1


def test_tiers_are_not_given_through_ccxt() -> None:
    with pytest.raises(DomainError, match="no maintenance tiers through ccxt"):
        source(Replay()).fetch_tiers()
