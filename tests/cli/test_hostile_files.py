"""Hostile and malformed files (issue #12, items 3-6): each is refused with exit 2 and one line that names
the file (and the line and column where there is one), no traceback, and nothing stored or written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers import run

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
KLINES = SHARED / "raw" / "binance-vision-2025-10-10" / "BTCUSD_PERP-1m-2025-10-10.zip"
BUNDLE = SHARED / "bundles" / "btc-agg-1h-dec-feb"
HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
GOOD_KLINE = "1760054400000,100,101,99,100.5,3,1760054459999,300,5,1,100,0"
NEXT_KLINE = "1760054460000,100.5,102,100,101,2,1760054519999,200,4,1,100,0"
GOOD_ORDER = "BTC,SELL,LIMIT,IOC,0.5,60000,60010,FILLED,0.5,0.5,1735689600000,30005"


def order(**fields: str) -> str:
    names = ("symbol", "side", "type", "tif", "quantity", "price", "average", "status", "last", "filled", "time", "usd")
    values = dict(zip(names, GOOD_ORDER.split(","), strict=True)) | fields
    return ",".join(values[n] for n in names)


def kline(**fields: str) -> str:
    names = HEADER.split(",")
    values = dict(zip(names, GOOD_KLINE.split(","), strict=True)) | fields
    return ",".join(values[n] for n in names)


def text_file(name: str, body: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_text(body, encoding="utf-8")
        return path

    return make


def zip_file(name: str, member: str, body: bytes, *, encrypted: bool = False) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, body)
        if encrypted:  # set the "encrypted" bit in the local and central headers, as an encrypted zip has
            data = bytearray(path.read_bytes())
            for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
                at = data.find(signature)
                data[at + offset] |= 0x1
            path.write_bytes(bytes(data))
        return path

    return make


def bomb(folder: Path) -> Path:
    """70 MB of zeros in a 70 kB zip: past the 64 MiB any real archive file inflates to."""
    path = folder / "BTCUSDT-1m-2025-10-10.zip"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("BTCUSDT-1m-2025-10-10.csv", "w", force_zip64=True) as member,
    ):
        block = b"0" * (1 << 20)
        for _ in range(70):
            member.write(block)
    return path


def special(kind: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "BTCUSDT-1m-2025-10-10.csv"
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "folder":
            path.mkdir()
        elif kind == "device":
            path.symlink_to("/dev/zero")
        else:
            path.symlink_to(path.name)  # a link to itself
        return path

    return make


KL = "BTCUSDT-1m-2025-10-10.csv"
KL_BODY = f"{HEADER}\n{GOOD_KLINE}\n".encode()
ARCHIVE_CASES = {
    "zip bomb": (bomb, "inflated, past the 67,108,864"),
    "encrypted member": (zip_file("BTCUSDT-1m-2025-10-10.zip", KL, KL_BODY, encrypted=True), "encrypted"),
    "empty member": (zip_file("BTCUSDT-1m-2025-10-10.zip", KL, b""), "is empty"),
    "header only": (text_file(KL, HEADER + "\n"), "has a header but no rows"),
    "not a zip": (text_file("BTCUSDT-1m-2025-10-10.zip", "hello"), "cannot read"),
    "two members": (lambda f: _two_members(f), "one CSV inside the zip"),
    "inf price": (text_file(KL, f"{HEADER}\n{GOOD_KLINE}\n{kline(open_time='1760054460000', high='inf')}\n"), "line 3"),
    "negative price": (text_file(KL, f"{HEADER}\n{kline(low='-5')}\n"), "column 'low': must be a positive number"),
    "high below low": (text_file(KL, f"{HEADER}\n{kline(high='98')}\n"), "high is below low"),
    "seconds as milliseconds": (text_file(KL, f"{HEADER}\n{kline(open_time='1760054400')}\n"), "between 2010 and 2200"),
    "open_time 1e25": (text_file(KL, f"{HEADER}\n{GOOD_KLINE}\n{kline(open_time='1e25')}\n"), "line 3, column 'open_time'"),
    "repeated open_time": (text_file(KL, f"{HEADER}\n{GOOD_KLINE}\n{NEXT_KLINE}\n{GOOD_KLINE}\n"), "line 4"),
    "a time twice in a row": (text_file(KL, f"{HEADER}\n{GOOD_KLINE}\n{GOOD_KLINE}\n"), "duplicate timestamp"),
    "fifo": (special("fifo"), "not a regular file"),
    "folder": (special("folder"), "not a regular file"),
    "link to /dev/zero": (special("device"), "not a regular file"),
    "link to itself": (special("loop"), "not a regular file"),
    "unknown name": (text_file("prices.csv", f"{HEADER}\n{GOOD_KLINE}\n"), "not a Binance archive"),
}


def _two_members(folder: Path) -> Path:
    path = folder / "BTCUSDT-1m-2025-10-10.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    return path


FO = "recording.csv"
FORCE_ORDER_CASES = {
    "trade time 1e17": (text_file(FO, order(time="1e17") + "\n"), "line 1, column 'order_trade_time'"),
    "trade time 1e30": (text_file(FO, f"{GOOD_ORDER}\n{order(time='1e30')}\n"), "line 2, column 'order_trade_time'"),
    "negative time": (text_file(FO, order(time="-1") + "\n"), "between 2017 and 2200"),
    "300-character symbol": (text_file(FO, f"{GOOD_ORDER}\n{order(symbol='A' * 300)}\n"), "300 characters"),
    "NUL in a symbol": (
        text_file(FO, "\n".join([GOOD_ORDER] * 27 + [order(symbol="BT\x00C")]) + "\n"),
        "line 28, column 'symbol'",
    ),
    "fill of 1e308": (text_file(FO, order(quantity="1e308", filled="1e308") + "\n"), "overflows"),
    "zero price": (text_file(FO, order(price="0") + "\n"), "column 'price': must be > 0"),
    "negative quantity": (text_file(FO, order(quantity="-1") + "\n"), "column 'original_quantity': must be > 0"),
    "filled beyond the order": (text_file(FO, order(filled="2") + "\n"), "between 0 and the order's quantity"),
    "negative average": (text_file(FO, order(average="-3") + "\n"), "column 'average_price'"),
}


def one_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
    assert len(lines) == 1, output
    return lines[0]


def stored_rows(store: Path) -> list[Path]:
    return sorted(store.rglob("data.parquet")) if store.exists() else []


@pytest.mark.parametrize("case", list(ARCHIVE_CASES))
def test_hostile_archive_files_are_refused_and_store_nothing(tmp_path: Path, case: str) -> None:
    make, words = ARCHIVE_CASES[case]
    files = tmp_path / "files"
    files.mkdir()
    bad = make(files)
    store = tmp_path / "store"
    day_before = text_file("BTCUSDT-1m-2025-10-09.csv", f"{HEADER}\n{GOOD_KLINE}\n")
    paths = [bad] if case != "repeated open_time" else [day_before(files), bad]
    result = run("import", "binance-archive", *paths, "--symbol", "BTCUSDT", "--store", store)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = one_line(result.output)
    assert bad.name in line
    assert words in line
    assert stored_rows(store) == []


@pytest.mark.parametrize("case", list(FORCE_ORDER_CASES))
def test_hostile_force_order_recordings_are_refused_and_store_nothing(tmp_path: Path, case: str) -> None:
    make, words = FORCE_ORDER_CASES[case]
    good = text_file("good.csv", GOOD_ORDER.replace("1735689600000", "1735689700000") + "\n")(tmp_path)
    bad = make(tmp_path)
    store = tmp_path / "store"
    result = run("import", "binance-forceorder", good, bad, "--store", store)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = one_line(result.output)
    assert bad.name in line
    assert words in line
    assert stored_rows(store) == []  # the good file before it is not stored either: all are checked first


def _copy_bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLE, folder)
    return folder


def _replace(name: str, how: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.unlink()
        if how == "fifo":
            os.mkfifo(path)
        elif how == "folder":
            path.mkdir()
        elif how == "device":
            path.symlink_to("/dev/zero")
        elif how == "loop":
            path.symlink_to(path.name)
        elif how == "passwd":
            path.symlink_to("/etc/passwd")
        elif how == "deep":
            path.write_text("[" * 10_000 + "]" * 10_000, encoding="utf-8")
        elif how == "huge":
            path.write_text(json.dumps({"symbol": "BTC", "notes": "x" * 2_000_000}), encoding="utf-8")
        return path

    return make


BUNDLE_CASES = {
    "candles.csv is a pipe": (_replace("candles.csv", "fifo"), "not a regular file"),
    "candles.csv is a folder": (_replace("candles.csv", "folder"), "not a regular file"),
    "candles.csv links to /dev/zero": (_replace("candles.csv", "device"), "not a regular file"),
    "candles.csv links to itself": (_replace("candles.csv", "loop"), "not a regular file"),
    "candles.csv links to /etc/passwd": (_replace("candles.csv", "passwd"), "malformed CSV (Expected 1 columns, got"),
    "meta.json nested 10,000 deep": (_replace("meta.json", "deep"), "nested too deeply"),
    "meta.json of 2 MB": (_replace("meta.json", "huge"), "a meta.json holds a few keys"),
    "meta.json is a pipe": (_replace("meta.json", "fifo"), "not a regular file"),
}


@pytest.mark.shared
@pytest.mark.skipif(not BUNDLE.is_dir(), reason=f"shared bundle {BUNDLE} is absent")
@pytest.mark.parametrize("case", list(BUNDLE_CASES))
def test_hostile_bundle_tables_are_refused_by_name(tmp_path: Path, case: str) -> None:
    """In a subprocess with a deadline: a pipe or a device read as a table would hang or fill memory."""
    make, words = BUNDLE_CASES[case]
    bad = make(_copy_bundle(tmp_path))
    out = tmp_path / "pred.csv"
    probe = "from liqheat.cli.main import main; main()"
    command = [sys.executable, "-c", probe, "replay", str(bad.parent), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "400"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    line = one_line(output)
    assert bad.name in line
    assert words in line
    assert "root:" not in output  # a linked file's content is not echoed
    assert ":/bin/" not in output
    assert not out.exists()
