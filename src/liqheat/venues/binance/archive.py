"""Binance public archive files (data.binance.vision): klines, metrics, bookDepth, aggTrades.

Each reader takes a ``.zip`` (the archive's own packaging) or the ``.csv`` inside it, with or without
the header row that newer dumps carry, for USD-M and COIN-M alike. Every reader returns a DataFrame
with a UTC ``ts`` column and the project's own column names, and fails with a :class:`BundleError`
that names the file and the line. Venue quirks end here:
- kline times are epoch milliseconds (microseconds in some 2025+ spot dumps);
- COIN-M volumes are in contracts;
- mark- and index-price klines look like trade klines with zero volume;
- one bookDepth timestamp has a leading space.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from liqheat.bundle import BundleError

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


def _text(path: Path) -> str:
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(names) != 1:
                    raise BundleError(path, f"expected one CSV inside the zip, found {len(names)}")
                return archive.read(names[0]).decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise BundleError(path, f"cannot read ({exc})") from None


def _table(path: Path, columns: Sequence[str], numeric: Sequence[str]) -> pd.DataFrame:
    text = _text(path)
    first = text.split("\n", 1)[0].strip().lower()
    has_header = first.startswith(columns[0])
    try:
        frame = pd.read_csv(io.StringIO(text), header=0 if has_header else None, skipinitialspace=True, dtype=str)
    except pd.errors.ParserError as exc:
        raise BundleError(path, f"malformed CSV ({exc})") from None
    if frame.shape[1] < len(columns):
        raise BundleError(path, f"expected {len(columns)} columns ({', '.join(columns)}), found {frame.shape[1]}")
    frame = frame.iloc[:, : len(columns)]
    frame.columns = list(columns)
    line0 = 2 if has_header else 1
    for name in numeric:
        values = pd.to_numeric(frame[name].str.strip(), errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise BundleError(path, f"not a number: {frame[name].iloc[i]!r}", where=f"line {i + line0}", column=name)
        frame[name] = values.astype(np.float64)
    return frame


def _epoch(values: pd.Series) -> pd.Series:
    """Epoch milliseconds, or microseconds (recent spot dumps), to UTC timestamps."""
    raw = values.astype(np.int64).to_numpy()
    micros = raw if raw.size and int(raw[0]) > 10**14 else raw * 1000
    series: pd.Series = pd.Series(micros.astype("datetime64[us]")).dt.tz_localize("UTC")
    return series


def _utc_text(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """The archive's "YYYY-MM-DD HH:MM:SS" UTC times (stray spaces tolerated); a bad one names its line."""
    ts = pd.to_datetime(table[column].str.strip(), format="%Y-%m-%d %H:%M:%S", utc=True, errors="coerce")
    bad = np.flatnonzero(ts.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise BundleError(path, f"not a time: {table[column].iloc[i]!r}", where=f"line {i + 2}", column=column)
    series: pd.Series = ts.astype("datetime64[us, UTC]")
    return series


def read_klines(path: str | Path) -> pd.DataFrame:
    """1-minute (or any interval) klines: ts (open), open, high, low, close, volume, taker_buy_volume,
    trades, and ``price_kind``: "trade", or "mark_or_index" for the zero-volume kind the archive
    also publishes (what venues liquidate on)."""
    p = Path(path)
    numeric = [c for c in KLINE_COLUMNS if c != "ignore"]
    t = _table(p, KLINE_COLUMNS, numeric)
    out = pd.DataFrame(
        {
            "ts": _epoch(t["open_time"]),
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
    return pd.DataFrame(
        {
            "ts": _utc_text(t, "create_time", p),
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
    return pd.DataFrame(
        {"ts": _utc_text(t, "timestamp", p), "percentage": t["percentage"], "depth": t["depth"], "notional": t["notional"]}
    )


def read_agg_trades(path: str | Path) -> pd.DataFrame:
    """Aggregated trades: ts, agg_trade_id, price, quantity, taker_side ("buy" when the buyer took)."""
    p = Path(path)
    t = _table(p, AGG_TRADE_COLUMNS, ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time"))
    maker = t["is_buyer_maker"].str.strip().str.lower()
    unknown = np.flatnonzero(~maker.isin(["true", "false"]).to_numpy())
    if unknown.size:
        i = int(unknown[0])
        raise BundleError(
            p, f"is_buyer_maker must be true or false, got {maker.iloc[i]!r}", where=f"line {i + 2}", column="is_buyer_maker"
        )
    return pd.DataFrame(
        {
            "ts": _epoch(t["transact_time"]),
            "agg_trade_id": t["agg_trade_id"].astype(np.int64),
            "price": t["price"],
            "quantity": t["quantity"],
            "taker_side": np.where(maker == "true", "sell", "buy"),
        }
    )
