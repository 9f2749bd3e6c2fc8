"""A store at an fsspec URL (``s3://bucket/liqheat``, ``gs://…``, ``memory://…``): what ``liqheat backfill`` reads
and writes when its ``--store`` is a URL.

The layout is the local store's (:mod:`.parquet_store`); the guarantees differ where object storage differs:
- a month file is replaced whole by one PUT, which object stores apply atomically: a reader sees the old object
  or the new one; it writes no parts (a local store's appends), and reads and folds those a copied store holds;
- there is no rename of a folder, so a backfilled month (:mod:`.partitions`) is committed by writing its
  ``meta.json`` last: a month is done when that marker exists, and a month whose marker is missing is written
  again, the same bytes, by the next run;
- there is no lock: the one writer is the process that runs the backfill, by construction (start one per store).

It reads with pyarrow through fsspec, not DuckDB, and serves reads and backfills only: fetching, following and
importing write to a local store.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liqheat.model import DomainError
from liqheat.store.parquet_store import KEYS, REPAIR, THROUGH, Series, Store, dictionary_columns, parts, through


def is_url(where: str | Path) -> bool:
    """Whether ``where`` names a store by URL (``file://`` is a local folder)."""
    return isinstance(where, str) and "://" in where and not where.startswith("file://")


def open_store(where: str | Path) -> Store:
    """The store at ``where``: a local folder, or an fsspec URL."""
    if is_url(where):
        return UrlStore(str(where))
    text = str(where)
    return Store(Path(text.removeprefix("file://")))


class UrlStore(Store):
    """A store on an fsspec file system (see the module's docstring for what it keeps and what it gives up)."""

    def __init__(self, url: str) -> None:
        try:
            self.fs, path = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise DomainError(f"store {url}: cannot open ({exc})", param="store") from None
        self.url = url
        self._writing = False
        super().__init__(Path(path))

    @property
    def where(self) -> str:
        return self.url

    @property
    def writing(self) -> bool:
        return self._writing

    @contextmanager
    def writer(self) -> Iterator[Store]:
        """Mark this process as the writer (object storage has no lock: one writer by construction)."""
        self._writing = True
        try:
            yield self
        finally:
            self._writing = False

    def path(self, local: Path) -> str:
        """A path under the store as the file system names it."""
        return local.as_posix()

    def month_files(self, series: Series) -> list[str]:
        return sorted(self.fs.glob(f"{self.path(series.folder(self.root))}/month=*/data.parquet"))

    def has(self, series: Series) -> bool:
        return bool(self.month_files(series))

    def _month(self, path: str) -> tuple[pa.Table, int, list[str]]:
        """The month of the data.parquet at ``path`` (with the parts after it: :func:`read_month` over fsspec), the
        number of its last part and the part files in its folder."""
        folder = path.rsplit("/", 1)[0]
        listed = parts([name.rsplit("/", 1)[-1] for name in self.fs.ls(folder, detail=False)])
        base = self._table(path)
        covered = through(base.schema)
        tables = [base] + [self._table(f"{folder}/{name}") for seq, name in listed if seq > covered]
        whole = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        return whole, max([covered] + [seq for seq, _ in listed]), [f"{folder}/{name}" for _, name in listed]

    def _table(self, path: str) -> pa.Table:
        try:
            with self.fs.open(path, "rb") as handle:
                return pq.read_table(handle)
        except (pa.ArrowException, OSError) as exc:
            raise DomainError(
                f"{self.url}: {path} is not a readable Parquet file ({str(exc).splitlines()[0][:120]}); {REPAIR}"
            ) from None

    def write(self, series: Series, frame: pd.DataFrame) -> int:
        """Merge ``frame`` into the series as :meth:`Store.write` does, each month one PUT."""
        if not self._writing:
            raise DomainError("write outside Store.writer(): take the writer lock first")
        if frame.empty:
            return 0
        key = [k for k in KEYS[series.kind] if k in frame.columns]
        added = 0
        for month, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m"), sort=True):
            path = f"{self.path(series.folder(self.root))}/month={month}/data.parquet"
            month, last, folded = self._month(path) if self.fs.exists(path) else (None, 0, [])
            old = None if month is None else month.to_pandas()
            rows = part if old is None else pd.concat([old, part], ignore_index=True)
            merged = rows.drop_duplicates(subset=key, keep="last").sort_values(key, kind="stable").reset_index(drop=True)
            buffer = io.BytesIO()
            table = pa.Table.from_pandas(merged, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), THROUGH: str(last).encode()})
            pq.write_table(table, buffer, compression="zstd", use_dictionary=dictionary_columns(table))
            self.fs.pipe_file(path, buffer.getvalue())
            for name in folded:
                self.fs.rm_file(name)
            added += len(merged) - (0 if old is None else len(old))
        return added

    def read(
        self,
        series: Series,
        since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None,
        *,
        months: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """The series' rows in [since, until), sorted: :meth:`Store.read`'s answer, read with pyarrow (``months``:
        those month files only)."""
        files = self.month_files(series)
        if months is not None:
            files = [f for f in files if f.rsplit("/", 2)[-2].removeprefix("month=") in months]
        tables = [self._month(path)[0] for path in files]
        if not tables:
            return pd.DataFrame(columns=["ts"])
        frame = pa.concat_tables(tables, promote_options="default").to_pandas()
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[us, UTC]")
        keep = pd.Series(True, index=frame.index)
        if since is not None:
            keep &= frame["ts"] >= since
        if until is not None:
            keep &= frame["ts"] < until
        rows: pd.DataFrame = frame[keep].sort_values("ts", kind="stable").reset_index(drop=True)
        return rows

    def first(self, series: Series) -> pd.Timestamp | None:
        frame = self.read(series)
        return None if frame.empty else pd.Timestamp(frame["ts"].iloc[0])

    def cursors(self) -> dict[str, str]:
        return {}

    def advance(self, venue: str, symbol: str, stream: str, ts: pd.Timestamp) -> None:
        raise DomainError(f"{self.url}: fetching and following write to a local store; a URL store is read and backfilled")
