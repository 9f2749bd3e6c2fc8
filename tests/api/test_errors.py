"""Every 400, 404 and 422 has one body, ``{"detail": "<message>", "param": "<parameter or null>"}``, and
``param`` names the query or path parameter at fault: FastAPI's own validation errors included (their
``detail`` is one string, ``query.<name>: <why>``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from liqheat import __version__
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.store.parquet_store import Series, Store

M = "/api/markets/syn"
PLAN = {"side": "long", "entry": 100, "leverage": 10, "balance": 10_000}
CALC = {"venue": "binance", "symbol": "BTCUSDT", "side": "long", "entry": 60000, "leverage": 20, "size": 1}
OUTSIDE = "2031-06-01T00:00:00Z"
CLI_FLAG = re.compile(r"(?<![\w-])--[a-z]")

# (url, query, status, param, start of detail)
CASES: list[tuple[str, dict[str, Any], int, str | None, str]] = [
    # 404: a market or a path that does not exist
    *[(f"/api/markets/nope{r}", {}, 404, "market_id", "unknown market 'nope' (known: syn)") for r in
      ("", "/candles", "/heatmap", "/map", "/clusters", "/levels", "/sentiment", "/liquidations", "/summary", "/venues")],
    ("/api/markets/nope/cascade", {"shock": -3}, 404, "market_id", "unknown market 'nope'"),
    ("/api/markets/nope/plan", PLAN, 404, "market_id", "unknown market 'nope'"),
    ("/api/nothing", {}, 404, None, "Not Found"),
    # 422: FastAPI's validation, one string naming where and why
    (f"{M}/heatmap", {"bins": 9}, 422, "bins", "query.bins: Input should be greater than or equal to 10"),
    (f"{M}/heatmap", {"side": "up"}, 422, "side", "query.side: Input should be 'both', 'long' or 'short'"),
    (f"{M}/heatmap", {"format": "png"}, 422, "format", "query.format:"),
    (f"{M}/heatmap", {"lev_max": "nan"}, 422, "lev_max", "query.lev_max:"),
    (f"{M}/heatmap", {"columns": "many"}, 422, "columns", "query.columns: Input should be a valid integer"),
    (f"{M}/map", {"span_pct": 0}, 422, "span_pct", "query.span_pct:"),
    (f"{M}/clusters", {"top": 0}, 422, "top", "query.top:"),
    (f"{M}/levels", {"lookback": 5}, 422, "lookback", "query.lookback:"),
    (f"{M}/cascade", {}, 422, "shock", "query.shock: Field required"),
    (f"{M}/cascade", {"shock": -3, "book": "wild"}, 422, "book", "query.book:"),
    (f"{M}/plan", {**PLAN, "side": "up"}, 422, "side", "query.side:"),
    (f"{M}/plan", {**PLAN, "venue": "kraken"}, 422, "venue", "query.venue: String should match pattern"),
    (f"{M}/liquidations", {"limit": 0}, 422, "limit", "query.limit:"),
    (f"{M}/liquidations/totals", {"bucket": "2h"}, 422, "bucket", "query.bucket:"),
    (f"{M}/venues", {"points": 1}, 422, "points", "query.points:"),
    ("/api/events", {"poll": 0}, 422, "poll", "query.poll:"),
    ("/api/calc", {k: v for k, v in CALC.items() if k != "entry"}, 422, "entry", "query.entry: Field required"),
    ("/api/calc", {**CALC, "margin_mode": "portfolio"}, 422, "margin_mode", "query.margin_mode:"),
    ("/api/liquidations", {"largest": -1}, 422, "largest", "query.largest:"),
    # 400: a value the domain refuses, named
    *[(f"{M}/{r}", {"window": "3x"}, 400, "window", "window must be one of") for r in
      ("candles", "heatmap", "liquidations", "liquidations/totals", "sentiment")],
    ("/api/liquidations", {"window": "3x"}, 400, "window", "window must be one of"),
    (f"{M}/candles", {"window": "3661d"}, 400, "window", "window 3661d is longer than 10 years"),
    *[(f"{M}/{r}", {"end": "soon"}, 400, "end", "end is not an ISO 8601 time: 'soon'") for r in
      ("candles", "heatmap", "liquidations", "liquidations/totals")],
    ("/api/liquidations", {"end": "soon"}, 400, "end", "end is not an ISO 8601 time: 'soon'"),
    *[(f"{M}/{r}", {"end": OUTSIDE}, 400, "end", "") for r in ("candles", "heatmap", "liquidations", "liquidations/totals")],
    *[(f"{M}/{r}", {**q, "at": "soon"}, 400, "at", "at is not an ISO 8601 time: 'soon'") for r, q in
      (("map", {}), ("clusters", {}), ("levels", {}), ("cascade", {"shock": -3}), ("plan", PLAN), ("sentiment", {}))],
    *[(f"{M}/{r}", {**q, "at": OUTSIDE}, 400, "at", f"at {OUTSIDE} is outside syn") for r, q in
      (("map", {}), ("clusters", {}), ("levels", {}), ("cascade", {"shock": -3}), ("plan", PLAN), ("sentiment", {}))],
    (f"{M}/map", {"at": "-1"}, 400, "at", "at '-1' is outside any market's data"),
    (f"{M}/candles", {"interval": "2h"}, 400, "interval", "interval must be one of 1m, 5m, 15m, 1h, 4h, 1d"),
    (f"{M}/candles", {"interval": "1m"}, 400, "interval", "interval 1m is finer than"),
    (f"{M}/heatmap", {"lev_min": 50, "lev_max": 10}, 400, "lev_min", "lev_min 50.0 is above lev_max 10.0"),
    (f"{M}/heatmap", {"lev_min": 1, "lev_max": 1.4}, 400, "lev_min", "no leverage bucket lies in 1x … 1.4x"),
    (f"{M}/heatmap", {"end": "2026-01-05T00:30:00Z", "window": "4h"}, 400, "window", "window 14400s ending"),
    (f"{M}/cascade", {"shock": 0}, 400, "shock", "shock must be a non-zero % in (-90, 900), got 0.0"),
    (f"{M}/cascade", {"shock": "-3%%"}, 400, "shock", "shock must be a percentage such as -3% or +2.5, got '-3%%'"),
    (f"{M}/cascade", {"shock": "-3", "depth": "deep"}, 422, "depth", "query.depth:"),
    (f"{M}/plan", {**PLAN, "risk": "abc"}, 400, "risk", "risk must be a percentage"),
    (f"{M}/plan", {**PLAN, "risk": "150%"}, 400, "risk", "risk must be in (0, 100 %]"),
    (f"{M}/plan", {**PLAN, "entry": "inf"}, 400, "entry", "entry must be a number in [1e-12, 1e+12]"),  # no CLI flag
    (f"{M}/plan", {**PLAN, "entry": "5e-324"}, 400, "entry", "entry must be a number in [1e-12, 1e+12], got 5e-324"),
    (f"{M}/plan", {**PLAN, "entry": "1e-320"}, 400, "entry", "entry must be a number in [1e-12, 1e+12], got 1e-320"),
    (f"{M}/plan", {**PLAN, "balance": "5e-324"}, 400, "balance", "balance 5e-324 at risk 0.01 is no amount to risk"),
    (f"{M}/plan", {**PLAN, "balance": "1e20"}, 400, "balance", "balance must be a number in (0, 1e+15], got 1e+20"),
    ("/api/calc", {**CALC, "venue": "ftx"}, 400, "venue", "unknown venue 'ftx' (known: binance, bybit, bybit-classic"),
    ("/api/calc", {**CALC, "symbol": "NOPE"}, 400, "symbol", "cannot read symbol 'NOPE'"),
    ("/api/calc", {**CALC, "venue": "hyperliquid"}, 400, "symbol", "no hyperliquid bracket table for BTC/USDT:USDT"),
    ("/api/calc", {**CALC, "venue": "hyperliquid", "symbol": "BTCUSD_PERP"}, 400, "symbol", "Hyperliquid has no inverse"),
    ("/api/calc", {**CALC, "symbol": "ETH"}, 400, "symbol",
     "cannot read symbol 'ETH' (a bare coin names a market only on hyperliquid, not binance); use a unified symbol"),
    ("/api/calc", {**CALC, "side": "up"}, 400, "side", "side must be long or short, got 'up'"),
    ("/api/calc", {**CALC, "entry": "inf"}, 400, "entry", "entry price must be a finite number > 0"),
    ("/api/calc", {**CALC, "leverage": 1000}, 400, "leverage", "leverage 1000x exceeds the 150x maximum"),
    ("/api/calc", {**CALC, "margin_mode": "cross"}, 400, "balance", "cross margin needs balance"),
    ("/api/calc", {**CALC, "margin_mode": "cross", "balance": -5}, 400, "balance", "margin must be a finite number > 0"),
    ("/api/liquidations", {"venue": "ftx"}, 400, "venue", "unknown venue 'ftx' (known: binance, bybit, okx, hyperliquid)"),
    ("/api/liquidations", {"symbol": "not a symbol"}, 400, "symbol", "cannot read symbol"),
    ("/api/liquidations", {"symbol": "BTC"}, 400, "symbol",
     "cannot read symbol 'BTC' (a bare coin names a market only on hyperliquid: name the venue); use a unified symbol"),
    ("/api/liquidations", {"venue": "okx"}, 404, None, "no liquidations in the store"),
]  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """``syn`` (the API tests' synthetic market) and a store holding one Binance liquidation."""
    from api.data import SYN

    store = Store(Path(tmp_path_factory.mktemp("store")))
    with store.writer():
        liq = pd.DataFrame({"ts": [pd.Timestamp("2026-01-10T00:00:00Z")], "side": ["long"], "usd": [5e5], "price": [100.0]})
        store.write(Series("liquidations", "binance", "BTC/USDT:USDT"), liq.astype({"ts": "datetime64[us, UTC]"}))
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.store = store
    return TestClient(create_app(registry))


@pytest.mark.parametrize(("url", "query", "status", "param", "detail"), CASES, ids=[f"{c[0]} {c[1]}"[:90] for c in CASES])
def test_every_error_has_one_shape_naming_its_parameter(
    client: TestClient, url: str, query: dict[str, Any], status: int, param: str | None, detail: str
) -> None:
    response = client.get(url, params=query)
    assert response.status_code == status, (url, query, response.text[:300])
    body = response.json()
    assert list(body) == ["detail", "param"]
    assert isinstance(body["detail"], str)
    assert body["detail"].startswith(detail), body
    assert body["param"] == param, body
    assert not CLI_FLAG.search(body["detail"]), body  # the API names its query parameter, never the CLI's --flag


def test_a_validation_error_on_several_parameters_names_the_first_and_says_every_one(client: TestClient) -> None:
    body = client.get(f"{M}/heatmap", params={"bins": 9, "columns": 1}).json()
    assert body == {
        "detail": "query.bins: Input should be greater than or equal to 10 | "
        "query.columns: Input should be greater than or equal to 2",
        "param": "bins",
    }


def test_a_server_without_a_store_says_so_where_a_page_can_ask_first() -> None:
    client = TestClient(create_app(Registry()))
    response = client.get("/api/liquidations")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "this server has no store (GET /api/server says so): serve one to see realized liquidations",
        "param": None,
    }
    assert client.get("/api/server").json() == {"version": __version__, "store": False, "markets": 0, "alerts": False}


def test_a_wrong_method_has_the_same_shape(client: TestClient) -> None:
    response = client.post("/api/markets")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed", "param": None}


def test_the_docs_show_the_error_shape_on_every_api_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"detail", "param"}
    for path, operations in spec["paths"].items():
        for code in ("400", "404", "422"):
            ref = operations["get"]["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (path, code)
