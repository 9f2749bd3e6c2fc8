"""File imports lose nothing whatever the order the files arrive in (issue #12, item 1)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqheat.store.ingest import ingest_archive, ingest_force_orders
from liqheat.store.parquet_store import Series, Store, read_month

RAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw"
STREAM = RAW / "binance-forceorder-stream"
MINUTE_MS = 60_000


def kline_file(folder: Path, day: str, seed: int) -> Path:
    """A day of 1-minute USD-M klines as the archive ships them (header, epoch milliseconds)."""
    rng = np.random.default_rng(seed)
    start = int(pd.Timestamp(day, tz="UTC").value // 1_000_000)
    lines = ["open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"]
    price = 60_000.0 + seed
    for i in range(1_440):
        o = price
        c = o * (1 + rng.normal(0, 1e-3))
        h, lo = max(o, c) * 1.0005, min(o, c) * 0.9995
        v = float(rng.uniform(1, 50))
        t = start + i * MINUTE_MS
        q = v * o
        end = t + MINUTE_MS - 1
        lines.append(f"{t},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.3f},{end},{q:.2f},{i + 1},{v / 2:.3f},{q / 2:.2f},0")
        price = c
    path = folder / f"BTCUSDT-1m-{day}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def force_order_file(folder: Path, name: str, start: str, hours: int, seed: int) -> Path:
    """A recorded !forceOrder@arr stream: no header, the event's 12 'o' fields, USDT stripped from symbols."""
    rng = np.random.default_rng(seed)
    t0 = int(pd.Timestamp(start, tz="UTC").value // 1_000_000)
    lines = []
    for i in range(hours * 20):
        symbol = ("BTC", "ETH", "SOL")[i % 3]
        side = ("SELL", "BUY")[int(rng.integers(2))]
        qty = round(float(rng.uniform(0.01, 3)), 3)
        price = round(float(rng.uniform(100, 1_000)), 2)
        t = t0 + int(rng.integers(0, hours * 3_600_000))
        lines.append(f"{symbol},{side},LIMIT,IOC,{qty},{price},{price * 1.001:.2f},FILLED,{qty},{qty},{t},{qty * price:.4f}")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def contents(root: Path) -> dict[str, pd.DataFrame]:
    """Every month file of the store, rows in key order: what two stores must share to be the same."""
    out = {}
    for path in sorted(root.rglob("data.parquet")):
        frame = read_month(path.parent)[0].to_pandas()
        out[str(path.relative_to(root))] = frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)
    return out


def assert_same_store(a: Path, b: Path) -> None:
    left, right = contents(a), contents(b)
    assert left.keys() == right.keys()
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)


def test_an_older_kline_file_after_a_newer_one_is_stored(tmp_path: Path) -> None:
    newer, older = kline_file(tmp_path, "2025-10-10", 1), kline_file(tmp_path, "2025-10-09", 2)
    store = Store(tmp_path / "store")
    assert ingest_archive(store, [newer], "BTC/USDT:USDT") == 1_440
    assert ingest_archive(store, [older], "BTC/USDT:USDT") == 1_440  # was 0: the cursor dropped the whole day
    candles = store.read(Series("candles", "binance", "BTC/USDT:USDT", "1m"))
    assert len(candles) == 2_880
    assert candles["ts"].is_monotonic_increasing


def test_an_older_recording_after_a_newer_one_is_stored(tmp_path: Path) -> None:
    newer = force_order_file(tmp_path, "new.csv", "2025-12-27", 12, 1)
    older = force_order_file(tmp_path, "old.csv", "2025-01-26", 12, 2)
    one_run, two_runs = Store(tmp_path / "one"), Store(tmp_path / "two")
    total = ingest_force_orders(one_run, [newer, older])
    assert total == 480
    assert ingest_force_orders(two_runs, [newer]) + ingest_force_orders(two_runs, [older]) == total
    assert_same_store(one_run.root, two_runs.root)


@pytest.mark.parametrize("kind", ["klines", "force_orders"])
def test_every_import_order_gives_the_same_store(tmp_path: Path, kind: str) -> None:
    """Three files, two of them in one month and one across a month boundary, in all six orders."""
    if kind == "klines":
        files = [kline_file(tmp_path, day, seed) for seed, day in enumerate(("2025-09-30", "2025-10-01", "2025-10-09"))]
        run = lambda store, paths: ingest_archive(store, paths, "BTC/USDT:USDT")  # noqa: E731
    else:
        files = [
            force_order_file(tmp_path, f"r{seed}.csv", start, 30, seed)
            for seed, start in enumerate(("2025-01-31T12:00", "2025-03-02", "2025-02-01"))
        ]
        run = ingest_force_orders  # type: ignore[assignment]
    reference = Store(tmp_path / "all-at-once")
    expected = run(reference, files)
    for number, order in enumerate(itertools.permutations(files)):
        store = Store(tmp_path / f"order-{number}")
        added = sum(run(store, [path]) for path in order)
        assert added == expected, [p.name for p in order]
        assert_same_store(reference.root, store.root)
        assert sum(run(store, [path]) for path in order) == 0  # a rerun adds nothing


@pytest.mark.shared
@pytest.mark.skipif(not STREAM.is_dir(), reason=f"shared raw data {STREAM} is absent")
def test_the_real_recordings_in_either_order(tmp_path: Path) -> None:
    """The probe's case: the Dec-2025 recording, then the Jan/Feb-2025 one, kept 3,013 rows of 3,882."""
    newer, older = STREAM / "riftfern_forceorder_2025-12-27_28.csv", STREAM / "paulius_forceorder_2025-01-26_2025-02-06.csv"
    together, apart = Store(tmp_path / "together"), Store(tmp_path / "apart")
    ingest_force_orders(together, [newer, older])
    ingest_force_orders(apart, [newer])
    ingest_force_orders(apart, [older])
    assert_same_store(together.root, apart.root)
    rows = sum(len(frame) for frame in contents(apart.root).values())
    assert rows == 3_882


def test_an_import_past_its_byte_cap_is_refused_before_anything_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liqheat.model import DomainError
    from liqheat.venues.binance import archive

    files = [kline_file(tmp_path, day, seed) for seed, day in enumerate(("2025-10-09", "2025-10-10"))]
    monkeypatch.setattr(archive, "IMPORT_CAP", files[0].stat().st_size + 1)  # room for one of the two days
    store = Store(tmp_path / "store")
    with pytest.raises(DomainError, match=r"past the .* one import takes; import them in smaller groups"):
        ingest_archive(store, files, "BTC/USDT:USDT")
    assert not list(store.root.rglob("data.parquet"))
    assert ingest_archive(store, files[:1], "BTC/USDT:USDT") == 1_440


def test_a_bad_file_among_good_ones_stores_none_of_them(tmp_path: Path) -> None:
    from liqheat.bundle import BundleError

    good = kline_file(tmp_path, "2025-10-09", 1)
    bad = kline_file(tmp_path, "2025-10-10", 2)
    lines = bad.read_text().splitlines()
    lines[500] = lines[500].replace(lines[500].split(",")[3], "-1", 1)  # a negative low on line 501
    bad.write_text("\n".join(lines) + "\n")
    store = Store(tmp_path / "store")
    with pytest.raises(BundleError, match="line 501, column 'low'"):
        ingest_archive(store, [good, bad], "BTC/USDT:USDT")
    assert not list(store.root.rglob("data.parquet"))
