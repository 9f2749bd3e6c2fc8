"""DNS rebinding: a served app answers only the Host names it was started for (loopback names, the bound
address, ``--allowed-host``); any other Host is a 400 in the one error body, naming ``host``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.data import SYN
from api.live import raw_get, serving
from liqheat.api.app import create_app
from liqheat.api.hosts import allowed_hosts, host_name
from liqheat.api.markets import Registry
from liqheat.bundle import write_bundle
from liqheat.model import DomainError


@pytest.fixture(scope="module")
def guarded() -> TestClient:
    registry = Registry()
    registry.add(SYN, market_id="syn")
    return TestClient(create_app(registry, hosts=allowed_hosts("127.0.0.1", ["heat.example.org"])))


STARTED = ["localhost", "localhost:8000", "LOCALHOST.", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000", "heat.example.org"]


@pytest.mark.parametrize("host", STARTED)
def test_the_started_names_are_answered(guarded: TestClient, host: str) -> None:
    response = guarded.get("/api/markets", headers={"Host": host})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "host", ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "testserver", "heat.example.org.evil", "[::2]", ""]
)
@pytest.mark.parametrize("path", ["/api/markets", "/api/markets/syn/map", "/", "/docs", "/openapi.json", "/static/app.js"])
def test_any_other_host_is_a_400_naming_host(guarded: TestClient, host: str, path: str) -> None:
    response = guarded.get(path, headers={"Host": host})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["detail", "param"]
    assert body["param"] == "host"
    assert body["detail"].startswith(f"host {host!r} is not served here")
    assert body["detail"].endswith("(DNS rebinding guard): the server answers another name only when started allowing it")
    assert "--" not in body["detail"]  # the API names no CLI flag


def test_the_bound_address_is_allowed_unless_it_is_every_interface() -> None:
    assert "192.0.2.7" in allowed_hosts("192.0.2.7")
    assert allowed_hosts("0.0.0.0") == allowed_hosts("::") == frozenset({"localhost", "127.0.0.1", "::1"})
    assert allowed_hosts("127.0.0.1", ["Heat.Example.org:443", "[2001:db8::1]"]) >= {"heat.example.org", "2001:db8::1"}
    assert host_name("[2001:db8::1]:8000") == "2001:db8::1"


@pytest.mark.parametrize("bad", ["http://evil.example/", "two words", "a/b", ""])
def test_an_allowed_host_that_is_no_host_name_is_refused(bad: str) -> None:
    with pytest.raises(DomainError, match="allowed_host") as caught:
        allowed_hosts("127.0.0.1", [bad])
    assert caught.value.param == "allowed_host"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(SYN, tmp_path_factory.mktemp("served") / "syn")


def test_liqheat_serve_refuses_a_foreign_host_and_answers_allowed_ones(bundle: Path) -> None:
    with serving(bundle, "--allowed-host", "heat.example.org", "--allowed-host", "other.example") as port:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "heat.example.org", "other.example:80"):
            status, _ = raw_get(port, "/api/markets", host)
            assert status == 200, host
        status, body = raw_get(port, "/api/markets", "evil.example")
        assert status == 400
        assert json.loads(body)["param"] == "host"
        status, body = raw_get(port, "/", None)
        assert status == 400


def test_liqheat_serve_star_answers_any_host(bundle: Path) -> None:
    with serving(bundle, "--allowed-host", "*") as port:
        assert raw_get(port, "/api/markets", "evil.example")[0] == 200


def test_liqheat_serve_says_which_allowed_host_it_refuses(bundle: Path) -> None:
    from typer.testing import CliRunner

    from liqheat.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--bundle", str(bundle), "--no-demo", "--allowed-host", "http://x.example/"])
    assert result.exit_code == 2
    assert "--allowed-host 'http://x.example/' is not a host name" in " ".join(result.output.split())
