"""The one bundle writer: a temporary sibling folder renamed into place, so a reader sees the old
bundle or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from liqheat import arrays
from liqheat.bundle.meta import TABLES, Bundle, BundleError, Format
from liqheat.timeutil import epoch_micros

if TYPE_CHECKING:
    import pandas as pd

# -------------------------------------------------------------------------------------------- write


def iso_utc_text(ts: pd.Series) -> pa.Array:
    """ISO 8601 UTC text ending in Z (``2026-01-05T14:00:00Z``) of a UTC ``ts`` column."""
    return iso_micros_text(epoch_micros(ts))


def iso_micros_text(micros: np.ndarray) -> pa.Array:
    """ISO 8601 UTC text ending in Z of times in µs since the epoch; milliseconds only where some
    time has them. Arrow's cast is ~10x faster than strftime, which matters at 500k rows."""
    fraction = micros % 1_000_000
    unit = "s" if not fraction.any() else "ms" if not (fraction % 1000).any() else "us"
    return pc.strftime(arrays.timestamp_array(micros, unit), format="%Y-%m-%dT%H:%M:%SZ")


def _arrow(frame: pd.DataFrame, name: str, fmt: Format) -> pa.Table:
    required, optional = TABLES[name]
    columns = ["ts", *[c for c in (*required, *optional) if c in frame.columns]]
    data: dict[str, pa.Array] = {}
    for column in columns:
        if column == "ts":
            if fmt == "csv":
                data[column] = iso_utc_text(frame["ts"])
            else:
                data[column] = pa.array(frame["ts"].dt.tz_convert("UTC"), type=pa.timestamp("us", tz="UTC"))
        elif column == "side":
            data[column] = pa.array(frame[column].astype(str).tolist(), type=pa.string())
        else:
            data[column] = pa.array(frame[column].to_numpy(dtype=np.float64), type=pa.float64(), from_pandas=True)
    return pa.table(data)


def write_bundle(bundle: Bundle, path: str | os.PathLike[str], *, fmt: Format = "csv", overwrite: bool = False) -> Path:
    """Write ``bundle`` to folder ``path`` atomically: a reader sees the old bundle or the new one.

    The bundle is written to a temporary sibling folder and renamed into place; with ``overwrite``
    an existing bundle is swapped out only after the new one is complete. A write the system refuses
    (read-only, full disk, ``ulimit -f``) is a :class:`BundleError` naming ``path``; what was there stays.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise BundleError(target, "is a file, not a bundle folder; choose another path")
    if target.exists() and not overwrite:
        raise BundleError(target, "already exists (overwrite it with --overwrite / overwrite=True)")
    try:
        return _write(bundle, target, fmt)
    except OSError as exc:
        raise BundleError(target, f"cannot write ({exc.strerror or exc})") from exc


def _write(bundle: Bundle, target: Path, fmt: Format) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    staging.chmod(0o777 & ~_umask())
    try:
        (staging / "meta.json").write_text(json.dumps(bundle.meta.to_dict(), indent=2) + "\n", encoding="utf-8")
        for name in TABLES:
            frame = bundle.table(name)
            if frame is None:
                continue
            table = _arrow(frame, name, fmt)
            if fmt == "csv":
                options = pa_csv.WriteOptions(quoting_header="none", quoting_style="none")
                pa_csv.write_csv(table, staging / f"{name}.csv", write_options=options)
            else:
                import pyarrow.parquet as pq

                pq.write_table(table, staging / f"{name}.parquet", compression="zstd")
        if target.exists():
            retired = target.with_name(f".{target.name}.old")
            if retired.exists():
                shutil.rmtree(retired)
            os.rename(target, retired)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(retired, target)
                raise
            shutil.rmtree(retired)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
