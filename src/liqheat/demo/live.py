"""A market that grows while the server runs: the demo's synthetic market, published candle by candle.

The simulator runs ahead once; the feeder then publishes one more minute of it every ``every``
seconds, with the open interest, funding and liquidations an exchange would have published by then.
Everything downstream (engine, heatmap, page) only ever sees what is published, as with a live venue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from liqheat.api.markets import Market
from liqheat.bundle import Bundle


def published(full: Bundle, candles: int) -> Bundle:
    """``full`` as it stood when its first ``candles`` candles had closed."""
    c = full.candles.iloc[:candles].reset_index(drop=True)
    cutoff = c["ts"].iloc[-1] + full.meta.timeframe_delta

    def upto(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None else frame[frame["ts"] <= cutoff].reset_index(drop=True)

    liq = full.liquidations
    oi = full.open_interest
    return replace(
        full,
        candles=c,
        open_interest=oi[oi["ts"] <= cutoff].reset_index(drop=True),
        funding=upto(full.funding),
        liquidations=None if liq is None else liq[liq["ts"] < cutoff].reset_index(drop=True),
    )


class Feeder:
    """Publishes one more candle of ``full`` into ``market`` every ``every`` seconds until stopped.

    ``record(count)`` is told each new count just before that candle is published (the demo keeps its
    clock with it, see :mod:`liqheat.demo.clock`)."""

    def __init__(
        self, market: Market, full: Bundle, start: int, every: float = 1.0, record: Callable[[int], None] | None = None
    ) -> None:
        if not (0 < start <= len(full.candles)):
            raise ValueError(f"start must be within the {len(full.candles)} candles, got {start}")
        self.market = market
        self.full = full
        self.count = start
        self.every = every
        self.record = record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feed-{market.id}", daemon=True)

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def step(self) -> bool:
        """Publish one more candle; False when the simulated future is used up."""
        if self.count >= len(self.full.candles):
            return False
        self.count += 1
        self.market.grow(published(self.full, self.count))
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if self.record is not None and self.count < len(self.full.candles):
                self.record(self.count + 1)  # before publishing: a kill in between resumes ahead, never behind
            if not self.step():
                return
