"""Recorded Binance USD-M ``!forceOrder@arr`` streams and their companion big-trade (aggTrade) files.

What the recordings hold (see ../shared/data/raw/binance-forceorder-stream/PROVENANCE.md):
- No header. Twelve fields are the event's ``o`` object, and some recorders append a thirteenth.
- The symbol has its ``USDT`` suffix stripped (``BTC`` is BTCUSDT); USDC-margined symbols keep theirs
  (``BTCUSDC``), and quarterly contracts read ``BTC_250627``.
- A first line may carry a junk prefix, and rows may be written twice.
- ``average_price`` can be the text ``None``.

Conventions end here: ``SELL`` means a **long** was liquidated and ``BUY`` a short. Since 2021 Binance
sends at most one liquidation per symbol per second, so everything read from such a stream is a lower
bound of what happened (``frame.attrs["lower_bound"]``).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from liqheat.bundle import BundleError

_SYMBOL_TAIL = re.compile(r"([A-Z0-9]+)$")
_SYMBOL = re.compile(r"\w{1,40}")  # letters (any script), digits and _: what names a store folder
FIRST_MS, LAST_MS = 1_483_228_800_000, 7_258_118_400_000  # 2017-01-01 (before Binance futures), 2200-01-01
_SIDES = {"SELL": "long", "BUY": "short"}


def _base(field: str) -> str:
    """The base coin of a recorded symbol. A recorder's own text glued in front (lower case, spaces)
    is dropped; symbols that are not ASCII, such as Binance's 币安人生USDT, are kept as they are."""
    text = field.strip()
    if " " in text or re.search(r"[a-z]", text):
        match = _SYMBOL_TAIL.search(text)
        return match.group(1) if match else ""
    return text


_DELIVERY = re.compile(r"^([A-Z0-9]+)_(\d{6})$")


def _market(base: str) -> tuple[str, str]:
    """(unified, native) of a recorded symbol. Only ``USDT`` was stripped, so ``BTCUSDC`` is Binance's
    USDC-margined perpetual and ``BTC_250627`` the quarterly BTCUSDT_250627; everything else is a USDT
    perpetual."""
    if (delivery := _DELIVERY.match(base)) is not None:
        coin, expiry = delivery.groups()
        return f"{coin}/USDT:USDT-{expiry}", f"{coin}USDT_{expiry}"
    if base.endswith("USDC") and len(base) > 4:
        return f"{base[:-4]}/USDC:USDC", base
    return f"{base}/USDT:USDT", f"{base}USDT"


def _float(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BundleError(path, f"not a number: {text!r}", where=f"line {line}", column=column) from None
    if not math.isfinite(value):
        raise BundleError(path, f"not a finite number: {text!r}", where=f"line {line}", column=column)
    return value


def _positive(text: str, path: Path, line: int, column: str) -> float:
    value = _float(text, path, line, column)
    if value <= 0:
        raise BundleError(path, f"must be > 0, got {text!r}", where=f"line {line}", column=column)
    return value


def read_force_orders(path: str | Path) -> pd.DataFrame:
    """One row per distinct liquidation order; the whole file is checked before anything is returned.

    The columns are ts (trade time, UTC), symbol (unified, e.g. BTC/USDT:USDT), native (BTCUSDT),
    side (the position liquidated), quantity, price (the order's price), average_price (fill; NaN when
    not recorded), filled, usd (filled × average price, or × price when there is no average) and
    status. ``attrs`` holds the rows read, the duplicates dropped and ``lower_bound`` = True.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(p, f"cannot read ({exc})") from None
    rows: list[tuple[object, ...]] = []
    seen: set[tuple[str, ...]] = set()
    duplicates = 0
    for number, fields in enumerate(csv.reader(lines), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) < 12:
            raise BundleError(p, f"expected 12 fields (a forceOrder 'o' object), found {len(fields)}", where=f"line {number}")
        key = tuple(f.strip() for f in fields[:12])
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        base = _base(key[0])
        if not base:
            raise BundleError(p, f"no symbol in {key[0]!r}", where=f"line {number}", column="symbol")
        if not _SYMBOL.fullmatch(base):
            shown = base if len(base) <= 40 else f"{base[:20]}… ({len(base)} characters)"
            raise BundleError(
                p, f"symbol {shown!r} is not a market name (1-40 letters, digits or _)", where=f"line {number}", column="symbol"
            )
        side = _SIDES.get(key[1].upper())
        if side is None:
            raise BundleError(p, f"side must be BUY or SELL, got {key[1]!r}", where=f"line {number}", column="side")
        quantity = _positive(key[4], p, number, "original_quantity")
        price = _positive(key[5], p, number, "price")
        average = math.nan if key[6] in ("None", "", "null") else _float(key[6], p, number, "average_price")
        if average < 0:
            raise BundleError(p, f"must be ≥ 0, got {key[6]!r}", where=f"line {number}", column="average_price")
        filled = _float(key[9], p, number, "order_filled_accumulated_quantity")
        if not 0 <= filled <= quantity * (1 + 1e-9):
            words = f"must lie between 0 and the order's quantity {key[4]}, got {key[9]!r}"
            raise BundleError(p, words, where=f"line {number}", column="order_filled_accumulated_quantity")
        when = _float(key[10], p, number, "order_trade_time")
        if not (FIRST_MS <= when < LAST_MS and when == math.floor(when)):
            words = f"{key[10]!r} is not a time in epoch milliseconds between 2017 and 2200"
            raise BundleError(p, words, where=f"line {number}", column="order_trade_time")
        ms = int(when)
        fill_price = average if math.isfinite(average) and average > 0 else price
        if not math.isfinite(filled * fill_price):
            raise BundleError(p, f"filled × price overflows ({key[9]} × {fill_price!r})", where=f"line {number}", column="usd")
        unified, native = _market(base)
        rows.append((ms, unified, native, side, quantity, price, average, filled, filled * fill_price, key[7]))
    columns = ["ms", "symbol", "native", "side", "quantity", "price", "average_price", "filled", "usd", "status"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.insert(0, "ts", pd.to_datetime(frame.pop("ms").astype(np.int64), unit="ms", utc=True).astype("datetime64[us, UTC]"))
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    frame.attrs.update(rows_read=len(rows) + duplicates, duplicates=duplicates, lower_bound=True, venue="binance")
    return frame


def read_big_trades(path: str | Path) -> pd.DataFrame:
    """The recorders' aggTrade files (trades of at least about $15k only, so not a tape).

    Columns: ts (trade time), event_ts, native symbol, agg_trade_id, price, quantity, taker_side.
    """
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(p, f"cannot read ({exc})") from None
    rows: list[tuple[object, ...]] = []
    for number, fields in enumerate(csv.reader(lines), start=1):
        if not fields:
            continue
        if len(fields) < 7:
            raise BundleError(p, f"expected 7 fields, found {len(fields)}", where=f"line {number}")
        f = [x.strip() for x in fields[:7]]
        maker = f[6].lower()
        if maker not in ("true", "false"):
            raise BundleError(
                p, f"is_buyer_maker must be True or False, got {f[6]!r}", where=f"line {number}", column="is_buyer_maker"
            )
        rows.append(
            (
                int(_float(f[5], p, number, "trade_time_ms")),
                int(_float(f[0], p, number, "event_time_ms")),
                f[1],
                int(_float(f[2], p, number, "agg_trade_id")),
                _float(f[3], p, number, "price"),
                _float(f[4], p, number, "quantity"),
                "sell" if maker == "true" else "buy",
            )
        )
    frame = pd.DataFrame(rows, columns=["ms", "event_ms", "native", "agg_trade_id", "price", "quantity", "taker_side"])
    frame.insert(0, "ts", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
    frame.insert(1, "event_ts", pd.to_datetime(frame.pop("event_ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
    return frame
