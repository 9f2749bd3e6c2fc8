"""Binance USD-M through ccxt: the exchange's REST API behind the project's source contract.

Tests replace ccxt's transport (``exchange.fetch``) with recorded venue-native payloads, so the code
under test is ccxt's own parsing plus ours: no network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import pandas as pd

from liqheat.bundle import parse_duration
from liqheat.model import DomainError

RETRYABLE = ("RateLimitExceeded", "DDoSProtection", "RequestTimeout", "NetworkError", "ExchangeNotAvailable")


class BinanceSource:
    venue = "binance"
    page_limit = 1500
    capabilities: ClassVar[dict[str, object]] = {
        "candles": True,
        "open_interest_history": "30 days only (record it from the day you start following)",
        "funding_history": True,
        "liquidations": "live stream only, at most one per symbol per second (a lower bound)",
    }

    def __init__(self, exchange: Any = None, *, retries: int = 5, sleep: Callable[[float], None] = time.sleep) -> None:
        if exchange is None:
            import ccxt

            exchange = ccxt.binanceusdm({"enableRateLimit": True})
        self.exchange = exchange
        self.retries = retries
        self.sleep = sleep
        self.log: list[str] = []

    def _call(self, what: str, fn: Callable[[], object]) -> object:
        """Run ``fn``; rate limits and timeouts are retried with exponential backoff, others raised."""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except Exception as exc:  # ccxt raises its own hierarchy; decide by name
                names = {cls.__name__ for cls in type(exc).__mro__}
                if not names & set(RETRYABLE) or attempt == self.retries:
                    if "BadSymbol" in names:
                        raise DomainError(f"{self.venue}: {exc}") from None
                    raise
                delay = min(30.0, 0.5 * 2**attempt)
                self.log.append(f"{what}: {type(exc).__name__}, retry {attempt + 1} in {delay:g}s")
                self.sleep(delay)
        raise AssertionError("unreachable")

    def fetch_candles(self, symbol: str, timeframe: str, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
        step = parse_duration(timeframe, "timeframe")
        self._call("load_markets", self.exchange.load_markets)
        limit = self.page_limit
        cursor = int(since.timestamp() * 1000)
        stop = int(until.timestamp() * 1000)
        rows: list[list[float]] = []
        while cursor < stop:
            page = self._call("fetch_ohlcv", partial(self.exchange.fetch_ohlcv, symbol, timeframe, since=cursor, limit=limit))
            assert isinstance(page, list)
            page = [r for r in page if cursor <= r[0] < stop]
            if not page:
                break  # an empty page: nothing more in range
            rows.extend(page)
            last = max(r[0] for r in page)
            cursor = last + int(step.total_seconds() * 1000)
        frame = pd.DataFrame(rows, columns=["ms", "open", "high", "low", "close", "volume"])
        frame = frame.drop_duplicates("ms", keep="last").sort_values("ms").reset_index(drop=True)
        frame.insert(0, "ts", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
        return frame
