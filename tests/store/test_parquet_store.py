"""The store: idempotent merges, one writer, atomic months, cursors, and a kill-and-resume run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from liqheat.model import DomainError
from liqheat.store.ingest import ingest_force_orders
from liqheat.store.parquet_store import Series, Store, read_month

RAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw" / "binance-forceorder-stream"
FILES = sorted(RAW.glob("*forceorder*.csv")) if RAW.is_dir() else []
needs_raw = pytest.mark.skipif(not FILES, reason=f"shared raw data {RAW} is absent")


def candles(start: str, n: int, p0: float = 100.0) -> pd.DataFrame:
    ts = pd.Series(pd.date_range(start, periods=n, freq="1h", tz="UTC").astype("datetime64[us, UTC]"))
    price = p0 + pd.Series(range(n), dtype=float)
    return pd.DataFrame({"ts": ts, "open": price, "high": price + 1, "low": price - 1, "close": price + 0.5})


def test_writes_merge_by_key_and_are_idempotent(tmp_path: Path) -> None:
    store = Store(tmp_path)
    series = Series("candles", "binance", "BTC/USDT:USDT", "1h")
    first = candles("2026-01-31T20:00:00Z", 10)  # crosses into February: two month files
    with store.writer():
        assert store.write(series, first) == 10
        assert store.write(series, first) == 0  # again: nothing new
        changed = first.iloc[3:6].assign(close=1.0)
        assert store.write(series, changed) == 0  # same keys: the newest values win, no duplicates
        assert store.write(series, candles("2026-02-01T06:00:00Z", 4)) == 4
    back = store.read(series)
    assert len(back) == 14
    assert back["ts"].is_unique
    assert back["ts"].is_monotonic_increasing
    assert (back.loc[3:5, "close"] == 1.0).all()
    months = sorted(p.parent.name for p in series.folder(tmp_path).glob("month=*/data.parquet"))
    assert months == ["month=2026-01", "month=2026-02"]
    window = store.read(series, since=pd.Timestamp("2026-02-01T00:00:00Z"), until=pd.Timestamp("2026-02-01T03:00:00Z"))
    assert window["ts"].tolist() == list(pd.date_range("2026-02-01", periods=3, freq="1h", tz="UTC"))


def test_one_writer_at_a_time_and_no_write_without_the_lock(tmp_path: Path) -> None:
    store = Store(tmp_path)
    other = Store(tmp_path)
    series = Series("candles", "binance", "BTC/USDT:USDT", "1h")
    with pytest.raises(DomainError, match="take the writer lock"):
        store.write(series, candles("2026-01-01", 2))
    with store.writer(), pytest.raises(DomainError, match="another process is writing"), other.writer():
        pass  # pragma: no cover - the second writer never gets in
    with other.writer():
        assert other.write(series, candles("2026-01-01", 2)) == 2  # free again after the first let go


def test_cursors_only_move_forward(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writer():
        store.advance("binance", "BTC/USDT:USDT", "force_orders", pd.Timestamp("2026-01-02T00:00:00Z"))
        store.advance("binance", "BTC/USDT:USDT", "force_orders", pd.Timestamp("2026-01-01T00:00:00Z"))
    assert store.cursor("binance", "BTC/USDT:USDT", "force_orders") == pd.Timestamp("2026-01-02T00:00:00Z")
    assert store.cursor("binance", "ETH/USDT:USDT", "force_orders") is None


def test_cursors_written_at_most_every_cursor_every_seconds_and_on_leaving_the_writer(tmp_path: Path) -> None:
    """A service's followers advance a cursor on every write; the file follows on a timer. The writer reads its own
    cursors at once, another reader the file, which is never ahead of the data and is whole once the writer leaves."""
    store, reader = Store(tmp_path), Store(tmp_path)
    day = [pd.Timestamp(f"2026-01-0{d}T00:00:00Z") for d in (1, 2, 3, 4)]
    store.cursor_every = 3600.0
    with store.writer():
        store.advance("binance", "BTC/USDT:USDT", "candles-1m", day[0])  # the first is written at once
        store.advance("binance", "BTC/USDT:USDT", "candles-1m", day[1])
        store.advance("bybit", "BTC/USDT:USDT", "candles-1m", day[2])
        assert store.cursor("binance", "BTC/USDT:USDT", "candles-1m") == day[1]
        assert reader.cursor("binance", "BTC/USDT:USDT", "candles-1m") == day[0]
        assert reader.cursor("bybit", "BTC/USDT:USDT", "candles-1m") is None
        store.flush_cursors()
        assert reader.cursors() == store.cursors()
        store.advance("binance", "BTC/USDT:USDT", "candles-1m", day[3])
        assert reader.cursor("binance", "BTC/USDT:USDT", "candles-1m") == day[1]
    assert reader.cursor("binance", "BTC/USDT:USDT", "candles-1m") == day[3]
    assert reader.cursor("bybit", "BTC/USDT:USDT", "candles-1m") == day[2]
    store.cursor_every = 0.0
    with store.writer():  # every advance written: what the CLI's commands do
        store.advance("okx", "BTC/USDT:USDT", "candles-1m", day[0])
        store.advance("okx", "BTC/USDT:USDT", "candles-1m", day[1])
        assert reader.cursor("okx", "BTC/USDT:USDT", "candles-1m") == day[1]


def test_bad_names_and_kinds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="unknown kind"):
        Series("trades", "binance", "BTC").folder(tmp_path)
    with pytest.raises(DomainError, match="cannot name a store folder"):
        Series("candles", "bin ance", "BTC").folder(tmp_path)


def test_default_location_follows_liqheat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQHEAT_HOME", str(tmp_path / "home"))
    assert Store().root == tmp_path / "home"


def everything(store: Store) -> pd.DataFrame:
    """Every stored liquidation, with the folder it lives in, in a stable order."""
    frames = [
        read_month(path.parent)[0].to_pandas().assign(where=str(path.parent.parent.relative_to(store.root)))
        for path in sorted(store.root.glob("liquidations/*/*/*/month=*/data.parquet"))
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["where", "ts", "side", "usd"]).reset_index(drop=True)


@needs_raw
def test_ingesting_twice_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    added = ingest_force_orders(store, FILES)
    assert added > 5000
    before = everything(store)
    assert ingest_force_orders(store, FILES) == 0
    pd.testing.assert_frame_equal(everything(store), before)


SCRIPT = """
import sys, time
from pathlib import Path
from liqheat.store.parquet_store import Store
from liqheat.store import ingest

original = ingest.Store.write
def slow_write(self, series, frame):
    time.sleep(0.002)  # widen the windows a kill can fall into
    return original(self, series, frame)
ingest.Store.write = slow_write
ingest.ingest_force_orders(Store(sys.argv[1]), [Path(p) for p in sys.argv[2:]], chunk=7)
"""


@needs_raw
def test_killed_at_random_points_and_resumed_it_ends_with_no_gap_and_no_duplicate(tmp_path: Path) -> None:
    files = [f for f in FILES if "riftfern" in f.name or "bandsthobaby" in f.name]  # ~2,500 orders, enough symbols
    reference = Store(tmp_path / "reference")
    ingest_force_orders(reference, files, chunk=7)
    target = tmp_path / "killed"
    rng = random.Random(20261124)
    kills = 0
    for _ in range(5):
        process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(target), *map(str, files)])
        time.sleep(rng.uniform(0.8, 2.5))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3, "the runs should have been killed mid-way"
    finish = subprocess.run([sys.executable, "-c", SCRIPT, str(target), *map(str, files)], check=False)
    assert finish.returncode == 0
    pd.testing.assert_frame_equal(everything(Store(target)), everything(reference))
    assert not list(target.rglob("*.tmp"))  # the finishing run removed what the kills left


KILLED_MID_WRITE = """
import sys, time
import pandas as pd
from liqheat.store import parquet_store
from liqheat.store.parquet_store import Series, Store

def stalled(path, write):  # the temporary file exists, the rename has not happened: kill here
    tmp = path.with_name(f".{path.name}.abcd1234.tmp")
    write(tmp)
    print("WRITING", flush=True)
    time.sleep(60)

store = Store(sys.argv[1])
frame = pd.read_parquet(sys.argv[2])
with store.writer():
    parquet_store.atomic_write = stalled
    store.write(Series("candles", "binance", "BTC", "1h"), frame)
"""


def test_a_write_killed_before_its_rename_leaves_a_temporary_the_next_writer_removes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "store")
    series = Series("candles", "binance", "BTC", "1h")
    with store.writer():
        store.write(series, candles("2026-01-01", 48))
    month = series.folder(store.root) / "month=2026-01" / "data.parquet"
    before = pq.read_table(month).to_pandas()
    more = tmp_path / "more.parquet"
    candles("2026-01-02", 48, p0=500).to_parquet(more)
    command = [sys.executable, "-c", KILLED_MID_WRITE, str(store.root), str(more)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "WRITING"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    leftover = month.with_name(".data.parquet.abcd1234.tmp")
    assert leftover.is_file()
    pd.testing.assert_frame_equal(pq.read_table(month).to_pandas(), before)  # the month itself is untouched
    with caplog.at_level("WARNING", logger="liqheat.store"), store.writer():
        assert store.recovered == (leftover,)
    assert not leftover.exists()
    assert "removed 1 temporary file(s) of interrupted writes" in caplog.text
    assert "month=2026-01" in caplog.text
    with store.writer():
        assert store.recovered == ()


def test_import_and_export_commands(tmp_path: Path) -> None:
    """Archive files in, a bundle out that the reader validates and the engine can replay."""
    import zipfile

    from typer.testing import CliRunner

    import liqheat.cli.store_cmds  # noqa: F401  (registers the commands)
    from liqheat.bundle import read_bundle
    from liqheat.cli.main import app

    runner = CliRunner()
    store = tmp_path / "store"
    start = pd.Timestamp("2025-10-10T00:00:00Z")
    n = 180
    rows = [
        f"{int((start + pd.Timedelta(minutes=i)).timestamp() * 1000)},{100 + i},{101 + i},{99 + i},{100.5 + i},{10 + i},"
        f"{int((start + pd.Timedelta(minutes=i + 1)).timestamp() * 1000) - 1},1000,50,5,500,0"
        for i in range(n)
    ]
    klines = tmp_path / "BTCUSDT-1m-2025-10-10.zip"
    with zipfile.ZipFile(klines, "w") as archive:
        archive.writestr("BTCUSDT-1m-2025-10-10.csv", "\n".join(rows) + "\n")
    metrics = tmp_path / "BTCUSDT-metrics-2025-10-10.csv"
    lines = ["create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
             "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio"]  # fmt: skip
    lines += [
        f"{start + pd.Timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},BTCUSDT,{90000 + i},{9e9 + i * 1e6},1.7,1.5,1.9,1.0"
        for i in range(36)
    ]
    metrics.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["import", "binance-archive", str(klines), str(metrics), "--symbol", "BTCUSDT", "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert "imported 252 new row(s)" in result.output  # 180 candles + 36 metrics + 36 open interest
    again = runner.invoke(
        app, ["import", "binance-archive", str(klines), str(metrics), "--symbol", "BTCUSDT", "--store", str(store)]
    )
    assert "imported 0 new row(s)" in again.output
    out = tmp_path / "bundle"
    args = ["export", "--out", str(out), "--venue", "binance", "--symbol", "BTCUSDT", "--timeframe", "1m", "--store", str(store)]
    exported = runner.invoke(app, args)
    assert exported.exit_code == 0, exported.output
    bundle = read_bundle(out)
    assert len(bundle.candles) == n
    assert len(bundle.open_interest) == 36
    assert bundle.candles["close"].iloc[-1] == 100.5 + n - 1
    five = [
        "export",
        "--out",
        str(tmp_path / "b2"),
        "--venue",
        "binance",
        "--symbol",
        "BTCUSDT",
        "--timeframe",
        "5m",
        "--store",
        str(store),
    ]
    missing = runner.invoke(app, five)
    assert missing.exit_code == 2
    assert "no 5m candles" in missing.output
    bad = runner.invoke(app, ["import", "binance-archive", str(klines), "--store", str(store)])
    assert bad.exit_code == 2
    assert "needs --symbol" in bad.output


def test_month_files_keep_dictionaries_for_text_columns_only(tmp_path: Path) -> None:
    """Prices and times are nearly all distinct: a dictionary of them costs most of a write and grows the file."""
    store = Store(tmp_path)
    liq = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=50, freq="1min", tz="UTC").astype("datetime64[us, UTC]"),
                        "side": ["long", "short"] * 25, "usd": range(50), "price": [100.0 + k for k in range(50)]})  # fmt: skip
    with store.writer():
        store.write(Series("candles", "binance", "BTC/USDT:USDT", "1h"), candles("2026-01-01", 30))
        store.write(Series("liquidations", "binance", "BTC/USDT:USDT"), liq)
    encodings = {}
    for path in tmp_path.rglob("data.parquet"):
        meta = pq.ParquetFile(path).metadata.row_group(0)
        for i in range(meta.num_columns):
            column = meta.column(i)
            encodings[(path.relative_to(tmp_path).parts[0], column.path_in_schema)] = column.has_dictionary_page
    assert encodings.pop(("liquidations", "side")) is True
    assert ("candles", "close") in encodings
    assert not any(encodings.values())
    assert store.read(Series("liquidations", "binance", "BTC/USDT:USDT"))["side"].tolist() == liq["side"].tolist()
