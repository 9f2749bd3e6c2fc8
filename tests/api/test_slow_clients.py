"""Slowloris: clients that open a connection and send a request head slowly, or never finish it, are
closed after ``--header-timeout`` (the deadline is not renewed by trickled bytes), and a flood of them
never keeps a real client from being answered. Against a real server on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.data import SYN
from api.live import raw_get, serving
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.api.server import Limits, config
from liqheat.bundle import write_bundle

PARTIAL = b"GET /api/markets HTTP/1.1\r\nHost: localhost\r\nX-Slow: "


def half_open(port: int, n: int) -> list[socket.socket]:
    """``n`` connections that each sent the start of a request head and nothing more."""
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(PARTIAL)
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(SYN, tmp_path_factory.mktemp("slow") / "syn")


def test_a_flood_of_half_open_connections_is_closed_and_real_clients_are_answered(bundle: Path) -> None:
    with serving(bundle, "--header-timeout", "1") as port:
        flood = half_open(port, 200)
        try:
            status, body = raw_get(port, "/api/markets", f"127.0.0.1:{port}", timeout=30)
            assert status == 200
            assert b'"id":"syn"' in body
            assert all(closed_by_server(s, within=30) for s in flood)
        finally:
            for s in flood:
                s.close()


def test_a_trickled_head_is_closed_at_its_deadline_not_renewed_by_each_byte(bundle: Path) -> None:
    with serving(bundle, "--header-timeout", "1") as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(PARTIAL)
        sent = 0
        for _ in range(100):  # a byte every 0.2 s: 20 s of trickle if the deadline were renewed
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            sock.settimeout(0.2)
            try:
                if sock.recv(1024) == b"":
                    break
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
        assert sent < 100, "the server kept a trickling request head open"


@contextmanager
def in_process(limits: Limits) -> Iterator[int]:
    """The served app with ``limits``, in a thread on a free loopback port (for limits the CLI does not expose)."""
    import uvicorn

    registry = Registry()
    registry.add(SYN, market_id="syn")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    server = uvicorn.Server(config(create_app(registry), "127.0.0.1", port, limits))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def test_past_max_waiting_the_oldest_half_open_connection_makes_room() -> None:
    with in_process(Limits(header_timeout=600, max_waiting=20)) as port:
        flood = half_open(port, 50)
        try:
            status, _ = raw_get(port, "/api/markets", "localhost", timeout=30)
            assert status == 200
            assert all(closed_by_server(s, within=30) for s in flood[:30])  # the 30 oldest went
            assert not any(closed_by_server(s, within=0.2) for s in flood[-15:])  # the newest still wait
        finally:
            for s in flood:
                s.close()
