"""A calibration of the engine's map: what :mod:`liqheat.evaluation.calibrate` learns, applied here.

The calibrated map is still a map, and the candle's prediction is still what that map says the candle
sweeps. Per side it is ``scale`` × (the engine's levels + a level-free background):

- The **background** stands for positions whose levels the engine does not place: a share
  ``background`` of open interest, spread below price (longs) or above it (shorts) with density
  falling as exp(−d / ``reach``) in the relative distance d from price. A candle that moves x from its
  open sweeps ``background`` × OI × (1 − exp(−x / ``reach``)) of it. It is not depleted by a sweep:
  it is a level-free prior, renewed at every candle.
- The **scale** turns the engine's notional into expected liquidations, fitted on the trailing
  realized liquidations (partially: see ``evaluation.calibrate``), so a "$60M cluster" reads in the
  units of what has been liquidated lately.

Saved with where it was fitted (``bundle``, ``fitted_from``, ``fitted_until``) and the ``version`` of
liqheat that fitted it, so a figure made with it can be traced to its data.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from liqheat.model import DomainError

SIDES = ("long", "short")


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per-side scale and background of the engine's map; the identity changes nothing."""

    scale_long: float = 1.0
    scale_short: float = 1.0
    background_long: float = 0.0
    background_short: float = 0.0
    reach_long: float = 0.02
    reach_short: float = 0.02
    bundle: str = ""
    fitted_from: str = ""
    fitted_until: str = ""
    version: str = ""

    def __post_init__(self) -> None:
        checks = (
            # a scale past 100 or under 0.01 says the engine and the venue disagree by two orders: refit, don't apply
            ("scale_long", 0.01 <= self.scale_long <= 100, "must be in [0.01, 100]"),
            ("scale_short", 0.01 <= self.scale_short <= 100, "must be in [0.01, 100]"),
            ("background_long", 0 <= self.background_long <= 1, "is a share of open interest in [0, 1]"),
            ("background_short", 0 <= self.background_short <= 1, "is a share of open interest in [0, 1]"),
            # relative distance: 0.1 % of price to the whole price
            ("reach_long", 0.001 <= self.reach_long <= 1, "must be in [0.001, 1] (a relative distance from price)"),
            ("reach_short", 0.001 <= self.reach_short <= 1, "must be in [0.001, 1] (a relative distance from price)"),
        )
        for name, ok, message in checks:
            value = getattr(self, name)
            if not (isinstance(value, float | int) and math.isfinite(value) and ok):
                raise DomainError(f"{name} {message}, got {value!r}")

    def scale(self, side: str) -> float:
        return float(self.scale_long if side == "long" else self.scale_short)

    def share(self, side: str) -> float:
        return float(self.background_long if side == "long" else self.background_short)

    def reach(self, side: str) -> float:
        return float(self.reach_long if side == "long" else self.reach_short)

    def predicted(
        self,
        swept_long: np.ndarray,
        swept_short: np.ndarray,
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        oi_open: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-candle liquidations of the calibrated map from the engine's swept notional and the candle."""
        oi = np.nan_to_num(oi_open, nan=0.0)
        down = np.maximum(0.0, (open_ - low) / open_)
        up = np.maximum(0.0, (high - open_) / open_)
        long_ = self.scale_long * (swept_long + self.background_long * oi * -np.expm1(-down / self.reach_long))
        short = self.scale_short * (swept_short + self.background_short * oi * -np.expm1(-up / self.reach_short))
        return np.asarray(long_), np.asarray(short)

    def background(self, edges: np.ndarray, price: float, oi: float, side: str) -> np.ndarray:
        """The background's notional per price bin (``edges``, ascending) at ``price``, scale applied."""
        if side not in SIDES:
            raise DomainError(f"side must be long or short, got {side!r}")
        share = self.share(side)
        if share == 0.0 or not (oi > 0):
            return np.zeros(len(edges) - 1)
        rel = (np.asarray(edges, dtype=np.float64) - price) / price
        d = np.clip(-rel if side == "long" else rel, 0.0, None)
        beyond = np.exp(-d / self.reach(side))  # the share lying farther from price than each edge
        per_bin = beyond[1:] - beyond[:-1] if side == "long" else beyond[:-1] - beyond[1:]
        return np.asarray(per_bin * self.scale(side) * share * oi)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "calibration") -> Calibration:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DomainError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        defaults = cls()
        for name, value in data.items():
            text = isinstance(getattr(defaults, name), str)
            fits = isinstance(value, str) if text else isinstance(value, float | int) and not isinstance(value, bool)
            if not fits:
                kind = "text" if text else "number"
                raise DomainError(f"{where}: {name} must be a {kind}, got {value!r}")
        try:
            typed: dict[str, Any] = {k: v if isinstance(v, str) else float(v) for k, v in data.items()}
            return cls(**typed)
        except DomainError as exc:
            raise DomainError(f"{where}: {exc}") from None


IDENTITY = Calibration()


def load(text: str, bundle: str, where: str) -> Calibration:
    """The calibration for ``bundle`` from a file ``liqheat calibrate --out`` wrote (one object per bundle),
    or a single calibration object (applied to any bundle)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise DomainError(f"{where}: must be a JSON object")
    calibrations = data.get("calibrations")
    if calibrations is None:
        return Calibration.from_dict(data, where)
    if not isinstance(calibrations, dict):
        raise DomainError(f"{where}: 'calibrations' must be an object keyed by bundle name")
    if bundle not in calibrations:
        have = ", ".join(sorted(calibrations)) or "none"
        raise DomainError(f"{where}: no calibration for bundle {bundle!r} (it has: {have})")
    entry = calibrations[bundle]
    if not isinstance(entry, dict):
        raise DomainError(f"{where}: calibrations.{bundle} must be an object")
    return Calibration.from_dict(entry, f"{where}: calibrations.{bundle}")
