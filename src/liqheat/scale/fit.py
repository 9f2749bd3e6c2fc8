"""The walk-forward fit's candidates evaluated on a Dask cluster (``liqheat fit --scheduler``).

:func:`liqheat.evaluation.fit.fit` asks for a coordinate's candidates at once; here each is one task on the
cluster, the bundles and their views sent to every worker once. The fit's result is the one of the
single-process path, bit for bit: the same pure function evaluates each candidate, and the choice among them
is made here, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.evaluation.fit import Split, objective_of
from liqheat.model import DomainError

if TYPE_CHECKING:
    from distributed import Client, LocalCluster


def candidates_on(client: Any, splits: Sequence[Split]) -> Callable[[list[ModelParams]], list[float]]:
    """An ``evaluate`` for :func:`~liqheat.evaluation.fit.fit` that runs on ``client``'s workers
    (a ``distributed.Client``: untyped upstream)."""
    views = [MarketView.from_bundle(sp.bundle) for sp in splits]
    [held] = client.scatter([(list(splits), views)], broadcast=True)

    def evaluate(candidates: list[ModelParams]) -> list[float]:
        if not candidates:
            return []
        futures = client.map(_objective, candidates, held=held, pure=False)
        values: list[float] = client.gather(futures)
        return values

    return evaluate


def _objective(params: ModelParams, held: tuple[list[Split], list[MarketView]]) -> float:
    splits, views = held
    return objective_of(params, splits, views)


def connect(scheduler: str | None, workers: int) -> tuple[Client, LocalCluster | None]:
    """A client of ``scheduler``, or of a new local cluster of ``workers`` processes (one thread each)."""
    import importlib
    import logging

    dist: Any = importlib.import_module("distributed")  # untyped upstream
    if scheduler is not None:
        try:
            return dist.Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise DomainError(f"cannot connect to the scheduler {scheduler} ({exc})", param="scheduler") from None
    if workers < 1:
        raise DomainError(f"workers must be ≥ 1, got {workers}", param="workers")
    cluster = dist.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, silence_logs=logging.ERROR)
    return dist.Client(cluster), cluster
