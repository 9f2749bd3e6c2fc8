"""Store.write's append path against the merge it replaces: any sequence of writes reads back the same, bit for bit."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqheat.store import parquet_store
from liqheat.store.parquet_store import KEYS, THROUGH, Series, Store, read_month, write_month

CANDLES = Series("candles", "binance", "BTC/USDT:USDT", "1m")
LIQUIDATIONS = Series("liquidations", "binance", "BTC/USDT:USDT")
T0 = pd.Timestamp("2026-01-31T23:55:00Z")  # minutes 0-9: two months
WINDOW = (T0 + pd.Timedelta("3min 1us"), pd.Timestamp("2026-02-01T00:02:30.0000005Z"))
VALUES = st.sampled_from([1.0, 2.5, -0.0, 0.0, math.nan, 1e300])


def old_write(root: Path, series: Series, frame: pd.DataFrame) -> int:
    """Store.write as it was: every month read, concatenated, de-duplicated and sorted in pandas, written whole."""
    key = [k for k in KEYS[series.kind] if k in frame.columns]
    added = 0
    for month, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m"), sort=True):
        path = series.folder(root) / f"month={month}" / "data.parquet"
        old = pq.read_table(path).to_pandas() if path.exists() else None
        rows = part if old is None else pd.concat([old, part], ignore_index=True)
        merged = rows.drop_duplicates(subset=key, keep="last").sort_values(key, kind="stable").reset_index(drop=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(merged, preserve_index=False), path, compression="zstd")
        added += len(merged) - (0 if old is None else len(old))
    return added


def times(minutes: list[int], ms: list[int] | None = None) -> pd.Series:
    offsets = pd.to_timedelta(minutes, unit="min") + pd.to_timedelta(ms or [0] * len(minutes), unit="ms")
    return pd.Series(T0 + offsets).astype("datetime64[us, UTC]")


@st.composite
def candle_write(draw: st.DrawFn) -> tuple[Series, pd.DataFrame]:
    minutes = draw(st.lists(st.integers(0, 9), min_size=1, max_size=4))
    frame = pd.DataFrame({"ts": times(minutes), **{c: [draw(VALUES) for _ in minutes] for c in ("open", "close")}})
    odd = draw(st.sampled_from(["", "", "", "int", "missing", "extra"]))
    if odd == "int":
        frame["close"] = np.arange(len(frame), dtype=np.int64)
    elif odd == "missing":
        frame = frame.drop(columns="open")
    elif odd == "extra":
        frame["note"] = draw(st.sampled_from(["x", None]))
    return CANDLES, frame


@st.composite
def liquidation_write(draw: st.DrawFn) -> tuple[Series, pd.DataFrame]:
    n = draw(st.integers(1, 4))
    minutes = [draw(st.integers(0, 9)) for _ in range(n)]
    ms = [draw(st.sampled_from([0, 0, 1, 30_000])) for _ in range(n)]
    frame = pd.DataFrame({
        "ts": times(minutes, ms),
        "side": [draw(st.sampled_from(["long", "short"])) for _ in range(n)],
        "usd": [draw(st.sampled_from([1e5, 2e5])) for _ in range(n)],
        "price": [draw(st.sampled_from([100.0, 101.0])) for _ in range(n)],
        "quantity": [draw(VALUES) for _ in range(n)],
        "native": [draw(st.sampled_from(["SELL", "BUY", None])) for _ in range(n)],
    })  # fmt: skip
    return LIQUIDATIONS, frame


@st.composite
def replaced(draw: st.DrawFn) -> tuple[str, Series, int]:
    """A month file rewritten behind the store's back (``store check --repair`` on a store it does not lock)."""
    return "replace", draw(st.sampled_from([CANDLES, LIQUIDATIONS])), draw(st.integers(0, 2))


@st.composite
def again(draw: st.DrawFn) -> tuple[str, Series, int, int]:
    """The last rows of a series' last write again: as they were, with a zero's sign flipped, a NaN, or another side."""
    return "again", draw(st.sampled_from([CANDLES, LIQUIDATIONS])), draw(st.integers(1, 3)), draw(st.integers(0, 3))


def repeated(frame: pd.DataFrame, n: int, how: int) -> pd.DataFrame:
    rows = frame.iloc[-n:].copy()
    floats = [c for c in rows.columns if rows[c].dtype.kind == "f"]
    if how == 1 and floats:
        rows.loc[rows.index[-1], floats[-1]] = -0.0 if math.copysign(1, rows[floats[-1]].iloc[-1]) > 0 else 0.0
    elif how == 2 and floats:
        rows.loc[rows.index[0], floats[0]] = math.nan
    elif how == 3 and "side" in rows:
        rows.loc[rows.index[-1], "side"] = "long" if rows["side"].iloc[-1] == "short" else "short"
    return rows


OPS = st.lists(st.one_of(candle_write(), liquidation_write(), replaced(), again(), again()), max_size=12)


def same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert list(a.dtypes) == list(b.dtypes)
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.kind == "f":
            assert np.array_equal(x.to_numpy().view(np.uint64), y.to_numpy().view(np.uint64)), c
        elif isinstance(x.dtype, pd.DatetimeTZDtype):
            assert np.array_equal(x.array.asi8, y.array.asi8), c
        else:
            assert x.isna().tolist() == y.isna().tolist(), c
            assert x[x.notna()].tolist() == y[y.notna()].tolist(), c


def unmarked(table: pa.Table) -> pa.Table:
    """A month without the mark of the parts its data.parquet holds (the old merge wrote no parts)."""
    return table.replace_schema_metadata({k: v for k, v in (table.schema.metadata or {}).items() if k != THROUGH})


def rewrite(root: Path, series: Series, how: int) -> None:
    for path in sorted(series.folder(root).glob("month=*/data.parquet"))[-1:]:
        rows = read_month(path.parent)[0].to_pandas()
        if how == 0:
            rows = rows.iloc[:-1]  # the last row gone
        elif how == 1 and rows.select_dtypes("float").shape[1]:
            col = rows.select_dtypes("float").columns[-1]
            rows[col] = rows[col] + 1.0  # same size, other values
        write_month(path, rows, [k for k in KEYS[series.kind] if k in rows.columns])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_writes_read_back_as_the_old_merge_wrote_them(tmp_path: Path, ops: list[Any]) -> None:
    new_root, old_root = tmp_path / "new", tmp_path / "old"
    for root in (new_root, old_root):
        shutil.rmtree(root, ignore_errors=True)
    store = Store(new_root)
    last: dict[Series, pd.DataFrame] = {}
    with store.writer():
        for op in ops:
            if op[0] == "replace":
                rewrite(new_root, op[1], op[2])
                rewrite(old_root, op[1], op[2])
                continue
            if op[0] == "again":
                if op[1] not in last:
                    continue
                series, frame = op[1], repeated(last[op[1]], op[2], op[3])
            else:
                series, frame = op
            last[series] = frame
            assert store.write(series, frame) == old_write(old_root, series, frame)
            for s in (CANDLES, LIQUIDATIONS):
                same_frames(store.read(s), Store(old_root).read(s))
                for since, until in ((WINDOW[0], WINDOW[1]), (WINDOW[1], None), (None, WINDOW[0])):
                    with mock.patch.object(parquet_store, "_within", lambda table, *_: table):  # read as it was
                        was = Store(old_root).read(s, since, until)
                    same_frames(store.read(s, since, until), was)
                for path in sorted(s.folder(old_root).glob("month=*/data.parquet")):
                    mine = read_month((new_root / path.relative_to(old_root)).parent)[0]
                    assert unmarked(mine).equals(unmarked(pq.read_table(path)), check_metadata=True)


def test_the_append_path_keeps_the_newest_month_only_and_within_its_bytes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.writer():
        store.write(CANDLES, pd.DataFrame({"ts": times([0, 1, 7]), "close": [1.0, 2.0, 3.0]}))
        assert [m for m, _ in store._months.values()] == ["2026-02"]
        path = CANDLES.folder(tmp_path) / "month=2026-02" / "data.parquet"
        before = path.stat().st_mtime_ns
        assert store.write(CANDLES, pd.DataFrame({"ts": times([7]), "close": [3.0]})) == 0
        assert path.stat().st_mtime_ns == before  # nothing new: the file is left as it is
        store.cache_bytes = 0
        assert store.write(CANDLES, pd.DataFrame({"ts": times([8]), "close": [4.0]})) == 1
        assert not store._months
    assert store.read(CANDLES)["close"].tolist() == [1.0, 2.0, 3.0, 4.0]
