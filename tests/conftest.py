"""Shared fixtures for the test suite."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from liqheat.analytics.maps import MarketMap, market_map
from liqheat.bundle import Bundle, read_bundle, write_bundle
from liqheat.evaluation.synthetic.market import SimParams, simulate

# A small, valid, hand-made market bundle (1h candles with one 2 h gap after 08:00, volumes, open interest,
# funding, and single liquidation orders with prices: several orders at the same ts are allowed).
SMALL_META: dict[str, object] = {
    "symbol": "BTC",
    "contract": "linear",
    "quote": "USD",
    "timeframe": "1h",
    "venues": ["binance", "bybit"],
    "source": "hand-made test bundle",
    "funding_interval": "8h",
    "liquidations_interval": "1h",
    "score_from": "2025-12-04T07:00:00Z",
    "notes": "small bundle for tests",
}

SMALL_FILES: dict[str, str] = {
    "meta.json": json.dumps(SMALL_META, indent=2) + "\n",
    # lines 2..6
    "candles.csv": (
        "ts,open,high,low,close,volume,taker_buy_volume\n"
        "2025-12-04T06:00:00Z,92979.25,93371.12,92824.32,93140.74,120.5,60.25\n"
        "2025-12-04T07:00:00Z,93140.75,93413.39,92888.0,93397.67,99.0,40.0\n"
        "2025-12-04T08:00:00Z,93397.67,93600.0,93044.41,93260.63,80.125,80.125\n"
        "2025-12-04T10:00:00Z,93454.71,93553.69,93156.42,93260.0,0.0,0.0\n"
        "2025-12-04T11:00:00Z,93260.0,93300.5,93100.0,93100.0,10.0,3.5\n"
    ),
    # lines 2..6
    "open_interest.csv": (
        "ts,oi_usd\n"
        "2025-12-04T07:00:00Z,8248989576.0\n"
        "2025-12-04T08:00:00Z,8293200354.0\n"
        "2025-12-04T09:00:00Z,8290000000.5\n"
        "2025-12-04T11:00:00Z,8300000000.0\n"
        "2025-12-04T12:00:00Z,0.0\n"
    ),
    # lines 2..4
    "funding.csv": (
        "ts,rate\n2025-12-04T08:00:00Z,5.673e-05\n2025-12-04T16:00:00Z,-3.6150000000000005e-05\n2025-12-05T00:00:00Z,0.0\n"
    ),
    # lines 2..7
    "liquidations.csv": (
        "ts,side,usd,price\n"
        "2025-12-04T06:00:00Z,long,42620.54,92900.5\n"
        "2025-12-04T07:00:00Z,long,5000.0,92950.0\n"
        "2025-12-04T07:00:00Z,long,2500.0,92950.0\n"
        "2025-12-04T07:00:00Z,short,1499665.49,93400.0\n"
        "2025-12-04T08:00:00Z,short,0.0,93500.25\n"
        "2025-12-04T10:00:00Z,long,12858.95,93160.0\n"
    ),
}


@pytest.fixture
def small_bundle_files() -> dict[str, str]:
    """The file texts of the small valid bundle (a fresh copy: tests may edit it)."""
    return dict(SMALL_FILES)


@pytest.fixture
def write_files(tmp_path: Path) -> Callable[..., Path]:
    """``write_files(files, name="bundle")`` writes a folder of ``{file name: text or bytes}``; returns it."""

    def write(files: dict[str, str | bytes], name: str = "bundle") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True)
        for file_name, content in files.items():
            if isinstance(content, bytes):
                (folder / file_name).write_bytes(content)
            else:
                (folder / file_name).write_text(content, encoding="utf-8", newline="")
        return folder

    return write


@pytest.fixture
def small_bundle(write_files: Callable[..., Path]) -> Path:
    """A folder holding the small valid bundle as CSV."""
    return write_files(SMALL_FILES, "small")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic demo market of the trader tests: three days of 1-minute BTC candles (seed 7), as a bundle folder."""
    folder = tmp_path_factory.mktemp("trader") / "demo"
    write_bundle(simulate(SimParams(days=3, seed=7)).bundle, folder, fmt="parquet")
    return folder


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> Bundle:
    return read_bundle(demo_dir)


@pytest.fixture(scope="session")
def demo_map(demo: Bundle) -> MarketMap:
    """The map after the last candle (what every trader command shows without --at)."""
    return market_map(demo)
