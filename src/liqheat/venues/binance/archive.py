"""Binance public archive files (data.binance.vision): klines, metrics, bookDepth, aggTrades.

Each reader takes a ``.zip`` (the archive's own packaging) or the ``.csv`` inside it, with or without
the header row that newer dumps carry, for USD-M and COIN-M alike. Every reader returns a DataFrame
with a UTC ``ts`` column and the project's own column names, and fails with a :class:`BundleError`
that names the file and the line. Venue quirks end here:
- kline times are epoch milliseconds (microseconds in some 2025+ spot dumps);
- COIN-M volumes are in contracts;
- mark- and index-price klines look like trade klines with zero volume;
- one bookDepth timestamp has a leading space.

A file is read whole before any row of it is stored, so what it may inflate to is capped: a member
is streamed in chunks and refused past :data:`MEMBER_CAP`, and one import past :data:`IMPORT_CAP`.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from liqheat.bundle import BundleError
from liqheat.bundle.read import Source, check_candles, check_order, check_values

# Epoch bounds of a real archive time: Binance futures began in 2019; 2200 is the project's last year.
FIRST_MS, LAST_MS = 1_262_304_000_000, 7_258_118_400_000  # 2010-01-01, 2200-01-01

KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)  # fmt: skip
METRICS_COLUMNS = (
    "create_time", "symbol", "sum_open_interest", "sum_open_interest_value", "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio", "count_long_short_ratio", "sum_taker_long_short_vol_ratio",
)  # fmt: skip
BOOK_DEPTH_COLUMNS = ("timestamp", "percentage", "depth", "notional")
AGG_TRADE_COLUMNS = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker")


MEMBER_CAP = 64 * 2**20  # 35x the largest real daily file we import (BTCUSDT bookDepth, 1.8 MB)
IMPORT_CAP = 2 * 2**30  # what one import command may inflate in all
_CHUNK = 2**20


def _capped(stream: IO[bytes], cap: int, path: Path, member: str) -> bytes:
    parts, total = [], 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > cap:
            raise BundleError(path, f"{member} inflates past {cap:,} bytes, more than any archive file holds; refused")
        parts.append(chunk)
    return b"".join(parts)


def inflated_size(path: Path) -> int:
    """What a file says it inflates to (a zip's declared member sizes, a plain file's size), before reading it."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                return sum(info.file_size for info in archive.infolist())
        return path.stat().st_size
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(path, f"cannot read ({exc})") from None


def _text(path: Path, cap: int | None = None) -> str:
    limit = MEMBER_CAP if cap is None else cap
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                members = [info for info in archive.infolist() if info.filename.lower().endswith(".csv")]
                if len(members) != 1:
                    raise BundleError(path, f"expected one CSV inside the zip, found {len(members)}")
                info = members[0]
                if info.flag_bits & 0x1:
                    raise BundleError(path, f"{info.filename} is encrypted; the archive's zips are not, so this is not one")
                if info.file_size > limit:
                    words = f"declares {info.file_size:,} bytes inflated, past the {limit:,} any archive file holds; refused"
                    raise BundleError(path, f"{info.filename} {words}")
                with archive.open(info) as member:
                    data = _capped(member, limit, path, info.filename)
        else:
            kind = path.stat().st_mode
            if not stat.S_ISREG(kind):
                raise BundleError(path, "not a regular file (a folder, pipe or device); give the archive's .zip or .csv")
            with path.open("rb") as fh:
                data = _capped(fh, limit, path, path.name)
        return data.decode("utf-8")
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, UnicodeDecodeError) as exc:
        raise BundleError(path, f"cannot read ({exc})") from None


def _table(path: Path, columns: Sequence[str], numeric: Sequence[str]) -> pd.DataFrame:
    text = _text(path)
    first = text.split("\n", 1)[0].strip().lower()
    has_header = first.startswith(columns[0])
    if not text.strip():
        raise BundleError(path, "is empty (no rows)")
    try:
        frame = pd.read_csv(io.StringIO(text), header=0 if has_header else None, skipinitialspace=True, dtype=str)
    except pd.errors.ParserError as exc:
        raise BundleError(path, f"malformed CSV ({exc})") from None
    except pd.errors.EmptyDataError:
        raise BundleError(path, "is empty (no rows)") from None
    if frame.empty:
        raise BundleError(path, "has a header but no rows")
    if frame.shape[1] < len(columns):
        raise BundleError(path, f"expected {len(columns)} columns ({', '.join(columns)}), found {frame.shape[1]}")
    frame = frame.iloc[:, : len(columns)]
    frame.columns = list(columns)
    line0 = 2 if has_header else 1
    frame.attrs["source"] = Source(path, "csv", np.arange(len(frame)) + line0)
    for name in numeric:
        values = pd.to_numeric(frame[name].str.strip(), errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise BundleError(path, f"not a number: {frame[name].iloc[i]!r}", where=f"line {i + line0}", column=name)
        frame[name] = values.astype(np.float64)
    return frame


def _epoch_micros(values: pd.Series, src: Source, column: str) -> np.ndarray:
    """Epoch milliseconds, or microseconds (recent spot dumps, told by the first value), to µs since the epoch.

    A time that is neither between 2010 and 2200 is refused with its line: seconds read as milliseconds
    would land in 1970, and 1e25 would overflow into one repeated time."""
    raw = values.to_numpy(dtype=np.float64)
    scale = 1 if raw.size and raw[0] > LAST_MS else 1000
    bad = np.flatnonzero(~((raw * scale >= FIRST_MS * 1000) & (raw * scale < LAST_MS * 1000) & (raw == np.floor(raw))))
    if bad.size:
        i = int(bad[0])
        unit = "microseconds" if scale == 1 else "milliseconds"
        raise BundleError(
            src.path, f"{raw[i]!r} is not a time in epoch {unit} between 2010 and 2200", where=src.where(i), column=column
        )
    return raw.astype(np.int64) * scale


def _utc(micros: np.ndarray) -> pd.Series:
    series: pd.Series = pd.Series(micros.astype("datetime64[us]")).dt.tz_localize("UTC")
    return series


def _micros(ts: pd.Series) -> np.ndarray:
    return np.asarray(ts.to_numpy("datetime64[us]").view(np.int64))


def _utc_text(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """The archive's "YYYY-MM-DD HH:MM:SS" UTC times (stray spaces tolerated); a bad one names its line."""
    ts = pd.to_datetime(table[column].str.strip(), format="%Y-%m-%d %H:%M:%S", utc=True, errors="coerce")
    bad = np.flatnonzero(ts.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        where = table.attrs["source"].where(i)
        raise BundleError(path, f"not a time: {table[column].iloc[i]!r}", where=where, column=column)
    series: pd.Series = ts.astype("datetime64[us, UTC]")
    return series


def read_klines(path: str | Path) -> pd.DataFrame:
    """1-minute (or any interval) klines: ts (open), open, high, low, close, volume, taker_buy_volume,
    trades, and ``price_kind``: "trade", or "mark_or_index" for the zero-volume kind the archive
    also publishes (what venues liquidate on)."""
    p = Path(path)
    numeric = [c for c in KLINE_COLUMNS if c != "ignore"]
    t = _table(p, KLINE_COLUMNS, numeric)
    src: Source = t.attrs["source"]
    ts = _epoch_micros(t["open_time"], src, "open_time")
    check_order(ts, src, strict=True)
    values = {name: t[name].to_numpy(dtype=np.float64) for name in numeric}
    for name in ("open", "high", "low", "close"):
        check_values(values, name, src, "positive")
    for name in ("volume", "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume"):
        check_values(values, name, src, "non-negative")
    check_candles(values, src)
    out = pd.DataFrame(
        {
            "ts": _utc(ts),
            "open": t["open"],
            "high": t["high"],
            "low": t["low"],
            "close": t["close"],
            "volume": t["volume"],
            "taker_buy_volume": t["taker_buy_volume"],
            "trades": t["count"].astype(np.int64),
        }
    )
    mark_like = bool((t["volume"] == 0).all() and (t["quote_volume"] == 0).all())
    out.attrs["price_kind"] = "mark_or_index" if mark_like else "trade"
    return out


def read_metrics(path: str | Path) -> pd.DataFrame:
    """Open interest every 5 minutes, with the long/short account ratios the engine can use for the side
    split: ts, symbol, oi_contracts, oi_usd, top_trader_account_ratio, top_trader_position_ratio,
    account_ratio, taker_volume_ratio."""
    p = Path(path)
    numeric = [c for c in METRICS_COLUMNS if c not in ("create_time", "symbol")]
    t = _table(p, METRICS_COLUMNS, numeric)
    ts = _utc_text(t, "create_time", p)
    src: Source = t.attrs["source"]
    check_order(_micros(ts), src, strict=True)
    values = {name: t[name].to_numpy(dtype=np.float64) for name in numeric}
    for name in numeric:
        check_values(values, name, src, "non-negative")
    return pd.DataFrame(
        {
            "ts": ts,
            "symbol": t["symbol"].str.strip(),
            "oi_contracts": t["sum_open_interest"],
            "oi_usd": t["sum_open_interest_value"],
            "top_trader_account_ratio": t["count_toptrader_long_short_ratio"],
            "top_trader_position_ratio": t["sum_toptrader_long_short_ratio"],
            "account_ratio": t["count_long_short_ratio"],
            "taker_volume_ratio": t["sum_taker_long_short_vol_ratio"],
        }
    )


def read_book_depth(path: str | Path) -> pd.DataFrame:
    """Cumulative order-book depth within ±1…5 % of mid: ts, percentage, depth (base), notional (quote).
    Extra columns some copies carry (e.g. weighted_avg_price) are ignored."""
    p = Path(path)
    t = _table(p, BOOK_DEPTH_COLUMNS, ("percentage", "depth", "notional"))
    ts = _utc_text(t, "timestamp", p)
    src: Source = t.attrs["source"]
    check_order(_micros(ts), src, strict=False)
    values = {name: t[name].to_numpy(dtype=np.float64) for name in ("percentage", "depth", "notional")}
    check_values(values, "percentage", src, "finite")
    for name in ("depth", "notional"):
        check_values(values, name, src, "non-negative")
    return pd.DataFrame({"ts": ts, "percentage": t["percentage"], "depth": t["depth"], "notional": t["notional"]})


def read_agg_trades(path: str | Path) -> pd.DataFrame:
    """Aggregated trades: ts, agg_trade_id, price, quantity, taker_side ("buy" when the buyer took)."""
    p = Path(path)
    t = _table(p, AGG_TRADE_COLUMNS, ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time"))
    maker = t["is_buyer_maker"].str.strip().str.lower()
    unknown = np.flatnonzero(~maker.isin(["true", "false"]).to_numpy())
    if unknown.size:
        i = int(unknown[0])
        words = f"is_buyer_maker must be true or false, got {maker.iloc[i]!r}"
        raise BundleError(p, words, where=t.attrs["source"].where(i), column="is_buyer_maker")
    src: Source = t.attrs["source"]
    return pd.DataFrame(
        {
            "ts": _utc(_epoch_micros(t["transact_time"], src, "transact_time")),
            "agg_trade_id": t["agg_trade_id"].astype(np.int64),
            "price": t["price"],
            "quantity": t["quantity"],
            "taker_side": np.where(maker == "true", "sell", "buy"),
        }
    )
