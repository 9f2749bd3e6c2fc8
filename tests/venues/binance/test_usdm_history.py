"""Binance USD-M open interest, funding and leverage brackets through ccxt, on recorded venue-native payloads.

Fixtures beside this file follow Binance's documented shapes: GET /futures/data/openInterestHist
(``sumOpenInterest`` in the coin, ``sumOpenInterestValue`` in USDT, a 5-minute series), GET
/fapi/v1/fundingRate and GET /fapi/v1/leverageBracket (USER_DATA: every symbol the key can trade, brackets
with ``notionalFloor``/``notionalCap`` in USDT and Binance's own ``cum``). The exchange info is the
one-symbol file of ``test_ccxt_source.py``. The replay answers like the venue: rows in
[startTime, endTime], oldest first, at most ``limit``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pandas as pd
import pytest

from liqheat.margin.tables import parse_table
from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.errors import VenueError
from liqheat.sources.registry import open_source
from liqheat.venues.binance import feed as binance
from liqheat.venues.symbols import resolve
from liqheat.venues.tables import lookup

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2025-10-10T00:00:00Z")
MARKET = resolve("BTCUSDT", "binance")


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def window(rows: list[dict[str, Any]], key: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """What Binance answers for startTime/endTime/limit: the rows in range, oldest first, at most ``limit``."""
    lo, hi = int(query.get("startTime", 0)), int(query.get("endTime", 2**62))
    inside = sorted((r for r in rows if lo <= int(r[key]) <= hi), key=lambda r: int(r[key]))
    return inside[: int(query.get("limit", 500))]


class Replay:
    """Stands in for ccxt's HTTP layer; ``brackets`` replaces the recorded leverage brackets."""

    def __init__(self, brackets: list[dict[str, Any]] | None = None) -> None:
        self.brackets = load("leverageBracket.json") if brackets is None else brackets
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.requests.append((parsed.path, query))
        if parsed.path.startswith("/sapi/"):  # the wallet and margin lists ccxt reads when a key is set
            return []
        if parsed.path == "/fapi/v1/exchangeInfo":
            return load("exchangeInfo.json")
        if parsed.path == "/futures/data/openInterestHist":
            return window(load("openInterestHist.json"), "timestamp", query)
        if parsed.path == "/fapi/v1/fundingRate":
            return window(load("fundingRate.json"), "fundingTime", query)
        if parsed.path == "/fapi/v1/leverageBracket":
            return self.brackets
        raise AssertionError(f"unexpected request {url}")

    def queries(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path]


def exchange(replay: Replay, key: bool = False) -> Any:
    ex = ccxt.binanceusdm()
    ex.enableRateLimit = False  # no throttle: the transport is a replay
    ex.fetch = replay
    if key:
        ex.apiKey, ex.secret = "dummy-key", "dummy-secret"
    return ex


def minutes(*offsets: int) -> list[pd.Timestamp]:
    return [START + pd.Timedelta(minutes=m) for m in offsets]


def test_open_interest_is_coins_and_usdt() -> None:
    replay = Replay()
    src = open_source("binance", MARKET, exchange(replay))
    frame = src.fetch_open_interest(START, START + pd.Timedelta(minutes=30))
    assert frame["ts"].tolist() == minutes(0, 5, 10, 15, 20, 25)
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame["oi_base"].tolist() == [88231.114, 88240.503, 88102.977, 88175.25, 88301.006, 88298.441]
    assert frame.loc[0, "oi_usd"] == 10738608884.94
    assert frame.loc[5, "oi_usd"] == 10749566995.3133
    # USDT over coins is the price of the moment, not a contract count
    assert (frame["oi_usd"] / frame["oi_base"]).round(2).tolist() == [121710.0, 121714.2, 121688.1, 121702.5, 121735.9, 121741.3]
    first = replay.queries("/futures/data/openInterestHist")[0]
    assert (first["symbol"], first["period"], first["startTime"]) == ("BTCUSDT", "5m", str(int(START.timestamp() * 1000)))


def test_open_interest_pages_and_stops_at_until() -> None:
    replay = Replay()
    src = CcxtSource(replace(binance.SPEC, oi_page=2), MARKET, exchange(replay))
    frame = src.fetch_open_interest(START, START + pd.Timedelta(minutes=20))
    assert frame["ts"].tolist() == minutes(0, 5, 10, 15)  # 00:20 is `until`, left out
    assert frame["oi_base"].tolist() == [88231.114, 88240.503, 88102.977, 88175.25]
    starts = [int(q["startTime"]) for q in replay.queries("/futures/data/openInterestHist")]
    assert starts[:2] == [int(t.timestamp() * 1000) for t in minutes(0, 10)]  # the page after 00:05 starts at 00:10
    assert all(q["limit"] == "2" for q in replay.queries("/futures/data/openInterestHist"))


def test_funding_rates_and_their_times() -> None:
    replay = Replay()
    src = open_source("binance", MARKET, exchange(replay))
    frame = src.fetch_funding(START, START + pd.Timedelta(hours=32))
    assert frame["ts"].tolist() == [
        START,
        START + pd.Timedelta(hours=8),
        START + pd.Timedelta(hours=16, milliseconds=1),  # the venue's own stamp, milliseconds kept
        START + pd.Timedelta(hours=24),
    ]
    assert frame["rate"].tolist() == [0.0001, 0.00006832, -0.00002117, 0.0000339]
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert replay.queries("/fapi/v1/fundingRate")[0]["symbol"] == "BTCUSDT"


def test_brackets_become_a_table_with_binances_cum() -> None:
    replay = Replay()
    src = open_source("binance", MARKET, exchange(replay, key=True))
    data = src.fetch_tiers()
    assert (data["venue"], data["market"], data["symbol"], data["unified"]) == ("binance", "usdm", "BTCUSDT", "BTC/USDT:USDT")
    assert (data["contract"], data["contract_size"], data["notional_unit"]) == ("linear", 1.0, "USDT")
    tiers = data["tiers"]
    assert [t["floor"] for t in tiers] == [0, 300_000, 800_000, 3_000_000, 12_000_000]  # BTCUSDT's five, not ETHUSDT's two
    assert [t["cap"] for t in tiers] == [300_000, 800_000, 3_000_000, 12_000_000, 70_000_000]
    assert [t["mmr"] for t in tiers] == [0.004, 0.005, 0.0065, 0.01, 0.02]
    assert [t["max_leverage"] for t in tiers] == [150, 100, 75, 50, 25]
    assert [t["maint_amount"] for t in tiers] == [0.0, 300.0, 1500.0, 12_000.0, 132_000.0]  # Binance's cum, rebuilt
    assert src.log == []  # continuity agreed with every cum the venue sent
    table = parse_table(data, "binance usdm")
    assert table.table.notional_unit == "USDT"
    assert table.table.maintenance(1_000_000) == pytest.approx(1_000_000 * 0.0065 - 1500)
    shipped = lookup("binance", MARKET).table
    assert [(b.floor, b.cap, b.mmr, b.maint_amount) for b in table.table] == [
        (b.floor, b.cap, b.mmr, b.maint_amount) for b in list(shipped)[:5]
    ]
    assert replay.queries("/fapi/v1/leverageBracket")[0]["signature"]  # a signed (USER_DATA) request


def test_a_cum_that_disagrees_with_continuity_is_kept_and_noted() -> None:
    brackets = load("leverageBracket.json")
    brackets[1]["brackets"][2]["cum"] = 1600.0  # tier 3: the venue's figure, 100 off the rebuilt one
    src = open_source("binance", MARKET, exchange(Replay(brackets), key=True))
    tiers = src.fetch_tiers()["tiers"]
    assert [t["maint_amount"] for t in tiers] == [0.0, 300.0, 1600.0, 12_000.0, 132_000.0]
    assert len(src.log) == 2  # tier 3 (the venue's 1600) and tier 4 (continuity from 1600 gives 12100, the venue 12000)
    noted = [
        re.fullmatch(r"tier (\d): venue's maintenance amount (\S+) differs from continuity (\S+); keeping the venue's", m)
        for m in src.log
    ]
    assert [(int(m[1]), float(m[2]), round(float(m[3]), 6)) for m in noted if m] == [(3, 1600.0, 1500.0), (4, 12_000.0, 12_100.0)]


def test_brackets_without_a_key_are_refused_before_any_request() -> None:
    replay = Replay()
    src = open_source("binance", MARKET, exchange(replay), sleep=lambda s: None)
    with pytest.raises(VenueError, match=r"^binance fetch_market_leverage_tiers BTC/USDT:USDT: AuthenticationError: "):
        src.fetch_tiers()
    assert replay.queries("/fapi/v1/leverageBracket") == []
