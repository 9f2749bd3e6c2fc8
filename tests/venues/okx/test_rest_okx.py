"""OKX v5 perpetual swaps (BTC-USDT-SWAP, 0.01 BTC a contract; BTC-USD-SWAP, 100 USD) through ccxt, on
recorded venue-native payloads.

Fixtures beside this file are OKX's documented envelopes (``code``/``msg``/``data``), keyed by instrument:
GET /api/v5/public/instruments?instType=SWAP (the two perpetuals, every field as the venue writes it),
/api/v5/market/history-candles (``[ts, o, h, l, c, vol (contracts), volCcy (BTC), volCcyQuote, confirm]``),
/api/v5/rubik/stat/contracts/open-interest-history (``[ts, oi (contracts), oiCcy (BTC), oiUsd]``),
/api/v5/public/funding-rate-history (``realizedRate`` charged, ``fundingRate`` the last prediction) and
/api/v5/public/position-tiers (sizes in contracts; a tier's ``minSz`` is the previous ``maxSz`` plus one lot,
as on the venue's tier pages: BTC-USD's three tiers as recorded, BTC-USDT's first one as recorded).

The replay answers like the venue: ``before``/``after`` (``begin``/``end`` for rubik) are exclusive bounds,
rows come newest first and a page holds the newest ``limit`` rows of its range, so a lone lower bound
returns the latest data.
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
from liqheat.venues.okx import feed as okx
from liqheat.venues.symbols import resolve
from liqheat.venues.tables import lookup

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2025-10-10T00:00:00Z")
LINEAR = resolve("BTC-USDT-SWAP", "okx")
INVERSE = resolve("BTC-USD-SWAP", "okx")
SERIES = {  # path -> fixture, the row's time, the (lower, upper) bound parameters
    "/api/v5/market/history-candles": ("history-candles.json", lambda r: r[0], ("before", "after")),
    "/api/v5/market/candles": ("history-candles.json", lambda r: r[0], ("before", "after")),
    "/api/v5/rubik/stat/contracts/open-interest-history": ("open-interest-history.json", lambda r: r[0], ("begin", "end")),
    "/api/v5/public/funding-rate-history": ("funding-rate-history.json", lambda r: r["fundingTime"], ("before", "after")),
}


def ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


def load(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


class Replay:
    """Stands in for ccxt's HTTP layer on www.okx.com."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        self.requests.append((parsed.path, query))
        if parsed.path == "/api/v5/public/instruments":
            return load("instruments.json") if query["instType"] == "SWAP" else {"code": "0", "msg": "", "data": []}
        if parsed.path == "/api/v5/public/position-tiers":
            return load("position-tiers.json")[query["instFamily"]]
        if parsed.path not in SERIES:
            raise AssertionError(f"unexpected request {url}")
        name, ts_of, (lower, upper) = SERIES[parsed.path]
        answer: dict[str, Any] = load(name)[query["instId"]]
        lo, hi = int(query.get(lower, -1)), int(query.get(upper, 2**62))
        inside = sorted((r for r in answer["data"] if lo < int(ts_of(r)) < hi), key=lambda r: -int(ts_of(r)))
        answer["data"] = inside[: int(query.get("limit", 100))]
        return answer

    def queries(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path]


def source(market: Any, replay: Replay, **spec: Any) -> CcxtSource:
    exchange = ccxt.okx()
    exchange.enableRateLimit = False  # no throttle: the transport is a replay
    exchange.fetch = replay
    if spec:
        return CcxtSource(replace(okx.SPEC, **spec), market, exchange)
    return open_source("okx", market, exchange)


def test_linear_candles_are_paged_and_their_volume_is_btc_not_contracts() -> None:
    replay = Replay()
    frame = source(LINEAR, replay, candle_page=2).fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=5))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=i) for i in range(5)]
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame.loc[0, ["open", "high", "low", "close"]].tolist() == [121695.1, 121748.0, 121640.3, 121709.9]
    assert frame["volume"].tolist() == [48.37, 31.12, 77.05, 29.98, 22.41]  # volCcy; vol is 100 times that in contracts
    pages = replay.queries("/api/v5/market/history-candles")
    assert [int(q["before"]) for q in pages[:3]] == [ms(START) - 1, ms(START) + 120_000 - 1, ms(START) + 240_000 - 1]
    assert all(q["instId"] == "BTC-USDT-SWAP" and q["bar"] == "1m" for q in pages)


def test_inverse_candle_volume_is_btc() -> None:
    frame = source(INVERSE, Replay()).fetch_candles(None, "1m", START, START + pd.Timedelta(minutes=2))
    assert frame["close"].tolist() == [121709.9, 121770.4]
    assert frame["volume"].tolist() == [48.37, 31.12]  # volCcy, not the 58,871.1 contracts of 100 USD


def test_linear_open_interest_from_rubik_rows() -> None:
    replay = Replay()
    frame = source(LINEAR, replay, oi_page=2).fetch_open_interest(START, START + pd.Timedelta(minutes=20))
    assert frame["ts"].tolist() == [START + pd.Timedelta(minutes=m) for m in (0, 5, 10, 15)]
    assert frame["oi_base"].tolist() == [28004.7645, 28019.9012, 27980.04, 27995.1233]  # oiCcy: contracts × 0.01 BTC
    assert frame["oi_usd"].tolist() == [3408457086.82, 3409666123.29, 3403492065.6, 3405953888.97]  # oiUsd
    pages = replay.queries("/api/v5/rubik/stat/contracts/open-interest-history")
    assert [int(q["begin"]) for q in pages[:2]] == [ms(START) - 1, ms(START) + 600_000 - 1]
    assert pages[0]["period"] == "5m"


def test_inverse_open_interest_usd_is_contracts_times_hundred() -> None:
    frame = source(INVERSE, Replay()).fetch_open_interest(START, START + pd.Timedelta(minutes=20))
    assert frame["oi_usd"].tolist() == [521443320.0, 521500790.0, 520998100.0, 521145060.0]
    assert frame["oi_base"].tolist() == [4284.3131, 4285.5811, 4283.1149, 4283.5343]
    assert (frame["oi_usd"] / frame["oi_base"]).round(0).tolist() == [121710.0, 121687.0, 121640.0, 121662.0]


def test_funding_is_the_realized_rate() -> None:
    frame = source(LINEAR, Replay()).fetch_funding(START, START + pd.Timedelta(hours=40))
    assert frame["ts"].tolist() == [START + pd.Timedelta(hours=h) for h in (0, 8, 16, 24, 32)]
    assert frame["rate"].tolist() == [0.0001, 0.0000498, -0.0000381, 0.0000203, 0.0000706]


@pytest.mark.parametrize(("hours", "expected"), [(40, [0, 8, 16, 24, 32]), (16, [0, 8]), (24, [0, 8, 16])])
def test_funding_pages_reach_back_to_since(hours: int, expected: list[int]) -> None:
    """A lone ``before`` returns OKX's newest rows: with two a page, walking forward from ``since`` would keep only
    the newest two (or nothing, when they lie past ``until``)."""
    replay = Replay()
    frame = source(INVERSE, replay, funding_page=2).fetch_funding(START, START + pd.Timedelta(hours=hours))
    assert frame["ts"].tolist() == [START + pd.Timedelta(hours=h) for h in expected]
    rates = {0: 0.0001, 8: 0.0000318, 16: -0.0000905, 24: 0.000015, 32: 0.0000411}
    assert frame["rate"].tolist() == [rates[h] for h in expected]
    first = replay.queries("/api/v5/public/funding-rate-history")[0]
    assert (first["instId"], first["after"], first["limit"]) == ("BTC-USD-SWAP", str(ms(START + pd.Timedelta(hours=hours))), "2")


def test_linear_tiers_are_in_contracts_and_carry_no_deduction() -> None:
    src = source(LINEAR, Replay())
    data = src.fetch_tiers()
    assert (data["venue"], data["market"], data["symbol"], data["contract"]) == ("okx", "swap", "BTC-USDT-SWAP", "linear")
    assert (data["notional_unit"], data["contract_size"]) == ("contracts", 0.01)
    tiers = data["tiers"]
    assert [(t["floor"], t["cap"]) for t in tiers] == [(0, 1000), (1000, 2000), (2000, 4000)]  # minSz 1000.01 -> 1000
    assert [t["mmr"] for t in tiers] == [0.004, 0.005, 0.0075]
    assert [t["max_leverage"] for t in tiers] == [100, 66.66, 50]
    assert [t["maint_amount"] for t in tiers] == [0, 0, 0]  # OKX charges the tier's rate on the whole position
    table = parse_table(data, "okx linear").table
    assert table.maintenance(1500) == pytest.approx(1500 * 0.005)
    shipped = lookup("okx", LINEAR).table
    first = next(iter(shipped))
    assert (tiers[0]["floor"], tiers[0]["cap"], tiers[0]["mmr"], tiers[0]["maint_amount"]) == (
        first.floor,
        first.cap,
        first.mmr,
        first.maint_amount,
    )


def test_inverse_tiers_as_recorded() -> None:
    replay = Replay()
    data = source(INVERSE, replay).fetch_tiers()
    assert (data["symbol"], data["contract"], data["notional_unit"], data["contract_size"]) == (
        "BTC-USD-SWAP",
        "inverse",
        "contracts",
        100.0,
    )
    assert [(t["floor"], t["cap"], t["mmr"], t["max_leverage"], t["maint_amount"]) for t in data["tiers"]] == [
        (0, 2000, 0.004, 100, 0),
        (2000, 5000, 0.005, 66.66, 0),
        (5000, 20000, 0.0075, 50, 0),
    ]
    parse_table(data, "okx inverse")
    assert replay.queries("/api/v5/public/position-tiers") == [{"instType": "SWAP", "tdMode": "cross", "instFamily": "BTC-USD"}]
