"""Backfill at scale: every market's months replayed as partitions on Dask (``liqheat backfill``).

- :mod:`.plan`: what to compute: a chain of calendar months per (venues, symbol), resumed after the last
  committed month;
- :mod:`.work`: one partition, as a worker computes it: read the month from the store, replay it from the
  carried state (:func:`liqheat.engine.partition.replay_month`), encode the files; no writes;
- :mod:`.backfill`: the chains on a Dask client (or in this process), each finished partition committed at
  once by the one writer (:mod:`liqheat.store.partitions`).

Why a package of its own and not under ``service/``: the service is one long-running process that follows
markets live on asyncio; a backfill is a batch job over a cluster, with its own dependency (distributed) that
``liqheat run`` and the API never import.
"""
