"""A month's appended parts: each row once and in order whatever a reader meets (a fold under way, a fold killed
half-way, a store copied to a URL), numbering that never goes back, and `store check` on parts."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from unittest import mock

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liqheat.store import parquet_store
from liqheat.store.check import check, repair
from liqheat.store.parquet_store import BASE, Series, Store, fold_after, month_files, parts, read_month, through
from liqheat.store.realized import realized
from liqheat.store.remote import open_store

CANDLES = Series("candles", "binance", "BTC/USDT:USDT", "1m")
LIQUIDATIONS = Series("liquidations", "binance", "BTC/USDT:USDT")
T0 = pd.Timestamp("2026-03-02T00:00:00Z")


def minute(k: int, close: float | None = None) -> pd.DataFrame:
    ts = pd.Series([T0 + pd.Timedelta(minutes=k)]).astype("datetime64[us, UTC]")
    return pd.DataFrame({"ts": ts, "open": [100.0 + k], "close": [close if close is not None else 100.5 + k]})


def month(root: Path, series: Series = CANDLES) -> Path:
    return series.folder(root) / "month=2026-03"


def listing(root: Path) -> tuple[int, list[int]]:
    """The last part the month's data.parquet holds, and the parts in its folder."""
    folder = month(root)
    return through(pq.read_schema(folder / BASE)), [seq for seq, _ in parts(os.listdir(folder))]


def test_appends_write_parts_that_a_fold_gathers_into_data_parquet(tmp_path: Path) -> None:
    store = Store(tmp_path)
    n = fold_after(CANDLES.folder(tmp_path))
    assert 16 <= n < 32
    with store.writer():
        store.write(CANDLES, minute(0))
        assert listing(tmp_path) == (0, [])  # a new month is one data.parquet
        for k in range(1, n):
            assert store.write(CANDLES, minute(k)) == 1
        assert listing(tmp_path) == (0, list(range(1, n)))  # one part per append, numbered in order
        whole = pd.read_parquet(month(tmp_path) / BASE)
        assert len(whole) == 1  # data.parquet untouched by the appends
        assert store.write(CANDLES, minute(n)) == 1  # the n-th part: folded instead
        assert listing(tmp_path) == (n - 1, [])
        assert len(pd.read_parquet(month(tmp_path) / BASE)) == n + 1
        assert store.write(CANDLES, minute(n + 1)) == 1
        assert listing(tmp_path) == (n - 1, [n])  # numbering goes on after the fold
    back = Store(tmp_path).read(CANDLES)
    assert back["ts"].tolist() == [T0 + pd.Timedelta(minutes=k) for k in range(n + 2)]
    assert back["open"].tolist() == [100.0 + k for k in range(n + 2)]


def test_a_write_that_is_not_an_append_folds_the_parts_and_numbering_never_goes_back(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writer():
        for k in range(4):
            store.write(CANDLES, minute(k))
        assert listing(tmp_path) == (0, [1, 2, 3])
        assert store.write(CANDLES, minute(1, close=7.0)) == 0  # a changed row: the whole month merged again
        assert listing(tmp_path) == (3, [])
        store.write(CANDLES, minute(4))
        assert listing(tmp_path) == (3, [4])
    with Store(tmp_path).writer() as fresh:  # a new writer: nothing kept, the numbering read from the files
        fresh.write(CANDLES, minute(0, close=9.0))
        assert listing(tmp_path) == (4, [])
        fresh.write(CANDLES, minute(5))
        assert listing(tmp_path) == (4, [5])
    back = Store(tmp_path).read(CANDLES)
    assert back["close"].tolist() == [9.0, 7.0, 102.5, 103.5, 104.5, 105.5]


def test_a_fold_killed_before_removing_its_parts_repeats_no_row_and_check_removes_them(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writer():
        for k in range(5):
            store.write(CANDLES, minute(k))
        with mock.patch.object(Path, "unlink"):  # killed after data.parquet's rename, before the parts went
            store.write(CANDLES, minute(2, close=1.0))
    assert listing(tmp_path) == (4, [1, 2, 3, 4])
    back = Store(tmp_path).read(CANDLES)
    assert back["ts"].is_unique
    assert len(back) == 5
    assert back["close"].tolist() == [100.5, 101.5, 1.0, 103.5, 104.5]
    assert [str(f.name) for f in month_files(month(tmp_path))] == [BASE]
    found = check(Store(tmp_path))
    assert [(p.path.name, p.action) for p in found] == [(f"part-{k:06d}.parquet", "remove") for k in range(1, 5)]
    repair(Store(tmp_path))
    assert listing(tmp_path) == (4, [])
    assert check(Store(tmp_path)) == []
    pd.testing.assert_frame_equal(Store(tmp_path).read(CANDLES), back)
    with Store(tmp_path).writer() as again:  # a writer's first write to a month merges it whole
        again.write(CANDLES, minute(5))
        assert listing(tmp_path) == (4, [])
        again.write(CANDLES, minute(6))
        assert listing(tmp_path) == (4, [5])


def test_a_reader_meets_every_row_once_and_in_order_while_the_writer_appends_and_folds(tmp_path: Path) -> None:
    """The reader is another thread (a service's watch loop), reading the files, not the writer's memory."""
    store = Store(tmp_path)
    total = 200
    with store.writer():
        store.write(CANDLES, minute(0))
    seen: list[int] = []
    problems: list[str] = []
    done, read_once = threading.Event(), threading.Event()

    def read() -> None:
        folder = month(tmp_path)
        while not done.is_set():
            try:
                rows = read_month(folder)[0].to_pandas()
            except Exception as exc:  # a torn or missing file: what the test is for
                problems.append(repr(exc))
                break
            finally:
                read_once.set()
            k = ((rows["ts"] - T0) // pd.Timedelta(minutes=1)).tolist()
            if k != list(range(len(k))):
                problems.append(f"read {k[:5]}…{k[-5:]}")
            seen.append(len(k))

    reader = threading.Thread(target=read)
    with mock.patch.object(parquet_store, "PARTS_BEFORE_FOLD", (2, 4)), store.writer():  # a fold every 2-3 writes
        reader.start()
        try:
            for k in range(1, total):
                store.write(CANDLES, minute(k))
                if reader.is_alive():
                    read_once.wait(5)  # a read between every two writes, however loaded the machine
                    read_once.clear()
        finally:
            done.set()
            reader.join()
    assert problems == []
    assert len(set(seen)) > total // 2  # the reads met the month at many sizes, parts and folds among them
    assert seen == sorted(seen)  # never a row lost once read
    assert len(read_month(month(tmp_path))[0]) == total


def test_the_service_reader_tells_appended_rows_across_folds(tmp_path: Path) -> None:
    store = Store(tmp_path)
    n = fold_after(CANDLES.folder(tmp_path))
    with store.writer():
        store.write(CANDLES, minute(0))
        was = store.months(CANDLES)["2026-03"]
        for k in range(1, n + 3):  # through one fold
            store.write(CANDLES, minute(k))
            now = store.months(CANDLES)["2026-03"]
            assert now != was  # every write makes a new newest file
            tail = store.appended(CANDLES, "2026-03", was)
            assert tail is not None
            assert tail["ts"].tolist() == [T0 + pd.Timedelta(minutes=k)]
            was = now


def test_realized_reads_the_parts_and_skips_the_folded_ones(tmp_path: Path) -> None:
    store = Store(tmp_path)
    frame = pd.DataFrame({"ts": [T0 + pd.Timedelta(minutes=k) for k in range(6)], "side": ["long", "short"] * 3,
                          "usd": [1_000.0 * (k + 1) for k in range(6)], "price": [100.0] * 6})  # fmt: skip
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    with store.writer():
        for k in range(6):
            store.write(LIQUIDATIONS, frame.iloc[[k]])
        with mock.patch.object(Path, "unlink"):  # a fold that left its parts behind
            store.write(LIQUIDATIONS, frame.iloc[[0]].assign(usd=500.0))
    folder = month(tmp_path, LIQUIDATIONS)
    later = pq.read_table(folder / BASE).slice(6, 1)  # (the last row; a part appended after the fold, by hand)
    pq.write_table(later.set_column(0, "ts", pa.array([T0 + pd.Timedelta(minutes=9)], later.schema.field("ts").type)),
                   folder / "part-000006.parquet")  # fmt: skip
    assert [p.name for p in month_files(folder)] == [BASE, "part-000006.parquet"]
    totals = realized(store, bucket="1d", window=pd.Timedelta(days=2))
    assert totals.totals["usd"].sum() == pytest.approx(21_000.0 + 500 + 6_000)  # 500 is another key: a second order
    assert totals.totals["orders"].sum() == 8


def test_a_store_copied_to_a_url_reads_its_parts_and_folds_them_on_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "local")
    with store.writer():
        for k in range(4):
            store.write(CANDLES, minute(k))
    url = f"memory://liqheat-parts-{os.getpid()}/store"
    fs = fsspec.filesystem("memory")
    fs.put(str(store.root), url.removeprefix("memory://"), recursive=True)
    remote = open_store(url)
    pd.testing.assert_frame_equal(remote.read(CANDLES), store.read(CANDLES))
    with remote.writer():
        assert remote.write(CANDLES, minute(4)) == 1
    folder = url.removeprefix("memory://") + "/" + month(Path("")).as_posix()
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(folder, detail=False))
    assert names == [BASE]
    assert remote.read(CANDLES)["open"].tolist() == [100.0 + k for k in range(5)]
    fs.rm(url.removeprefix("memory://"), recursive=True)


def test_check_quarantines_an_unreadable_part_and_merges_a_part_out_of_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writer():
        for k in range(4):
            store.write(CANDLES, minute(k))
    folder = month(tmp_path)
    (folder / "part-000002.parquet").write_bytes(b"not parquet")
    pq.write_table(pq.read_table(folder / BASE).replace_schema_metadata(None), folder / "part-000004.parquet")
    found = {(p.path.name, p.action) for p in check(Store(tmp_path))}
    assert found == {("part-000002.parquet", "quarantine"), (BASE, "merge")}  # part 4 repeats minute 0
    repair(Store(tmp_path))
    assert check(Store(tmp_path)) == []
    assert (tmp_path / "quarantine" / (folder / "part-000002.parquet").relative_to(tmp_path)).exists()
    back = Store(tmp_path).read(CANDLES)
    assert back["ts"].tolist() == [T0 + pd.Timedelta(minutes=k) for k in (0, 1, 3)]  # minute 2 comes back by fetching


def test_a_fold_reads_the_month_as_the_files_hold_it(tmp_path: Path) -> None:
    """A writer whose memory of the month is gone (another process wrote, or this one restarted) reads the parts."""
    store = Store(tmp_path)
    with store.writer():
        for k in range(3):
            store.write(CANDLES, minute(k))
    assert listing(tmp_path) == (0, [1, 2])
    with Store(tmp_path).writer() as other:
        other.write(CANDLES, minute(3))
        assert listing(tmp_path) == (2, [])
        other.write(CANDLES, minute(4))  # kept from here on: an append
        assert listing(tmp_path) == (2, [3])
    assert Store(tmp_path).read(CANDLES)["open"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]


def test_rows_whose_columns_come_in_another_order_are_appended_in_the_months_order(tmp_path: Path) -> None:
    """A follower's open-interest frame (ts, oi_base, oi_usd) into a month another command wrote as (ts, oi_usd,
    oi_base): a part, not the whole month merged again on every poll."""
    oi = Series("open_interest", "binance", "BTC/USDT:USDT")
    ts = pd.Series([T0 + pd.Timedelta(minutes=5 * k) for k in range(3)]).astype("datetime64[us, UTC]")
    store = Store(tmp_path)
    with store.writer():
        store.write(oi, pd.DataFrame({"ts": ts[:2], "oi_usd": [1e9, 1.1e9], "oi_base": [1e4, 1.1e4]}))
        later = pd.DataFrame({"ts": ts[1:], "oi_base": [1.1e4, 1.2e4], "oi_usd": [1.1e9, 1.2e9]})
        assert store.write(oi, later) == 1
    folder = month(tmp_path, oi)
    assert [seq for seq, _ in parts(os.listdir(folder))] == [1]
    assert pq.read_schema(folder / "part-000001.parquet").names == ["ts", "oi_usd", "oi_base"]
    back = Store(tmp_path).read(oi)
    assert back.columns.tolist() == ["ts", "oi_usd", "oi_base"]
    assert back["oi_usd"].tolist() == [1e9, 1.1e9, 1.2e9]
