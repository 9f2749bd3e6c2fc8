"""Fixtures for the page's tests: Playwright driving Debian's Chromium (never a downloaded browser) against
a server these tests start. Every browser test is skipped, with the reason, when Chromium or the npm
packages are missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from web.browser import CHROMIUM, CHROMIUM_ARGS, NODE, SHARED, fresh_page, serve


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The shared bundle (when ../shared is there) and a 4-day synthetic market, id ``synthetic``."""
    from liqheat.api.markets import Registry
    from liqheat.evaluation.synthetic.market import SimParams, simulate

    registry = Registry()
    if (SHARED / "meta.json").is_file():
        registry.add_folder(SHARED)
    registry.add(simulate(SimParams(days=4, seed=3)).bundle, market_id="synthetic", kind="synthetic")
    with serve(registry) as base:
        yield base


@pytest.fixture(scope="session")
def exact_server() -> Iterator[str]:
    """The shared bundle with the shared Aave snapshot's exact levels beside its estimated ones."""
    from helpers import SHARED_AAVE
    from liqheat.analytics.exact import Snapshots, aave_levels
    from liqheat.api.markets import Registry

    if not (SHARED / "meta.json").is_file() or not SHARED_AAVE.is_dir():
        pytest.skip(f"shared bundle {SHARED} or Aave snapshot {SHARED_AAVE} is absent")
    registry = Registry()
    registry.add_folder(SHARED)
    registry.add_exact(Snapshots.of(aave_levels(str(SHARED_AAVE))))
    with serve(registry) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    if not NODE.is_dir():
        pytest.skip("npm packages are not installed (bash scripts/setup.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1400 × 800 page."""
    with fresh_page(browser, viewport={"width": 1400, "height": 800}) as pg:
        yield pg
