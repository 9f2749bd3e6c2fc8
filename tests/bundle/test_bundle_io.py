"""Reading and writing market bundles: the shared real bundles, round trips, writer safety, a hand-made bundle."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow.csv
import pytest

from liqheat.bundle import Bundle, BundleError, read_bundle, with_tables, write_bundle

TABLES = ("candles", "open_interest", "funding", "liquidations")
SHARED_BUNDLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bundles"
_FOUND = sorted(p for p in SHARED_BUNDLES.iterdir() if p.is_dir()) if SHARED_BUNDLES.is_dir() else []
_SKIP_SHARED = pytest.mark.skip(reason=f"shared market bundles not found at {SHARED_BUNDLES} (../shared/data/bundles)")
SHARED_PARAMS = [pytest.param(p, id=p.name, marks=pytest.mark.shared) for p in _FOUND] or [
    pytest.param(None, id="no-shared-data", marks=_SKIP_SHARED)
]
HYPERLIQUID = ("btc-hyperliquid-1h-2025", "eth-hyperliquid-1h-2025", "sol-hyperliquid-1h-2025")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def shared_bundle(name: str) -> Path:
    if not SHARED_BUNDLES.is_dir():
        pytest.skip(f"shared market bundles not found at {SHARED_BUNDLES} (../shared/data/bundles)")
    return SHARED_BUNDLES / name


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def assert_bundles_equal(a: Bundle, b: Bundle) -> None:
    assert a.meta == b.meta
    for name in TABLES:
        left, right = a.table(name), b.table(name)
        if left is None:
            assert right is None, name
            continue
        assert right is not None, name
        pdt.assert_frame_equal(left, right, check_exact=True, obj=name)
    assert a.gaps == b.gaps


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def leftovers(parent: Path, target: Path) -> list[str]:
    """Anything next to ``target`` that the writer may have left behind (staging or retired folders)."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{target.name}."))


# ------------------------------------------------------------------------------ shared bundles load


@pytest.mark.parametrize("folder", SHARED_PARAMS)
def test_shared_bundle_loads_with_file_row_counts_and_bounds(folder: Path) -> None:
    bundle = read_bundle(folder)
    assert bundle.path == folder
    assert bundle.warnings == ()
    for name in TABLES:
        path = folder / f"{name}.csv"
        frame = bundle.table(name)
        if not path.exists():
            assert frame is None
            continue
        assert frame is not None
        rows = csv_rows(path)
        header, body = rows[0], [r for r in rows[1:] if r]
        assert len(frame) == len(path.read_text(encoding="utf-8").splitlines()) - 1 == len(body), name
        assert list(frame.columns) == header, name
        assert str(frame["ts"].dtype) == "datetime64[us, UTC]", name
        assert frame["ts"].iloc[0] == pd.Timestamp(body[0][0]), name
        assert frame["ts"].iloc[-1] == pd.Timestamp(body[-1][0]), name
        # values are the file's, exactly
        for column in header[1:]:
            if column == "side":
                continue
            first = body[0][header.index(column)]
            got = frame[column].iloc[0]
            assert pd.isna(got) if first == "" else got == float(first), (name, column)
        assert frame["ts"].is_monotonic_increasing, name


@pytest.mark.parametrize("folder", SHARED_PARAMS)
def test_shared_bundle_meta_is_parsed(folder: Path) -> None:
    raw = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta = read_bundle(folder).meta
    assert meta.symbol == raw["symbol"]
    assert meta.contract.value == raw["contract"]
    assert meta.timeframe == raw["timeframe"] == "1h"
    assert meta.timeframe_delta == pd.Timedelta(hours=1)
    assert isinstance(meta.venues, tuple)
    assert meta.venues == tuple(raw["venues"])
    assert isinstance(meta.score_from, pd.Timestamp)
    assert str(meta.score_from.tz) == "UTC"
    assert meta.score_from == pd.Timestamp(raw["score_from"])
    assert meta.funding_interval == raw["funding_interval"]
    assert meta.liquidations_interval == raw["liquidations_interval"]
    assert meta.extra == {}


@pytest.mark.parametrize("folder", SHARED_PARAMS)
def test_shared_bundle_liquidation_sides_are_long_or_short(folder: Path) -> None:
    liquidations = read_bundle(folder).liquidations
    assert liquidations is not None
    assert set(liquidations["side"]) == {"long", "short"}
    assert (liquidations["usd"] >= 0).all()
    # these bundles hold per-bar (or per-day) totals only: no price, one row per ts and side
    assert liquidations["price"].isna().all()
    assert not liquidations.duplicated(["ts", "side"]).any()


def test_btc_agg_candle_count_and_gaps() -> None:
    bundle = read_bundle(shared_bundle("btc-agg-1h-dec-feb"))
    assert len(bundle.candles) == 2078
    gaps = {g.table: g for g in bundle.gaps}
    candles = gaps["candles"]
    assert candles.expected == pd.Timedelta(hours=1)
    assert candles.count == 4
    assert candles.missing_steps == 4
    assert candles.largest == pd.Timedelta(hours=2)
    assert candles.largest_after == pd.Timestamp("2025-12-27T17:00:00Z")
    # the gap is real: the candle after it is two hours later
    ts = bundle.candles["ts"]
    after = ts[ts > candles.largest_after].iloc[0]
    assert after - candles.largest_after == pd.Timedelta(hours=2)


@pytest.mark.parametrize("name", HYPERLIQUID)
def test_hyperliquid_open_interest_gap_and_no_candle_gaps(name: str) -> None:
    bundle = read_bundle(shared_bundle(name))
    gaps = {g.table: g for g in bundle.gaps}
    assert gaps["candles"].count == 0
    assert gaps["candles"].largest_after is None
    assert "no gaps" in str(gaps["candles"])
    oi = gaps["open_interest"]
    assert oi.expected == pd.Timedelta(hours=1)
    assert oi.count == 1
    assert oi.largest == pd.Timedelta(hours=19)
    assert oi.largest_after == pd.Timestamp("2026-01-19T00:00:00Z")
    assert oi.missing_steps == 18
    assert "largest 19h after 2026-01-19T00:00:00Z" in str(oi)
    # candles: one a hour with nothing missing
    steps = bundle.candles["ts"].diff().dropna()
    assert (steps == pd.Timedelta(hours=1)).all()


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("folder", SHARED_PARAMS)
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_shared_bundle_round_trip(folder: Path, fmt: str, tmp_path: Path) -> None:
    original = read_bundle(folder)
    out = write_bundle(original, tmp_path / "out", fmt=fmt)  # type: ignore[arg-type]
    assert out == tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["meta.json", *(f"{n}.{fmt}" for n in TABLES if original.table(n) is not None)]
    )
    again = read_bundle(out)
    assert_bundles_equal(original, again)
    assert again.warnings == ()
    # meta.json keeps every key the source had, with the same values
    assert json.loads((out / "meta.json").read_text(encoding="utf-8")) == json.loads(
        (folder / "meta.json").read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("folder", SHARED_PARAMS)
def test_csv_parquet_csv_keeps_candles_text(folder: Path, tmp_path: Path) -> None:
    original = read_bundle(folder)
    first = write_bundle(original, tmp_path / "csv1")
    via = write_bundle(read_bundle(first), tmp_path / "pq", fmt="parquet")
    second = write_bundle(read_bundle(via), tmp_path / "csv2")
    rows1, rows2 = csv_rows(first / "candles.csv"), csv_rows(second / "candles.csv")
    assert rows1[0] == rows2[0] == list(original.candles.columns)
    assert len(rows1) == len(rows2) == len(original.candles) + 1
    for a, b in zip(rows1[1:], rows2[1:], strict=True):
        assert a[0] == b[0]
        assert [float(x) for x in a[1:]] == [float(x) for x in b[1:]]
    # the writer is deterministic: the same data gives the same text
    assert (first / "candles.csv").read_bytes() == (second / "candles.csv").read_bytes()
    # and that text still means the shared file's values
    source = csv_rows(folder / "candles.csv")
    assert [r[0] for r in source[1:]] == [r[0] for r in rows1[1:]]
    assert [[float(x) for x in r[1:]] for r in source[1:]] == [[float(x) for x in r[1:]] for r in rows1[1:]]


def test_written_csv_timestamps_are_iso_utc_z(tmp_path: Path) -> None:
    folder = shared_bundle("btc-agg-1h-dec-feb")
    out = write_bundle(read_bundle(folder), tmp_path / "out")
    rows = csv_rows(out / "candles.csv")
    assert rows[1][0] == "2025-12-04T06:00:00Z"
    assert rows[-1][0] == "2026-02-28T23:00:00Z"
    for name in TABLES:
        body = csv_rows(out / f"{name}.csv")[1:]
        bad = [r[0] for r in body if not ISO_Z.match(r[0])]
        assert not bad, (name, bad[:3])


def test_small_bundle_written_timestamps_and_empty_prices(small_bundle: Path, tmp_path: Path) -> None:
    bundle = read_bundle(small_bundle)
    totals = bundle.liquidations.assign(price=float("nan")).drop_duplicates(["ts", "side"])  # type: ignore[union-attr]
    out = write_bundle(with_tables(bundle, liquidations=totals.reset_index(drop=True)), tmp_path / "out")
    text = (out / "liquidations.csv").read_text(encoding="utf-8").splitlines()
    assert text[0] == "ts,side,usd,price"
    assert text[1] == "2025-12-04T06:00:00Z,long,42620.54,"  # per-bar total: empty price, Z timestamp
    assert all(ISO_Z.match(line.split(",")[0]) for line in text[1:])
    assert read_bundle(out).liquidations["price"].isna().all()  # type: ignore[index]


# ------------------------------------------------------------------------------ writer safety


def test_write_refuses_existing_folder_without_overwrite(small_bundle: Path, tmp_path: Path) -> None:
    bundle = read_bundle(small_bundle)
    target = write_bundle(bundle, tmp_path / "target")
    before = snapshot(target)
    changed = with_tables(bundle, candles=bundle.candles.iloc[:2].reset_index(drop=True))
    with pytest.raises(BundleError) as info:
        write_bundle(changed, target)
    assert info.value.file == str(target)
    assert "overwrite" in info.value.reason
    assert snapshot(target) == before
    assert leftovers(tmp_path, target) == []
    # also for an existing empty folder: nothing is written into it
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BundleError):
        write_bundle(bundle, empty, fmt="parquet")
    assert list(empty.iterdir()) == []


def test_write_with_overwrite_replaces(small_bundle: Path, tmp_path: Path) -> None:
    bundle = read_bundle(small_bundle)
    target = write_bundle(bundle, tmp_path / "target", fmt="parquet")
    (target / "stray.txt").write_text("not part of the new bundle")
    shorter = with_tables(bundle, candles=bundle.candles.iloc[:2].reset_index(drop=True), funding=None)
    assert write_bundle(shorter, target, fmt="csv", overwrite=True) == target
    assert sorted(p.name for p in target.iterdir()) == ["candles.csv", "liquidations.csv", "meta.json", "open_interest.csv"]
    again = read_bundle(target)
    assert len(again.candles) == 2
    assert again.funding is None
    pdt.assert_frame_equal(again.candles, shorter.candles, check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small", "target"]


def test_write_creates_missing_parents_and_leaves_nothing_else(small_bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "bundle"
    write_bundle(read_bundle(small_bundle), target)
    assert [p.name for p in target.parent.iterdir()] == ["bundle"]
    assert_bundles_equal(read_bundle(small_bundle), read_bundle(target))


@pytest.mark.parametrize("overwrite", [False, True])
def test_failed_write_leaves_old_bundle_intact_and_no_temporary_folder(
    small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overwrite: bool
) -> None:
    bundle = read_bundle(small_bundle)
    parent = tmp_path / "out"
    target = parent / "bundle"
    if overwrite:
        write_bundle(bundle, target)
        before = snapshot(target)
    real = pyarrow.csv.write_csv
    calls: list[object] = []

    def fail_on_second_table(*args: object, **kwargs: object) -> None:
        calls.append(args[1])
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        real(*args, **kwargs)

    monkeypatch.setattr(pyarrow.csv, "write_csv", fail_on_second_table)
    changed = with_tables(bundle, candles=bundle.candles.iloc[:1].reset_index(drop=True))
    with pytest.raises(BundleError, match=r"bundle: cannot write \(disk full \(simulated\)\)$"):  # one line naming it
        write_bundle(changed, target, overwrite=overwrite)
    assert len(calls) == 2  # it did fail mid-way: one table written, the second failing
    assert list(parent.glob(".*.tmp")) == []
    assert leftovers(parent, target) == []
    if overwrite:
        assert snapshot(target) == before
        assert_bundles_equal(read_bundle(target), bundle)
    else:
        assert not target.exists()
        assert list(parent.iterdir()) == []


def test_successful_writes_leave_no_temporary_folders(small_bundle: Path, tmp_path: Path) -> None:
    bundle = read_bundle(small_bundle)
    target = tmp_path / "out" / "bundle"
    write_bundle(bundle, target)
    write_bundle(bundle, target, fmt="parquet", overwrite=True)
    write_bundle(bundle, target, fmt="csv", overwrite=True)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["bundle"]


def test_written_folder_permissions_follow_umask(small_bundle: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = write_bundle(read_bundle(small_bundle), tmp_path / "out")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o755


def test_failed_swap_keeps_old_bundle(small_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = read_bundle(small_bundle)
    target = write_bundle(bundle, tmp_path / "out" / "bundle")
    before = snapshot(target)
    real = os.rename
    calls: list[tuple[object, object]] = []

    def fail_second_rename(src: object, dst: object) -> None:
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError("rename failed (simulated)")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", fail_second_rename)
    with pytest.raises(BundleError, match=r"cannot write \(rename failed \(simulated\)\)$"):
        write_bundle(with_tables(bundle, funding=None), target, overwrite=True)
    monkeypatch.undo()
    assert target.is_dir()
    assert snapshot(target) == before
    assert leftovers(target.parent, target) == []


def test_overwrite_onto_a_file_is_clean(small_bundle: Path, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("a file, not a bundle")
    try:
        write_bundle(read_bundle(small_bundle), target, overwrite=True)
    except BundleError:
        assert target.read_text() == "a file, not a bundle"  # refused without touching anything: fine
    assert leftovers(tmp_path, target) == []


# ------------------------------------------------------------------------------ hand-made bundle


def test_small_bundle_loads(small_bundle: Path) -> None:
    bundle = read_bundle(small_bundle)
    meta = bundle.meta
    assert (meta.symbol, meta.contract.value, meta.quote, meta.timeframe) == ("BTC", "linear", "USD", "1h")
    assert meta.venues == ("binance", "bybit")
    assert meta.score_from == pd.Timestamp("2025-12-04T07:00:00Z")
    assert meta.notes == "small bundle for tests"
    assert bundle.warnings == ()

    candles = bundle.candles
    assert list(candles.columns) == ["ts", "open", "high", "low", "close", "volume", "taker_buy_volume"]
    assert list(candles["ts"]) == [pd.Timestamp(f"2025-12-04T{h:02d}:00:00Z") for h in (6, 7, 8, 10, 11)]
    assert candles["open"].tolist() == [92979.25, 93140.75, 93397.67, 93454.71, 93260.0]
    assert candles["taker_buy_volume"].tolist() == [60.25, 40.0, 80.125, 0.0, 3.5]
    assert bundle.open_interest["oi_usd"].tolist() == [8248989576.0, 8293200354.0, 8290000000.5, 8300000000.0, 0.0]
    assert bundle.funding is not None
    assert bundle.funding["rate"].tolist() == [5.673e-05, -3.6150000000000005e-05, 0.0]

    liq = bundle.liquidations
    assert liq is not None
    assert len(liq) == 6
    same_ts = liq[liq["ts"] == pd.Timestamp("2025-12-04T07:00:00Z")]
    assert same_ts["side"].tolist() == ["long", "long", "short"]
    assert same_ts["usd"].tolist() == [5000.0, 2500.0, 1499665.49]
    assert same_ts["price"].tolist() == [92950.0, 92950.0, 93400.0]

    gaps = {g.table: g for g in bundle.gaps}
    assert (gaps["candles"].count, gaps["candles"].largest) == (1, pd.Timedelta(hours=2))
    assert gaps["candles"].largest_after == pd.Timestamp("2025-12-04T08:00:00Z")
    assert (gaps["open_interest"].count, gaps["open_interest"].missing_steps) == (1, 1)
    assert gaps["open_interest"].largest_after == pd.Timestamp("2025-12-04T09:00:00Z")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_small_bundle_round_trip(small_bundle: Path, tmp_path: Path, fmt: str) -> None:
    original = read_bundle(small_bundle)
    again = read_bundle(write_bundle(original, tmp_path / "out", fmt=fmt))  # type: ignore[arg-type]
    assert_bundles_equal(original, again)


def test_optional_tables_may_be_absent(small_bundle_files: dict[str, str], write_files: Callable[..., Path]) -> None:
    files = {k: v for k, v in small_bundle_files.items() if k in ("meta.json", "candles.csv", "open_interest.csv")}
    bundle = read_bundle(write_files(files))
    assert bundle.funding is None
    assert bundle.liquidations is None


def test_unknown_columns_and_meta_keys_are_kept_or_reported(
    small_bundle_files: dict[str, str], write_files: Callable[..., Path], tmp_path: Path
) -> None:
    meta = json.loads(small_bundle_files["meta.json"])
    meta["exchange_ids"] = {"binance": "BTCUSDT"}
    files = dict(small_bundle_files)
    files["meta.json"] = json.dumps(meta)
    lines = files["open_interest.csv"].splitlines()
    files["open_interest.csv"] = "\n".join([lines[0] + ",oi_coins", *(line + ",1" for line in lines[1:])]) + "\n"
    bundle = read_bundle(write_files(files))
    assert bundle.meta.extra == {"exchange_ids": {"binance": "BTCUSDT"}}
    assert bundle.warnings == ("open_interest.csv: ignored unknown column(s) oi_coins",)
    assert list(bundle.open_interest.columns) == ["ts", "oi_usd"]
    out = write_bundle(bundle, tmp_path / "out")
    assert json.loads((out / "meta.json").read_text(encoding="utf-8"))["exchange_ids"] == {"binance": "BTCUSDT"}


def test_both_csv_and_parquet_of_a_table_is_rejected(small_bundle: Path, tmp_path: Path) -> None:
    parquet = write_bundle(read_bundle(small_bundle), tmp_path / "pq", fmt="parquet")
    (small_bundle / "candles.parquet").write_bytes((parquet / "candles.parquet").read_bytes())
    with pytest.raises(BundleError) as info:
        read_bundle(small_bundle)
    assert info.value.file == str(small_bundle)
    assert "candles.csv" in info.value.reason
    assert "candles.parquet" in info.value.reason
    # either alone is fine
    (small_bundle / "candles.csv").unlink()
    assert len(read_bundle(small_bundle).candles) == 5


def test_mixed_formats_in_one_bundle_load(small_bundle: Path, tmp_path: Path) -> None:
    original = read_bundle(small_bundle)
    parquet = write_bundle(original, tmp_path / "pq", fmt="parquet")
    for name in ("open_interest", "liquidations"):
        (small_bundle / f"{name}.csv").unlink()
        (small_bundle / f"{name}.parquet").write_bytes((parquet / f"{name}.parquet").read_bytes())
    assert_bundles_equal(original, read_bundle(small_bundle))


SUBSECOND_LIQUIDATIONS = (
    "ts,side,usd,price\n"
    "2025-12-04T06:00:00.250Z,long,1000.0,92900.5\n"
    "2025-12-04T06:00:00.250Z,long,10.0,92900.0\n"
    "2025-12-04T06:00:01Z,short,20.0,93000.0\n"
    "2025-12-04T06:59:59.999Z,short,30.0,93100.0\n"
)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_subsecond_liquidation_timestamps_round_trip(
    small_bundle_files: dict[str, str], write_files: Callable[..., Path], tmp_path: Path, fmt: str
) -> None:
    files = dict(small_bundle_files, **{"liquidations.csv": SUBSECOND_LIQUIDATIONS})
    bundle = read_bundle(write_files(files))
    liq = bundle.liquidations
    assert liq is not None
    assert list(liq["ts"]) == [
        pd.Timestamp("2025-12-04T06:00:00.250Z"),
        pd.Timestamp("2025-12-04T06:00:00.250Z"),
        pd.Timestamp("2025-12-04T06:00:01Z"),
        pd.Timestamp("2025-12-04T06:59:59.999Z"),
    ]
    out = write_bundle(bundle, tmp_path / "out", fmt=fmt)  # type: ignore[arg-type]
    assert_bundles_equal(bundle, read_bundle(out))
    if fmt == "csv":
        stamps = [r[0] for r in csv_rows(out / "liquidations.csv")[1:]]
        assert stamps == [
            "2025-12-04T06:00:00.250Z",
            "2025-12-04T06:00:00.250Z",
            "2025-12-04T06:00:01.000Z",
            "2025-12-04T06:59:59.999Z",
        ]
        # whole-second tables of the same bundle keep whole-second text
        assert csv_rows(out / "candles.csv")[1][0] == "2025-12-04T06:00:00Z"


def test_microsecond_liquidation_timestamps_round_trip_through_csv(
    small_bundle_files: dict[str, str], write_files: Callable[..., Path], tmp_path: Path
) -> None:
    liquidations = "ts,side,usd,price\n2025-12-04T06:00:00.123456Z,long,1000.0,92900.5\n"
    bundle = read_bundle(write_files(dict(small_bundle_files, **{"liquidations.csv": liquidations})))
    assert bundle.liquidations["ts"].iloc[0] == pd.Timestamp("2025-12-04T06:00:00.123456Z")  # type: ignore[index]
    assert_bundles_equal(bundle, read_bundle(write_bundle(bundle, tmp_path / "out")))


def test_subsecond_score_from_round_trips(
    small_bundle_files: dict[str, str], write_files: Callable[..., Path], tmp_path: Path
) -> None:
    meta = json.loads(small_bundle_files["meta.json"])
    meta["score_from"] = "2025-12-04T07:00:00.500Z"
    bundle = read_bundle(write_files(dict(small_bundle_files, **{"meta.json": json.dumps(meta)})))
    assert bundle.meta.score_from == pd.Timestamp("2025-12-04T07:00:00.500Z")
    assert read_bundle(write_bundle(bundle, tmp_path / "out")).meta == bundle.meta


def test_utc_offsets_written_as_zero_are_accepted(small_bundle_files: dict[str, str], write_files: Callable[..., Path]) -> None:
    files = dict(small_bundle_files)
    files["open_interest.csv"] = (
        files["open_interest.csv"].replace("07:00:00Z", "07:00:00+00:00").replace("08:00:00Z", "08:00:00+0000")
    )
    bundle = read_bundle(write_files(files))
    assert list(bundle.open_interest["ts"][:2]) == [pd.Timestamp("2025-12-04T07:00:00Z"), pd.Timestamp("2025-12-04T08:00:00Z")]


def test_crlf_and_quoted_cells_load(small_bundle_files: dict[str, str], write_files: Callable[..., Path]) -> None:
    files = dict(small_bundle_files)
    files["funding.csv"] = files["funding.csv"].replace("\n", "\r\n").replace("5.673e-05", '"5.673e-05"')
    bundle = read_bundle(write_files(files))
    assert bundle.funding is not None
    assert bundle.funding["rate"].tolist() == [5.673e-05, -3.6150000000000005e-05, 0.0]


def test_csv_text_is_parsed_like_python_floats(small_bundle: Path) -> None:
    bundle = read_bundle(small_bundle)
    rows = list(csv.reader(io.StringIO((small_bundle / "candles.csv").read_text(encoding="utf-8"))))
    expected = pd.DataFrame([[float(x) for x in r[1:]] for r in rows[1:]], columns=rows[0][1:])
    pdt.assert_frame_equal(bundle.candles.drop(columns="ts"), expected, check_exact=True)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_read_columns_holds_what_read_bundle_holds(tmp_path: Path, fmt: str) -> None:
    from tests.engine.test_replay import synthetic_bundle

    from liqheat.bundle import BundleMeta, read_columns

    folder = write_bundle(synthetic_bundle(), tmp_path / "b", fmt=fmt)  # type: ignore[arg-type]
    bundle, columns = read_bundle(folder), read_columns(folder)
    assert BundleMeta.from_fields(columns.meta) == bundle.meta
    for name in ("candles", "open_interest", "funding", "liquidations"):
        table = columns.tables[name]
        assert table is not None
        pd.testing.assert_frame_equal(table.frame(), bundle.table(name))
