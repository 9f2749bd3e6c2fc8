"""Bybit v5 linear (BTCUSDT) and inverse (BTCUSD) through ccxt, on recorded venue-native payloads.

Fixtures beside this file are Bybit's documented envelopes (``retCode``/``result``/``time``), one per category:
GET /v5/market/instruments-info, /v5/market/kline (``[start, open, high, low, close, volume, turnover]``,
newest first; linear volume in BTC, inverse volume in USD contracts and turnover in BTC),
/v5/market/open-interest (linear in BTC, inverse in USD), /v5/market/funding/history and
/v5/market/risk-limit (``riskLimitValue`` in USDT or BTC, ``mmDeduction`` empty on the lowest tier).
Spot, option and pre-launch listings answer with empty lists. The replay answers like the venue: rows
in [start, end], newest first.
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
from liqheat.venues.bybit import feed as bybit
from liqheat.venues.symbols import resolve
from liqheat.venues.tables import lookup

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2025-10-10T00:00:00Z")
LINEAR = resolve("BTCUSDT", "bybit")
INVERSE = resolve("BTCUSD", "bybit")
FILES = {
    "/v5/market/instruments-info": "instruments-info.json",
    "/v5/market/kline": "kline.json",
    "/v5/market/open-interest": "open-interest.json",
    "/v5/market/funding/history": "funding-history.json",
    "/v5/market/risk-limit": "risk-limit.json",
}
TIME_KEY = {"/v5/market/kline": 0, "/v5/market/open-interest": "timestamp", "/v5/market/funding/history": "fundingRateTimestamp"}
BOUNDS = {"/v5/market/kline": ("start", "end"), "/v5/market/open-interest": ("startTime", "endTime"),
          "/v5/market/funding/history": ("startTime", "endTime")}  # fmt: skip


def ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


class Replay:
    """Stands in for ccxt's HTTP layer on api.bybit.com, by path and category."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.requests.append((parsed.path, query))
        if parsed.path not in FILES:
            raise AssertionError(f"unexpected request {url}")
        recorded = json.loads((HERE / FILES[parsed.path]).read_text(encoding="utf-8"))
        category = query.get("category", "")
        if category not in recorded or query.get("status") == "PreLaunch":
            return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": [], "nextPageCursor": ""},
                    "retExtInfo": {}, "time": 1760140800123}  # fmt: skip
        answer: dict[str, Any] = recorded[category]
        if parsed.path in TIME_KEY:
            key, (lo_name, hi_name) = TIME_KEY[parsed.path], BOUNDS[parsed.path]
            lo, hi = int(query.get(lo_name, 0)), int(query.get(hi_name, 2**62))
            inside = sorted((r for r in answer["result"]["list"] if lo <= int(r[key]) <= hi), key=lambda r: int(r[key]))
            inside = inside[: int(query.get("limit", 200))]
            answer["result"]["list"] = inside[::-1]
        return answer

    def queries(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path]


def source(market: Any, replay: Replay, **spec: Any) -> CcxtSource:
    exchange = ccxt.bybit()
    exchange.enableRateLimit = False  # no throttle: the transport is a replay
    exchange.fetch = replay
    if spec:
        return CcxtSource(replace(bybit.SPEC, **spec), market, exchange)
    return open_source("bybit", market, exchange)


def test_linear_candles_are_paged_oldest_first_with_btc_volume() -> None:
    replay = Replay()
    frame = source(LINEAR, replay, candle_page=2).fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=5))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=i) for i in range(5)]  # the venue sends newest first
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame.loc[0, ["open", "high", "low", "close", "volume"]].tolist() == [121688.4, 121745.0, 121630.2, 121712.9, 153.218]
    assert frame["volume"].tolist() == [153.218, 98.407, 211.933, 120.045, 87.66]
    starts = [int(q["start"]) for q in replay.queries("/v5/market/kline")]
    assert starts[:3] == [ms(START), ms(START + pd.Timedelta(minutes=2)), ms(START + pd.Timedelta(minutes=4))]
    assert all(q["category"] == "linear" and q["symbol"] == "BTCUSDT" for q in replay.queries("/v5/market/kline"))


def test_inverse_candle_volume_is_the_btc_turnover_not_the_usd_contracts() -> None:
    frame = source(INVERSE, Replay()).fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=3))
    assert frame["close"].tolist() == [121705.5, 121760.0, 121598.0]
    assert frame["volume"].tolist() == [34.6864357, 25.6135184, 51.07086465]  # 4,221,530 USD at 121,705.5 is 34.69 BTC


def test_linear_open_interest_is_in_coins_and_leaves_usd_to_the_candles() -> None:
    replay = Replay()
    frame = source(LINEAR, replay).fetch_open_interest(START, START + pd.Timedelta(minutes=20))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=m) for m in (0, 5, 10, 15)]
    assert frame["oi_base"].tolist() == [52341.779, 52360.104, 52298.511, 52312.0]
    assert frame["oi_usd"].isna().all()  # complete_open_interest prices it at the candle close
    first = replay.queries("/v5/market/open-interest")[0]
    assert (first["category"], first["symbol"], first["intervalTime"]) == ("linear", "BTCUSDT", "5min")


def test_inverse_open_interest_is_in_usd() -> None:
    frame = source(INVERSE, Replay()).fetch_open_interest(START, START + pd.Timedelta(minutes=20))
    assert frame["oi_usd"].tolist() == [461_134_384.0, 461_202_010.0, 460_998_731.0, 461_050_002.0]
    assert frame["oi_base"].isna().all()


@pytest.mark.parametrize(
    ("market", "rates"),
    [(LINEAR, [0.0001, 0.00005211, -0.00003875]), (INVERSE, [0.0001, 0.00003304, -0.00008742])],
)
def test_funding(market: Any, rates: list[float]) -> None:
    replay = Replay()
    frame = source(market, replay).fetch_funding(START, START + pd.Timedelta(hours=24))
    assert frame["ts"].tolist() == [START, START + pd.Timedelta(hours=8), START + pd.Timedelta(hours=16)]
    assert frame["rate"].tolist() == rates
    assert replay.queries("/v5/market/funding/history")[0]["startTime"] == str(ms(START))


def test_linear_risk_limits_become_a_table_with_bybits_mm_deduction() -> None:
    src = source(LINEAR, Replay())
    data = src.fetch_tiers()
    assert (data["venue"], data["market"], data["symbol"], data["contract"]) == ("bybit", "linear", "BTCUSDT", "linear")
    assert (data["notional_unit"], data["contract_size"]) == ("USDT", 1.0)
    tiers = data["tiers"]
    assert [(t["floor"], t["cap"]) for t in tiers] == [(0, 2_000_000), (2_000_000, 2_600_000), (2_600_000, 3_200_000)]
    assert [t["mmr"] for t in tiers] == [0.005, 0.0056, 0.0063]
    assert [t["max_leverage"] for t in tiers] == [100, 90, 80]
    assert [t["maint_amount"] for t in tiers] == pytest.approx([0.0, 1200.0, 3020.0])  # Bybit's mmDeduction
    assert src.log == []
    table = parse_table(data, "bybit linear").table
    shipped = lookup("bybit", LINEAR).table
    assert [(b.floor, b.cap, b.mmr) for b in table] == [(b.floor, b.cap, b.mmr) for b in list(shipped)[:3]]
    assert [b.maint_amount for b in table] == pytest.approx([b.maint_amount for b in list(shipped)[:3]])


def test_inverse_risk_limits_are_in_btc() -> None:
    replay = Replay()
    data = source(INVERSE, replay).fetch_tiers()
    assert (data["market"], data["symbol"], data["notional_unit"], data["contract"]) == ("inverse", "BTCUSD", "BTC", "inverse")
    assert [(t["floor"], t["cap"], t["mmr"], t["max_leverage"]) for t in data["tiers"]] == [
        (0, 150, 0.005, 100),
        (150, 300, 0.01, 66.67),
    ]
    assert [t["maint_amount"] for t in data["tiers"]] == pytest.approx([0.0, 0.75])
    table = parse_table(data, "bybit inverse").table
    assert table.maintenance(200) == pytest.approx(200 * 0.01 - 0.75)
    assert replay.queries("/v5/market/risk-limit") == [{"symbol": "BTCUSD", "category": "inverse"}]
