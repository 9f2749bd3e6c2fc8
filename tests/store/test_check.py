"""`liqheat store check [--repair]`: a corrupt month or cursors.json is named with the way out, and repair
moves it aside (nothing deleted) so the store works again (issue #12, item 8)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.helpers import run

from liqheat.model import DomainError
from liqheat.store.check import check, repair
from liqheat.store.parquet_store import Series, Store

CANDLES = Series("candles", "binance", "BTC/USDT:USDT", "1h")
OI = Series("open_interest", "binance", "BTC/USDT:USDT")


def hourly(start: str, n: int) -> pd.DataFrame:
    ts = pd.Series(pd.date_range(start, periods=n, freq="1h", tz="UTC").astype("datetime64[us, UTC]"))
    price = 100.0 + pd.Series(range(n), dtype=float)
    return pd.DataFrame({"ts": ts, "open": price, "high": price + 1, "low": price - 1, "close": price})


def damaged_store(root: Path) -> tuple[Store, dict[str, Path]]:
    """Two months of candles, one of them cut short; a month of open interest with repeated, shuffled rows;
    a cursors.json cut mid-way; and the temporary of an interrupted write."""
    store = Store(root)
    with store.writer():
        store.write(CANDLES, hourly("2026-01-31T00:00", 48))  # January and February
        store.write(OI, hourly("2026-01-10", 5)[["ts"]].assign(oi_usd=1e9))
        store.advance("binance", "BTC/USDT:USDT", "candles-1h", pd.Timestamp("2026-02-02", tz="UTC"))
    folder = CANDLES.folder(root)
    january, february = folder / "month=2026-01" / "data.parquet", folder / "month=2026-02" / "data.parquet"
    february.write_bytes(february.read_bytes()[:100])
    oi_month = OI.folder(root) / "month=2026-01" / "data.parquet"
    rows = pq.read_table(oi_month).to_pandas()
    pq.write_table(pa.Table.from_pandas(pd.concat([rows.iloc[::-1], rows.iloc[:2]]), preserve_index=False), oi_month)
    cursors = root / "cursors.json"
    cursors.write_text(cursors.read_text()[:15], encoding="utf-8")
    leftover = january.with_name(".data.parquet.k3j4h5g6.tmp")
    leftover.write_bytes(b"half")
    return store, {"january": january, "february": february, "oi": oi_month, "cursors": cursors, "leftover": leftover}


def test_a_corrupt_month_or_cursors_file_is_an_error_naming_it_and_the_repair(tmp_path: Path) -> None:
    store, _ = damaged_store(tmp_path / "store")
    with pytest.raises(DomainError, match=r"cannot read candles/.*store check --repair"):
        store.read(CANDLES)
    with store.writer(), pytest.raises(DomainError, match=r"month=2026-02/data.parquet: not a readable Parquet file"):
        store.write(CANDLES, hourly("2026-02-05", 3))
    with pytest.raises(DomainError, match=r"cursors.json: not valid JSON .*store check --repair"):
        store.cursor("binance", "BTC/USDT:USDT", "candles-1h")


def test_check_finds_each_problem_and_repair_fixes_it_deleting_nothing(tmp_path: Path) -> None:
    store, files = damaged_store(tmp_path / "store")
    february_bytes = files["february"].read_bytes()
    found = {p.path: p for p in check(store)}
    assert set(found) == {files["february"], files["oi"], files["cursors"], files["leftover"]}
    assert "not a readable Parquet file" in found[files["february"]].what
    assert "2 row(s) repeat a key (ts)" in found[files["oi"]].what
    assert found[files["leftover"]].action == "remove"

    done = repair(store)
    assert {p.path for p in done} == set(found)
    quarantine = store.root / "quarantine"
    assert (quarantine / files["february"].relative_to(store.root)).read_bytes() == february_bytes
    assert (quarantine / "cursors.json").is_file()
    assert not files["leftover"].exists()
    assert check(store) == []
    oi = store.read(OI)
    assert len(oi) == 5
    assert oi["ts"].is_monotonic_increasing
    assert len(store.read(CANDLES)) == 24  # January intact; February comes back by fetching or importing it again
    with store.writer():
        assert store.write(CANDLES, hourly("2026-02-01", 24)) == 24
    assert len(store.read(CANDLES)) == 48


def test_the_command_reports_exits_1_until_repaired(tmp_path: Path) -> None:
    store, files = damaged_store(tmp_path / "store")
    cut_cursors = files["cursors"].read_text()
    checked = run("store", "check", "--store", store.root)
    assert checked.exit_code == 1, checked.output
    assert "month=2026-02/data.parquet: not a readable Parquet file" in checked.output
    assert "(--repair: moved to quarantine/" in checked.output
    assert files["february"].exists()  # check alone changes nothing
    repaired = run("store", "check", "--repair", "--store", store.root)
    assert repaired.exit_code == 0, repaired.output
    assert "→ moved to quarantine/" in repaired.output
    clean = run("store", "check", "--store", store.root)
    assert clean.exit_code == 0
    assert "every file is readable and in order" in " ".join(clean.output.split())
    assert (store.root / "quarantine" / "cursors.json").read_text() == cut_cursors
