"""`liqheat serve` listens where --host says: an IPv6 address works, a name nobody resolves is a message."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
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
