"""The trader routes (clusters, levels, cascade, plan, sentiment) against the trader commands: the same
inputs give the same answer. Most tests run on the synthetic demo market (the ``demo_dir`` fixture); the last
on the real shared bundle, skipped when ../shared is absent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.data import REAL
from helpers import cli_json, implied_price, plain, plan_json
from liqheat.analytics.clusters import clusters_of, concentration
from liqheat.analytics.maps import MarketMap
from liqheat.bundle import Bundle


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def api(client: TestClient, route: str, status: int = 200, market: str = "demo", **params: Any) -> Any:
    response = client.get(f"/api/markets/{market}/{route}", params=params)
    assert response.status_code == status, (route, params, response.status_code, response.text[:500])
    return response.json()


def api_error(client: TestClient, route: str, status: int, **params: Any) -> str:
    """The ``detail`` of an expected 4xx (for 422 the validation messages joined as ``query.<name>: msg``)."""
    body = api(client, route, status, **params)
    assert set(body) == {"detail", "param"}, body
    assert isinstance(body["detail"], str)
    return str(body["detail"])


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def test_api_clusters_are_the_cli_clusters(demo_client: TestClient, demo_dir: Path, demo: Bundle, demo_map: MarketMap) -> None:
    data = api(demo_client, "clusters")
    assert data["market"] == "demo"
    assert data["at"] == iso(demo_map.ts)
    assert data["price"] == demo_map.price
    assert data["atr_pct"] == pytest.approx(demo_map.atr_pct)
    assert data["clusters"] == cli_json("clusters", demo_dir)
    assert data["concentration"] == plain(concentration(demo_map, clusters_of(demo_map, top=None)))
    assert api(demo_client, "clusters", top=2)["clusters"] == cli_json("clusters", demo_dir, "--top", "2")
    # with a time: the CLI at the map time the API answers for gives the same clusters
    when = iso(demo.candles["ts"].iloc[1500])
    earlier = api(demo_client, "clusters", at=when)
    assert earlier["price"] != data["price"]
    assert earlier["clusters"] == cli_json("clusters", demo_dir, "--at", earlier["at"])
    assert implied_price(earlier["clusters"][0]) == pytest.approx(earlier["price"], rel=1e-9)


def test_api_levels_are_the_cli_levels(demo_client: TestClient, demo_dir: Path) -> None:
    data = api(demo_client, "levels")
    assert without(data, "market", "at") == cli_json("levels", demo_dir)
    assert len(data["levels"]) == 10
    small = api(demo_client, "levels", top=3, lookback=100)
    assert without(small, "market", "at") == cli_json("levels", demo_dir, "--top", "3", "--lookback", "100")
    sized = api(demo_client, "levels", rank="size")
    assert without(sized, "market", "at") == cli_json("levels", demo_dir, "--rank", "size")


@pytest.mark.parametrize(("shock", "scale", "book"), [(-3.0, 1.0, "calm"), (3.0, 0.5, "calm"), (-2.0, 5.0, "crash")])
def test_api_cascade_is_the_cli_cascade(demo_client: TestClient, demo_dir: Path, shock: float, scale: float, book: str) -> None:
    data = api(demo_client, "cascade", shock=shock, depth_scale=scale, book=book)
    assert data["market"] == "demo"
    assert data["time"] == int(pd.Timestamp(data["at"]).timestamp())
    cli = cli_json("cascade", demo_dir, "--shock", f"{shock:+g}%", "--depth-scale", scale, "--book", book)
    assert without(data, "market", "at", "time") == cli
    assert data["shock_pct"] == shock
    assert (data["price_after"] < data["price_before"]) == (shock < 0)
    # the CLI's spellings of a shock are the API's too: "-3%", "-3", "+2.5%" (the page's form sends what is typed)
    for spelled in (f"{shock:+g}%", f"{shock:g}", f"{shock:g} %"):
        assert api(demo_client, "cascade", shock=spelled, depth_scale=scale, book=book) == data
    reference = api(demo_client, "cascade", shock=shock, depth_scale=scale, book=book, depth="reference")
    cli = cli_json("cascade", demo_dir, "--shock", f"{shock:+g}%", "--depth-scale", scale, "--book", book, "--depth", "reference")
    assert without(reference, "market", "at", "time") == cli
    assert reference["depth"]["scale"] == scale
    assert data["depth"]["rule"] == "volume"
    assert data["depth"]["scale"] == pytest.approx(scale * data["depth"]["market_scale"])


@pytest.mark.parametrize(
    ("side", "venue"), [("long", "binance"), ("short", "binance"), ("long", "okx"), ("short", "hyperliquid")]
)
def test_api_plan_is_the_cli_plan(demo_client: TestClient, demo_dir: Path, demo_map: MarketMap, side: str, venue: str) -> None:
    entry = round(demo_map.price)
    data = api(demo_client, "plan", side=side, entry=entry, leverage=10, balance=10_000, risk="1%", venue=venue)
    assert data["market"] == "demo"
    assert data["price"] == demo_map.price
    assert without(data, "market", "at", "price") == plan_json(demo_dir, side, entry, "--venue", venue)
    assert data["size_base"] * abs(entry - data["stop"]) == pytest.approx(100.0, rel=1e-9)
    assert (data["stop"] < entry) == (side == "long")
    # the default risk is 1 %
    assert api(demo_client, "plan", side=side, entry=entry, leverage=10, balance=10_000, venue=venue) == data


@pytest.mark.parametrize("window", ["24h", "2d"])
def test_api_sentiment_is_the_cli_sentiment(demo_client: TestClient, demo_dir: Path, window: str) -> None:
    data = api(demo_client, "sentiment", window=window)
    assert data["market"] == "demo"
    assert without(data, "market") == cli_json("sentiment", demo_dir, "--window", window)
    assert data["window_hours"] == {"24h": 24.0, "2d": 48.0}[window]


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("plan", {"side": "sideways"}, "side"),
        ("plan", {"side": "LONG"}, "side"),
        ("plan", {"entry": -1}, "entry"),
        ("plan", {"entry": 0}, "entry"),
        ("plan", {"entry": "x"}, "entry"),
        ("plan", {"leverage": 0.5}, "leverage"),
        ("plan", {"leverage": 5000}, "leverage"),
        ("plan", {"balance": 0}, "balance"),
        ("plan", {"venue": "kraken"}, "venue"),
        ("plan", {"side": None}, "side"),
        ("cascade", {"shock": None}, "shock"),
        ("cascade", {"depth": "deep"}, "depth"),
        ("cascade", {"depth_scale": 0}, "depth_scale"),
        ("cascade", {"book": "wild"}, "book"),
        ("cascade", {"refill": 2}, "refill"),
        ("clusters", {"top": 0}, "top"),
        ("levels", {"top": 0}, "top"),
        ("levels", {"lookback": 5}, "lookback"),
    ],
)
def test_api_bad_parameters_are_422_naming_them(demo_client: TestClient, route: str, params: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "plan": {"side": "long", "entry": 63_000, "leverage": 10, "balance": 10_000},
        "cascade": {"shock": -3},
    }.get(route, {})
    query = {k: v for k, v in (base | params).items() if v is not None}
    detail = api_error(demo_client, route, 422, **query)
    assert f"query.{field}:" in detail
    assert all(f"query.{other}:" not in detail for other in base if other != field)


@pytest.mark.parametrize(
    ("route", "params", "fragment"),
    [
        ("plan", {"risk": "abc"}, "risk must be a percentage"),
        ("plan", {"risk": "0"}, "risk must be in (0, 100 %]"),
        ("plan", {"risk": "150%"}, "risk must be in (0, 100 %]"),
        ("cascade", {"shock": 0}, "shock must be a non-zero % in (-90, 900), got 0.0"),
        ("cascade", {"shock": -95}, "shock must be a non-zero % in (-90, 900), got -95.0"),
        ("cascade", {"shock": "900%"}, "shock must be a non-zero % in (-90, 900), got 900.0"),
        ("cascade", {"shock": "-3%%"}, "shock must be a percentage such as -3% or +2.5, got '-3%%'"),
        ("cascade", {"shock": "down"}, "shock must be a percentage"),
        ("sentiment", {"window": "3x"}, "window must be one of"),
        ("sentiment", {"window": "99999999999999d"}, "window"),
        ("clusters", {"at": "not-a-time"}, "at is not an ISO 8601 time: 'not-a-time'"),
        ("plan", {"at": "NaT"}, "at is not an ISO 8601 time"),
    ],
)
def test_api_bad_values_are_400_naming_them(demo_client: TestClient, route: str, params: dict[str, Any], fragment: str) -> None:
    base: dict[str, Any] = {
        "plan": {"side": "long", "entry": 63_000, "leverage": 10, "balance": 10_000},
        "cascade": {"shock": -3},
    }.get(route, {})
    assert fragment in api_error(demo_client, route, 400, **(base | params))


TRADER_ROUTES = [
    ("clusters", {}),
    ("levels", {}),
    ("cascade", {"shock": -3}),
    ("plan", {"side": "long", "entry": 63_000, "leverage": 10, "balance": 10_000}),
    ("sentiment", {}),
]


@pytest.mark.parametrize(("route", "params"), TRADER_ROUTES, ids=[r for r, _ in TRADER_ROUTES])
@pytest.mark.parametrize("when", ["2030-01-01T00:00:00Z", "2025-12-31T23:00:00Z"])
def test_api_at_outside_the_data_is_400(demo_client: TestClient, route: str, params: dict[str, Any], when: str) -> None:
    detail = api_error(demo_client, route, 400, **params, at=when)
    # the first map is after the first candle closes, the last after the last one (as the CLI says)
    assert "is outside demo (2026-01-01T00:01:00Z … 2026-01-04T00:00:00Z)" in detail
    assert when in detail


@pytest.mark.parametrize(("route", "params"), TRADER_ROUTES, ids=[r for r, _ in TRADER_ROUTES])
def test_api_unknown_market_is_404(demo_client: TestClient, route: str, params: dict[str, Any]) -> None:
    detail = api_error(demo_client, route, 404, market="nowhere", **params)
    assert detail == "unknown market 'nowhere' (known: demo)"


def test_real_api_matches_the_cli(real_client: TestClient) -> None:
    folder = REAL
    market = REAL.name
    data = api(real_client, "clusters", market=market)
    assert data["clusters"] == cli_json("clusters", folder)
    entry = float(f"{data['price']:.4g}")
    p = api(real_client, "plan", market=market, side="long", entry=entry, leverage=10, balance=10_000)
    assert without(p, "market", "at", "price") == plan_json(folder, "long", entry)
    assert math.isfinite(p["liquidation_price"])
    s = api(real_client, "sentiment", market=market)
    assert without(s, "market") == cli_json("sentiment", folder)
    c = api(real_client, "cascade", market=market, shock=-3)
    assert without(c, "market", "at", "time") == cli_json("cascade", folder, "--shock", "-3%")


def test_cascade_depth_scale_has_the_library_bounds(demo_client: Any) -> None:
    """The API takes the same [1e-4, 1e4] as the library and the CLI: 5,000 (a deep book) is an answer, not a 422."""
    deep = demo_client.get("/api/markets/demo/cascade", params={"shock": -5, "depth_scale": 5000})
    assert deep.status_code == 200, deep.text
    for bad in (5e-5, 2e4):
        refused = demo_client.get("/api/markets/demo/cascade", params={"shock": -5, "depth_scale": bad})
        assert refused.status_code == 422
        assert refused.json()["param"] == "depth_scale"
