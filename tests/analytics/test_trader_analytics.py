"""Trader analytics on constructed inputs whose answers are known by construction (issue #7).

Maps are built by hand on a log-price grid of 0.1 % bins. A "block" is a flat run of bins holding the same
notional, optionally with a small triangle on top so its peak bin is unique: the 5-bin smoothing of
``find_clusters`` then gives a band of exactly the block's bins (its edge bins smooth to 0.6 of the plateau,
above the half-peak of 0.59; the bins outside to 0.4, below it), so every cluster field is known in advance.
Cascades use a depth curve with one point (d1 at 1 %), on which the square-root law x = √(Q / d1) % holds
at every distance, so the stopping price is computed from that formula.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqheat.analytics.cascade import (
    DepthCurve,
    DepthModel,
    calibrated,
    cascade,
    cascade_risk,
    market_book,
    parse_shock,
    simulate_cascade,
    usd_per_hour,
)
from liqheat.analytics.clusters import Cluster, clusters_of, concentration, find_clusters, round_step
from liqheat.analytics.levels import Level, confluence, levels, pivot_levels, volume_nodes
from liqheat.analytics.maps import MarketMap, atr_pct
from liqheat.analytics.planner import STOP_BUFFER_PCT, parse_risk, plan, sentiment
from liqheat.model import DomainError
from liqheat.venues.calc import calculate, position_from_inputs

W = 0.001  # log width of a bin
T = pd.Timestamp("2026-01-05T12:00:00Z")
HOUR = pd.Timedelta(hours=1)
BINANCE_TIER1_MMR = 0.004  # Binance BTCUSDT tier 1 (notional ≤ 300,000): maintenance rate 0.4 %, no deduction


def log_grid(price: float, lo: float = 0.8, hi: float = 1.25) -> np.ndarray:
    k = np.arange(math.floor(math.log(price * lo) / W), math.ceil(math.log(price * hi) / W) + 1)
    return np.exp(k * W)


def centers_of(edges: np.ndarray) -> np.ndarray:
    return np.sqrt(edges[:-1] * edges[1:])


def bin_of(edges: np.ndarray, price: float) -> int:
    return int(np.searchsorted(edges, price, side="right") - 1)


def block(n: int, lo: int, width: int, per_bin: float, *, peaked: bool = True) -> tuple[np.ndarray, int, float]:
    """A plateau of ``per_bin`` over bins lo … lo + width − 1, with a triangle (1, 2, 3, 2, 1) × per_bin / 10
    on its middle bin when ``peaked``. Returns the values, the middle bin and the block's total."""
    v = np.zeros(n)
    v[lo : lo + width] = per_bin
    mid = lo + width // 2
    if peaked:
        assert width >= 11  # the triangle stays 5 bins clear of the edges: the band is exactly the block
        v[mid - 2 : mid + 3] += per_bin / 10 * np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    return v, mid, per_bin * width + (0.9 * per_bin if peaked else 0.0)


def make_map(
    edges: np.ndarray,
    long: np.ndarray,
    short: np.ndarray,
    price: float,
    *,
    atr: float = 1.0,
    past_long: list[np.ndarray] | None = None,
    past_short: list[np.ndarray] | None = None,
    symbol: str = "BTC",
) -> MarketMap:
    """A map at ``T`` with hourly past frames (newest first)."""
    n = len(edges) - 1
    past_long = past_long or []
    past_short = past_short or [np.zeros(n)] * len(past_long)
    assert len(past_long) == len(past_short)
    return MarketMap(
        symbol=symbol,
        index=len(past_long),
        ts=T,
        price=price,
        edges=edges,
        long=long,
        short=short,
        atr_pct=atr,
        timeframe=HOUR,
        past_ts=tuple(T - (i + 1) * HOUR for i in range(len(past_long))),
        past_long=np.array(past_long).reshape(len(past_long), n),
        past_short=np.array(past_short).reshape(len(past_short), n),
    )


# ------------------------------------------------------------------------------------------- clusters

PRICE = 60_000.0
EDGES = log_grid(PRICE)
CENTERS = centers_of(EDGES)
N = len(CENTERS)


def test_find_clusters_gives_each_block_its_exact_band_peak_notional_share_and_distance() -> None:
    a_lo, b_lo = bin_of(EDGES, PRICE * 0.97), bin_of(EDGES, PRICE * 0.94)
    a, a_mid, a_total = block(N, a_lo, 11, 2e6)
    b, b_mid, b_total = block(N, b_lo, 15, 1e6)
    above, _, _ = block(N, bin_of(EDGES, PRICE * 1.05), 11, 50e6)  # longs above the price cannot liquidate on a fall
    found = find_clusters(a + b + above, EDGES, PRICE, "long", atr_pct=1.25)
    assert len(found) == 2
    big, small = found
    assert (big.notional_usd, small.notional_usd) == (pytest.approx(a_total), pytest.approx(b_total))
    assert a_total == pytest.approx(11 * 2e6 + 1.8e6)
    assert b_total == pytest.approx(15 * 1e6 + 0.9e6)
    for c, lo, width, mid, total in ((big, a_lo, 11, a_mid, a_total), (small, b_lo, 15, b_mid, b_total)):
        assert c.side == "long"
        assert c.price_low == EDGES[lo]
        assert c.price_high == EDGES[lo + width]
        assert c.peak_price == pytest.approx(CENTERS[mid], rel=1e-12)
        assert c.share == pytest.approx(total / (a_total + b_total))  # no total given: of this side
        assert c.side_share == pytest.approx(total / (a_total + b_total))
        assert c.distance_pct == pytest.approx((CENTERS[mid] / PRICE - 1) * 100)
        assert c.distance_atr == pytest.approx((CENTERS[mid] / PRICE - 1) * 100 / 1.25)
        assert c.age_hours is None
        assert c.age_at_least is None
    assert big.distance_pct == pytest.approx(-2.5, abs=0.1)
    assert small.distance_pct == pytest.approx(-5.3, abs=0.1)
    assert find_clusters(a + b, EDGES, PRICE, "long", top=1) == [find_clusters(a + b, EDGES, PRICE, "long")[0]]
    assert find_clusters(a + b, EDGES, PRICE, "long")[0].distance_atr is None  # no ATR given
    assert find_clusters(a + b, EDGES, PRICE, "long", total_usd=4 * a_total)[0].share == pytest.approx(0.25)
    assert find_clusters(a + b, EDGES, PRICE, "short") == []  # nothing above the price


def test_a_wide_plateau_is_cut_into_bands_no_wider_than_the_cap() -> None:
    """A 12 % plateau (the 7,800-wide band a trader could not act on) becomes bands of at most 2.5 %, side by side,
    holding all of it; a narrower cap cuts finer; a band under the cap is left whole."""
    lo = bin_of(EDGES, PRICE * 0.80)
    hi = bin_of(EDGES, PRICE * 0.92)
    v = np.zeros(N)
    v[lo:hi] = 1e6 * (1 + 0.1 * np.sin(np.arange(hi - lo) / 7.0))  # ripples: peaks of their own along the plateau
    for cap in (2.5, 1.0):
        bands = sorted(find_clusters(v, EDGES, PRICE, "long", top=None, max_width_pct=cap), key=lambda c: c.price_low)
        assert len(bands) >= math.floor(12 / cap)
        for c in bands:
            assert c.price_high / c.price_low - 1 <= cap / 100 + 1e-12
            assert c.price_low <= c.peak_price <= c.price_high
        for a, b in itertools.pairwise(bands):
            assert a.price_high <= b.price_low  # no bin in two bands
        covered = sum(c.notional_usd for c in bands)
        assert covered >= 0.9 * v.sum()  # the plateau's ends fall under half a ripple's peak
    narrow, _, total = block(N, bin_of(EDGES, PRICE * 0.97), 11, 2e6)
    (whole,) = find_clusters(narrow, EDGES, PRICE, "long", top=1)
    assert whole.notional_usd == pytest.approx(total)
    with pytest.raises(DomainError, match="max_width_pct must be > 0"):
        find_clusters(v, EDGES, PRICE, "long", max_width_pct=0)


def test_clusters_of_reads_both_sides_with_distance_in_atr_and_age_from_the_past_frames() -> None:
    a_lo, b_lo, c_lo = bin_of(EDGES, PRICE * 0.97), bin_of(EDGES, PRICE * 0.94), bin_of(EDGES, PRICE * 1.04)
    a, a_mid, a_total = block(N, a_lo, 11, 2e6)
    b, b_mid, b_total = block(N, b_lo, 13, 1e6)
    c, c_mid, c_total = block(N, c_lo, 11, 3e6)
    zero = np.zeros(N)
    # ten hourly frames back: A appeared 6 h ago, B was there in every frame kept, C dipped to 40 % 4 h ago
    past_long = [(a if i < 6 else zero) + b for i in range(10)]
    past_short = [c * (0.4 if i == 3 else 1.0) for i in range(10)]
    m = make_map(EDGES, a + b, c, PRICE, atr=0.8, past_long=past_long, past_short=past_short)
    found = clusters_of(m)
    by_peak = {round(x.peak_price, 6): x for x in found}
    assert len(found) == 3
    ca, cb, cc = (by_peak[round(float(CENTERS[i]), 6)] for i in (a_mid, b_mid, c_mid))
    assert [x.side for x in (ca, cb, cc)] == ["long", "long", "short"]
    assert (ca.price_low, ca.price_high) == (EDGES[a_lo], EDGES[a_lo + 11])
    assert (cc.price_low, cc.price_high) == (EDGES[c_lo], EDGES[c_lo + 11])
    everything = a_total + b_total + c_total
    assert ca.share == pytest.approx(a_total / everything)  # of all notional at risk, both sides
    assert cc.share == pytest.approx(c_total / everything)
    assert ca.side_share == pytest.approx(a_total / (a_total + b_total))  # of its own side
    assert cc.side_share == pytest.approx(1.0)
    assert sum(x.share for x in found) == pytest.approx(1.0)
    assert cc.notional_usd == pytest.approx(c_total)
    for x, mid in ((ca, a_mid), (cb, b_mid), (cc, c_mid)):
        assert x.distance_atr == pytest.approx((CENTERS[mid] / PRICE - 1) * 100 / 0.8)
    assert (ca.age_hours, ca.age_at_least) == (6.0, False)
    assert (cb.age_hours, cb.age_at_least) == (10.0, True)  # as old as the oldest frame kept: a lower bound
    assert (cc.age_hours, cc.age_at_least) == (3.0, False)  # the 40 % dip 4 h ago breaks the run
    assert [x.peak_price for x in clusters_of(m, top=1)] == [ca.peak_price, cc.peak_price]


def test_round_step_on_several_magnitudes() -> None:
    cases = {60_000.0: 5_000.0, 100_000.0: 50_000.0, 99_999.0: 5_000.0, 3_000.0: 500.0, 1_000.0: 500.0, 150.0: 50.0,
             7.5: 0.5, 1.0: 0.5, 0.35: 0.05, 0.0042: 0.0005}  # fmt: skip
    for price, step in cases.items():
        assert round_step(price) == pytest.approx(step, rel=1e-12), price


def test_concentration_top_share_distance_profile_and_round_number_affinity() -> None:
    assert round_step(PRICE) == 5_000.0
    # blocks of bins within ±0.25 % of a price: all of a block near a round price (55,000, 65,000) lies within
    # 0.5 % of it; the others lie ≥ 2 % from any multiple of 5,000
    placed = {  # centre price: (side, total notional)
        55_000.0: ("long", 4e6),
        57_500.0: ("long", 2e6),
        51_000.0: ("long", 1e6),
        65_000.0: ("short", 3e6),
        62_500.0: ("short", 1.5e6),
        73_200.0: ("short", 0.5e6),
    }
    long, short = np.zeros(N), np.zeros(N)
    bins = {}
    for at, (side, total) in placed.items():
        inside = np.abs(CENTERS / at - 1) <= 0.0025
        bins[at] = int(inside.sum())
        (long if side == "long" else short)[inside] += total / bins[at]
    long[np.abs(CENTERS / 62_000 - 1) <= 0.0025] += 9e6  # longs above the price, shorts below: not at risk
    short[np.abs(CENTERS / 59_000 - 1) <= 0.0025] += 9e6
    m = make_map(EDGES, long, short, PRICE)
    stats = concentration(m)
    total = 12e6
    assert stats["clusters"] == 6
    assert stats["top5pct_clusters"] == 1
    assert stats["top5pct_share"] == pytest.approx(4e6 / total)
    profile = {side: {row["from_pct"]: row["share"] for row in rows} for side, rows in stats["distance_profile"].items()}
    # longs: 55,000 is −8.3 %, 57,500 −4.2 %, 51,000 −15 %; shorts: 65,000 +8.3 %, 62,500 +4.2 %, 73,200 +22 %
    assert profile["long"] == pytest.approx({0.0: 0, 1.0: 0, 2.0: 2 / 7, 5.0: 4 / 7, 10.0: 1 / 7, 20.0: 0})
    assert profile["short"] == pytest.approx({0.0: 0, 1.0: 0, 2.0: 1.5 / 5, 5.0: 3 / 5, 10.0: 0, 20.0: 0.5 / 5})
    assert [row["to_pct"] for row in stats["distance_profile"]["long"]] == [1.0, 2.0, 5.0, 10.0, 20.0, None]
    rounds = stats["round_affinity"]
    assert rounds["round_step"] == 5_000.0
    assert rounds["within_pct"] == 0.5
    assert rounds["observed_share"] == pytest.approx((4e6 + 3e6) / total)
    # chance: the share of the occupied price axis (equal log widths here) that lies near a round price
    chance = (bins[55_000.0] + bins[65_000.0]) / sum(bins.values())
    assert rounds["chance_share"] == pytest.approx(chance, rel=1e-6)
    assert rounds["ratio"] == pytest.approx((7 / 12) / chance, rel=1e-6)
    assert rounds["ratio"] > 1  # this map is drawn to round numbers


def test_concentration_top_five_percent_of_many_clusters_and_an_empty_map() -> None:
    long = np.zeros(N)
    long[bin_of(EDGES, PRICE * 0.95)] = 820.0  # the map's whole at-risk notional
    fake = [Cluster("long", 1.0, 2.0, 1.5, float(k), 0.0, -1.0) for k in range(1, 42)]  # 41: the top ceil(2.05) = 3
    stats = concentration(make_map(EDGES, long, np.zeros(N), PRICE), clusters=fake)
    assert stats["top5pct_clusters"] == 3
    assert stats["top5pct_share"] == pytest.approx((41 + 40 + 39) / 820)
    empty = concentration(make_map(EDGES, np.zeros(N), np.zeros(N), PRICE))
    assert (empty["clusters"], empty["top5pct_share"], empty["round_affinity"]["ratio"]) == (0, 0.0, None)


def test_atr_pct_is_the_mean_true_range_over_close() -> None:
    candles = pd.DataFrame({"open": [100.0, 101.0, 105.0], "high": [102.0, 101.5, 106.0], "low": [99.0, 100.5, 104.0],
                            "close": [101.0, 101.0, 105.0]})  # fmt: skip
    # true ranges: 3 (first candle: against its open), 1, and 5 across the gap from 101 to 104–106
    hour = pd.Timedelta(hours=1)
    assert atr_pct(candles, 2, hour) == pytest.approx((3 / 101 + 1 / 101 + 5 / 105) / 3 * 100)
    assert atr_pct(candles, 2, hour, hours=1) == pytest.approx(5 / 105 * 100)
    # 4-hour candles are bars of their own, their ranges scaled to an hour by √(1/4)
    assert atr_pct(candles, 2, 4 * hour) == pytest.approx((3 / 101 + 1 / 101 + 5 / 105) / 3 * 100 / 2)


# ------------------------------------------------------------------------------------------- levels


CANDLES_FROM = T - pd.Timedelta(days=10)


def flat_candles(n: int, ts0: pd.Timestamp = CANDLES_FROM) -> pd.DataFrame:
    """Identical candles around 100: their highs and lows tie, so none of them is a pivot."""
    return pd.DataFrame({"ts": pd.date_range(ts0, periods=n, freq="1h"), "open": 100.0, "high": 100.5, "low": 99.5,
                         "close": 100.0, "volume": 1.0})  # fmt: skip


def test_pivot_levels_find_swings_at_the_scales_that_see_them() -> None:
    c = flat_candles(100)
    c.loc[30, "high"] = 110.0  # highest within 20 candles either side: scales 5 and 20
    c.loc[50, "high"] = 105.0  # highest within 5, but 110 lies 20 candles back: scale 5 only
    c.loc[70, "low"] = 90.0  # lowest within 20: scales 5 and 20 (scale 60 needs 121 candles)
    found = pivot_levels(c, 100.0)
    top = math.log2(5) + math.log2(20)
    expect = [
        (90.0, "support", 1.0, (5, 20)),
        (105.0, "resistance", math.log2(5) / top, (5,)),
        (110.0, "resistance", 1.0, (5, 20)),
    ]
    assert [(lv.price, lv.kind, lv.source, lv.touches, lv.scales) for lv in found] == [
        (p, k, "pivot", 0, sc) for p, k, _, sc in expect
    ]
    assert [lv.strength for lv in found] == pytest.approx([s for _, _, s, _ in expect])
    assert pivot_levels(flat_candles(100), 100.0) == []


def test_pivot_levels_at_the_largest_scale() -> None:
    c = flat_candles(200)
    c.loc[100, "high"] = 120.0  # 60 candles either side: scales 5, 20, 60
    c.loc[150, "low"] = 85.0  # too close to the end for scale 60
    found = pivot_levels(c, 100.0)
    assert [(lv.price, lv.scales) for lv in found] == [(85.0, (5, 20)), (120.0, (5, 20, 60))]
    assert [lv.strength for lv in found] == pytest.approx([math.log2(100) / math.log2(6000), 1.0])


def test_pivot_levels_merge_nearby_pivots_and_count_touches() -> None:
    c = flat_candles(100)
    c.loc[20, "high"] = 110.0  # scales 5, 20; never touched again
    c.loc[40, "low"] = 90.0  # scales 5 and 20
    c.loc[60, "low"] = 90.2  # scale 5 (90 is 20 candles back), within 0.3 % of 90: the same level
    c.loc[[80, 81], "low"] = 90.1  # tied: no pivot, two touches from above that close back above
    c.loc[90, ["low", "close"]] = [89.0, 89.5]  # reaches it from above but closes below: not a touch
    c.loc[91, "low"] = 89.0  # comes from below and closes above: not a touch either
    found = pivot_levels(c, 100.0)
    assert [lv.price for lv in found] == pytest.approx([(90.0 + 90.0 + 90.2) / 3, 110.0])  # mean of the pivots found
    support, resistance = found
    assert (support.kind, support.scales, support.touches) == ("support", (5, 20), 3)  # candles 60, 80 and 81
    assert (resistance.kind, resistance.scales, resistance.touches) == ("resistance", (5, 20), 0)
    raw_support = math.log2(5) + math.log2(20) + math.log1p(3)
    assert support.strength == pytest.approx(1.0)
    assert resistance.strength == pytest.approx((math.log2(5) + math.log2(20)) / raw_support)


def test_volume_nodes_sit_where_the_volume_is() -> None:
    c = flat_candles(126)
    c[["low", "high"]] = [95.0, 105.0]  # 100 candles of volume 1 spread over all 200 bins: 0.5 a bin
    c.loc[100:109, ["low", "high", "volume"]] = [97.0, 97.0, 10.0]  # 100 traded at 97
    c.loc[110:119, ["low", "high", "volume"]] = [103.0, 103.0, 5.0]  # 50 at 103
    c.loc[120:122, ["low", "high", "volume"]] = [101.0, 101.0, 4.0]  # 12 at 101: just above mean + 1 sd
    c.loc[123:125, ["low", "high", "volume"]] = [99.0, 99.0, 2.0]  # 6 at 99: below it
    hist = np.array([0.5] * 196 + [100.5, 50.5, 12.5, 6.5])  # the histogram's values, in some order
    threshold = hist.mean() + hist.std()  # ≈ 9.26
    assert 6.5 < threshold < 12.5 < 2 * threshold
    found = volume_nodes(c, 100.0)
    width = math.log(105 / 95) / 200  # the histogram's log bin width
    assert len(found) == 3
    low, mid, high = sorted(found, key=lambda lv: lv.price)
    for lv, at in ((low, 97.0), (mid, 101.0), (high, 103.0)):
        assert abs(math.log(lv.price / at)) <= width / 2 + 1e-12
        assert lv.source == "volume"
    assert [lv.kind for lv in (low, mid, high)] == ["support", "resistance", "resistance"]
    assert low.strength == 1.0
    assert high.strength == pytest.approx(50.5 / 100.5)
    assert mid.strength == pytest.approx(12.5 / 100.5)
    assert volume_nodes(c.assign(volume=0.0), 100.0) == []
    assert volume_nodes(c.drop(columns="volume"), 100.0) == []


def test_levels_combine_pivots_and_volume_nodes_over_the_lookback() -> None:
    c = flat_candles(100)
    c.loc[10, "high"] = 130.0  # outside a 50-candle lookback
    c.loc[70, "low"] = 90.0
    c.loc[[85, 86], ["open", "high", "low", "close", "volume"]] = [103.0, 103.0, 103.0, 103.0, 100.0]  # tied: no pivot
    found = levels(c, 100.0, lookback=50)
    assert [(lv.source, lv.kind) for lv in found] == [("pivot", "support"), ("volume", "resistance")]
    assert found[0].price == 90.0
    assert found[0].scales == (5, 20)
    assert found[1].price == pytest.approx(103.0, rel=1e-3)
    assert [lv.strength for lv in found] == [1.0, 1.0]
    everything = levels(c, 100.0, lookback=None)
    pivots = {lv.price: lv for lv in everything if lv.source == "pivot"}
    assert set(pivots) == {90.0, 130.0}
    assert pivots[130.0].strength == pytest.approx(math.log2(5) / math.log2(100))  # scale 5 only, against 90's 5 and 20
    assert [lv.strength for lv in everything] == sorted((lv.strength for lv in everything), reverse=True)


def test_confluence_scores_a_level_next_to_a_cluster_and_ignores_far_ones() -> None:
    near = Cluster("long", 58_000.0, 59_000.0, 58_500.0, 4e6, 0.4, -2.5)
    far = Cluster("long", 50_000.0, 51_000.0, 50_500.0, 5e6, 0.5, -15.8)
    narrow = Cluster("long", 54_450.0, 54_550.0, 54_500.0, 1e6, 0.1, -9.2)
    short = Cluster("short", 62_000.0, 62_500.0, 62_200.0, 3e6, 0.3, 3.7)
    found = [
        Level(58_550.0, "support", "pivot", 0.8),  # inside `near`, 0.085 % from its peak: closeness 1
        Level(58_950.0, "support", "volume", 1.0),  # inside `near`, 0.77 % from its peak: closeness 0.5 / 0.77
        Level(54_700.0, "support", "pivot", 0.6),  # outside `narrow`'s band but 0.37 % from its peak
        Level(55_000.0, "support", "pivot", 1.0),  # 0.9 % from `narrow`, 6 % from `near`: nothing
        Level(58_500.0, "resistance", "pivot", 1.0),  # on `near`'s peak but a resistance: longs pair with supports
        Level(62_450.0, "resistance", "pivot", 0.5),  # inside `short`, 0.40 % from its peak
    ]
    out = confluence([near, far, narrow, short], found)
    d2 = (58_950 / 58_500 - 1) * 100
    expect = [  # (cluster, level price, score), best first
        (near, 58_550.0, 0.4 * 0.8),
        (near, 58_950.0, 0.4 * 1.0 * 0.5 / d2),
        (short, 62_450.0, 0.3 * 0.5),
        (narrow, 54_700.0, 0.1 * 0.6),
    ]
    assert [(x.cluster, x.level.price) for x in out] == [(c, p) for c, p, _ in expect]
    assert [x.score for x in out] == pytest.approx([s for _, _, s in expect])
    assert [x.distance_pct for x in out] == pytest.approx([(p / c.peak_price - 1) * 100 for c, p, _ in expect])
    assert [(x.cluster, x.score) for x in confluence([near, far, narrow, short], found, rank="size")] == [
        (x.cluster, x.score) for x in out
    ]  # without a chance to weigh by, reach is size
    chances = {near: 0.05, far: 0.0, narrow: 0.9, short: 0.5}
    reached = [replace(c, hit_prob_24h=chances[c]) for c in (near, far, narrow, short)]
    by_reach = confluence(reached, found)
    expect_reach = sorted(((c.price_low, p, s * chances[c]) for c, p, s in expect), key=lambda e: -e[2])
    assert [(x.cluster.price_low, x.level.price) for x in by_reach] == [(lo, p) for lo, p, _ in expect_reach]
    assert [x.score for x in by_reach] == pytest.approx([s for _, _, s in expect_reach])
    assert [x.score for x in confluence(reached, found, rank="size")] == pytest.approx([s for _, _, s in expect])
    with pytest.raises(DomainError, match="rank must be one of reach, size"):
        confluence(reached, found, rank="near")
    assert all(x.cluster is not far for x in out)
    assert confluence([far], found) == []


# ------------------------------------------------------------------------------------------- cascade

D1 = 100e6  # bid and ask depth within 1 % of mid


def sqrt_book(d1: float = D1) -> DepthModel:
    curve = DepthCurve((1.0,), (d1,))  # one point: d1 · x² on both sides of 1 %
    return DepthModel(curve, curve, "test book")


def sqrt_move(q: float, d1: float = D1) -> float:
    return math.sqrt(q / d1)  # % moved by eating q USD of a d1 · x² book


L1, L2 = 36e6, 64e6  # longs at −2 % (fires first, smaller) and −4 %


def two_long_levels() -> tuple[np.ndarray, np.ndarray, list[Cluster]]:
    long = np.zeros(N)
    long[bin_of(EDGES, PRICE * 0.98)] = L1
    long[bin_of(EDGES, PRICE * 0.96)] = L2
    long[bin_of(EDGES, PRICE * 1.02)] = 500e6  # above the price: no fall liquidates it
    return long, np.zeros(N), find_clusters(long, EDGES, PRICE, "long")  # largest first: the −4 % one is index 0


def test_depth_curve_follows_the_square_root_law_and_inverts() -> None:
    book = sqrt_book().bid
    for x in (0.3, 1.0, 1.5, 2.0, 4.0):
        assert book.depth(x) == pytest.approx(D1 * x**2)
        assert book.move(D1 * x**2) == pytest.approx(x)
    shipped = DepthModel.square_root(D1)  # the synthetic market's law, Δ = 1 % · √(Q / d1), at every distance
    for q in (0.25 * D1, D1, 2.25 * D1, 4 * D1, 9 * D1):
        assert shipped.bid.move(q) == pytest.approx(sqrt_move(q))
        assert shipped.ask.move(q) == pytest.approx(sqrt_move(q))
    calm = calibrated("calm").bid
    for x in (0.5, 1.0, 2.5, 4.0, 7.0):
        assert calm.move(calm.depth(x)) == pytest.approx(x, rel=1e-6)
    assert calm.depth(1.5) == pytest.approx((283_236_000 + 661_621_000) / 2, rel=1e-6)  # linear between points
    with pytest.raises(DomainError):
        DepthCurve((1.0, 2.0), (1e6,))


def test_a_shock_short_of_the_first_cluster_liquidates_nothing() -> None:
    long, short, found = two_long_levels()
    r = simulate_cascade(CENTERS, long, short, PRICE, -1.0, sqrt_book(), found)
    assert r.liquidated_usd == 0.0
    assert r.price_after == pytest.approx(PRICE * 0.99)
    assert r.move_pct == pytest.approx(-1.0)
    assert r.stop_reason == "the shock reached no level"
    assert r.clusters == []
    assert len(r.rounds) == 1
    assert r.rounds[0].fired_usd == 0.0


def test_a_larger_shock_fires_the_clusters_in_order_and_stops_where_the_impact_law_says() -> None:
    long, short, found = two_long_levels()
    assert [c.notional_usd for c in found] == [L2, L1]
    shocked = PRICE * (1 - 0.035)
    after_first = shocked * (1 - sqrt_move(L1) / 100)  # 0.6 %: below −4 %, so the second level fires too
    assert after_first < CENTERS[bin_of(EDGES, PRICE * 0.96)]
    end = shocked * (1 - sqrt_move(L1 + L2) / 100)  # a static book: the whole flow walks it once, 1 %
    r = simulate_cascade(CENTERS, long, short, PRICE, -3.5, sqrt_book(), found)
    assert r.liquidated_usd == pytest.approx(L1 + L2)
    assert [x.fired_usd for x in r.rounds] == pytest.approx([L1, L2, 0.0])
    assert [x.price for x in r.rounds] == pytest.approx([shocked, after_first, end])
    assert [x.clusters for x in r.rounds] == [(1,), (0,), ()]  # the −2 % cluster (index 1) first
    assert [c.notional_usd for c in r.clusters] == [L1, L2]  # nearest first
    assert r.price_after == pytest.approx(end)
    assert r.move_pct == pytest.approx((end / PRICE - 1) * 100)
    assert r.stop_reason == "no new level reached"
    assert r.to_dict()["amplification"] == pytest.approx(r.move_pct / -3.5)
    refilled = simulate_cascade(CENTERS, long, short, PRICE, -3.5, sqrt_book(), found, refill=1.0)
    assert refilled.price_after == pytest.approx(shocked * (1 - (sqrt_move(L1) + sqrt_move(L2)) / 100))  # 0.6 + 0.8 %


def test_a_thinner_book_carries_the_cascade_further() -> None:
    long, short, found = two_long_levels()
    shocked = PRICE * (1 - 0.025)
    full = simulate_cascade(CENTERS, long, short, PRICE, -2.5, sqrt_book(), found)
    assert full.liquidated_usd == pytest.approx(L1)  # 0.6 % beyond −2.5 % stops short of −4 %
    assert full.price_after == pytest.approx(shocked * (1 - sqrt_move(L1) / 100))
    half = simulate_cascade(CENTERS, long, short, PRICE, -2.5, sqrt_book().scaled(0.5), found)
    assert half.liquidated_usd == pytest.approx(L1)
    assert half.price_after == pytest.approx(shocked * (1 - sqrt_move(L1, D1 / 2) / 100))
    thin = simulate_cascade(CENTERS, long, short, PRICE, -2.5, sqrt_book().scaled(0.1), found)
    assert thin.liquidated_usd == pytest.approx(L1 + L2)  # 1.9 % beyond −2.5 % reaches −4 %
    assert thin.price_after == pytest.approx(shocked * (1 - sqrt_move(L1 + L2, D1 / 10) / 100))
    assert thin.price_after < half.price_after < full.price_after
    assert sqrt_book().scaled(0.5).source == "test book × 0.5"
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(DomainError, match=r"^depth_scale must"):
            sqrt_book().scaled(bad)


def test_a_rise_liquidates_the_shorts_into_the_ask() -> None:
    short = np.zeros(N)
    short[bin_of(EDGES, PRICE * 1.02)] = 25e6
    short[bin_of(EDGES, PRICE * 0.98)] = 900e6  # below the price: not on a rise's way
    bid_only_thin = DepthModel(DepthCurve((1.0,), (1.0,)), DepthCurve((1.0,), (D1,)), "thin bid, deep ask")
    r = simulate_cascade(CENTERS, np.zeros(N), short, PRICE, 3.0, bid_only_thin)
    assert r.liquidated_usd == pytest.approx(25e6)
    assert r.price_after == pytest.approx(PRICE * 1.03 * (1 + sqrt_move(25e6) / 100))
    for bad in (0.0, -95.0, math.nan):
        with pytest.raises(DomainError, match=r"^shock must"):
            simulate_cascade(CENTERS, np.zeros(N), short, PRICE, bad, bid_only_thin)
    with pytest.raises(DomainError, match=r"^refill must"):
        simulate_cascade(CENTERS, np.zeros(N), short, PRICE, 3.0, bid_only_thin, refill=1.5)


def test_cascade_risk_is_notional_within_one_percent_over_depth_within_one_percent() -> None:
    long, short = np.zeros(N), np.zeros(N)
    long[bin_of(EDGES, PRICE * 0.995)] = 5e6  # within 1 % below
    long[bin_of(EDGES, PRICE * 0.993)] = 2e6
    long[bin_of(EDGES, PRICE * 0.98)] = 40e6  # 2 % below: not within 1 %
    long[bin_of(EDGES, PRICE * 1.005)] = 70e6  # longs above the price are not at risk
    short[bin_of(EDGES, PRICE * 1.006)] = 3e6
    short[bin_of(EDGES, PRICE * 1.03)] = 90e6
    book = DepthModel(DepthCurve((1.0, 2.0), (50e6, 80e6)), DepthCurve((1.0, 2.0), (20e6, 30e6)), "test")
    risk = cascade_risk(make_map(EDGES, long, short, PRICE), book)
    assert risk["long_within_1pct_usd"] == pytest.approx(7e6)
    assert risk["short_within_1pct_usd"] == pytest.approx(3e6)
    assert risk["bid_depth_1pct_usd"] == pytest.approx(50e6)
    assert risk["ask_depth_1pct_usd"] == pytest.approx(20e6)
    assert risk["down"] == pytest.approx(7e6 / 50e6)
    assert risk["up"] == pytest.approx(3e6 / 20e6)
    assert cascade(make_map(EDGES, long, short, PRICE), -0.1, book).risk == risk


def test_the_calibrated_books_load_and_the_crash_book_is_thinner() -> None:
    calm, crash = calibrated("calm"), calibrated("crash")
    assert "bookDepth" in calm.source
    assert calm.source.endswith("calm")
    assert crash.source.endswith("crash")
    assert calm.bid.depth(1.0) == pytest.approx(283_236_000, rel=1e-6)
    assert crash.bid.depth(1.0) == pytest.approx(2_143_000, rel=1e-6)
    for x in (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0):
        assert crash.bid.depth(x) < calm.bid.depth(x)
        assert crash.ask.depth(x) < calm.ask.depth(x)
    with pytest.raises(DomainError, match=r"^book must"):
        calibrated("normal")
    # the same map and shock fall further into the crash book
    long, short, found = two_long_levels()
    assert (
        simulate_cascade(CENTERS, long, short, PRICE, -2.5, crash, found).price_after
        < simulate_cascade(CENTERS, long, short, PRICE, -2.5, calm, found).price_after
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("-3%", -3.0), ("-3", -3.0), ("+2.5%", 2.5), ("2.5", 2.5), (" -3 % ", -3.0), ("\u22123%", -3.0), ("1e1%", 10.0),
     (-4.0, -4.0)],
)  # fmt: skip
def test_a_shock_reads_the_same_with_or_without_its_sign_and_percent(text: str | float, value: float) -> None:
    assert parse_shock(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [("abc", "shock must be a percentage such as -3% or +2.5, got 'abc'"), ("%", "shock must be a percentage"),
     ("3%%", "shock must be a percentage"), ("", "shock must be a percentage"),
     ("0", "shock must be a non-zero % in (-90, 900), got 0.0"), ("-90%", "got -90.0"), ("900", "got 900.0"),
     ("nan", "shock must be a non-zero %"), ("-inf", "shock must be a non-zero %")],
)  # fmt: skip
def test_a_bad_shock_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_shock(text)
    assert str(refused.value).startswith("shock must")
    assert message in str(refused.value)
    assert refused.value.param == "shock"


def hourly(volume: list[float], close: list[float], start: str = "2026-01-01") -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(close), freq="1h", tz="UTC")
    return pd.DataFrame({"ts": ts, "open": close, "high": close, "low": close, "close": close, "volume": volume})


def test_usd_per_hour_is_volume_times_close_over_the_week_up_to_the_map() -> None:
    hour = pd.Timedelta(hours=1)
    n = 7 * 24 + 2  # two candles before the week that ends with the last one
    volume = [1000.0, 1000.0, *[2.0] * (n - 2)]
    close = [50.0, 50.0, *[100.0] * (n - 2)]
    candles = hourly(volume, close)
    assert usd_per_hour(candles, n - 1, hour) == pytest.approx(200.0)  # the first two are outside the week
    assert usd_per_hour(candles, n - 2, hour) == pytest.approx((50_000 + 2 * 100 * (7 * 24 - 1)) / (7 * 24))
    assert usd_per_hour(candles, 0, hour) == pytest.approx(50_000.0)  # a market shorter than a week: what it has
    minutes = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=120, freq="1min", tz="UTC"),
                            "close": 10.0, "volume": 3.0})  # fmt: skip
    assert usd_per_hour(minutes, 119, pd.Timedelta(minutes=1)) == pytest.approx(30.0 * 60)  # $30 a minute
    assert usd_per_hour(candles.drop(columns="volume"), n - 1, hour) is None
    assert usd_per_hour(candles.assign(volume=0.0), n - 1, hour) is None


def test_a_market_book_is_the_reference_book_scaled_by_traded_volume() -> None:
    hour = pd.Timedelta(hours=1)
    reference = 1_041_028_000.0  # Binance BTCUSDT's USD per hour, 2025-10-10 00:00–20:00 (depth_model.json)
    candles = hourly([1_000.0] * 30, [2_000.0] * 30)  # $2M an hour: 2e6 / 1.041028e9 of the reference
    book = market_book("calm", candles, 29, hour, symbol="ETH")
    factor = 2e6 / reference
    assert book.bid.depth(1.0) == pytest.approx(283_236_000 * factor)
    assert book.ask.depth(3.0) == pytest.approx(474_678_000 * factor, rel=1e-5)  # _points adds 1e-6 · d1 a point
    assert book.basis == {
        "reference": "BTC/USDT:USDT on binance, calm book of 2025-10-10", "rule": "volume",
        "market_usd_per_hour": pytest.approx(2e6), "reference_usd_per_hour": reference, "window_days": 7,
        "market_scale": pytest.approx(factor), "depth_scale": 1.0, "scale": pytest.approx(factor),
    }  # fmt: skip
    assert "ETH's traded volume" in book.source
    halved = book.scaled(0.5)
    assert halved.bid.depth(1.0) == pytest.approx(283_236_000 * factor * 0.5)
    assert (halved.basis["depth_scale"], halved.basis["scale"]) == (0.5, pytest.approx(factor * 0.5))
    assert halved.source.endswith("× 0.5")
    crash = market_book("crash", candles, 29, hour)
    assert crash.bid.depth(1.0) == pytest.approx(2_143_000 * factor)
    # the reference book on request, and when the candles carry no volume (which the answer says)
    for asked, frame, rule in (("reference", candles, "reference"), ("market", candles.drop(columns="volume"),
                                                                     "no volume: reference")):  # fmt: skip
        same = market_book("calm", frame, 29, hour, depth=asked, symbol="ETH")
        assert same.bid.depth(1.0) == pytest.approx(283_236_000)
        assert (same.basis["rule"], same.basis["scale"], same.basis["market_scale"]) == (rule, 1.0, 1.0)
    with pytest.raises(DomainError, match=r"^depth must be market or reference, got 'deep'"):
        market_book("calm", candles, 29, hour, depth="deep")
    # what a cascade answers says which book it walked
    long, short, found = two_long_levels()
    r = simulate_cascade(CENTERS, long, short, PRICE, -2.5, halved, found)
    assert r.to_dict()["depth"] == halved.basis
    assert r.depth_source == halved.source


# ------------------------------------------------------------------------------------------- planner

ENTRY = 64_000.0
P_EDGES = log_grid(ENTRY)
P_CENTERS = centers_of(P_EDGES)
PN = len(P_CENTERS)
SYMBOL = "BTC/USDT:USDT"


def own_liq(side: str, size: float, leverage: float, margin: float | None = None, entry: float = ENTRY) -> float:
    """The liquidation price from the project's margin calculator (Binance, isolated)."""
    position, table = position_from_inputs("binance", SYMBOL, side, entry, leverage, size, balance=margin)
    return calculate("binance", position, table=table, strict_leverage=False).liquidation_price


def test_parse_risk() -> None:
    assert parse_risk("1%") == pytest.approx(0.01)
    assert parse_risk(" 2.5 % ") == pytest.approx(0.025)
    assert parse_risk("0.01") == pytest.approx(0.01)
    assert parse_risk(0.02) == pytest.approx(0.02)
    assert parse_risk("100%") == 1.0
    for bad in ("250", "abc", "", "%", "0", "0%", "-1%", "150%", "nan", "inf", "1.5"):
        with pytest.raises(DomainError, match=r"^risk must"):
            parse_risk(bad)  # an amount in USD such as 250 is not accepted: only a % or a fraction


def planner_map() -> tuple[MarketMap, dict[str, tuple[int, int, int, float]]]:
    """Longs at −3.5 … −2.4 % (A) and around the 10× long's own liquidation price (B), shorts at +3 … +4.1 % (C)."""
    spec = {"A": (bin_of(P_EDGES, ENTRY * 0.965), 11, 2e6), "B": (bin_of(P_EDGES, ENTRY * 0.895), 17, 1e6),
            "C": (bin_of(P_EDGES, ENTRY * 1.03), 11, 1.5e6)}  # fmt: skip
    long, short = np.zeros(PN), np.zeros(PN)
    out = {}
    for name, (lo, width, per_bin) in spec.items():
        v, mid, total = block(PN, lo, width, per_bin)
        if name == "C":
            short += v
        else:
            long += v
        out[name] = (lo, lo + width, mid, total)
    return make_map(P_EDGES, long, short, ENTRY, atr=1.5), out


def test_plan_a_long_against_the_clusters_around_it() -> None:
    m, blocks = planner_map()
    (a_lo, a_hi, _, _), (b_lo, b_hi, _, _), (_, _, c_mid, _) = blocks["A"], blocks["B"], blocks["C"]
    p = plan(m, clusters_of(m, top=None), side="long", entry=ENTRY, leverage=10, balance=10_000, risk=0.01)
    stop = P_EDGES[a_lo] * (1 - STOP_BUFFER_PCT / 100)  # just below the long cluster beneath the entry
    size = 10_000 * 0.01 / (ENTRY - stop)
    assert p.stop == pytest.approx(stop, rel=1e-12)
    assert p.stop_reason == f"0.2% below the long cluster {P_EDGES[a_lo]:,.2f}–{P_EDGES[a_hi]:,.2f}"
    assert p.risk_usd == pytest.approx(100.0)
    assert p.size_base == pytest.approx(size, rel=1e-12)
    assert p.notional_usd == pytest.approx(size * ENTRY)
    assert p.margin_usd == pytest.approx(size * ENTRY / 10)
    # own liquidation price: the project's exact margin math, and Binance's tier-1 isolated formula by hand
    assert p.liquidation_price == pytest.approx(own_liq("long", size, 10), rel=1e-12)
    assert p.liquidation_price == pytest.approx(ENTRY * (1 - 1 / 10) / (1 - BINANCE_TIER1_MMR), rel=1e-9)
    assert P_EDGES[b_lo] < p.liquidation_price < P_EDGES[b_hi]  # by construction it sits in cluster B
    assert p.take_profit == pytest.approx(P_CENTERS[c_mid], rel=1e-12)  # nearest cluster in the trade's direction
    assert p.reward_risk == pytest.approx((P_CENTERS[c_mid] - ENTRY) / (ENTRY - stop))
    assert [(c.price_low, c.price_high) for c in p.below] == [(P_EDGES[a_lo], P_EDGES[a_hi]), (P_EDGES[b_lo], P_EDGES[b_hi])]
    assert [c.peak_price for c in p.above] == [pytest.approx(P_CENTERS[c_mid])]
    assert len(p.warnings) == 1
    assert "own liquidation price" in p.warnings[0]
    assert f"{P_EDGES[b_lo]:,.2f}–{P_EDGES[b_hi]:,.2f}" in p.warnings[0]
    # the isolated margin that puts the liquidation price below cluster B, and no less
    beyond = P_EDGES[b_lo]
    assert p.margin_to_clear is not None
    assert own_liq("long", size, 10, p.margin_to_clear) < beyond
    assert own_liq("long", size, 10, p.margin_to_clear - 0.01) >= beyond
    assert p.margin_to_clear == pytest.approx(size * (ENTRY - beyond * (1 - BINANCE_TIER1_MMR)), rel=1e-9)
    assert p.symbol == SYMBOL
    assert p.venue == "binance"
    assert p.to_dict()["clusters_below"][0]["price_low"] == P_EDGES[a_lo]


def test_plan_a_short_stops_above_the_short_cluster_and_targets_the_long_one() -> None:
    m, blocks = planner_map()
    (_, _, a_mid, _), (_, c_hi, _, _) = blocks["A"], blocks["C"]
    p = plan(m, clusters_of(m, top=None), side="short", entry=ENTRY, leverage=10, balance=10_000, risk=0.02)
    stop = P_EDGES[c_hi] * (1 + STOP_BUFFER_PCT / 100)
    size = 10_000 * 0.02 / (stop - ENTRY)
    assert p.stop == pytest.approx(stop, rel=1e-12)
    assert p.size_base == pytest.approx(size, rel=1e-12)
    assert p.liquidation_price == pytest.approx(own_liq("short", size, 10), rel=1e-12)
    assert p.liquidation_price == pytest.approx(ENTRY * (1 + 1 / 10) / (1 + BINANCE_TIER1_MMR), rel=1e-9)
    assert p.take_profit == pytest.approx(P_CENTERS[a_mid], rel=1e-12)
    assert p.reward_risk == pytest.approx((ENTRY - P_CENTERS[a_mid]) / (stop - ENTRY))
    assert p.warnings == []
    assert p.margin_to_clear is None


def blank_map(atr: float = 1.5) -> MarketMap:
    return make_map(P_EDGES, np.zeros(PN), np.zeros(PN), ENTRY, atr=atr)


def long_cluster(lo: float, hi: float, share: float = 0.2) -> Cluster:
    peak = (lo + hi) / 2
    return Cluster("long", lo, hi, peak, 1e6, share, (peak / ENTRY - 1) * 100)


def test_plan_steps_past_a_stop_that_would_sit_inside_the_next_cluster_and_warns_about_the_rest() -> None:
    """A stop beyond k1 would sit in k2, which adjoins it: the stop goes below the zone they make (62,500–64,200)."""
    k1 = long_cluster(63_500.0, 64_200.0)  # holds the entry; its peak lies below it
    k2 = long_cluster(62_500.0, 63_450.0)  # would hold a stop 0.2 % below k1: the stop goes below k2 instead
    k3 = long_cluster(57_000.0, 58_500.0)  # holds the 10× long's liquidation price, 57,831
    p = plan(blank_map(), [k3, k2, k1], side="long", entry=ENTRY, leverage=10, balance=10_000, risk=0.01)
    stop = 62_500.0 * (1 - STOP_BUFFER_PCT / 100)
    size = 100 / (ENTRY - stop)
    assert p.stop == pytest.approx(stop)
    assert p.sound_stop
    assert p.stop_reason == "0.2% below the long cluster 62,500.00–64,200.00"
    assert p.below == [k1, k2, k3]
    assert p.liquidation_price == pytest.approx(own_liq("long", size, 10), rel=1e-12)
    assert p.warnings == [
        f"the entry {ENTRY:,.2f} sits inside a long cluster 63,500.00–64,200.00",
        f"the own liquidation price {p.liquidation_price:,.2f} sits inside a long cluster 57,000.00–58,500.00",
    ]
    assert p.margin_to_clear is not None
    assert own_liq("long", size, 10, p.margin_to_clear) < 57_000.0 <= own_liq("long", size, 10, p.margin_to_clear - 0.01)
    assert p.take_profit is None
    assert p.reward_risk is None
    assert p.notes


def test_plan_says_when_no_sound_stop_exists_and_never_stops_past_its_own_liquidation() -> None:
    k1 = long_cluster(61_000.0, 62_000.0)
    p = plan(blank_map(), [k1], side="long", entry=ENTRY, leverage=50, balance=10_000, risk=0.01)
    liq = ENTRY * (1 - 1 / 50) / (1 - BINANCE_TIER1_MMR)  # 62,972: above the stop below k1 and above 2 ATR (62,080)
    assert p.liquidation_price == pytest.approx(liq, rel=1e-9)
    assert not p.sound_stop
    worst = own_liq("long", 10_000 * 50 / ENTRY, 50)  # at the largest size the balance margins: a higher tier, nearer
    assert worst > liq
    assert p.stop == pytest.approx(worst + 0.1 * (ENTRY - worst))  # the farthest allowed: a tenth of the way back
    assert p.stop > p.liquidation_price
    assert p.warnings[0].startswith("no sound stop: every stop beyond a cluster, 2 ATR away or just before the nearest lies past")
    assert "lower the leverage" in p.warnings[0]
    assert p.stop_reason.startswith("no sound stop")
    assert not any("before the stop" in w for w in p.warnings)
    assert p.margin_to_clear is None
    lower = plan(blank_map(), [k1], side="long", entry=ENTRY, leverage=10, balance=10_000, risk=0.01)
    assert lower.sound_stop
    assert lower.stop == pytest.approx(61_000.0 * (1 - STOP_BUFFER_PCT / 100))


def test_plan_keeps_the_stop_within_the_maximum_distance() -> None:
    far = long_cluster(57_500.0, 58_500.0)  # 9 % down: 6 ATR at 1.5 %
    p = plan(blank_map(), [far], side="long", entry=ENTRY, leverage=3, balance=10_000, risk=0.01)
    assert p.sound_stop
    assert p.stop == pytest.approx(ENTRY * (1 - 2 * 0.015))  # beyond 4 ATR: the 2 ATR stop instead
    assert p.stop_reason == "2 ATR (no cluster of its side to stand behind within reach)"
    wide = plan(blank_map(), [far], side="long", entry=ENTRY, leverage=3, balance=10_000, risk=0.01, max_stop_atr=8)
    assert wide.stop == pytest.approx(57_500.0 * (1 - STOP_BUFFER_PCT / 100))
    tight = plan(blank_map(), [far], side="long", entry=ENTRY, leverage=3, balance=10_000, risk=0.01, max_stop_atr=1)
    assert not tight.sound_stop
    assert tight.stop == pytest.approx(ENTRY * (1 - 0.015))
    with pytest.raises(DomainError, match="max_stop_atr must be > 0"):
        plan(blank_map(), [far], side="long", entry=ENTRY, leverage=3, balance=10_000, risk=0.01, max_stop_atr=0)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["long", "short"]), st.floats(1.0, 125.0), st.floats(0.5, 8.0), st.floats(0.2, 3.0))
def test_a_plans_stop_is_never_past_its_own_liquidation_nor_past_the_maximum(side: str, leverage: float, max_atr: float,
                                                                             atr: float) -> None:  # fmt: skip
    m, _ = planner_map()
    m = replace(m, atr_pct=atr)
    p = plan(m, clusters_of(m, top=None), side=side, entry=ENTRY, leverage=leverage, balance=10_000, risk=0.01,
             max_stop_atr=max_atr)  # fmt: skip
    sign = 1 if side == "long" else -1
    assert sign * (ENTRY - p.stop) <= max_atr * atr / 100 * ENTRY * (1 + 1e-9)
    if p.liquidation_price > 0 and math.isfinite(p.liquidation_price):
        assert sign * (p.stop - p.liquidation_price) > 0  # the stop comes first
    if p.sound_stop:
        assert not any(c.price_low <= p.stop <= c.price_high for c in clusters_of(m, top=None))


def test_plan_caps_the_size_and_says_when_no_margin_can_clear_the_cluster() -> None:
    k1 = long_cluster(61_500.0, 62_500.0)
    k2 = long_cluster(60_500.0, 61_300.0)  # holds the liquidation price of the capped 20× long, 61,044
    p = plan(blank_map(), [k1, k2], side="long", entry=ENTRY, leverage=20, balance=10_000, risk=parse_risk("100%"))
    max_size = 10_000 * 20 / ENTRY
    assert 10_000 / (ENTRY - p.stop) > max_size
    assert p.size_base == pytest.approx(max_size)
    assert p.margin_usd == pytest.approx(10_000)
    assert p.liquidation_price == pytest.approx(ENTRY * (1 - 1 / 20) / (1 - BINANCE_TIER1_MMR), rel=1e-9)
    assert any("size capped" in w for w in p.warnings)
    assert any("inside a long cluster 60,500.00–61,300.00" in w for w in p.warnings)
    assert p.margin_to_clear is None  # the whole balance is margin already
    assert p.warnings[-1] == "no isolated margin up to the balance moves the liquidation price beyond 60,500.00"


def test_plan_without_clusters_stops_two_atr_away_and_ignores_small_ones() -> None:
    tiny = long_cluster(62_000.0, 63_000.0, share=0.01)  # under the 3 % share a crowded zone needs
    p = plan(blank_map(atr=1.5), [tiny], side="long", entry=ENTRY, leverage=5, balance=10_000, risk=0.01)
    assert p.stop == pytest.approx(ENTRY * (1 - 2 * 0.015))
    assert p.stop_reason == "2 ATR"
    assert p.size_base == pytest.approx(100 / (ENTRY * 0.03))
    assert p.below == []
    assert p.take_profit is None
    assert p.warnings == []
    short = plan(blank_map(atr=1.5), [], side="short", entry=ENTRY, leverage=5, balance=10_000, risk=0.01)
    assert short.stop == pytest.approx(ENTRY * 1.03)
    for kwargs, name in (({"side": "both"}, "side"), ({"leverage": 0.5}, "leverage"), ({"entry": -1.0}, "entry"),
                         ({"balance": math.nan}, "balance")):  # fmt: skip
        args = {"side": "long", "entry": ENTRY, "leverage": 5.0, "balance": 10_000.0, "risk": 0.01} | kwargs
        with pytest.raises(DomainError, match=f"^{name} ") as refused:
            plan(blank_map(), [], **args)  # type: ignore[arg-type]
        assert refused.value.param == name


# ------------------------------------------------------------------------------------------- sentiment


def test_sentiment_ratio_skew_funding_and_open_interest_change() -> None:
    long, short = np.zeros(N), np.zeros(N)
    long[bin_of(EDGES, PRICE * 0.97)] = 3e6
    long[bin_of(EDGES, PRICE * 1.03)] = 5e6  # above the price: not at risk
    short[bin_of(EDGES, PRICE * 1.02)] = 1e6
    short[bin_of(EDGES, PRICE * 0.96)] = 7e6  # below the price: not at risk
    m = make_map(EDGES, long, short, PRICE)
    day = pd.Timestamp("2026-01-05T00:00:00Z")
    hours = pd.date_range(day, periods=15, freq="1h")  # 00:00 … 14:00; the map is at 12:00
    candles = pd.DataFrame({"ts": hours, "open": 100.0 + np.arange(15), "close": 100.5 + np.arange(15)})
    oi = pd.DataFrame({"ts": hours, "oi_usd": 1e9 + 1e7 * np.arange(15)})
    funding = pd.DataFrame({"ts": day + pd.to_timedelta([4, 6, 8, 12, 16], unit="h"), "rate": [1e-4, 9e-4, 2e-4, -1e-4, 5e-4]})
    s = sentiment(m, candles, oi, funding, pd.Timedelta(hours=6))
    assert s["at"] == "2026-01-05T12:00:00Z"
    assert s["window_hours"] == 6.0
    assert (s["long_at_risk_usd"], s["short_at_risk_usd"]) == (3e6, 1e6)
    assert s["long_short_ratio"] == pytest.approx(3.0)
    assert s["skew"] == pytest.approx((3 - 1) / (3 + 1))
    assert s["open_interest_usd"] == pytest.approx(1.12e9)  # the last at or before 12:00, nothing after
    assert s["open_interest_change_pct"] == pytest.approx((1.12e9 / 1.06e9 - 1) * 100)  # against 06:00
    assert s["price_change_pct"] == pytest.approx((111.5 / 106.0 - 1) * 100)  # candles 06:00 … 11:00
    assert s["funding_mean"] == pytest.approx((2e-4 - 1e-4) / 2)  # the rates in (06:00, 12:00]: 08:00 and 12:00
    assert s["funding_last"] == pytest.approx(-1e-4)
    no_shorts = sentiment(make_map(EDGES, long, np.zeros(N), PRICE), candles, oi, None, pd.Timedelta(hours=6))
    assert no_shorts["long_short_ratio"] is None
    assert no_shorts["skew"] == pytest.approx(1.0)
    assert no_shorts["funding_mean"] is None
    assert no_shorts["funding_last"] is None


def test_a_band_next_to_price_keeps_its_peak_on_its_own_side() -> None:
    """Smoothing spreads a short band that starts one bin above price to the bins below it; its peak and
    edges must stay above price (a short cluster below price read as a long one in every face)."""
    values = np.zeros(N)
    above = int(np.searchsorted(CENTERS, PRICE))
    values[above : above + 2] = 1e6
    long_values = np.zeros(N)
    long_values[above - 2 : above] = 1e6
    for side, v in (("short", values), ("long", long_values)):
        found = find_clusters(v, EDGES, PRICE, side, top=None)
        assert found, side
        for c in found:
            assert (c.peak_price > PRICE) == (side == "short")
            assert (c.price_low >= EDGES[above]) if side == "short" else (c.price_high <= EDGES[above])
