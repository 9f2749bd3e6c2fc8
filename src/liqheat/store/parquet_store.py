"""The embedded store: Parquet files partitioned by kind/venue/symbol/timeframe/month, read with pyarrow.

Writes are safe against a kill at any moment:
- One writer at a time, guarded by an exclusive lock on ``.writer.lock``.
- Every file is written whole: its content goes to a temporary file in the same folder, is flushed to
  disk, and is renamed into place. A reader sees a file as it was or as it is, never half of one.
- A month folder holds ``data.parquet`` and, after it, the rows a follower appended since: ``part-NNNNNN.parquet``
  files, numbered in order, each with rows later than every row before it (a candle a minute would otherwise
  rewrite the whole month, 30 ms at a month's end, for one row). Every few dozen parts the month is written again
  as one ``data.parquet`` that records in its metadata (``liqheat.through``) the last part it holds, and those
  parts are removed; a reader skips a part that number covers, so a kill between the two steps repeats nothing.
- Merging is idempotent: the rows already stored and the new ones are combined and de-duplicated
  on the kind's key, so ingesting the same data twice, or again after a crash, changes nothing.
- The cursor per (venue, symbol, stream), in ``cursors.json`` and replaced the same way, moves only
  after the data it covers is on disk. A resumed ingestion may write some rows again, which the
  merge absorbs; it never skips any.
- A write killed before its rename leaves its temporary file (``.data.parquet.<random>.tmp``), or a backfilled
  partition's temporary folder (``.month=YYYY-MM.<random>.tmp``, see :mod:`.partitions`). The next writer,
  holding the lock and so sure no write is under way, removes them and says so.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from liqheat.arrays import mask_array
from liqheat.fsutil import atomic_write
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros

KEYS: dict[str, tuple[str, ...]] = {
    "candles": ("ts",),
    "open_interest": ("ts",),
    "funding": ("ts",),
    "metrics": ("ts",),
    "book_depth": ("ts", "percentage"),
    "liquidations": ("ts", "side", "usd", "price"),
    "gaps": ("ts", "stream"),
    "predictions": ("ts",),  # liqheat backfill's per-candle predictions, a month folder each (store/partitions.py)
    "positions": ("ts", "user", "coin"),  # on-chain positions as they open, change and close (venues/hyperliquid/tracker.py)
    "coverage": ("ts",),
}
_SAFE = re.compile(r"^[\w.-]+$")
INTERRUPTED = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # fsutil.atomic_write's temporary name
INTERRUPTED_FOLDER = re.compile(r"^\.month=\d{4}-\d{2}\.[a-z0-9_]{8}\.tmp$")  # a partition folder being written (partitions.py)
log = logging.getLogger("liqheat.store")  # Unicode letters too: Binance lists symbols such as 币安人生USDT


CACHE_BYTES = 256 << 20  # what a Store keeps of the month files it wrote (Store.write)
UTC_US = pd.DatetimeTZDtype("us", "UTC")
GREW_FROM = 64  # the earlier files a kept month remembers it grew from (Store.appended)
BASE = "data.parquet"
PART = re.compile(r"^part-(\d{6,})\.parquet$")  # rows appended to a month after its data.parquet (module docstring)
THROUGH = b"liqheat.through"  # in a data.parquet's metadata: the last part it holds (0: none)
# the parts a month gathers before they are folded into its data.parquet, spread over this range per series so that
# markets following in step do not all rewrite their months at the same minute
PARTS_BEFORE_FOLD = (16, 32)
REPAIR = "run `liqheat store check --repair` (it moves unreadable files to quarantine/, deleting nothing)"


class Unreadable(OSError):
    """A month's file that pyarrow cannot read: which one, and why."""

    def __init__(self, path: Path, exc: Exception) -> None:
        super().__init__(str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)
        self.path = path

    def refused(self) -> DomainError:
        return DomainError(f"{self.path}: not a readable Parquet file ({self}); {REPAIR}")


def read_file(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file, read through one open file: ``pq.read_table(path)`` opens the path more than once (the
    footer, then the pages), and a file renamed over it in between reads as a torn file."""
    with pa.OSFile(str(path)) as handle:
        return pq.read_table(handle, columns=columns)


def _file(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return read_file(path, columns)
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise Unreadable(path, exc) from None


def through(schema: pa.Schema) -> int:
    """The last part a month's data.parquet holds (its ``liqheat.through`` metadata; 0 when it has none)."""
    value = (schema.metadata or {}).get(THROUGH)
    return int(value) if value is not None and value.isdigit() else 0


def parts(names: Collection[str]) -> list[tuple[int, str]]:
    """The part files among a month folder's ``names``, (number, name) in order."""
    return sorted((int(m[1]), name) for name in names if (m := PART.match(name)))


def read_month(folder: Path, columns: list[str] | None = None) -> tuple[pa.Table, int]:
    """A month's rows (its data.parquet, then the parts after the last it holds) and the number of its last part.

    The folder is listed before data.parquet is read, so the parts listed are either after it or covered by it; a
    part folded and removed meanwhile (the writer is another thread or process) means the listing is older than
    the data.parquet read: the month is read again. A file pyarrow cannot read raises :class:`Unreadable`."""
    for _ in range(5):
        listed = parts(os.listdir(folder))
        base = _file(folder / BASE, columns)
        covered = through(base.schema)
        tables = [base]
        try:
            tables += [_file(folder / name, columns) for seq, name in listed if seq > covered]
        except FileNotFoundError:
            continue
        last = max([covered] + [seq for seq, _ in listed])
        try:
            return (base if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")), last
        except pa.ArrowException as exc:
            raise Unreadable(folder, exc) from None
    raise DomainError(f"{folder}: rewritten on every read; try again")


def month_files(folder: Path) -> list[Path]:
    """A month's files that hold its rows, for a reader that takes a list (DuckDB): its data.parquet and the parts
    after the last one it holds. A fold may remove a part before the list is read: list again."""
    listed = parts(os.listdir(folder))
    covered = through(pq.read_schema(folder / BASE)) if listed else 0
    return [folder / BASE] + [folder / name for seq, name in listed if seq > covered]


def _merged(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The last of repeated keys kept, in key order: what a month file holds."""
    return rows.drop_duplicates(subset=key, keep="last").sort_values(key, kind="stable").reset_index(drop=True)


def write_month(path: Path, rows: pd.DataFrame, key: list[str]) -> int:
    """Replace the month of the data.parquet at ``path`` (its parts too) with ``rows`` merged on ``key`` (the last of
    repeated keys kept, in key order), atomically; returns how many rows it holds. ``store check --repair`` and
    every write a :class:`Store` cannot append go through here."""
    table = pa.Table.from_pandas(_merged(rows, key), preserve_index=False)
    last = 0
    if path.parent.is_dir():
        last = max([seq for seq, _ in parts(os.listdir(path.parent))], default=0)
        if path.exists():
            last = max(last, through(pq.read_schema(path)))
    _replaced(path.parent, table, last)
    return int(table.num_rows)


def dictionary_columns(table: pa.Table) -> list[str]:
    """The columns worth a dictionary page: the text ones (sides, streams, reasons). Prices, sizes and times are
    nearly all distinct, and building their dictionaries took two thirds of a month file's write (30 ms of a
    month of minutes, which a follower rewrites on every candle), for a larger file."""
    return [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


FileId = tuple[int, int, int]  # (inode, size, modification time in ns): a replaced file has another


def _file_id(st: os.stat_result) -> FileId:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _written(path: Path, table: pa.Table) -> FileId:
    """Write ``table`` as the file at ``path`` (atomically); the identity of the file written, taken before its
    rename (a rename keeps it), so a file replaced right after is never taken for this one."""
    ident: list[FileId] = []

    def write(tmp: Path) -> None:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=dictionary_columns(table))
        ident.append(_file_id(os.stat(tmp)))

    atomic_write(path, write)
    return ident[0]


def _replaced(folder: Path, table: pa.Table, last: int) -> FileId:
    """Write ``table`` as the month's data.parquet holding every part up to ``last``, then remove those parts."""
    meta = {**(table.schema.metadata or {}), THROUGH: str(last).encode()}
    ident = _written(folder / BASE, table.replace_schema_metadata(meta))
    for seq, name in parts(os.listdir(folder)):
        if seq <= last:
            (folder / name).unlink(missing_ok=True)
    return ident


def _newest(folder: str) -> FileId | None:
    """The identity of a month's newest file (its last part, or its data.parquet): every write makes a new one."""
    for _ in range(5):
        try:
            with os.scandir(folder) as listing:
                found = parts([e.name for e in listing])
            return _file_id(os.stat(os.path.join(folder, found[-1][1] if found else BASE)))
        except FileNotFoundError:
            continue  # a part folded and removed between the listing and the stat
        except OSError:
            return None
    return None


def fold_after(folder: Path) -> int:
    """How many parts this series' months gather before they are folded (:data:`PARTS_BEFORE_FOLD`)."""
    lo, hi = PARTS_BEFORE_FOLD
    return lo + zlib.crc32(str(folder).encode()) % (hi - lo)


_SIMPLE = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_timestamp, pa.types.is_string,
           pa.types.is_large_string, pa.types.is_null)  # fmt: skip


def _same_rows(a: pa.Table, b: pa.Table) -> bool:
    """Whether two tables of one schema hold the same values bit for bit (a float's sign and NaN too)."""
    for x, y in zip(a.columns, b.columns, strict=True):
        u, v = x.combine_chunks(), y.combine_chunks()
        if pa.types.is_floating(u.type):
            width = pa.uint64() if u.type.bit_width == 64 else pa.uint32() if u.type.bit_width == 32 else pa.uint16()
            u, v = u.view(width), v.view(width)
        if not u.equals(v):
            return False
    return True


def _ts(table: pa.Table) -> np.ndarray:
    """A timestamp column without nulls as int64, in its own unit."""
    return np.asarray(table.column("ts").combine_chunks().view(pa.int64()).to_numpy(zero_copy_only=False))


@dataclass(frozen=True)
class _Month:
    """A month file as this store last wrote it: its identity on disk and its table (in key order, keys unique)."""

    ident: FileId  # of its newest file
    table: pa.Table
    ts: np.ndarray
    last: int  # the number of its last part (the data.parquet's when there are none after it)
    covered: int  # the last part its data.parquet holds
    # the earlier files of this month this one grew from by appends only (this store's writes), with their row
    # counts: the file is each of them, then rows appended (a reader holding one reads only those rows)
    grew_from: dict[FileId, int] = field(default_factory=dict)
    # measured once, or summed as rows are appended: pyarrow walks every buffer of every chunk to tell it
    nbytes: int = -1

    def __post_init__(self) -> None:
        if self.nbytes < 0:
            object.__setattr__(self, "nbytes", int(self.table.nbytes + self.ts.nbytes))


def _appended(stored: _Month, part: pd.DataFrame, key: list[str]) -> pa.Table | None:
    """``stored`` merged with ``part`` as :func:`write_month` would merge them, when that is ``stored`` with rows
    appended: ``part`` has ``stored``'s column types and, after its own merge, each of its rows either has a time
    after every stored row or repeats exactly the first stored row at its time (a repeat changes nothing). The
    appended rows (perhaps none), or None when the general merge is needed."""
    ts = part["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        return None
    names = stored.table.column_names
    if list(part.columns) != names and sorted(map(str, part.columns)) == sorted(names):
        part = part[names]  # the columns in the month's order, as the merge would put them
    if not (len(ts) < 2 or bool((np.diff(epoch_micros(ts)) > 0).all())):
        part = _merged(part, key)  # out of order or repeated: what the merge keeps of it, in key order
    new = pa.Table.from_pandas(part, preserve_index=False, nthreads=1)
    if not new.schema.equals(stored.table.schema, check_metadata=True):
        return None
    if not all(any(simple(t) for simple in _SIMPLE) for t in new.schema.types):
        return None
    at = _ts(new)
    last = int(stored.ts[-1]) if len(stored.ts) else None
    n_old = 0 if last is None else int(np.searchsorted(at, last, side="right"))  # ``at`` is in order: ts leads the key
    if n_old:
        first = np.searchsorted(stored.ts, at[:n_old], side="left")
        if not _same_rows(stored.table.take(first), new.slice(0, n_old)):
            return None
    return new.slice(n_old)


def _within(table: pa.Table, since: pd.Timestamp | None, until: pd.Timestamp | None) -> pa.Table:
    """The rows in [since, until) when the times are UTC µs without nulls (as :meth:`Store.read` answers them, which
    then compares them again): a follower reads the last two hours of a month on every open-interest poll, and
    making a frame of the whole month first cost more than the rest of the poll."""
    bounds = [b for b in (since, until) if b is not None]
    kind = table.schema.field("ts").type if "ts" in table.schema.names else None
    utc_us = kind is not None and pa.types.is_timestamp(kind) and kind.unit == "us" and kind.tz is not None
    if not bounds or not utc_us or any(b.tz is None for b in bounds) or table.column("ts").null_count:
        return table
    us = _ts(table)
    keep = np.ones(len(us), dtype=bool)
    if since is not None:
        keep &= us >= -(-since.value // 1000)  # ts * 1000 >= since in ns, without overflow
    if until is not None:
        keep &= us < -(-until.value // 1000)
    return table if keep.all() else table.filter(mask_array(keep))


def _frame(table: pa.Table, since: pd.Timestamp | None, until: pd.Timestamp | None) -> pd.DataFrame:
    """A month table's rows in [since, until) as :meth:`Store.read` gives them: UTC µs times, in time order."""
    frame: pd.DataFrame = table.to_pandas(ignore_metadata=True)
    if frame["ts"].dtype != UTC_US:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype(UTC_US)
    keep = np.ones(len(frame), dtype=bool)
    if since is not None:
        keep &= (frame["ts"] >= since).to_numpy()
    if until is not None:
        keep &= (frame["ts"] < until).to_numpy()
    if not keep.all():
        frame = frame[keep]
    if not frame["ts"].is_monotonic_increasing:  # months written by older versions, or out of order
        frame = frame.sort_values("ts", kind="stable")
    return frame.reset_index(drop=True)


def default_root() -> Path:
    return Path(os.environ.get("LIQHEAT_HOME") or Path.home() / ".liqheat")


def folder_value(value: str) -> str:
    """How a venue or symbol is spelled in a folder name (``BTC/USDT:USDT`` → ``BTC-USDT_USDT``)."""
    return value.replace("/", "-").replace(":", "_")


def _part(name: str, value: str) -> str:
    clean = folder_value(value)
    if not _SAFE.match(clean) or clean in (".", ".."):
        raise DomainError(f"{name} {value!r} cannot name a store folder (letters, digits, . _ - only)")
    return f"{name}={clean}"


@dataclass(frozen=True)
class Series:
    """One stored series: a kind of data for one venue, symbol and timeframe."""

    kind: str
    venue: str
    symbol: str
    timeframe: str = "-"

    def folder(self, root: Path) -> Path:
        if self.kind not in KEYS:
            raise DomainError(f"unknown kind {self.kind!r} (known: {', '.join(KEYS)})")
        return root / self.kind / _part("venue", self.venue) / _part("symbol", self.symbol) / _part("timeframe", self.timeframe)


class Store:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self._lock: IO[str] | None = None
        self.recovered: tuple[Path, ...] = ()
        self.cache_bytes = CACHE_BYTES
        self._months: dict[Path, tuple[str, _Month]] = {}  # per series folder: its newest month as written here
        # cursors.json is written at most this often (seconds; 0: on every advance), the writer's copy in memory:
        # a cursor on disk behind its data costs a re-read of that data after a restart, never a row
        self.cursor_every = 0.0
        self._cursors: dict[str, str] | None = None
        self._cursors_dirty = False
        self._cursors_flushed = -float("inf")

    @contextmanager
    def writer(self) -> Iterator[Store]:
        """Hold the store's single writer lock for the duration (non-blocking: a second writer fails)."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / ".writer.lock", "w")  # noqa: SIM115  (held for the with-block)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DomainError(f"another process is writing to the store {self.root}; try again when it is done") from None
        self._lock = handle
        try:
            self.recovered = self._remove_interrupted_writes()
            yield self
        finally:
            try:
                self.flush_cursors()
            finally:
                self._cursors, self._cursors_dirty = None, False
                self._lock = None
            self._months.clear()  # another writer may write once the lock is released
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    @property
    def where(self) -> str:
        """The store's location as a worker opens it (:func:`liqheat.store.remote.open_store`)."""
        return str(self.root)

    def has(self, series: Series) -> bool:
        """Whether the series has any month stored."""
        return any(series.folder(self.root).glob("month=*/data.parquet"))

    @property
    def writing(self) -> bool:
        """Whether this store holds the writer lock (inside :meth:`writer`)."""
        return self._lock is not None

    def _remove_interrupted_writes(self) -> tuple[Path, ...]:
        """Delete the temporaries of writes that were killed before their rename (call with the lock held)."""
        found = tuple(sorted(p for p in self.root.rglob(".*.tmp") if p.is_file() and INTERRUPTED.match(p.name)))
        folders = tuple(sorted(p for p in self.root.glob("predictions/*/*/*/.month=*.tmp") if INTERRUPTED_FOLDER.match(p.name)))
        for path in found:
            path.unlink(missing_ok=True)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        found += folders
        if found:
            shown = ", ".join(str(p.relative_to(self.root)) for p in found[:3]) + (" …" if len(found) > 3 else "")
            log.warning(
                "store %s: removed %d temporary file(s) of interrupted writes (%s); the files they would have "
                "replaced are intact, and a rerun of the interrupted command restores what it was writing",
                self.root, len(found), shown,
            )  # fmt: skip
        return found

    def write(self, series: Series, frame: pd.DataFrame) -> int:
        """Merge ``frame`` (UTC ``ts`` column) into the series; returns how many rows were new.

        A follower writes a row or two a minute into a month of thousands: the newest month of each series is kept
        as written (:attr:`cache_bytes` in all), and rows after its last (or repeating its last ones exactly) are
        appended to it in Arrow, where a merge would read the file and sort every row in pandas; rows that change
        nothing leave the file as it is. Anything else, or a file replaced since, goes through :func:`write_month`."""
        if self._lock is None:
            raise DomainError("write outside Store.writer(): take the writer lock first")
        if frame.empty:
            return 0
        if "ts" not in frame:
            raise DomainError(f"{series.kind}: frame needs a ts column")
        key = [k for k in KEYS[series.kind] if k in frame.columns]
        folder = series.folder(self.root)
        added = 0
        ts = frame["ts"]
        lo, hi = (ts.min(), ts.max()) if isinstance(ts.dtype, pd.DatetimeTZDtype) and not ts.hasnans else (None, None)
        if lo is not None and hi is not None and (lo.year, lo.month) == (hi.year, hi.month):
            parts: list[tuple[Any, pd.DataFrame]] = [(lo.strftime("%Y-%m"), frame)]
        else:
            parts = list(frame.groupby(ts.dt.strftime("%Y-%m"), sort=True))
        for month, part in parts:
            added += self._merge(folder, str(month), part, key)
        return added

    def _merge(self, folder: Path, month: str, part: pd.DataFrame, key: list[str]) -> int:
        where = folder / f"month={month}"
        kept = self._months.get(folder)
        stored = kept[1] if kept is not None and kept[0] == month and self._current(where, kept[1]) else None
        rows = None if stored is None else _appended(stored, part, key)
        at: np.ndarray | None
        grew_from: dict[FileId, int] = {}
        nbytes = -1
        if stored is not None and rows is not None:
            if not rows.num_rows:
                return 0
            table = pa.concat_tables([stored.table, rows])
            if table.column(0).num_chunks > PARTS_BEFORE_FOLD[1]:
                table = table.combine_chunks()
            at = np.concatenate([stored.ts, _ts(rows)])
            added = int(rows.num_rows)
            nbytes = stored.nbytes + int(rows.nbytes) + 8 * added
            grew_from = dict(list(stored.grew_from.items())[-(GREW_FROM - 1) :])
            grew_from[stored.ident] = stored.table.num_rows
            if stored.last - stored.covered + 1 >= fold_after(folder):
                last = covered = stored.last
                ident = _replaced(where, table, last)
            else:
                last, covered = stored.last + 1, stored.covered
                ident = _written(where / f"part-{last:06d}.parquet", rows)
        else:
            try:
                old, last = read_month(where) if (where / BASE).exists() else (None, 0)
            except Unreadable as exc:
                raise exc.refused() from None
            frame = part if old is None else pd.concat([old.to_pandas(), part], ignore_index=True)
            table = pa.Table.from_pandas(_merged(frame, key), preserve_index=False)
            simple = table.column("ts").null_count == 0 and pa.types.is_timestamp(table.schema.field("ts").type)
            at = _ts(table) if simple else None  # the append path reads times without nulls
            added = int(table.num_rows) - (0 if old is None else old.num_rows)
            where.mkdir(parents=True, exist_ok=True)
            ident = _replaced(where, table, last)
            covered = last
        if kept is not None and kept[0] > month:
            return added  # an older month: the newest stays kept
        self._months.pop(folder, None)
        if at is not None:
            entry = _Month(ident, table, at, last, covered, grew_from, nbytes)
            if entry.nbytes + sum(m.nbytes for _, m in self._months.values()) <= self.cache_bytes:
                self._months[folder] = (month, entry)
        return added

    def _current(self, where: Path, entry: _Month) -> bool:
        """Whether a kept month is still the month on disk (its newest file is the one this store wrote last)."""
        return _newest(str(where)) == entry.ident

    def _written_table(self, where: Path) -> pa.Table | None:
        """The table this store last wrote as the month folder ``where``, if it is still that (a service's markets
        read what its followers just wrote: decoding the files again would cost more than the write)."""
        kept = self._months.get(where.parent)
        if kept is None or where.name != f"month={kept[0]}" or not self._current(where, kept[1]):
            return None
        return kept[1].table

    def months(self, series: Series) -> dict[str, FileId]:
        """The series' months, ``YYYY-MM`` → their newest file's (inode, size, modification time in ns): a few stat
        calls that tell which months a write changed (every write makes a new file), where reading them reads every
        row."""
        out: dict[str, FileId] = {}
        try:
            listing = os.scandir(series.folder(self.root))
        except FileNotFoundError:
            return out
        with listing:
            for entry in sorted(listing, key=lambda e: e.name):
                if not entry.name.startswith("month="):
                    continue
                ident = _newest(entry.path)
                if ident is not None:  # None: not a month folder
                    out[entry.name.removeprefix("month=")] = ident
        return out

    def appended(self, series: Series, month: str, was: FileId, since: pd.Timestamp | None = None) -> pd.DataFrame | None:
        """The rows of the month file written since its version ``was`` (a :meth:`months` identity) when this store
        wrote every version since by appends only (what a following market reads after a follower's write, rather
        than the whole month and a row-by-row comparison), as :meth:`read` gives them; None when it cannot tell."""
        where = series.folder(self.root) / f"month={month}"
        table = self._written_table(where)
        kept = self._months.get(where.parent)
        if table is None or kept is None:
            return None
        entry = kept[1]
        n = entry.table.num_rows if entry.ident == was else entry.grew_from.get(was)
        if n is None:
            return None
        return _frame(_within(table.slice(n), since, None), since, None)

    def read(
        self,
        series: Series,
        since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None,
        *,
        months: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """The series' rows in [since, until), sorted: the month files in order (each is sorted on the kind's key
        when written), read with pyarrow. A service re-reads a market's series on every candle; DuckDB took ten
        times as long for a month file (a connection and a query plan each time). ``months`` (``YYYY-MM``): those
        month files only (what a store market following the store re-reads when a write replaced them)."""
        folder = series.folder(self.root)
        files = sorted(folder.glob("month=*/data.parquet"))
        if months is not None:
            files = [f for f in files if f.parent.name.removeprefix("month=") in months]
        first = since.strftime("%Y-%m") if since is not None else ""
        last = until.strftime("%Y-%m") if until is not None else "9999-99"
        where = folder.relative_to(self.root) if folder.is_relative_to(self.root) else folder
        tables = []
        try:
            for path in files:
                if first <= path.parent.name.removeprefix("month=") <= last:
                    part = self._written_table(path.parent)
                    if part is None:
                        part = read_month(path.parent)[0]
                    if part.num_rows:
                        tables.append(part)
            if not tables:
                return pd.DataFrame(columns=["ts"])
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowException, OSError) as exc:
            reason = str(exc).splitlines()[0][:200]
            raise DomainError(f"store {self.root}: cannot read {where} ({reason}); {REPAIR}") from None
        return _frame(_within(table, since, until), since, until)

    def first(self, series: Series) -> pd.Timestamp | None:
        """The earliest stored time of a series (from its earliest month file), or None when it is empty."""
        files = sorted(series.folder(self.root).glob("month=*/data.parquet"))
        for path in files:
            try:
                column = read_month(path.parent, ["ts"])[0].column("ts")
            except Unreadable as exc:
                raise exc.refused() from None
            if len(column):
                return pd.Timestamp(pc.min(column).as_py()).tz_convert("UTC")
        return None

    def cursors(self) -> dict[str, str]:
        if self._cursors is not None:
            return dict(self._cursors)  # the writer's, perhaps ahead of the file
        path = self.root / "cursors.json"
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise DomainError(f"{path}: not valid JSON ({str(exc)[:120]}); {REPAIR}") from None
        if not isinstance(data, dict):
            raise DomainError(f"{path}: not an object of cursors; {REPAIR}")
        return {str(k): str(v) for k, v in data.items()}

    def cursor(self, venue: str, symbol: str, stream: str) -> pd.Timestamp | None:
        value = self.cursors().get(f"{venue}|{symbol}|{stream}")
        return pd.Timestamp(value) if value else None

    def advance(self, venue: str, symbol: str, stream: str, ts: pd.Timestamp) -> None:
        """Move a cursor forward (never back), after the data it covers has been written."""
        if self._lock is None:
            raise DomainError("advance outside Store.writer(): take the writer lock first")
        if self._cursors is None:
            self._cursors = self.cursors()
        key = f"{venue}|{symbol}|{stream}"
        current = pd.Timestamp(self._cursors[key]) if key in self._cursors else None
        if current is not None and ts <= current:
            return
        self._cursors = {**self._cursors, key: ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        self._cursors_dirty = True
        if time.monotonic() - self._cursors_flushed >= self.cursor_every:
            self.flush_cursors()

    def flush_cursors(self) -> None:
        """Write the cursors advanced since the last write to cursors.json (a service calls it on a timer; leaving
        :meth:`writer` calls it)."""
        if not self._cursors_dirty or self._cursors is None:
            return
        text = json.dumps(self._cursors, indent=1, sort_keys=True)
        atomic_write(self.root / "cursors.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        self._cursors_dirty = False
        self._cursors_flushed = time.monotonic()
