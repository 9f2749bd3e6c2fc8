"""liqheat backfill's options: bad ones exit 2 naming the option, before a cluster starts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from liqheat.cli.common import app
from liqheat.evaluation.synthetic.stored import store_markets
from liqheat.store import partitions
from liqheat.store.parquet_store import Store


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


def test_backfill_on_a_running_scheduler_then_again_with_nothing_left(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with store.writer():
        (market,) = store_markets(store, 1, start=pd.Timestamp("2026-01-01T00:00Z"), days=59)
    args = ["backfill", "--symbols", market.unified, "--since", "2026-01-01", "--until", "2026-03-01", "--store", str(store.root)]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        first = CliRunner().invoke(app, [*args, "--scheduler", cluster.scheduler_address])
    assert first.exit_code == 0, first.output
    assert "/status (dashboard), 1 worker(s)" in first.output
    assert "2 partition(s) committed" in first.output
    assert partitions.done(store, ("binance",), market.unified, "1m") == {"2026-01", "2026-02"}
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "every partition of the 1 market(s) is in" in again.output
