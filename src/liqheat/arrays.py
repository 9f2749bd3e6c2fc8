"""Arrow ↔ numpy through the columns' buffers, without pandas.

pyarrow imports pandas (about 0.3 s here) on its first conversion to or from numpy (``to_numpy``,
``pa.array``, ``pa.scalar``) only to ask whether the object is a pandas one. The paths that never build a
DataFrame (``liqheat replay``) read and write their columns through these few functions instead, which
follow Arrow's documented memory layout: a validity bitmap and a data buffer per chunk.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _bits(buffer: pa.Buffer, offset: int, length: int) -> np.ndarray:
    packed = np.frombuffer(buffer, dtype=np.uint8, count=(offset + length + 7) // 8)
    return np.unpackbits(packed, bitorder="little", count=offset + length)[offset:].astype(bool)


def _chunk(array: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """One chunk's values and its validity (None when no value is null)."""
    validity, data = array.buffers()[:2]
    n, offset = len(array), array.offset
    valid = _bits(validity, offset, n) if validity is not None and array.null_count else None
    kind = array.type
    if pa.types.is_boolean(kind):
        values = _bits(data, offset, n) if n else np.zeros(0, dtype=bool)
    elif pa.types.is_floating(kind):
        width = np.dtype(f"f{kind.bit_width // 8}")
        values = np.frombuffer(data, dtype=width, count=offset + n)[offset:] if n else np.zeros(0, dtype=width)
    elif pa.types.is_integer(kind) or pa.types.is_timestamp(kind):
        signed = not pa.types.is_unsigned_integer(kind)
        fixed = np.dtype(f"{'i' if signed else 'u'}{kind.bit_width // 8}")
        values = np.frombuffer(data, dtype=fixed, count=offset + n)[offset:] if n else np.zeros(0, dtype=fixed)
    else:
        raise TypeError(f"no buffer conversion for Arrow type {kind}")
    return values, valid


def numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric column as a new float64 array, null → NaN."""
    parts = []
    for array in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        values, valid = _chunk(array)
        out = values.astype(np.float64)
        if valid is not None:
            out[~valid] = np.nan
        parts.append(out)
    return np.concatenate(parts) if parts else np.zeros(0)


def flags(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean column as a new bool array, null → False."""
    parts = []
    for array in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        values, valid = _chunk(array)
        parts.append(values & valid if valid is not None else values.copy())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A timestamp[us] column without nulls as a new int64 array of µs since the epoch."""
    if not (pa.types.is_timestamp(column.type) and column.type.unit == "us") or column.null_count:
        raise TypeError(f"expected timestamp[us] without nulls, got {column.type} with {column.null_count} null(s)")
    parts = [_chunk(array)[0].astype(np.int64) for array in (column.chunks if isinstance(column, pa.ChunkedArray) else [column])]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def words(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A string column as an object array of str (null → None)."""
    return np.array(column.to_pylist(), dtype=object)


def float_array(values: np.ndarray) -> pa.Array:
    """A float64 Arrow array sharing ``values``' memory (NaN stays NaN, not null)."""
    data = np.ascontiguousarray(values, dtype=np.float64)
    return pa.Array.from_buffers(pa.float64(), len(data), [None, pa.py_buffer(data)])


def mask_array(mask: np.ndarray) -> pa.Array:
    """A boolean Arrow array of ``mask`` (for ``Table.filter``)."""
    bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def timestamp_array(us: np.ndarray, unit: str = "us") -> pa.Array:
    """A timestamp Arrow array (no zone) of µs since the epoch, in ``unit`` (s, ms, us: truncating)."""
    scale = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
    data = np.ascontiguousarray(np.asarray(us, dtype=np.int64) // scale)
    return pa.Array.from_buffers(pa.timestamp(unit), len(data), [None, pa.py_buffer(data)])
