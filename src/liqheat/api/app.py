"""The HTTP API (OpenAPI at /docs) and the page at /, assembled from one router per concern.

Thin faces over the engine and analytics: each route parses its parameters (a bad one is a 4xx whose
body names it, see :mod:`liqheat.api.errors`), asks a :class:`~liqheat.api.markets.Market` (which keeps
the replay, the maps and the heatmaps it built) or the analytics, and encodes the answer
(:mod:`liqheat.api.encode`) in the shape :mod:`liqheat.api.models` documents.

- :mod:`~liqheat.api.routes_market`: markets, candles, heatmap, the map at a time, summary, venues, events
- :mod:`~liqheat.api.routes_trader`: clusters, levels, cascade, plan, sentiment, calc
- :mod:`~liqheat.api.routes_liquidations`: a market's realized liquidations, and the store's
- :mod:`~liqheat.api.routes_page`: the page and its files
- :mod:`~liqheat.api.hosts`: which ``Host`` a served app answers (DNS rebinding)
- :mod:`~liqheat.api.busy`: how many heavy requests compute at once, and how many wait (then 429)
"""

from __future__ import annotations

import threading

from fastapi import FastAPI

from liqheat import __version__
from liqheat.api import errors, routes_health, routes_liquidations, routes_market, routes_page, routes_trader
from liqheat.api.busy import Gate
from liqheat.api.hosts import HostGuard
from liqheat.api.markets import Registry
from liqheat.api.routes_page import vendor_dir

__all__ = ["create_app", "vendor_dir"]


def create_app(registry: Registry, *, hosts: frozenset[str] | None = None, gate: Gate | None = None) -> FastAPI:
    """The app serving ``registry``'s markets; routes reach the registry through ``app.state``.

    ``gate`` bounds the heavy routes computing at once (default: one per core, 256 waiting, then 429).

    ``hosts`` (see :func:`liqheat.api.hosts.allowed_hosts`) are the ``Host`` names it answers; ``None``
    answers any, for in-process clients only: ``liqheat serve`` always passes them.

    ``app.state.stopping`` is set when the server begins to stop (:class:`liqheat.api.server.Server`):
    long-lived responses (the event stream) end on it instead of holding the stop up."""
    app = FastAPI(
        title="liqheat",
        version=__version__,
        description="An open, measured liquidation heatmap: markets, candles, heatmaps, liquidation maps, clusters.",
    )
    app.state.registry = registry
    app.state.gate = gate or Gate()
    app.state.stopping = threading.Event()
    errors.install(app)
    routers = (routes_health.router, routes_market.router, routes_trader.router, routes_liquidations.router, routes_page.router)
    for router in routers:
        app.include_router(router)
    routes_page.mount_files(app)
    if hosts is not None:
        app.add_middleware(HostGuard, hosts=hosts)
    return app
