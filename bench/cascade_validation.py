"""Validate the cascade simulator on the synthetic market, whose cascades are known.

For each seed, the synthetic market is run with a forced shock at a given hour; its kernel records the
cascade that follows (liquidated USD, price before and after). liqheat's simulator is then run at the
same moment with the same shock and the market's own impact law (square-root, d1 = its depth, a full
book every round: refill 1, on a fine price grid since that law depends on how finely flow is split), twice:
on the true map (the simulator's open positions: tests the mechanics) and on the engine's estimated
map (what a user gets). Prints both against the truth.

Run: .venv/bin/python bench/cascade_validation.py [--seeds 8] [--shock -3]
"""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import replace

import numpy as np
import pandas as pd

from liqheat.analytics.cascade import DepthModel, simulate_cascade
from liqheat.analytics.maps import market_map
from liqheat.evaluation.synthetic.market import SimParams, simulate, true_map


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--shock", type=float, default=-3.0)
    ap.add_argument("--days", type=float, default=12.0)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    rows = []
    for seed in range(1, args.seeds + 1):
        shock_hour = args.days * 24 - 6
        params = replace(SimParams(), seed=seed, days=args.days, shock_hour=shock_hour, shock_pct=args.shock)
        sim = simulate(params)
        at = sim.start + pd.Timedelta(hours=shock_hour)
        casc = sim.cascades[(sim.cascades["ts"] >= at) & (sim.cascades["ts"] < at + pd.Timedelta(seconds=1))]  # the shock's tick
        price = float(sim.bundle.candles["close"].iloc[int(shock_hour * 60) - 1])  # the close before the shock's minute
        post = price * (1 + args.shock / 100)
        if casc.empty:
            truth_usd, truth_beyond = 0.0, 0.0
        else:
            truth_usd = float(casc["usd"].iloc[0])
            truth_beyond = (float(casc["price_after"].iloc[0]) / float(casc["price_before"].iloc[0]) - 1) * 100
        depth = DepthModel.square_root(params.depth_usd, "the synthetic market's law")
        edges = np.exp(np.linspace(np.log(price * 0.5), np.log(price * 1.6), 20001))  # fine: that law depends on granularity
        centers = np.sqrt(edges[:-1] * edges[1:])
        tl, ts_ = true_map(sim, at - pd.Timedelta(seconds=1), edges)
        on_true = simulate_cascade(centers, tl, ts_, price, args.shock, depth, refill=1.0, max_rounds=5000)
        m = market_map(sim.bundle, at=at, history_points=1)
        long, short = m.at_risk()
        on_est = simulate_cascade(m.centers, long, short, price, args.shock, depth, refill=1.0, max_rounds=5000)

        def beyond(r: object, post: float = post) -> float:
            return float((r.price_after / post - 1) * 100)  # type: ignore[attr-defined]

        rows.append(
            (seed, truth_usd, truth_beyond, on_true.liquidated_usd, beyond(on_true), on_est.liquidated_usd, beyond(on_est))
        )
    frame = pd.DataFrame(
        rows, columns=["seed", "sim_usd", "sim_move", "true_map_usd", "true_map_move", "engine_usd", "engine_move"]
    )
    pd.set_option("display.width", 160)
    print(frame.round(2).to_string(index=False))
    for name in ("true_map", "engine"):
        err = (frame[f"{name}_move"] - frame["sim_move"]).abs()
        ratio = frame[f"{name}_usd"] / frame["sim_usd"].where(frame["sim_usd"] > 0)
        sim_move = frame["sim_move"].mean()
        print(f"{name}: mean |error| of the move beyond the shock {err.mean():.2f} pp (the simulator's: {sim_move:.2f} %), "
              f"liquidated ÷ sim median {ratio.median():.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
