"""Binance COIN-M (BTCUSD_PERP, inverse, 100 USD a contract) through ccxt, on recorded venue-native payloads.

Fixtures beside this file follow Binance's documented shapes for the delivery API: GET /dapi/v1/exchangeInfo
(one symbol, ``contractSize`` 100), GET /dapi/v1/klines (index 5 is the volume in contracts, index 7 the
base-asset volume in BTC), GET /futures/data/openInterestHist on dapi (``sumOpenInterest`` counts contracts,
``sumOpenInterestValue`` is in BTC), GET /dapi/v1/fundingRate and GET /dapi/v2/leverageBracket (``qtyFloor``
/ ``qtyCap`` and ``cum`` in BTC). The replay answers like the venue: rows in [startTime, endTime], oldest
first, at most ``limit``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pandas as pd
import pytest

from liqheat.margin.tables import parse_table
from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.registry import open_source
from liqheat.venues.binance import feed as binance
from liqheat.venues.symbols import resolve
from liqheat.venues.tables import lookup

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2025-10-10T00:00:00Z")
MARKET = resolve("BTCUSD_PERP", "binance")


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


def window(rows: list[Any], ts_of: Any, query: dict[str, str]) -> list[Any]:
    """What Binance answers for startTime/endTime/limit: the rows in range, oldest first, at most ``limit``."""
    lo, hi = int(query.get("startTime", 0)), int(query.get("endTime", 2**62))
    inside = sorted((r for r in rows if lo <= int(ts_of(r)) <= hi), key=lambda r: int(ts_of(r)))
    return inside[: int(query.get("limit", 500))]


class Replay:
    """Stands in for ccxt's HTTP layer on dapi.binance.com."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.requests.append((parsed.path, query))
        if parsed.path.startswith("/sapi/"):  # the wallet and margin lists ccxt reads when a key is set
            return []
        if parsed.path == "/dapi/v1/exchangeInfo":
            return load("coinm_exchangeInfo.json")
        if parsed.path == "/dapi/v1/klines":
            return window(load("coinm_klines.json"), lambda r: r[0], query)
        if parsed.path == "/futures/data/openInterestHist":
            assert (query["pair"], query["contractType"]) == ("BTCUSD", "PERPETUAL")  # dapi wants the pair, not the symbol
            return window(load("coinm_openInterestHist.json"), lambda r: r["timestamp"], query)
        if parsed.path == "/dapi/v1/fundingRate":
            return window(load("coinm_fundingRate.json"), lambda r: r["fundingTime"], query)
        if parsed.path == "/dapi/v2/leverageBracket":
            return load("coinm_leverageBracket.json")
        raise AssertionError(f"unexpected request {url}")

    def queries(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path]


def exchange(replay: Replay, key: bool = False) -> Any:
    ex = ccxt.binancecoinm()
    ex.enableRateLimit = False  # no throttle: the transport is a replay
    ex.fetch = replay
    if key:
        ex.apiKey, ex.secret = "dummy-key", "dummy-secret"
    return ex


def test_candles_are_paged_and_their_volume_is_in_btc() -> None:
    replay = Replay()
    src = CcxtSource(replace(binance.SPEC, candle_page=3), MARKET, exchange(replay))
    frame = src.fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=5))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=i) for i in range(5)]
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame.loc[0, ["open", "high", "low", "close"]].tolist() == [121690.0, 121750.5, 121630.1, 121702.3]
    assert frame.loc[4, "close"] == 121688.8
    # the base-asset volume (BTC), not the 245,310 contracts of index 5
    assert frame["volume"].tolist() == [201.56562366, 162.98592595, 255.76233553, 154.16714965, 125.72233435]
    starts = [int(q["startTime"]) for q in replay.queries("/dapi/v1/klines")]
    assert starts[:2] == [ms(START), ms(START + pd.Timedelta(minutes=3))]  # two pages of three
    assert replay.queries("/dapi/v1/klines")[0]["symbol"] == "BTCUSD_PERP"


def test_open_interest_contracts_are_hundred_usd_and_the_value_is_btc() -> None:
    src = open_source("binance", MARKET, exchange(Replay()))
    frame = src.fetch_open_interest(START, START + pd.Timedelta(minutes=20))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=m) for m in (0, 5, 10, 15)]
    assert frame["oi_usd"].tolist() == [1_306_940_100.0, 1_307_185_000.0, 1_305_211_800.0, 1_306_073_300.0]
    assert frame["oi_base"].tolist() == [10738.82827194, 10742.03213443, 10732.32578218, 10736.3021187]
    # USD over BTC is the price of the moment: the contracts were not taken for coins
    assert (frame["oi_usd"] / frame["oi_base"]).round(1).tolist() == [121702.3, 121688.8, 121615.0, 121650.2]


def test_funding() -> None:
    replay = Replay()
    src = open_source("binance", MARKET, exchange(replay))
    frame = src.fetch_funding(START, START + pd.Timedelta(hours=24))
    assert frame["ts"].tolist() == [START, START + pd.Timedelta(hours=8), START + pd.Timedelta(hours=16)]
    assert frame["rate"].tolist() == [0.0001, 0.00004173, -0.00012508]
    assert replay.queries("/dapi/v1/fundingRate")[0]["symbol"] == "BTCUSD_PERP"


def test_brackets_are_in_btc_with_binances_cum() -> None:
    replay = Replay()
    src = open_source("binance", MARKET, exchange(replay, key=True))
    data = src.fetch_tiers()
    assert (data["market"], data["symbol"], data["contract"]) == ("coinm", "BTCUSD_PERP", "inverse")
    assert data["unified"] == "BTC/USD:BTC"
    assert (data["contract_size"], data["notional_unit"]) == (100.0, "BTC")
    tiers = data["tiers"]
    assert [(t["floor"], t["cap"]) for t in tiers] == [(0, 5), (5, 10), (10, 25), (25, 150), (150, 400)]
    assert [t["mmr"] for t in tiers] == [0.004, 0.005, 0.01, 0.025, 0.05]
    assert [t["max_leverage"] for t in tiers] == [125, 100, 50, 20, 10]
    assert [t["maint_amount"] for t in tiers] == pytest.approx([0.0, 0.005, 0.055, 0.43, 4.18], abs=1e-12)
    assert src.log == []
    table = parse_table(data, "binance coinm")
    shipped = lookup("binance", MARKET).table
    assert [(b.floor, b.cap, b.mmr) for b in table.table] == [(b.floor, b.cap, b.mmr) for b in list(shipped)[:5]]
    assert [b.maint_amount for b in table.table] == pytest.approx([b.maint_amount for b in list(shipped)[:5]])
    assert table.spec.contract_size == 100.0
    assert replay.queries("/dapi/v2/leverageBracket")[0]["signature"]
