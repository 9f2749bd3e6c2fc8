"""Hyperliquid websocket candles through ccxt.pro's own handlers (no network: see wsreplay).

Frames follow Hyperliquid's ``candle`` subscription (``{"channel": "candle", "data": {t, T, s, i, o, c,
h, l, v, n}}``, one push per update of the open candle). It has no public liquidation stream.
"""

from __future__ import annotations

import pandas as pd
import pytest

from liqheat.model import DomainError
from sources.wsreplay import Replay, collect, hyperliquid_candle, run

T0 = pd.Timestamp("2025-10-10T00:00:00Z")


def test_candles_are_yielded_when_closed() -> None:
    m = [T0 + pd.Timedelta(minutes=i) for i in range(3)]
    frames = [
        {"channel": "candle", "data": {"t": 1760054400000, "T": 1760054459999, "s": "BTC", "i": "1m", "o": "121000.0",
                                       "c": "121004.0", "h": "121010.0", "l": "120995.0", "v": "1.25", "n": 12}},
        hyperliquid_candle("BTC", m[0], 121000.0, 121030.0, 120990.0, 121020.0, 3.5),
        hyperliquid_candle("BTC", m[1], 121020.0, 121020.0, 121020.0, 121020.0, 0.01),
        hyperliquid_candle("BTC", m[1], 121020.0, 121040.0, 121000.0, 121001.0, 2.0),
        hyperliquid_candle("BTC", m[2], 121001.0, 121001.0, 121001.0, 121001.0, 0.5),
    ]  # fmt: skip
    replay = Replay("hyperliquid", "BTC", {"candle": [frames]})
    batches = run(collect(replay, replay.source.watch_candles("1m"), 2))
    assert [[list(r) for r in b.itertuples(index=False)] for b in batches] == [
        [[m[0], 121000.0, 121030.0, 120990.0, 121020.0, 3.5]],
        [[m[1], 121020.0, 121040.0, 121000.0, 121001.0, 2.0]],
    ]
    assert replay.hub.sent() == [{"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}}]
    assert [s.url for s in replay.hub.sockets] == ["wss://api.hyperliquid.xyz/ws"]


def test_there_is_no_liquidation_stream_to_watch() -> None:
    replay = Replay("hyperliquid", "BTC")
    with pytest.raises(DomainError, match="no public liquidation stream"):
        run(collect(replay, replay.source.watch_liquidations(), 1))
    assert replay.hub.sockets == []
    assert replay.rest.requests == []  # refused before loading anything
