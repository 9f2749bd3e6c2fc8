"""Backfilled partitions in the store: one folder per (venues, symbol, timeframe, month), there whole or not at all.

``predictions/venue=<venues>/symbol=<symbol>/timeframe=<tf>/month=YYYY-MM/`` holds

- ``data.parquet``: each candle's predicted liquidations (``ts``, ``swept_long``, ``swept_short``, ``intra_long``,
  ``intra_short``, USD), so ``Store.read(Series("predictions", ...))`` reads a backfill like any series;
- ``frames.parquet``: the map after each frame candle (``ts`` of its close, ``k0`` the absolute bin of the first
  value, ``long`` and ``short`` float32 per bin of ``bin_width``);
- ``state.npz``: the engine state the next month starts from (:class:`liqheat.engine.partition.Carried`);
- ``meta.json``: the parameters, the liqheat version and the counts.

Exactly once, whatever is killed when: the files are written into a hidden sibling ``.month=YYYY-MM.<random>.tmp/``,
flushed to disk, and the folder is renamed into place in one step, then the parent folder is synced. A
``month=`` folder that exists is complete; a commit that finds it there leaves it (a partition is a pure
function of its inputs, so a second computation of it is the same bytes). A temporary folder left by a kill is
removed by the next writer (:meth:`liqheat.store.parquet_store.Store.writer`). Only the holder of the store's
writer lock commits; readers and workers never write. On a store at a URL (:mod:`.remote`), where no folder is
renamed, each file is one PUT and ``meta.json`` goes last: a month is done when its ``meta.json`` is there.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

from liqheat.model import DomainError
from liqheat.store.parquet_store import Series, Store
from liqheat.store.remote import UrlStore

FILES = ("data.parquet", "frames.parquet", "state.npz", "meta.json")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def venue_label(venues: tuple[str, ...]) -> str:
    """How a venue set names its folder: ``binance.bybit.okx`` (one venue is itself)."""
    return ".".join(venues)


def folder(root: Path, venues: tuple[str, ...], symbol: str, timeframe: str) -> Path:
    """The folder of a market's backfilled months."""
    return Series("predictions", venue_label(venues), symbol, timeframe).folder(root)


def month_folder(root: Path, venues: tuple[str, ...], symbol: str, timeframe: str, month: str) -> Path:
    if not _MONTH.match(month):
        raise DomainError(f"month must be YYYY-MM, got {month!r}")
    return folder(root, venues, symbol, timeframe) / f"month={month}"


def done(store: Store, venues: tuple[str, ...], symbol: str, timeframe: str) -> set[str]:
    """The months of a market that are committed (their folder, or on a URL their ``meta.json``, exists)."""
    base = folder(store.root, venues, symbol, timeframe)
    if isinstance(store, UrlStore):
        return {path.rsplit("/", 2)[-2].removeprefix("month=") for path in store.fs.glob(f"{store.path(base)}/month=*/meta.json")}
    return {p.name.removeprefix("month=") for p in base.glob("month=*") if p.is_dir()} if base.is_dir() else set()


def read_file(store: Store, venues: tuple[str, ...], symbol: str, timeframe: str, month: str, name: str) -> bytes:
    """One file of a committed month (``state.npz`` to resume from it)."""
    path = month_folder(store.root, venues, symbol, timeframe, month) / name
    try:
        if isinstance(store, UrlStore):
            data: bytes = store.fs.cat_file(store.path(path))
            return data
        return path.read_bytes()
    except OSError as exc:
        raise DomainError(f"{store.where}: {path}: cannot read ({exc.strerror or exc}); run `liqheat store check`") from None


def read_meta(store: Store, venues: tuple[str, ...], symbol: str, timeframe: str, month: str) -> dict[str, object]:
    path = month_folder(store.root, venues, symbol, timeframe, month) / "meta.json"
    try:
        data = json.loads(read_file(store, venues, symbol, timeframe, month, "meta.json"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DomainError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DomainError(f"{path}: not an object")
    return data


def commit(store: Store, venues: tuple[str, ...], symbol: str, timeframe: str, month: str, files: Mapping[str, bytes]) -> bool:
    """Put a month's files in place in one rename; False when the month was already there (left as it is).

    Needs the writer lock (:meth:`Store.writer`): one process commits, whoever computed the files.
    """
    if not store.writing:
        raise DomainError("commit outside Store.writer(): take the writer lock first")
    if sorted(files) != sorted(FILES):
        raise DomainError(f"a partition is the files {', '.join(FILES)}, got {', '.join(sorted(files))}")
    target = month_folder(store.root, venues, symbol, timeframe, month)
    if isinstance(store, UrlStore):
        if month in done(store, venues, symbol, timeframe):
            return False
        for name in sorted(FILES, key=lambda n: n == "meta.json"):  # the marker last
            store.fs.pipe_file(store.path(target / name), files[name])
        return True
    if target.is_dir():
        return False
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        staging.mkdir()
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        _sync(staging)
        os.rename(staging, target)
        _sync(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DomainError(f"{target}: cannot write ({exc.strerror or exc})") from None
    return True


def _sync(path: Path) -> None:
    """Make a folder's entries durable (a rename is on disk once its folder is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
