"""Synthetic markets written into a store as a venue's data: what backfills are checked and measured on.

Each market is :func:`~liqheat.evaluation.synthetic.market.simulate`'s, with its own seed and start price, stored
under its own symbol (``SYN01/USDT:USDT``, …) as 1-minute candles, hourly open interest and funding: the series
``liqheat fetch`` would have written. Its liquidation prices use the venue's BTC tiers.
"""

from __future__ import annotations

import pandas as pd

from liqheat.evaluation.synthetic.market import SimParams, simulate
from liqheat.model import DomainError, Market
from liqheat.store.parquet_store import Series, Store


def store_markets(
    store: Store,
    count: int,
    *,
    start: pd.Timestamp,
    days: float,
    venue: str = "binance",
    seed: int = 1,
    opens_per_minute: float = 2.0,
) -> list[Market]:
    """Simulate ``count`` markets of ``days`` from ``start`` and write them (needs the writer lock); their markets.

    ``opens_per_minute`` is low by default: what is checked here is the replay of months, not the market's realism,
    and a sparse market simulates in a fraction of a second a month.
    """
    if not 1 <= count <= 999:
        raise DomainError(f"count must be in 1 … 999, got {count}", param="count")
    markets = []
    for i in range(count):
        params = SimParams(seed=seed + i, days=days, substeps=1, opens_per_minute=opens_per_minute,
                           start_price=100.0 * (1.5 ** (i % 12)), venue=venue)  # fmt: skip
        bundle = simulate(params, start=start).bundle
        market = Market.parse_unified(f"SYN{i + 1:02d}/USDT:USDT")
        store.write(Series("candles", venue, market.unified, "1m"), bundle.candles)
        store.write(Series("open_interest", venue, market.unified), bundle.open_interest)
        if bundle.funding is not None:
            store.write(Series("funding", venue, market.unified), bundle.funding)
        markets.append(market)
    return markets
