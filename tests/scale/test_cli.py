"""liqheat backfill's options: bad ones exit 2 naming the option, before a cluster starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqheat.cli.common import app


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--symbols", " , ", "--since", "2026-01-01"], "--symbols"),
        (["--symbols", "BTCUSDT", "--since", "2026-01-10", "--until", "2026-01-20"], "--until"),
        (["--symbols", "BTCUSDT", "--since", "yesterday-ish"], "--since"),
        (["--symbols", "BTCUSDT", "--since", "2026-01-01", "--timeframe", "7q"], "timeframe"),
        (["--symbols", "BTCUSDT", "--since", "2026-01-01", "--workers", "0"], "--workers"),
        (["--symbols", "BTCUSDT", "--since", "2026-01-01", "--frame-hours", "0"], "--frame-hours"),
        (["--symbols", "BTCUSDT", "--since", "2026-01-01", "--set", "bin_width=-1"], "--set bin_width"),
        (["--symbols", "BTCUSDT,BTC/USDT:USDT", "--since", "2026-01-01"], "twice"),
        (["--symbols", "BTCUSDT", "--since", "2026-01-01", "--venues", "nowhere"], "nowhere"),
    ],
)
def test_a_bad_option_exits_2_naming_it(args: list[str], named: str, tmp_path: Path) -> None:
    until = [] if "--until" in args else ["--until", "2026-03-01"]
    result = CliRunner().invoke(app, ["backfill", *args, *until, "--store", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_a_market_the_store_lacks_is_refused_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["backfill", "--symbols", "BTCUSDT", "--since", "2026-01-01", "--until", "2026-03-01",
                                      "--store", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "no 1m candles of binance BTC/USDT:USDT" in result.output
    assert not (tmp_path / "predictions").exists()
