"""The contract every venue source keeps (see sources/binance for one that keeps it).

A source turns a venue's API into the project's own frames (UTC ``ts`` first, project column names),
declares what it can give in ``capabilities``, retries what is worth retrying (rate limits, timeouts)
with backoff, and never returns a duplicate or an out-of-order row. Venue quirks end inside it.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from liqheat.venues.spec import Capabilities


class Source(Protocol):
    venue: str
    capabilities: Capabilities

    def fetch_candles(self, symbol: str, timeframe: str, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
        """Closed candles with ts in [since, until): ts, open, high, low, close, volume."""
        ...
