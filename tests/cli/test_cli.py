"""The ``liqheat`` command line: calc, demo, info, convert (in-process, plus the real console script)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

# importing these registers the calc and demo commands on the app
import liqheat.cli.calc
import liqheat.cli.demo  # noqa: F401
from liqheat import __version__
from liqheat.cli.main import app
from liqheat.venues.calc import calculate, position_from_inputs

REPO = Path(__file__).resolve().parents[2]
SHARED_BUNDLE = REPO.parent / "shared" / "data" / "bundles" / "btc-agg-1h-dec-feb"
needs_shared = pytest.mark.skipif(not (SHARED_BUNDLE / "meta.json").is_file(), reason=f"shared bundle {SHARED_BUNDLE} is absent")

runner = CliRunner()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def text(s: str) -> str:
    """Output without colour codes and with every run of whitespace (rich's line wrapping) made one space."""
    return " ".join(_ANSI.sub("", s).split())


def calc(
    venue: str = "binance",
    symbol: str = "BTCUSDT",
    side: str = "long",
    entry: object = 60_000,
    leverage: float = 20,
    size: float = 1,
    extra: tuple[object, ...] = (),
) -> Result:
    return run(
        "calc",
        "--venue",
        venue,
        "--symbol",
        symbol,
        "--side",
        side,
        "--entry",
        entry,
        "--leverage",
        leverage,
        "--size",
        size,
        *extra,
    )


def calc_json(*args: Any, extra: tuple[object, ...] = (), **kwargs: Any) -> dict[str, Any]:
    result = calc(*args, extra=(*extra, "--json"), **kwargs)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(result.stdout)  # the whole of stdout is one JSON document ...
    assert isinstance(data, dict)  # ... and it is an object
    return data


def library(venue: str, symbol: str, side: str, entry: float, leverage: float, size: float, **kwargs: Any) -> dict[str, Any]:
    position, vt = position_from_inputs(venue, symbol, side, entry, leverage, size, **kwargs)
    return calculate(venue, position, table=vt).to_dict()


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""  # nothing half-printed on stdout
    message = text(result.stderr)
    for fragment in fragments:
        assert fragment in message, message


def test_all_commands_are_registered() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("calc", "demo", "info", "convert"):
        assert command in result.stdout


def test_version_is_the_one_version_string() -> None:
    result = run("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"liqheat {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    # the installed metadata reads liqheat.__version__ (pyproject's dynamic version): one string, not two
    assert version("liqheat") == __version__


# ------------------------------------------------------------------------------------ calc


def test_calc_json_is_the_library_result() -> None:
    data = calc_json()
    expected = library("binance", "BTCUSDT", "long", 60_000, 20, 1)
    assert data == json.loads(json.dumps(expected))
    price = data["liquidation_price"]
    assert isinstance(price, float)
    # Binance USD-M: LP = (WB + cum − Q·EP) / (Q·MMR − Q) with WB = 3,000, MMR 0.4 %, cum 0
    assert price == pytest.approx((3_000 - 60_000) / (0.004 - 1), rel=1e-12)
    assert price == pytest.approx(57_228.92, abs=0.005)
    for key in ("bracket", "maintenance_margin", "distance_pct"):
        assert key in data
    assert data["bracket"]["tier"] == 1
    assert data["bracket"]["mmr"] == 0.004
    assert data["maintenance_margin"] == pytest.approx(price * 0.004)
    assert data["distance_pct"] == pytest.approx((price / 60_000 - 1) * 100)
    assert data["symbol"] == "BTC/USDT:USDT"
    assert data["liquidatable"] is True


def test_calc_human_output() -> None:
    result = calc()
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    assert "mark price" in out
    assert "liquidation price 57,228.92" in out
    assert "(-4.62% from entry)" in out
    assert "bankruptcy 57,000.00" in out
    assert "tier 1" in out


def test_short_liquidates_above_entry() -> None:
    data = calc_json(side="short")
    assert data["side"] == "short"
    assert data["liquidation_price"] > 60_000
    assert data["distance_pct"] > 0
    # short: LP = (WB + Q·EP) / (Q·MMR + Q)
    assert data["liquidation_price"] == pytest.approx((3_000 + 60_000) / 1.004, rel=1e-12)
    assert "liquidation price 62,749.00" in text(calc(side="SHORT").stdout)


def test_inverse_binance_coinm() -> None:
    data = calc_json(symbol="BTCUSD_PERP", size=600)
    assert data["symbol"] == "BTC/USD:BTC"
    assert data["contract"] == "inverse"
    assert data["contract_size"] == 100
    assert data["size_contracts"] == 600
    assert data["size_base"] == pytest.approx(1.0)
    assert data["settle_currency"] == "BTC"
    assert data["bracket"]["unit"] == "BTC"
    assert data["initial_margin"] == pytest.approx(0.05)
    expected = library("binance", "BTCUSD_PERP", "long", 60_000, 20, 600)
    assert data["liquidation_price"] == pytest.approx(expected["liquidation_price"])
    assert 57_000 < data["liquidation_price"] < 60_000
    human = text(calc(symbol="BTCUSD_PERP", size=600).stdout)
    assert "100 USD face value" in human


def test_cross_margin_with_balance() -> None:
    data = calc_json(extra=("--margin-mode", "cross", "--balance", 5_000))
    assert data["margin_mode"] == "cross"
    assert data["collateral"] == 5_000
    assert data["liquidation_price"] == pytest.approx((5_000 - 60_000) / (0.004 - 1), rel=1e-12)
    expected = library("binance", "BTCUSDT", "long", 60_000, 20, 1, margin_mode="cross", balance=5_000)
    assert data["liquidation_price"] == pytest.approx(expected["liquidation_price"])
    assert any("Cross margin" in note for note in data["notes"])


def test_cross_margin_that_covers_any_move() -> None:
    data = calc_json(extra=("--margin-mode", "cross", "--balance", 100_000))
    assert data["liquidatable"] is False
    assert data["liquidation_price"] == 0.0
    assert data["distance_pct"] is None
    result = calc(extra=("--margin-mode", "cross", "--balance", 100_000))
    assert "no liquidation price" in text(result.stdout)


@pytest.mark.parametrize(
    ("venue", "symbol", "size", "settle", "expected"),
    [
        # OKX: equity = contracts·ctVal·mark·(MMR + taker) → 57,000 / (1 − 0.004 − 0.0005)
        ("okx", "BTC-USDT-SWAP", 1, "USDT", 57_000 / (1 - 0.004 - 0.0005)),
        # Hyperliquid: price − (margin − maintenance at entry) / size / (1 − 1/(2·40))
        ("hyperliquid", "BTC", 1, "USDC", 60_000 - (3_000 - 750) / (1 - 0.0125)),
        # Bybit UTA: (EP·Q − EP·Q/lev) / (Q − Q·MMR) with MMR 0.5 %
        ("bybit", "BTCUSDT", 1, "USDT", 57_000 / (1 - 0.005)),
        # Bybit classic: EP − (IM − MM at entry) / size
        ("bybit-classic", "BTCUSDT", 1, "USDT", 60_000 - (3_000 - 300)),
        ("bybit", "BTCUSD", 60_000, "BTC", None),
    ],
)
def test_other_venues(venue: str, symbol: str, size: float, settle: str, expected: float | None) -> None:
    data = calc_json(venue, symbol, "long", 60_000, 20, size)
    assert data["venue"] == venue
    assert data["settle_currency"] == settle
    assert data["liquidation_price"] == pytest.approx(library(venue, symbol, "long", 60_000, 20, size)["liquidation_price"])
    assert 55_000 < data["liquidation_price"] < 60_000
    if expected is not None:
        assert data["liquidation_price"] == pytest.approx(expected, rel=1e-9)
    short = calc_json(venue, symbol, "short", 60_000, 20, size)
    assert 60_000 < short["liquidation_price"] < 65_000


def test_okx_size_is_base_units_converted_to_contracts() -> None:
    data = calc_json("okx", "BTC-USDT-SWAP", "long", 60_000, 20, 2)
    assert data["contract_size"] == 0.01
    assert data["size_contracts"] == pytest.approx(200)
    assert data["size_base"] == pytest.approx(2)
    assert data["fee_rate"] == 0.0005


def test_table_file_replaces_the_shipped_table(tmp_path: Path) -> None:
    custom = {
        "venue": "binance",
        "symbol": "BTCUSDT",
        "unified": "BTC/USDT:USDT",
        "contract": "linear",
        "contract_size": 1,
        "notional_unit": "USDT",
        "source": "unit test",
        "as_of": "2025-01-01",
        "tiers": [{"floor": 0, "cap": None, "max_leverage": 50, "mmr": 0.01, "maint_amount": 0}],
    }
    path = tmp_path / "table.json"
    path.write_text(json.dumps(custom), encoding="utf-8")
    data = calc_json(extra=("--table", path))
    assert data["bracket"]["mmr"] == 0.01
    assert data["bracket"]["cap"] is None
    assert data["table_source"] == "unit test"
    assert data["liquidation_price"] == pytest.approx(57_000 / 0.99)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("nowhere", "BTCUSDT", "long", 60_000, 20, 1), ("unknown venue 'nowhere'", "binance", "hyperliquid")),
        (("binance", "FOOBAR", "long", 60_000, 20, 1), ("cannot read symbol 'FOOBAR'",)),
        (("binance", "ETH/USDT:BTC", "long", 60_000, 20, 1), ("settle currency BTC",)),
        (("binance", "DOGEUSDT", "long", 0.1, 20, 1), ("no binance bracket table for DOGE/USDT:USDT", "--table")),
        (("binance", "BTCUSDT", "up", 60_000, 20, 1), ("side must be long or short", "'up'")),
        (("binance", "BTCUSDT", "long", -5, 20, 1), ("entry price must be", "-5")),
        (("binance", "BTCUSDT", "long", 0, 20, 1), ("entry price must be",)),
        (("binance", "BTCUSDT", "long", 60_000, 0, 1), ("leverage must be ≥ 1",)),
        (("binance", "BTCUSDT", "long", 60_000, 20, 0), ("size must be a number > 0",)),
        (("binance", "BTCUSDT", "long", 60_000, 20, -1), ("size must be a number > 0",)),
        (("hyperliquid", "BTC", "long", 60_000, 100, 1), ("leverage 100x exceeds the 40x maximum of tier 1", "Hyperliquid")),
        (("binance", "BTCUSDT", "long", 60_000, 151, 1), ("leverage 151x exceeds the 150x maximum",)),
        (("okx", "BTC-USD-SWAP", "long", 60_000, 20, 1), ("OKX has no inverse perpetuals",)),
        (("okx", "BTC-USDT-SWAP", "long", 60_000, 20, 100), ("exceeds the largest okx tier", "1,000 contracts")),
        (("binance", "BTCUSDT", "long", 60_000, 20, 1, "--margin-mode", "cross"), ("--margin-mode cross needs --balance",)),
        (("binance", "BTCUSDT", "long", 60_000, 20, 1, "--balance", 5_000), ("--balance is for cross margin",)),
        (
            ("binance", "BTCUSDT", "long", 60_000, 20, 1, "--margin-mode", "cross", "--balance", 5_000, "--margin", 100),
            ("--margin is for isolated",),
        ),
        (("binance", "BTCUSDT", "long", 60_000, 20, 1, "--margin-mode", "hedge"), ("margin mode must be isolated or cross",)),
        (("bybit", "BTCUSDT", "long", 60_000, 20, 1, "--fee-rate", 0.2), ("fee rate must be",)),
        (("binance", "BTCUSDT", "long", 60_000, 20, 1, "--margin", 1), ("below maintenance margin already at its entry",)),
    ],
    ids=lambda v: " ".join(map(str, v))[:60] if isinstance(v, tuple) else str(v),
)
def test_calc_bad_arguments(args: tuple[Any, ...], fragments: tuple[str, ...]) -> None:
    assert_usage_error(calc(*args[:6], extra=args[6:]), *fragments)


def test_calc_table_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert_usage_error(calc(extra=("--table", missing)), str(missing), "cannot read bracket table")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json {", "cannot read bracket table"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"unified": "BTC/USDT:USDT"}', "missing key"),
    ],
)
def test_calc_table_file_not_a_table(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "table.json"
    path.write_text(content, encoding="utf-8")
    assert_usage_error(calc(extra=("--table", path)), str(path), fragment)


def test_calc_table_file_for_another_market(tmp_path: Path) -> None:
    shipped = REPO / "src" / "liqheat" / "venues" / "binance" / "tables" / "binance-usdm-ETHUSDT.json"
    assert_usage_error(calc(extra=("--table", shipped)), "table file is for ETH/USDT:USDT, not BTC/USDT:USDT")


def test_calc_table_file_with_nan_maint_amount(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    path.write_text(
        '{"venue": "binance", "unified": "BTC/USDT:USDT", "contract": "linear", "notional_unit": "USDT", "source": "t", '
        '"as_of": "2025-01-01", "tiers": [{"floor": 0, "cap": null, "max_leverage": 50, "mmr": 0.01, "maint_amount": NaN}]}',
        encoding="utf-8",
    )
    result = calc(extra=("--table", path, "--json"))
    assert_usage_error(result, "maint")


def test_calc_missing_and_malformed_options() -> None:
    missing = run("calc", "--venue", "binance", "--symbol", "BTCUSDT")
    assert missing.exit_code == 2
    assert "--side" in text(missing.output)
    malformed = calc(entry="sixty")
    assert malformed.exit_code == 2
    assert "--entry" in text(malformed.output)


# ------------------------------------------------------------------------------------ demo


def test_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run("demo", "--out", out, "--days", "2", "--no-serve")
    assert result.exit_code == 0, result.output
    text_out = text(result.stdout)
    assert "Synthetic market · simulated · 2 days of 1-minute candles (2,880)" in text_out
    assert "Calculator: 11/11 published venue examples reproduced" in text_out
    assert "Estimated vs true liquidation map" in text_out
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "bundle" / "candles.parquet").is_file()
    assert (out / "truth" / "positions.parquet").is_file()
    again = run("demo", "--out", out, "--days", "2", "--no-serve")
    assert again.exit_code == 0, again.output
    assert "Synthetic market · reused" in text(again.stdout)


def test_demo_rejects_a_bad_format(tmp_path: Path) -> None:
    assert_usage_error(run("demo", "--out", tmp_path, "--format", "xml"), "--format must be parquet or csv")


# ------------------------------------------------------------------------------------ info, convert


def write_small_bundle(folder: Path) -> Path:
    """Five hourly candles with one missing hour, and matching open interest."""
    folder.mkdir(parents=True)
    meta = {"symbol": "BTC", "contract": "linear", "quote": "USDT", "timeframe": "1h", "venues": ["binance"], "source": "unit"}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    hours = [0, 1, 2, 4, 5]
    candles = ["ts,open,high,low,close,volume"] + [
        f"2025-01-01T{h:02d}:00:00Z,{100 + h},{110 + h},{90 + h},{105 + h},{10 + h}" for h in hours
    ]
    oi = ["ts,oi_usd"] + [f"2025-01-01T{h + 1:02d}:00:00Z,{1e9 + h}" for h in hours]
    (folder / "candles.csv").write_text("\n".join(candles) + "\n", encoding="utf-8")
    (folder / "open_interest.csv").write_text("\n".join(oi) + "\n", encoding="utf-8")
    return folder


def info_json(path: Path) -> dict[str, Any]:
    result = run("info", path, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_info_small_bundle(tmp_path: Path) -> None:
    bundle = write_small_bundle(tmp_path / "small")
    data = info_json(bundle)
    assert data["tables"]["candles"]["rows"] == 5
    assert data["tables"]["candles"]["first"] == "2025-01-01T00:00:00Z"
    assert data["tables"]["candles"]["last"] == "2025-01-01T05:00:00Z"
    assert data["tables"]["candles"]["high"] == 115
    assert data["tables"]["open_interest"]["rows"] == 5
    candle_gaps = next(g for g in data["gaps"] if g["table"] == "candles")
    assert candle_gaps["count"] == 1
    assert candle_gaps["missing_steps"] == 1
    human = run("info", bundle)
    assert human.exit_code == 0
    assert "candles: 1 gap(s), 1 missing step(s) of 1h" in text(human.stdout)


def test_convert_to_parquet_then_info(tmp_path: Path) -> None:
    source = write_small_bundle(tmp_path / "csv")
    out = tmp_path / "parquet"
    result = run("convert", source, "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote" in text(result.stdout)
    assert sorted(p.name for p in out.iterdir()) == ["candles.parquet", "meta.json", "open_interest.parquet"]
    before, after = info_json(source), info_json(out)
    assert after["path"] == str(out)
    before.pop("path")
    after.pop("path")
    assert after == before


def test_convert_refuses_to_overwrite(tmp_path: Path) -> None:
    source = write_small_bundle(tmp_path / "csv")
    out = tmp_path / "out"
    assert run("convert", source, "--out", out).exit_code == 0
    stamp = (out / "candles.parquet").stat().st_mtime_ns
    assert_usage_error(run("convert", source, "--out", out), str(out), "already exists")
    assert (out / "candles.parquet").stat().st_mtime_ns == stamp  # untouched
    again = run("convert", source, "--out", out, "--overwrite", "--format", "csv")
    assert again.exit_code == 0, again.output
    assert (out / "candles.csv").is_file()
    assert not (out / "candles.parquet").exists()
    assert info_json(out)["tables"]["candles"]["rows"] == 5


def test_convert_rejects_unknown_format(tmp_path: Path) -> None:
    source = write_small_bundle(tmp_path / "csv")
    result = run("convert", source, "--out", tmp_path / "x", "--format", "xml")
    assert_usage_error(result, "--format must be csv or parquet", "'xml'")
    assert not (tmp_path / "x").exists()


def test_info_nonexistent_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert_usage_error(run("info", missing), str(missing), "not a folder")


def test_info_broken_bundle(tmp_path: Path) -> None:
    bundle = write_small_bundle(tmp_path / "broken")
    (bundle / "meta.json").write_text("{not json", encoding="utf-8")
    assert_usage_error(run("info", bundle), "meta.json", "not valid JSON")


@pytest.mark.shared
@needs_shared
def test_info_shared_bundle() -> None:
    result = run("info", SHARED_BUNDLE)
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    assert "2,078" in out  # candle rows
    assert "candles: 4 gap(s)" in out
    assert "open_interest: 4 gap(s)" in out
    data = info_json(SHARED_BUNDLE)
    assert data["tables"]["candles"]["rows"] == 2078
    assert data["tables"]["liquidations"]["rows"] == 4156
    assert {g["table"] for g in data["gaps"]} == {"candles", "open_interest"}


@pytest.mark.shared
@needs_shared
def test_convert_shared_bundle_to_parquet(tmp_path: Path) -> None:
    out = tmp_path / "btc"
    result = run("convert", SHARED_BUNDLE, "--out", out, "--format", "parquet")
    assert result.exit_code == 0, result.output
    assert "2,078 candles" in text(result.stdout)
    assert (out / "liquidations.parquet").is_file()
    before, after = info_json(SHARED_BUNDLE), info_json(out)
    assert after["tables"] == before["tables"]
    assert after["gaps"] == before["gaps"]


# ------------------------------------------------------------------------------------ console script


def test_console_script_runs_as_a_real_process() -> None:
    script = Path(sys.executable).parent / "liqheat"
    assert script.is_file(), f"console script missing: {script}"
    args = [
        str(script),
        "calc",
        "--venue",
        "binance",
        "--symbol",
        "BTCUSDT",
        "--side",
        "long",
        "--entry",
        "60000",
        "--leverage",
        "20",
        "--size",
        "1",
        "--json",
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert math.isclose(data["liquidation_price"], 57_228.9156626506, rel_tol=1e-12)
    bad = subprocess.run([*args[:3], "nowhere", *args[4:]], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "unknown venue 'nowhere'" in bad.stderr
    shown = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, f"liqheat {__version__}\n", "")


# ------------------------------------------------------------------------------------ user text is not markup


def test_error_message_keeps_square_brackets_in_a_path(tmp_path: Path) -> None:
    missing = tmp_path / "[old]" / "bundle"
    assert_usage_error(run("info", missing), str(missing))


def test_symbol_that_looks_like_a_closing_tag_is_a_usage_error() -> None:
    assert_usage_error(calc(symbol="[/x]"), "cannot read symbol '[/x]'")


def test_bundle_source_is_printed_verbatim(tmp_path: Path) -> None:
    bundle = write_small_bundle(tmp_path / "b")
    meta = json.loads((bundle / "meta.json").read_text(encoding="utf-8"))
    meta["source"] = "exchange export [see notes]"
    (bundle / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    result = run("info", bundle)
    assert result.exit_code == 0, result.output
    assert "exchange export [see notes]" in text(result.stdout)


def test_library_errors_name_parameters_and_the_cli_spells_them_as_flags() -> None:
    from liqheat.analytics.cascade import calibrated
    from liqheat.cli.common import flagged
    from liqheat.model import DomainError

    with pytest.raises(DomainError) as refused:
        calibrated("crash").scaled(0.0)
    assert refused.value.param == "depth_scale"
    assert not str(refused.value).startswith("--")
    assert flagged(refused.value).startswith("--depth-scale must be a number in [0.0001, 10000]")
    assert flagged(DomainError("no table here", param="table")) == "no table here (--table)"
    assert flagged(DomainError("--at is not an ISO 8601 time: 'x'", param="--at")) == "--at is not an ISO 8601 time: 'x'"
    assert flagged(ValueError("plain")) == "plain"
