"""Grading the reach of clusters: labels from the candles, features known at the time, an honest walk-forward."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.test_replay import synthetic_bundle
from tests.helpers import run

from liqheat.bundle import with_tables
from liqheat.evaluation.hits import FEATURES, MODELS, reliability, samples, skills, splits


@pytest.fixture(scope="module")
def market() -> tuple[object, pd.DataFrame]:
    bundle = synthetic_bundle(n=24 * 40, seed=11, step=0.006)
    return bundle, samples(bundle, every_hours=6, top=3)


def test_labels_are_what_the_candles_did(market: tuple[object, pd.DataFrame]) -> None:
    bundle, data = market
    candles = bundle.candles  # type: ignore[attr-defined]
    low, high = candles["low"].to_numpy(), candles["high"].to_numpy()
    assert len(data) > 100
    checked = 0
    for row in data.itertuples():
        for h in (4, 24, 72):
            label = getattr(row, f"hit_{h}")
            if row.index + h >= len(candles):
                assert np.isnan(label)
                continue
            future = slice(row.index + 1, row.index + 1 + h)
            reached = low[future].min() <= row.near if row.side < 0 else high[future].max() >= row.near
            assert label == float(reached)
            checked += 1
    assert checked > 300
    assert 0 < data["hit_72"].mean() < 1


def test_features_use_nothing_after_their_time(market: tuple[object, pd.DataFrame]) -> None:
    bundle, data = market
    cut = 600
    candles = bundle.candles.copy()  # type: ignore[attr-defined]
    candles.loc[cut + 1 :, ["open", "high", "low", "close"]] *= 1.3
    oi = bundle.open_interest.copy()  # type: ignore[attr-defined]
    oi.loc[oi["ts"] > candles["ts"].iloc[cut] + pd.Timedelta(hours=1), "oi_usd"] *= 5  # stamped at its bar's end
    changed = samples(with_tables(bundle, candles=candles, open_interest=oi), every_hours=6, top=3)  # type: ignore[arg-type]
    columns = ["ts", "index", "near", *FEATURES, "baseline_4", "baseline_24", "baseline_72"]
    before = data.loc[data["index"] <= cut, columns].reset_index(drop=True)
    after = changed.loc[changed["index"] <= cut, columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=40, deadline=None)
@given(st.integers(50, 800), st.sampled_from([4, 24, 72]), st.floats(1.0, 10.0), st.floats(2.0, 30.0))
def test_walk_forward_trains_only_on_labels_known_at_the_refit(n: int, horizon: int, refit: float, warm: float) -> None:
    rng = np.random.default_rng(n)
    hours = np.sort(rng.uniform(0, 24 * 60, n))
    ts = pd.Series(pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(hours, unit="h"))
    seen: set[int] = set()
    previous_end = -1
    for at, train, test in splits(ts, horizon, refit_days=refit, min_train_days=warm):
        assert (ts.iloc[train] + pd.Timedelta(hours=horizon) <= at).all()
        assert (ts.iloc[test] >= at).all()
        assert test.min() > previous_end
        previous_end = int(test.max())
        assert not seen & set(test.tolist())
        seen |= set(test.tolist())
    if seen:
        assert min(seen) >= int(np.searchsorted(hours, warm * 24))


def test_skill_of_a_copy_is_zero_and_of_the_truth_is_one() -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    ts = pd.Series(pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 2, unit="h"))
    p = rng.uniform(0, 1, n)
    y = (rng.uniform(0, 1, n) < p).astype(float)
    pred = pd.DataFrame({"ts": ts, "y": y, "baseline": p, "base_rate": y.mean(), "isotonic": p, "boosted": y})
    found = {s.model: s for s in skills(pred, 24, reps=200)}
    assert set(found) == set(MODELS[1:])
    assert (found["isotonic"].skill, found["isotonic"].low, found["isotonic"].high) == (0.0, 0.0, 0.0)
    assert found["isotonic"].verdict == "no difference from the baseline"
    assert found["boosted"].skill == 1.0
    assert found["boosted"].verdict == "beats the baseline"
    assert found["base_rate"].skill < 0  # a calibrated, informative p beats the constant


def test_reliability_bins_cover_every_sample() -> None:
    p = np.array([0.05, 0.07, 0.5, 0.55, 0.95])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    bins = reliability(p, y)
    assert sum(b["count"] for b in bins) == 5
    assert bins[0] == {"low": 0.0, "high": 0.1, "count": 2, "predicted": pytest.approx(0.06), "observed": 0.5}


def test_the_command_reports_per_horizon(tmp_path: object) -> None:
    from pathlib import Path

    from liqheat.bundle import write_bundle

    folder = write_bundle(synthetic_bundle(n=24 * 35, seed=2), Path(str(tmp_path)) / "b")
    result = run("hits", folder, "--every", "6h", "--top", "2", "--draws", "100", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["b"]
    assert set(report) == {"4h", "24h", "72h"}
    day = report["24h"]
    assert day["samples"] > 0
    assert set(day["brier"]) == set(MODELS)
    assert sum(b["count"] for b in day["reliability"]) == day["samples"]
    bad = run("hits", folder, "--every", "soon")
    assert bad.exit_code == 2
    assert "--every" in bad.output
