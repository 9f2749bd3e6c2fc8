"""How close a liquidation map is to the truth: EMD, the naive yardstick, the true map of a simulated market,
clusters, and the headline (the engine's map beats the naive one on the demo market)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from liqheat.analytics.clusters import find_clusters
from liqheat.demo import job as demo
from liqheat.engine.params import ModelParams
from liqheat.evaluation.synthetic.market import SimParams, SimResult, simulate, true_map
from liqheat.evaluation.truth import NAIVE_REACH_LONG, NAIVE_REACH_SHORT, MapDistance, compare, emd_pct, naive_map

W = 0.001  # log bin width (0.1 %)
PRICE = 60_000.0


def log_grid(lo: float = 0.45, hi: float = 1.6, width: float = W) -> np.ndarray:
    k = np.arange(math.floor(math.log(PRICE * lo) / width), math.ceil(math.log(PRICE * hi) / width) + 1)
    return np.exp(width * k)


EDGES = log_grid()
CENTERS = np.sqrt(EDGES[:-1] * EDGES[1:])
N = len(CENTERS)


def bin_of(price: float) -> int:
    return int(np.searchsorted(EDGES, price, side="right") - 1)


def spike(i: int, n: int = N, mass: float = 1.0) -> np.ndarray:
    out = np.zeros(n)
    out[i] = mass
    return out


def bump(at_pct: float, total: float, sigma_bins: float = 4.0) -> np.ndarray:
    x = np.log(CENTERS)
    z = (x - math.log(PRICE * (1 + at_pct / 100))) / (sigma_bins * W)
    g = np.where(np.abs(z) < 5, np.exp(-0.5 * z**2), 0.0)  # cut at 5 σ: no mass far from the bump
    return total * g / g.sum()


def w1_by_quantiles(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> float:
    """Wasserstein-1 between two weightings of sorted ``points``, as ∫₀¹ |Qa(u) − Qb(u)| du (an independent route)."""
    ca, cb = np.cumsum(a / a.sum()), np.cumsum(b / b.sum())
    ca, cb = np.minimum(ca, 1.0), np.minimum(cb, 1.0)  # a float cumsum may end an ulp above 1
    ca[-1] = cb[-1] = 1.0
    cuts = np.unique(np.concatenate(([0.0], ca, cb)))
    mid = 0.5 * (cuts[:-1] + cuts[1:])
    qa = points[np.minimum(np.searchsorted(ca, mid, side="left"), len(points) - 1)]
    qb = points[np.minimum(np.searchsorted(cb, mid, side="left"), len(points) - 1)]
    return float((np.abs(qa - qb) * np.diff(cuts)).sum())


# ------------------------------------------------------------------------------------------------ EMD


def test_emd_of_identical_maps_is_zero_and_mass_is_normalised() -> None:
    a = bump(-5, 3e6) + bump(-12, 1e6)
    assert emd_pct(a, a, EDGES) == 0.0
    assert emd_pct(a, 7.5 * a, EDGES) == pytest.approx(0.0, abs=1e-9)
    b = bump(-8, 1.0)
    assert emd_pct(a, b, EDGES) == pytest.approx(emd_pct(1e-6 * a, 1e9 * b, EDGES), rel=1e-9)


@pytest.mark.parametrize("k", [1, 7, 50, 400])
def test_emd_of_a_shift_by_k_bins_is_k_bin_widths(k: int) -> None:
    i = bin_of(PRICE * 0.9)
    assert emd_pct(spike(i), spike(i + k), EDGES) == pytest.approx(k * W * 100, rel=1e-9)
    shape = bump(-40, 1.0, sigma_bins=3)
    shifted = np.roll(shape, k)  # the bump and its copy both lie well inside the grid
    assert shifted[:k].sum() == 0.0
    assert emd_pct(shape, shifted, EDGES) == pytest.approx(k * W * 100, rel=1e-6)
    assert emd_pct(shifted, shape, EDGES) == pytest.approx(k * W * 100, rel=1e-6)


def test_emd_on_uneven_bins_is_the_log_distance_between_bin_centres() -> None:
    edges = np.array([100.0, 101.0, 103.0, 110.0, 111.0, 130.0])
    centres = np.sqrt(edges[:-1] * edges[1:])
    for i, j in [(0, 1), (0, 4), (1, 3), (2, 4)]:
        expected = 100 * (math.log(centres[j]) - math.log(centres[i]))
        assert emd_pct(spike(i, 5), spike(j, 5), edges) == pytest.approx(expected, rel=1e-12)
    # half the mass moves two bins: half the distance
    assert emd_pct(spike(0, 5), spike(0, 5, 0.5) + spike(2, 5, 0.5), edges) == pytest.approx(
        50 * (math.log(centres[2]) - math.log(centres[0])), rel=1e-12
    )


def test_emd_of_an_empty_map_is_nan() -> None:
    assert math.isnan(emd_pct(np.zeros(N), bump(-5, 1.0), EDGES))
    assert math.isnan(emd_pct(bump(-5, 1.0), np.zeros(N), EDGES))


maps = st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=2, max_size=30).filter(lambda v: sum(v) > 1e-3)


@settings(max_examples=150, deadline=None)
@given(
    a=maps,
    b=maps,
    c=maps,
    widths=st.lists(st.floats(1e-4, 0.2), min_size=31, max_size=31),
)
def test_emd_is_a_metric_and_equals_wasserstein_1(a: list[float], b: list[float], c: list[float], widths: list[float]) -> None:
    n = min(len(a), len(b), len(c))
    va, vb, vc = np.array(a[:n]), np.array(b[:n]), np.array(c[:n])
    if min(va.sum(), vb.sum(), vc.sum()) <= 1e-3:
        return
    edges = 50_000 * np.exp(np.concatenate(([0.0], np.cumsum(widths[:n]))))
    centres = np.log(np.sqrt(edges[:-1] * edges[1:]))
    ab = emd_pct(va, vb, edges)
    assert ab >= 0
    assert ab == pytest.approx(emd_pct(vb, va, edges), rel=1e-9, abs=1e-9)
    assert ab == pytest.approx(100 * w1_by_quantiles(va, vb, centres), rel=1e-6, abs=1e-7)
    assert ab <= emd_pct(va, vc, edges) + emd_pct(vc, vb, edges) + 1e-7
    assert ab <= 100 * (centres[-1] - centres[0]) + 1e-9


# ------------------------------------------------------------------------------------------ naive map


@pytest.mark.parametrize("price", [PRICE, PRICE * 1.000437, 58_123.4])
def test_naive_map_spreads_longs_down_to_minus_50_pct_and_shorts_up_to_plus_50(price: float) -> None:
    long, short = naive_map(EDGES, price, "long"), naive_map(EDGES, price, "short")
    assert long.sum() == pytest.approx(1.0, rel=1e-12)
    assert short.sum() == pytest.approx(1.0, rel=1e-12)
    assert (long >= 0).all()
    assert (short >= 0).all()
    hit_long, hit_short = np.flatnonzero(long), np.flatnonzero(short)
    # longs: only bins reaching below the price and above half of it
    assert (EDGES[hit_long] < price).all()
    assert (EDGES[hit_long + 1] > price / 2).all()
    assert EDGES[hit_long[0]] <= price / 2 < EDGES[hit_long[0] + 1]
    assert EDGES[hit_long[-1]] <= price <= EDGES[hit_long[-1] + 1]
    # shorts: only bins reaching above the price and below 1.5 times it
    assert (EDGES[hit_short + 1] > price).all()
    assert (EDGES[hit_short] < price * 1.5).all()
    assert EDGES[hit_short[-1]] < price * 1.5 <= EDGES[hit_short[-1] + 1]
    # evenly by log-distance: a whole bin holds its width over the reach
    inner_long, inner_short = hit_long[1:-1], hit_short[1:-1]
    np.testing.assert_allclose(long[inner_long], W / NAIVE_REACH_LONG, rtol=1e-6)
    np.testing.assert_allclose(short[inner_short], W / NAIVE_REACH_SHORT, rtol=1e-6)
    # the centre of mass sits half-way along the reach
    x = np.log(CENTERS / price)
    assert (long * x).sum() == pytest.approx(-math.log(2) / 2, abs=W)
    assert (short * x).sum() == pytest.approx(math.log(1.5) / 2, abs=W)


# -------------------------------------------------------------------------------------------- compare


def test_compare_averages_the_distances_per_side() -> None:
    truth1 = (spike(bin_of(PRICE * 0.95)), spike(bin_of(PRICE * 1.05)))
    truth2 = (bump(-10, 2e6), bump(8, 1e6))
    prices = [PRICE, PRICE * 1.01]
    exact = compare([truth1, truth2], [truth1, truth2], prices, EDGES)
    assert exact.snapshots == 2
    assert exact.engine_long == pytest.approx(0.0, abs=1e-9)
    assert exact.engine_short == pytest.approx(0.0, abs=1e-9)
    naive_long = [emd_pct(naive_map(EDGES, p, "long"), t[0], EDGES) for p, t in zip(prices, (truth1, truth2), strict=True)]
    naive_short = [emd_pct(naive_map(EDGES, p, "short"), t[1], EDGES) for p, t in zip(prices, (truth1, truth2), strict=True)]
    assert exact.naive_long == pytest.approx(np.mean(naive_long), rel=1e-12)
    assert exact.naive_short == pytest.approx(np.mean(naive_short), rel=1e-12)
    assert exact.naive_long > 5
    assert exact.naive_short > 5
    assert exact.engine_beats_naive

    # an estimate 2 % off everywhere (20 bins) scores 2 on each side
    off = [(np.roll(t[0], -20), np.roll(t[1], 20)) for t in (truth1, truth2)]
    shifted = compare(off, [truth1, truth2], prices, EDGES)
    assert shifted.engine_long == pytest.approx(20 * W * 100, rel=1e-6)
    assert shifted.engine_short == pytest.approx(20 * W * 100, rel=1e-6)
    assert (shifted.naive_long, shifted.naive_short) == (exact.naive_long, exact.naive_short)


def test_compare_skips_empty_sides_and_needs_both_sides_better() -> None:
    truth = [(spike(bin_of(PRICE * 0.97)), spike(bin_of(PRICE * 1.03))), (spike(bin_of(PRICE * 0.9)), np.zeros(N))]
    far = [(spike(bin_of(PRICE * 0.55)), t[1] if t[1].any() else spike(0)) for t in truth]
    result = compare(far, truth, [PRICE, PRICE], EDGES)
    assert result.snapshots == 2
    # the empty short side of snapshot 2 is left out of the mean, not counted as 0 or nan
    assert result.engine_short == pytest.approx(0.0, abs=1e-9)
    assert result.naive_short == pytest.approx(emd_pct(naive_map(EDGES, PRICE, "short"), truth[0][1], EDGES), rel=1e-12)
    assert result.engine_long > result.naive_long  # far worse on the long side
    assert not result.engine_beats_naive
    tie = MapDistance(3, 1.0, 2.0, 1.0, 5.0)
    assert not tie.engine_beats_naive  # strictly better, on both sides
    assert MapDistance(3, 0.9, 2.0, 1.0, 5.0).engine_beats_naive


def test_compare_of_nothing() -> None:
    nothing = compare([], [], [], EDGES)
    assert nothing.snapshots == 0
    assert all(math.isnan(v) for v in (nothing.engine_long, nothing.engine_short, nothing.naive_long, nothing.naive_short))
    assert not nothing.engine_beats_naive
    with pytest.raises(ValueError, match="zip"):
        compare([(spike(1), spike(2))], [], [PRICE], EDGES)


# ------------------------------------------------------------------------------------------- true map


@pytest.fixture(scope="module")
def day() -> SimResult:
    return simulate(SimParams(days=1, seed=1))


def test_true_map_counts_exactly_the_positions_open_at_a_time(day: SimResult) -> None:
    rows = [
        # side, size, liq, open_h, end_h, reason
        (1.0, 2.0, 50_000.0, 1.0, 3.0, 1.0),  # closed at 3 h
        (1.0, 1.0, 55_000.0, 2.0, -1.0, 0.0),  # still open
        (-1.0, 0.5, 65_000.0, 0.5, 2.5, 2.0),  # liquidated at 2.5 h
        (1.0, 4.0, 0.0, 0.25, -1.0, 0.0),  # never liquidatable: no level to show
        (-1.0, 3.0, 70_000.0, 2.25, -1.0, 0.0),  # opens at 2.25 h
        (-1.0, 1.0, 64_000.0, 1.5, 2.25, 1.0),  # ends at 2.25 h
    ]
    frame = pd.DataFrame(
        {
            "side": [r[0] for r in rows],
            "size": [r[1] for r in rows],
            "entry": 60_000.0,
            "leverage": 10.0,
            "liq_price": [r[2] for r in rows],
            "margin": 1.0,
            "cross": 0.0,
            "open_h": [r[3] for r in rows],
            "end_h": [r[4] for r in rows],
            "reason": [r[5] for r in rows],
            "exit_price": 0.0,
        }
    )
    sim = dataclasses.replace(day, positions=frame)
    at = sim.start + pd.Timedelta(hours=2.25)
    assert sorted(sim.open_at(at).index) == [0, 1, 2, 3, 4]  # opened at or before, not yet ended
    long, short = true_map(sim, at, EDGES)
    expected_long, expected_short = np.zeros(N), np.zeros(N)
    expected_long[bin_of(50_000.0)] += 2.0 * 50_000
    expected_long[bin_of(55_000.0)] += 1.0 * 55_000
    expected_short[bin_of(65_000.0)] += 0.5 * 65_000
    expected_short[bin_of(70_000.0)] += 3.0 * 70_000
    np.testing.assert_allclose(long, expected_long)
    np.testing.assert_allclose(short, expected_short)
    late_long, late_short = true_map(sim, sim.start + pd.Timedelta(hours=3), EDGES)
    assert late_long.sum() == pytest.approx(55_000.0)
    assert late_short.sum() == pytest.approx(210_000.0)
    early_long, early_short = true_map(sim, sim.start + pd.Timedelta(minutes=10), EDGES)
    assert early_long.sum() == 0.0
    assert early_short.sum() == 0.0


def test_true_map_of_a_simulated_day(day: SimResult) -> None:
    p = day.positions
    open_tick = np.rint(p["open_h"].to_numpy() * 360).astype(np.int64)
    end_tick = np.where(p["end_h"] >= 0, np.rint(p["end_h"].to_numpy() * 360).astype(np.int64), 10**9)
    levels = p["liq_price"].to_numpy()
    edges = np.exp(W * np.arange(math.floor(math.log(levels[levels > 0].min()) / W), math.ceil(math.log(levels.max()) / W) + 2))
    for hour in (2, 9, 17, 23):
        seconds = hour * 3600 + 125  # between two ticks (every 10 s): no float tie with a tick
        when = day.start + pd.Timedelta(seconds=seconds)
        alive = (open_tick * 10 < seconds) & (end_tick * 10 > seconds)
        assert sorted(day.open_at(when).index) == list(np.flatnonzero(alive))
        long, short = true_map(day, when, edges)
        side, weight = p["side"].to_numpy(), p["size"].to_numpy() * levels
        want_long, _ = np.histogram(levels[alive & (side > 0)], bins=edges, weights=weight[alive & (side > 0)])
        want_short, _ = np.histogram(levels[alive & (side < 0)], bins=edges, weights=weight[alive & (side < 0)])
        np.testing.assert_allclose(long, want_long, rtol=1e-12)
        np.testing.assert_allclose(short, want_short, rtol=1e-12)
        # the grid covers every level, so the map holds every open position's notional at its level
        assert long.sum() + short.sum() == pytest.approx(weight[alive].sum(), rel=1e-12)
        assert long.sum() > 0
        assert short.sum() > 0
        # longs sit below the price, shorts above
        close = day.bundle.candles["close"].iloc[hour * 60 + 1]
        centres = np.sqrt(edges[:-1] * edges[1:])
        assert (centres[long > 0] < close * 1.001).all()
        assert (centres[short > 0] > close * 0.999).all()


def test_open_positions_are_the_published_open_interest(day: SimResult) -> None:
    oi = day.bundle.open_interest
    close = day.bundle.candles.set_index("ts")["close"]
    for ts, value in zip(oi["ts"], oi["oi_usd"], strict=True):
        alive = day.open_at(ts - pd.Timedelta(seconds=5))  # after the hour's last tick
        size = alive["size"].sum()
        assert value == pytest.approx(size / 2 * close[ts - pd.Timedelta(minutes=1)], rel=1e-9)


def test_open_at_an_exact_tick_time(day: SimResult) -> None:
    p = day.positions
    open_tick = np.rint(p["open_h"].to_numpy() * 360).astype(np.int64)
    end_tick = np.where(p["end_h"] >= 0, np.rint(p["end_h"].to_numpy() * 360).astype(np.int64), -1)
    for tick in sorted({*open_tick[:40], *end_tick[end_tick > 0][:40], 5382}):
        alive = set(day.open_at(day.start + pd.Timedelta(seconds=int(tick) * 10)).index)
        opened_now = set(np.flatnonzero(open_tick == tick))
        ended_now = set(np.flatnonzero(end_tick == tick))
        assert opened_now <= alive, f"tick {tick}: opened at 'when' but not open"
        assert not (ended_now & alive), f"tick {tick}: ended at 'when' but still open"


# ------------------------------------------------------------------------------------------- clusters


def test_clusters_find_the_peaks_largest_first() -> None:
    long_map = bump(-12, 5e6) + bump(-5, 3e6) + bump(-20, 4e6) + bump(6, 9e6)  # the last one lies above the price
    found = find_clusters(long_map, EDGES, PRICE, "long")
    assert [round(c.distance_pct) for c in found] == [-12, -20, -5]
    assert [c.notional_usd for c in found] == sorted((c.notional_usd for c in found), reverse=True)
    below = long_map[CENTERS < PRICE].sum()
    for c, (at, total) in zip(found, ((-12, 5e6), (-20, 4e6), (-5, 3e6)), strict=True):
        assert c.side == "long"
        assert c.peak_price == pytest.approx(PRICE * (1 + at / 100), rel=1.5 * W)
        assert c.distance_pct == pytest.approx((c.peak_price / PRICE - 1) * 100, rel=1e-12)
        assert c.price_low < c.peak_price < c.price_high < PRICE
        inside = (c.price_low < CENTERS) & (c.price_high > CENTERS)
        assert c.notional_usd == pytest.approx(long_map[inside].sum(), rel=1e-9)
        assert 0.5 * total < c.notional_usd < total  # the band above half the peak holds most of the bump
        assert c.share == pytest.approx(c.notional_usd / below, rel=1e-12)
    assert sum(c.share for c in found) <= 1.0
    assert [c.distance_pct for c in find_clusters(long_map, EDGES, PRICE, "long", top=1)] == [found[0].distance_pct]


def test_clusters_of_shorts_lie_above_the_price() -> None:
    short_map = bump(4, 4e6) + bump(9, 3e6) + bump(-7, 20e6)
    found = find_clusters(short_map, EDGES, PRICE, "short", top=2)
    assert [round(c.distance_pct) for c in found] == [4, 9]
    assert all(c.side == "short" and c.price_low > PRICE and c.distance_pct > 0 for c in found)
    assert sum(c.share for c in found) <= 1.0
    assert find_clusters(bump(-7, 1e6), EDGES, PRICE, "short") == []
    assert find_clusters(bump(7, 1e6), EDGES, PRICE, "long") == []
    assert find_clusters(np.zeros(N), EDGES, PRICE, "long") == []


def test_a_single_spike_is_one_cluster_holding_it_all() -> None:
    i = bin_of(PRICE * 0.93)
    (only,) = find_clusters(spike(i, mass=2e6), EDGES, PRICE, "long")
    assert only.notional_usd == pytest.approx(2e6)
    assert only.share == pytest.approx(1.0)
    assert abs(bin_of(only.peak_price) - i) <= 2  # the 5-bin smoothing blurs the spike over ±2 bins
    assert only.price_low <= EDGES[i]
    assert EDGES[i + 1] <= only.price_high


def test_clusters_are_local_peaks_not_shoulders() -> None:
    long_map = bump(-12, 5e6) + bump(-5, 3e6) + bump(-20, 1e6)
    found = find_clusters(long_map, EDGES, PRICE, "long")
    assert sorted(round(c.distance_pct) for c in found) == [-20, -12, -5]
    two = find_clusters(bump(4, 4e6) + bump(9, 2e6), EDGES, PRICE, "short")
    assert len(two) == 2  # two peaks, two clusters


# ----------------------------------------------------------------------------------- the demo headline


def test_the_engine_map_is_closer_to_the_truth_than_the_naive_map() -> None:
    sim = simulate(SimParams(days=10, seed=7))
    distance, clusters, last_price = demo._against_truth(sim, ModelParams(), 24)
    print(f"days=10 seed=7: {distance}")
    assert distance.snapshots == 24
    values = (distance.engine_long, distance.engine_short, distance.naive_long, distance.naive_short)
    assert all(math.isfinite(v) and v > 0 for v in values)
    assert distance.engine_beats_naive, distance
    assert last_price == sim.bundle.candles["close"].iloc[-1]
    assert all((c.side == "long") == (c.peak_price < last_price) for c in clusters)


def test_the_demo_reuses_its_market_and_reports_the_same(tmp_path: Path) -> None:
    params = SimParams(days=2, seed=3)
    first = demo.run(tmp_path / "demo", params, snapshots=12)
    again = demo.run(tmp_path / "demo", params, snapshots=12)
    assert not first.reused
    assert again.reused
    assert_frame_equal(first.sim.positions, again.sim.positions)
    assert_frame_equal(first.sim.cascades, again.sim.cascades)
    assert again.distance == first.distance
    assert again.clusters == first.clusters
    assert again.distance == demo._against_truth(simulate(params), ModelParams(), 12)[0]
    assert again.score.sides == first.score.sides
    assert first.distance.snapshots == 12
    assert first.heatmap_png.is_file()
