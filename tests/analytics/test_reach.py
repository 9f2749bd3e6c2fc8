"""The driftless reach model: the reflection principle, Parkinson volatility, and clusters' reach."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.test_replay import synthetic_bundle

from liqheat.analytics.clusters import clusters_of
from liqheat.analytics.maps import market_map, sigma_per_hour
from liqheat.analytics.reach import reach_of, touch_probability
from liqheat.bundle import with_tables
from liqheat.engine.params import ModelParams


def test_touch_probability_matches_simulated_brownian_paths() -> None:
    """Reflection principle against 4,000 simulated paths of 2,000 steps (discrete monitoring misses a few
    touches, so the simulation sits slightly below the formula)."""
    rng = np.random.default_rng(7)
    sigma, hours, d = 0.01, 4.0, 0.012
    steps = rng.normal(0.0, sigma * math.sqrt(hours / 2_000), size=(4_000, 2_000))
    simulated = float((np.cumsum(steps, axis=1).max(axis=1) >= d).mean())
    formula = float(touch_probability(d, sigma, hours))
    assert formula == pytest.approx(math.erfc(d / (sigma * math.sqrt(2 * hours))))
    assert formula - 0.05 < simulated <= formula + 0.02


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-5, 0.5), st.floats(1e-4, 0.05), st.floats(0.25, 200.0))
def test_touch_probability_falls_with_distance_and_rises_with_time(d: float, sigma: float, hours: float) -> None:
    p = float(touch_probability(d, sigma, hours))
    assert 0.0 <= p <= 1.0
    assert float(touch_probability(d * 1.5, sigma, hours)) <= p
    assert float(touch_probability(d, sigma, hours * 2)) >= p
    assert float(touch_probability(0.0, sigma, hours)) == 1.0


def test_parkinson_volatility_of_constant_ranges() -> None:
    r = 0.01
    high, low = np.full(200, math.exp(r / 2)), np.full(200, math.exp(-r / 2))
    expected = math.sqrt(r * r / (4 * math.log(2)) / 1.0)
    assert sigma_per_hour(high, low, 150, 1.0) == pytest.approx(expected)
    assert sigma_per_hour(high, low, 150, 0.25) == pytest.approx(expected * 2)  # the same ranges in a quarter hour


def test_clusters_carry_reach_that_is_causal_and_bounded() -> None:
    bundle = synthetic_bundle(n=400, seed=3)
    at = 300
    m = market_map(bundle, ModelParams(), index=at)
    assert m.sigma_hour > 0
    found = clusters_of(m, top=None)
    assert found
    for c in found:
        assert c.hit_prob_4h is not None
        assert c.hit_prob_24h is not None
        assert c.hit_prob_72h is not None
        assert 0 <= c.hit_prob_4h <= c.hit_prob_24h <= c.hit_prob_72h <= 1
        assert c.expected_usd_4h is not None
        assert c.expected_usd_72h is not None
        assert 0 <= c.expected_usd_4h <= c.expected_usd_72h <= c.notional_usd * (1 + 1e-12)
        r = reach_of(m, c.side, c.price_low, c.price_high)
        assert r.hit_prob[24] == c.hit_prob_24h
    candles = bundle.candles.copy()
    candles.loc[at + 1 :, "high"] *= 1.5  # a wild future changes nothing at `at`
    later = market_map(with_tables(bundle, candles=candles), ModelParams(), index=at)
    assert later.sigma_hour == m.sigma_hour
    assert [c.to_dict() for c in clusters_of(later, top=None)] == [c.to_dict() for c in found]


def test_a_cluster_at_price_is_reached_for_sure_and_a_far_one_hardly() -> None:
    bundle = synthetic_bundle(n=300, seed=5)
    m = market_map(bundle, ModelParams(), index=250)
    at_price = reach_of(m, "long", m.price * 0.99, m.price)
    far = reach_of(m, "long", m.price * 0.5, m.price * 0.51)
    assert at_price.hit_prob[4] == 1.0
    assert far.hit_prob[72] < 1e-6
    assert isinstance(m.ts, pd.Timestamp)
