"""``liqheat onchain aave-map``: the exact level table of an Aave snapshot, its JSON, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from helpers import SHARED_AAVE, write_aave_snapshot
from liqheat.cli.main import app


def run(*args: object) -> Result:
    import liqheat.cli.onchain  # noqa: F401  (registers the group)

    return CliRunner().invoke(app, ["onchain", "aave-map", *(str(a) for a in args)])


def fits(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(line for line in lines if len(line) > 80)
    assert not any("…" in line for line in lines), result.stdout  # a value rich had to cut
    return lines


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_aave_snapshot(tmp_path / "snap")


def test_the_table_fits_80_columns_and_says_what_was_set_aside(folder: Path) -> None:
    lines = fits(run(folder, "--bands", "1000", "--depth", "80%"))
    assert "Aave: BTC 60,000 on 2026-02-24, 3 positions, 4 BTC" in lines[0]
    row = next(line for line in lines if line.lstrip().startswith("25,000–26,000"))
    assert row.split()[1:5] == ["-57.5%", "$21.00k", "0.8", "1"]  # 0xa's first call: half its $40,000, 5 % bonus
    assert "set aside: 1 accounts on V2 (its reserve parameters are not shipped)" in lines
    assert "set aside: 1 accounts with HF < 1 at the snapshot price (collateral it lacks)" in lines
    assert "unpriced debts: WETH 1 (--price SYMBOL=USD)" in lines
    assert not any(line.lstrip().startswith("59,000") for line in lines)  # empty bands are left out


def test_json_has_every_band_and_the_set_aside(folder: Path) -> None:
    result = run(folder, "--bands", "5%", "--depth", "60%", "--price", "WETH=2000", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["asset"], data["price"], data["positions"], data["kind"]) == ("BTC", 60_000.0, 4, "exact")
    assert len(data["bands"]) == 24  # ±60 % in 5 % bands
    assert data["unpriced_debts"] == {}
    assert data["set_aside"]["on V2 (its reserve parameters are not shipped)"] == 1
    first = next(b for b in data["bands"] if b["low"] <= 40_000 / 1.56 < b["high"])
    assert first["long_usd"] == pytest.approx(21_000.0)
    assert first["long_positions"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bands", "wide"), "--bands must be a width in USD (1000) or a percentage of the price (2%), got 'wide'"),
        (("--depth", "150%"), "--depth must be within (0 %, 100 %), got '150%'"),
        (("--price", "WETH"), "--price must be SYMBOL=USD with a price > 0 (WETH=1850), got 'WETH'"),
        (("--asset", "DOGE"), "--asset must be one of BTC, ETH, got 'DOGE'"),
        (("--asset", "ETH"), "a map on ETH needs the price of WETH: give WETH=USD (--price)"),
    ],
)
def test_bad_options_exit_2_naming_the_flag(folder: Path, args: tuple[str, ...], message: str) -> None:
    result = run(folder, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_a_folder_that_is_no_snapshot_is_named(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.exit_code == 2
    assert f"{tmp_path / 'btc_price_history.parquet'}: not found" in "".join(result.stderr.split("\n"))


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_AAVE.is_dir(), reason=f"needs the shared Aave snapshot at {SHARED_AAVE}")
def test_the_shared_snapshot_map() -> None:
    lines = fits(run(SHARED_AAVE))
    assert lines[0].strip().startswith("Aave: BTC 64,406 on 2026-02-24, 1,552 positions")
    assert sum(line.lstrip()[:1].isdigit() for line in lines) == 15  # every 2 % band down to -30 % holds levels
