"""Test data and helpers shared by several test files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner, Result

from liqheat.store.parquet_store import Series, Store

SHARED_BUNDLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bundles"  # ../shared beside the project


def hourly_random_walk(n: int, seed: int) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame, np.random.Generator]:
    """An hourly market from 2026-01-05: ts, candles (with volume, taker buy), open interest and funding
    stamped at the end of each hour, and the generator, positioned for the caller's further draws."""
    rng = np.random.default_rng(seed)
    ts = pd.Series(pd.date_range("2026-01-05", periods=n, freq="1h", tz="UTC").astype("datetime64[us, UTC]"))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.008, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    volume = rng.lognormal(3, 0.5, n)
    candles = pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume,
                            "taker_buy_volume": volume * rng.uniform(0.2, 0.8, n)})  # fmt: skip
    oi = pd.DataFrame({"ts": ts + pd.Timedelta(hours=1), "oi_usd": 1e9 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))})
    funding = pd.DataFrame({"ts": ts + pd.Timedelta(hours=1), "rate": rng.normal(0, 1e-4, n)})
    return ts, candles, oi, funding, rng


# ------------------------------------------------------------------------------------------ store markets

STORE_START = pd.Timestamp("2025-10-01T00:00:00Z")


def walk(n: int, seed: int = 3) -> pd.DataFrame:
    """``n`` one-minute candles from 2025-10-01, a random walk around 60,000 with constant volume."""
    rng = np.random.default_rng(seed)
    close = 60000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    ts = pd.Series(pd.date_range(STORE_START, periods=n, freq="1min")).astype("datetime64[us, UTC]")
    return pd.DataFrame({"ts": ts, "open": np.r_[close[0], close[:-1]], "high": close * 1.001, "low": close * 0.999,
                         "close": close, "volume": 5.0})  # fmt: skip


def write_venue(store: Store, venue: str, frame: pd.DataFrame, oi: float) -> None:
    """Candles and a constant open interest of BTC/USDT:USDT on ``venue``, as a follower would write them."""
    with store.writer():
        store.write(Series("candles", venue, "BTC/USDT:USDT", "1m"), frame)
        store.write(Series("open_interest", venue, "BTC/USDT:USDT"), pd.DataFrame({"ts": frame["ts"], "oi_usd": oi}))
        store.advance(venue, "BTC/USDT:USDT", "candles-1m", frame["ts"].iloc[-1])


# ------------------------------------------------------------------------------------------ the trader commands

PLAN_KEYS = ("--leverage", "10", "--balance", "10000")


def run(*args: object) -> Result:
    """``liqheat *args`` in-process."""
    import liqheat.cli.trader  # noqa: F401  (registers the trader commands on the app)
    from liqheat.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def cli_json(*args: object) -> Any:
    """``liqheat *args --json``, which must succeed with one JSON document on stdout and nothing on stderr."""
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return json.loads(result.stdout)


def plain(data: Any) -> Any:
    """What a result looks like after a JSON round trip (tuples → lists, keys → strings)."""
    return json.loads(json.dumps(data, allow_nan=False))


def implied_price(cluster: dict[str, Any]) -> float:
    """The map's price, from a cluster's peak and its distance from price."""
    return float(cluster["peak_price"] / (1 + cluster["distance_pct"] / 100))


def plan_json(bundle_dir: Path, side: str, entry: float, *extra: object) -> dict[str, Any]:
    data = cli_json("plan", bundle_dir, "--side", side, "--entry", entry, *PLAN_KEYS, *extra)
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------------------------------ Aave positions

SHARED_AAVE = SHARED_BUNDLES.parent / "raw" / "aave-v2-v3-wbtc-positions"


def aave_hf(position: Any, moved: frozenset[str], scale: float) -> float:
    """A position's health factor summed term by term, the prices of ``moved`` times ``scale``: no shared code
    with the solver beyond the thresholds."""
    weighted = sum(h.amount * h.price * (scale if h.asset in moved else 1.0) * position.liquidation_threshold(h.asset)
                   for h in position.collateral)  # fmt: skip
    debt = sum(h.amount * h.price * (scale if h.asset in moved else 1.0) for h in position.debt)
    return weighted / debt if debt > 0 else float("inf")


def aave_bisect(position: Any, moved: frozenset[str], lo: float = 1e-20, hi: float = 1e20) -> float | None:
    """The factor on the moved prices where HF crosses 1, found by brute force: a geometric scan for a sign change
    of HF − 1, then bisection to the last bit. None when HF − 1 keeps one sign over [lo, hi]."""
    grid = np.geomspace(lo, hi, 801)
    signs = [aave_hf(position, moved, float(s)) < 1.0 for s in grid]
    cut = next((i for i in range(len(grid) - 1) if signs[i] != signs[i + 1]), None)
    if cut is None:
        return None
    a, b = float(grid[cut]), float(grid[cut + 1])
    low_side = signs[cut]
    for _ in range(200):
        mid = (a + b) / 2
        if mid in (a, b):
            break
        if (aave_hf(position, moved, mid) < 1.0) == low_side:
            a = mid
        else:
            b = mid
    return (a + b) / 2


def write_aave_snapshot(folder: Path) -> Path:
    """A small snapshot in the shape of ``aave-v2-v3-wbtc-positions`` (the columns we read), BTC at 60,000:
    A owes $40,000 on 2 WBTC; B is found under both keys (one 1 BTC, one $1,000 of USDC); C holds cbBTC and owes
    GHO; D owes WETH; E is on v2; F has no BTC left; G owes more than its BTC covers. A was liquidated twice."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [  # account, key, version, borrowed, balance, btc
        ("0xa", "wbtc", "V3", "USDC", 30_000.0, 2.0), ("0xa", "wbtc", "V3", "USDT", 10_000.0, 2.0),
        ("0xb", "wbtc", "V3", "USDC", 1_000.0, 1.0), ("0xb", "cbbtc", "V3", "USDC", 1_000.0, 1.0),
        ("0xc", "cbbtc", "V3", "GHO", 5_000.0, 0.5),
        ("0xd", "wbtc", "V3", "WETH", 10.0, 3.0),
        ("0xe", "wbtc", "V2", "USDC", 100.0, 1.0),
        ("0xf", "wbtc", "V3", "USDC", 100.0, 0.0),
        ("0xg", "wbtc", "V3", "USDC", 100_000.0, 1.0),
    ]  # fmt: skip
    cols = ["account", "collateral_key", "version", "borrowed_symbol", "borrow_balance_tokens", "btc_collateral_tokens"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["collateral_symbol"] = frame["collateral_key"].map({"wbtc": "wBTC", "cbbtc": "cbBTC"})
    frame.to_parquet(folder / "collateral_open_positions.parquet")
    pd.DataFrame({"date": pd.to_datetime(["2026-02-23", "2026-02-24"]), "btc_price_usd": [61_000.0, 60_000.0]}).to_parquet(
        folder / "btc_price_history.parquet"
    )
    liquidations = [  # timestamp, key, version, liquidatee, tokens, usd
        (1_770_000_000, "wbtc", "V3", "0xa", 1.045, 1.045 * 28_000.0),  # newest: 1 BTC base at 28,000
        (1_760_000_000, "wbtc", "V3", "0xa", 0.5225, 0.5225 * 40_000.0),  # older: 0.5 BTC base at 40,000
        (1_770_000_000, "wbtc", "V3", "0xz", 1.0, 50_000.0),
        (1_770_000_000, "wbtc", "V2", "0xa", 1.0, 50_000.0),
    ]
    names = ["timestamp", "collateral_key", "version", "liquidatee", "amount_tokens", "amount_usd"]
    pd.DataFrame(liquidations, columns=names).to_parquet(folder / "collateral_liquidations.parquet")
    return folder


def decode_q16(body: bytes) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The page's heatmap answer (``format=q16``): its header and the long and short values, flat."""
    n = int.from_bytes(body[:4], "little")
    head = json.loads(body[4 : 4 + n])
    start = 4 + n + (-(4 + n)) % 4
    size = head["columns"] * head["rows"]
    codes = np.frombuffer(body, dtype="<u2", count=2 * size, offset=start).astype(np.float64)
    values = np.where(codes > 0, np.expm1(codes / head["scale"]), 0.0)
    return head, values[:size], values[size:]


def hl_state(user: str, size: float, liquidation: float | None, entry: float) -> object:
    """A ``clearinghouseState`` answer holding one BTC position (the venue's shape, as the SDK's recorded one)."""
    from liqheat.venues.hyperliquid.state import parse_clearinghouse_state

    position = {"coin": "BTC", "entryPx": str(entry), "leverage": {"type": "cross", "value": 10},
                "liquidationPx": None if liquidation is None else str(liquidation), "marginUsed": "100.0",
                "positionValue": str(abs(size) * entry), "returnOnEquity": "0.0", "szi": str(size),
                "unrealizedPnl": "0.0"}  # fmt: skip
    summary = {"accountValue": "1000.0", "totalMarginUsed": "100.0", "totalNtlPos": "1000.0", "totalRawUsd": "1000.0"}
    payload = {"assetPositions": [{"position": position, "type": "oneWay"}], "crossMarginSummary": summary,
               "marginSummary": summary, "crossMaintenanceMarginUsed": "10.0", "withdrawable": "900.0", "time": 0}  # fmt: skip
    return parse_clearinghouse_state(user, payload)
