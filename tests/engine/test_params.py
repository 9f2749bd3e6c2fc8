"""Model parameters are bounded where they enter, so that the kernel's numbers stay finite; a grid is
refused before it is allocated; nothing non-finite reaches a prediction file (issue #12, items 7 and 8)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from liqheat.cli.common import flagged
from liqheat.engine.params import ModelParams, ParameterError
from liqheat.engine.replay import Engine, MarketView, predicted_sides
from liqheat.model import DomainError
from liqheat.render.files import write_predictions


def view(n: int = 200, p0: float = 100.0, spread: float = 0.02) -> MarketView:
    rng = np.random.default_rng(4)
    close = p0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    ts = np.arange(n, dtype=np.int64) * 3_600_000_000
    candles = {"open": close, "high": close * (1 + spread), "low": close * (1 - spread), "close": close}
    oi = np.full(n, 1e9) * (1 + 0.1 * np.sin(np.arange(n) / 5))
    return MarketView.from_arrays(ts, candles, (ts + 3_600_000_000, oi), None, 3_600_000_000, "BTC")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("turnover_per_hour", 1e308),  # 1,782 of 2,078 rows were NaN/inf in the btc-agg replay
        ("turnover_per_hour", math.inf),
        ("half_life_exponent", math.nan),  # no bound at all: NaN in every prediction
        ("half_life_exponent", 300.0),  # half-lives overflow
        ("half_life_hours", 1e-300),
        ("half_life_leverage", 1e-300),
        ("funding_weight", 1e308),
        ("funding_weight", math.nan),
        ("leverage_sigma", math.inf),
        ("leverage_sigma", 1e-300),  # every bucket's weight underflows: NaN weights, an empty map
        ("volume_window_hours", 1e308),  # OverflowError in round()
        ("bin_width", 1e-9),  # asked numpy for 546 GiB
    ],
)
def test_out_of_bounds_parameters_are_refused_by_name(name: str, value: float) -> None:
    with pytest.raises(ParameterError) as caught:
        ModelParams().with_overrides({name: repr(value)})
    assert caught.value.param == name
    assert str(caught.value).startswith(name)
    assert flagged(caught.value).startswith(f"--set {name} ")  # as the CLI takes it


def test_every_bound_admits_its_edges_and_they_replay_finite() -> None:
    """The edges of each range are legal and keep the kernel finite, on a market with volume gaps and all."""
    edges = [
        {"turnover_per_hour": 10.0},
        {"half_life_hours": 0.01, "half_life_exponent": 4.0, "half_life_leverage": 200.0},
        {"half_life_hours": 1e6, "half_life_exponent": 4.0, "half_life_leverage": 1.0},
        {"funding_weight": -1.0, "split_damping": 0.5},
        {"volume_window_hours": 87_600.0},
        {"leverage_sigma": 0.05},  # narrow, but the weights stay representable
    ]
    market = view()
    for change in edges:
        long_usd, short_usd = predicted_sides(market, ModelParams().with_overrides({k: str(v) for k, v in change.items()}))
        assert np.isfinite(long_usd).all(), change
        assert np.isfinite(short_usd).all(), change


def test_params_file_types_are_checked_before_any_comparison() -> None:
    for data in ({"bin_width": "0.001"}, {"entry_points": 2.5}, {"entry_points": True}, {"venue": 3}, {"bin_width": [1]}):
        with pytest.raises(ParameterError, match=r"must be a (float|int|str), got"):
            ModelParams.from_dict(data)
    assert ModelParams.from_dict({"half_life_hours": 48}).half_life_hours == 48.0  # JSON's 48 is a float's 48


def test_grid_is_refused_before_it_is_allocated() -> None:
    """bin_width 1e-5 is legal, but BTC's span needs 229k bins × 32 buckets: refused with the width that fits."""
    market = view(p0=90_000.0)
    refused = r"^bin_width 1e-05 needs [\d,]+ price bins × 32 leverage buckets .* use bin_width ≥ "
    with pytest.raises(ParameterError, match=refused):
        Engine.for_view(market, ModelParams(bin_width=1e-5))
    Engine.for_view(market, ModelParams(bin_width=1e-4))  # a tenth of the default width is fine


def test_a_grid_that_grows_live_past_the_bound_is_refused() -> None:
    engine = Engine.for_view(view(), ModelParams())
    with pytest.raises(ParameterError, match=r"^bin_width 0\.001 needs"):
        engine.update(high=1e-200, low=1e-250, churn=1.0, close_frac=0.0, long_share=0.5, dt_hours=1.0)


def test_no_prediction_file_holds_nan_or_inf(tmp_path: Path) -> None:
    ts = np.arange(3, dtype=np.int64) * 3_600_000_000
    out = tmp_path / "pred.csv"
    nothing = r"the model gives inf for short_usd at 1970-01-01T01:00:00Z \(2 values are not finite\)"
    with pytest.raises(DomainError, match=nothing):
        write_predictions(ts, np.ones(3), np.array([1.0, np.inf, np.nan]), out)
    assert not out.exists()
    write_predictions(ts, np.ones(3), np.ones(3), out)
    assert out.read_text(encoding="utf-8").splitlines()[1] == "1970-01-01T00:00:00Z,1,1"
