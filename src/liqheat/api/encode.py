"""How the API writes numbers, times, tables and the heatmap's binary frame: one place, so every route
answers alike.

JSON has no NaN or infinity: a number that is not finite is ``null``. Times in JSON are ISO 8601 UTC
strings (:func:`liqheat.timeutil.iso`) or whole seconds since the epoch for the chart's axes. JSON is
written by pydantic's serializer (FastAPI's, for the routes with a response model; :func:`json_response`
for the others), so every route formats numbers alike.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json

from liqheat.timeutil import epoch_micros, iso


def num(x: float, digits: int | None = None) -> float | None:
    """``x`` for JSON: ``None`` when not finite, rounded to ``digits`` when given."""
    value = float(x)
    if not math.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


def nums(values: Iterable[float]) -> list[float | None]:
    """Each of ``values`` as a float, ``None`` where missing or not finite."""
    return [None if v is None or pd.isna(v) or not math.isfinite(v) else float(v) for v in values]


def json_bytes(data: Any) -> bytes:
    """JSON written as every model-checked route writes it (pydantic's serializer, NaN as null)."""
    return bytes(to_json(data, inf_nan_mode="null"))


def json_response(data: Any) -> Response:
    """:func:`json_bytes` as an answer, for the routes too large to check: candles and the heatmap."""
    return Response(content=json_bytes(data), media_type="application/json")


def seconds(times: pd.Series | pd.DatetimeIndex | list[pd.Timestamp]) -> list[int]:
    """Whole seconds since the epoch (the chart's time axis) of UTC times."""
    if len(times) == 0:
        return []
    series = times if isinstance(times, pd.Series) else pd.Series(times)
    return [int(s) for s in epoch_micros(series) // 1_000_000]


def csv_response(text: str, filename: str) -> Response:
    """A CSV the browser saves as ``filename``."""
    return Response(content=text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def csv_stream(chunks: Iterator[str], filename: str) -> StreamingResponse:
    """A CSV sent as it is written (a year's heatmap is 37 MB): the first rows leave at once."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(chunks, media_type="text/csv", headers=disposition)


def matrix_csv(
    times: pd.DatetimeIndex, edges: np.ndarray, long: np.ndarray, short: np.ndarray, rows: int = 1 << 16
) -> Iterator[str]:
    """One row per (time, price band): ts, price_low, price_high, long_usd, short_usd; about ``rows``
    rows a chunk, each chunk formatted as one table of them would be."""
    n_t, n_p = long.shape
    step = max(1, rows // max(1, n_p))
    yield "ts,price_low,price_high,long_usd,short_usd\n"
    low, high = edges[:-1].round(8), edges[1:].round(8)
    for start in range(0, n_t, step):
        stop = min(n_t, start + step)
        table = pd.DataFrame(
            {
                "ts": np.repeat([iso(t) for t in times[start:stop]], n_p),
                "price_low": np.tile(low, stop - start),
                "price_high": np.tile(high, stop - start),
                "long_usd": long[start:stop].reshape(-1).round(2),
                "short_usd": short[start:stop].reshape(-1).round(2),
            }
        )
        yield str(table.to_csv(index=False, header=False))


def map_csv(lm: Any) -> Iterator[str]:
    """A liquidation map (:class:`liqheat.analytics.liqmap.LiquidationMap`) as one row per price band: the band,
    its long and short USD and the cumulative curves, then each part's long and short, named with its kind
    (``estimated`` or ``exact``), so a spreadsheet tells the model's levels from on-chain ones."""
    table = pd.DataFrame(
        {
            "price_low": lm.edges[:-1].round(8),
            "price_high": lm.edges[1:].round(8),
            "long_usd": lm.long.round(2),
            "short_usd": lm.short.round(2),
            "cumulative_long_usd": lm.cumulative_long.round(2),
            "cumulative_short_usd": lm.cumulative_short.round(2),
        }
    )
    for p in lm.parts:
        table[f"{p.label} [{p.kind}] long_usd"] = p.long.round(2)
        table[f"{p.label} [{p.kind}] short_usd"] = p.short.round(2)
    yield str(table.to_csv(index=False))


def q16(long: np.ndarray, short: np.ndarray) -> tuple[float, bytes]:
    """Both matrices as log1p-scaled uint16 codes, half the bytes of float32: ``v = expm1(code / scale)``,
    relative error ≤ log1p(max) / 131070. Returns the scale and the codes (long, then short)."""
    top = float(max(long.max(initial=0.0), short.max(initial=0.0)))
    scale = 65535.0 / math.log1p(top) if top > 0 else 1.0
    return scale, b"".join(np.round(np.log1p(a) * scale).astype("<u2").tobytes() for a in (long, short))


def framed(header: dict[str, Any], payload: bytes) -> bytes:
    """The heatmap's binary frame: header length (uint32 LE), the JSON header, zeros to a 4-byte
    boundary (so the page can view the payload as a typed array in place), the payload."""
    head = json.dumps(header).encode()
    return struct.pack("<I", len(head)) + head + b"\0" * ((4 - (4 + len(head)) % 4) % 4) + payload


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A columns × rows matrix as its runs: per row, the columns over which a value > 0 stays the same, as
    (row, first column, last column, value) arrays ordered by row then column. An exact level held for days
    is one run, not a value per column: a layer of a few hundred levels is kilobytes, not a matrix."""
    cols, n_rows = values.shape
    padded = np.zeros((n_rows, cols + 2))
    padded[:, 1:-1] = values.T
    row, col = np.nonzero(padded[:, 1:] != padded[:, :-1])  # col j: the value at column j differs from j - 1's
    inner = row[:-1] == row[1:]
    row, first, last = row[:-1][inner], col[:-1][inner], col[1:][inner] - 1
    value = padded[row, first + 1]
    keep = value > 0
    return row[keep], first[keep], last[keep], value[keep]
