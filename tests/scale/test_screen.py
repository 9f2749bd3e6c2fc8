"""``liqheat screen`` on Dask: one task a market, read by the worker; the ranking is the single-process one."""

from __future__ import annotations

import json
from pathlib import Path

from distributed import LocalCluster
from typer.testing import CliRunner

from api.data import build_bundle
from helpers import walk, write_venue
from liqheat.bundle import write_bundle
from liqheat.cli.main import app
from liqheat.store.parquet_store import Store


def test_a_screen_on_a_cluster_is_the_screen_of_one_process(demo_dir: Path, tmp_path: Path) -> None:
    import liqheat.cli.trader  # noqa: F401  (registers screen)

    other = write_bundle(build_bundle(n=10 * 24, seed=8), tmp_path / "other", fmt="csv")
    store = Store(tmp_path / "store")
    write_venue(store, "binance", walk(3 * 1440), 7e9)
    args = ["screen", str(demo_dir), str(other), "--store", str(store.root), "--timeframe", "1m", "--json"]
    here = CliRunner().invoke(app, args)
    assert here.exit_code == 0, here.output
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        there = CliRunner().invoke(app, [*args, "--scheduler", cluster.scheduler_address])
    assert there.exit_code == 0, there.output
    rows = json.loads(here.stdout)
    assert json.loads(there.stdout) == rows
    assert {r["market"] for r in rows} == {"demo", "other", "binance:BTC/USDT:USDT"}


def test_a_bundle_that_does_not_read_fails_the_screen_naming_it_on_a_cluster_too(tmp_path: Path) -> None:
    import liqheat.cli.trader  # noqa: F401

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "meta.json").write_text("{", encoding="utf-8")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        result = CliRunner().invoke(app, ["screen", str(bad), "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 2
    assert "meta.json" in result.output
    assert "Traceback" not in result.output
