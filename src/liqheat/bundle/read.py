"""The one bundle reader. It validates everything and fails with a :class:`BundleError` that names
the file, the line (CSV) or row (Parquet) and the column; gaps are reported, never filled.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from liqheat import arrays
from liqheat.bundle.meta import REQUIRED_TABLES, TABLES, Bundle, BundleError, BundleMeta, Format, Gaps, validate_meta
from liqheat.timeutil import duration_seconds, epoch_micros, find_gaps, format_seconds, stamp_micros

if TYPE_CHECKING:  # validation runs on arrays; pandas is imported only to build a Bundle's DataFrames
    import pandas as pd

# --------------------------------------------------------------------------------------------- read


@dataclass(frozen=True, slots=True)
class Source:
    """Where a table's rows came from, so errors can point at a line (CSV) or a row (Parquet)."""

    path: Path
    fmt: Format
    lines: np.ndarray | None = None  # CSV line of each row, where blank lines were skipped

    def where(self, index: int) -> str:
        if self.fmt == "parquet":
            return f"row {index + 1}"
        return f"line {int(self.lines[index]) if self.lines is not None else index + 2}"


META_MAX_BYTES = 1 << 20  # a real meta.json is under a kilobyte
_COLUMN_NAME = re.compile(r"^[\w .()/-]{0,64}$")


def _present(path: Path) -> bool:
    """Whether ``path`` names something; only a regular file (or a link to one) may be read.

    A pipe would block the reader, a device such as /dev/zero never ends, and a looping link or a folder
    is no table: each is refused by name rather than reported missing."""
    if not os.path.lexists(path):
        return False
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError:  # a link that loops or points nowhere
        regular = False
    if not regular:
        raise BundleError(path, "not a regular file (a folder, pipe, device, or a link that loops or points nowhere)")
    return True


def _table_path(folder: Path, name: str) -> Path | None:
    found = [folder / f"{name}.{ext}" for ext in ("csv", "parquet") if _present(folder / f"{name}.{ext}")]
    if len(found) > 1:
        raise BundleError(folder, f"both {name}.csv and {name}.parquet exist; keep one")
    return found[0] if found else None


def _read_raw(path: Path, fmt: Format, columns: Sequence[str], numeric: Sequence[str]) -> tuple[pa.Table, np.ndarray | None]:
    """Read a table; numeric columns as float64, the rest as strings. A bad cell → BundleError.

    Returns the table and, where blank lines were skipped, the CSV line of each row.
    """
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path), None
        except (pa.ArrowException, OSError) as exc:
            raise BundleError(path, f"not a readable Parquet file ({exc})") from None
    try:
        with path.open("rb") as fh:
            header_line = fh.readline().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise BundleError(path, f"cannot read ({exc})") from None
    header = [h.strip().strip('"') for h in header_line.rstrip("\r\n").split(",")]
    if not header_line.strip():
        raise BundleError(path, "file is empty (no header line)")
    types = {name: (pa.float64() if name in numeric else pa.string()) for name in header if name in columns}
    convert = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False)
    read = pa_csv.ReadOptions(block_size=1 << 24)
    # Blank lines are read as rows so that row r is line r + 2; _drop_blank_rows removes them and keeps the map.
    parse = pa_csv.ParseOptions(ignore_empty_lines=False)
    try:
        return _drop_blank_rows(pa_csv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert))
    except pa.ArrowInvalid:
        pass
    # Slow path, only on failure: read everything as text and find the first bad cell ourselves.
    try:
        text_types = {name: pa.string() for name in header}
        table = pa_csv.read_csv(
            path, read_options=read, parse_options=parse, convert_options=pa_csv.ConvertOptions(column_types=text_types)
        )
    except pa.ArrowInvalid as exc:
        raise BundleError(path, f"malformed CSV ({_without_row(str(exc))})") from None
    import pandas as pd

    src = Source(path, "csv")
    for name in numeric:
        if name not in table.column_names:
            continue
        cells = table.column(name).to_pandas().str.strip()
        parsed = pd.to_numeric(cells, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy() & (cells != "").to_numpy())
        if bad.size:
            raise BundleError(path, f"not a number: {cells.iloc[bad[0]]!r}", where=src.where(int(bad[0])), column=name)
    raise BundleError(path, "malformed CSV (unparseable cell)")


def _empty(text: pa.ChunkedArray) -> np.ndarray:
    """Which cells are empty strings (compared in numpy: a Python scalar in an Arrow call imports pandas)."""
    return np.asarray(arrays.numbers(pc.utf8_length(text)) == 0)


def _without_row(arrow_message: str) -> str:
    """Arrow's parse error without the offending row's text, which may be any file a link points at."""
    return re.split(r"(?<=\d): ", arrow_message.removeprefix("CSV parse error: "), maxsplit=1)[0]


def _drop_blank_rows(table: pa.Table) -> tuple[pa.Table, np.ndarray | None]:
    """Skip blank lines, returning the CSV line number of every row kept (None when none was blank)."""
    if table.num_rows == 0 or "ts" not in table.column_names or not pa.types.is_string(table.column("ts").type):
        return table, None
    blank = _empty(pc.utf8_trim_whitespace(table.column("ts")))
    if not blank.any():
        return table, None
    for name in table.column_names:
        if name != "ts":
            column = table.column(name)
            blank &= _empty(column) if pa.types.is_string(column.type) else arrays.flags(pc.is_null(column))
    if not blank.any():
        return table, None
    return table.filter(arrays.mask_array(~blank)), np.flatnonzero(~blank) + 2


def _timestamps(column: pa.ChunkedArray, src: Source) -> np.ndarray:
    """Parse a ``ts`` column into µs since the epoch; it must be UTC (ISO 8601 ending in Z or +00:00, or a UTC
    Parquet type)."""
    if pa.types.is_timestamp(column.type):
        tz = column.type.tz
        if tz is None or tz not in ("UTC", "utc", "Etc/UTC", "+00:00", "Z"):
            raise BundleError(src.path, f"timestamps must be UTC, the Parquet type is {column.type}", column="ts")
        if column.null_count:
            null = np.flatnonzero(arrays.flags(pc.is_null(column)))
            raise BundleError(src.path, "empty timestamp", where=src.where(int(null[0])), column="ts")
        try:  # nanoseconds are truncated to µs; coarser units must fit
            return arrays.micros(column.cast(pa.timestamp("us", tz="UTC"), safe=column.type.unit != "ns"))
        except pa.ArrowInvalid as exc:
            raise BundleError(src.path, f"timestamp out of range ({exc})", column="ts") from None
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        raise BundleError(src.path, f"timestamps must be ISO 8601 text or a UTC timestamp type, got {column.type}", column="ts")
    if pc.all(pc.ends_with(column, "Z")).as_py():
        # Fast path for the canonical form: Arrow parses ISO 8601 ending in Z ~10x faster than pandas.
        try:
            return arrays.micros(column.cast(pa.timestamp("us", tz="UTC")))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # the slow path below names the bad cell
    text = pc.utf8_trim_whitespace(column)
    utc = pc.match_substring_regex(text, r"(Z|[+-]00:?00)$")
    not_utc = np.flatnonzero(~arrays.flags(utc))
    if not_utc.size:
        i = int(not_utc[0])
        value = text[i].as_py()
        reason = "empty timestamp" if not value else f"timestamp {value!r} is not UTC (write it in UTC, ending in Z)"
        raise BundleError(src.path, reason, where=src.where(i), column="ts")
    import pandas as pd

    strings = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise BundleError(src.path, f"not an ISO 8601 timestamp: {strings.iloc[i]!r}", where=src.where(i), column="ts")
    return epoch_micros(parsed.astype("datetime64[us, UTC]"))


def check_order(ts: np.ndarray, src: Source, *, strict: bool) -> None:
    """Times (µs) must not go back; with ``strict`` none may repeat either. Shared with the native importers."""
    steps = np.diff(ts)
    back = np.flatnonzero(steps < 0)
    if back.size:
        i = int(back[0]) + 1
        raise BundleError(
            src.path,
            f"timestamps not sorted: {stamp_micros(ts[i])} comes after {stamp_micros(ts[i - 1])}",
            where=src.where(i),
            column="ts",
        )
    if strict:
        dup = np.flatnonzero(steps == 0)
        if dup.size:
            i = int(dup[0]) + 1
            raise BundleError(
                src.path,
                f"duplicate timestamp {stamp_micros(ts[i])} (also at {src.where(i - 1)})",
                where=src.where(i),
                column="ts",
            )


def check_values(columns: dict[str, np.ndarray], name: str, src: Source, rule: str) -> None:
    """``rule``: positive, non-negative, optional-positive (NaN allowed) or finite."""
    values = columns[name]
    if rule == "positive":
        bad = ~(np.isfinite(values) & (values > 0))
        words = "must be a positive number"
    elif rule == "non-negative":
        bad = ~(np.isfinite(values) & (values >= 0))
        words = "must be a number ≥ 0"
    elif rule == "optional-positive":
        bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
        words = "must be empty or a positive number"
    else:
        bad = ~np.isfinite(values)
        words = "must be a finite number"
    hit = np.flatnonzero(bad)
    if hit.size:
        i = int(hit[0])
        shown = "empty" if math.isnan(values[i]) else repr(float(values[i]))
        raise BundleError(src.path, f"{words}, got {shown}", where=src.where(i), column=name)


def check_candles(columns: dict[str, np.ndarray], src: Source) -> None:
    """Each candle's open and close inside [low, high], and taker buy volume within volume."""
    o, h, lo, c = (columns[k] for k in ("open", "high", "low", "close"))
    for mask, column, words in (
        (h < lo, "high", "high is below low"),
        ((o < lo) | (o > h), "open", "open lies outside [low, high]"),
        ((c < lo) | (c > h), "close", "close lies outside [low, high]"),
    ):
        hit = np.flatnonzero(mask)
        if hit.size:
            i = int(hit[0])
            ohlc = f"open {o[i]}, high {h[i]}, low {lo[i]}, close {c[i]}"
            raise BundleError(src.path, f"{words} ({ohlc})", where=src.where(i), column=column)
    if "taker_buy_volume" in columns and "volume" in columns:
        over = np.flatnonzero(columns["taker_buy_volume"] > columns["volume"] * (1 + 1e-9) + 1e-12)
        if over.size:
            raise BundleError(
                src.path, "taker buy volume exceeds volume", where=src.where(int(over[0])), column="taker_buy_volume"
            )


def _gaps(table: str, ts: pd.Series, expected: pd.Timedelta | None) -> Gaps | None:
    import pandas as pd

    if len(ts) < 2:
        return None
    step = expected if expected is not None else pd.Timedelta(microseconds=int(np.median(np.diff(epoch_micros(ts)))))
    if step <= pd.Timedelta(0):
        return None
    holes = find_gaps(ts, step)
    spans = [end - start + step for start, end in holes]  # from the row before a gap to the row after it
    widest = max(range(len(spans)), key=spans.__getitem__) if spans else None
    return Gaps(
        table=table,
        expected=step,
        count=len(holes),
        largest=spans[widest] if widest is not None else pd.Timedelta(0),
        largest_after=holes[widest][0] - step if widest is not None else None,
        missing_steps=sum(-(-span // step) - 1 for span in spans),
    )


@dataclass(frozen=True, slots=True)
class Columns:
    """One validated table as arrays: ``ts`` in µs since the epoch, numbers float64, ``side`` as str objects."""

    ts: np.ndarray
    values: dict[str, np.ndarray]

    def frame(self) -> pd.DataFrame:
        """The table as a Bundle holds it: ``ts`` as UTC ``datetime64[us]``, then the columns in file order."""
        import pandas as pd

        frame = pd.DataFrame({"ts": pd.Series(self.ts.view("datetime64[us]")).dt.tz_localize("UTC")})
        for name, values in self.values.items():
            frame[name] = pd.Series(values, dtype=object) if name == "side" else values
        return frame


@dataclass(frozen=True, slots=True)
class BundleColumns:
    """A validated bundle as arrays, for the paths that need no DataFrame (``liqheat replay``).

    ``meta`` holds :class:`BundleMeta`'s fields with ``score_from`` in µs since the epoch.
    """

    folder: Path
    meta: dict[str, Any]
    tables: dict[str, Columns | None]
    warnings: tuple[str, ...]

    @property
    def timeframe_micros(self) -> int:
        return duration_seconds(self.meta["timeframe"], "timeframe") * 1_000_000


def _read_table(folder: Path, name: str, timeframe_us: int, warnings: list[str]) -> Columns | None:
    path = _table_path(folder, name)
    if path is None:
        if name in REQUIRED_TABLES:
            raise BundleError(folder / f"{name}.csv", "missing (a bundle needs meta.json, candles and open_interest)")
        return None
    fmt: Format = "csv" if path.suffix == ".csv" else "parquet"
    required, optional = TABLES[name]
    numeric = [c for c in (*required, *optional) if c != "side"]
    raw, lines = _read_raw(path, fmt, ("ts", *required, *optional), numeric)
    src = Source(path, fmt, lines)
    missing = [c for c in ("ts", *required) if c not in raw.column_names]
    if missing:
        names = raw.column_names
        found = ", ".join(names) if all(_COLUMN_NAME.match(n) for n in names) else "a first line that is no header of names"
        raise BundleError(path, f"missing column(s) {', '.join(missing)}; found {found or 'none'}", column=missing[0])
    unknown = [c for c in raw.column_names if c not in ("ts", *required, *optional)]
    if unknown:
        warnings.append(f"{path.name}: ignored unknown column(s) {', '.join(unknown)}")
    if raw.num_rows == 0 and name in REQUIRED_TABLES:
        raise BundleError(path, "has a header but no rows")

    ts = _timestamps(raw.column("ts"), src)
    columns: dict[str, np.ndarray] = {}
    for column in (*required, *optional):
        if column not in raw.column_names:
            continue
        values = raw.column(column)
        if column == "side":
            if pa.types.is_dictionary(values.type):
                values = values.cast(pa.string())
            if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
                raise BundleError(path, f"must hold the words long or short, the column type is {values.type}", column=column)
            columns[column] = arrays.words(pc.utf8_lower(pc.utf8_trim_whitespace(values)))
        else:
            if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
                raise BundleError(path, f"must hold numbers, the column type is {values.type}", column=column)
            columns[column] = arrays.numbers(values)

    check_order(ts, src, strict=name != "liquidations")
    if name == "candles":
        for column in ("open", "high", "low", "close"):
            check_values(columns, column, src, "positive")
        for column in ("volume", "taker_buy_volume"):
            if column in columns:
                check_values(columns, column, src, "non-negative")
        check_candles(columns, src)
        _check_grid(ts, timeframe_us, src)
    elif name == "open_interest":
        check_values(columns, "oi_usd", src, "non-negative")
    elif name == "funding":
        check_values(columns, "rate", src, "finite")
    else:
        _check_liquidations(ts, columns, src)
    return Columns(ts, columns)


def _check_grid(ts: np.ndarray, step_us: int, src: Source) -> None:
    """Candles must sit on the timeframe's grid: every spacing a whole number of timeframes."""
    off = np.flatnonzero(np.diff(ts) % step_us != 0)
    if off.size:
        i = int(off[0]) + 1
        raise BundleError(
            src.path,
            f"candle at {stamp_micros(ts[i])} is off the {format_seconds(step_us // 1_000_000)} grid "
            f"(previous {stamp_micros(ts[i - 1])})",
            where=src.where(i),
            column="ts",
        )


def _check_liquidations(ts: np.ndarray, columns: dict[str, np.ndarray], src: Source) -> None:
    side = columns["side"]
    unknown = np.flatnonzero(~np.isin(side, ["long", "short"]))
    if unknown.size:
        i = int(unknown[0])
        raise BundleError(
            src.path,
            f"unknown side {side[i]!r} (use long or short: the position liquidated)",
            where=src.where(i),
            column="side",
        )
    check_values(columns, "usd", src, "non-negative")
    if "price" in columns:
        check_values(columns, "price", src, "optional-positive")
    totals = np.isnan(columns["price"]) if "price" in columns else np.ones(len(ts), dtype=bool)
    rows = np.flatnonzero(totals)
    key = ts[rows] * 2 + (side[rows] == "short")
    order = np.argsort(key, kind="stable")
    repeats = order[1:][key[order][1:] == key[order][:-1]]  # every later row of a (ts, side) pair, in row order per key
    if repeats.size:
        i = int(rows[repeats.min()])
        raise BundleError(src.path, f"duplicate {side[i]} total at {stamp_micros(ts[i])}", where=src.where(i), column="ts")


def read_columns(path: str | os.PathLike[str]) -> BundleColumns:
    """Read and validate the bundle in folder ``path`` into arrays: every check :func:`read_bundle` makes."""
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(folder, "not a folder (a bundle is a folder holding meta.json, candles.csv, open_interest.csv)")
    meta_path = folder / "meta.json"
    if not _present(meta_path):
        raise BundleError(meta_path, "missing")
    if (size := meta_path.stat().st_size) > META_MAX_BYTES:
        raise BundleError(meta_path, f"is {size:,} bytes; a meta.json holds a few keys (at most {META_MAX_BYTES:,} bytes)")
    try:
        meta = validate_meta(json.loads(meta_path.read_text(encoding="utf-8")), meta_path)
    except RecursionError:
        raise BundleError(meta_path, "nested too deeply to be a meta.json (it holds a flat object of keys)") from None
    except json.JSONDecodeError as exc:
        raise BundleError(meta_path, f"not valid JSON ({exc.msg})", where=f"line {exc.lineno}") from None
    except UnicodeDecodeError as exc:
        raise BundleError(meta_path, f"not UTF-8 text (byte {exc.start})") from None
    warnings: list[str] = []
    timeframe_us = duration_seconds(meta["timeframe"], "timeframe") * 1_000_000
    tables = {name: _read_table(folder, name, timeframe_us, warnings) for name in TABLES}
    if tables["funding"] is not None and not meta["funding_interval"]:
        raise BundleError(meta_path, "key 'funding_interval' is required when funding exists")
    if tables["liquidations"] is not None:
        for key in ("liquidations_interval", "score_from"):
            if meta[key] is None:
                raise BundleError(meta_path, f"key '{key}' is required when liquidations exist")
    return BundleColumns(folder, meta, tables, tuple(warnings))


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read and validate the bundle in folder ``path``."""
    columns = read_columns(path)
    meta = BundleMeta.from_fields(columns.meta)
    frames = {name: table.frame() if table is not None else None for name, table in columns.tables.items()}
    candles = frames["candles"]
    oi = frames["open_interest"]
    assert candles is not None
    assert oi is not None
    gaps = tuple(g for g in (_gaps("candles", candles["ts"], meta.timeframe_delta), _gaps("open_interest", oi["ts"], None)) if g)
    return Bundle(
        meta=meta,
        candles=candles,
        open_interest=oi,
        funding=frames["funding"],
        liquidations=frames["liquidations"],
        path=columns.folder,
        gaps=gaps,
        warnings=columns.warnings,
    )
