"""The main job: a synthetic market with known positions, its heatmap, and how well the heatmap did.

:func:`run` simulates (or reuses a cached) market, writes its bundle and ground truth, replays the
engine on what an exchange would publish, scores the prediction against the simulated liquidations,
measures how close the estimated map is to the true one, finds the largest clusters, and draws
``heatmap.png``. The faces (``liqheat demo``, later the web app) only present the :class:`DemoReport`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from liqheat.analytics.clusters import Cluster, find_clusters
from liqheat.bundle import Bundle, Format, read_bundle, write_bundle
from liqheat.engine.frames import heatmap_frame
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, MarketView
from liqheat.evaluation.fit import predict
from liqheat.evaluation.score import ScoreReport, score
from liqheat.evaluation.synthetic.market import SimParams, SimResult, simulate, true_map, write_truth
from liqheat.evaluation.truth import MapDistance, compare
from liqheat.render.files import write_heatmap

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class DemoReport:
    out: Path
    sim: SimResult
    reused: bool
    score: ScoreReport
    distance: MapDistance
    clusters: list[Cluster]
    last_price: float
    heatmap_png: Path
    bundle_dir: Path


def _cached(folder: Path, params: SimParams) -> SimResult | None:
    """The market written by an earlier run with exactly these parameters, if any."""
    truth = folder / "truth"
    try:
        saved = json.loads((truth / "params.json").read_text(encoding="utf-8"))
        if saved != params.to_dict():
            return None
        bundle = read_bundle(folder / "bundle")
        positions = pd.read_parquet(truth / "positions.parquet").drop(columns=["open_ts"])
        cascades = pd.read_csv(truth / "cascades.csv", parse_dates=["ts"])
    except (OSError, ValueError, KeyError):
        return None
    return SimResult(params, bundle, positions, cascades, bundle.candles["ts"].iloc[0], capacity_hit=False)


def market(
    out: Path, sim_params: SimParams, *, fmt: Format = "parquet", progress: Progress | None = None
) -> tuple[SimResult, bool]:
    """The market of these parameters: reused from ``out`` when an earlier run wrote it, otherwise
    simulated and written there (bundle and ground truth). Returns it and whether it was reused."""
    sim = _cached(out, sim_params)
    if sim is not None:
        return sim, True
    out.mkdir(parents=True, exist_ok=True)
    sim = simulate(sim_params, progress=lambda done, total: progress("simulating the market", done / total) if progress else None)
    if progress:
        progress("writing the bundle and the ground truth", 0.0)
    write_bundle(sim.bundle, out / "bundle", fmt=fmt, overwrite=True)
    write_truth(sim, out / "truth")
    return sim, False


def run(
    out: Path,
    sim_params: SimParams | None = None,
    model: ModelParams | None = None,
    *,
    fmt: Format = "parquet",
    window: str = "7d",
    snapshots: int = 48,
    progress: Progress | None = None,
) -> DemoReport:
    """Everything the demo shows, computed; ``progress(stage, fraction)`` is called along the way."""
    sim_params = sim_params or SimParams()
    model = model or ModelParams()

    def tell(stage: str, fraction: float) -> None:
        if progress:
            progress(stage, fraction)

    bundle_dir = out / "bundle"
    sim, reused = market(out, sim_params, fmt=fmt, progress=tell)
    tell("replaying the engine", 0.0)
    bundle: Bundle = sim.bundle
    report = score(bundle, predict(bundle, model), params=model.to_dict())

    tell("comparing with the true map", 0.0)
    distance, clusters, last_price = _against_truth(sim, model, snapshots)
    tell("drawing the heatmap", 0.0)
    png = out / "heatmap.png"
    write_heatmap(heatmap_frame(bundle, model, window=window), png)
    tell("done", 1.0)
    return DemoReport(out, sim, reused, report, distance, clusters, last_price, png, bundle_dir)


def _against_truth(sim: SimResult, model: ModelParams, snapshots: int) -> tuple[MapDistance, list[Cluster], float]:
    """Engine map vs true map at evenly spaced candles of the scoring window; clusters at the end."""
    bundle = sim.bundle
    view = MarketView.from_bundle(bundle)
    engine = Engine.for_view(view, model)
    ts = bundle.candles["ts"]
    first = int(ts.searchsorted(bundle.meta.score_from)) if bundle.meta.score_from is not None else len(ts) // 10
    at = np.unique(np.linspace(max(first, 1), len(ts) - 1, snapshots).astype(np.int64))
    _, frames_long, frames_short = engine.run(view, frame_at=at)
    grid = engine.grid
    # Compare on a grid wide enough for every true level: bins outside the engine's grid hold zero
    # there, and a true level beyond it must count against the engine, not vanish from the truth.
    levels = sim.positions["liq_price"].to_numpy()
    levels = levels[levels > 0]
    k_lo = min(grid.k0, int(np.floor(np.log(levels.min()) / grid.width)) - 1) if levels.size else grid.k0
    k_hi = (
        max(grid.k0 + grid.n_bins, int(np.ceil(np.log(levels.max()) / grid.width)) + 1) if levels.size else grid.k0 + grid.n_bins
    )
    edges = np.exp(grid.width * np.arange(k_lo, k_hi + 1))
    offset = grid.k0 - k_lo

    def widen(values: np.ndarray) -> np.ndarray:
        wide = np.zeros(k_hi - k_lo)
        wide[offset : offset + len(values)] = values
        return wide

    estimated, truth, prices = [], [], []
    for f, t in enumerate(at):
        # frame f is the map after candle t closes: compare it with the positions open at that moment
        when = ts.iloc[t] + bundle.meta.timeframe_delta
        estimated.append((widen(frames_long[f]), widen(frames_short[f])))
        truth.append(true_map(sim, when, edges))
        prices.append(float(bundle.candles["close"].iloc[t]))
    distance = compare(estimated, truth, prices, edges)
    last_price = prices[-1]
    last_long, last_short = estimated[-1]
    clusters = find_clusters(last_long, edges, last_price, "long") + find_clusters(last_short, edges, last_price, "short")
    return distance, clusters, last_price
