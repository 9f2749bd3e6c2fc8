"""The HTTP API in-process (FastAPI's TestClient): every endpoint, every validation error, never a 500.

Most tests run on synthetic bundles (tests/api/data.py: two weeks of hourly candles with liquidations, and a bare
three-day market without volume, funding or liquidations); a few run on the shared real bundle and are
skipped when ../shared is absent.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import struct
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import liqheat
from api.data import BARE, HOUR, REAL, SYN
from helpers import SHARED_BUNDLES
from liqheat.api.app import create_app, vendor_dir
from liqheat.api.markets import Registry
from liqheat.api.routes_market import realized_24h
from liqheat.bundle import Bundle, read_bundle, write_bundle
from liqheat.bundle.meta import with_tables
from liqheat.engine.params import ModelParams
from liqheat.model import Market
from liqheat.store.parquet_store import Store
from liqheat.venues.calc import calculate, position_from_inputs
from liqheat.venues.tables import lookup

needs_shared = pytest.mark.skipif(not (REAL / "meta.json").is_file(), reason=f"shared bundle {REAL} is absent")

API_PATHS = {
    "/api/markets",
    "/api/markets/{market_id}",
    "/api/markets/{market_id}/candles",
    "/api/markets/{market_id}/heatmap",
    "/api/markets/{market_id}/map",
    "/api/markets/{market_id}/clusters",
    "/api/markets/{market_id}/liquidations",
    "/api/markets/{market_id}/summary",
    "/api/calc",
    "/api/markets/{market_id}/calc",
    "/api/server",
}
MARKET_ROUTES = ("", "/candles", "/heatmap", "/map", "/clusters", "/liquidations", "/summary")
CALC_OK = {"venue": "binance", "symbol": "BTCUSDT", "side": "long", "entry": 60000, "leverage": 20, "size": 1}
SYN_TS = SYN.candles["ts"]
LAST = SYN_TS.iloc[-1]


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(ts: pd.Timestamp) -> int:
    return int(ts.timestamp())


def get(client: TestClient, url: str, status: int = 200, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == status, (url, params, response.status_code, response.text[:500])
    return response.json() if response.headers["content-type"].startswith("application/json") else response


def error(client: TestClient, url: str, status: int, **params: Any) -> str:
    """The ``detail`` of an expected 4xx (for 422 the validation messages joined, ``query.<name>: why``)."""
    response = client.get(url, params=params)
    assert response.status_code == status, (url, params, response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"detail", "param"}, body
    assert isinstance(body["detail"], str)
    return str(body["detail"])


# ------------------------------------------------------------------------------------------ markets


def test_markets_list_fields(client: TestClient) -> None:
    data = get(client, "/api/markets")
    assert [m["id"] for m in data] == ["syn", "bare"]
    syn, bare = data
    assert syn["symbol"] == "BTC"
    assert syn["quote"] == "USD"
    assert syn["contract"] == "linear"
    assert syn["venues"] == ["binance", "bybit"]
    assert syn["timeframe"] == "1h"
    assert syn["first"] == "2026-01-05T00:00:00Z"
    assert syn["last"] == "2026-01-18T23:00:00Z"
    assert syn["candles"] == 336
    assert syn["kind"] == "bundle"
    assert syn["has_liquidations"] is True
    assert syn["source"] == "synthetic API test data"
    assert set(syn["score"]) == {"long", "short"}
    for side in ("long", "short"):
        s = syn["score"][side]
        assert set(s) == {"model", "yardstick", "margin"}
        assert isinstance(s["model"], float)
        assert isinstance(s["yardstick"], float)
        assert s["margin"] == pytest.approx(s["model"] - s["yardstick"], abs=2e-4)
    assert bare["kind"] == "test"
    assert bare["venues"] == ["okx"]
    assert bare["candles"] == 72
    assert bare["first"] == "2026-02-01T00:00:00Z"
    assert bare["last"] == "2026-02-03T23:00:00Z"
    assert bare["has_liquidations"] is False
    assert bare["score"] is None


def test_market_one_is_its_list_entry(client: TestClient) -> None:
    listed = {m["id"]: m for m in get(client, "/api/markets")}
    for market_id, entry in listed.items():
        assert get(client, f"/api/markets/{market_id}") == entry


@pytest.mark.parametrize("route", MARKET_ROUTES)
def test_unknown_market_is_404_naming_the_known_ones(client: TestClient, route: str) -> None:
    detail = error(client, f"/api/markets/ETHUSDT{route}", 404)
    assert "unknown market 'ETHUSDT'" in detail
    assert "known: syn, bare" in detail


def test_registry_ids_from_folders_and_duplicates(tmp_path: Path) -> None:
    folder = write_bundle(SYN, tmp_path / "My BTC_1h")
    reg = Registry()
    assert reg.add_folder(folder).id == "my-btc-1h"
    assert reg.add_folder(folder).id == "my-btc-1h-2"
    assert reg.add(BARE).id == "eth"
    assert reg.add(BARE, market_id="eth").id == "eth-2"
    client = TestClient(create_app(reg))
    assert [m["id"] for m in get(client, "/api/markets")] == ["my-btc-1h", "my-btc-1h-2", "eth", "eth-2"]
    assert get(client, "/api/markets/my-btc-1h-2")["candles"] == len(SYN.candles)
    assert "known: my-btc-1h, my-btc-1h-2, eth, eth-2" in error(client, "/api/markets/btc/summary", 404)
    assert "known: none" in error(TestClient(create_app(Registry())), "/api/markets/btc", 404)


# ------------------------------------------------------------------------------------------ candles


def expected_candles(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {
        "time": [epoch(t) for t in frame["ts"]],
        **{k: frame[k].round(8).tolist() for k in ("open", "high", "low", "close", "volume")},
    }


def test_candles_default_window_is_the_last_7_days(client: TestClient) -> None:
    data = get(client, "/api/markets/syn/candles")
    assert data["market"] == "syn"
    assert data["interval"] == "1h"
    c = SYN.candles
    want = expected_candles(c[c["ts"] > LAST - pd.Timedelta(days=7)])
    assert len(data["time"]) == 168
    for key, values in want.items():
        assert data[key] == values, key
    assert data["time"][-1] == epoch(LAST)


def test_candles_window_and_end(client: TestClient) -> None:
    end = SYN_TS.iloc[100]
    data = get(client, "/api/markets/syn/candles", window="24h", end=iso(end))
    assert data["time"] == [epoch(t) for t in SYN_TS.iloc[77:101]]
    assert data["close"] == SYN.candles["close"].iloc[77:101].round(8).tolist()
    # the same instant with an offset, and a naive time read as UTC
    assert get(client, "/api/markets/syn/candles", window="24h", end="2026-01-09T06:00:00+02:00") == data
    assert get(client, "/api/markets/syn/candles", window="24h", end="2026-01-09T04:00:00") == data
    # an end between candle opens keeps the candle opened before it
    assert get(client, "/api/markets/syn/candles", window="24h", end="2026-01-09T04:59:59Z") == data
    # windows: 1y covers everything, 2d is 48 candles, 90m one and a half hours
    assert len(get(client, "/api/markets/syn/candles", window="1y")["time"]) == len(SYN_TS)
    assert len(get(client, "/api/markets/syn/candles", window="2d")["time"]) == 48
    assert len(get(client, "/api/markets/syn/candles", window="90m")["time"]) == 2
    assert len(get(client, "/api/markets/syn/candles", window="3660d")["time"]) == len(SYN_TS)


@pytest.mark.parametrize(("interval", "hours"), [("4h", 4), ("1d", 24)])
def test_candles_resample_aggregates(client: TestClient, interval: str, hours: int) -> None:
    data = get(client, "/api/markets/syn/candles", window="5d", end="2026-01-13T09:00:00Z", interval=interval)
    assert data["interval"] == interval
    c = SYN.candles
    shown = c[(c["ts"] > pd.Timestamp("2026-01-08T09:00:00Z")) & (c["ts"] <= pd.Timestamp("2026-01-13T09:00:00Z"))]
    assert len(shown) == 120
    bucket = shown["ts"].dt.floor(f"{hours}h")
    groups = list(shown.groupby(bucket, sort=True))
    assert data["time"] == [epoch(start) for start, _ in groups]
    assert all(t % (hours * 3600) == 0 for t in data["time"])
    assert data["time"][0] == epoch(pd.Timestamp("2026-01-08T08:00:00Z" if hours == 4 else "2026-01-08T00:00:00Z"))
    for i, (_, g) in enumerate(groups):
        assert data["open"][i] == pytest.approx(g["open"].iloc[0], abs=1e-8)
        assert data["high"][i] == pytest.approx(g["high"].max(), abs=1e-8)
        assert data["low"][i] == pytest.approx(g["low"].min(), abs=1e-8)
        assert data["close"][i] == pytest.approx(g["close"].iloc[-1], abs=1e-8)
        assert data["volume"][i] == pytest.approx(g["volume"].sum(), abs=1e-6)
    # the partial first bucket only holds the hours inside the window
    assert data["open"][0] == pytest.approx(shown["open"].iloc[0], abs=1e-8)


def test_candles_interval_equal_to_the_timeframe_is_unchanged(client: TestClient) -> None:
    plain = get(client, "/api/markets/syn/candles", window="24h")
    same = get(client, "/api/markets/syn/candles", window="24h", interval="1h")
    assert same == plain


@pytest.mark.parametrize(("window", "picked"), [("24h", "1h"), ("30d", "1h"), ("180d", "4h"), ("1y", "4h")])
def test_candles_auto_interval_is_the_finest_that_keeps_the_window_to_3000_candles(
    client: TestClient, window: str, picked: str
) -> None:
    """A page asks ``auto`` before it knows the market (index.html asks with its first bytes); the answer names the pick
    and is the same as asking for it."""
    auto = get(client, "/api/markets/syn/candles", window=window, interval="auto")
    assert auto["interval"] == picked
    assert auto == get(client, "/api/markets/syn/candles", window=window, interval=picked)


def test_candles_without_volume(client: TestClient) -> None:
    data = get(client, "/api/markets/bare/candles", window="3d", interval="4h")
    assert data["volume"] is None
    assert len(data["time"]) == 18
    c = BARE.candles
    assert data["high"][0] == pytest.approx(c["high"].iloc[:4].max(), abs=1e-8)
    assert data["low"][-1] == pytest.approx(c["low"].iloc[-4:].min(), abs=1e-8)
    assert data["close"][-1] == pytest.approx(c["close"].iloc[-1], abs=1e-8)


WINDOW_CASES = [
    ("3x", "window must be one of 4h, 12h, 24h, 3d, 7d, 30d, 90d, 180d, 1y"),
    ("", "window must be one of"),
    ("0h", "window must be one of"),
    ("1.5h", "window must be one of"),
    ("7 days", "window must be one of"),
    ("2y", "window must be one of"),
    ("-3d", "window must be one of"),
    ("3661d", "window 3661d is longer than 10 years"),
    ("600w", "window 600w is longer than 10 years"),
    ("99999999d", "longer than 10 years"),
]


@pytest.mark.parametrize("route", ["candles", "heatmap", "liquidations"])
@pytest.mark.parametrize(("window", "message"), WINDOW_CASES)
def test_bad_window_is_400(client: TestClient, route: str, window: str, message: str) -> None:
    assert message in error(client, f"/api/markets/syn/{route}", 400, window=window)


@pytest.mark.parametrize("interval", ["2h", "1w", "60m", "", "1H", "4 h"])
def test_candles_interval_not_in_the_list(client: TestClient, interval: str) -> None:
    detail = error(client, "/api/markets/syn/candles", 400, interval=interval)
    assert f"interval must be one of 1m, 5m, 15m, 1h, 4h, 1d, got {interval!r}" == detail


@pytest.mark.parametrize("interval", ["1m", "5m", "15m"])
def test_candles_interval_finer_than_the_market(client: TestClient, interval: str) -> None:
    detail = error(client, "/api/markets/syn/candles", 400, interval=interval)
    assert detail == f"interval {interval} is finer than, or not a multiple of, the market's 1h"


BAD_TIMES = ["yesterday-ish", "2026-13-01", "2026-01-10T25:00:00Z", "10/45/2026", "0", "1e400", "99999-01-01"]
TIME_ROUTES = [("candles", "end"), ("heatmap", "end"), ("map", "at"), ("clusters", "at"), ("liquidations", "end")]


@pytest.mark.parametrize(("route", "param"), TIME_ROUTES)
@pytest.mark.parametrize("text", BAD_TIMES)
def test_unparseable_time_is_400(client: TestClient, route: str, param: str, text: str) -> None:
    detail = error(client, f"/api/markets/syn/{route}", 400, **{param: text})
    assert detail == f"{param} is not an ISO 8601 time: {text!r}"


@pytest.mark.parametrize(("route", "param"), [r for r in TIME_ROUTES if r[0] != "liquidations"])
@pytest.mark.parametrize("when", ["2020-01-01T00:00:00Z", "2026-01-04T23:59:59Z", "2026-01-19T00:00:01Z", "2031-06-01"])
def test_time_outside_the_data_is_400(client: TestClient, route: str, param: str, when: str) -> None:
    detail = error(client, f"/api/markets/syn/{route}", 400, **{param: when})
    shown = iso(pd.Timestamp(when).tz_localize("UTC") if pd.Timestamp(when).tzinfo is None else pd.Timestamp(when))
    assert shown in detail
    assert re.search(r"outside|before|after", detail), detail
    if route == "heatmap":
        assert "2026-01-05T00:00:00Z" in detail or "2026-01-18T23:00:00Z" in detail
    elif param == "at":  # a map exists from the first candle's close to the last one's
        assert "syn (2026-01-05T01:00:00Z … 2026-01-19T00:00:00Z)" in detail
    else:
        assert "syn (2026-01-05T00:00:00Z … 2026-01-18T23:00:00Z)" in detail


@pytest.mark.parametrize("when", ["2020-01-01T00:00:00Z", "2031-06-01T00:00:00Z"])
def test_liquidations_end_outside_the_data_is_400(client: TestClient, when: str) -> None:
    detail = error(client, "/api/markets/syn/liquidations", 400, end=when)
    assert "outside" in detail


@pytest.mark.parametrize("route", ["candles", "heatmap", "liquidations"])
def test_overflowing_window_is_400(safe_client: TestClient, route: str) -> None:
    detail = error(safe_client, f"/api/markets/syn/{route}", 400, window="99999999999999999999d")
    assert "window" in detail


@pytest.mark.parametrize(("route", "param"), TIME_ROUTES)
def test_not_a_time_is_400(safe_client: TestClient, route: str, param: str) -> None:
    response = safe_client.get(f"/api/markets/syn/{route}", params={param: "NaT"})
    assert response.status_code == 400, (response.status_code, response.text[:300])


@pytest.mark.parametrize(("route", "param"), [r for r in TIME_ROUTES if r[0] != "liquidations"])
def test_time_before_year_one_is_400(safe_client: TestClient, route: str, param: str) -> None:
    response = safe_client.get(f"/api/markets/syn/{route}", params={param: "-1"})
    assert response.status_code == 400, (response.status_code, response.text[:300])


# ------------------------------------------------------------------------------------------ heatmap


def heatmap(client: TestClient, market: str = "syn", **params: Any) -> dict[str, Any]:
    data = get(client, f"/api/markets/{market}/heatmap", **params)
    assert isinstance(data, dict)
    return data


def decode_bin(body: bytes) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    (n,) = struct.unpack_from("<I", body, 0)
    header = json.loads(body[4 : 4 + n].decode())
    start = 4 + n
    pad = (-start) % 4
    assert body[start : start + pad] == b"\0" * pad
    start += pad
    assert start % 4 == 0
    cells = header["columns"] * header["rows"]
    assert len(body) == start + 2 * 4 * cells
    values = np.frombuffer(body, dtype="<f4", offset=start)
    return header, values[:cells].reshape(header["columns"], header["rows"]), values[cells:].reshape(header["columns"], -1)


def test_heatmap_json_shapes_and_axes(client: TestClient) -> None:
    data = heatmap(client)
    assert data["market"] == "syn"
    assert data["side"] == "both"
    assert data["unit"] == "USD notional at risk at the candle's open"
    cols, rows = data["columns"], data["rows"]
    # the default 7d window at 1h: 168 columns (fewer than the 800 asked), at most 300 rows
    assert cols == 168
    assert 10 <= rows <= 300
    assert data["time"] == [epoch(t) for t in SYN_TS.iloc[-168:]]
    edges = np.array(data["price_edges"])
    assert len(edges) == rows + 1
    assert np.all(np.diff(edges) > 0)
    # the rows span the window's candles (with a margin)
    shown = SYN.candles.iloc[-168:]
    assert edges[0] <= shown["low"].min()
    assert edges[-1] >= shown["high"].max()
    for side in ("long", "short"):
        values = np.array(data[side])
        assert values.shape == (cols, rows)
        assert np.all(values >= 0)
        assert values.sum() > 0
    assert data["max"] == pytest.approx(max(np.max(data["long"]), np.max(data["short"])), abs=0.01)


def test_heatmap_resolution_and_end(client: TestClient) -> None:
    data = heatmap(client, window="30d", end="2026-01-12T10:00:00Z", bins=25, columns=40)
    # 30d back from 2026-01-12T10:00 reaches the start: candles 1..178 (column 0 has no map before it), stride 5,
    # columns on whole multiples of it (5, 10 … 175) so that the window one candle later shares them
    assert data["columns"] == 35
    assert data["rows"] <= 25
    assert len(data["price_edges"]) == data["rows"] + 1
    times = np.array(data["time"])
    assert times[0] == epoch(SYN_TS.iloc[5])
    assert np.all(np.diff(times) == 5 * 3600)
    assert times[-1] <= epoch(pd.Timestamp("2026-01-12T10:00:00Z"))
    assert np.array(data["long"]).shape == (35, data["rows"])
    two = heatmap(client, window="4h", columns=2, bins=10)
    n = len(SYN_TS)
    assert two["columns"] == 2
    assert two["time"] == [epoch(SYN_TS.iloc[i]) for i in range(n - 4, n) if i % 2 == 0]


def test_heatmap_side_filters(client: TestClient) -> None:
    both = heatmap(client, window="3d", bins=60)
    long = heatmap(client, window="3d", bins=60, side="long")
    short = heatmap(client, window="3d", bins=60, side="short")
    assert long["side"] == "long"
    assert short["side"] == "short"
    assert long["long"] == both["long"]
    assert short["short"] == both["short"]
    assert not np.any(long["short"])
    assert not np.any(short["long"])
    assert long["max"] == pytest.approx(np.max(both["long"]), abs=0.01)
    assert short["max"] == pytest.approx(np.max(both["short"]), abs=0.01)
    assert long["price_edges"] == both["price_edges"] == short["price_edges"]
    assert long["time"] == both["time"]


def test_heatmap_leverage_band_narrower_is_smaller(client: TestClient) -> None:
    full = heatmap(client, window="3d", bins=60)
    same = heatmap(client, window="3d", bins=60, lev_min=1, lev_max=200)
    assert same == full
    mid = heatmap(client, window="3d", bins=60, lev_min=10, lev_max=50)
    narrow = heatmap(client, window="3d", bins=60, lev_min=20, lev_max=30)
    assert mid["price_edges"] == full["price_edges"]
    for side in ("long", "short"):
        f, m, n = (np.array(d[side]) for d in (full, mid, narrow))
        assert np.all(m <= f + 0.02)
        assert np.all(n <= m + 0.02)
        assert 0 < n.sum() < m.sum() < f.sum()
    # a band holding a single bucket (the buckets run 1.5x … 125x; one lies near 108x) is allowed
    assert heatmap(client, window="3d", bins=60, lev_min=100, lev_max=120)["max"] > 0


def test_heatmap_binary_is_the_json(client: TestClient) -> None:
    for params in ({}, {"window": "3d", "bins": 37, "columns": 50, "side": "short", "lev_min": 5, "lev_max": 40}):
        js = heatmap(client, **params)
        response = client.get("/api/markets/syn/heatmap", params={**params, "format": "bin"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        header, long, short = decode_bin(response.content)
        assert header == {k: v for k, v in js.items() if k not in ("long", "short")}
        for side, values in (("long", long), ("short", short)):
            want = np.array(js[side])
            assert values.shape == want.shape
            # JSON rounds to cents, binary to float32
            np.testing.assert_allclose(values, want, rtol=2**-23, atol=0.0051)
            assert np.all(values >= 0)
        assert header["max"] == pytest.approx(float(max(long.max(), short.max())), rel=2**-23)


def test_heatmap_binary_padding_for_several_header_lengths(client: TestClient) -> None:
    lengths = set()
    for bins in range(10, 18):
        response = client.get("/api/markets/syn/heatmap", params={"window": "12h", "bins": bins, "columns": 3, "format": "bin"})
        assert response.status_code == 200
        header, long, _ = decode_bin(response.content)
        lengths.add(struct.unpack_from("<I", response.content)[0] % 4)
        assert long.shape == (header["columns"], header["rows"])
    assert len(lengths) >= 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bins": 9}, "bins"),
        ({"bins": 1001}, "bins"),
        ({"bins": "many"}, "bins"),
        ({"bins": 12.5}, "bins"),
        ({"columns": 1}, "columns"),
        ({"columns": 2001}, "columns"),
        ({"side": "up"}, "side"),
        ({"side": "LONG"}, "side"),
        ({"side": ""}, "side"),
        ({"format": "png"}, "format"),
        ({"lev_min": 0.5}, "lev_min"),
        ({"lev_max": 201}, "lev_max"),
        ({"lev_max": "nan"}, "lev_max"),
        ({"lev_min": "inf"}, "lev_min"),
    ],
)
def test_heatmap_bad_resolution_or_choice_is_422(client: TestClient, params: dict[str, Any], field: str) -> None:
    assert f"query.{field}:" in error(client, "/api/markets/syn/heatmap", 422, **params)


def test_heatmap_leverage_errors(client: TestClient) -> None:
    assert error(client, "/api/markets/syn/heatmap", 400, lev_min=50, lev_max=10) == "lev_min 50.0 is above lev_max 10.0"
    for lo, hi in ((1, 1.4), (130, 200), (1.6, 1.7)):
        detail = error(client, "/api/markets/syn/heatmap", 400, lev_min=lo, lev_max=hi)
        assert detail == f"no leverage bucket lies in {lo:g}x … {hi:g}x"


def test_heatmap_window_holding_no_candle_is_400(client: TestClient) -> None:
    detail = error(client, "/api/markets/syn/heatmap", 400, end="2026-01-05T00:30:00Z", window="4h")
    assert "holds no candle" in detail


# ------------------------------------------------------------------------------------------ map and clusters


def map_at(client: TestClient, market: str = "syn", **params: Any) -> dict[str, Any]:
    data = get(client, f"/api/markets/{market}/map", **params)
    assert isinstance(data, dict)
    return data


def centers(edges: list[float]) -> np.ndarray:
    e = np.array(edges)
    return np.sqrt(e[:-1] * e[1:])


def test_map_shape_and_axes(client: TestClient) -> None:
    data = map_at(client)
    assert data["market"] == "syn"
    assert data["at"] == iso(LAST + HOUR)
    assert data["price"] == pytest.approx(SYN.candles["close"].iloc[-1])
    edges = np.array(data["price_edges"])
    assert len(edges) == 201
    assert np.all(np.diff(edges) > 0)
    assert edges[0] == pytest.approx(data["price"] * 0.7, rel=1e-8)
    assert edges[-1] == pytest.approx(data["price"] * 1.3, rel=1e-8)
    for key in ("long", "short", "cumulative_long", "cumulative_short"):
        assert len(data[key]) == 200
        assert min(data[key]) >= 0
    small = map_at(client, bins=10, span_pct=5)
    assert len(small["long"]) == 10
    assert small["price_edges"][0] == pytest.approx(data["price"] * 0.95, rel=1e-8)
    assert small["price_edges"][-1] == pytest.approx(data["price"] * 1.05, rel=1e-8)
    # a narrower span holds no more than a wider one
    assert sum(small["long"]) <= sum(data["long"]) + 0.1
    assert sum(small["short"]) <= sum(data["short"]) + 0.1


def test_map_at_a_time(client: TestClient) -> None:
    k = 150
    close = SYN_TS.iloc[k] + HOUR
    at = map_at(client, at=iso(close))
    assert at["at"] == iso(close)
    assert at["price"] == pytest.approx(SYN.candles["close"].iloc[k])
    # any time until the next candle closes gives the map as candle k closed
    assert map_at(client, at=iso(close + pd.Timedelta(minutes=59))) == at
    # while candle k is open, the map is the one before it
    assert map_at(client, at=iso(SYN_TS.iloc[k] + pd.Timedelta(minutes=59)))["at"] == iso(SYN_TS.iloc[k])
    # at the last candle's close too
    assert map_at(client, at=iso(LAST + HOUR)) == map_at(client)


@pytest.mark.parametrize("k", [40, 150, 335])
def test_map_cumulative_sums(client: TestClient, k: int) -> None:
    data = map_at(client, at=iso(SYN_TS.iloc[k]))
    edges = np.array(data["price_edges"])
    below = edges[:-1] < data["price"]  # bands starting below the price: the one holding it included
    above = edges[1:] > data["price"]
    assert (~below).any()
    assert (~above).any()
    lv, sv = np.array(data["long"]), np.array(data["short"])
    cl, cs = np.array(data["cumulative_long"]), np.array(data["cumulative_short"])
    assert lv.sum() > 0
    assert sv.sum() > 0
    # longs accumulate from the price downwards, shorts from the price upwards
    assert np.all(np.diff(cl[below]) <= 0.011)
    assert np.all(np.diff(cs[above]) >= -0.011)
    assert not np.any(cl[~below])
    assert not np.any(cs[~above])
    n_below = int(below.sum())
    np.testing.assert_allclose(cl[below], np.cumsum(lv[::-1])[::-1][:n_below], rtol=1e-9, atol=0.5)
    assert cl[0] == pytest.approx(lv.sum(), rel=1e-9, abs=0.5)
    assert cs[-1] == pytest.approx(sv.sum(), rel=1e-9, abs=0.5)


def test_map_longs_only_below_and_shorts_only_above(client: TestClient) -> None:
    """Sides are told apart on the engine's fine bins: a long only in a band starting below the price, a short
    only in one ending above it (the band holding the price may have both)."""
    for k in range(2, len(SYN_TS), 6):
        data = map_at(client, at=iso(SYN_TS.iloc[k]))
        edges = np.array(data["price_edges"])
        assert not np.any(np.array(data["long"])[edges[:-1] >= data["price"]]), iso(SYN_TS.iloc[k])
        assert not np.any(np.array(data["short"])[edges[1:] <= data["price"]]), iso(SYN_TS.iloc[k])


def test_map_tiny_span_is_rejected_or_usable(safe_client: TestClient) -> None:
    response = safe_client.get("/api/markets/syn/map", params={"span_pct": 1e-300})
    if response.status_code == 200:
        assert np.all(np.diff(response.json()["price_edges"]) > 0)
    else:
        assert 400 <= response.status_code < 500


def check_clusters(data: dict[str, Any], top: int, rank: str = "reach") -> dict[str, list[dict[str, Any]]]:
    price = data["price"]
    by_side: dict[str, list[dict[str, Any]]] = {"long": [], "short": []}
    sides = [c["side"] for c in data["clusters"]]
    assert sides == sorted(sides, key=lambda s: s != "long"), "longs first, then shorts"
    for c in data["clusters"]:
        by_side[c["side"]].append(c)
        keys = {"side", "price_low", "price_high", "peak_price", "notional_usd", "share", "distance_pct"}
        reach = {f"{what}_{h}h" for what in ("hit_prob", "expected_usd") for h in (4, 24, 72)}
        assert set(c) == keys | {"distance_atr", "age_hours", "age_at_least", "side_share"} | reach
        assert 0 <= c["hit_prob_4h"] <= c["hit_prob_24h"] <= c["hit_prob_72h"] <= 1
        assert 0 <= c["expected_usd_24h"] <= c["notional_usd"] * (1 + 1e-9)
        assert c["share"] < c["side_share"] <= 1  # of all notional at risk, and of its own side
        assert c["distance_atr"] == pytest.approx(c["distance_pct"] / data["atr_pct"])
        assert c["age_hours"] >= 0
        assert c["price_low"] <= c["peak_price"] <= c["price_high"]
        assert c["notional_usd"] > 0
        assert 0 < c["share"] <= 1
        assert c["distance_pct"] == pytest.approx((c["peak_price"] / price - 1) * 100)
        if c["side"] == "long":
            assert c["peak_price"] < price
            assert c["distance_pct"] < 0
        else:
            assert c["peak_price"] > price
            assert c["distance_pct"] > 0
    for found in by_side.values():
        assert 1 <= len(found) <= top
        order = [c["expected_usd_24h" if rank == "reach" else "notional_usd"] for c in found]
        assert order == sorted(order, reverse=True)
        assert sum(c["side_share"] for c in found) <= 1 + 1e-9
        bands = sorted((c["price_low"], c["price_high"]) for c in found)
        assert all(a[1] <= b[0] * (1 + 1e-12) for a, b in itertools.pairwise(bands)), "bands do not overlap"
    assert sum(c["share"] for c in data["clusters"]) <= 1 + 1e-9
    return by_side


def test_clusters_default_and_top(client: TestClient) -> None:
    data = get(client, "/api/markets/syn/clusters")
    assert data["market"] == "syn"
    assert data["price"] == pytest.approx(SYN.candles["close"].iloc[-1])
    five = check_clusters(data, 5)
    assert len(five["long"]) == 5
    assert len(five["short"]) == 5
    one = check_clusters(get(client, "/api/markets/syn/clusters", top=1), 1)
    # top=1 is one of the five (and the largest, since clusters are ranked before the cut)
    assert one["long"][0] in five["long"]
    assert one["short"][0] in five["short"]
    many = check_clusters(get(client, "/api/markets/syn/clusters", top=20, at=iso(SYN_TS.iloc[200])), 20)
    assert len(many["long"]) > 5


def test_clusters_rank_by_reach_or_size(client: TestClient) -> None:
    """By default the list leads with what is likely to liquidate soon; rank=size keeps the largest first."""
    reach = check_clusters(get(client, "/api/markets/syn/clusters", top=20), 20)
    size = check_clusters(get(client, "/api/markets/syn/clusters", top=20, rank="size"), 20, rank="size")
    for side in ("long", "short"):  # each order's leader leads the other list on its own measure too
        assert reach[side][0]["expected_usd_24h"] >= max(c["expected_usd_24h"] for c in size[side])
        assert size[side][0]["notional_usd"] >= max(c["notional_usd"] for c in reach[side])
    assert [c["peak_price"] for c in reach["long"]] != [c["peak_price"] for c in size["long"]]  # the orders differ here
    bad = client.get("/api/markets/syn/clusters", params={"rank": "loudest"})
    assert bad.status_code == 422
    assert bad.json()["param"] == "rank"


def test_clusters_top_one_is_the_largest(client: TestClient) -> None:
    five = get(client, "/api/markets/syn/clusters", top=5)["clusters"]
    one = get(client, "/api/markets/syn/clusters", top=1)["clusters"]
    for side in ("long", "short"):
        assert [c for c in one if c["side"] == side] == [c for c in five if c["side"] == side][:1], side


@pytest.mark.parametrize(("params", "field"), [({"top": 0}, "top"), ({"top": 21}, "top"), ({"top": "x"}, "top")])
def test_clusters_bad_top_is_422(client: TestClient, params: dict[str, Any], field: str) -> None:
    assert f"query.{field}:" in error(client, "/api/markets/syn/clusters", 422, **params)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"bins": 9}, "bins"), ({"bins": 1001}, "bins"), ({"span_pct": 0}, "span_pct"), ({"span_pct": 90.5}, "span_pct"),
     ({"span_pct": -5}, "span_pct"), ({"span_pct": "wide"}, "span_pct")],
)  # fmt: skip
def test_map_bad_resolution_is_422(client: TestClient, params: dict[str, Any], field: str) -> None:
    assert f"query.{field}:" in error(client, "/api/markets/syn/map", 422, **params)


def band_of(edges: list[float], row: int) -> tuple[float, float]:
    return edges[row], edges[row + 1]


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def check_heatmap_peak_matches(client: TestClient, market: str, window: str) -> None:
    """The heatmap's last column is the map as the last candle opens: the map after the one before it closes."""
    hm = heatmap(client, market, window=window, bins=150)
    last_open = pd.Timestamp(hm["time"][-1], unit="s", tz="UTC")
    at = iso(last_open)
    mp = map_at(client, market, at=at, bins=200, span_pct=30)
    assert mp["at"] == iso(last_open)
    cl = get(client, f"/api/markets/{market}/clusters", at=at, top=5, rank="size")  # the largest bands hold the largest cell
    assert cl["price"] == mp["price"]
    mc = centers(mp["price_edges"])
    for side in ("long", "short"):
        column = np.array(hm[side][-1])
        row = int(np.argmax(column))
        assert column[row] > 0
        cell = band_of(hm["price_edges"], row)
        width = cell[1] / cell[0]
        near = (cell[0] / width, cell[1] * width)  # the cell and one row either side
        # /clusters: one of its bands holds the heatmap's largest cell
        bands = [(c["price_low"], c["price_high"]) for c in cl["clusters"] if c["side"] == side]
        assert any(overlaps(cell, b) for b in bands), (side, cell, bands)
        # /map: one of its 5 largest bins of that side lies at that cell
        values = np.array(mp[side])
        largest = np.argsort(values)[::-1][:5]
        assert any(near[0] <= mc[i] <= near[1] for i in largest), (side, near, mc[largest])


def test_heatmap_peak_is_a_cluster_and_a_map_peak(client: TestClient) -> None:
    check_heatmap_peak_matches(client, "syn", "7d")


# ------------------------------------------------------------------------------------------ liquidations


def realized(bundle: Bundle, stop: pd.Timestamp, span: pd.Timedelta) -> pd.DataFrame:
    liq = bundle.liquidations
    assert liq is not None
    return liq[(liq["ts"] >= stop - span) & (liq["ts"] < stop) & (liq["usd"] > 0)]  # [end − window, end)


def test_liquidations_default_window(client: TestClient) -> None:
    data = get(client, "/api/markets/syn/liquidations")
    assert data["market"] == "syn"
    want = realized(SYN, LAST + HOUR, pd.Timedelta(days=7))
    assert len(want) > 300
    assert data["time"] == [epoch(t) for t in want["ts"]]
    assert data["side"] == want["side"].tolist()
    assert data["usd"] == want["usd"].round(2).tolist()
    assert data["price"] == [None if math.isnan(p) else p for p in want["price"]]
    assert None in data["price"]
    assert min(data["usd"]) > 0
    assert data["time"] == sorted(data["time"])


def test_liquidations_window_and_end(client: TestClient) -> None:
    end = pd.Timestamp("2026-01-10T12:00:00Z")
    data = get(client, "/api/markets/syn/liquidations", window="6h", end=iso(end))
    # [06:00, 12:00): the bars opened at 06..11, two rows each, less the zero-usd long rows
    want = realized(SYN, end, pd.Timedelta(hours=6))
    assert data["time"] == [epoch(t) for t in want["ts"]]
    assert data["usd"] == want["usd"].round(2).tolist()
    assert sorted(set(data["time"])) == [epoch(end - pd.Timedelta(hours=h)) for h in range(6, 0, -1)]
    assert len(data["time"]) == 11  # 6 hours x 2 sides, less the zero-usd long row of 10:00
    assert 0.0 not in data["usd"]
    everything = get(client, "/api/markets/syn/liquidations", window="1y", limit=100000)
    assert len(everything["time"]) == int((SYN.liquidations["usd"] > 0).sum())


def test_liquidations_limit_keeps_the_largest(client: TestClient) -> None:
    data = get(client, "/api/markets/syn/liquidations", window="3d", limit=7)
    want = realized(SYN, LAST + HOUR, pd.Timedelta(days=3)).nlargest(7, "usd")
    assert len(data["usd"]) == 7
    assert sorted(data["usd"]) == sorted(want["usd"].round(2).tolist())
    assert data["time"] == sorted(data["time"])
    smallest_kept = min(data["usd"])
    rest = realized(SYN, LAST + HOUR, pd.Timedelta(days=3))["usd"].round(2).tolist()
    assert sum(u > smallest_kept for u in rest) <= 6


def test_liquidations_of_a_market_without_them(client: TestClient) -> None:
    assert get(client, "/api/markets/bare/liquidations") == {"market": "bare", "time": [], "side": [], "usd": [], "price": []}


def test_liquidations_24h_window_matches_the_summary(client: TestClient) -> None:
    summary = get(client, "/api/markets/syn/summary")["liquidations_24h"]
    data = get(client, "/api/markets/syn/liquidations", window="24h")
    for side in ("long", "short"):
        total = sum(u for u, s in zip(data["usd"], data["side"], strict=True) if s == side)
        assert total == pytest.approx(summary[side], abs=0.5), side


@pytest.mark.parametrize("limit", [0, -3, 100001, "all"])
def test_liquidations_bad_limit_is_422(client: TestClient, limit: object) -> None:
    assert "query.limit:" in error(client, "/api/markets/syn/liquidations", 422, limit=limit)


# ------------------------------------------------------------------------------------------ summary


def test_summary_fields(client: TestClient) -> None:
    data = get(client, "/api/markets/syn/summary")
    described = get(client, "/api/markets/syn")
    assert {k: data[k] for k in described} == described
    c = SYN.candles
    assert data["price"] == pytest.approx(c["close"].iloc[-1])
    day = c[c["ts"] > LAST - pd.Timedelta(hours=24)]
    assert len(day) == 24
    assert data["change_24h_pct"] == pytest.approx((c["close"].iloc[-1] / day["open"].iloc[0] - 1) * 100)
    assert data["open_interest_usd"] == pytest.approx(SYN.open_interest["oi_usd"].iloc[-1])
    assert data["open_interest_as_of"] == iso(LAST + HOUR)
    assert SYN.funding is not None
    assert data["funding_rate"] == pytest.approx(SYN.funding["rate"].iloc[-1])
    liq = SYN.liquidations
    recent = liq[liq["ts"] > LAST - pd.Timedelta(hours=24)]
    assert data["liquidations_24h"] == {
        side: pytest.approx(recent.loc[recent["side"] == side, "usd"].sum()) for side in ("long", "short")
    }
    assert data["params"] == ModelParams().to_dict()


def totals(bundle: Bundle, interval: str, liq: pd.DataFrame) -> Bundle:
    """``bundle`` with ``liq`` as per-bar totals (no prices) over ``interval`` bars."""
    return with_tables(dataclasses.replace(bundle, meta=dataclasses.replace(bundle.meta, liquidations_interval=interval)),
                       liquidations=liq.assign(price=np.nan))  # fmt: skip


def test_realized_24h_is_unknown_not_zero_where_the_data_does_not_cover_the_day() -> None:
    liq = SYN.liquidations
    assert liq is not None
    start = LAST + HOUR - pd.Timedelta(hours=24)
    inside = liq[liq["ts"] >= start]
    full = {side: pytest.approx(inside.loc[inside["side"] == side, "usd"].sum()) for side in ("long", "short")}
    # hourly totals with a row for every hour: the sum; one hour without its row: unknown
    assert realized_24h(totals(SYN, "1h", liq)) == full
    assert realized_24h(totals(SYN, "1h", liq[liq["ts"] != LAST - 5 * HOUR])) is None
    # daily totals that end days before the candles (the Hyperliquid bundles): unknown, not $0
    days = liq.assign(ts=liq["ts"].dt.floor("1D")).groupby(["ts", "side"], as_index=False)["usd"].sum()
    assert realized_24h(totals(SYN, "1d", days[days["ts"] < LAST.floor("1D") - pd.Timedelta(days=2)])) is None
    last_day = days[days["ts"] == LAST.floor("1D")]
    expected = {side: pytest.approx(last_day.loc[last_day["side"] == side, "usd"].sum()) for side in ("long", "short")}
    assert realized_24h(totals(SYN, "1d", days)) == expected  # the day that opens inside the window
    # a stream of orders: known once it began before the window and has an order in it
    assert realized_24h(SYN) == full
    assert realized_24h(with_tables(SYN, liquidations=liq[liq["ts"] >= start + HOUR])) is None  # began inside
    assert realized_24h(with_tables(SYN, liquidations=liq[liq["ts"] < start])) is None  # stopped before it
    assert realized_24h(BARE) is None


def test_summary_says_null_for_liquidations_it_does_not_have() -> None:
    liq = SYN.liquidations
    assert liq is not None
    stale = totals(SYN, "1h", liq[liq["ts"] < LAST - pd.Timedelta(days=3)])
    reg = Registry()
    reg.add(stale, market_id="stale")
    data = get(TestClient(create_app(reg)), "/api/markets/stale/summary")
    assert data["liquidations_24h"] is None
    assert data["price"] == pytest.approx(SYN.candles["close"].iloc[-1])


@pytest.mark.shared
@pytest.mark.parametrize("name", ["btc-hyperliquid-1h-2025", "eth-hyperliquid-1h-2025", "sol-hyperliquid-1h-2025"])
def test_real_hyperliquid_summary_does_not_claim_zero_liquidations(name: str) -> None:
    folder = SHARED_BUNDLES / name
    if not (folder / "meta.json").is_file():
        pytest.skip(f"shared bundle {folder} is absent")
    bundle = read_bundle(folder)
    assert bundle.liquidations is not None
    assert bundle.liquidations["ts"].iloc[-1] < bundle.candles["ts"].iloc[-1] - pd.Timedelta(days=30)  # daily totals end early
    assert realized_24h(bundle) is None


def test_summary_of_a_bare_market(client: TestClient) -> None:
    data = get(client, "/api/markets/bare/summary")
    assert data["funding_rate"] is None
    assert data["liquidations_24h"] is None
    assert data["score"] is None
    assert data["open_interest_usd"] == pytest.approx(5e8)
    assert data["price"] == pytest.approx(BARE.candles["close"].iloc[-1])


# ------------------------------------------------------------------------------------------ calc


def library(**params: Any) -> dict[str, Any]:
    p = {**CALC_OK, **params}
    mode = p.pop("margin_mode", "isolated")
    balance = p.pop("balance", None)
    position, vt = position_from_inputs(p["venue"], p["symbol"], p["side"], float(p["entry"]), float(p["leverage"]),
                                        float(p["size"]), margin_mode=mode, balance=balance)  # fmt: skip
    result: dict[str, Any] = calculate(p["venue"], position, table=vt).to_dict()
    return result


def test_calc_is_the_library_result(client: TestClient) -> None:
    data = get(client, "/api/calc", **CALC_OK)
    assert data == json.loads(json.dumps(library()))
    assert data["liquidation_price"] == pytest.approx(57228.9156, abs=1e-4)
    assert data["venue"] == "binance"
    assert data["side"] == "long"
    assert data["liquidatable"] is True


@pytest.mark.parametrize(
    "params",
    [
        {"side": "short"},
        {"side": "SHORT", "leverage": 5, "size": 2.5},
        {"margin_mode": "cross", "balance": 5000},
        {"venue": "bybit", "leverage": 10},
        {"venue": "okx", "symbol": "BTC/USDT:USDT", "side": "short", "leverage": 50},
        {"venue": "hyperliquid", "symbol": "ETH", "entry": 3000, "leverage": 10, "size": 3},
        {"symbol": "BTCUSD_PERP", "size": 600},
    ],
)
def test_calc_variants_match_the_library(client: TestClient, params: dict[str, Any]) -> None:
    data = get(client, "/api/calc", **{**CALC_OK, **params})
    assert data == json.loads(json.dumps(library(**params)))
    assert data["liquidation_price"] > 0
    if data["side"] == "long":
        assert data["liquidation_price"] < data["entry_price"]
    else:
        assert data["liquidation_price"] > data["entry_price"]


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"venue": "ftx"}, 400, "unknown venue 'ftx' (known: binance, bybit"),
        ({"margin_mode": "cross"}, 400, "cross margin needs balance"),
        ({"margin_mode": "cross", "balance": -5}, 400, "margin must be a finite number > 0"),
        ({"margin_mode": "portfolio"}, 422, "query.margin_mode:"),
        ({"entry": -60000}, 422, "query.entry:"),
        ({"entry": 0}, 422, "query.entry:"),
        ({"entry": "inf"}, 400, "entry price must be a finite number > 0"),
        ({"leverage": 0.5}, 422, "query.leverage:"),
        ({"leverage": 1000}, 400, "exceeds the"),
        ({"size": 0}, 422, "query.size:"),
        ({"size": "nan"}, 422, "query.size:"),
        ({"side": "up"}, 400, "side must be long or short, got 'up'"),
        ({"symbol": "NOPE"}, 400, "cannot read symbol 'NOPE'"),
        ({"venue": "hyperliquid"}, 400, "no hyperliquid bracket table"),
    ],
)
def test_calc_errors(client: TestClient, params: dict[str, Any], status: int, fragment: str) -> None:
    assert fragment in error(client, "/api/calc", status, **{**CALC_OK, **params})


@pytest.mark.parametrize("missing", sorted(CALC_OK))
def test_calc_missing_parameter_is_422(client: TestClient, missing: str) -> None:
    params = {k: v for k, v in CALC_OK.items() if k != missing}
    detail = error(client, "/api/calc", 422, **params)
    assert f"query.{missing}: Field required" == detail


MARKET_CALC = {"side": "long", "entry": 3000, "leverage": 20, "size": 10}


@pytest.fixture(scope="module")
def venue_client() -> TestClient:
    """``syn`` (BTC over Binance + Bybit), ``bare`` (ETH on OKX) and ``hl-eth`` (the same ETH on Hyperliquid)."""
    reg = Registry()
    reg.add(SYN, market_id="syn")
    reg.add(BARE, market_id="bare")
    reg.add(Bundle(meta=dataclasses.replace(BARE.meta, venues=("hyperliquid",)), candles=BARE.candles,
                   open_interest=BARE.open_interest), market_id="hl-eth")  # fmt: skip
    return TestClient(create_app(reg))


@pytest.mark.parametrize(
    ("market", "venue", "own_venue", "symbol"),
    [
        ("hl-eth", None, "hyperliquid", "ETH/USDC:USDC"),  # a Hyperliquid market: Hyperliquid's ETH tiers
        ("bare", None, "okx", "ETH/USDT:USDT"),  # one venue: its own
        ("bare", "binance", "binance", "ETH/USDT:USDT"),  # asked for: that venue's ETH table, not BTCUSDT's
        ("syn", None, "binance", "BTC/USDT:USDT"),  # an aggregate of two venues: the model's venue
    ],
)
def test_market_calc_prices_the_market_s_own_coin_with_its_own_tiers(
    venue_client: TestClient, market: str, venue: str | None, own_venue: str, symbol: str
) -> None:
    data = get(venue_client, f"/api/markets/{market}/calc", **MARKET_CALC, **({"venue": venue} if venue else {}))
    assert (data["venue"], data["symbol"]) == (own_venue, symbol)
    assert data == get(venue_client, "/api/calc", venue=own_venue, symbol=symbol, **MARKET_CALC)
    table = lookup(own_venue, Market.parse_unified(symbol))
    assert data["table_source"] == table.table.source
    assert data["bracket"]["mmr"] == table.table.brackets[0].mmr  # $30k of notional: tier 1


def test_hyperliquid_eth_is_not_priced_with_btc_s_tiers(venue_client: TestClient) -> None:
    eth = get(venue_client, "/api/markets/hl-eth/calc", **MARKET_CALC)
    btc = get(venue_client, "/api/calc", venue="hyperliquid", symbol="BTC", **MARKET_CALC)
    assert (eth["bracket"]["mmr"], eth["bracket"]["max_leverage"]) == (0.02, 25)  # ETH: 2 %, 25x
    assert (btc["bracket"]["mmr"], btc["bracket"]["max_leverage"]) == (0.0125, 40)  # BTC: 1.25 %, 40x
    assert eth["liquidation_price"] > btc["liquidation_price"]  # the larger maintenance rate liquidates a long sooner
    # 30x is allowed on BTC, beyond ETH's 25x maximum: refused, naming leverage
    assert "exceeds the 25x maximum" in error(venue_client, "/api/markets/hl-eth/calc", 400, **{**MARKET_CALC, "leverage": 30})


@pytest.mark.parametrize(
    ("params", "status", "param", "fragment"),
    [
        ({"venue": "bybit"}, 400, "venue", "no bybit bracket table for ETH/USDT:USDT"),  # the market's coin is not there
        ({"venue": "ftx"}, 422, "venue", "query.venue:"),
        ({"side": "up"}, 400, "side", "side must be long or short, got 'up'"),
        ({"margin_mode": "cross"}, 400, "balance", "cross margin needs balance"),
        ({"symbol": "BTCUSDT"}, 200, None, ""),  # no symbol parameter here: the market's own is priced
    ],
)
def test_market_calc_errors_name_their_parameter(
    venue_client: TestClient, params: dict[str, Any], status: int, param: str | None, fragment: str
) -> None:
    response = venue_client.get("/api/markets/bare/calc", params={**MARKET_CALC, **params})
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        assert body["symbol"] == "ETH/USDT:USDT"
        return
    assert body["param"] == param
    assert body["detail"].startswith(fragment)
    assert error(venue_client, "/api/markets/nope/calc", 404, **MARKET_CALC).startswith("unknown market 'nope'")


# ------------------------------------------------------------------------------------------ page and OpenAPI


def test_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "lightweight-charts" in response.text
    # every local script and stylesheet the page names is served (the chart library when a build or setup.sh
    # copied it into the package)
    local = re.findall(r"""(?:src|href)=["'](/[^"'#?]+)""", response.text)
    assert any(u.startswith("/static/") for u in local)
    vendor_present = (vendor_dir() / "lightweight-charts.standalone.production.js").is_file()
    for url in local:
        if url.startswith("/vendor/") and not vendor_present:
            continue
        assert client.get(url).status_code == 200, url


def test_favicon_is_the_packaged_icon(client: TestClient) -> None:
    """Browsers ask for /favicon.ico whatever the page links: the icon shipped beside the page, not a 404."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/x-icon"
    shipped = (Path(liqheat.__file__).parent / "web" / "static" / "favicon.ico").read_bytes()
    assert response.content == shipped
    assert shipped[:4] == b"\x00\x00\x01\x00"  # an ICO file (reserved 0, type 1)
    assert struct.unpack("<H", shipped[4:6])[0] >= 2  # 16 and 32 px at least
    assert "/favicon.ico" not in client.get("/openapi.json").json()["paths"]


def test_server_says_whether_it_has_a_store(client: TestClient, tmp_path: Path) -> None:
    """What the page asks before /api/liquidations, which is a 404 on a server without a store."""
    assert get(client, "/api/server") == {"version": liqheat.__version__, "store": False, "markets": 2, "alerts": False}
    assert client.get("/api/liquidations").status_code == 404
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.store = Store(tmp_path)
    with_store = TestClient(create_app(registry))
    assert get(with_store, "/api/server") == {"version": liqheat.__version__, "store": True, "markets": 1, "alerts": False}


def served_paths(routes: list[Any]) -> set[str]:
    """Every path routed, through included routers (FastAPI keeps an included router whole, as ``original_router``)."""
    paths: set[str] = set()
    for route in routes:
        router = getattr(route, "original_router", None)
        paths |= served_paths(router.routes) if router is not None else {getattr(route, "path", "")}
    return paths


def test_openapi_lists_every_api_path(client: TestClient) -> None:
    spec = get(client, "/openapi.json")
    assert spec["info"]["title"] == "liqheat"
    api = {p for p in spec["paths"] if p.startswith("/api")}
    assert api >= API_PATHS
    # every /api route the app serves is documented
    assert api == {path for path in served_paths(client.app.routes) if path.startswith("/api")}
    assert len(api) >= 17
    assert "/" not in spec["paths"]
    for path in api:
        assert set(spec["paths"][path]) == {"get"}, path
        assert spec["paths"][path]["get"]["summary"]
    heat = {p["name"]: p for p in spec["paths"]["/api/markets/{market_id}/heatmap"]["get"]["parameters"]}
    assert heat["bins"]["schema"]["minimum"] == 10
    assert heat["bins"]["schema"]["maximum"] == 1000
    calc = {p["name"]: p["required"] for p in spec["paths"]["/api/calc"]["get"]["parameters"]}
    assert {k for k, required in calc.items() if required} == set(CALC_OK)


def test_docs_page(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


# ------------------------------------------------------------------------------------------ never a 500


TRICKY = ["", " ", "0", "-1", "1e309", "nan", "NaN", "inf", "-inf", "None", "null", "true", "%00", "\u2603", "syn",
          "'; DROP TABLE markets; --", "../../etc/passwd"]  # fmt: skip

anything = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=24),
    st.integers(min_value=-(10**15), max_value=10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
durations = st.builds("{}{}".format, st.one_of(st.integers(-2, 400), st.integers(0, 10**22)), st.sampled_from("smhdwyMx"))
times = st.one_of(
    st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(), max_value=pd.Timestamp("2200-01-01").to_pydatetime()).map(
        lambda d: d.isoformat() + "Z"
    ),
    st.datetimes(min_value=pd.Timestamp("2026-01-04").to_pydatetime(), max_value=pd.Timestamp("2026-01-20").to_pydatetime()).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S")
    ),
    st.sampled_from(["2026-01-10", "2026-01-10T12:00:00+05:00", "12:00", "2026", "now", "today", "2026-01-18T23:59:59Z"]),
)
numbers = st.one_of(
    st.integers(-10, 3000).map(str), st.integers(1, 200).map(str), st.floats(-1e6, 1e6).map(repr), st.floats().map(repr)
)


def choice(*valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid).map(str.upper), anything)


# mostly plausible values, so that one bad parameter at a time gets past the others
PARAM_VALUES: dict[str, st.SearchStrategy[str]] = {
    "window": st.one_of(st.sampled_from(["4h", "12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y"]), durations, anything),
    "end": st.one_of(times, times, anything),
    "at": st.one_of(times, times, anything),
    "interval": choice("1m", "5m", "15m", "1h", "4h", "1d", "2h", "1w"),
    "side": choice("both", "long", "short"),
    "format": choice("json", "bin"),
    "margin_mode": choice("isolated", "cross"),
    "venue": choice("binance", "bybit", "bybit-classic", "okx", "hyperliquid", "ftx"),
    "symbol": choice("BTCUSDT", "BTC/USDT:USDT", "BTCUSD_PERP", "ETH", "ETHUSDT", "BTC"),
    "market_id": anything,
}
for name in ("bins", "columns", "lev_min", "lev_max", "span_pct", "top", "limit", "entry", "leverage", "size", "balance"):
    PARAM_VALUES[name] = st.one_of(numbers, numbers, anything)

ENDPOINT_PARAMS: dict[str, tuple[str, ...]] = {
    "/api/markets/syn/candles": ("window", "end", "interval"),
    "/api/markets/syn/heatmap": ("window", "end", "bins", "columns", "side", "lev_min", "lev_max", "format"),
    "/api/markets/syn/map": ("at", "bins", "span_pct"),
    "/api/markets/syn/clusters": ("at", "top"),
    "/api/markets/syn/liquidations": ("window", "end", "limit"),
    "/api/markets/bare/liquidations": ("window", "end", "limit"),
    "/api/markets/syn/summary": ("window", "at"),
    "/api/markets/syn": ("window", "end"),
    "/api/markets": ("market_id",),
    "/api/calc": ("venue", "symbol", "side", "entry", "leverage", "size", "margin_mode", "balance"),
}
TAKES_NO_QUERY = {"/api/markets", "/api/markets/syn", "/api/markets/syn/summary"}
FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("url", sorted(ENDPOINT_PARAMS))
def test_random_query_parameters_never_500(safe_client: TestClient, url: str) -> None:
    names = ENDPOINT_PARAMS[url]
    base = {k: str(v) for k, v in CALC_OK.items()} if url == "/api/calc" else {}
    statuses: list[int] = []

    @FUZZ
    @given(st.fixed_dictionaries({}, optional={name: PARAM_VALUES[name] for name in names}))
    def run(params: dict[str, str]) -> None:
        params = {**base, **params}
        response = safe_client.get(url, params=params)
        assert response.status_code < 500, (url, params, response.text[:300])
        if response.status_code >= 400:
            assert response.json()["detail"], (url, params)
        statuses.append(response.status_code)

    run()
    assert len(statuses) >= 20
    if url in TAKES_NO_QUERY:  # unknown query parameters are ignored
        assert set(statuses) == {200}
    else:  # the random values reach past validation as well as fail it
        assert 200 in statuses, statuses
        assert any(400 <= code < 500 for code in statuses), statuses


@FUZZ
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24), st.sampled_from(MARKET_ROUTES))
def test_random_market_ids_never_500(safe_client: TestClient, market_id: str, route: str) -> None:
    response = safe_client.get(f"/api/markets/{quote(market_id, safe='')}{route}")
    assert response.status_code < 500, (market_id, route, response.text[:300])
    if market_id not in ("syn", "bare") and market_id.strip(".") and "/" not in market_id:
        assert response.status_code == 404, (market_id, route)


# ------------------------------------------------------------------------------------------ the real bundle


@pytest.mark.shared
@needs_shared
def test_real_market_description(real_client: TestClient) -> None:
    (m,) = get(real_client, "/api/markets")
    assert m["id"] == "btc-agg-1h-dec-feb"
    assert m["symbol"] == "BTC"
    assert m["venues"] == ["binance", "bybit", "okx"]
    assert m["timeframe"] == "1h"
    assert m["first"] == "2025-12-04T06:00:00Z"
    assert m["candles"] == len(read_bundle(REAL).candles)
    assert m["has_liquidations"] is True
    for side in ("long", "short"):
        assert isinstance(m["score"][side]["model"], float)
        assert isinstance(m["score"][side]["yardstick"], float)


@pytest.mark.shared
@needs_shared
def test_real_candles_4h(real_client: TestClient) -> None:
    bundle = read_bundle(REAL)
    data = get(real_client, "/api/markets/btc-agg-1h-dec-feb/candles", window="2d", interval="4h")
    assert data["volume"] is None
    c = bundle.candles
    last = c["ts"].iloc[-1]
    shown = c[c["ts"] > last - pd.Timedelta(days=2)]
    groups = list(shown.groupby(shown["ts"].dt.floor("4h")))
    assert data["time"] == [epoch(t) for t, _ in groups]
    assert data["high"] == [round(float(g["high"].max()), 8) for _, g in groups]
    assert data["low"] == [round(float(g["low"].min()), 8) for _, g in groups]
    assert data["close"] == [round(float(g["close"].iloc[-1]), 8) for _, g in groups]


@pytest.mark.shared
@needs_shared
def test_real_heatmap_peak_is_a_cluster_and_a_map_peak(real_client: TestClient) -> None:
    check_heatmap_peak_matches(real_client, "btc-agg-1h-dec-feb", "7d")


@pytest.mark.shared
@needs_shared
def test_real_summary_and_liquidations(real_client: TestClient) -> None:
    s = get(real_client, "/api/markets/btc-agg-1h-dec-feb/summary")
    assert s["funding_rate"] is not None
    assert s["liquidations_24h"]["long"] >= 0
    assert s["liquidations_24h"]["short"] >= 0
    assert s["liquidations_24h"]["long"] + s["liquidations_24h"]["short"] > 0
    liq = get(real_client, "/api/markets/btc-agg-1h-dec-feb/liquidations", window="24h")
    assert set(liq["price"]) == {None}  # the aggregated export has no prices
    last = pd.Timestamp(s["last"])
    assert all(epoch(last - pd.Timedelta(hours=23)) <= t <= epoch(last) for t in liq["time"])
    assert len(liq["time"]) > 20


def test_heatmap_q16_decodes_within_its_stated_precision(client: TestClient) -> None:
    """The page's format: log1p-scaled uint16 codes, half the bytes of float32, ≤ 0.03 % off."""
    params = {"window": "3d", "bins": 80, "columns": 60}
    exact = get(client, "/api/markets/syn/heatmap", **params)
    raw = client.get("/api/markets/syn/heatmap", params={**params, "format": "q16"})
    assert raw.status_code == 200
    body = raw.content
    (n,) = struct.unpack("<I", body[:4])
    head = json.loads(body[4 : 4 + n])
    offset = 4 + n + (-(4 + n)) % 4
    size = head["columns"] * head["rows"]
    codes = np.frombuffer(body, dtype="<u2", count=2 * size, offset=offset)
    assert head["encoding"] == "log1p-uint16"
    assert len(body) == offset + 4 * size  # two bytes per cell and side
    for part, name in ((codes[:size], "long"), (codes[size:], "short")):
        decoded = np.expm1(part / head["scale"]).reshape(head["columns"], head["rows"])
        want = np.array(exact[name])
        np.testing.assert_allclose(decoded, want, rtol=3e-4, atol=0.01)


def test_liquidation_totals_per_bucket_and_the_largest_orders(client: TestClient) -> None:
    end = pd.Timestamp("2026-01-10T12:00:00Z")
    data = get(client, "/api/markets/syn/liquidations/totals", window="6h", end=iso(end), bucket="1h", largest=3)
    liq = SYN.liquidations
    assert liq is not None
    rows = liq[(liq["ts"] >= end - pd.Timedelta(hours=6)) & (liq["ts"] < end)]
    assert data["time"] == [epoch(end - pd.Timedelta(hours=h)) for h in range(6, 0, -1)]
    for side in ("long", "short"):
        want = (
            rows[rows["side"] == side]
            .groupby(rows["ts"].dt.floor("1h"))["usd"]
            .sum()
            .reindex(pd.DatetimeIndex([end - pd.Timedelta(hours=h) for h in range(6, 0, -1)]), fill_value=0.0)
        )
        assert data[f"{side}_usd"] == pytest.approx(want.round(2).tolist())
    priced = rows[rows["price"].notna() & (rows["usd"] > 0)].nlargest(3, "usd")
    assert [o["usd"] for o in data["largest"]] == priced["usd"].round(2).tolist()
    assert all(o["price"] is not None for o in data["largest"])
    daily = get(client, "/api/markets/syn/liquidations/totals", window="3d", bucket="1d")
    assert len(daily["time"]) in (3, 4)  # days touched by a 3-day window
    assert client.get("/api/markets/syn/liquidations/totals", params={"bucket": "2h"}).status_code == 422
    assert client.get("/api/markets/syn/liquidations/totals", params={"end": "2020-01-01T00:00:00Z"}).status_code == 400
    assert client.get("/api/markets/nope/liquidations/totals").status_code == 404
