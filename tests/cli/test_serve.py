"""`liqheat serve` listens where --host says (an IPv6 address works, a name nobody resolves is a message),
stops on one signal while clients hold the event stream, and keeps its live demo's cache and clock in the
store folder: a restart never turns the demo's clock back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.helpers import run


def _free_port(family: socket.AddressFamily, host: str) -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def test_an_unresolvable_host_is_one_line_naming_it(small_bundle: Path) -> None:
    result = run("serve", "--bundle", small_bundle, "--no-demo", "--host", "no-such-host.invalid", "--port", "8765")
    assert result.exit_code == 2
    assert "--host 'no-such-host.invalid'" in result.output
    assert "Traceback" not in result.output


def test_serves_on_ipv6_loopback(small_bundle: Path) -> None:
    try:
        port = _free_port(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    command = [sys.executable, "-m", "liqheat", "serve", "--bundle", str(small_bundle), "--no-demo", "--host", "::1",
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                answer = httpx.get(f"http://[::1]:{port}/api/markets", timeout=5)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"the server did not come up: {server.stdout.read() if server.stdout else ''}")
                time.sleep(0.2)
        assert answer.status_code == 200
        assert answer.json()
    finally:
        server.terminate()
        server.wait(timeout=30)


# ------------------------------------------------------------------------------------ stopping and restarting


def _wait_listening(proc: subprocess.Popen[bytes], port: int, startup: float = 180.0) -> None:
    deadline = time.monotonic() + startup
    while True:
        if proc.poll() is not None:
            pytest.fail(f"liqheat serve exited {proc.returncode}: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"liqheat serve did not listen on {port} within {startup:g} s")
            time.sleep(0.1)


def _hold_events(port: int) -> socket.socket:
    """A tab's event stream: opened, its hello read, then left open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    data = b""
    while b"event: hello" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the event stream closed before its hello: {data!r}"
        data += chunk
    return sock


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals, stream: socket.socket) -> tuple[float, bytes]:
    """Send one ``sig`` and wait (generously) for the exit; the seconds it took and the rest of the stream."""
    began = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"one {sig.name} did not stop liqheat serve within 20 s while a client held the event stream")
    took = time.monotonic() - began
    rest = b""
    stream.settimeout(5)
    try:
        while chunk := stream.recv(65536):
            rest += chunk
    except OSError:
        pass
    stream.close()
    print(f"{sig.name}: liqheat serve exited {proc.returncode} after {took:.2f} s")  # measured, not asserted tightly
    return took, rest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_stops_serve_while_a_tab_holds_the_event_stream(small_bundle: Path, sig: signal.Signals) -> None:
    """uvicorn alone waited for the tab to close its stream (714 s once); now the stream ends with a bye."""
    port = _free_port(socket.AF_INET, "127.0.0.1")
    command = [sys.executable, "-m", "liqheat", "serve", "--bundle", str(small_bundle), "--no-demo", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_listening(proc, port)
        _, rest = _stop(proc, sig, _hold_events(port))
        assert proc.returncode == 0, proc.stdout.read().decode() if proc.stdout else ""
        assert b"event: bye" in rest
        assert b"stopped" in (proc.stdout.read() if proc.stdout else b"")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_requests_cancelled_at_a_stop_log_one_line_not_a_traceback_each() -> None:
    import asyncio
    import logging

    from liqheat.api.server import QuietCancel

    def record(exc: BaseException | None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", (), info)

    quiet = QuietCancel()
    assert not quiet.filter(record(asyncio.CancelledError("Task cancelled, timeout graceful shutdown exceeded")))
    assert quiet.filter(record(ValueError("a real failure")))
    assert quiet.filter(record(None))


def _last(port: int) -> pd.Timestamp:
    return pd.Timestamp(httpx.get(f"http://127.0.0.1:{port}/api/markets/demo", timeout=30).json()["last"])


def test_the_live_demo_resumes_after_a_restart_and_caches_in_the_store(tmp_path: Path) -> None:
    """Two runs of the default ``liqheat serve`` (the live demo) in an empty folder: one Ctrl-C stops the
    first with its feeder and a held event stream; the second starts where the first left off, never
    earlier; the demo cache is in the store folder ($LIQHEAT_HOME/demo-cache), and the folder it ran in
    stays empty."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    env = {**os.environ, "LIQHEAT_HOME": str(home)}
    shown: list[pd.Timestamp] = []
    for run_no in range(2):
        port = _free_port(socket.AF_INET, "127.0.0.1")
        command = [sys.executable, "-m", "liqheat", "serve", "--port", str(port)]
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _wait_listening(proc, port)
            first = _last(port)
            if shown:
                assert first >= shown[-1], f"the demo's clock went back after a restart: {shown[-1]} then {first}"
            deadline = time.monotonic() + 60
            while (latest := _last(port)) < first + pd.Timedelta(minutes=2):  # the feeder publishes a minute a second
                assert time.monotonic() < deadline, "the live demo did not grow"
                time.sleep(0.5)
            shown.append(latest)
            stream = _hold_events(port)
            _, _ = _stop(proc, signal.SIGINT, stream)
            assert proc.returncode == 0, proc.stdout.read().decode() if proc.stdout else ""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert list(cwd.iterdir()) == [], f"run {run_no + 1} wrote into the current folder"
    assert (home / "demo-cache" / "bundle").is_dir()
    assert json.loads((home / "demo-cache" / "live.json").read_text())["candles"] > 43_200


def test_the_demo_clock_rule(tmp_path: Path) -> None:
    """Resume at the recorded count, never before the cached market's end nor past the cap; a record of
    other parameters or an unreadable one counts for nothing; the simulation runs a day past the resume."""
    from liqheat.demo import clock
    from liqheat.evaluation.synthetic.market import SimParams

    params = SimParams(days=2, seed=3)
    base, cap = params.minutes, params.minutes + clock.EXTRA_DAYS * 1440
    assert clock.resume_at(tmp_path, params) == base  # never ran
    record = clock.Recorder(tmp_path, params)
    for count, resumes in ((base + 90, base + 90), (base - 5, base), (cap + 7, cap)):
        record(count)
        assert clock.resume_at(tmp_path, params) == resumes
    clock.Recorder(tmp_path, SimParams(days=2, seed=4))(base + 90)
    assert clock.resume_at(tmp_path, params) == base  # another market's clock
    (tmp_path / clock.FILE).write_text("{not json")
    assert clock.resume_at(tmp_path, params) == base
    assert clock.ahead(params, base).minutes == base + 1440
    assert clock.ahead(params, base + 90).minutes >= base + 90 + 1440
    assert clock.ahead(params, cap).minutes == cap
    clock.Recorder(tmp_path / clock.FILE / "x", params)(base + 1)  # cannot be written: logged, the demo goes on


def test_a_restarted_demo_resumes_the_same_market_where_it_was(tmp_path: Path) -> None:
    """In-process: the feeder records its clock; a second start resumes there with the market the first
    one showed, continued (same candles, open interest and liquidations up to that point)."""
    from liqheat.api.markets import Registry
    from liqheat.cli.serve import add_demo_market
    from liqheat.evaluation.synthetic.market import SimParams

    params = SimParams(days=1, seed=3)
    out = tmp_path / "cache"
    registry = Registry()
    feeder = add_demo_market(registry, out, live=True, params=params)
    assert feeder is not None
    deadline = time.monotonic() + 60
    while feeder.count < params.minutes + 3:  # one candle a second
        assert time.monotonic() < deadline, "the demo did not grow"
        time.sleep(0.1)
    feeder.stop()
    shown = registry.get("demo").bundle

    again = Registry()
    feeder = add_demo_market(again, out, live=True, params=params)
    assert feeder is not None
    feeder.stop()
    resumed = again.get("demo").bundle
    assert resumed.candles["ts"].iloc[-1] >= shown.candles["ts"].iloc[-1]
    n = len(shown.candles)
    pd.testing.assert_frame_equal(resumed.candles.iloc[:n], shown.candles)
    cutoff = shown.candles["ts"].iloc[-1]
    for name in ("open_interest", "liquidations"):
        before, after = getattr(shown, name), getattr(resumed, name)
        pd.testing.assert_frame_equal(after[after["ts"] <= cutoff], before[before["ts"] <= cutoff])


def test_log_level_gives_json_lines_with_the_access_log_when_not_on_a_terminal(small_bundle: Path) -> None:
    port = _free_port(socket.AF_INET, "127.0.0.1")
    command = [sys.executable, "-m", "liqheat", "serve", "--bundle", str(small_bundle), "--no-demo", "--port", str(port),
               "--log-level", "info"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_listening(proc, port)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    records = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("GET /healthz" in r["message"] and r["level"] == "info" for r in access), err.decode()[-2000:]
    bad = run("serve", "--bundle", small_bundle, "--no-demo", "--log-level", "loud")
    assert bad.exit_code == 2
    assert "--log-level must be one of debug, info, warning, error" in bad.output


# ------------------------------------------------------------------------------------ exact on-chain levels


def test_onchain_levels_are_attached_to_the_markets_on_their_asset_and_bad_ones_named(small_bundle: Path, tmp_path: Path) -> None:
    from tests.helpers import write_aave_snapshot

    snapshot = write_aave_snapshot(tmp_path / "aave")
    serve = ("serve", "--bundle", small_bundle, "--no-demo", "--host", "no-such-host.invalid", "--port", "8765")
    result = run(*serve, "--onchain", f"aave={snapshot}")
    assert result.exit_code == 2  # the levels were read and attached; the host then stops it before serving
    assert "aave v3: " in result.output
    assert "exact levels of 3 positions as of 2026-02-24, beside" in result.output
    bads = (
        (f"compound={snapshot}", "--onchain must be SOURCE=PATH with SOURCE one of aave"),
        ("aave=", "--onchain must be SOURCE=PATH"),
        (f"aave={tmp_path / 'nope'}", "is not a folder"),
    )
    for bad, message in bads:
        result = run(*serve, "--onchain", bad)
        assert result.exit_code == 2, bad
        assert message in result.output, result.output
        assert "Traceback" not in result.output


def test_hyperliquid_positions_of_a_store_are_attached_to_the_markets_on_their_coin(small_bundle: Path, tmp_path: Path) -> None:
    from tests.helpers import hl_state

    from liqheat.store.parquet_store import Store
    from liqheat.venues.hyperliquid.tracker import Recorder

    serve = ("serve", "--bundle", small_bundle, "--no-demo", "--host", "no-such-host.invalid", "--port", "8765")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(*serve, "--onchain", f"hyperliquid={empty}")
    assert result.exit_code == 2
    assert "holds no Hyperliquid positions (liqheat onchain follow writes them)" in result.output
    store = Store(tmp_path / "store")
    recorder = Recorder(frozenset({"BTC"}))
    recorder.record(hl_state("0xa", 2.0, 50_000.0, 60_000.0), pd.Timestamp("2026-01-01T00:00Z"))
    with store.writer():
        recorder.flush(store)
    result = run(*serve, "--onchain", f"hyperliquid={store.root}")
    assert result.exit_code == 2  # attached, then the host stops it before serving
    assert "hyperliquid: exact levels of the stored positions beside BTC → " in result.output
