"""Bybit v5 websocket streams through ccxt.pro's own handlers (no network: see wsreplay).

Frames follow Bybit's "All Liquidation" topic (``allLiquidation.<symbol>``: ``data`` lists every
liquidation of the last 500 ms as T, s, S, v, p; ``S`` "Buy" means a long position was liquidated;
``v`` is in coins on linear contracts and in contracts of 1 USD on inverse ones) and "Kline"
(``kline.<interval>.<symbol>``, ``confirm`` on the final update).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from sources.wsreplay import Replay, bybit_all_liquidation, bybit_kline, collect, ms, run

T0 = pd.Timestamp("2025-10-10T00:00:00Z")
LIQ = ["ts", "side", "usd", "price", "quantity", "contracts", "native", "venue_symbol"]


def at(milliseconds: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(milliseconds=milliseconds)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    return [list(r) for r in frame[columns].itertuples(index=False)]


def test_every_liquidation_of_a_message_is_kept_and_buy_means_a_long() -> None:
    two = {  # one push, two liquidations: ccxt resolves the watcher with the first only
        "topic": "allLiquidation.BTCUSDT",
        "type": "snapshot",
        "ts": ms(T0) + 300,
        "data": [
            {"T": ms(T0) + 100, "s": "BTCUSDT", "S": "Buy", "v": "0.5", "p": "121000.0"},
            {"T": ms(T0) + 105, "s": "BTCUSDT", "S": "Sell", "v": "0.2", "p": "122000.0"},
        ],
    }
    other = bybit_all_liquidation("ETHUSDT", [(ms(T0) + 200, "Buy", "4", "4400.0")])
    later = bybit_all_liquidation("BTCUSDT", [(ms(T0) + 900, "Buy", "1.5", "120500.0")])
    replay = Replay("bybit", "BTCUSDT", {"allLiquidation": [[two, other, later]]})
    batches = run(collect(replay, replay.source.watch_liquidations(), 2))
    assert rows(batches[0], LIQ) == [
        [at(100), "long", 60500.0, 121000.0, 0.5, 0.5, "buy", "BTCUSDT"],
        [at(105), "short", 24400.0, 122000.0, 0.2, 0.2, "sell", "BTCUSDT"],
    ]
    assert rows(batches[1], LIQ) == [[at(900), "long", 180750.0, 120500.0, 1.5, 1.5, "buy", "BTCUSDT"]]
    assert replay.hub.sent() == [{"op": "subscribe", "req_id": 1, "args": ["allLiquidation.BTCUSDT"]}]
    assert [s.url for s in replay.hub.sockets] == ["wss://stream.bybit.com/v5/public/linear"]


def test_inverse_sizes_are_usd_contracts() -> None:
    message = bybit_all_liquidation("BTCUSD", [(ms(T0), "Sell", "5000", "120000.0"), (ms(T0) + 40, "Buy", "250", "119000.0")])
    replay = Replay("bybit", "BTCUSD", {"allLiquidation": [[message]]})
    (batch,) = run(collect(replay, replay.source.watch_liquidations(), 1))
    assert rows(batch, ["ts", "side", "usd", "contracts", "native"]) == [
        [at(0), "short", 5000.0, 5000.0, "sell"],
        [at(40), "long", 250.0, 250.0, "buy"],
    ]
    assert batch["quantity"].tolist() == pytest.approx([5000.0 / 120000.0, 250.0 / 119000.0], rel=1e-12)
    assert [s.url for s in replay.hub.sockets] == ["wss://stream.bybit.com/v5/public/inverse"]


def test_klines_yield_closed_candles_only() -> None:
    m1 = T0 + pd.Timedelta(minutes=1)
    frames = [
        bybit_kline("BTCUSDT", T0, 121000, 121020, 120990, 121010, 5.0),
        bybit_kline("BTCUSDT", T0, 121000, 121040, 120980, 121030, 8.5, confirm=True),
        bybit_kline("BTCUSDT", m1, 121030, 121035, 121030, 121032, 0.4),
        bybit_kline("BTCUSDT", m1, 121030, 121050, 121020, 121045, 2.0),
    ]
    replay = Replay("bybit", "BTCUSDT", {"kline": [frames]})

    async def first_and_state() -> tuple[pd.DataFrame, int]:
        stream = replay.source.watch_candles("1m")
        try:
            batch = await anext(stream)
            return batch, replay.hub.delivered
        finally:
            await stream.aclose()
            await replay.source.close()

    batch, delivered = run(first_and_state())
    assert rows(batch, ["ts", "open", "high", "low", "close", "volume"]) == [[T0, 121000.0, 121040.0, 120980.0, 121030.0, 8.5]]
    assert delivered == 3
    assert replay.hub.sent() == [{"op": "subscribe", "req_id": 1, "args": ["kline.1.BTCUSDT"], "callerMethodName": "watchOHLCV"}]
