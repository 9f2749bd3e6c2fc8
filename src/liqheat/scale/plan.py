"""What a backfill computes: per market a chain of calendar months, started after the last committed one.

A market's months must run in order (each starts from the state the month before left); markets are
independent. A chain starts with an empty map at its first month (``--since``), recorded in every month's
``meta.json``: resuming a chain that was started elsewhere would not reproduce it, so that is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from liqheat.engine.params import ModelParams
from liqheat.model import DomainError, Market
from liqheat.store import partitions
from liqheat.store.parquet_store import Series, Store


@dataclass(frozen=True)
class Job:
    """One market's chain: ``venues`` (one, or several aggregated in USD) and their ``markets`` (the same coin,
    each as its venue lists it), the timeframe and the months."""

    venues: tuple[str, ...]
    markets: tuple[Market, ...]
    timeframe: str
    months: tuple[str, ...]
    params: ModelParams
    frame_hours: float = 24.0

    def __post_init__(self) -> None:
        if not self.venues or len(self.venues) != len(self.markets):
            raise DomainError(f"a job needs one market per venue, got {len(self.markets)} for {len(self.venues)}", param="venues")
        if not self.months:
            raise DomainError("a job needs at least one month", param="since")

    @property
    def market(self) -> Market:
        """The market the store's folder is named after (the first venue's)."""
        return self.markets[0]

    @property
    def label(self) -> str:
        return f"{partitions.venue_label(self.venues)}:{self.market.unified}"

    @property
    def first(self) -> str:
        return self.months[0]


@dataclass(frozen=True)
class Chain:
    """The part of a job still to compute: ``months`` from the state ``state`` (None: an empty map)."""

    job: Job
    months: tuple[str, ...]
    state: bytes | None


def months_between(since: pd.Timestamp, until: pd.Timestamp) -> tuple[str, ...]:
    """Calendar months from ``since``'s to the one before ``until``'s (months ``until`` only starts are not
    finished, so they are not backfilled)."""
    first = since.tz_convert("UTC").tz_localize(None).to_period("M")
    last = until.tz_convert("UTC").tz_localize(None).to_period("M") - 1
    if last < first:
        raise DomainError(f"until {until} leaves no whole month after since {since}", param="until")
    return tuple(str(p) for p in pd.period_range(first, last, freq="M"))


def month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of a calendar month, UTC."""
    start = pd.Timestamp(f"{month}-01T00:00:00Z")
    return start, start + pd.offsets.MonthBegin(1)


def remaining(store: Store, job: Job) -> Chain:
    """The months of ``job`` not committed yet and the state to start them from: after the last month of the
    unbroken run of committed ones from the first (a month committed after a gap is computed again, and its
    commit then leaves the existing folder)."""
    for venue, market in zip(job.venues, job.markets, strict=True):
        if not store.has(Series("candles", venue, market.unified, job.timeframe)):
            raise DomainError(
                f"the store {store.where} has no {job.timeframe} candles of {venue} {market.unified}: fetch or import them first",
                param="symbols",
            )
    have = partitions.done(store, job.venues, job.market.unified, job.timeframe)
    k = 0
    while k < len(job.months) and job.months[k] in have:
        k += 1
    if k == 0:
        return Chain(job, job.months, None)
    last = job.months[k - 1]
    meta = partitions.read_meta(store, job.venues, job.market.unified, job.timeframe, last)
    where = f"{store.where}: {partitions.month_folder(store.root, job.venues, job.market.unified, job.timeframe, last)}"
    if meta.get("chain_start") != job.first:
        raise DomainError(
            f"{where} belongs to a backfill started at {meta.get('chain_start')}, not {job.first}: "
            f"use --since {meta.get('chain_start')} or another store",
            param="since",
        )
    if meta.get("params") != job.params.to_dict() or meta.get("frame_hours") != job.frame_hours:
        raise DomainError(f"{where} was computed with other parameters: use the same --set and --frame-hours, or another store")
    state = partitions.read_file(store, job.venues, job.market.unified, job.timeframe, last, "state.npz")
    return Chain(job, job.months[k:], state)


def plan(store: Store, jobs: Sequence[Job]) -> list[Chain]:
    """Every job's remaining chain (chains with nothing left included, empty)."""
    return [remaining(store, job) for job in jobs]
