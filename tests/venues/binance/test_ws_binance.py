"""Binance USD-M and COIN-M websocket streams through ccxt.pro's own handlers (no network: see wsreplay).

Frames follow Binance's "Liquidation Order Streams" (``<symbol>@forceOrder``: ``o.S`` is the side of the
forced order, so SELL closes a long; ``o.l`` the filled quantity, in coins on USD-M and in contracts of
100 USD on COIN-M; ``o.ap`` the average price) and "Kline/Candlestick Streams" (``k.t`` open time,
``k.x`` final update).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from liqheat.sources.errors import RetryableVenueError
from sources.wsreplay import DROP, Drop, Replay, binance_force_order, binance_kline, collect, ms, run

T0 = pd.Timestamp("2025-10-10T00:00:00Z")


def minute(i: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=i)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    return [list(r) for r in frame[columns].itertuples(index=False)]


LIQ = ["ts", "side", "usd", "price", "quantity", "contracts", "native", "venue_symbol"]
OHLCV = ["ts", "open", "high", "low", "close", "volume"]


def test_usdm_force_orders_name_the_liquidated_position_and_its_usdt_value() -> None:
    sell = {  # a long was liquidated: its forced order sells 0.500 BTC
        "e": "forceOrder",
        "E": ms(T0) + 2,
        "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.500", "p": "121000.00", "ap": "121050.50",
              "X": "FILLED", "l": "0.500", "z": "0.500", "T": ms(T0)},
    }  # fmt: skip
    other = binance_force_order("ETHUSDT", "SELL", "3.000", "4400.00", "4401.00", ms(T0) + 10)
    buy = binance_force_order("BTCUSDT", "BUY", "0.250", "122000.00", "121990.00", ms(T0) + 20)
    replay = Replay("binance", "BTCUSDT", {"forceOrder": [[sell, other, buy]]})
    batches = run(collect(replay, replay.source.watch_liquidations(), 2))
    assert rows(batches[0], LIQ) == [[T0, "long", 0.5 * 121050.5, 121050.5, 0.5, 0.5, "sell", "BTCUSDT"]]
    # the ETHUSDT order did not make a batch of its own, nor join this one
    assert rows(batches[1], LIQ) == [
        [T0 + pd.Timedelta(milliseconds=20), "short", 0.25 * 121990.0, 121990.0, 0.25, 0.25, "buy", "BTCUSDT"]
    ]
    assert replay.hub.sent() == [{"method": "SUBSCRIBE", "params": ["btcusdt@forceOrder"], "id": 1}]
    assert [s.url for s in replay.hub.sockets] == ["wss://fstream.binance.com/market/ws/0"]
    assert replay.hub.delivered == 3
    assert str(batches[0]["ts"].dtype) == "datetime64[us, UTC]"


def test_coinm_force_orders_count_contracts_of_100_usd() -> None:
    # BTCUSD_PERP: q and l are contracts of 100 USD; ccxt leaves contractSize out of its liquidation,
    # so the size must come from the market (1 would make this 12 USD)
    long_ = binance_force_order("BTCUSD_PERP", "SELL", "12", "120900.0", "120900.0", ms(T0))
    short = binance_force_order("BTCUSD_PERP", "BUY", "3", "121100.0", "121150.0", ms(T0) + 500)
    assert long_["o"]["ps"] == "BTCUSD"
    replay = Replay("binance", "BTCUSD_PERP", {"forceOrder": [[long_, short]]})
    batches = run(collect(replay, replay.source.watch_liquidations(), 2))
    frame = pd.concat(batches, ignore_index=True)
    assert rows(frame, ["side", "usd", "contracts", "native", "venue_symbol"]) == [
        ["long", 1200.0, 12.0, "sell", "BTCUSD_PERP"],
        ["short", 300.0, 3.0, "buy", "BTCUSD_PERP"],
    ]
    assert frame["quantity"].tolist() == pytest.approx([1200.0 / 120900.0, 300.0 / 121150.0], rel=1e-12)
    assert replay.hub.sent() == [{"method": "SUBSCRIBE", "params": ["btcusd_perp@forceOrder"], "id": 1}]
    assert [s.url for s in replay.hub.sockets] == ["wss://dstream.binance.com/ws/0"]


def test_a_burst_of_force_orders_loses_none() -> None:
    # four orders read at once: ccxt resolves the watcher with the first and only caches the others
    sizes = [("SELL", "0.100"), ("BUY", "0.200"), ("SELL", "0.300"), ("BUY", "0.400")]
    orders = [
        binance_force_order("BTCUSDT", side, qty, "121000.0", "121000.0", ms(T0) + 100 * i) for i, (side, qty) in enumerate(sizes)
    ]
    replay = Replay("binance", "BTCUSDT", {"forceOrder": [orders]}, paced=False)

    async def until_four() -> pd.DataFrame:
        seen: list[pd.DataFrame] = []
        stream = replay.source.watch_liquidations()
        try:
            async for batch in stream:
                seen.append(batch)
                if sum(map(len, seen)) >= 4:
                    return pd.concat(seen, ignore_index=True)
        finally:
            await stream.aclose()
            await replay.source.close()
        raise AssertionError("stream ended")

    frame = run(until_four())
    assert frame["quantity"].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert frame["side"].tolist() == ["long", "short", "long", "short"]
    assert frame["ts"].tolist() == [T0 + pd.Timedelta(milliseconds=100 * i) for i in range(4)]


@pytest.mark.parametrize("drop", [DROP, Drop("error")], ids=["close frame", "reset"])
def test_a_dropped_socket_raises_network_error_to_the_stream(drop: Drop) -> None:
    first = binance_force_order("BTCUSDT", "SELL", "0.100", "121000.0", "121000.0", ms(T0))
    replay = Replay("binance", "BTCUSDT", {"forceOrder": [[first, drop]]})
    seen: list[pd.DataFrame] = []

    async def follow() -> None:
        try:
            async for batch in replay.source.watch_liquidations():
                seen.append(batch)
        finally:
            await replay.source.close()

    with pytest.raises(RetryableVenueError, match=r"^binance watch_liquidations BTC/USDT:USDT: NetworkError"):
        run(follow())
    assert [len(b) for b in seen] == [1]
    assert replay.hub.drops == ["wss://fstream.binance.com/market/ws/0"]


def test_klines_yield_each_candle_once_when_the_next_one_opens() -> None:
    k = binance_kline
    frames = [
        k("BTCUSDT", minute(0), 121000, 121010, 120990, 121005, 1.5),
        k("BTCUSDT", minute(0), 121000, 121030, 120990, 121020, 2.5),
        k("BTCUSDT", minute(0), 121000, 121030, 120980, 121015, 3.0, closed=True),
        k("BTCUSDT", minute(1), 121015, 121015, 121015, 121015, 0.1),  # candle 1 opens: candle 0 is closed
        k("BTCUSDT", minute(1), 121015, 121060, 121000, 121050, 4.0),
        k("BTCUSDT", minute(2), 121050, 121055, 121045, 121052, 0.2),
        k("BTCUSDT", minute(2), 121050, 121070, 121040, 121066, 0.7),
        k("BTCUSDT", minute(3), 121066, 121066, 121066, 121066, 0.3),
        k("BTCUSDT", minute(3), 121066, 121090, 121066, 121080, 0.9),  # never closes here: never emitted
    ]
    replay = Replay("binance", "BTCUSDT", {"kline": [frames]})
    delivered_at: list[int] = []

    async def watch() -> list[pd.DataFrame]:
        out: list[pd.DataFrame] = []
        stream = replay.source.watch_candles("1m")
        try:
            async for batch in stream:
                out.append(batch)
                delivered_at.append(replay.hub.delivered)
                if len(out) == 3:
                    break
        finally:
            await stream.aclose()
            await replay.source.close()
        return out

    batches = run(watch())
    assert [rows(b, OHLCV) for b in batches] == [
        [[minute(0), 121000.0, 121030.0, 120980.0, 121015.0, 3.0]],  # the last update of each candle
        [[minute(1), 121015.0, 121060.0, 121000.0, 121050.0, 4.0]],
        [[minute(2), 121050.0, 121070.0, 121040.0, 121066.0, 0.7]],
    ]
    assert delivered_at == [4, 6, 8]  # each one only once the next candle's first frame was read
    assert replay.hub.sent() == [{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}]


def test_a_burst_of_klines_still_yields_every_closed_candle_once() -> None:
    frames = [binance_kline("BTCUSDT", minute(i // 2), 100.0 + i, 110.0 + i, 90.0 + i, 105.0 + i, 1.0 + i) for i in range(8)]
    replay = Replay("binance", "BTCUSDT", {"kline": [frames]}, paced=False)

    async def watch() -> pd.DataFrame:
        seen: list[pd.DataFrame] = []
        stream = replay.source.watch_candles("1m")
        try:
            async for batch in stream:
                seen.append(batch)
                if sum(map(len, seen)) >= 3:
                    return pd.concat(seen, ignore_index=True)
        finally:
            await stream.aclose()
            await replay.source.close()
        raise AssertionError("stream ended")

    frame = run(watch())
    # frames 2i and 2i+1 update candle i; the second (odd) one is what the candle closed at
    assert rows(frame, OHLCV) == [
        [minute(i), 101.0 + 2 * i, 111.0 + 2 * i, 91.0 + 2 * i, 106.0 + 2 * i, 2.0 + 2 * i] for i in range(3)
    ]
