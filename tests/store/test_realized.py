"""Realized liquidations across the store: totals by venue, side, symbol and hour or day, the largest
orders, lower-bound labels and follower gaps, through the engine function, the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import liqheat.cli.store_cmds  # noqa: F401  (registers the command)
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.cli.main import app
from liqheat.model import DomainError
from liqheat.store.parquet_store import Series, Store
from liqheat.store.realized import folder_symbol, realized

DAY = pd.Timestamp("2026-03-01T00:00:00Z")


def at(hours: float) -> pd.Timestamp:
    return DAY + pd.Timedelta(hours=hours)


# (venue, symbol, hours after DAY, side, usd, price)
EVENTS = [
    ("binance", "BTC/USDT:USDT", 1.0, "long", 1_000.0, 60_000.0),
    ("binance", "BTC/USDT:USDT", 1.5, "long", 3_000.0, 59_900.0),
    ("binance", "BTC/USDT:USDT", 2.25, "short", 500.0, 61_000.0),
    ("binance", "BTC/USDT:USDT", 26.0, "short", 7_000.0, 62_000.0),
    ("binance", "ETH/USDT:USDT", 1.25, "long", 2_000.0, 3_000.0),
    ("binance", "ETH/USDT:USDT", 30.0, "long", 250.0, 3_100.0),
    ("bybit", "BTC/USDT:USDT", 1.75, "long", 4_000.0, 59_950.0),
    ("bybit", "BTC/USDT:USDT", 47.5, "short", 9_000.0, 63_000.0),
    ("bybit", "BTC/USDT:USDT-260327", 5.0, "long", 600.0, 60_500.0),
]


def write_events(store: Store, events: list[tuple[str, str, float, str, float, float]]) -> None:
    frame = pd.DataFrame(events, columns=["venue", "symbol", "hours", "side", "usd", "price"])
    frame["ts"] = (DAY + pd.to_timedelta(frame["hours"], unit="h")).astype("datetime64[us, UTC]")
    with store.writer():
        for (venue, symbol), part in frame.groupby(["venue", "symbol"]):
            store.write(
                Series("liquidations", str(venue), str(symbol)), part[["ts", "side", "usd", "price"]].reset_index(drop=True)
            )
        gap = pd.DataFrame({"ts": [at(40)], "until": [at(41)], "stream": ["liquidations"], "reason": ["websocket drop"]})
        store.write(
            Series("gaps", "bybit", "BTC/USDT:USDT"), gap.astype({"ts": "datetime64[us, UTC]", "until": "datetime64[us, UTC]"})
        )
        old_gap = gap.assign(ts=at(-200), until=at(-199)).astype({"ts": "datetime64[us, UTC]", "until": "datetime64[us, UTC]"})
        store.write(Series("gaps", "binance", "BTC/USDT:USDT"), old_gap)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    out = Store(tmp_path_factory.mktemp("realized"))
    write_events(out, EVENTS)
    return out


def expected(bucket: str, since: pd.Timestamp, until: pd.Timestamp) -> dict[tuple[Any, ...], float]:
    """Sums by (bucket start, venue, symbol, side), computed straight from the event list."""
    width = {"1h": pd.Timedelta(hours=1), "1d": pd.Timedelta(days=1)}[bucket]
    out: dict[tuple[Any, ...], float] = {}
    for venue, symbol, hours, side, usd, _ in EVENTS:
        ts = at(hours)
        if since <= ts < until:
            key = (ts.floor(width), venue, symbol, side)
            out[key] = out.get(key, 0.0) + usd
    return out


def test_folder_names_map_back_to_symbols() -> None:
    assert folder_symbol("BTC-USDT_USDT") == "BTC/USDT:USDT"
    assert folder_symbol("BTC-USD_BTC") == "BTC/USD:BTC"
    assert folder_symbol("BTC-USDT_USDT-260327") == "BTC/USDT:USDT-260327"
    assert folder_symbol("币安人生USDT") == "币安人生USDT"  # not a unified name: left as it is


@pytest.mark.parametrize("bucket", ["1h", "1d"])
def test_totals_by_bucket_venue_symbol_and_side_are_the_sums_of_the_events(store: Store, bucket: str) -> None:
    found = realized(store, bucket=bucket, window=pd.Timedelta(days=7))
    assert found.until == at(47.5) + pd.Timedelta(seconds=1)  # just after the newest liquidation
    got = {(r.bucket, r.venue, r.symbol, r.side): r.usd for r in found.totals.itertuples()}
    assert got == pytest.approx(expected(bucket, found.since, found.until))
    assert int(found.totals["orders"].sum()) == len(EVENTS)


def test_grouped_views_put_long_and_short_side_by_side_largest_first(store: Store) -> None:
    found = realized(store, window=pd.Timedelta(days=7))
    venues = found.by("venue")
    assert venues[["venue", "long_usd", "short_usd", "total_usd", "orders"]].values.tolist() == [
        ["binance", 6_250.0, 7_500.0, 13_750.0, 6],
        ["bybit", 4_600.0, 9_000.0, 13_600.0, 3],
    ]
    symbols = found.by("venue", "symbol")
    assert symbols[["venue", "symbol", "total_usd"]].values.tolist() == [
        ["bybit", "BTC/USDT:USDT", 13_000.0],
        ["binance", "BTC/USDT:USDT", 11_500.0],
        ["binance", "ETH/USDT:USDT", 2_250.0],
        ["bybit", "BTC/USDT:USDT-260327", 600.0],
    ]
    days = found.by("bucket", "venue")
    assert days[["bucket", "venue", "long_usd", "short_usd"]].values.tolist() == [
        [DAY, "binance", 6_000.0, 500.0],
        [DAY, "bybit", 4_600.0, 0.0],
        [at(24), "binance", 250.0, 7_000.0],
        [at(24), "bybit", 0.0, 9_000.0],
    ]
    total = found.by()
    assert total[["long_usd", "short_usd", "orders"]].values.tolist() == [[10_850.0, 16_500.0, 9]]


def test_largest_orders_lower_bound_and_gaps(store: Store) -> None:
    found = realized(store, window=pd.Timedelta(days=7), largest=3)
    assert found.largest[["venue", "symbol", "side", "usd", "price"]].values.tolist() == [
        ["bybit", "BTC/USDT:USDT", "short", 9_000.0, 63_000.0],
        ["binance", "BTC/USDT:USDT", "short", 7_000.0, 62_000.0],
        ["bybit", "BTC/USDT:USDT", "long", 4_000.0, 59_950.0],
    ]
    assert found.lower_bound == ["binance"]  # Binance's forceOrder stream drops some; Bybit's does not
    assert found.gaps == [
        {"venue": "bybit", "symbol": "BTC/USDT:USDT", "from": at(40), "to": at(41), "reason": "websocket drop"}
    ]  # the binance gap lies before the window


def test_window_end_and_filters(store: Store) -> None:
    found = realized(store, window=pd.Timedelta(hours=2), until=at(2))  # [00:00, 02:00)
    assert found.totals["usd"].sum() == 1_000.0 + 3_000.0 + 2_000.0 + 4_000.0  # not the short at 02:15
    assert int(found.totals["orders"].sum()) == 4
    assert found.gaps == []
    only = realized(store, window=pd.Timedelta(days=7), venues=["BYBIT"], symbols=["BTC/USDT:USDT"])
    assert set(zip(only.totals["venue"], only.totals["symbol"], strict=True)) == {("bybit", "BTC/USDT:USDT")}
    assert only.totals["usd"].sum() == 13_000.0
    assert only.lower_bound == []
    eth = realized(store, window=pd.Timedelta(days=7), symbols=["ETH/USDT:USDT"])
    assert eth.until == at(30) + pd.Timedelta(seconds=1)  # the newest liquidation of what was asked for


def test_bad_inputs_name_what_is_wrong(store: Store, tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="no liquidations in the store"):
        realized(Store(tmp_path / "empty"))
    with pytest.raises(DomainError, match="bucket must be one of 1h, 1d"):
        realized(store, bucket="5m")
    with pytest.raises(DomainError, match="match venue okx"):
        realized(store, venues=["okx"])
    with pytest.raises(DomainError, match="window must be positive"):
        realized(store, window=pd.Timedelta(0))


# ------------------------------------------------------------------------------------------ API and CLI


@pytest.fixture(scope="module")
def client(store: Store) -> TestClient:
    registry = Registry()
    registry.store = store
    return TestClient(create_app(registry))


def test_api_gives_the_store_totals(client: TestClient, store: Store) -> None:
    body = client.get("/api/liquidations", params={"window": "7d", "bucket": "1d", "largest": 2, "top": 2}).json()
    assert body == json.loads(json.dumps(realized(store, largest=2).to_dict(top=2)))
    assert body["total"] == {"long_usd": 10_850.0, "short_usd": 16_500.0, "total_usd": 27_350.0, "orders": 9}
    assert [s["symbol"] for s in body["symbols"]] == ["BTC/USDT:USDT", "BTC/USDT:USDT"]
    assert body["symbols_total"] == 4
    assert (body["since"], body["until"]) == ("2026-02-23T23:30:01Z", "2026-03-02T23:30:01Z")
    eth = client.get("/api/liquidations", params={"symbol": "ETHUSDT", "venue": "binance"}).json()  # a native name
    assert eth["total"]["long_usd"] == 2_250.0


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"bucket": "2h"}, 422, "bucket"),
        ({"window": "forever"}, 400, "window must be one of"),
        ({"end": "yesterday"}, 400, "end is not an ISO 8601 time"),
        ({"venue": "okx"}, 404, "match venue okx"),
        ({"symbol": "not a symbol"}, 400, "cannot read symbol"),
        ({"largest": -1}, 422, "largest"),
    ],
)
def test_api_bad_queries(client: TestClient, params: dict[str, Any], status: int, words: str) -> None:
    response = client.get("/api/liquidations", params=params)
    assert response.status_code == status
    assert words in json.dumps(response.json())


def test_api_without_a_store_says_how_to_get_one() -> None:
    response = TestClient(create_app(Registry())).get("/api/liquidations")
    assert response.status_code == 404
    assert "this server has no store" in response.json()["detail"]  # the API names no CLI flag (#14)
    assert "/api/server" in response.json()["detail"]


def test_cli_json_and_tables(store: Store) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["liquidations", "--store", str(store.root), "--json", "--bucket", "1h", "--top", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(json.dumps(realized(store, bucket="1h").to_dict(top=3)))
    table = runner.invoke(app, ["liquidations", "--store", str(store.root), "--venue", "bybit"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "BTC/USDT:USDT-260327" in table.output
    assert "no liquidations seen 2026-03-02 16:00 to 2026-03-02 17:00 (websocket drop)" in table.output
    assert "lower bound" not in table.output  # Bybit's stream is complete


def test_cli_errors_exit_2_with_one_line(store: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    for args, words in [
        (["--store", str(tmp_path)], "no liquidations in the store"),
        (["--store", str(store.root), "--window", "soon"], "--window"),
        (["--store", str(store.root), "--window", "99999999999999d"], "is too long (at most 100 years)"),
        (["--store", str(store.root), "--until", "later"], "--until"),
        (["--store", str(store.root), "--bucket", "1w"], "bucket must be one of"),
    ]:
        result = runner.invoke(app, ["liquidations", *args])
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output
