"""Binance USD-M through ccxt, on recorded venue-native payloads (ccxt's transport replaced: no network).

Fixtures beside this file follow Binance's documented shapes: GET /fapi/v1/exchangeInfo (one symbol)
and GET /fapi/v1/klines arrays [open time, open, high, low, close, volume, close time, quote volume,
trades, taker buy base, taker buy quote, ignore].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pandas as pd
import pytest

from liqheat.model import DomainError
from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.errors import RetryableVenueError, VenueError
from liqheat.sources.registry import open_source
from liqheat.venues.symbols import resolve

HERE = Path(__file__).resolve().parent
EXCHANGE_INFO = json.loads((HERE / "exchangeInfo.json").read_text(encoding="utf-8"))
PAGES = json.loads((HERE / "klines.json").read_text(encoding="utf-8"))
START = pd.Timestamp("2025-10-10T00:00:00Z")


class Replay:
    """Stands in for ccxt's HTTP layer: answers by path (and startTime), can fail on purpose."""

    def __init__(self, klines: dict[int, list[list[Any]]], failures: list[Exception] | None = None) -> None:
        self.klines = klines
        self.failures = failures or []
        self.requests: list[str] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parsed = urlparse(url)
        self.requests.append(parsed.path)
        if parsed.path.endswith("/exchangeInfo"):
            return EXCHANGE_INFO
        if parsed.path.endswith("/klines"):
            if self.failures:
                raise self.failures.pop(0)
            since = int(parse_qs(parsed.query)["startTime"][0])
            return self.klines.get(since, [])
        raise AssertionError(f"unexpected request {url}")


def source(replay: Replay, symbol: str = "BTC/USDT:USDT") -> tuple[CcxtSource, list[float]]:
    exchange = ccxt.binanceusdm()
    exchange.fetch = replay
    slept: list[float] = []
    return open_source("binance", resolve(symbol, "binance"), exchange, sleep=slept.append), slept


def minute(i: int) -> int:
    return int((START + pd.Timedelta(minutes=i)).timestamp() * 1000)


def test_pages_are_followed_merged_and_ordered() -> None:
    replay = Replay({minute(0): PAGES["page1"], minute(4): PAGES["page2"], minute(7): PAGES["page3"]})
    src, _ = source(replay)
    frame = src.fetch_candles("BTC/USDT:USDT", "1m", START, START + pd.Timedelta(minutes=10))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=i) for i in range(8)]
    assert frame["ts"].is_unique  # the overlapping row of page 2 is not counted twice
    assert frame.loc[4, "close"] == 121714.0  # out-of-order rows land in time order
    assert frame.loc[0, ["open", "high", "low", "close", "volume"]].tolist() == [121700.0, 121760.0, 121640.0, 121710.0, 153.2]
    assert replay.requests.count("/fapi/v1/klines") == 4  # three pages, then an empty one ends it


def test_rate_limits_and_timeouts_are_retried_with_backoff() -> None:
    failures: list[Exception] = [ccxt.RateLimitExceeded("429"), ccxt.DDoSProtection("418"), ccxt.RequestTimeout("timeout")]
    replay = Replay({minute(0): PAGES["page1"]}, failures)
    src, slept = source(replay)
    frame = src.fetch_candles("BTC/USDT:USDT", "1m", START, START + pd.Timedelta(minutes=4))
    assert len(frame) == 4
    assert slept == [0.5, 1.0, 2.0]
    assert [line.split(":")[1].split(",")[0].strip() for line in src.log] == [
        "RateLimitExceeded",
        "DDoSProtection",
        "RequestTimeout",
    ]


def test_errors_that_retrying_cannot_fix_are_raised() -> None:
    src, slept = source(Replay({}, [ccxt.AuthenticationError("bad key")]))
    with pytest.raises(VenueError) as raised:
        src.fetch_candles("BTC/USDT:USDT", "1m", START, START + pd.Timedelta(minutes=4))
    assert str(raised.value) == "binance fetch_ohlcv BTC/USDT:USDT: AuthenticationError: bad key"
    assert not isinstance(raised.value, RetryableVenueError)
    assert slept == []
    src, _ = source(Replay({}), "NOPE/USDT:USDT")
    with pytest.raises(DomainError, match="binance"):
        src.fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=4))


def test_a_page_cut_short_is_continued_from_its_last_row() -> None:
    replay = Replay({minute(0): PAGES["page1"][:2], minute(2): PAGES["page1"][2:]})
    src, _ = source(replay)
    frame = src.fetch_candles("BTC/USDT:USDT", "1m", START, START + pd.Timedelta(minutes=4))
    assert len(frame) == 4


def test_capabilities_are_declared() -> None:
    caps = open_source("binance", resolve("BTCUSDT")).capabilities
    assert "full history" in caps.candles
    assert caps.oi_history_days == 30
    assert caps.liquidations_stream is not None
    assert "lower bound" in caps.liquidations_stream
