"""``liqheat run`` end to end on 127.0.0.1: a store another process writes (``--no-follow``), a signed webhook
receiver, the probes, SIGHUP adding and removing markets, SIGTERM stopping cleanly, a bad config exiting 2."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.fakes import SECRET, WebhookReceiver, free_port, serving
from helpers import walk, write_venue
from liqheat.store.parquet_store import Store


def config_text(store: Path, port: int, hook: str, venues: list[str]) -> str:
    return f"""
[server]
port = {port}
[store]
path = "{store}"
[[markets]]
venues = {venues!r}
symbols = ["BTCUSDT"]
timeframe = "1m"
[[alerts]]
rule = "near"
within_pct = 50.0
min_usd = 1.0
cooldown = "1h"
[destinations.hook]
webhook = "{hook}/hook"
secret = "{SECRET}"
""".replace("'", '"')


def wait(what: Callable[[], Any], seconds: float = 120.0, proc: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"liqheat run exited {proc.returncode}: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            value = what()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"not within {seconds:g} s")


def test_run_serves_alerts_reloads_and_stops(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    frame = walk(2 * 1440)
    write_venue(store, "binance", frame, 7e9)
    port = free_port()
    receiver = WebhookReceiver()
    with serving(receiver) as hook:
        config = tmp_path / "liqheat.toml"
        config.write_text(config_text(store.root, port, hook, ["binance", "bybit"]), encoding="utf-8")
        command = [sys.executable, "-m", "liqheat", "run", "--config", str(config), "--no-follow", "--tick", "0.2",
                   "--log-level", "info"]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            # binance is served and alerts at once; bybit has no data yet: not ready, and /readyz says why
            wait(lambda: httpx.get(f"{base}/healthz", timeout=5).status_code == 200, proc=proc)
            ready = httpx.get(f"{base}/readyz", timeout=5).json()
            assert ready["status"] == "not ready"
            assert [p["market"] for p in ready["problems"]] == ["btc-bybit-1m"]
            assert "waiting for data" in ready["problems"][0]["problem"]
            wait(lambda: receiver.accepted, proc=proc)
            first = receiver.accepted[0].body
            assert first["market"] == "btc-binance-1m"
            assert first["rule"] == "near"
            # bybit's data arrives (another process writes the store): served within a tick, ready
            write_venue(store, "bybit", frame, 3e9)
            wait(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200, proc=proc)
            ids = {m["id"] for m in httpx.get(f"{base}/api/markets", timeout=5).json()}
            assert ids == {"btc-binance-1m", "btc-bybit-1m"}
            wait(lambda: {r.body["market"] for r in receiver.accepted} == ids, proc=proc)
            # SIGHUP with bybit gone from the config: no longer served, without a restart
            config.write_text(config_text(store.root, port, hook, ["binance"]), encoding="utf-8")
            proc.send_signal(signal.SIGHUP)
            wait(lambda: {m["id"] for m in httpx.get(f"{base}/api/markets", timeout=5).json()} == {"btc-binance-1m"}, proc=proc)
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-3000:]
    assert b"reloaded: 1 markets" in out  # the log line of the SIGHUP
    assert sum(receiver.repeats.values()) == 0
    # one alert per event: each market's nearest cluster per side within reach, once (the cooldown holds the rest)
    keys = [r.key for r in receiver.accepted]
    assert len(keys) == len(set(keys))
    events = {(r.body["market"], r.key.split("/")[3]) for r in receiver.accepted}
    assert len(events) == len(keys)
    assert {m for m, _ in events} == {"btc-binance-1m", "btc-bybit-1m"}


def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nport = "eighty"\n[[markets]]\nvenues = ["nowhere"]\nsymbols = ["BTCUSDT"]\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "liqheat", "run", "--config", str(config), "--no-follow"],
                            capture_output=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "server.port" in err
    assert "markets[0].venues" in err
