"""After a sweep (``liqheat.evaluation.sweeps``, ``liqheat sweeps``): causal selection, known outcomes on a
hand-built path, the null's levels, the day-block bootstrap, and the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import SHARED_BUNDLES, hourly_random_walk
from liqheat.analytics.maps import atr_pct
from liqheat.bundle import Bundle, BundleMeta, read_bundle, write_bundle
from liqheat.cli.main import app
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.evaluation.sweeps import (
    Days,
    Study,
    SweepSettings,
    direction,
    draw_nulls,
    follow,
    report,
    select,
    study,
)
from liqheat.model import ContractKind

META = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",),
                  source="sweeps tests", funding_interval="1h")  # fmt: skip
SMALL = SweepSettings(horizon_hours=24, every_hours=4, warmup_hours=48, nulls=4, draws=300)
HAND = SweepSettings(horizon_hours=24, every_hours=4, warmup_hours=0, nulls=4, draws=300)


def walk_bundle(n: int = 20 * 24, seed: int = 3) -> Bundle:
    _, candles, oi, funding, _ = hourly_random_walk(n, seed)
    return Bundle(meta=META, candles=candles, open_interest=oi, funding=funding)


@pytest.fixture(scope="module")
def walk() -> Bundle:
    return walk_bundle()


@pytest.fixture(scope="module")
def walk_study(walk: Bundle) -> Study:
    return study(walk, settings=SMALL)


# ------------------------------------------------------------------------------------------ causality


@pytest.mark.parametrize("cut", [120, 300])
def test_what_is_selected_at_a_candle_ignores_every_later_candle(walk: Bundle, cut: int) -> None:
    """Rewrite every candle, open-interest and funding sample after ``cut``: the clusters selected at samples
    up to ``cut`` are the same to the last bit; only their outcomes may change."""
    rng = np.random.default_rng(99)
    candles = walk.candles.copy()
    later = candles.index > cut
    scale = np.exp(np.cumsum(rng.normal(0, 0.03, int(later.sum()))))  # a far wilder path after the cut
    for column in ("open", "high", "low", "close"):
        candles.loc[later, column] = candles.loc[later, column] * scale
    candles.loc[later, "volume"] = candles.loc[later, "volume"] * 7
    cutoff = candles["ts"].iloc[cut] + pd.Timedelta(hours=1)
    oi, funding = walk.open_interest.copy(), walk.funding
    assert funding is not None
    oi.loc[oi["ts"] > cutoff, "oi_usd"] *= 3
    funding = funding.assign(rate=np.where(funding["ts"] > cutoff, 0.01, funding["rate"]))
    changed = Bundle(meta=META, candles=candles, open_interest=oi, funding=funding)

    before = select(walk, ModelParams(), SMALL)
    after = select(changed, ModelParams(), SMALL)
    assert len(before[before["t"] <= cut]) > 0
    pd.testing.assert_frame_equal(before[before["t"] <= cut], after[after["t"] <= cut])
    assert not before[before["t"] > cut].reset_index(drop=True).equals(after[after["t"] > cut].reset_index(drop=True))


# ------------------------------------------------------------------------------------------ a hand-built path


def hand_view(closes: list[float], lows: list[float] | None = None, highs: list[float] | None = None) -> MarketView:
    c = np.asarray(closes, dtype=np.float64)
    o = np.concatenate(([c[0]], c[:-1]))
    low = np.minimum(o, c) if lows is None else np.asarray(lows, dtype=np.float64)
    high = np.maximum(o, c) if highs is None else np.asarray(highs, dtype=np.float64)
    ts = np.arange(len(c), dtype=np.int64) * 3_600_000_000 + 1_767_225_600_000_000  # hourly from 2026-01-01
    candles = {"open": o, "high": high, "low": low, "close": c}
    return MarketView.from_arrays(ts=ts, candles=candles, oi=(ts, np.full(len(c), 1e9)), funding=None,
                                  timeframe_us=3_600_000_000, symbol="X")  # fmt: skip


def selection(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"price": 100.0, "price_low": 0.0, "price_high": 0.0, "notional_usd": 1e6, "oi_usd": 1e9, "size_oi": 1e-3,
            "distance_atr": 5.0, "distance_pct": 5.0, "atr_pct": 1.0}  # fmt: skip
    return pd.DataFrame([{**base, **row} for row in rows]).astype({"t": np.int64, "rank": np.int64})


def swept_path(side: str, reverse: bool) -> tuple[MarketView, float, list[float]]:
    """Flat at 100 for 10 h; candle 12 reaches 94 (or 106) and closes at 95 (105); then price goes back
    towards 100 (``reverse``) or on away from it, 0.5 a candle. Returns the view, the band's peak and the
    sweep close's later closes at 1, 4 and 24 h."""
    n = 60
    sign = -1 if side == "long" else 1
    closes = [100.0] * 12 + [100 + sign * 5]
    step = -sign * 0.5 if reverse else sign * 0.5
    while len(closes) < n:
        closes.append(closes[-1] + step)
    lows = list(np.minimum(np.r_[closes[0], closes[:-1]], closes))
    highs = list(np.maximum(np.r_[closes[0], closes[:-1]], closes))
    if side == "long":
        lows[12] = 94.0
    else:
        highs[12] = 106.0
    base = closes[12]
    return hand_view(closes, lows, highs), 100 + sign * 5.5, [closes[12 + h] / base - 1 for h in (1, 4, 24)]


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("reverse", [True, False])
def test_a_band_swept_then_left_has_the_outcome_of_the_path(side: str, reverse: bool) -> None:
    view, peak, moves = swept_path(side, reverse)
    sel, events = follow(view, selection([{"t": 4, "side": side, "rank": 1, "peak": peak}]), HAND)
    assert sel["sweep"].tolist() == [12]
    assert len(events) == 1
    event = events.iloc[0]
    assert event["hours_to_sweep"] == 8
    sign = -1 if side == "long" else 1
    for h, move in zip((1, 4, 24), moves, strict=True):
        assert event[f"ret_{h}h"] == pytest.approx(sign * move * 100)
        assert (event[f"ret_{h}h"] < 0) == reverse  # a reversal is negative on both sides
    touches, null_events = draw_nulls(view, sel, events, HAND)
    rep = report([Study("hand", sel, touches, events, null_events, 1, len(view))], HAND)
    all_rows = {g["after_hours"]: g for g in rep["groups"] if g["group"] == "all"}
    for h in (1, 4, 24):
        assert all_rows[h]["continuation"]["cluster"]["estimate"] == (0.0 if reverse else 1.0)


def test_a_band_not_reached_within_the_horizon_is_no_event() -> None:
    view, peak, _ = swept_path("long", True)
    late = selection([{"t": 4, "side": "long", "rank": 1, "peak": 93.0}])  # below the sweep candle's low
    sel, events = follow(view, late, HAND)
    assert sel["sweep"].tolist() == [-1]
    assert events.empty
    early = selection([{"t": 4, "side": "long", "rank": 1, "peak": peak}])
    short_horizon = SweepSettings(horizon_hours=7, every_hours=4, warmup_hours=0)  # candle 12 closes 8 h after candle 4
    assert follow(view, early, short_horizon)[0]["sweep"].tolist() == [-1]


def test_one_event_per_side_and_sweep_candle_from_the_first_sample_that_saw_it() -> None:
    view, _, _ = swept_path("long", True)
    rows = selection([
        {"t": 4, "side": "long", "rank": 2, "peak": 95.0},  # band A
        {"t": 4, "side": "long", "rank": 1, "peak": 96.0},  # band B, larger, swept by the same candle
        {"t": 8, "side": "long", "rank": 1, "peak": 95.0},  # band A again, one sample later
        {"t": 8, "side": "short", "rank": 1, "peak": 150.0},  # never reached
    ])  # fmt: skip
    sel, events = follow(view, rows, HAND)
    assert sel["sweep"].tolist() == [12, 12, 12, -1]
    assert len(events) == 1
    assert (events.iloc[0]["t"], events.iloc[0]["rank"], events.iloc[0]["peak"]) == (4, 1, 96.0)


# ------------------------------------------------------------------------------------------ the null


def test_null_levels_sit_on_the_same_side_at_the_same_atr_distance(walk: Bundle, walk_study: Study) -> None:
    sel, touches = walk_study.selections, walk_study.null_touches
    assert len(touches) == SMALL.nulls * len(sel) > 0
    paired = touches.merge(sel[["sel", "side", "distance_atr"]], on="sel")
    closes = walk.candles["close"].to_numpy()
    distance = (paired["level"].to_numpy() / closes[paired["t"].to_numpy()] - 1) * 100
    atr = np.array([atr_pct(walk.candles, int(t), walk.meta.timeframe_delta) for t in paired["t"]])
    expected = np.where(paired["side"] == "long", -1, 1) * paired["distance_atr"].to_numpy() * atr
    np.testing.assert_allclose(distance, expected, rtol=1e-9, atol=1e-9)
    assert paired["t"].nunique() > 10  # drawn over the whole market, not at the cluster's own candle
    assert (paired["t"] >= 48 - 1).all()  # after the warm-up


def test_the_null_is_the_same_for_the_same_seed_and_differs_with_another(walk: Bundle, walk_study: Study) -> None:
    view = MarketView.from_bundle(walk)
    again = draw_nulls(view, walk_study.selections, walk_study.events, SMALL)
    pd.testing.assert_frame_equal(again[0], walk_study.null_touches)
    pd.testing.assert_frame_equal(again[1], walk_study.null_events)
    other = draw_nulls(view, walk_study.selections, walk_study.events, SweepSettings(**{**SMALL.to_dict(), "seed": 1}))
    assert not other[0]["t"].equals(walk_study.null_touches["t"])


def test_events_recomputed_from_the_candles(walk: Bundle, walk_study: Study) -> None:
    """Every event's sweep candle is the first after its sample to reach the peak, and its returns are the closes'."""
    low, high, close = (walk.candles[k].to_numpy() for k in ("low", "high", "close"))
    assert len(walk_study.events) > 0
    for e in walk_study.events.itertuples():
        path = low if e.side == "long" else high
        reached = path[e.t + 1 : e.sweep + 1] <= e.peak if e.side == "long" else path[e.t + 1 : e.sweep + 1] >= e.peak
        assert reached[-1]
        assert not reached[:-1].any()
        for h in (1, 4, 24):
            later = e.sweep + h
            value = getattr(e, f"ret_{h}h")
            if later < len(close):
                assert value == pytest.approx((-1 if e.side == "long" else 1) * (close[later] / close[e.sweep] - 1) * 100)
            else:
                assert math.isnan(value)


# ------------------------------------------------------------------------------------------ the bootstrap


def test_each_bootstrap_draw_is_as_many_days_as_the_span_in_consecutive_blocks() -> None:
    boot = Days(100, 129, SweepSettings(draws=200, block_days=3))
    assert boot.weights.shape == (200, 30)
    np.testing.assert_array_equal(boot.weights.sum(axis=1), 30)
    one = Days(100, 129, SweepSettings(draws=200, block_days=1))
    assert (one.weights.max(axis=1) > 1).any()  # days are drawn with replacement


def test_a_day_block_interval_covers_the_true_mean_in_most_samples() -> None:
    """Events share a day effect (one day, one market): the interval from day blocks covers the true mean
    in most of 40 samples, while one that treats events as independent misses it more often."""
    covered, naive_covered = 0, 0
    truth = 0.3
    for seed in range(40):
        rng = np.random.default_rng(seed)
        day_effect = rng.normal(0, 1, 120)
        days = np.repeat(np.arange(120), 6)
        values = truth + day_effect[days] + rng.normal(0, 0.3, len(days))
        boot = Days(0, 119, SweepSettings(draws=400, block_days=1, seed=seed))
        estimate, draws, n = boot.mean(days, values)
        stat = boot.interval(estimate, draws, n)
        covered += stat["low"] <= truth <= stat["high"]
        half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
        naive_covered += abs(values.mean() - truth) <= half
    assert covered >= 34
    assert naive_covered < covered


def test_direction_says_no_difference_when_the_interval_covers_zero() -> None:
    assert direction({"estimate": 0.1, "low": -0.1, "high": 0.3}) == 0
    assert direction({"estimate": 0.1, "low": 0.05, "high": 0.3}) == 1
    assert direction({"estimate": 0.4, "low": 0.3, "high": 0.45}, 0.5) == -1
    assert direction({"estimate": None, "low": None, "high": None}) is None


# ------------------------------------------------------------------------------------------ the command


def test_the_command_prints_json_per_bundle_and_pooled(tmp_path: Path) -> None:
    folder = write_bundle(walk_bundle(n=16 * 24, seed=8), tmp_path / "walk-1h")
    args = ["sweeps", str(folder), "--json", "--horizon", "24h", "--every", "6h", "--warmup", "2d", "--draws", "200"]
    single = CliRunner().invoke(app, args)
    assert single.exit_code == 0, single.output
    one = json.loads(single.stdout)
    assert one["pooled"] is None
    (rep,) = one["bundles"]
    assert rep["name"] == "walk-1h"
    assert rep["selections"] > 0
    assert one["settings"]["horizon_hours"] == 24
    assert {c["verdict"] for c in rep["claims"]} <= {"supported", "contradicted", "not supported"}
    assert {g["group"] for g in rep["groups"]} >= {"all", "long side", "short side", "rank 1", "size/OI large"}
    twice = CliRunner().invoke(app, [*args[:2], str(folder), *args[2:]])
    assert twice.exit_code == 0, twice.output
    pooled = json.loads(twice.stdout)["pooled"]
    assert pooled["events"] == 2 * rep["events"]
    assert pooled["selections"] == 2 * rep["selections"]
    text = CliRunner().invoke(app, [a for a in args if a != "--json"])
    assert text.exit_code == 0, text.output
    assert "continuation rate" in text.stdout
    assert "walk-1h" in text.stdout


def test_the_command_names_a_bad_duration() -> None:
    result = CliRunner().invoke(app, ["sweeps", "nowhere", "--horizon", "soon"])
    assert result.exit_code == 2
    assert "--horizon" in result.stderr


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.shared
def test_sweeps_on_btc_agg_has_events_on_both_sides_and_a_null_for_each() -> None:
    folder = SHARED_BUNDLES / "btc-agg-1h-dec-feb"
    if not (folder / "meta.json").is_file():
        pytest.skip(f"shared bundle {folder} is absent (../shared/data/bundles next to the repository)")
    s = study(read_bundle(folder), settings=SweepSettings(draws=200))
    assert set(s.events["side"]) == {"long", "short"}
    assert len(s.events) == len(s.events.drop_duplicates(["side", "sweep"]))
    assert s.null_events["event"].nunique() > 0.5 * len(s.events)
    assert (s.events["hours_to_sweep"] <= 72).all()
