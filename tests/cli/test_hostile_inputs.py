"""Hostile input, every kind, through the real command line: exit code 2, one line that names the file,
row or parameter, no traceback, and nothing written (issue #12, items 7, 8 and 9).

Most cases run in-process through typer's runner (an exception there would be a non-2 exit and
``result.exception``); a handful run ``python -m liqheat.cli.main`` in a subprocess, where exit codes,
tracebacks, ``ulimit -f`` and the environment are exactly a user's.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers import hourly_random_walk
from liqheat.bundle import Bundle, BundleMeta, with_tables, write_bundle
from liqheat.cli.main import app
from liqheat.model import ContractKind

FORCEORDER = "BCH,SELL,LIMIT,IOC,21.610,451.35,None,FILLED,0.644,21.610,1750712378119,9753.6735\n"  # a recorder's line
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def market(n: int = 24 * 10) -> Bundle:
    ts, candles, oi, funding, _ = hourly_random_walk(n, 21)
    liq = pd.DataFrame({"ts": ts.repeat(2).reset_index(drop=True), "side": ["long", "short"] * n, "usd": 5e4})
    meta = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",),
                      source="hostile-input tests", funding_interval="1h", liquidations_interval="1h",
                      score_from=ts.iloc[48])  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi, funding=funding, liquidations=liq)


def hostile(table: str, column: str, value: float, rows: slice = slice(100, 102)) -> Callable[[Bundle], Bundle]:
    def edit(b: Bundle) -> Bundle:
        frame = b.table(table)
        assert frame is not None
        frame = frame.copy()
        columns = ["open", "high", "low", "close"] if column == "ohlc" else [column]
        for c in columns:
            values = frame[c].to_numpy(np.float64).copy()
            values[rows] = value
            frame[c] = values
        return with_tables(b, **{table: frame})

    return edit


BUNDLES: dict[str, Callable[[Bundle], Bundle]] = {
    "base": lambda b: b,
    "big_oi": hostile("open_interest", "oi_usd", 1e308),
    "big_liq": hostile("liquidations", "usd", 1e308),
    "big_price": hostile("candles", "ohlc", 1e308),
    "tiny_price": hostile("candles", "ohlc", 1e-300, slice(None)),
    "big_volume": hostile("candles", "volume", 1e308),
    "big_funding": hostile("funding", "rate", 1e308),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    base = market()
    return {name: write_bundle(edit(base), root / name) for name, edit in BUNDLES.items()}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # {name} is a bundle of BUNDLES, {out}, {dir}, {file} the places of the run
    names: str  # what the one message must contain
    subprocess: bool = False
    env: tuple[tuple[str, str], ...] = ()
    fsize: int | None = None  # ulimit -f, in bytes


PLAN = ("--side", "long", "--leverage", "10", "--balance", "10000")
MAP = ("cascade", "{base}", "--shock", "-3%")
# fmt: off
CASES: dict[str, Case] = {
    # item 7: 1e308 in a bundle, valid to the reader, overflowed in the engine and the JSON
    "info-big-liq": Case(("info", "{big_liq}", "--json"), "liquidations.csv, row at"),
    "info-big-price": Case(("info", "{big_price}", "--json"), "candles.csv, row at"),
    "sentiment-big-oi": Case(("sentiment", "{big_oi}", "--json"), "open_interest.csv, row at"),
    "score-big-oi": Case(("score", "{big_oi}", "--json"), "column 'oi_usd'"),
    "score-big-liq": Case(("score", "{big_liq}", "--json"), "column 'usd'"),
    "cascade-big-oi": Case(("cascade", "{big_oi}", "--shock", "-3%", "--json"), "column 'oi_usd'"),
    "levels-big-price": Case(("levels", "{big_price}", "--json"), "column 'open'"),
    "plan-big-volume": Case(("plan", "{big_volume}", "--entry", "100", *PLAN, "--json"), "column 'volume'"),
    "clusters-big-funding": Case(("clusters", "{big_funding}", "--json"), "funding.csv, row at"),
    "replay-big-oi": Case(("replay", "{big_oi}", "--out", "{out}"), "column 'oi_usd'", subprocess=True),
    "cascade-depth-1e308": Case((*MAP, "--depth-scale", "1e308", "--json"), "--depth-scale must be a number in"),
    "replay-turnover-1e308": Case(("replay", "{base}", "--out", "{out}", "--set", "turnover_per_hour=1e308"),
                                  "--set turnover_per_hour must be in [0, 10]", subprocess=True),
    "score-exponent-nan": Case(("score", "{base}", "--set", "half_life_exponent=nan"), "--set half_life_exponent"),
    # item 8: tracebacks
    "levels-tiny-price": Case(("levels", "{tiny_price}"), "candles.csv, row at"),
    "plan-entry-5e-324": Case(("plan", "{base}", "--entry", "5e-324", *PLAN), "--entry must be a number in",
                              subprocess=True),
    "plan-leverage-huge": Case(("plan", "{base}", "--entry", "100", *PLAN[:2], "--leverage", "1e9", *PLAN[4:]), "--leverage"),
    "replay-bin-width-1e-9": Case(("replay", "{base}", "--out", "{out}", "--set", "bin_width=1e-9"), "--set bin_width",
                                  subprocess=True),
    "replay-bin-width-grid": Case(("replay", "{base}", "--out", "{out}", "--set", "bin_width=1e-6"),
                                  "--set bin_width 1e-06 needs"),
    "heatmap-bin-width-grid": Case(("heatmap", "{base}", "--out", "{dir}/h.png", "--set", "bin_width=1e-6"), "--set bin_width"),
    "params-file-types": Case(("replay", "{base}", "--out", "{out}", "--params", "{dir}/params.json"), "params.json: bin_width"),
    "replay-out-folder": Case(("replay", "{base}", "--out", "{dir}"), "--out", subprocess=True),
    "replay-out-proc": Case(("replay", "{base}", "--out", "/proc/liqheat-test.csv"), "/proc/liqheat-test.csv: cannot write"),
    "replay-out-under-file": Case(("replay", "{base}", "--out", "{file}/x.csv"), "is not a folder"),
    "heatmap-out-folder": Case(("heatmap", "{base}", "--out", "{dir}/map.png", "--window", "1d"), "is a folder, not a file"),
    "fit-out-folder": Case(("fit", "{base}", "--out", "{dir}"), "--out"),
    "convert-out-proc": Case(("convert", "{base}", "--out", "/proc/liqheat-test"), "--out /proc/liqheat-test: cannot write"),
    "convert-out-under-file": Case(("convert", "{base}", "--out", "{file}/b"), "is not a folder"),
    "replay-ulimit-f": Case(("replay", "{base}", "--out", "{out}"), "cannot write (", subprocess=True, fsize=4096),
    "convert-ulimit-f": Case(("convert", "{base}", "--out", "{dir}/copy", "--format", "csv"), "cannot write (",
                             subprocess=True, fsize=4096),
    "import-store-file": Case(("import", "binance-forceorder", "{dir}/fo.csv", "--store", "{file}"), "--store",
                              subprocess=True),
    "import-store-under-file": Case(("import", "binance-forceorder", "{dir}/fo.csv", "--store", "{file}/s"), "--store"),
    "liquidations-store-file": Case(("liquidations", "--store", "{file}"), "--store"),
    "export-store-file": Case(("export", "--out", "{dir}/b", "--venue", "binance", "--symbol", "BTCUSDT", "--timeframe", "1h",
                               "--store", "{file}"), "a-file: is a file, not a folder"),
    "screen-store-file": Case(("screen", "--store", "{file}"), "a-file: is a file, not a folder"),
    "import-home-file": Case(("import", "binance-forceorder", "{dir}/fo.csv"), "$LIQHEAT_HOME",
                             subprocess=True, env=(("LIQHEAT_HOME", "{file}"),)),
    # item 9
    "cascade-depth-1e-300": Case((*MAP, "--depth-scale", "1e-300"), "--depth-scale must be a number in", subprocess=True),
    "cascade-book-too-thin": Case((*MAP, "--depth-scale", "1e-4", "--json"), "--depth-scale: the book is too thin for this map"),
}
# fmt: on


def lines(text: str) -> list[str]:
    """What the user reads, without a usage line typer may print and blank lines."""
    out = [" ".join(_ANSI.sub("", line).split()) for line in text.splitlines()]
    return [line for line in out if line and not line.startswith(("Usage:", "Try "))]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_line_and_exit_2(
    name: str, bundles: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    place = tmp_path / "run"
    (place / "folder").mkdir(parents=True)
    (place / "folder" / "params.json").write_text('{"bin_width": "0.001"}', encoding="utf-8")
    (place / "folder" / "fo.csv").write_text(FORCEORDER, encoding="utf-8")
    (place / "folder" / "map.png").mkdir()
    (place / "a-file").write_text("not a folder\n", encoding="utf-8")
    (place / "old.csv").write_text("the old file\n", encoding="utf-8")
    fill = {**{k: str(v) for k, v in bundles.items()}, "out": str(place / "old.csv"), "dir": str(place / "folder"),
            "file": str(place / "a-file")}  # fmt: skip
    args = [a.format(**fill) for a in case.args]
    env = {k: v.format(**fill) for k, v in case.env}
    before = snapshot(place)
    if case.subprocess:
        fsize = case.fsize

        def limit() -> None:
            if fsize is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        done = subprocess.run(
            [sys.executable, "-m", "liqheat.cli.main", *args],
            capture_output=True, text=True, env={**os.environ, "LIQHEAT_HOME": str(tmp_path / "home"), "COLUMNS": "300", **env},
            preexec_fn=limit, timeout=120,
        )  # fmt: skip
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    else:
        for key, value in {"LIQHEAT_HOME": str(tmp_path / "home"), **env}.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    said = lines(stdout) + lines(stderr)
    assert code == 2, f"exit {code}: {stdout}{stderr}"
    assert "Traceback" not in stdout + stderr
    assert len(said) == 1, said
    assert said[0].startswith("error: ")
    assert case.names in said[0], said[0]
    assert snapshot(place) == before  # nothing written, the old file intact, no temporary left behind
    assert not Path("/proc/liqheat-test.csv").exists()
