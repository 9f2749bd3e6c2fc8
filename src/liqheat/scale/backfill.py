"""Run a backfill's chains on a Dask client, or in this process, and commit each partition as it comes back.

Workers compute (:func:`liqheat.scale.work.compute`); this process, holding the store's writer lock, is the one
writer: it commits a market's months in order, each in one rename (:func:`liqheat.store.partitions.commit`).
Exactly once per partition:

- a worker lost mid-partition: the scheduler runs the partition again elsewhere (and whatever the lost worker
  held that later months need), giving the same bytes; nothing was written;
- this process killed: the months committed are whole, the one being committed is a temporary folder the next
  writer removes, and a rerun plans from the last committed month (:func:`liqheat.scale.plan.remaining`);
- a market whose data fails (a month without open interest, numbers out of bounds) stops at that month, with the
  reason in the report; the other markets go on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from liqheat.scale.plan import Chain, Job, plan
from liqheat.scale.work import Result, compute
from liqheat.store import partitions
from liqheat.store.parquet_store import Store

if TYPE_CHECKING:
    from distributed import Client

OnDone = Callable[[Result, bool], None]
"""Called with each computed partition once it is committed (True) or found already there (False)."""


@dataclass
class Report:
    """What a backfill did: partitions committed now, found done before, and the markets that failed (why); the
    workers' seconds (read, replay, encode) and this process's (commit) of the partitions computed."""

    partitions: int = 0
    committed: int = 0
    already: int = 0
    candles: int = 0
    compute_seconds: float = 0.0
    commit_seconds: float = 0.0
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)


def backfill(
    store: Store,
    jobs: Sequence[Job],
    *,
    client: Client | None = None,
    on_plan: Callable[[list[Chain]], None] | None = None,
    on_done: OnDone | None = None,
) -> Report:
    """Compute every month of ``jobs`` not committed yet and commit it; on ``client``'s cluster, or here without."""
    began = time.perf_counter()
    report = Report()
    with store.writer():
        chains = plan(store, jobs)
        report.partitions = sum(len(job.months) for job in jobs)
        report.already = report.partitions - sum(len(chain.months) for chain in chains)
        if on_plan:
            on_plan(chains)

        def done(chain: Chain, result: Result) -> None:
            job = chain.job
            writing = time.perf_counter()
            fresh = partitions.commit(store, job.venues, job.market.unified, job.timeframe, result.month, result.files)
            report.commit_seconds += time.perf_counter() - writing
            report.committed += fresh
            report.already += not fresh
            report.candles += result.candles
            report.compute_seconds += result.seconds
            if on_done:
                on_done(result, fresh)

        if client is None:
            _here(store, chains, done, report)
        else:
            _on_cluster(client, store, chains, done, report)
    report.seconds = time.perf_counter() - began
    return report


def _here(store: Store, chains: list[Chain], done: Callable[[Chain, Result], None], report: Report) -> None:
    for chain in chains:
        previous: Result | bytes | None = chain.state
        for month in chain.months:
            try:
                result = compute(store.where, chain.job, month, previous)
            except Exception as exc:  # a market's failure is reported; the others go on
                report.failed[chain.job.label] = str(exc)
                break
            done(chain, result)
            previous = result


def _on_cluster(client: Client, store: Store, chains: list[Chain], done: Callable[[Chain, Result], None], report: Report) -> None:
    """Submit every chain (a month depends on the month before's future), commit in order per chain as they finish."""
    from distributed import as_completed

    name = f"liqheat-partition-{uuid.uuid4().hex}"  # the dashboard groups the tasks by the name before the hex
    where: dict[Any, tuple[int, int]] = {}
    futures: list[Any] = []
    for c, chain in enumerate(chains):
        previous: Any = chain.state
        for m, month in enumerate(chain.months):
            future = client.submit(compute, store.where, chain.job, month, previous, key=(name, len(futures)), pure=False)
            where[future.key] = (c, m)
            futures.append(future)
            previous = future
    del previous
    waiting: list[dict[int, Result]] = [{} for _ in chains]
    following = [0] * len(chains)
    finished = as_completed(futures)
    futures.clear()
    for future in finished:
        c, m = where.pop(future.key)
        chain = chains[c]
        if chain.job.label in report.failed:
            continue
        if future.status != "finished":
            report.failed[chain.job.label] = f"{chain.months[m]}: {future.exception()}"
            continue
        waiting[c][m] = future.result()
        future.release()
        while following[c] in waiting[c]:
            done(chain, waiting[c].pop(following[c]))
            following[c] += 1
