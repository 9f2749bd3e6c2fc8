"""A real ``liqheat serve`` in a subprocess on a free loopback port, for the tests that need sockets:
the Host guard as the CLI wires it, and the server's limits against slow clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(bundle: Path, *args: str, startup: float = 120.0) -> Iterator[int]:
    """``liqheat serve --bundle BUNDLE --no-demo ARGS`` on a free port, stopped on exit; yields the port."""
    port = free_port()
    command = [sys.executable, "-m", "liqheat", "serve", "--bundle", str(bundle), "--no-demo", "--port", str(port), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"liqheat serve exited {proc.returncode}: {out}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"liqheat serve did not listen on {port} within {startup} s") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def raw_get(port: int, path: str, host: str | None, timeout: float = 30.0) -> tuple[int, bytes]:
    """GET ``path`` with exactly this ``Host`` header (none when ``None``); the status and the body."""
    head = f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "") + "Connection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]
