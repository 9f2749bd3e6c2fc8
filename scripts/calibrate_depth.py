"""Calibrate the cascade simulator's order-book depth model on the real Binance BTCUSDT bookDepth of
2025-10-10 (../shared/data/raw/binance-vision-2025-10-10) and write src/liqheat/analytics/depth_model.json.

Model: cumulative USD notional within x % of mid, per side, as the median over snapshots at x = 1…5 %
("calm": 00:00–20:00 UTC; "crash": 21:00–21:30 UTC, when the book was thinnest). Between the points
the curve is linear; inside 1 % and beyond 5 % it grows as x² (square-root impact).
The power-law fit D1 · x^β is printed too, as a summary of the shape.

``reference_volume`` is what that book is scaled from for another market (analytics.cascade.market_book):
Binance USD-M BTCUSDT's USD traded per hour (volume × close) over the calm hours, from its 1h klines, which
are the price path of ../shared/data/bundles/btc-hyperliquid-1h-2025 (its meta.json says so).
Run: .venv/bin/python scripts/calibrate_depth.py [PATH]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from liqheat.venues.binance.archive import read_book_depth

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "raw" / "binance-vision-2025-10-10" / "BTCUSDT-bookDepth-2025-10-10.csv"
KLINES = REPO.parent / "shared" / "data" / "bundles" / "btc-hyperliquid-1h-2025" / "candles.csv"  # Binance USD-M BTCUSDT 1h


def reference_volume(path: Path = KLINES) -> dict[str, object]:
    """USD traded per hour on Binance BTCUSDT over the calm book's hours, 2025-10-10 00:00–20:00 UTC."""
    c = pd.read_csv(path, parse_dates=["ts"])
    calm = c[(c["ts"] >= "2025-10-10T00:00:00Z") & (c["ts"] < "2025-10-10T20:00:00Z")]
    if len(calm) != 20:
        raise SystemExit(f"{path}: expected the 20 hourly candles of 2025-10-10 00:00–20:00, found {len(calm)}")
    return {
        "usd_per_hour": round(float((calm["volume"] * calm["close"]).sum()) / len(calm), -3),
        "hours": "2025-10-10T00:00:00Z … 2025-10-10T20:00:00Z (the calm book's)",
        "source": "Binance USD-M BTCUSDT 1h klines, volume × close (the price path of the btc-hyperliquid-1h-2025 bundle)",
    }


def fit(frame: pd.DataFrame) -> tuple[float, float]:
    x = np.log(frame["x"].to_numpy())
    y = np.log(frame["notional"].to_numpy())
    beta, intercept = np.polyfit(x, y, 1)
    return float(np.exp(intercept)), float(beta)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    d = read_book_depth(path)
    d["x"] = d["percentage"].abs()
    d["side"] = np.where(d["percentage"] < 0, "bid", "ask")
    out: dict[str, object] = {
        "source": f"Binance USD-M BTCUSDT bookDepth 2025-10-10 ({path.name}, {len(d):,} rows), by scripts/calibrate_depth.py",
        "model": "cumulative USD within x % of mid: linear between the points, growing as x**2 inside 1 % and beyond 5 %",
        "reference_market": "BTC/USDT:USDT on binance",
        "reference_volume": reference_volume(),
    }
    hours = d["ts"].dt.hour + d["ts"].dt.minute / 60
    for state, mask in (("calm", hours < 20), ("crash", (hours >= 21) & (hours < 21.5))):
        part = d[mask]
        sides = {}
        for side, rows in part.groupby("side"):
            fits = np.array([fit(g) for _, g in rows.groupby("ts") if len(g) >= 4])
            curve = rows.groupby("x")["notional"].median()
            sides[side] = {
                "pct": [float(x) for x in curve.index],
                "usd": [round(float(v), -3) for v in curve.to_numpy()],
                "power_law": {"d1_usd": round(float(np.median(fits[:, 0])), -3), "beta": round(float(np.median(fits[:, 1])), 3)},
                "snapshots": len(fits),
            }
        out[state] = sides
    target = REPO / "src" / "liqheat" / "analytics" / "depth_model.json"
    target.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
