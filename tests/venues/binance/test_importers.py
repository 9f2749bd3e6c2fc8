"""Importers of native files, on every shared raw file (counts and values checked against the files)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqheat.bundle import BundleError
from liqheat.venues.binance.archive import read_agg_trades, read_book_depth, read_klines, read_metrics
from liqheat.venues.binance.forceorder import read_big_trades, read_force_orders

RAW = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "raw"
STREAM = RAW / "binance-forceorder-stream"
VISION = RAW / "binance-vision-2025-10-10"
needs_raw = pytest.mark.skipif(not STREAM.is_dir() or not VISION.is_dir(), reason=f"shared raw data {RAW} is absent")

# unique rows and BTC/ETH rows, as PROVENANCE.md counts them
FORCE_ORDERS = {
    "paulius_forceorder_2025-01-26_2025-02-06.csv": (1842, 33, 49),
    "neoparth_forceorder_2025-06-23_a.csv": (446, 40, 24),
    "neoparth_forceorder_2025-06-23_b.csv": (700, 17, 42),
    "riftfern_forceorder_2025-12-27_28.csv": (2045, 6, 6),
    "bandsthobaby_forceorder_2024-08-17.csv": (456, 4, 4),
}
BIG_TRADES = {"paulius_bigtrades_2025-01-26_2025-02-06.csv": (16440, 8153), "riftfern_bigtrades_2025-12.csv": (4707, 1578)}


@needs_raw
@pytest.mark.parametrize("name", sorted(FORCE_ORDERS))
def test_force_order_recordings(name: str) -> None:
    path = STREAM / name
    frame = read_force_orders(path)
    unique, btc, eth = FORCE_ORDERS[name]
    assert len(frame) == unique
    assert int((frame["native"] == "BTCUSDT").sum()) == btc
    assert int((frame["native"] == "ETHUSDT").sum()) == eth
    lines = [r for r in csv.reader(path.read_text(encoding="utf-8").splitlines()) if r]
    assert frame.attrs["rows_read"] == len(lines)
    assert frame.attrs["duplicates"] == len(lines) - unique
    assert frame.attrs["lower_bound"] is True
    # every row of the file is in the frame, with the side convention SELL = long liquidated
    by_time = frame.set_index(frame["ts"].astype("int64") // 1000)
    for row in lines[:: max(1, len(lines) // 50)]:
        ms = int(row[10])
        match = by_time.loc[[ms]]
        assert ((match["side"] == ("long" if row[1] == "SELL" else "short")) & (match["quantity"] == float(row[4]))).any()
    filled_price = frame["average_price"].where(frame["average_price"] > 0, frame["price"])
    np.testing.assert_allclose(frame["usd"], frame["filled"] * filled_price)
    assert frame["ts"].is_monotonic_increasing
    assert set(frame["side"]) == {"long", "short"}


@needs_raw
def test_force_order_quirks() -> None:
    first = read_force_orders(STREAM / "neoparth_forceorder_2025-06-23_a.csv")
    assert first.iloc[0]["native"] == "ADAUSDT"  # the junk prefix "Hello Arbitrage Trading Bot" is gone
    assert first["average_price"].isna().all()  # recorded as "None": the order price stands in
    np.testing.assert_allclose(first["usd"], first["filled"] * first["price"])
    rift = read_force_orders(STREAM / "riftfern_forceorder_2025-12-27_28.csv")
    assert "币安人生USDT" in set(rift["native"])  # a real symbol that is not ASCII
    assert rift.iloc[0]["symbol"] == rift.iloc[0]["native"].removesuffix("USDT") + "/USDT:USDT"


@needs_raw
def test_force_order_usdc_and_quarterly_symbols_are_their_own_markets() -> None:
    """The recorders strip only ``USDT``: ``ETHUSDC`` is the USDC-margined perpetual and ``BTC_250627`` the
    June quarterly, not two USDT perpetuals with odd names."""
    path = STREAM / "neoparth_forceorder_2025-06-23_a.csv"
    raw = [line.split(",")[0] for line in path.read_text(encoding="utf-8").splitlines()]
    frame = read_force_orders(path)
    names = dict(zip(frame["native"], frame["symbol"], strict=False))
    quarterly = {n for n in raw if n.startswith("BTC_")}
    usdc = {n for n in raw if n.endswith("USDC")}
    assert quarterly
    assert usdc
    for name in quarterly:
        coin, expiry = name.split("_")
        assert names[f"{coin}USDT_{expiry}"] == f"{coin}/USDT:USDT-{expiry}"
    for name in usdc:
        assert names[name] == f"{name.removesuffix('USDC')}/USDC:USDC"
    assert not any(s.endswith("USDC/USDT:USDT") or "_" in s.split("/")[0] for s in frame["symbol"])


@needs_raw
@pytest.mark.parametrize("name", sorted(BIG_TRADES))
def test_big_trade_recordings(name: str) -> None:
    frame = read_big_trades(STREAM / name)
    rows, btc = BIG_TRADES[name]
    assert len(frame) == rows
    assert int((frame["native"] == "BTCUSDT").sum()) == btc
    first = next(csv.reader([(STREAM / name).read_text(encoding="utf-8").splitlines()[0]]))
    assert frame.iloc[0]["agg_trade_id"] == int(first[2])
    assert frame.iloc[0]["price"] == float(first[3])
    assert frame.iloc[0]["taker_side"] == ("sell" if first[6].strip() == "True" else "buy")


@needs_raw
@pytest.mark.parametrize("day", ["2025-10-09", "2025-10-10"])
def test_coin_m_mark_klines_from_the_archive(day: str) -> None:
    path = VISION / f"BTCUSD_PERP-1m-{day}.zip"
    frame = read_klines(path)
    assert len(frame) == 1440
    assert frame["ts"].iloc[0] == pd.Timestamp(f"{day}T00:00:00Z")
    assert frame["ts"].iloc[-1] == pd.Timestamp(f"{day}T23:59:00Z")
    assert frame.attrs["price_kind"] == "mark_or_index"  # zero volume, 60 ticks: what venues liquidate on
    with zipfile.ZipFile(path) as archive:
        rows = archive.read(archive.namelist()[0]).decode().splitlines()
    second = rows[2].split(",")
    assert frame.iloc[1][["open", "high", "low", "close"]].tolist() == [float(x) for x in second[1:5]]
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()


@needs_raw
def test_book_depth_of_the_crash_day() -> None:
    frame = read_book_depth(VISION / "BTCUSDT-bookDepth-2025-10-10.csv")
    assert len(frame) == 28_790
    assert frame["ts"].min() == pd.Timestamp("2025-10-10T00:00:07Z")
    assert frame["ts"].max() == pd.Timestamp("2025-10-10T23:59:30Z")
    assert sorted(frame["percentage"].unique()) == [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]
    assert frame.iloc[0][["depth", "notional"]].tolist() == [8243.012, 979983314.2056]
    # deeper bands hold more (cumulative depth), at every snapshot
    pivot = frame.pivot_table(index="ts", columns="percentage", values="notional", aggfunc="last")
    assert (pivot[5] >= pivot[1]).mean() > 0.99
    assert (pivot[-5] >= pivot[-1]).mean() > 0.99


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_usd_m_trade_klines_with_a_header_and_inside_a_zip(tmp_path: Path) -> None:
    body = (
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n"
        "1760054400000,121700.1,121750,121650.5,121720,153.2,1760054459999,18650000,2100,80.1,9750000,0\n"
        "1760054460000,121720,121800,121700,121790.5,98.4,1760054519999,11980000,1500,50.2,6110000,0\n"
    )
    csv_path = _write(tmp_path, "BTCUSDT-1m-2025-10-10.csv", body)
    zip_path = tmp_path / "BTCUSDT-1m-2025-10-10.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("BTCUSDT-1m-2025-10-10.csv", body.split("\n", 1)[1])  # older dumps: no header
    for path in (csv_path, zip_path):
        frame = read_klines(path)
        assert frame.attrs["price_kind"] == "trade"
        assert frame["ts"].tolist() == [pd.Timestamp("2025-10-10T00:00:00Z"), pd.Timestamp("2025-10-10T00:01:00Z")]
        assert frame["volume"].tolist() == [153.2, 98.4]
        assert frame["taker_buy_volume"].tolist() == [80.1, 50.2]
        assert frame["trades"].tolist() == [2100, 1500]


def test_metrics_carry_open_interest_and_long_short_ratios(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "BTCUSDT-metrics-2025-10-10.csv",
        "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
        "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
        "2025-10-10 00:00:00,BTCUSDT,90512.1,11015000000.5,1.72,1.55,1.91,0.93\n"
        "2025-10-10 00:05:00,BTCUSDT,90530.7,11020000000.0,1.71,1.54,1.90,1.07\n",
    )
    frame = read_metrics(path)
    assert frame["ts"].tolist() == [pd.Timestamp("2025-10-10T00:00:00Z"), pd.Timestamp("2025-10-10T00:05:00Z")]
    assert frame["oi_usd"].tolist() == [11015000000.5, 11020000000.0]
    assert frame["account_ratio"].tolist() == [1.91, 1.90]
    assert frame["top_trader_position_ratio"].tolist() == [1.55, 1.54]


def test_agg_trades_taker_side(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "BTCUSDT-aggTrades.csv", "1,121700.5,0.5,10,12,1760054400123,true\n2,121701.0,1.25,13,13,1760054400456,false\n"
    )
    frame = read_agg_trades(path)
    assert frame["taker_side"].tolist() == ["sell", "buy"]
    assert frame["ts"].iloc[1] == pd.Timestamp("2025-10-10T00:00:00.456Z")


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("BTC,HOLD,LIMIT,IOC,1,100,100,FILLED,1,1,1700000000000,100\n", "line 1", "side must be BUY or SELL"),
        ("BTC,SELL,LIMIT,IOC,1,100,100,FILLED,1,1,1700000000000,100\nETH,SELL,LIMIT\n", "line 2", "expected 12 fields"),
        ("BTC,SELL,LIMIT,IOC,one,100,100,FILLED,1,1,1700000000000,100\n", "line 1", "not a number"),
        (
            "BTC,SELL,LIMIT,IOC,1,100,100,FILLED,1,1,1700000000000,100\nBTC,BUY,LIMIT,IOC,1,inf,100,FILLED,1,1,1700000000001,1\n",
            "line 2",
            "finite",
        ),
    ],
)
def test_bad_force_order_files_name_the_line(tmp_path: Path, text: str, where: str, words: str) -> None:
    with pytest.raises(BundleError, match=words) as info:
        read_force_orders(_write(tmp_path, "bad.csv", text))
    assert info.value.where == where


def test_bad_archive_files_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a number") as info:
        read_klines(
            _write(
                tmp_path, "k.csv", "1760054400000,1,2,0.5,1.5,3,1760054459999,4,5,1,2,0\n1760054460000,x,2,1,1,1,1,1,1,1,1,0\n"
            )
        )
    assert info.value.where == "line 2"
    assert info.value.column == "open"
    with pytest.raises(BundleError, match="not a time") as info:
        read_book_depth(
            _write(tmp_path, "d.csv", "timestamp,percentage,depth,notional\n2025-10-10 00:00:07,-1,1,2\nyesterday,1,1,2\n")
        )
    assert info.value.where == "line 3"
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(BundleError, match="one CSV inside the zip"):
        read_klines(two)
    with pytest.raises(BundleError, match="cannot read"):
        read_klines(tmp_path / "missing.zip")
