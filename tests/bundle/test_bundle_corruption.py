"""Corrupt bundles: the reader must refuse them with a BundleError naming the file, the line or row and the column."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqheat.bundle import BundleError, read_bundle, write_bundle

TABLES = ("candles", "open_interest", "funding", "liquidations")
Files = dict[str, str]


# ------------------------------------------------------------------------------ helpers


def set_cell(text: str, line: int, column: str, value: str) -> str:
    """``text`` with the cell at physical ``line`` (header = line 1) in ``column`` replaced by ``value``."""
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def get_cell(text: str, line: int, column: str) -> str:
    lines = text.splitlines()
    return lines[line - 1].split(",")[lines[0].split(",").index(column)]


def swap_lines(text: str, a: int, b: int) -> str:
    lines = text.splitlines()
    lines[a - 1], lines[b - 1] = lines[b - 1], lines[a - 1]
    return "\n".join(lines) + "\n"


def drop_column(text: str, column: str) -> str:
    rows = [line.split(",") for line in text.splitlines()]
    i = rows[0].index(column)
    return "\n".join(",".join(r[:i] + r[i + 1 :]) for r in rows) + "\n"


def edit_meta(files: Files, **changes: object) -> None:
    meta = json.loads(files["meta.json"])
    for key, value in changes.items():
        if value is DROP:
            meta.pop(key, None)
        else:
            meta[key] = value
    files["meta.json"] = json.dumps(meta, indent=2) + "\n"


DROP = object()


def assert_error(err: BundleError, file: str, where: str | None, column: str | None) -> None:
    assert Path(err.file).name == file, (err.file, str(err))
    assert err.where == where, str(err)
    assert err.column == column, str(err)
    assert err.reason
    text = str(err)
    assert text.startswith(err.file)
    if where:
        assert where in text
    if column:
        assert f"column '{column}'" in text


# ------------------------------------------------------------------------------ deterministic cases
# each case: (edit the small bundle's files in place, expected file name, where, column, a word of the reason)


def _set(file: str, line: int, column: str, value: str) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        files[file] = set_cell(files[file], line, column, value)

    return edit


def _remove(file: str) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        del files[file]

    return edit


def _meta(**changes: object) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        edit_meta(files, **changes)

    return edit


def _bad_json(files: Files) -> None:
    lines = files["meta.json"].splitlines()
    lines[2] = lines[2].replace('",', '"')  # line 3: `"contract": "linear"` without its comma
    files["meta.json"] = "\n".join(lines) + "\n"


def _drop_column(file: str, column: str) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        files[file] = drop_column(files[file], column)

    return edit


def _swap(file: str, a: int, b: int) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        files[file] = swap_lines(files[file], a, b)

    return edit


def _duplicate_ts(file: str, line: int) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        files[file] = set_cell(files[file], line, "ts", get_cell(files[file], line - 1, "ts"))

    return edit


LIQUIDATION_TOTALS = (
    "ts,side,usd,price\n"
    "2025-12-04T06:00:00Z,long,100.0,\n"
    "2025-12-04T06:00:00Z,short,200.0,\n"
    "2025-12-04T07:00:00Z,long,300.0,\n"
    "2025-12-04T07:00:00Z,long,400.0,\n"
)


def _totals_with_duplicate(files: Files) -> None:
    files["liquidations.csv"] = LIQUIDATION_TOTALS


C, OI, F, L, M = "candles.csv", "open_interest.csv", "funding.csv", "liquidations.csv", "meta.json"

CASES: dict[str, tuple[Callable[[Files], None], str, str | None, str | None, str]] = {
    "missing meta.json": (_remove(M), M, None, None, "missing"),
    "missing candles": (_remove(C), C, None, None, "missing"),
    "missing open_interest": (_remove(OI), OI, None, None, "missing"),
    "missing column close": (_drop_column(C, "close"), C, None, "close", "close"),
    "missing column oi_usd": (_drop_column(OI, "oi_usd"), OI, None, "oi_usd", "oi_usd"),
    "missing column side": (_drop_column(L, "side"), L, None, "side", "side"),
    "bad JSON": (_bad_json, M, "line 4", None, "JSON"),  # the missing comma is noticed at the next key
    "meta is a list": (lambda f: f.update({M: "[1, 2]"}), M, None, None, "object"),
    "missing meta key quote": (_meta(quote=DROP), M, None, None, "quote"),
    "missing meta key venues": (_meta(venues=DROP), M, None, None, "venues"),
    "bad contract": (_meta(contract="perpetual"), M, None, None, "contract"),
    "empty venues": (_meta(venues=[]), M, None, None, "venues"),
    "bad timeframe 1hour": (_meta(timeframe="1hour"), M, None, None, "1hour"),
    "bad timeframe 0h": (_meta(timeframe="0h"), M, None, None, "0h"),
    "bad funding_interval": (_meta(funding_interval="8 hours"), M, None, None, "funding_interval"),
    "non-UTC score_from": (_meta(score_from="2025-12-04T07:00:00+02:00"), M, None, None, "score_from"),
    "unparseable timestamp": (_set(C, 4, "ts", "2025-13-04T08:00:00Z"), C, "line 4", "ts", "ISO 8601"),
    "garbage timestamp": (_set(OI, 3, "ts", "yesterdayZ"), OI, "line 3", "ts", "ISO 8601"),
    "timestamp +02:00": (_set(C, 3, "ts", "2025-12-04T09:00:00+02:00"), C, "line 3", "ts", "not UTC"),
    "naive timestamp": (_set(C, 5, "ts", "2025-12-04T10:00:00"), C, "line 5", "ts", "not UTC"),
    "empty timestamp": (_set(F, 3, "ts", ""), F, "line 3", "ts", "empty"),
    "non-UTC liquidation timestamp": (_set(L, 7, "ts", "2025-12-04T10:00:00-05:00"), L, "line 7", "ts", "not UTC"),
    "duplicate candle timestamp": (_duplicate_ts(C, 4), C, "line 4", "ts", "duplicate"),
    "duplicate open interest timestamp": (_duplicate_ts(OI, 6), OI, "line 6", "ts", "duplicate"),
    "duplicate funding timestamp": (_duplicate_ts(F, 3), F, "line 3", "ts", "duplicate"),
    "unsorted candles": (_swap(C, 3, 4), C, "line 4", "ts", "not sorted"),
    "unsorted open interest": (_swap(OI, 5, 6), OI, "line 6", "ts", "not sorted"),
    "unsorted liquidations": (_swap(L, 6, 7), L, "line 7", "ts", "not sorted"),
    "empty high (NaN)": (_set(C, 3, "high", ""), C, "line 3", "high", "empty"),
    "zero low": (_set(C, 4, "low", "0"), C, "line 4", "low", "positive"),
    "negative close": (_set(C, 5, "close", "-93100.0"), C, "line 5", "close", "positive"),
    "negative open": (_set(C, 2, "open", "-1"), C, "line 2", "open", "positive"),
    "non-numeric open": (_set(C, 6, "open", "abc"), C, "line 6", "open", "not a number"),
    "non-numeric high": (_set(C, 3, "high", "93413.39x"), C, "line 3", "high", "not a number"),
    "infinite close": (_set(C, 3, "close", "inf"), C, "line 3", "close", "positive"),
    "high below low": (_set(C, 4, "high", "93000.0"), C, "line 4", "high", "below low"),
    "open above high": (_set(C, 5, "open", "93600.0"), C, "line 5", "open", "outside"),
    "open below low": (_set(C, 6, "open", "93000.0"), C, "line 6", "open", "outside"),
    "close below low": (_set(C, 2, "close", "92800.0"), C, "line 2", "close", "outside"),
    "close above high": (_set(C, 3, "close", "93413.4"), C, "line 3", "close", "outside"),
    "negative volume": (_set(C, 4, "volume", "-1.0"), C, "line 4", "volume", "≥ 0"),
    "taker buy above volume": (_set(C, 3, "taker_buy_volume", "99.5"), C, "line 3", "taker_buy_volume", "exceeds"),
    "negative open interest": (_set(OI, 4, "oi_usd", "-5.0"), OI, "line 4", "oi_usd", "≥ 0"),
    "empty open interest": (_set(OI, 2, "oi_usd", ""), OI, "line 2", "oi_usd", "empty"),
    "non-numeric funding rate": (_set(F, 4, "rate", "0.01%"), F, "line 4", "rate", "not a number"),
    "empty funding rate": (_set(F, 2, "rate", ""), F, "line 2", "rate", "finite"),
    "unknown liquidation side": (_set(L, 5, "side", "buy"), L, "line 5", "side", "unknown side"),
    "empty liquidation side": (_set(L, 3, "side", ""), L, "line 3", "side", "unknown side"),
    "negative liquidation usd": (_set(L, 4, "usd", "-2500.0"), L, "line 4", "usd", "≥ 0"),
    "non-numeric liquidation usd": (_set(L, 2, "usd", "$42620"), L, "line 2", "usd", "not a number"),
    "negative liquidation price": (_set(L, 6, "price", "-93500.25"), L, "line 6", "price", "positive"),
    "zero liquidation price": (_set(L, 3, "price", "0"), L, "line 3", "price", "positive"),
    "funding without funding_interval": (_meta(funding_interval=DROP), M, None, None, "funding_interval"),
    "liquidations without score_from": (_meta(score_from=DROP), M, None, None, "score_from"),
    "liquidations without liquidations_interval": (_meta(liquidations_interval=DROP), M, None, None, "liquidations_interval"),
    "candle off the grid": (_set(C, 4, "ts", "2025-12-04T08:30:00Z"), C, "line 4", "ts", "grid"),
    "candle off the grid by a second": (_set(C, 6, "ts", "2025-12-04T11:00:01Z"), C, "line 6", "ts", "grid"),
    "duplicate per-bar liquidation total": (_totals_with_duplicate, L, "line 5", "ts", "duplicate long total"),
    "header only candles": (lambda f: f.update({C: "ts,open,high,low,close\n"}), C, None, None, "no rows"),
    "empty candles file": (lambda f: f.update({C: ""}), C, None, None, "empty"),
    "ragged row": (lambda f: f.update({OI: f[OI].replace("8290000000.5", "8290000000.5,7")}), OI, None, None, "malformed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_corruption_is_rejected_with_location(case: str, small_bundle_files: Files, write_files: Callable[..., Path]) -> None:
    edit, file, where, column, words = CASES[case]
    # the bundle is valid before the edit
    read_bundle(write_files(small_bundle_files, "valid"))
    edit(small_bundle_files)
    folder = write_files(small_bundle_files, "corrupt")
    with pytest.raises(BundleError) as info:
        read_bundle(folder)
    assert_error(info.value, file, where, column)
    assert words in info.value.reason, info.value.reason


def test_not_a_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as info:
        read_bundle(tmp_path / "nowhere")
    assert info.value.file == str(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError):
        read_bundle(tmp_path / "file")


def test_error_names_first_bad_line(small_bundle_files: Files, write_files: Callable[..., Path]) -> None:
    files = dict(small_bundle_files)
    files[C] = set_cell(set_cell(files[C], 5, "low", "-1"), 3, "low", "0")
    with pytest.raises(BundleError) as info:
        read_bundle(write_files(files))
    assert_error(info.value, C, "line 3", "low")


# ------------------------------------------------------------------------------ Parquet: rows, not lines


@pytest.fixture
def parquet_bundle(small_bundle: Path, tmp_path: Path) -> Path:
    return write_bundle(read_bundle(small_bundle), tmp_path / "pq", fmt="parquet")


def _rewrite(path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    pq.write_table(pa.Table.from_pandas(edit(pq.read_table(path).to_pandas()), preserve_index=False), path)


def _at(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row - 1, column] = value
        return frame

    return edit


def _swap_rows(a: int, b: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        order = list(range(len(frame)))
        order[a - 1], order[b - 1] = order[b - 1], order[a - 1]
        return frame.iloc[order].reset_index(drop=True)

    return edit


def _tz(tz: str | None) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame["ts"] = frame["ts"].dt.tz_convert(tz) if tz else frame["ts"].dt.tz_localize(None)
        return frame

    return edit


PARQUET_CASES: dict[str, tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str | None, str | None, str]] = {
    "negative price": ("candles", _at("low", 3, -1.0), "row 3", "low", "positive"),
    "NaN price": ("candles", _at("close", 5, float("nan")), "row 5", "close", "empty"),
    "high below low": ("candles", _at("high", 1, 1.0), "row 1", "high", "below low"),
    "unsorted": ("open_interest", _swap_rows(2, 3), "row 3", "ts", "not sorted"),
    "duplicate": ("funding", _at("ts", 2, pd.Timestamp("2025-12-04T08:00:00Z")), "row 2", "ts", "duplicate"),
    "unknown side": ("liquidations", _at("side", 4, "sell"), "row 4", "side", "unknown side"),
    "missing timestamp": ("candles", _at("ts", 2, pd.NaT), "row 2", "ts", "empty"),
    "naive timestamps": ("candles", _tz(None), None, "ts", "UTC"),
    "Berlin timestamps": ("open_interest", _tz("Europe/Berlin"), None, "ts", "UTC"),
    "text prices": ("candles", lambda f: f.assign(open=f["open"].astype(str)), None, "open", "numbers"),
}


@pytest.mark.parametrize("case", list(PARQUET_CASES))
def test_parquet_corruption_names_the_row(case: str, parquet_bundle: Path) -> None:
    table, edit, where, column, words = PARQUET_CASES[case]
    read_bundle(parquet_bundle)
    _rewrite(parquet_bundle / f"{table}.parquet", edit)
    with pytest.raises(BundleError) as info:
        read_bundle(parquet_bundle)
    assert_error(info.value, f"{table}.parquet", where, column)
    assert words in info.value.reason, info.value.reason


def test_unreadable_parquet_is_rejected(parquet_bundle: Path) -> None:
    (parquet_bundle / "funding.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(BundleError) as info:
        read_bundle(parquet_bundle)
    assert_error(info.value, "funding.parquet", None, None)


# ------------------------------------------------------------------------------ bugs found and fixed (regression tests)


def test_blank_line_does_not_shift_reported_line(small_bundle_files: Files, write_files: Callable[..., Path]) -> None:
    lines = small_bundle_files[C].splitlines()
    lines.insert(2, "")  # physical line 3 is blank; the 2025-12-04T08:00:00Z candle moves to line 5
    text = "\n".join(lines) + "\n"
    files = dict(small_bundle_files, **{C: set_cell(text, 5, "low", "-1")})
    with pytest.raises(BundleError) as info:
        read_bundle(write_files(files))
    assert_error(info.value, C, "line 5", "low")


def test_meta_not_utf8_is_a_bundle_error(small_bundle_files: Files, write_files: Callable[..., Path]) -> None:
    files: dict[str, str | bytes] = dict(small_bundle_files)
    files[M] = small_bundle_files[M].replace("small bundle for tests", "caf\u00e9").encode("latin-1")
    with pytest.raises(BundleError) as info:
        read_bundle(write_files(files))
    assert_error(info.value, M, None, None)


def test_missing_column_sets_column_attribute(small_bundle_files: Files, write_files: Callable[..., Path]) -> None:
    files = dict(small_bundle_files, **{C: drop_column(small_bundle_files[C], "close")})
    with pytest.raises(BundleError) as info:
        read_bundle(write_files(files))
    assert info.value.column == "close"


def test_meta_type_error_names_the_file_once(small_bundle_files: Files, write_files: Callable[..., Path]) -> None:
    files = dict(small_bundle_files)
    edit_meta(files, timeframe=60)
    with pytest.raises(BundleError) as info:
        read_bundle(write_files(files))
    assert "timeframe" in info.value.reason
    assert info.value.file not in info.value.reason
    assert str(info.value).count("meta.json") == 1


def test_parquet_non_text_side_is_a_bundle_error(parquet_bundle: Path) -> None:
    _rewrite(parquet_bundle / "liquidations.parquet", lambda f: f.assign(side=1))
    with pytest.raises(BundleError) as info:
        read_bundle(parquet_bundle)
    assert_error(info.value, "liquidations.parquet", None, "side")


def test_parquet_dictionary_side_loads(parquet_bundle: Path) -> None:
    path = parquet_bundle / "liquidations.parquet"
    table = pq.read_table(path)
    table = table.set_column(table.column_names.index("side"), "side", pc.dictionary_encode(table.column("side")))
    pq.write_table(table, path)
    assert read_bundle(parquet_bundle).liquidations["side"].tolist() == ["long", "long", "long", "short", "short", "long"]  # type: ignore[index]


# ------------------------------------------------------------------------------ generated bundles

TIMEFRAMES = (("1m", 60), ("5m", 300), ("1h", 3600), ("4h", 14400), ("1d", 86400))
START = pd.Timestamp("2025-01-01T00:00:00Z")


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    def text(self) -> str:
        return "\n".join(",".join(r) for r in [self.header, *self.rows]) + "\n"

    def col(self, name: str) -> int:
        return self.header.index(name)


@dataclass
class Gen:
    tf: int
    steps: list[int]
    meta: dict[str, object]
    tables: dict[str, Table] = field(default_factory=dict)
    orders: bool = False

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps(self.meta, indent=2) + "\n", encoding="utf-8")
        for name, table in self.tables.items():
            (folder / f"{name}.csv").write_text(table.text(), encoding="utf-8")
        return folder


def iso(ts: pd.Timestamp) -> str:
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def bundles(draw: st.DrawFn) -> Gen:
    tf_name, tf = draw(st.sampled_from(TIMEFRAMES))
    n = draw(st.integers(3, 12))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 3, 7]), min_size=n - 1, max_size=n - 1))
    start = START + pd.Timedelta(seconds=tf * draw(st.integers(0, 500)))
    ts = [start]
    for s in steps:
        ts.append(ts[-1] + pd.Timedelta(seconds=tf * s))
    meta: dict[str, object] = {
        "symbol": draw(st.sampled_from(["BTC", "ETH", "SOL"])),
        "contract": draw(st.sampled_from(["linear", "inverse"])),
        "quote": "USD",
        "timeframe": tf_name,
        "venues": draw(
            st.lists(st.sampled_from(["binance", "bybit", "okx", "hyperliquid"]), min_size=1, max_size=3, unique=True)
        ),
        "source": "generated",
    }
    gen = Gen(tf=tf, steps=steps, meta=meta)

    # candles: a random walk; low ≤ open, close ≤ high
    with_volume = draw(st.booleans())
    header = ["ts", "open", "high", "low", "close"] + (["volume", "taker_buy_volume"] if with_volume else [])
    rows = []
    price = draw(_floats(1e-4, 1e6))
    for t in ts:
        o = price
        c = o * (1 + draw(_floats(-0.1, 0.1)))
        h = max(o, c) * (1 + draw(_floats(0, 0.05)))
        lo = min(o, c) * (1 - draw(_floats(0, 0.05)))
        row = [iso(t), repr(o), repr(h), repr(lo), repr(c)]
        if with_volume:
            v = draw(_floats(0, 1e7))
            row += [repr(v), repr(v * draw(_floats(0, 1)))]
        rows.append(row)
        price = c if draw(st.integers(0, 4)) else c * (1 + draw(_floats(-0.01, 0.01)))  # sometimes a jump between candles
    gen.tables["candles"] = Table(header, rows)

    # open interest: stamped at the end of a bar, with its own gaps
    oi_ts = sorted(set(draw(st.lists(st.integers(1, n + 3), min_size=1, max_size=n + 3))))
    gen.tables["open_interest"] = Table(
        ["ts", "oi_usd"], [[iso(start + pd.Timedelta(seconds=tf * k)), repr(draw(_floats(0, 1e11)))] for k in oi_ts]
    )

    if draw(st.booleans()):
        hours = sorted(set(draw(st.lists(st.integers(0, 200), min_size=1, max_size=10))))
        gen.tables["funding"] = Table(
            ["ts", "rate"], [[iso(start + pd.Timedelta(hours=h)), repr(draw(_floats(-0.01, 0.01)))] for h in hours]
        )
        meta["funding_interval"] = draw(st.sampled_from(["1h", "8h"]))

    if draw(st.booleans()):
        gen.orders = draw(st.booleans())
        liq: list[list[str]] = []
        if gen.orders:  # single orders with prices: several at one ts allowed, sub-second stamps
            stamps = sorted(draw(st.lists(st.integers(0, n * tf * 1000), min_size=1, max_size=10)))
            for ms in stamps:
                t = start + pd.Timedelta(milliseconds=ms)
                liq.append(
                    [
                        iso(t),
                        draw(st.sampled_from(["long", "short"])),
                        repr(draw(_floats(0, 1e8))),
                        repr(draw(_floats(1e-4, 1e6))),
                    ]
                )
        else:  # per-bar totals: at most one row per bar and side
            for k in sorted(set(draw(st.lists(st.integers(0, n), min_size=1, max_size=n)))):
                for side in draw(st.sampled_from([["long"], ["short"], ["long", "short"]])):
                    liq.append([iso(start + pd.Timedelta(seconds=tf * k)), side, repr(draw(_floats(0, 1e9))), ""])
        gen.tables["liquidations"] = Table(["ts", "side", "usd", "price"], liq)
        meta["liquidations_interval"] = tf_name
        meta["score_from"] = iso(start + pd.Timedelta(seconds=tf * draw(st.integers(0, n))))
    return gen


def _shift(ts_text: str, seconds: int) -> str:
    return iso(pd.Timestamp(ts_text) + pd.Timedelta(seconds=seconds))


@dataclass
class Corruption:
    file: str
    where: str | None
    column: str | None


def corrupt(gen: Gen, data: st.DataObject) -> Corruption:
    """Apply one randomly chosen corruption to ``gen`` in place; say where the reader must point."""
    kinds: list[tuple[str, str]] = []
    for name, table in gen.tables.items():
        n = len(table.rows)
        kinds += [(name, k) for k in ("ts_garbage", "ts_offset", "ts_naive", "ts_empty", "drop_column")]
        if n >= 2 and len({r[0] for r in table.rows}) > 1:
            kinds.append((name, "unsorted"))
        if name != "liquidations" and n >= 2:
            kinds.append((name, "duplicate_ts"))
        if name == "candles":
            kinds += [
                (name, k)
                for k in (
                    "price_empty",
                    "price_zero",
                    "price_negative",
                    "price_text",
                    "high_below_low",
                    "open_above_high",
                    "close_below_low",
                )
            ]
            if n >= 2:
                kinds.append((name, "off_grid"))
            if "volume" in table.header:
                kinds += [(name, "volume_negative"), (name, "taker_over_volume")]
        elif name == "open_interest":
            kinds += [(name, k) for k in ("oi_negative", "oi_empty", "oi_text")]
        elif name == "funding":
            kinds += [(name, k) for k in ("rate_text", "rate_empty", "rate_inf")]
        elif name == "liquidations":
            kinds += [(name, k) for k in ("side_unknown", "usd_negative", "usd_text", "usd_empty")]
            if gen.orders:
                kinds += [(name, "price_negative_liq"), (name, "price_zero_liq")]
            elif n >= 2:
                kinds.append((name, "duplicate_total"))
    name, kind = data.draw(st.sampled_from(kinds), label="corruption")
    table = gen.tables[name]
    file = f"{name}.csv"
    rows = table.rows
    n = len(rows)

    def cell(i: int, column: str, value: str) -> None:
        rows[i][table.col(column)] = value

    def val(i: int, column: str) -> float:
        return float(rows[i][table.col(column)])

    if kind == "drop_column":
        column = data.draw(
            st.sampled_from(["ts", *[c for c in table.header if c not in ("price", "volume", "taker_buy_volume")][1:]])
        )
        i = table.col(column)
        table.header.pop(i)
        for r in rows:
            r.pop(i)
        return Corruption(file, None, None)
    if kind == "unsorted":
        i = data.draw(st.sampled_from([i for i in range(n - 1) if rows[i][0] != rows[i + 1][0]]), label="row")
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
        return Corruption(file, f"line {i + 3}", "ts")
    if kind == "duplicate_ts":
        i = data.draw(st.integers(1, n - 1), label="row")
        cell(i, "ts", rows[i - 1][0])
        return Corruption(file, f"line {i + 2}", "ts")
    if kind == "duplicate_total":
        i = data.draw(st.integers(1, n - 1), label="row")
        cell(i, "ts", rows[i - 1][0])
        cell(i, "side", rows[i - 1][1])
        return Corruption(file, f"line {i + 2}", "ts")
    if kind == "off_grid":
        i = data.draw(st.integers(1, n - 1), label="row")
        cell(i, "ts", _shift(rows[i][0], data.draw(st.sampled_from([1, gen.tf // 2, gen.tf - 1]))))
        return Corruption(file, f"line {i + 2}", "ts")

    i = data.draw(st.integers(0, n - 1), label="row")
    where = f"line {i + 2}"
    if kind.startswith("ts_"):
        ts = rows[i][0]
        value = {
            "ts_garbage": data.draw(st.sampled_from(["2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "notatimeZ", "12:00Z"])),
            "ts_offset": ts[:-1] + data.draw(st.sampled_from(["+02:00", "-05:30", "+01"])),
            "ts_naive": ts[:-1],
            "ts_empty": "",
        }[kind]
        cell(i, "ts", value)
        return Corruption(file, where, "ts")
    if kind.startswith("price_") and name == "candles":
        column = data.draw(st.sampled_from(["open", "high", "low", "close"]), label="column")
        value = {
            "price_empty": "",
            "price_zero": data.draw(st.sampled_from(["0", "0.0", "-0.0"])),
            "price_negative": repr(-val(i, column)),
            "price_text": data.draw(st.sampled_from(["abc", "1.2.3", "--5", "0x1A", "$100", "12a"])),
        }[kind]
        cell(i, column, value)
        return Corruption(file, where, column)
    if kind == "high_below_low":
        cell(i, "high", repr(val(i, "low") / 2))
        return Corruption(file, where, "high")
    if kind == "open_above_high":
        cell(i, "open", repr(val(i, "high") * 2))
        return Corruption(file, where, "open")
    if kind == "close_below_low":
        cell(i, "close", repr(val(i, "low") / 2))
        return Corruption(file, where, "close")
    if kind == "volume_negative":
        cell(i, "volume", repr(-val(i, "volume") - 1))
        return Corruption(file, where, "volume")
    if kind == "taker_over_volume":
        cell(i, "taker_buy_volume", repr(val(i, "volume") * 2 + 1))
        return Corruption(file, where, "taker_buy_volume")
    simple: dict[str, tuple[str, Callable[[], str]]] = {
        "oi_negative": ("oi_usd", lambda: repr(-val(i, "oi_usd") - 1)),
        "oi_empty": ("oi_usd", lambda: ""),
        "oi_text": ("oi_usd", lambda: "many"),
        "rate_text": ("rate", lambda: "0.01%"),
        "rate_empty": ("rate", lambda: ""),
        "rate_inf": ("rate", lambda: "-inf"),
        "side_unknown": ("side", lambda: data.draw(st.sampled_from(["buy", "sell", "longs", "", "-"]), label="side")),
        "usd_negative": ("usd", lambda: repr(-val(i, "usd") - 1)),
        "usd_text": ("usd", lambda: "1e"),
        "usd_empty": ("usd", lambda: ""),
        "price_negative_liq": ("price", lambda: repr(-val(i, "price"))),
        "price_zero_liq": ("price", lambda: "0"),
    }
    column, make = simple[kind]
    cell(i, column, make())
    return Corruption(file, where, column)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen=bundles(), data=st.data())
def test_generated_corruption_is_always_a_located_bundle_error(gen: Gen, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        read_bundle(gen.write(Path(tmp) / "valid"))  # valid before
        expected = corrupt(gen, data)
        folder = gen.write(Path(tmp) / "corrupt")
        with pytest.raises(BundleError) as info:
            read_bundle(folder)
    err = info.value
    assert Path(err.file).name == expected.file, str(err)
    if expected.where is not None:
        assert err.where == expected.where, str(err)
        assert err.column == expected.column, str(err)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen=bundles())
def test_generated_valid_bundles_load_and_round_trip(gen: Gen) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bundle = read_bundle(gen.write(Path(tmp) / "in"))
        assert bundle.warnings == ()
        # what was loaded is exactly what the files say
        for name, table in gen.tables.items():
            frame = bundle.table(name)
            assert frame is not None
            assert list(frame.columns) == table.header
            assert list(frame["ts"]) == [pd.Timestamp(r[0]) for r in table.rows]
            for column in table.header[1:]:
                cells = [r[table.col(column)] for r in table.rows]
                if column == "side":
                    assert frame[column].tolist() == cells
                else:
                    expected = pd.Series([float(c) if c else float("nan") for c in cells], name=column)
                    pdt.assert_series_equal(frame[column], expected, check_exact=True)
        for name in TABLES:
            if name not in gen.tables:
                assert bundle.table(name) is None
        # candle gaps are reported, not filled
        gaps = {g.table: g for g in bundle.gaps}["candles"]
        assert gaps.expected == pd.Timedelta(seconds=gen.tf)
        assert gaps.count == sum(s > 1 for s in gen.steps)
        assert gaps.missing_steps == sum(s - 1 for s in gen.steps)
        assert gaps.largest == (pd.Timedelta(seconds=gen.tf * max(gen.steps)) if gaps.count else pd.Timedelta(0))
        for fmt in ("csv", "parquet"):
            again = read_bundle(write_bundle(bundle, Path(tmp) / fmt, fmt=fmt))  # type: ignore[arg-type]
            assert again.meta == bundle.meta
            assert again.gaps == bundle.gaps
            for name in TABLES:
                left, right = bundle.table(name), again.table(name)
                if left is None:
                    assert right is None
                else:
                    assert right is not None
                    pdt.assert_frame_equal(left, right, check_exact=True, obj=f"{fmt} {name}")
