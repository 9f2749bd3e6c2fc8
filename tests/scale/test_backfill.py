"""liqheat backfill: the single-process path is one uninterrupted replay, a cluster gives its store byte for byte,
and a worker or the client killed mid-run, then resumed, gives it too."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, MarketView
from liqheat.evaluation.synthetic.stored import store_markets
from liqheat.model import DomainError, Market
from liqheat.scale.backfill import backfill
from liqheat.scale.plan import Job, months_between
from liqheat.scale.work import Result
from liqheat.store import partitions
from liqheat.store.aggregate import Feed, aggregate
from liqheat.store.parquet_store import Series, Store
from liqheat.store.remote import UrlStore, open_store
from liqheat.timeutil import epoch_micros

SINCE, UNTIL = pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-04-01T00:00Z")
MARKETS = 4


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Market]]:
    """A store of 4 synthetic markets × 3 months of 1-minute candles, nothing backfilled."""
    root = tmp_path_factory.mktemp("source")
    store = Store(root)
    with store.writer():
        markets = store_markets(store, MARKETS, start=SINCE, days=90)
    return root, markets


def _copy(source: Path, to: Path) -> Store:
    shutil.copytree(source, to)
    return Store(to)


def _jobs(markets: list[Market], params: ModelParams | None = None, since: pd.Timestamp = SINCE) -> list[Job]:
    months = months_between(since, UNTIL)
    return [Job(("binance",), (m,), "1m", months, params or ModelParams(), 24.0) for m in markets]


def _files(root: Path) -> dict[str, bytes]:
    """Every file under predictions/, by path (hidden temporaries included: there must be none)."""
    base = root / "predictions"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def single(source: tuple[Path, list[Market]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The store the single-process path writes."""
    root, markets = source
    store = _copy(root, tmp_path_factory.mktemp("single") / "store")
    report = backfill(store, _jobs(markets))
    assert report.committed == MARKETS * 3
    assert not report.failed
    return _files(store.root)


def test_the_single_process_path_is_one_uninterrupted_replay(source: tuple[Path, list[Market]], tmp_path: Path) -> None:
    root, markets = source
    store = _copy(root, tmp_path / "store")
    backfill(store, _jobs(markets[:2]))
    for market in markets[:2]:
        candles = store.read(Series("candles", "binance", market.unified, "1m"))
        oi = store.read(Series("open_interest", "binance", market.unified))
        funding = store.read(Series("funding", "binance", market.unified))
        view = MarketView.from_arrays(
            ts=epoch_micros(candles["ts"]),
            candles={c: candles[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume", "taker_buy_volume")},
            oi=(epoch_micros(oi["ts"]), oi["oi_usd"].to_numpy(np.float64)),
            funding=(epoch_micros(funding["ts"]), funding["rate"].to_numpy(np.float64)),
            timeframe_us=60_000_000,
            symbol=market.base,
        )
        expected, _, _ = Engine.for_view(view, ModelParams()).run(view)
        stored = store.read(Series("predictions", "binance", market.unified, "1m"))
        got = stored[["swept_long", "swept_short", "intra_long", "intra_short"]].to_numpy(np.float64)
        assert len(stored) == len(view) == 90 * 1440
        assert got.tobytes() == expected.tobytes()
        assert expected[:, 0].sum() > 0
        assert expected[:, 1].sum() > 0


def test_a_cluster_of_two_workers_writes_the_single_process_store(
    source: tuple[Path, list[Market]], single: dict[str, bytes], tmp_path: Path
) -> None:
    root, markets = source
    store = _copy(root, tmp_path / "store")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        report = backfill(store, _jobs(markets), client=client)
    assert report.committed == MARKETS * 3
    assert _files(store.root) == single


def test_a_worker_killed_mid_partition_then_resumed_writes_the_same_store(
    source: tuple[Path, list[Market]], single: dict[str, bytes], tmp_path: Path
) -> None:
    root, markets = source
    store = _copy(root, tmp_path / "store")
    killed: list[int] = []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)

        def kill_a_busy_worker(result: Result, fresh: bool) -> None:
            if killed:
                return
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:  # a worker with a partition under way (each has one thread: its first is running)
                killed.append(pids[busy[0]])
                os.kill(pids[busy[0]], signal.SIGKILL)

        first = backfill(store, _jobs(markets), client=client, on_done=kill_a_busy_worker)
        assert killed
        again = backfill(store, _jobs(markets), client=client)
    assert first.committed + again.committed == MARKETS * 3
    assert again.already == MARKETS * 3 - again.committed
    assert _files(store.root) == single


def test_a_killed_client_leaves_whole_months_and_the_rerun_finishes(
    source: tuple[Path, list[Market]], single: dict[str, bytes], tmp_path: Path
) -> None:
    root, markets = source
    store = _copy(root, tmp_path / "store")
    command = [
        sys.executable, "-m", "liqheat", "backfill", "--symbols", ",".join(m.unified for m in markets),
        "--since", "2026-01-01", "--until", "2026-04-01", "--store", str(store.root), "--workers", "1",
    ]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not list((store.root / "predictions").glob("*/*/*/month=*")) and run.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    months = list((store.root / "predictions").glob("*/*/*/month=*"))
    assert months
    for month in months:
        assert sorted(p.name for p in month.iterdir()) == sorted(partitions.FILES)
    report = backfill(store, _jobs(markets))
    assert report.already >= 1
    assert report.already + report.committed == MARKETS * 3
    assert _files(store.root) == single


def test_a_commit_is_once_and_only_by_the_writer(source: tuple[Path, list[Market]], tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    files = {name: name.encode() for name in partitions.FILES}
    with pytest.raises(DomainError, match="writer lock"):
        partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", files)
    with store.writer():
        assert partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", files)
        assert not partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", {n: b"other" for n in files})
        with pytest.raises(DomainError, match="files"):
            partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-02", {"data.parquet": b""})
    assert partitions.read_file(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", "meta.json") == b"meta.json"
    assert partitions.done(store, ("binance",), "X/USDT:USDT", "1m") == {"2026-01"}


def test_the_next_writer_removes_a_partition_left_half_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    folder = partitions.folder(store.root, ("binance",), "X/USDT:USDT", "1m")
    left = folder / ".month=2026-01.ab12cd34.tmp"
    left.mkdir(parents=True)
    (left / "data.parquet").write_bytes(b"half")
    with store.writer():
        assert left in store.recovered
    assert not left.exists()
    assert partitions.done(store, ("binance",), "X/USDT:USDT", "1m") == set()


def test_resuming_a_chain_started_elsewhere_or_with_other_parameters_is_refused(
    source: tuple[Path, list[Market]], tmp_path: Path
) -> None:
    root, markets = source
    store = _copy(root, tmp_path / "store")
    backfill(store, [Job(("binance",), (markets[0],), "1m", ("2026-01",), ModelParams(), 24.0)])
    later = months_between(pd.Timestamp("2026-01-01T00:00Z"), UNTIL)
    with pytest.raises(DomainError, match="other parameters") as other:
        backfill(store, [Job(("binance",), (markets[0],), "1m", later, ModelParams(half_life_hours=48.0), 24.0)])
    assert "--set" in str(other.value)
    meta = partitions.month_folder(store.root, ("binance",), markets[0].unified, "1m", "2026-01") / "meta.json"
    meta.write_text(meta.read_text().replace('"chain_start": "2026-01"', '"chain_start": "2025-12"'))
    with pytest.raises(DomainError, match="--since 2025-12") as elsewhere:
        backfill(store, [Job(("binance",), (markets[0],), "1m", later, ModelParams(), 24.0)])
    assert elsewhere.value.param == "since"


def test_months_are_whole_calendar_months_before_until() -> None:
    assert months_between(pd.Timestamp("2026-01-15T00:00Z"), pd.Timestamp("2026-03-10T00:00Z")) == ("2026-01", "2026-02")
    with pytest.raises(DomainError, match="no whole month") as refused:
        months_between(pd.Timestamp("2026-01-15T00:00Z"), pd.Timestamp("2026-01-20T00:00Z"))
    assert refused.value.param == "until"


def test_a_venue_set_is_the_aggregated_market_replayed_without_a_break(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with store.writer():
        for venue in ("binance", "bybit"):
            (market,) = store_markets(store, 1, start=SINCE, days=59, venue=venue, seed=5 if venue == "binance" else 6)
    months = months_between(SINCE, pd.Timestamp("2026-03-01T00:00Z"))
    job = Job(("binance", "bybit"), (market, market), "1m", months, ModelParams(), 24.0)
    report = backfill(store, [job])
    assert report.committed == 2
    assert not report.failed
    whole = aggregate(store, [Feed("binance", market), Feed("bybit", market)], "1m").bundle
    view = MarketView.from_bundle(whole)
    expected, _, _ = Engine.for_view(view, ModelParams()).run(view)
    stored = store.read(Series("predictions", "binance.bybit", market.unified, "1m"))
    assert len(stored) == len(view) == 59 * 1440
    assert stored[["swept_long", "swept_short", "intra_long", "intra_short"]].to_numpy().tobytes() == expected.tobytes()


def test_a_store_at_a_url_is_backfilled_to_the_same_files(single: dict[str, bytes]) -> None:
    url = f"memory://liqheat-test-{os.getpid()}/store"
    store = open_store(url)
    assert isinstance(store, UrlStore)
    try:
        with store.writer():
            markets = store_markets(store, MARKETS, start=SINCE, days=90)
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):  # threads share the process's memory file system
            report = backfill(store, _jobs(markets[:2]), client=client)
        assert report.committed == 6
        again = backfill(store, _jobs(markets))
        assert (again.already, again.committed) == (6, 6)
        base = f"{store.path(store.root)}/predictions/"
        got = {path.removeprefix(base): store.fs.cat_file(path) for path in sorted(store.fs.find(base))}
        assert got == single
        assert not (Path(store.path(store.root)) / "predictions").exists()  # nothing on the local disk
    finally:
        store.fs.rm(f"{store.path(store.root)}", recursive=True)


def test_on_a_url_a_month_is_done_once_its_marker_is_there() -> None:
    store = open_store(f"memory://liqheat-marker-{os.getpid()}/store")
    assert isinstance(store, UrlStore)
    month = partitions.month_folder(store.root, ("binance",), "X/USDT:USDT", "1m", "2026-01")
    try:
        store.fs.pipe_file(store.path(month / "data.parquet"), b"left by a killed commit")
        assert partitions.done(store, ("binance",), "X/USDT:USDT", "1m") == set()
        files = {name: name.encode() for name in partitions.FILES}
        with pytest.raises(DomainError, match="writer lock"):
            partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", files)
        with store.writer():
            assert partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", files)
            assert not partitions.commit(store, ("binance",), "X/USDT:USDT", "1m", "2026-01", files)
        assert partitions.done(store, ("binance",), "X/USDT:USDT", "1m") == {"2026-01"}
        assert store.fs.cat_file(store.path(month / "data.parquet")) == b"data.parquet"
    finally:
        store.fs.rm(store.path(store.root), recursive=True)
