"""The map's calibration: a map still (what it sweeps is what it predicts), fitted walk-forward on the past only."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.test_replay import synthetic_bundle
from tests.helpers import SHARED_BUNDLES, run

from liqheat.bundle import Bundle, with_tables, write_bundle
from liqheat.engine.calibration import IDENTITY, Calibration, load
from liqheat.engine.params import ModelParams
from liqheat.evaluation import calibrate as calib
from liqheat.evaluation.fit import predict
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros

HOUR_US = 3_600_000_000


@pytest.fixture(scope="module")
def bundles() -> list[Bundle]:
    return [synthetic_bundle(n=24 * 30, seed=s, step=0.006) for s in (3, 4)]


@pytest.fixture(scope="module")
def parts(bundles: list[Bundle]) -> list[calib.Parts]:
    return named([calib.Parts.of(b, ModelParams()) for b in bundles])


def named(parts: list[calib.Parts]) -> list[calib.Parts]:
    """In-memory bundles have no folder, so each is named after its symbol: give them names of their own."""
    return [replace(p, name=f"m{i}") for i, p in enumerate(parts)]


def test_identity_changes_nothing(parts: list[calib.Parts]) -> None:
    p = parts[0]
    out = p.predicted(IDENTITY)
    assert np.array_equal(out["long"], p.swept["long"])
    assert np.array_equal(out["short"], p.swept["short"])


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1e-8, 0.5), st.floats(0.001, 0.5), st.floats(0.05, 20.0), st.sampled_from(["long", "short"]),
    st.floats(1e-6, 0.2), st.floats(1e6, 1e11),
)  # fmt: skip
def test_background_swept_is_what_the_shown_layer_holds(
    share: float, reach: float, scale: float, side: str, move: float, oi: float
) -> None:
    """A candle that moves ``move`` from its open sweeps exactly the background the map shows between the two prices."""
    c = Calibration(**{f"background_{side}": share, f"reach_{side}": reach, f"scale_{side}": scale})  # type: ignore[arg-type]
    price = 100.0
    far = price * (1 - move) if side == "long" else price * (1 + move)
    edges = np.sort(np.array([far, price]))
    layer = c.background(edges, price, oi, side)
    zero = np.zeros(1)
    one = np.ones(1) * price
    low, high = (one * (1 - move), one) if side == "long" else (one, one * (1 + move))
    long_, short = c.predicted(zero, zero, one, high, low, np.array([oi]))
    predicted = long_ if side == "long" else short
    assert layer.sum() == pytest.approx(predicted[0], rel=1e-9, abs=1e-12)
    # the whole layer is share × OI × scale (longs stop at a price of 0, a relative distance of 1)
    total = c.background(np.array([1e-12, price, price * 1e6]), price, oi, side).sum()
    whole = 1.0 if side == "short" else -math.expm1(-1.0 / reach)
    assert total == pytest.approx(share * oi * scale * whole, rel=1e-6)


def test_background_lies_on_its_side_of_price() -> None:
    c = Calibration(background_long=0.01, background_short=0.02)
    edges = np.linspace(50, 150, 101)
    longs = c.background(edges, 100.0, 1e9, "long")
    shorts = c.background(edges, 100.0, 1e9, "short")
    centers = (edges[:-1] + edges[1:]) / 2
    assert longs[centers > 100].sum() == 0
    assert longs[centers < 100].sum() > 0
    assert shorts[centers < 100].sum() == 0
    assert shorts[centers > 100].sum() > 0
    assert (np.diff(longs[centers < 100]) >= 0).all()  # denser toward price
    assert c.background(edges, 100.0, 0.0, "long").sum() == 0


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"scale_long": 0}, "scale_long must be in [0.01, 100]"),
        ({"scale_short": 1e9}, "scale_short must be in [0.01, 100]"),
        ({"background_long": -0.1}, "background_long is a share"),
        ({"reach_short": 0}, "reach_short must be in [0.001, 1]"),
        ({"scale_long": "2"}, "scale_long must be a number"),
        ({"scale_long": True}, "scale_long must be a number"),
        ({"bundle": 3}, "bundle must be a text"),
        ({"scale": 2}, "unknown key(s) scale"),
        ({"reach_long": float("nan")}, "reach_long must be in"),
    ],
)
def test_bad_calibration_names_the_key(data: dict[str, object], needle: str) -> None:
    with pytest.raises(DomainError, match=r"^cal\.json: ") as info:
        Calibration.from_dict(data, "cal.json")
    assert needle in str(info.value)


def test_load_picks_the_bundle_and_round_trips() -> None:
    c = Calibration(scale_long=1.5, background_short=1e-5, bundle="b", fitted_from="2026-01-01T00:00:00Z")
    assert Calibration.from_dict(json.loads(c.to_json())) == c
    assert load(json.dumps({"calibrations": {"b": c.to_dict()}}), "b", "f") == c
    assert load(c.to_json(), "anything", "f") == c  # a single object applies to any bundle
    for text, needle in (
        ("[1]", "must be a JSON object"),
        ("{", "not valid JSON"),
        (json.dumps({"calibrations": {"a": {}}}), "no calibration for bundle 'b' (it has: a)"),
        (json.dumps({"calibrations": []}), "keyed by bundle name"),
        (json.dumps({"calibrations": {"b": 1}}), "calibrations.b must be an object"),
    ):
        with pytest.raises(DomainError, match=f"^f: .*{re.escape(needle)}"):
            load(text, "b", "f")


def test_a_fit_sees_only_buckets_that_ended_by_its_time(parts: list[calib.Parts]) -> None:
    """Every bucket used ended by the refit time; changing a later one changes nothing in the fit."""
    p = parts[0]
    until = int(p.bucket_start[300]) + HOUR_US // 2  # inside bucket 300: it has not ended
    for side in ("long", "short"):
        keep = p.training(side, until)
        assert keep.sum() == 300
        assert (p.bucket_start[keep] + p.interval_us <= until).all()
    fitted = calib.fit(parts, until)

    def later_raised(q: calib.Parts) -> calib.Parts:
        late = q.bucket_start >= q.bucket_start[300]
        return replace(q, realized={s: np.where(late, v * 7 + 1e9, v) for s, v in q.realized.items()})

    later = [later_raised(q) for q in parts]
    assert calib.fit(later, until) == fitted


def test_walk_forward_prediction_for_t_ignores_everything_after_t(bundles: list[Bundle]) -> None:
    """Candles, open interest and realized liquidations after t are changed: predictions up to t stay the same."""
    base = calib.walk_forward(named([calib.Parts.of(b, ModelParams()) for b in bundles]), refit_days=2, min_train_days=3)
    cut = 24 * 20
    changed = []
    for b in bundles:
        c = b.candles.copy()
        c.loc[cut:, ["open", "high", "low", "close"]] *= 1.2
        c.loc[cut:, "high"] *= 1.05
        t_cut = c["ts"].iloc[cut]
        oi = b.open_interest.copy()
        oi.loc[oi["ts"] > t_cut, "oi_usd"] *= 4
        assert b.liquidations is not None
        liq = b.liquidations.copy()
        liq.loc[liq["ts"] >= t_cut, "usd"] *= 9
        changed.append(with_tables(b, candles=c, open_interest=oi, liquidations=liq))
    other = calib.walk_forward(named([calib.Parts.of(b, ModelParams()) for b in changed]), refit_days=2, min_train_days=3)
    assert len(base.refits) > 5
    for name, sides in base.predictions.items():
        for side, values in sides.items():
            assert np.array_equal(values[:cut], other.predictions[name][side][:cut])
            assert not np.array_equal(values[cut:], other.predictions[name][side][cut:])
    t_cut_us = int(epoch_micros(bundles[0].candles["ts"])[cut])
    for (at, fitted), (at2, fitted2) in zip(base.refits, other.refits, strict=True):
        assert at == at2
        if at <= t_cut_us:
            assert fitted == fitted2


def test_walk_forward_applies_each_fit_to_its_own_week(parts: list[calib.Parts]) -> None:
    result = calib.walk_forward(parts, refit_days=3, min_train_days=4)
    p = parts[0]
    first = result.refits[0][0]
    before = p.ts < first
    for side in ("long", "short"):
        assert np.array_equal(result.predictions[p.name][side][before], p.swept[side][before])
    for k, (at, fitted) in enumerate(result.refits):
        nxt = result.refits[k + 1][0] if k + 1 < len(result.refits) else p.end_us + 1
        seg = (p.ts >= at) & (p.ts < nxt)
        expected = p.predicted(fitted[p.name])
        assert np.array_equal(result.predictions[p.name]["long"][seg], expected["long"][seg])
        assert fitted[p.name].fitted_until == pd.Timestamp(at, unit="us", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.final[p.name].version


def test_scale_moves_partway_to_the_trailing_ratio(parts: list[calib.Parts]) -> None:
    p = parts[0]
    until = int(p.bucket_start[-1]) + p.interval_us
    keep = p.training("long", until, since_us=until - 14 * calib.DAY_US)
    ratio = p.realized["long"][keep].sum() / p.per_bucket(p.swept["long"])[keep].sum()
    assert calib.fit_scale(p, IDENTITY, "long", until, 14, 0.5) == pytest.approx(math.sqrt(ratio))
    assert calib.fit_scale(p, IDENTITY, "long", until, 14, 0.0) == 1.0
    assert calib.fit_scale(p, IDENTITY, "long", int(p.bucket_start[0]), 14, 0.5) == 1.0  # nothing ended yet


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"refit_days": 0}, "refit_days"), ({"min_train_days": math.nan}, "min_train_days"), ({"shrink": 2}, "shrink")],
)
def test_walk_forward_refuses_bad_settings(parts: list[calib.Parts], kwargs: dict[str, float], needle: str) -> None:
    with pytest.raises(DomainError, match=needle):
        calib.walk_forward(parts, **kwargs)


def test_walk_forward_refuses_two_bundles_of_one_name(parts: list[calib.Parts]) -> None:
    with pytest.raises(DomainError, match="m0 comes twice"):
        calib.walk_forward([parts[0], parts[0]])


def test_cli_calibrate_writes_a_file_score_applies(bundles: list[Bundle], tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    paths = []
    for i, b in enumerate(bundles):
        paths.append(folder / f"m{i}")
        write_bundle(b, paths[-1], fmt="csv")
    out = folder / "cal.json"
    result = run("calibrate", *map(str, paths), "--out", str(out), "--refit", "3d", "--min-train", "4d", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["calibrations"]) == {"m0", "m1"}
    assert len(data["refits"]) > 3
    row = data["bundles"][0]
    assert {"engine", "calibrated"} <= set(row["whole"])
    assert row["months"]
    scored = run("score", str(paths[0]), "--calibration", str(out), "--json")
    assert scored.exit_code == 0, scored.output
    report = json.loads(scored.output)
    expected = Calibration.from_dict(data["calibrations"]["m0"])
    assert report["params"]["calibration"] == expected.to_dict()
    loaded_pred = predict(bundles[0], ModelParams(), calibration=expected)
    assert report["long"]["predicted_usd"] == pytest.approx(
        loaded_pred.loc[loaded_pred["ts"] >= bundles[0].meta.score_from, "long_usd"].sum(), rel=1e-5
    )
    bad = run("calibrate", str(paths[0]), "--refit", "soon")
    assert bad.exit_code == 2
    assert "--refit" in bad.output
    wrong = run("score", str(paths[0]), "--calibration", str(folder / "missing.json"))
    assert wrong.exit_code == 2
    assert "--calibration" in wrong.output


@pytest.mark.skipif(not SHARED_BUNDLES.exists(), reason="needs ../shared/data (the real bundles)")
def test_btc_agg_walk_forward_figures() -> None:
    """The README's walk-forward figures on btc-agg alone: magnitudes into range, rank about the engine's."""
    from liqheat.bundle import read_bundle
    from liqheat.evaluation.report import calibrated

    bundle = read_bundle(SHARED_BUNDLES / "btc-agg-1h-dec-feb")
    parts = [calib.Parts.of(bundle, ModelParams())]
    result = calib.walk_forward(parts)
    row = calibrated([bundle], parts, result)[0]
    whole = row["whole"]
    assert whole["engine"]["long"]["model"] == pytest.approx(0.837, abs=0.001)
    for side in ("long", "short"):
        assert 0.67 <= whole["calibrated"][side]["predicted_to_realized"] <= 1.5
        for month in row["months"]:
            assert 0.5 <= month["calibrated"][side]["predicted_to_realized"] <= 2.0
        assert whole["calibrated"][side]["margin"] > 0.05
