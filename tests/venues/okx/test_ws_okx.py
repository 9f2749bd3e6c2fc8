"""OKX v5 websocket streams through ccxt.pro's own handlers (no network: see wsreplay).

Frames follow OKX's "Liquidation orders channel" (``liquidation-orders``, instType SWAP: one data
entry per instrument with every ``details`` item; ``sz`` in contracts, 0.01 BTC on BTC-USDT-SWAP and
100 USD on BTC-USD-SWAP; ``side`` the forced order's side; ``posSide`` long/short, or "net" in one-way
mode) and the "Candlesticks channel" (``candle1m`` on the business socket).
"""

from __future__ import annotations

from typing import Any

import ccxt
import pandas as pd
import pytest

from liqheat.model import DomainError
from liqheat.sources.errors import RetryableVenueError, VenueError
from liqheat.sources.registry import open_source
from liqheat.venues.symbols import resolve
from sources.wsreplay import Replay, collect, ms, okx_candle, okx_liquidations, run

T0 = pd.Timestamp("2025-10-10T00:00:00Z")
LIQ = ["ts", "side", "usd", "price", "quantity", "contracts", "native", "venue_symbol"]


def at(milliseconds: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(milliseconds=milliseconds)


def rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    return [list(r) for r in frame[columns].itertuples(index=False)]


def test_every_detail_of_a_message_is_kept_and_pos_side_wins() -> None:
    t = ms(T0)
    message = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            {
                "details": [
                    {
                        "bkLoss": "0",
                        "bkPx": "120500.1",
                        "ccy": "",
                        "posSide": "long",
                        "side": "sell",
                        "sz": "25",
                        "ts": str(t + 1),
                    },
                    {
                        "bkLoss": "0",
                        "bkPx": "121900.0",
                        "ccy": "",
                        "posSide": "short",
                        "side": "buy",
                        "sz": "3",
                        "ts": str(t + 2),
                    },
                    {
                        "bkLoss": "0",
                        "bkPx": "120400.0",
                        "ccy": "",
                        "posSide": "net",
                        "side": "sell",
                        "sz": "150",
                        "ts": str(t + 3),
                    },
                    {
                        "bkLoss": "0",
                        "bkPx": "121950.0",
                        "ccy": "",
                        "posSide": "net",
                        "side": "buy",
                        "sz": "1.5",
                        "ts": str(t + 4),
                    },
                    # a side contradicting posSide: posSide names the position
                    {
                        "bkLoss": "0",
                        "bkPx": "121000.0",
                        "ccy": "",
                        "posSide": "short",
                        "side": "sell",
                        "sz": "2",
                        "ts": str(t + 5),
                    },
                ],
                "instFamily": "BTC-USDT",
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "uly": "BTC-USDT",
            }
        ],
    }
    eth = okx_liquidations("ETH-USDT-SWAP", [{"bkPx": "4400", "posSide": "long", "side": "sell", "sz": "10", "ts": str(t + 6)}])
    inverse = okx_liquidations(
        "BTC-USD-SWAP", [{"bkPx": "120000", "posSide": "short", "side": "buy", "sz": "7", "ts": str(t + 7)}]
    )
    last = okx_liquidations("BTC-USDT-SWAP", [{"bkPx": "120000", "posSide": "long", "side": "sell", "sz": "1", "ts": str(t + 8)}])
    replay = Replay("okx", "BTC-USDT-SWAP", {"liquidation-orders": [[message, eth, inverse, last]]})
    batches = run(collect(replay, replay.source.watch_liquidations(), 2))
    first = batches[0]
    assert rows(first, ["ts", "side", "price", "contracts", "native", "venue_symbol"]) == [
        [at(1), "long", 120500.1, 25.0, "sell/long", "BTC-USDT-SWAP"],
        [at(2), "short", 121900.0, 3.0, "buy/short", "BTC-USDT-SWAP"],
        [at(3), "long", 120400.0, 150.0, "sell", "BTC-USDT-SWAP"],
        [at(4), "short", 121950.0, 1.5, "buy", "BTC-USDT-SWAP"],
        [at(5), "short", 121000.0, 2.0, "sell/short", "BTC-USDT-SWAP"],
    ]
    # 0.01 BTC a contract
    assert first["quantity"].tolist() == pytest.approx([0.25, 0.03, 1.5, 0.015, 0.02], rel=1e-12)
    assert first["usd"].tolist() == pytest.approx(
        [0.25 * 120500.1, 0.03 * 121900.0, 1.5 * 120400.0, 0.015 * 121950.0, 0.02 * 121000.0], rel=1e-12
    )
    # ETH-USDT-SWAP and BTC-USD-SWAP share the channel and are left out
    assert rows(batches[1], ["ts", "side", "usd", "quantity", "native"]) == [[at(8), "long", 1200.0, 0.01, "sell/long"]]
    assert replay.hub.sent() == [{"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}]
    assert [s.url for s in replay.hub.sockets] == ["wss://ws.okx.com:443/ws/v5/public"]


def test_inverse_contracts_are_100_usd() -> None:
    message = okx_liquidations("BTC-USD-SWAP", [
        {"bkPx": "120000.0", "posSide": "net", "side": "buy", "sz": "7", "ts": str(ms(T0))},
        {"bkPx": "118000.0", "posSide": "long", "side": "sell", "sz": "40", "ts": str(ms(T0) + 9)},
    ])  # fmt: skip
    replay = Replay("okx", "BTC-USD-SWAP", {"liquidation-orders": [[message]]})
    (batch,) = run(collect(replay, replay.source.watch_liquidations(), 1))
    assert rows(batch, ["ts", "side", "usd", "contracts", "native"]) == [
        [at(0), "short", 700.0, 7.0, "buy"],
        [at(9), "long", 4000.0, 40.0, "sell/long"],
    ]
    assert batch["quantity"].tolist() == pytest.approx([700.0 / 120000.0, 4000.0 / 118000.0], rel=1e-12)


def test_candles_come_from_the_business_socket_closed() -> None:
    m = [T0 + pd.Timedelta(minutes=i) for i in range(3)]
    frames = [
        okx_candle("BTC-USDT-SWAP", m[0], 121000.0, 121020.0, 120990.0, 121010.0, 400, 4.0),
        okx_candle("BTC-USDT-SWAP", m[0], 121000.0, 121045.0, 120990.0, 121040.0, 650, 6.5, confirm=True),
        okx_candle("BTC-USDT-SWAP", m[1], 121040.0, 121050.0, 121030.0, 121035.0, 120, 1.2),
        okx_candle("BTC-USDT-SWAP", m[1], 121040.0, 121060.0, 121030.0, 121055.0, 300, 3.0, confirm=True),
        okx_candle("BTC-USDT-SWAP", m[2], 121055.0, 121055.0, 121055.0, 121055.0, 10, 0.1),
    ]
    replay = Replay("okx", "BTC-USDT-SWAP", {"candle1m": [frames]})
    batches = run(collect(replay, replay.source.watch_candles("1m"), 2))
    assert [rows(b, ["ts", "open", "high", "low", "close", "volume"]) for b in batches] == [
        [[m[0], 121000.0, 121045.0, 120990.0, 121040.0, 6.5]],  # volume in coins (volCcy), not contracts
        [[m[1], 121040.0, 121060.0, 121030.0, 121055.0, 3.0]],
    ]
    assert replay.hub.sent() == [{"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}]}]
    assert [s.url for s in replay.hub.sockets] == ["wss://ws.okx.com:443/ws/v5/business"]


def test_an_error_frame_rejects_the_stream_with_a_venue_error_naming_ccxt_s_class() -> None:
    replay = Replay(
        "okx", "BTC-USDT-SWAP", {"liquidation-orders": [[{"event": "error", "msg": "Invalid OK-ACCESS-KEY", "code": "60005"}]]}
    )
    with pytest.raises(VenueError, match=r"AuthenticationError: .*60005") as raised:
        run(collect(replay, replay.source.watch_liquidations(), 1))
    assert not isinstance(raised.value, RetryableVenueError)  # a refused key is not worth reconnecting for


def test_a_liquidation_is_never_sized_by_guess() -> None:
    # ccxt's websocket liquidations carry contractSize None; without loaded markets there is nothing to size them by
    source = open_source("okx", resolve("BTC-USDT-SWAP"), ccxt.okx())
    liq = {"symbol": "BTC/USDT:USDT", "timestamp": ms(T0), "price": 120000.0, "contracts": 3.0, "contractSize": None,
           "side": "sell", "info": {"instId": "BTC-USDT-SWAP"}}  # fmt: skip
    with pytest.raises(DomainError, match="contract size"):
        source.liquidation_rows([liq])
    frame = source.liquidation_rows([{**liq, "contractSize": 0.01}])
    assert rows(frame, LIQ) == [[T0, "long", 0.03 * 120000.0, 120000.0, 0.03, 3.0, "sell", "BTC-USDT-SWAP"]]
