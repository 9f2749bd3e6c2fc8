"""A synthetic perpetual-futures market whose true positions are known.

:func:`simulate` runs the compiled loop of :mod:`.kernel` and returns what an exchange would publish
(a market bundle: 1-minute candles with volume and taker-buy volume, open interest, funding,
every liquidation with its price) and, apart from it, the ground truth: every position with its
entry, leverage, exact liquidation price, and when and how it ended. The true liquidation map at any
time is a histogram of the positions open then (:func:`true_map`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqheat.bundle import Bundle, BundleMeta
from liqheat.evaluation.synthetic import kernel as k
from liqheat.model import ContractKind, DomainError, Market
from liqheat.venues.tables import lookup

TRUTH_COLUMNS = ("side", "size", "entry", "leverage", "liq_price", "margin", "cross", "open_h", "end_h", "reason", "exit_price")


@dataclass(frozen=True, slots=True)
class SimParams:
    """Every assumption of the synthetic market. Times in hours or days, money in USD."""

    seed: int = 7
    days: float = 30.0
    substeps: int = 6
    start_price: float = 60_000.0
    daily_vol: float = 0.03
    garch_alpha: float = 0.06
    garch_beta: float = 0.92
    jumps_per_day: float = 0.5
    jump_sigma: float = 0.012
    opens_per_minute: float = 20.0
    size_min_usd: float = 2_000.0
    size_tail: float = 1.3
    size_max_usd: float = 25e6
    leverage_median: float = 8.0
    leverage_sigma: float = 0.8
    leverage_max: float = 125.0
    cross_share: float = 0.3
    cross_extra_mean: float = 2.0
    hold_hours: float = 36.0
    depth_usd: float = 300e6
    impact_permanent: float = 0.3
    impact_half_life_minutes: float = 20.0
    background_volume: float = 3.0
    funding_gain: float = 5e-4
    funding_cap: float = 7.5e-4
    momentum_tilt: float = 0.05
    funding_tilt: float = 0.02
    cascade_rounds: int = 3
    shock_hour: float = -1.0
    shock_pct: float = 0.0
    venue: str = "binance"
    symbol: str = "BTC/USDT:USDT"

    def __post_init__(self) -> None:
        checks = (
            (0 < self.days <= 400, "days must be in (0, 400]"),
            (1 <= self.substeps <= 60, "substeps must be 1..60 per minute"),
            (self.start_price > 0, "start_price must be > 0"),
            (0 < self.daily_vol < 1, "daily_vol must be in (0, 1)"),
            (
                self.garch_alpha >= 0 and self.garch_beta >= 0 and self.garch_alpha + self.garch_beta < 1,
                "need α, β ≥ 0, α + β < 1",
            ),
            (self.opens_per_minute > 0, "opens_per_minute must be > 0"),
            (0 < self.size_min_usd < self.size_max_usd, "need 0 < size_min_usd < size_max_usd"),
            (self.size_tail > 0, "size_tail must be > 0"),
            (1.5 <= self.leverage_median <= self.leverage_max <= 200, "need 1.5 ≤ leverage_median ≤ leverage_max ≤ 200"),
            (0 <= self.cross_share <= 1, "cross_share must be in [0, 1]"),
            (self.hold_hours > 0, "hold_hours must be > 0"),
            (self.depth_usd > 0, "depth_usd must be > 0"),
            (0 <= self.impact_permanent <= 1, "impact_permanent must be in [0, 1]"),
            (self.impact_half_life_minutes > 0, "impact_half_life_minutes must be > 0"),
            (-50 < self.shock_pct < 100, "shock_pct must be in (-50, 100)"),
        )
        for ok, message in checks:
            if not ok:
                raise DomainError(f"simulation parameter: {message}")

    @property
    def minutes(self) -> int:
        return round(self.days * 1440)

    @property
    def ticks(self) -> int:
        return self.minutes * self.substeps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """A short hash of the parameters, for caching a simulated market."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DomainError(f"unknown simulation parameter(s): {', '.join(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class SimResult:
    params: SimParams
    bundle: Bundle
    positions: pd.DataFrame
    cascades: pd.DataFrame
    start: pd.Timestamp
    capacity_hit: bool

    def open_at(self, when: pd.Timestamp) -> pd.DataFrame:
        """Positions open at ``when`` (opened at or before, not yet ended)."""
        h = (when - self.start).total_seconds() / 3600.0
        eps = 1e-9  # kernel times are tick × (1/ticks per hour): compare at a tolerance far below one tick
        p = self.positions
        alive = (p["open_h"] <= h + eps) & ((p["end_h"] < 0) | (p["end_h"] > h + eps))
        return p[alive]


def _config(params: SimParams) -> np.ndarray:
    tick_hours = 1.0 / (60.0 * params.substeps)
    ticks_per_day = 1440 * params.substeps
    return np.array(
        [
            params.daily_vol / math.sqrt(ticks_per_day),
            params.garch_alpha,
            params.garch_beta,
            params.jumps_per_day / ticks_per_day,
            params.jump_sigma,
            params.opens_per_minute / params.substeps,
            params.size_min_usd,
            params.size_tail,
            params.size_max_usd,
            math.log(params.leverage_median),
            params.leverage_sigma,
            params.leverage_max,
            params.cross_share,
            params.cross_extra_mean,
            params.hold_hours,
            params.depth_usd,
            params.background_volume / params.substeps,
            params.funding_gain,
            params.funding_cap,
            params.momentum_tilt,
            params.funding_tilt,
            tick_hours,
            float(params.cascade_rounds),
            round(params.shock_hour * 60 * params.substeps) if params.shock_hour >= 0 else -1.0,
            math.log1p(params.shock_pct / 100.0) if params.shock_pct > -100 else 0.0,
            params.impact_permanent,
            0.5 ** (1.0 / (params.impact_half_life_minutes * params.substeps)),
        ]
    )


def simulate(
    params: SimParams,
    start: pd.Timestamp | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Run the market; deterministic for ``params.seed``."""
    start = start if start is not None else pd.Timestamp("2026-01-01T00:00:00Z")
    market = Market.parse_unified(params.symbol)
    if market.kind is not ContractKind.LINEAR:
        raise DomainError(f"the simulator trades linear contracts; {market} is inverse")
    table = lookup(params.venue, market, refreshed=False).table
    floors = np.array([b.floor for b in table], dtype=np.float64)
    caps = np.array([b.cap for b in table], dtype=np.float64)
    mmr = np.array([b.mmr for b in table], dtype=np.float64)
    cum = np.array([b.maint_amount for b in table], dtype=np.float64)
    max_lev = np.array([b.max_leverage for b in table], dtype=np.float64)

    minutes, ticks = params.minutes, params.ticks
    expected = params.opens_per_minute * minutes
    capacity = int(expected * 2.0) + 10_000
    positions = np.zeros((capacity, k.P_COLS))
    heap_keys = np.zeros((3, capacity))
    heap_ids = np.zeros((3, capacity), dtype=np.int64)
    heap_n = np.zeros(3, dtype=np.int64)
    candles = np.zeros((minutes, 6))
    oi_usd = np.zeros(minutes)
    hours = math.ceil(minutes / 60)
    funding = np.zeros(hours)
    liqs = np.zeros((capacity, 5))
    cascades = np.zeros((100_000, 5))
    state = np.zeros(k.S_SIZE)
    state[k.S_LOGP] = math.log(params.start_price)
    cfg = _config(params)
    state[k.S_SIG2] = cfg[0] ** 2
    k.seed(params.seed)
    chunk = 1440 * params.substeps  # one simulated day per call, for the progress bar
    for begin in range(0, ticks, chunk):
        end = min(ticks, begin + chunk)
        k.run(begin, end, params.substeps, state, cfg, floors, caps, mmr, cum, max_lev, positions,
              heap_keys, heap_ids, heap_n, candles, oi_usd, funding, liqs, cascades)  # fmt: skip
        if progress:
            progress(end, ticks)

    n_pos = int(state[k.S_NPOS])
    n_liq = int(state[k.S_NLIQ])
    n_casc = int(state[k.S_NCASC])
    ts = start + pd.to_timedelta(np.arange(minutes), unit="min")
    candle_frame = pd.DataFrame(
        {
            "ts": ts.astype("datetime64[us, UTC]"),
            "open": candles[:, 0],
            "high": candles[:, 1],
            "low": candles[:, 2],
            "close": candles[:, 3],
            "volume": candles[:, 4],
            "taker_buy_volume": np.minimum(candles[:, 5], candles[:, 4]),
        }
    )
    # Open interest is sampled at the end of each hour and stamped there, like the shared bundles.
    hourly = np.arange(59, minutes, 60)
    oi_frame = pd.DataFrame(
        {"ts": (ts[hourly] + pd.Timedelta(minutes=1)).astype("datetime64[us, UTC]"), "oi_usd": oi_usd[hourly]}
    )
    funding_frame = pd.DataFrame(
        {"ts": (start + pd.to_timedelta(np.arange(1, hours + 1), unit="h")).astype("datetime64[us, UTC]"), "rate": funding}
    )
    funding_frame = funding_frame[funding_frame["ts"] <= ts[-1] + pd.Timedelta(minutes=1)]
    liq = liqs[:n_liq]
    orders = pd.DataFrame(
        {
            "ts": (start + pd.to_timedelta(liq[:, 4] * 3600.0, unit="s")).astype("datetime64[us, UTC]"),
            "side": np.where(liq[:, 1] > 0, "long", "short"),
            "usd": liq[:, 2],
            "price": liq[:, 3],
        }
    )
    # In a simulated market a quiet hour is a known zero, not a missing day: say so with zero totals.
    hours_ts = (start + pd.to_timedelta(np.arange(hours), unit="h")).astype("datetime64[us, UTC]")
    seen = {(ts, side) for ts, side in zip(orders["ts"].dt.floor("1h"), orders["side"], strict=True)}
    zeros = [(ts, side) for ts in hours_ts for side in ("long", "short") if (ts, side) not in seen]
    zero_frame = pd.DataFrame({"ts": [z[0] for z in zeros], "side": [z[1] for z in zeros], "usd": 0.0, "price": np.nan})
    zero_frame["ts"] = zero_frame["ts"].astype("datetime64[us, UTC]")
    liq_frame = pd.concat([orders, zero_frame], ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    meta = BundleMeta(
        symbol=market.base,
        contract=ContractKind.LINEAR,
        quote=market.quote,
        timeframe="1m",
        venues=("synthetic",),
        source=f"liqheat synthetic market (agent-based, seed {params.seed}, {params.venue} {market} tiers); "
        f"params {params.digest()}",
        funding_interval="1h",
        liquidations_interval="1h",
        score_from=start + pd.Timedelta(days=min(3.0, params.days / 3)),
        notes="Simulated: every liquidation is known exactly (single orders with prices). The ground truth "
        "(every position) is in truth/positions.parquet beside the bundle when written by liqheat demo.",
    )
    bundle = Bundle(meta=meta, candles=candle_frame, open_interest=oi_frame, funding=funding_frame, liquidations=liq_frame)
    pos = pd.DataFrame(positions[:n_pos], columns=list(TRUTH_COLUMNS))
    casc = pd.DataFrame(
        {
            "ts": (start + pd.to_timedelta(cascades[:n_casc, 0] * 3600.0, unit="s")).astype("datetime64[us, UTC]"),
            "rounds": cascades[:n_casc, 1].astype(np.int64),
            "usd": cascades[:n_casc, 2],
            "price_before": cascades[:n_casc, 3],
            "price_after": cascades[:n_casc, 4],
        }
    )
    casc["move_pct"] = (casc["price_after"] / casc["price_before"] - 1) * 100
    return SimResult(params=params, bundle=bundle, positions=pos, cascades=casc, start=start, capacity_hit=bool(state[k.S_FULL]))


def true_map(result: SimResult, when: pd.Timestamp, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Notional (size × liquidation price) of the open positions' levels per price bin, long and short."""
    p = result.open_at(when)
    weights = p["size"].to_numpy() * p["liq_price"].to_numpy()
    liq = p["liq_price"].to_numpy()
    side = p["side"].to_numpy()
    long_hist, _ = np.histogram(liq[side > 0], bins=edges, weights=weights[side > 0])
    short_hist, _ = np.histogram(liq[side < 0], bins=edges, weights=weights[side < 0])
    return long_hist, short_hist


def write_truth(result: SimResult, folder: Path) -> None:
    """The ground truth beside a bundle: positions.parquet, cascades.csv, params.json."""
    folder.mkdir(parents=True, exist_ok=True)
    result.positions.assign(
        open_ts=result.start + pd.to_timedelta(result.positions["open_h"] * 3600.0, unit="s"),
    ).to_parquet(folder / "positions.parquet", index=False)
    result.cascades.to_csv(folder / "cascades.csv", index=False)
    (folder / "params.json").write_text(json.dumps(result.params.to_dict(), indent=2) + "\n", encoding="utf-8")
