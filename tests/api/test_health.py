"""Service probes: /healthz answers while the process lives, /readyz only when every market is loaded and
every followed venue fresh (503 naming the venue otherwise), /api/version the package's version."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from helpers import walk, write_venue
from liqheat import __version__
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.store.aggregate import parse_feeds
from liqheat.store.parquet_store import Store


def test_a_bundle_server_is_alive_ready_and_says_its_version(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "markets": 2, "problems": []}
    assert client.get("/api/version").json() == {"version": __version__}


def test_a_lagging_venue_makes_the_server_not_ready_and_says_which(tmp_path: Path) -> None:
    store = Store(tmp_path)
    frame = walk(2 * 1440)
    write_venue(store, "binance", frame, 7e9)
    write_venue(store, "bybit", frame.iloc[:-120], 3e9)
    registry = Registry()
    registry.add_store(store, parse_feeds(["binance", "bybit"], "BTCUSDT"), "1m")
    client = TestClient(create_app(registry))
    assert client.get("/healthz").status_code == 200  # alive all the same
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    lagging = [p for p in body["problems"] if p.get("venue") == "bybit"]
    assert lagging
    assert lagging[0]["problem"] == "lagging"
    assert lagging[0]["lag_seconds"] == 120 * 60
    assert not [p for p in body["problems"] if p.get("venue") == "binance"]
    write_venue(store, "bybit", frame.iloc[-120:], 3e9)  # it catches up
    registry.refresh()
    assert client.get("/readyz").status_code == 200, client.get("/readyz").json()


def test_an_empty_server_is_not_ready() -> None:
    client = TestClient(create_app(Registry()))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == [{"market": None, "problem": "no market"}]
