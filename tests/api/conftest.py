"""The API tests' clients: the synthetic markets ``syn`` and ``bare``, the trader demo market and the real
shared bundle (skipped when ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.data import BARE, REAL, SYN
from liqheat.api.app import create_app
from liqheat.api.markets import Registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg = Registry()
    reg.add(SYN, market_id="syn")
    reg.add(BARE, market_id="bare", kind="test")
    return reg


@pytest.fixture(scope="module")
def client(registry: Registry) -> TestClient:
    return TestClient(create_app(registry))


@pytest.fixture(scope="module")
def safe_client(registry: Registry) -> TestClient:
    """A client that answers a server error with a 500 instead of raising, so the assertion sees it."""
    return TestClient(create_app(registry), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def demo_client(demo_dir: Path) -> TestClient:
    """The trader demo market (see tests/conftest.py), served from its folder as ``demo``."""
    reg = Registry()
    market = reg.add_folder(demo_dir)
    assert market.id == "demo"
    return TestClient(create_app(reg))


@pytest.fixture(scope="module")
def real_client() -> TestClient:
    if not (REAL / "meta.json").is_file():
        pytest.skip(f"shared bundle {REAL} is absent")
    reg = Registry()
    reg.add_folder(REAL)
    return TestClient(create_app(reg))
