"""One partition as a worker computes it: read a market's month from the store, replay it from the state the month
before left, and encode the month's files. It writes nothing: the files go back to the one writer, which commits
them (:mod:`liqheat.store.partitions`).

The same inputs give the same bytes, wherever and however often it runs (no clock, no host, no random name in
any file), so a partition computed twice, after a lost worker or a killed client, is the same partition.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liqheat import __version__
from liqheat.engine.bounds import check_table
from liqheat.engine.partition import Carried, Month, replay_month
from liqheat.model import DomainError
from liqheat.scale.plan import Job, month_bounds
from liqheat.store.aggregate import Feed, aggregate
from liqheat.store.parquet_store import Series, Store
from liqheat.store.remote import open_store
from liqheat.timeutil import epoch_micros, parse_duration

_CANDLES = ("open", "high", "low", "close", "volume", "taker_buy_volume")


@dataclass(frozen=True)
class Result:
    """A computed partition: its files (committed as they are) and what the progress shows."""

    label: str
    month: str
    files: dict[str, bytes]
    candles: int
    seconds: float


@dataclass(frozen=True)
class MonthInput:
    """A month's candles (``ts`` µs) and the open-interest and funding samples stamped from its start to one candle
    past its end."""

    ts: np.ndarray
    candles: dict[str, np.ndarray]
    oi: tuple[np.ndarray, np.ndarray]
    funding: tuple[np.ndarray, np.ndarray] | None


def _samples(frame: pd.DataFrame | None, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    if frame is None or frame.empty or column not in frame:
        return None
    return epoch_micros(frame["ts"]), frame[column].to_numpy(np.float64)


def month_input(store: Store, job: Job, month: str) -> MonthInput:
    """Read one venue's month as stored, or several venues aggregated (:func:`liqheat.store.aggregate.aggregate`
    over the month and enough before it for every staleness and funding look-up of the month's rows)."""
    start, end = month_bounds(month)
    step = parse_duration(job.timeframe, "timeframe")
    symbol = job.market.unified
    if len(job.venues) == 1:
        venue = job.venues[0]
        candles = store.read(Series("candles", venue, symbol, job.timeframe), start, end)
        oi = store.read(Series("open_interest", venue, symbol), start, end + step)
        funding: pd.DataFrame | None = store.read(Series("funding", venue, symbol), start, end + step)
    else:
        lookback = max(2 * step, pd.Timedelta(hours=8)) + step
        feeds = [Feed(venue, market) for venue, market in zip(job.venues, job.markets, strict=True)]
        bundle = aggregate(store, feeds, job.timeframe, start - lookback, end + step).bundle
        candles = bundle.candles[(bundle.candles["ts"] >= start) & (bundle.candles["ts"] < end)]
        oi = bundle.open_interest[bundle.open_interest["ts"] >= start]
        funding = None if bundle.funding is None else bundle.funding[bundle.funding["ts"] >= start]
    ts = epoch_micros(candles["ts"]) if len(candles) else np.zeros(0, dtype=np.int64)
    columns = {c: candles[c].to_numpy(np.float64) for c in _CANDLES if c in candles}
    columns = {c: v for c, v in columns.items() if c in _CANDLES[:4] or (len(v) and not np.isnan(v).any())}
    oi_samples = _samples(oi, "oi_usd")
    funding_samples = _samples(funding, "rate")
    check_table(None, "candles", ts, columns)
    if oi_samples is not None:
        check_table(None, "open_interest", oi_samples[0], {"oi_usd": oi_samples[1]})
    if funding_samples is not None:
        check_table(None, "funding", funding_samples[0], {"rate": funding_samples[1]})
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
    return MonthInput(ts, columns, oi_samples or empty, funding_samples)


def compute(where: str, job: Job, month: str, previous: Result | bytes | None) -> Result:
    """The partition ``month`` of ``job`` in the store at ``where`` (a folder or a URL), from the state ``previous``
    left (the month before's result, its ``state.npz``, or None for the chain's first month)."""
    began = time.perf_counter()
    state = previous.files["state.npz"] if isinstance(previous, Result) else previous
    carried = Carried.from_bytes(state) if state is not None else None
    data = month_input(open_store(where), job, month)
    start, end = month_bounds(month)
    step_us = int(parse_duration(job.timeframe, "timeframe").value // 1000)
    until = int(end.value // 1000)
    try:
        replayed = replay_month(
            job.params, job.market.base, step_us, data.ts, data.candles, data.oi, data.funding, carried,
            until=until, frame_every_us=round(job.frame_hours * 3.6e9),
        )  # fmt: skip
    except DomainError as exc:
        raise DomainError(f"{job.label} {month}: {exc}") from None
    files = {
        "data.parquet": _parquet(_predictions(replayed)),
        "frames.parquet": _parquet(_frames(replayed, step_us)),
        "state.npz": replayed.carried.to_bytes(),
        "meta.json": _meta(job, month, replayed, start),
    }
    return Result(job.label, month, files, len(replayed.ts), time.perf_counter() - began)


def _stamps(ts: np.ndarray) -> pa.Array:
    return pa.array(ts.astype(np.int64), type=pa.timestamp("us", tz="UTC"))


def _predictions(month: Month) -> pa.Table:
    p = month.predictions
    names = ("swept_long", "swept_short", "intra_long", "intra_short")
    return pa.table({"ts": _stamps(month.ts), **{name: pa.array(p[:, i]) for i, name in enumerate(names)}})


def _frames(month: Month, step_us: int) -> pa.Table:
    """Each frame on the bins from its first to its last level (float32: a map to look at, not to resume from)."""
    k0s, longs, shorts = [], [], []
    for long, short in zip(month.frames_long, month.frames_short, strict=True):
        held = np.flatnonzero((long != 0) | (short != 0))
        lo, hi = (int(held[0]), int(held[-1]) + 1) if len(held) else (0, 0)
        k0s.append(month.frame_k0 + lo)
        longs.append(long[lo:hi].astype(np.float32))
        shorts.append(short[lo:hi].astype(np.float32))
    floats = pa.list_(pa.float32())
    return pa.table(
        {
            "ts": _stamps(month.ts[month.frame_at] + step_us),  # the map at its candle's close
            "k0": pa.array(k0s, type=pa.int64()),
            "long": pa.array(longs, type=floats),
            "short": pa.array(shorts, type=floats),
        }
    )


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _meta(job: Job, month: str, replayed: Month, start: pd.Timestamp) -> bytes:
    meta = {
        "liqheat": __version__,
        "venues": list(job.venues),
        "symbol": job.market.unified,
        "timeframe": job.timeframe,
        "month": month,
        "chain_start": job.first,
        "candles": len(replayed.ts),
        "candles_before": replayed.carried.candles - len(replayed.ts),
        "frames": len(replayed.frame_at),
        "frame_hours": job.frame_hours,
        "bin_width": job.params.bin_width,
        "params": job.params.to_dict(),
        "starts": start.isoformat(),
    }
    return json.dumps(meta, indent=1, sort_keys=True).encode()
