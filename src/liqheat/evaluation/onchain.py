"""The estimated map against the exact one: where on-chain positions are public (Hyperliquid), how far the
engine's map of the venue (run on its own candles and open interest) is from the map its positions make.

- **Distance per side**: the earth mover's distance on log-price between the two maps, each of unit mass
  (:func:`liqheat.evaluation.truth.emd_pct`, in % of price), beside the naive map's (notional spread evenly by
  distance from price): the bar the engine must beat, as on the synthetic market.
- **Magnitude**: the exact notional scaled by coverage (the positions read ÷ the venue's open interest) against
  the engine's, per side.
- **Leverage**: the notional share per leverage band the positions reveal against the engine's assumed
  log-normal, and the log-normal fitted to what they reveal (notional-weighted median and spread of log
  leverage): the prior ``liqheat fit --set leverage_median=… --set leverage_sigma=…`` can start from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liqheat.analytics.exact import ExactSource, on_bins
from liqheat.analytics.liqmap import LEVERAGE_BANDS
from liqheat.analytics.maps import market_map
from liqheat.bundle import Bundle
from liqheat.engine.params import ModelParams
from liqheat.evaluation.truth import emd_pct, naive_map
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros, iso


@dataclass(frozen=True)
class ExactComparison:
    at: pd.Timestamp
    price: float
    source: str
    positions: int
    coverage: float | None
    emd_long: float  # engine vs exact, % of price
    emd_short: float
    naive_long: float  # the naive map vs exact
    naive_short: float
    estimated_long_usd: float
    estimated_short_usd: float
    exact_long_usd: float  # within the map's bins, not scaled
    exact_short_usd: float
    bands: tuple[str, ...]
    revealed: tuple[float, ...] | None  # notional share per leverage band; None when the source gives no leverage
    assumed: tuple[float, ...]
    fitted_median: float | None
    fitted_sigma: float | None

    def scaled(self, side: str) -> float | None:
        """The exact notional of ``side`` scaled to the whole venue by coverage (None without coverage)."""
        usd = self.exact_long_usd if side == "long" else self.exact_short_usd
        return None if not self.coverage else usd / self.coverage

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at), "price": self.price, "source": self.source, "positions": self.positions,
            "coverage": self.coverage,
            "emd_pct": {"long": self.emd_long, "short": self.emd_short},
            "naive_emd_pct": {"long": self.naive_long, "short": self.naive_short},
            "estimated_usd": {"long": self.estimated_long_usd, "short": self.estimated_short_usd},
            "exact_usd": {"long": self.exact_long_usd, "short": self.exact_short_usd},
            "exact_scaled_usd": {"long": self.scaled("long"), "short": self.scaled("short")},
            "leverage": {"bands": list(self.bands), "revealed": None if self.revealed is None else list(self.revealed),
                         "assumed": list(self.assumed), "fitted_median": self.fitted_median, "fitted_sigma": self.fitted_sigma},
        }  # fmt: skip


def band_shares(leverage: np.ndarray, weights: np.ndarray) -> tuple[float, ...]:
    """The share of ``weights`` per band of :data:`~liqheat.analytics.liqmap.LEVERAGE_BANDS` (half-open)."""
    total = float(weights.sum())
    if total <= 0:
        return tuple(0.0 for _ in LEVERAGE_BANDS)
    return tuple(float(weights[(leverage >= lo) & (leverage < hi)].sum()) / total for lo, hi, _ in LEVERAGE_BANDS)


def compare_exact(
    bundle: Bundle, source: ExactSource, params: ModelParams | None = None, at: pd.Timestamp | None = None
) -> ExactComparison:
    """The engine's map of ``bundle`` at ``at`` (default: its last candle) against ``source``'s exact map then."""
    params = params or ModelParams()
    base = bundle.meta.symbol.split("/")[0].upper()
    if base != source.symbol.upper():
        raise DomainError(f"the bundle is on {bundle.meta.symbol}, the positions on {source.symbol}", param="coin")
    mm = market_map(bundle, params, at, history_points=0)
    levels = source.levels_at(mm.ts)
    if levels is None:
        raise DomainError(f"{source.source}: no positions read by {iso(mm.ts)}", param="at")
    c = bundle.candles
    is_open = levels.open_at(epoch_micros(c["ts"]), c["low"].to_numpy(np.float64), c["high"].to_numpy(np.float64), mm.index)
    exact_long, exact_short = on_bins(levels, is_open, mm.edges)
    est_long, est_short = mm.at_risk()
    below = mm.centers < mm.price
    exact_long, exact_short = np.where(below, exact_long, 0.0), np.where(below, 0.0, exact_short)
    naive = {side: naive_map(mm.edges, mm.price, side) for side in ("long", "short")}
    lev, weights = params.leverages()
    revealed = fitted_median = fitted_sigma = None
    if levels.leverage is not None and len(levels.leverage) and float(levels.usd[is_open].sum()) > 0:
        w, lv = levels.usd[is_open], levels.leverage[is_open]
        revealed = band_shares(lv, w)
        mean = float(np.average(np.log(lv), weights=w))
        fitted_median = math.exp(mean)
        fitted_sigma = math.sqrt(float(np.average((np.log(lv) - mean) ** 2, weights=w)))
    return ExactComparison(
        at=mm.ts, price=mm.price, source=levels.source, positions=levels.positions, coverage=levels.coverage,
        emd_long=emd_pct(est_long, exact_long, mm.edges), emd_short=emd_pct(est_short, exact_short, mm.edges),
        naive_long=emd_pct(naive["long"], exact_long, mm.edges), naive_short=emd_pct(naive["short"], exact_short, mm.edges),
        estimated_long_usd=float(est_long.sum()), estimated_short_usd=float(est_short.sum()),
        exact_long_usd=float(exact_long.sum()), exact_short_usd=float(exact_short.sum()),
        bands=tuple(label for _, _, label in LEVERAGE_BANDS), revealed=revealed, assumed=band_shares(lev, weights),
        fitted_median=fitted_median, fitted_sigma=fitted_sigma,
    )  # fmt: skip
