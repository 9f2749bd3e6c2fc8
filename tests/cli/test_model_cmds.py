"""``liqheat replay``, ``score``, ``fit`` and ``heatmap`` in-process, on a synthetic bundle (always) and on
the shared bundles (skipped when ../shared is absent)."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

# importing these registers their commands on the app
import liqheat.cli.calc
import liqheat.cli.demo
import liqheat.cli.model_cmds  # noqa: F401
from helpers import hourly_random_walk
from liqheat.bundle import Bundle, BundleMeta, read_bundle, write_bundle
from liqheat.cli.main import app
from liqheat.engine.params import ModelParams
from liqheat.evaluation.fit import predict
from liqheat.evaluation.score import score
from liqheat.model import ContractKind

BUNDLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bundles"
REAL = BUNDLES / "btc-agg-1h-dec-feb"
needs_shared = pytest.mark.skipif(not (REAL / "meta.json").is_file(), reason=f"shared bundle {REAL} is absent")

runner = CliRunner()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TS_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z,[^,\"]+,[^,\"]+$")


def run(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def text(s: str) -> str:
    return " ".join(_ANSI.sub("", s).split())


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    message = text(result.stderr)
    assert "error:" in message
    for fragment in fragments:
        assert fragment in message, message


def build_synthetic(n: int = 14 * 24, seed: int = 11) -> Bundle:
    """Two weeks of hourly random walk with volume, funding, open interest and hourly liquidation totals."""
    ts, candles, oi, funding, rng = hourly_random_walk(n, seed)
    open_, high, low = (candles[k].to_numpy() for k in ("open", "high", "low"))
    down, up = (open_ - low) / open_, (high - open_) / open_
    liq = pd.DataFrame(
        {
            "ts": ts.repeat(2).reset_index(drop=True),
            "side": ["long", "short"] * n,
            "usd": np.column_stack((1e9 * down, 1e9 * up)).reshape(-1) * rng.lognormal(0, 0.7, 2 * n),
        }
    )
    meta = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",),
                      source="synthetic test data", funding_interval="1h", liquidations_interval="1h",
                      score_from=ts.iloc[min(48, n - 1)])  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi, funding=funding, liquidations=liq)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(build_synthetic(), tmp_path_factory.mktemp("bundles") / "syn-btc-1h")


def read_csv_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def score_json(*args: object) -> dict[str, Any]:
    result = run("score", *args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_model_commands_are_registered() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("replay", "score", "fit", "heatmap"):
        assert command in result.stdout


# ------------------------------------------------------------------------------------------- replay


def check_replay_csv(path: Path, bundle: Bundle, params: ModelParams) -> list[str]:
    lines = read_csv_lines(path)
    assert lines[0] == "ts,long_usd,short_usd"
    assert len(lines) == len(bundle.candles) + 1
    for line in lines[1:]:
        assert TS_LINE.match(line), line
    rows = list(csv.DictReader(lines))
    expected = predict(bundle, params)
    assert [r["ts"] for r in rows] == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in bundle.candles["ts"]]
    np.testing.assert_allclose([float(r["long_usd"]) for r in rows], expected["long_usd"], rtol=1e-12)
    np.testing.assert_allclose([float(r["short_usd"]) for r in rows], expected["short_usd"], rtol=1e-12)
    assert expected["long_usd"].sum() > 0
    return lines


def test_replay_synthetic(synthetic: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    result = run("replay", synthetic, "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote" in text(result.stdout)
    lines = check_replay_csv(out, read_bundle(synthetic), ModelParams())
    assert lines[1].startswith("2026-01-05T00:00:00Z,")
    assert lines[15].startswith("2026-01-05T14:00:00Z,")


@needs_shared
def test_replay_real(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    result = run("replay", REAL, "--out", out, "--set", "half_life_hours=48")
    assert result.exit_code == 0, result.output
    lines = check_replay_csv(out, read_bundle(REAL), ModelParams(half_life_hours=48.0))
    assert len(lines) == 2079
    assert lines[1].startswith("2025-12-04T06:00:00Z,")


def changed_after(bundle: Bundle, t: int) -> Bundle:
    """Candles ≥ t reversed (new values at every time, the same extremes) and open interest after t's open tripled."""
    c = bundle.candles.copy()
    columns = ["open", "high", "low", "close"]
    c.loc[t:, columns] = c.loc[t:, columns].to_numpy()[::-1]
    oi = bundle.open_interest.copy()
    oi.loc[oi["ts"] > c["ts"].iloc[t], "oi_usd"] *= 3
    return replace(bundle, candles=c, open_interest=oi)


def assert_replay_causal(folder: Path, tmp_path: Path, t: int) -> None:
    bundle = read_bundle(folder)
    other = write_bundle(changed_after(bundle, t), tmp_path / "changed")
    for path, out in ((folder, tmp_path / "a.csv"), (other, tmp_path / "b.csv")):
        result = run("replay", path, "--out", out)
        assert result.exit_code == 0, result.output
    a, b = read_csv_lines(tmp_path / "a.csv"), read_csv_lines(tmp_path / "b.csv")
    assert len(a) == len(b) == len(bundle.candles) + 1
    assert a[: t + 1] == b[: t + 1]  # header and candles before t: byte for byte
    assert a[t + 1 :] != b[t + 1 :]


def test_replay_is_causal_synthetic(synthetic: Path, tmp_path: Path) -> None:
    assert_replay_causal(synthetic, tmp_path, 200)


@needs_shared
def test_replay_is_causal_real(tmp_path: Path) -> None:
    assert_replay_causal(REAL, tmp_path, 1_200)


# -------------------------------------------------------------------------------------------- score


def check_score_json(data: dict[str, Any], bundle: Bundle, params: ModelParams) -> None:
    expected = score(bundle, predict(bundle, params))
    for side in ("long", "short"):
        s = data[side]
        for key in ("model", "naive", "excursion", "yardstick", "margin", "predicted_to_realized"):
            assert isinstance(s[key], float), (side, key, s[key])
        ref = expected.side(side)
        assert s["model"] == pytest.approx(ref.model, abs=1e-6)
        assert s["naive"] == pytest.approx(ref.naive, abs=1e-6)
        assert s["excursion"] == pytest.approx(ref.excursion, abs=1e-6)
        assert s["yardstick"] == pytest.approx(max(s["naive"], s["excursion"]), abs=1e-6)
        assert s["margin"] == pytest.approx(s["model"] - s["yardstick"], abs=2e-6)
        assert s["buckets"] == ref.buckets
        assert s["predicted_to_realized"] == pytest.approx(ref.total_ratio, abs=1e-6)
    assert data["params"] == params.to_dict()


def test_score_json_synthetic(synthetic: Path) -> None:
    data = score_json(synthetic)
    check_score_json(data, read_bundle(synthetic), ModelParams())
    assert data["long"]["buckets"] == 14 * 24 - 48
    assert data["window"] == {"from": "2026-01-07T00:00:00Z", "until": "2026-01-19T00:00:00Z"}


@needs_shared
def test_score_json_real() -> None:
    data = score_json(REAL)
    check_score_json(data, read_bundle(REAL), ModelParams())
    assert data["bundle"] == "btc-agg-1h-dec-feb"
    assert data["long"]["buckets"] == data["short"]["buckets"] == 1916
    assert data["long"]["yardstick"] == pytest.approx(0.764, abs=5e-4)
    assert data["short"]["yardstick"] == pytest.approx(0.736, abs=5e-4)


@needs_shared
def test_score_prints_the_targets_met_on_the_aggregated_bundle() -> None:
    result = run("score", REAL)
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    assert "long beats the yardstick by +0.0" in out
    assert "short beats the yardstick by +0.0" in out
    assert out.count("(≥ 0.05)") == 2


def test_score_human_table(synthetic: Path) -> None:
    result = run("score", synthetic)
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    for word in ("liqheat", "naive", "excursion", "yardstick", "margin", "long", "short", "params"):
        assert word in out
    data = score_json(synthetic)
    assert f"{data['long']['model']:.3f}" in out


def test_score_set_changes_the_result(synthetic: Path) -> None:
    default = score_json(synthetic)
    changed = score_json(synthetic, "--set", "half_life_hours=24")
    assert changed["params"]["half_life_hours"] == 24.0
    assert changed["long"]["model"] != default["long"]["model"]
    assert changed["long"]["predicted_to_realized"] != default["long"]["predicted_to_realized"]
    assert changed["long"]["naive"] == default["long"]["naive"]  # the level-free models know no parameters
    check_score_json(changed, read_bundle(synthetic), ModelParams(half_life_hours=24.0))


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("nope=1", ("unknown model parameter 'nope'",)),
        ("half_life_hours=abc", ("half_life_hours must be a float", "'abc'")),
        ("entry_points=2.5", ("entry_points must be", "'2.5'")),
        ("half_life_hours", ("--set takes NAME=VALUE",)),
        ("half_life_hours=-1", ("--set half_life_hours must be in [0.01, 1e6] hours, got -1.0",)),
    ],
)
def test_score_bad_set_is_a_usage_error(synthetic: Path, setting: str, fragments: tuple[str, ...]) -> None:
    assert_usage_error(run("score", synthetic, "--set", setting), *fragments)


def test_params_file_round_trip(synthetic: Path, tmp_path: Path) -> None:
    params = ModelParams(half_life_hours=24.0, leverage_median=12.0, entry_points=3, venue="binance")
    path = tmp_path / "params.json"
    path.write_text(params.to_json(), encoding="utf-8")
    assert ModelParams.from_json(path.read_text(encoding="utf-8")) == params
    from_file = score_json(synthetic, "--params", path)
    assert from_file["params"] == params.to_dict()
    from_set = score_json(synthetic, "--set", "half_life_hours=24", "--set", "leverage_median=12", "--set", "entry_points=3")
    assert from_file == from_set
    # --set applies on top of --params
    both = score_json(synthetic, "--params", path, "--set", "entry_points=5")
    assert both["params"] == replace(params, entry_points=5).to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text('{"half_life_hours": 24, "nope": 1}', encoding="utf-8")
    assert_usage_error(run("score", synthetic, "--params", bad), "nope")
    bad.write_text("[1, 2]", encoding="utf-8")
    assert_usage_error(run("score", synthetic, "--params", bad), "JSON object")
    assert_usage_error(run("score", synthetic, "--params", tmp_path / "absent.json"), "cannot read")


def test_score_window(synthetic: Path) -> None:
    data = score_json(synthetic, "--from", "2026-01-10T00:00:00Z", "--until", "2026-01-12")
    assert data["long"]["buckets"] == data["short"]["buckets"] == 48
    assert data["window"] == {"from": "2026-01-10T00:00:00Z", "until": "2026-01-12T00:00:00Z"}
    assert_usage_error(run("score", synthetic, "--from", "yesterday-ish"), "--from is not an ISO 8601 time")


@needs_shared
def test_score_window_real() -> None:
    data = score_json(REAL, "--from", "2026-02-01T00:00:00Z")
    liq = read_bundle(REAL).liquidations
    assert liq is not None
    assert data["long"]["buckets"] == int(((liq["ts"] >= pd.Timestamp("2026-02-01T00:00:00Z")) & (liq["side"] == "long")).sum())
    assert 600 < data["long"]["buckets"] < 1916


def test_score_without_liquidations_is_a_usage_error(tmp_path: Path) -> None:
    bundle = build_synthetic(n=48)
    bare = write_bundle(replace(bundle, liquidations=None, meta=replace(bundle.meta, score_from=None)), tmp_path / "bare")
    assert_usage_error(run("score", bare), "no realized liquidations")
    assert_usage_error(run("score", tmp_path / "absent"), "not a folder")


# ------------------------------------------------------------------------------------------ heatmap


def check_heatmap_files(folder: Path, tmp_path: Path) -> None:
    ts = read_bundle(folder).candles["ts"]
    columns = int((ts > ts.iloc[-1] - pd.Timedelta(days=7)).sum())  # the window is (last − 7 d, last]
    assert columns > 100
    for name in ("x.png", "x.json", "x.parquet"):
        result = run("heatmap", folder, "--window", "7d", "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert f"{columns} columns" in text(result.stdout)
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))
    times, edges, long_, short = data["times"], data["price_edges"], np.array(data["long"]), np.array(data["short"])
    assert len(times) == columns
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", t) for t in times)
    assert times == sorted(times)
    assert long_.shape == short.shape == (len(times), len(edges) - 1)
    assert 10 <= len(edges) - 1 <= 300
    assert (np.diff(edges) > 0).all()
    assert long_.sum() > 0
    assert short.sum() > 0
    assert (long_ >= 0).all()
    assert data["params"] == ModelParams().to_dict()
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.column_names == ["ts", "price_low", "price_high", "long_usd", "short_usd"]
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.num_rows == long_.size
    frame = table.to_pandas()
    np.testing.assert_allclose(frame["long_usd"].to_numpy().reshape(long_.shape), long_, atol=0.006)
    np.testing.assert_allclose(frame["price_low"].to_numpy()[: len(edges) - 1], edges[:-1], rtol=1e-9)
    assert (frame["price_high"] > frame["price_low"]).all()
    assert frame["ts"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ") == times[0]
    assert json.loads(table.schema.metadata[b"liqheat.params"]) == ModelParams().to_dict()


def test_heatmap_files_synthetic(synthetic: Path, tmp_path: Path) -> None:
    check_heatmap_files(synthetic, tmp_path)


@needs_shared
def test_heatmap_files_real(tmp_path: Path) -> None:
    check_heatmap_files(REAL, tmp_path)


def test_heatmap_options(synthetic: Path, tmp_path: Path) -> None:
    out = tmp_path / "h.json"
    result = run("heatmap", synthetic, "--window", "2d", "--end", "2026-01-10T12:00:00Z", "--bins", "20", "--columns", "10",
                 "--side", "long", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["times"][-1] <= "2026-01-10T12:00:00Z"
    assert data["times"][0] > "2026-01-08T12:00:00Z"
    assert len(data["times"]) <= 10
    assert len(data["price_edges"]) - 1 <= 20
    assert data["short"] is None
    assert data["side"] == "long"


def test_heatmap_leverage_keeps_only_positions_of_that_leverage(synthetic: Path, tmp_path: Path) -> None:
    def matrix(*extra: object) -> dict[str, Any]:
        out = tmp_path / f"h{len(list(tmp_path.iterdir()))}.json"
        result = run("heatmap", synthetic, "--window", "1d", "--bins", "40", "--columns", "20", *extra, "--out", out)
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return data

    every = matrix()
    bands = [matrix("--leverage", band) for band in ("1-9.99", "10-24.99", "25-49.99", "50-200")]
    assert all(b["price_edges"] == every["price_edges"] for b in bands)
    for side in ("long", "short"):
        total = np.sum([np.array(b[side]) for b in bands], axis=0)
        assert total == pytest.approx(np.array(every[side]), rel=1e-6, abs=0.05)  # the bands partition (JSON: cents)
    assert 0 < np.sum(bands[3]["long"]) < 0.9 * np.sum(every["long"])


def test_heatmap_png_is_titled_with_market_side_window_and_time(synthetic: Path, tmp_path: Path) -> None:
    """A PNG leaves the program: its title (on the picture and in the file's Title text) says what it shows."""
    from PIL import Image

    out = tmp_path / "h.png"
    result = run("heatmap", synthetic, "--window", "2d", "--end", "2026-01-10T12:00:00Z", "--side", "long", "--out", out)
    assert result.exit_code == 0, result.output
    with Image.open(out) as png:
        title = png.text["Title"]
    assert title == ("liqheat · BTC (binance) · long · window 2d: 2026-01-08 13:00 → 2026-01-10 13:00 UTC · "
                     "1h candles over the levels at risk as each opens (longs liquidate below price, shorts above)")  # fmt: skip


@pytest.mark.parametrize("side", ["both", "short"])
def test_the_heatmap_figure_carries_its_title(synthetic: Path, side: str) -> None:
    from liqheat.engine.frames import heatmap_frame
    from liqheat.model import DomainError
    from liqheat.render.files import heatmap_figure, heatmap_title

    frame = heatmap_frame(read_bundle(synthetic), ModelParams(), window="12h", max_columns=50)
    figure = heatmap_figure(frame, side)
    title = figure.axes[0].get_title()
    assert title == heatmap_title(frame, side)
    label = {"both": "long + short", "short": "short"}[side]
    assert title.startswith(f"liqheat · BTC (binance) · {label} · window 12h: 2026-01-18 12:00 → 2026-01-19 00:00 UTC\n"
                            "1h candles")  # fmt: skip
    with pytest.raises(DomainError, match="side must be both, long or short, got 'up'"):
        heatmap_title(frame, "up")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--leverage", "10"), ("--leverage must be LOW-HIGH",)),
        (("--leverage", "25-10"), ("--leverage must be LOW-HIGH",)),
        (("--leverage", "0-500"), ("--leverage must be LOW-HIGH",)),
        (("--window", "3x"), ("--window must look like",)),
        (("--end", "2020-01-01T00:00:00Z"), ("before the bundle's first candle",)),
        (("--end", "2030-01-01T00:00:00Z"), ("after the bundle's last candle",)),
        (("--end", "not-a-time"), ("--end is not an ISO 8601 time",)),
        (("--bins", "3"), ("--bins",)),
        (("--side", "up"), ("--side must be",)),
    ],
)
def test_heatmap_bad_options_are_usage_errors(synthetic: Path, tmp_path: Path, args: tuple[str, ...],
                                              fragments: tuple[str, ...]) -> None:  # fmt: skip
    out = tmp_path / "x.json"
    assert_usage_error(run("heatmap", synthetic, *args, "--out", out), *fragments)
    assert not out.exists()


def test_heatmap_unknown_format_is_a_usage_error(synthetic: Path, tmp_path: Path) -> None:
    assert_usage_error(run("heatmap", synthetic, "--out", tmp_path / "x.txt"), "--out must end in .png, .json or .parquet")
    assert not (tmp_path / "x.txt").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind either


# ---------------------------------------------------------------------------------------------- fit


def test_fit_prints_fit_and_check_tables(synthetic: Path, tmp_path: Path) -> None:
    out = tmp_path / "fitted.json"
    result = run("fit", synthetic, "--out", out)
    assert result.exit_code == 0, result.output
    printed = text(result.stdout)
    assert "syn-btc-1h · fit (before 2026-01-13)" in printed
    assert "syn-btc-1h · check (from 2026-01-13, unseen while fitting)" in printed
    assert printed.count("yardstick") == 2
    assert f"wrote {out}" in printed
    fitted = ModelParams.from_json(out.read_text(encoding="utf-8"))
    assert fitted.to_json() in printed
    # the check table is the score of the fitted parameters on the later half
    check = score_json(synthetic, "--params", out, "--from", "2026-01-13T00:00:00Z")
    assert f"{check['long']['model']:.3f}" in printed
    assert f"{check['short']['model']:.3f}" in printed


def test_fit_needs_enough_buckets(tmp_path: Path) -> None:
    bundle = build_synthetic(n=60)
    small = write_bundle(replace(bundle, meta=replace(bundle.meta, score_from=bundle.candles["ts"].iloc[57])), tmp_path / "b")
    assert_usage_error(run("fit", small), "too few to split")
