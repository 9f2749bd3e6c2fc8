"""Alert rules on snapshots made by hand, whose answers are known by construction; properties of hysteresis,
cooldown and event keys over random price paths."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.alerts.fakes import MARKET, MINUTE, T0, cluster, scenario, scenario_rules, snap

from liqheat.alerts.rules import (
    Alert,
    CascadeRisk,
    Funding,
    Near,
    OpenInterest,
    Rule,
    Snapshot,
    Stale,
    State,
    Swept,
    check_value,
    evaluate,
)
from liqheat.model import DomainError


def run(
    rules: Sequence[Rule], snaps: Sequence[Snapshot], states: Mapping[str, State] | None = None
) -> tuple[list[list[Alert]], dict[str, State]]:
    """Evaluate the snapshots in turn, each with the states the last one left: the alerts of each."""
    current: dict[str, State] = dict(states or {})
    out = []
    for s in snaps:
        result = evaluate(rules, s, current)
        current.update(result.states)
        out.append(result.alerts)
    return out, current


# ------------------------------------------------------------------------------------------ near


def test_near_fires_once_within_reach_and_rearms_only_beyond_the_hysteresis() -> None:
    rule = Near(name="near", within_pct=1.0, min_usd=5e6, hysteresis=0.5, cooldown=0)
    band = (cluster("long", 59_000.0, 20e6),)  # 58,882–59,118: its near edge is 59,118
    # from 59,118: 1.64 %, 0.64 % (fires), 0.98 % (inside 1.5 %: still disarmed), 0.31 %, 1.64 % (re-arms), 0.69 % (fires)
    prices = [60_100, 59_500, 59_700, 59_300, 60_100, 59_530]
    fired, _ = run([rule], [snap(p, i, band) for i, p in enumerate(prices)])
    assert [len(a) for a in fired] == [0, 1, 0, 0, 0, 1]
    first = fired[1][0]
    assert first.kind == "near"
    assert first.market_id == MARKET
    assert first.data["side"] == "long"
    assert first.data["notional_usd"] == 20e6
    assert first.data["edge_price"] == band[0].price_high
    assert first.data["distance"] == pytest.approx((1 - 59_118 / 59_500) * 100)
    assert "0.64 %" in first.text
    assert "$20.0M" in first.text
    assert "starts at 59,118, peaks at 59,000" in first.text
    assert first.key != fired[5][0].key


def test_near_measures_to_the_near_edge_of_the_band_not_its_peak() -> None:
    """A trader's "within 1 % of a cluster" is where its liquidations begin: a band from 60,300 to 62,400 peaking at
    61,800 starts 0.5 % above 60,000 (fires at 1 %) though its peak is 3 % away; price inside a band is 0 % from it."""
    rule = Near(name="near", within_pct=1.0, cooldown=0)
    wide = replace(cluster("short", 61_800.0), price_low=60_300.0, price_high=62_400.0)
    far = replace(cluster("short", 61_800.0), price_low=60_700.0, price_high=62_400.0)  # starts 1.17 % away
    (alerts,), _ = run([rule], [snap(60_000.0, 1, (wide, far))])
    assert [(a.data["price_low"], a.data["edge_price"], round(a.data["distance"], 6)) for a in alerts] == [
        (60_300.0, 60_300.0, 0.5)
    ]
    assert "its band 0.50 % away" in alerts[0].title
    inside = replace(cluster("long", 59_000.0), price_low=58_000.0, price_high=60_500.0)
    (alerts,), _ = run([Near(name="in", within_pct=0.1, cooldown=0)], [snap(60_000.0, 1, (inside,))])
    assert [a.data["distance"] for a in alerts] == [0.0]


def test_near_in_atr_and_by_expected_liquidations() -> None:
    rule = Near(name="atr", within_atr=2.0, min_expected_usd=3e6, cooldown=0)
    bands = (cluster("short", 60_600.0, 50e6, expected=1e6), cluster("short", 60_500.0, 8e6, expected=4e6))
    # atr 0.5 %: the bands start at 60,479 (0.80 % = 1.6 ATR) and 60,379 (0.63 % = 1.26 ATR): both within, only the
    # second expected ≥ $3M
    (alerts,), _ = run([rule], [snap(60_000.0, 1, bands, atr_pct=0.5)])
    assert [a.data["peak_price"] for a in alerts] == [60_500.0]
    assert alerts[0].data["unit"] == "ATR"
    assert alerts[0].data["distance"] == pytest.approx((60_500 * 0.998 / 60_000 - 1) * 100 / 0.5)
    (none,), _ = run([rule], [snap(60_000.0, 1, bands, atr_pct=None)])  # no ATR: no distance in ATRs, no alert
    assert none == []


def test_near_small_clusters_and_the_other_side_do_not_fire() -> None:
    rule = Near(name="near", within_pct=1.0, min_usd=5e6, side="short", cooldown=0)
    bands = (cluster("long", 59_900.0, 50e6), cluster("short", 60_100.0, 1e6), cluster("short", 60_300.0, 9e6))
    (alerts,), _ = run([rule], [snap(60_000.0, 1, bands)])
    assert [(a.data["side"], a.data["peak_price"]) for a in alerts] == [("short", 60_300.0)]


def test_near_a_band_that_moves_a_little_is_the_same_event() -> None:
    rule = Near(name="near", within_pct=1.0, cooldown=0)
    first = cluster("long", 59_500.0, 9e6)
    moved = cluster("long", 59_560.0, 9e6)  # its band (0.4 % wide) still holds the first peak
    fired, _ = run([rule], [snap(60_000.0, 1, (first,)), snap(60_000.0, 2, (moved,))])
    assert [len(a) for a in fired] == [1, 0]


def test_cooldown_holds_a_second_cluster_until_it_ends_then_says_it() -> None:
    rule = Near(name="near", within_pct=1.0, cooldown=600)
    a, b = cluster("long", 59_500.0, 9e6), cluster("long", 59_700.0, 9e6)
    snaps = [snap(60_000.0, 1, (a,)), snap(60_000.0, 2, (a, b)), snap(60_000.0, 11, (a, b))]
    fired, _ = run([rule], snaps)
    assert [[x.data["peak_price"] for x in f] for f in fired] == [[59_500.0], [], [59_700.0]]


def test_the_same_snapshot_twice_fires_once_and_keys_are_the_data_alone() -> None:
    rule = Near(name="near", within_pct=1.0, cooldown=0)
    s = snap(60_000.0, 1, (cluster("short", 60_300.0),))
    fired, state = run([rule], [s, s])
    assert [len(a) for a in fired] == [1, 0]
    again, _ = run([rule], [s])  # a fresh process, no state: the same event under the same key
    assert again[0][0].key == fired[0][0].key == f"near/near/{MARKET}/short/60300/2026-01-05T00:01:00Z"
    assert state["near"]["last_ts"] == "2026-01-05T00:01:00Z"


# ------------------------------------------------------------------------------------------ swept


def candles(rows: list[tuple[int, float, float]]) -> pd.DataFrame:
    """Candles opened ``minute`` minutes after T0 with their high and low."""
    return pd.DataFrame(
        {"ts": [T0 + m * MINUTE for m, _, _ in rows], "high": [h for _, h, _ in rows], "low": [lo for _, _, lo in rows]}
    )


def test_swept_reports_the_band_crossed_with_realized_next_to_predicted() -> None:
    rule = Swept(name="swept", min_usd=5e6, cooldown=0)
    band = cluster("long", 59_000.0, 20e6)  # 58,882 – 59,118
    c = candles([(0, 60_010, 59_900), (1, 59_950, 59_100), (2, 59_200, 58_800), (3, 59_100, 58_900)])
    liq = pd.DataFrame(
        {
            "ts": [T0 + 2 * MINUTE, T0 + 2 * MINUTE + pd.Timedelta(seconds=5), T0 + 2 * MINUTE],
            "side": ["long", "long", "short"],
            "usd": [4e6, 3e6, 1e6],
            "price": [59_000.0, 57_000.0, 59_050.0],
        }
    )
    snaps = [
        snap(60_000.0, 1, (band,), candles=c, liquidations=liq, realized_from=T0),
        snap(59_000.0, 3, (), candles=c, liquidations=liq, realized_from=T0),
    ]
    fired, state = run([rule], snaps)
    assert fired[0] == []
    (alert,) = fired[1]
    assert alert.data["predicted_usd"] == 20e6
    assert alert.data["realized_usd"] == 4e6  # the long order priced in the band; the one at 57,000 and the short are not
    assert alert.data["swept_at"] == "2026-01-05T00:03:00Z"  # the close of the candle whose low crossed 58,882
    assert "$20.0M" in alert.text
    assert "$4.0M" in alert.text
    assert state["swept"]["watch"] == []


def test_swept_without_realized_data_says_so() -> None:
    rule = Swept(name="swept", cooldown=0)
    c = candles([(1, 61_000, 60_500)])
    snaps = [snap(60_000.0, 1, (cluster("short", 60_800.0),), candles=c), snap(60_900.0, 2, (), candles=c)]
    (_, (alert,)), _ = run([rule], snaps)
    assert alert.data["realized_usd"] is None
    assert "the data has no liquidations" in alert.text
    late = [
        replace_snap(s, liquidations=pd.DataFrame(columns=["ts", "side", "usd"]), realized_from=T0 + 10 * MINUTE) for s in snaps
    ]
    (_, (alert,)), _ = run([rule], late)
    assert alert.data["realized_usd"] is None
    assert "recorded from 2026-01-05T00:10:00Z" in alert.text


def replace_snap(s: Snapshot, **changes: Any) -> Snapshot:
    from dataclasses import replace

    return replace(s, **changes)


def test_swept_needs_the_whole_band_crossed() -> None:
    rule = Swept(name="swept", cooldown=0)
    c = candles([(1, 60_100, 59_000)])  # reaches into the band (58,882 – 59,118), not through it
    (_, second), _ = run([rule], [snap(60_000.0, 1, (cluster("long", 59_000.0),), candles=c), snap(59_500.0, 2, (), candles=c)])
    assert second == []


# ------------------------------------------------------------------------------------------ thresholds


def test_cascade_risk_fires_above_and_rearms_below_threshold_over_one_plus_hysteresis() -> None:
    rule = CascadeRisk(name="cascade", above=0.5, hysteresis=0.5, cooldown=0, direction="down")
    risks = [0.2, 0.6, 0.45, 0.7, 0.3, 0.55]  # re-arms below 0.333
    fired, _ = run(
        [rule],
        [
            snap(60_000.0, i, risk={"down": r, "up": 0.9, "long_within_1pct_usd": 1e8, "bid_depth_1pct_usd": 2e8})
            for i, r in enumerate(risks)
        ],
    )
    assert [len(a) for a in fired] == [0, 1, 0, 0, 0, 1]
    assert fired[1][0].data["direction"] == "down"
    assert "$100.0M of longs" in fired[1][0].text


def test_open_interest_and_funding_change_over_a_window() -> None:
    oi = pd.DataFrame({"ts": [T0, T0 + 30 * MINUTE, T0 + 60 * MINUTE], "oi_usd": [1e9, 1.01e9, 0.94e9]})
    fund = pd.DataFrame({"ts": [T0, T0 + 480 * MINUTE], "rate": [0.0001, 0.0006]})
    rules: list[Rule] = [
        OpenInterest(name="oi", change_pct=5.0, window=3600, cooldown=0),
        Funding(name="fund", change_bps=4.0, window=8 * 3600, cooldown=0, direction="up"),
    ]
    snaps = [snap(60_000.0, m, open_interest=oi, funding=fund) for m in (30, 60, 480)]
    fired, _ = run(rules, snaps)
    assert fired[0] == []  # 30 min in: no open interest an hour before
    assert [(a.rule, a.data["direction"]) for a in fired[1]] == [("oi", "down")]
    assert fired[1][0].data["change_pct"] == pytest.approx(-6.0)
    assert [(a.rule, a.data["direction"], round(a.data["change_bps"], 6)) for a in fired[2]] == [("fund", "up", 5.0)]


def test_stale_fires_once_per_stretch_on_every_call() -> None:
    rule = Stale(name="stale", after=3, cooldown=0)
    last = T0 + 10 * MINUTE
    at = [T0 + m * MINUTE for m in (12, 14, 20, 30)]
    snaps = [snap(60_000.0, 10, last_close=last, now=t) for t in at]  # the same map: only the clock moves
    fired, _ = run([rule], snaps)
    assert [len(a) for a in fired] == [0, 1, 0, 0]
    assert fired[1][0].data["last_close"] == "2026-01-05T00:10:00Z"
    moved = snap(60_000.0, 31, last_close=T0 + 31 * MINUTE, now=T0 + 40 * MINUTE)  # data came back, then stopped again
    more, _ = run([rule], [moved], {"stale": {"fired_for": "2026-01-05T00:10:00Z"}})
    assert len(more[0]) == 1
    assert more[0][0].key != fired[1][0].key


def test_rules_refuse_bad_parameters_naming_them() -> None:
    with pytest.raises(DomainError, match="within_pct") as info:
        Near(name="x", within_pct=0.0)
    assert info.value.param == "within_pct"
    with pytest.raises(DomainError, match="one of them"):
        Near(name="x", within_pct=1.0, within_atr=1.0)
    with pytest.raises(DomainError, match="name must be"):
        Swept(name="two words")
    with pytest.raises(DomainError, match="hysteresis"):
        check_value("hysteresis", math.nan)


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.floats(-0.004, 0.004), min_size=2, max_size=80),
    within=st.floats(0.2, 2.0),
    hysteresis=st.floats(0.0, 2.0),
)
def test_hysteresis_never_fires_twice_without_rearming(steps: list[float], within: float, hysteresis: float) -> None:
    rule = Near(name="near", within_pct=within, hysteresis=hysteresis, cooldown=0)
    band = cluster("long", 59_000.0, 10e6)
    price, prices = 60_000.0, []
    for s in steps:
        price *= 1 + s
        prices.append(price)
    fired, _ = run([rule], [snap(p, i, (band,)) for i, p in enumerate(prices)])
    times = [i for i, a in enumerate(fired) if a]

    def away(price: float) -> float:  # from the band's nearer edge, 0 inside it
        if band.price_low <= price <= band.price_high:
            return 0.0
        return min(abs(band.price_high / price - 1), abs(band.price_low / price - 1)) * 100

    for a, b in itertools.pairwise(times):
        between = [away(prices[i]) for i in range(a + 1, b)]
        assert any(d > within * (1 + hysteresis) for d in between), (a, b)
    for i in times:  # and it fires only within reach
        assert away(prices[i]) <= within


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cooldown=st.sampled_from([0.0, 300.0, 3600.0]))
def test_one_alert_per_event_whatever_the_path_and_however_often_it_is_evaluated(seed: int, cooldown: float) -> None:
    snaps = scenario(n=120, seed=seed)
    rules = [*scenario_rules(), Near(name="wide", within_atr=3.0, cooldown=cooldown)]
    fired, _ = run(rules, snaps)
    keys = [a.key for f in fired for a in f]
    assert len(keys) == len(set(keys))
    repeated, _ = run(rules, [s for s in snaps for _ in range(2)])  # each snapshot twice: nothing more
    assert [a.key for f in repeated for a in f] == keys
    for rule in rules:  # per rule, market and side: alerts at least the cooldown apart
        by_group: dict[str, list[pd.Timestamp]] = {}
        for f in fired:
            for a in f:
                if a.rule == rule.name and a.kind != "open_interest":
                    by_group.setdefault(a.data["side"], []).append(pd.Timestamp(a.ts))
        for times in by_group.values():
            assert all((b - a).total_seconds() >= rule.cooldown for a, b in itertools.pairwise(times))


def test_a_restart_midway_fires_exactly_what_one_run_fires() -> None:
    snaps = scenario(n=200, seed=3)
    rules = scenario_rules()
    whole, _ = run(rules, snaps)
    first, state = run(rules, snaps[:77])
    second, _ = run(rules, snaps, state)  # the restarted process replays from the start with the saved state
    assert [a.key for f in whole for a in f] == [a.key for f in first + second for a in f]
    assert sum(len(f) for f in whole) > 10


# ------------------------------------------------------------------------------------------ reach


def test_every_near_and_swept_alert_came_from_a_candle_within_the_last_evaluations_reach() -> None:
    """What a service takes first (the candles within reach) holds every candle that fires near or swept."""
    snaps = scenario()
    rules: list[Rule] = [Near(name="pct", within_pct=0.6, min_usd=2e6, cooldown=0),
                         Near(name="atr", within_atr=1.5, min_usd=2e6, side="short", cooldown=0),
                         Swept(name="swept", min_usd=2e6, cooldown=0), Stale(name="stale")]  # fmt: skip
    fired, _ = run(rules, snaps)
    candles = snaps[0].candles
    assert candles is not None
    checked = 0
    for i in range(1, len(snaps)):
        if not fired[i]:
            continue
        before = snaps[i - 1]
        ranges = [r for rule in rules if (found := rule.reach(before.clusters, before.atr_pct)) for r in found]
        row = candles.iloc[i]  # the candle that closed at snaps[i].ts
        assert row["ts"] + MINUTE == snaps[i].ts
        assert any(lo <= row["high"] and row["low"] <= hi for lo, hi in ranges), (i, [a.kind for a in fired[i]])
        checked += 1
    kinds = {a.kind for alerts in fired for a in alerts}
    assert checked > 10
    assert kinds == {"near", "swept"}


@settings(max_examples=200, deadline=None)
@given(
    levels=st.lists(st.tuples(st.floats(50.0, 150.0), st.floats(0.05, 3.0), st.sampled_from(["long", "short"])),
                    min_size=1, max_size=6),
    within=st.floats(0.05, 5.0),
    atr=st.floats(0.05, 3.0),
    prices=st.lists(st.floats(40.0, 160.0), min_size=2, max_size=12),
    by_atr=st.booleans(),
)
def test_near_fires_only_at_prices_within_its_reach(
    levels: list[tuple[float, float, str]], within: float, atr: float, prices: list[float], by_atr: bool
) -> None:
    bands = tuple(cluster(side, peak, 5e6, width_pct=width) for peak, width, side in levels)
    rule = Near(name="n", within_pct=None if by_atr else within, within_atr=within if by_atr else None, cooldown=0)
    ranges = rule.reach(bands, atr)
    assert ranges is not None
    fired, _ = run([rule], [snap(p, i, bands, atr_pct=atr) for i, p in enumerate(prices)])
    for p, alerts in zip(prices, fired, strict=True):
        if alerts:
            assert any(lo <= p <= hi for lo, hi in ranges)


def test_rules_that_cannot_place_a_firing_price_say_so() -> None:
    bands = (cluster("long", 100.0),)
    assert Near(name="n", within_atr=2.0).reach(bands, None) is None  # no ATR: any price may be within 2 ATR
    assert CascadeRisk(name="c", above=1.0).reach(bands, 0.5) is None
    assert OpenInterest(name="o", change_pct=3.0, window=1800).reach(bands, 0.5) is None
    assert Stale(name="s").reach(bands, 0.5) == []  # a candle never makes data stale
    assert Swept(name="w", min_usd=1e9).reach(bands, 0.5) == []  # no cluster that large
