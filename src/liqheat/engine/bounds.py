"""How large and how small a market's numbers may be for the engine and the analytics to stay finite.

The bundle reader accepts any positive finite number, 1e308 included. Sums, products and squares of
such numbers overflow to inf, inf − inf is NaN, and neither fits a JSON answer, a prediction CSV or a
score. These bounds lie far beyond any real market, yet keep every sum over millions of rows, every
product of two prices (bin centres, an entry × a size) and every log-price grid finite:

- prices in [1e-12, 1e12] (quote units per coin): from a coin quoted at a millionth of a millionth of a
  dollar to a trillion dollars; the square of either stays inside a float;
- USD amounts (open interest, liquidations) up to 1e15: a quadrillion dollars, ten thousand times all
  of crypto's open interest;
- volume up to 1e27 coins: a quadrillion dollars at the smallest price;
- funding rates in [-1, 1]: ±100 % per interval, where venues cap at a few percent.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros, stamp_micros

if TYPE_CHECKING:
    from collections.abc import Mapping

    from liqheat.bundle import Bundle, BundleColumns, Columns

PRICE = (1e-12, 1e12)
USD = (0.0, 1e15)
LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "candles": {
        "open": PRICE, "high": PRICE, "low": PRICE, "close": PRICE, "volume": (0.0, 1e27), "taker_buy_volume": (0.0, 1e27),
    },
    "open_interest": {"oi_usd": USD},
    "funding": {"rate": (-1.0, 1.0)},
    "liquidations": {"usd": USD, "price": PRICE},
}  # fmt: skip


def check_table(folder: Path | None, table: str, ts: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    """Refuse the first value of ``table`` outside its bounds, naming the file, the row's time and the column.

    ``ts`` in µs since the epoch. Empty cells (NaN) pass: the reader has already decided where they may be.
    """
    for column, (lo, hi) in LIMITS[table].items():
        values = columns.get(column)
        if values is None:
            continue
        bad = np.flatnonzero((values < lo) | (values > hi))
        if bad.size:
            i = int(bad[0])
            found = [folder / f"{table}{ext}" for ext in (".csv", ".parquet") if folder and (folder / f"{table}{ext}").exists()]
            where = str(found[0]) if found else table
            raise DomainError(
                f"{where}, row at {stamp_micros(int(ts[i]))}, column '{column}': {values[i]:g} is outside [{lo:g}, {hi:g}], "
                f"beyond what liqheat can compute with ({bad.size:,} row{'s' if bad.size > 1 else ''} like it)"
            )


def check_bundle(bundle: Bundle) -> None:
    """Every table of ``bundle`` within :data:`LIMITS`."""
    check_tables(bundle.path, tables_of(bundle))


def check_columns(bundle: BundleColumns) -> None:
    """The same as :func:`check_bundle`, on a bundle read as arrays (no pandas)."""
    check_tables(bundle.folder, bundle.tables)


def check_tables(folder: Path | None, tables: Mapping[str, Columns | None], after: int | None = None) -> None:
    """Every table of ``tables`` within :data:`LIMITS`; with ``after`` (µs since the epoch), only the rows stamped
    after it: a grown bundle's new rows."""
    for table in LIMITS:
        found = tables.get(table)
        if found is not None and len(found.ts):
            k = 0 if after is None else int(np.searchsorted(found.ts, after, side="right"))
            check_table(folder, table, found.ts[k:], {c: v[k:] for c, v in found.values.items()})


def tables_of(bundle: Bundle) -> dict[str, Columns]:
    """The tables of ``bundle`` that :data:`LIMITS` bounds, as arrays read in place (µs times, those columns as
    float64): what a view reads, and what a live market compares and checks on every candle (a DataFrame's
    columns cost more to reach than the candle to replay)."""
    from liqheat.bundle.read import Columns

    out = {}
    for name, limits in LIMITS.items():
        frame = bundle.table(name)
        if frame is not None:
            out[name] = Columns(epoch_micros(frame["ts"]), {c: frame[c].to_numpy(np.float64) for c in limits if c in frame})
    return out
