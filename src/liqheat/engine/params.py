"""Every assumption of the heatmap model, named, with a default and a JSON round trip.

Printed with every result so that a figure can be reproduced. Time-based parameters are in hours,
never candles: bundles come in 1m, 5m and 1h.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from liqheat.model import DomainError


class ParameterError(DomainError):
    """A model parameter outside its bounds; ``param`` is the field's name (the CLI sets it with ``--set``)."""

    model_parameter = True


@dataclass(frozen=True, slots=True)
class ModelParams:
    """The heatmap model's assumptions.

    Positions: each candle opens ``gross`` notional, made of the positive change in open interest
    and the turnover. Turnover is positions opened and closed again while open interest stays the
    same: ``turnover_per_hour`` × open interest per hour. Where the bundle has volume, it is scaled
    by the candle's volume relative to its trailing ``volume_window_hours`` mean: volume says *when*
    traders churn, open interest says *how much* (a bundle's volume may come from another venue).
    Only ``at_risk_share`` of what opens carries a liquidation price within reach; the rest is
    hedged or backed by ample cross margin. Entries spread log-uniformly over the candle's range at
    ``entry_points`` prices. Leverage is log-normal (``leverage_median``, ``leverage_sigma``) over
    ``leverage_buckets`` values from ``leverage_min`` to ``leverage_max``. Each leverage is mapped to
    a liquidation distance through ``venue``'s exact tier-1 rule.

    Closing: the gross opening minus the change in open interest is closed, in proportion, across
    everything at risk. Positions also age out with a half-life of ``half_life_hours`` at
    ``half_life_leverage``, scaled by (L / half_life_leverage) ^ −``half_life_exponent``, so higher
    leverage lives shorter.

    Within a candle: an entry whose liquidation price lies inside the candle's range is swept in the
    same candle with probability ``intra_sweep``, the chance that the adverse extreme comes after the
    entry.

    Side split: long share = 0.5 + ``split_damping`` × signal, where the signal comes from taker buy
    volume, or the candle's direction and funding.

    The defaults are fitted (``liqheat fit``) on the first half of each shared bundle's scoring
    window and checked on the second half; see the README for both figures.
    """

    bin_width: float = 0.001
    leverage_min: float = 1.5
    leverage_max: float = 125.0
    leverage_buckets: int = 32
    leverage_median: float = 5.0
    leverage_sigma: float = 0.8
    venue: str = "binance"
    turnover_per_hour: float = 0.01
    volume_window_hours: float = 168.0
    at_risk_share: float = 1.0
    entry_points: int = 5
    intra_sweep: float = 0.25
    half_life_hours: float = 96.0
    half_life_leverage: float = 10.0
    half_life_exponent: float = 1.0
    split_damping: float = 0.0
    funding_weight: float = 0.0

    def __post_init__(self) -> None:
        """Refuse values the kernel cannot turn into finite numbers, each bound with its reason."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ParameterError(f"{f.name} must be a finite number, got {value}", param=f.name)
        checks = (
            # below 1e-6 (0.0001 %) a bin is finer than BTC's tick; the grid's own bound (engine.replay.MAX_BINS) comes on top
            ("bin_width", 1e-6 <= self.bin_width <= 0.05, "must be in [1e-6, 0.05] (log-price units, 0.001 ≈ 0.1 %)"),
            ("leverage_min", 1 <= self.leverage_min < self.leverage_max <= 200, "need 1 ≤ leverage_min < leverage_max ≤ 200"),
            ("leverage_buckets", 1 <= self.leverage_buckets <= 256, "must be 1..256"),
            ("leverage_median", self.leverage_min <= self.leverage_median <= self.leverage_max, "must lie in [min, max]"),
            ("leverage_sigma", self.leverage_sigma > 0, "must be > 0"),
            # 10 = 1000 % of open interest opened and closed per hour; real markets churn ~1–10 %/h
            ("turnover_per_hour", 0 <= self.turnover_per_hour <= 10, "must be in [0, 10] (a share of open interest per hour)"),
            # ten years; the window is counted in candles, as an integer
            ("volume_window_hours", 0 < self.volume_window_hours <= 87_600, "must be in (0, 87600] (ten years)"),
            ("at_risk_share", 0 < self.at_risk_share <= 1, "must be in (0, 1]"),
            ("entry_points", 1 <= self.entry_points <= 64, "must be 1..64"),
            ("intra_sweep", 0 <= self.intra_sweep <= 1, "is a probability in [0, 1]"),
            # 0.01 h: shorter half-lives empty the map inside any candle; 1e6 h (114 years) is no decay at all
            ("half_life_hours", 0.01 <= self.half_life_hours <= 1e6, "must be in [0.01, 1e6] hours"),
            ("half_life_leverage", 1 <= self.half_life_leverage <= 200, "must be in [1, 200], a leverage"),
            # with 4, a 100× level lives 10⁻⁴ as long as a 10× one; beyond, half-lives under- or overflow
            ("half_life_exponent", 0 <= self.half_life_exponent <= 4, "must be in [0, 4] (higher leverage lives shorter)"),
            ("split_damping", 0 <= self.split_damping <= 0.5, "must be in [0, 0.5]"),
            # the funding term is clipped to ±3 and the signal to ±1: a weight past 1 changes nothing
            ("funding_weight", -1 <= self.funding_weight <= 1, "must be in [-1, 1]"),
        )
        for name, ok, message in checks:
            if not ok:
                raise ParameterError(f"{name} {message}, got {getattr(self, name)!r}", param=name)
        with np.errstate(all="ignore"):  # the weights are checked here, not warned about
            weights = self.leverages()[1]
        if not np.isfinite(weights).all():
            narrow = f"leverage_sigma {self.leverage_sigma!r} is so narrow that every leverage bucket's weight is 0"
            raise ParameterError(narrow, param="leverage_sigma")

    def leverages(self) -> tuple[np.ndarray, np.ndarray]:
        """Leverage buckets and their weights (summing to 1)."""
        if self.leverage_buckets == 1:
            return np.array([self.leverage_median]), np.array([1.0])
        lev = np.exp(np.linspace(math.log(self.leverage_min), math.log(self.leverage_max), self.leverage_buckets))
        z = (np.log(lev) - math.log(self.leverage_median)) / self.leverage_sigma
        weights = np.exp(-0.5 * z * z)
        return lev, weights / weights.sum()

    def half_lives(self, leverages: np.ndarray) -> np.ndarray:
        """Half-life in hours per leverage bucket."""
        return np.asarray(self.half_life_hours * (leverages / self.half_life_leverage) ** (-self.half_life_exponent))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelParams:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise DomainError(f"unknown model parameter(s): {', '.join(unknown)} (known: {', '.join(known)})")
        defaults = cls()
        for name, value in data.items():  # JSON's types, before any comparison could meet a string or a list
            default = getattr(defaults, name)
            fits = isinstance(value, str) if isinstance(default, str) else isinstance(value, type(default) | int)
            if isinstance(value, bool) or not fits:
                raise ParameterError(f"{name} must be a {type(default).__name__}, got {value!r}", param=name)
        typed: dict[str, Any] = {name: float(v) if isinstance(getattr(defaults, name), float) else v for name, v in data.items()}
        return cls(**typed)

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DomainError(f"model parameters are not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise DomainError("model parameters must be a JSON object")
        return cls.from_dict(data)

    def with_overrides(self, overrides: dict[str, str]) -> ModelParams:
        """Apply ``name=value`` strings from the command line, typed after the field."""
        known = {f.name: f for f in fields(self)}
        values: dict[str, Any] = {}
        for name, text in overrides.items():
            if name not in known:
                raise DomainError(f"unknown model parameter {name!r} (known: {', '.join(known)})")
            current = getattr(self, name)
            try:
                if isinstance(current, bool):
                    if text.lower() not in ("true", "false", "1", "0"):
                        raise ValueError(text)
                    values[name] = text.lower() in ("true", "1")
                elif isinstance(current, int):
                    values[name] = int(text)
                elif isinstance(current, float):
                    values[name] = float(text)
                else:
                    values[name] = text
            except ValueError:
                raise DomainError(f"model parameter {name} must be a {type(current).__name__}, got {text!r}") from None
        return replace(self, **values)
