"""``Follower``: live streams into the store, with venues replayed through ccxt (no network: see
tests/sources/wsreplay.py). Websocket frames and REST payloads are in each venue's own shapes; ccxt
parses them; the follower reconnects, backfills and writes. The clock is the test's: ``sleep`` records
the backoff and returns at once, ``now`` moves only where a script says (:class:`Advance`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from liqheat.sources.errors import RetryableVenueError, VenueError
from liqheat.store.collect import Follower
from liqheat.store.parquet_store import Series, Store
from sources.wsreplay import (
    DROP,
    HYPERLIQUID_ASSET,
    Advance,
    At,
    Clock,
    Replay,
    Request,
    binance_force_order,
    binance_kline,
    bybit_all_liquidation,
    bybit_kline,
    hyperliquid_candle,
    ms,
    run,
)

T0 = pd.Timestamp("2025-10-10T00:00:00Z")
LIQ = ["ts", "side", "usd", "price", "quantity", "contracts", "native", "venue_symbol"]
OHLCV = ["ts", "open", "high", "low", "close", "volume"]


def minute(i: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=i)


def bar(i: int) -> tuple[float, float, float, float, float]:
    """The venue's candle for minute i (REST serves it; a websocket's last update of it says the same)."""
    o = 121000.0 + 10 * i
    return o, o + 25, o - 15, o + 5, 10.0 + i


def rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    return [list(r) for r in frame[columns].itertuples(index=False)]


def minutes_since_t0(ms_value: int) -> int:
    return (ms_value - ms(T0)) // 60_000


def binance_klines(clock: Clock) -> Any:
    """GET /fapi|dapi/v1/klines: rows from startTime (at most ``limit``, none after endTime), up to the open candle."""

    def answer(request: Request) -> list[list[Any]]:
        start, limit = int(request.query["startTime"]), int(request.query["limit"])
        end = int(request.query.get("endTime", 2**62))
        out: list[list[Any]] = []
        i = minutes_since_t0(start)
        while len(out) < limit and minute(i) <= clock() and ms(minute(i)) <= end:
            o, h, low, c, v = bar(i)
            t = ms(minute(i))
            out.append(
                [t, str(o), str(h), str(low), str(c), str(v), t + 59_999, str(v * c), 100, str(v / 2), str(v * c / 2), "0"]
            )
            i += 1
        return out

    return answer


def bybit_klines(clock: Clock) -> Any:
    """GET /v5/market/kline (linear): rows from ``start``, newest first, up to the open candle."""

    def answer(request: Request) -> dict[str, Any]:
        start, limit = int(request.query["start"]), int(request.query["limit"])
        out = []
        i = minutes_since_t0(start)
        while len(out) < limit and minute(i) <= clock():
            o, h, low, c, v = bar(i)
            out.append([str(ms(minute(i))), str(o), str(h), str(low), str(c), str(v), str(v * c)])
            i += 1
        return {"retCode": 0, "retMsg": "OK", "result": {"symbol": "BTCUSDT", "category": "linear", "list": out[::-1]}, "time": 1}

    return answer


def bybit_empty(request: Request) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [], "nextPageCursor": ""}, "time": 1}


def empty_list(request: Request) -> list[Any]:
    return []


def follow(store: Store, replay: Replay, clock: Clock, **limits: int | None) -> Follower:
    follower = Follower(store, replay.source, "1m", sleep=clock.sleep, now=clock)
    with store.writer():
        run(follower.run(**limits))
    return follower


# ------------------------------------------------------------------------------------------ (a)


def test_candles_and_liquidations_are_written_as_the_venue_sent_them(tmp_path: Path) -> None:
    """Bybit linear: candles and liquidations share one socket; one allLiquidation push lists two."""
    clock = Clock(minute(2) + pd.Timedelta(seconds=30))
    t2 = ms(minute(2))
    replay = Replay(
        "bybit",
        "BTCUSDT",
        {
            "kline": [
                [
                    bybit_kline("BTCUSDT", minute(2), 121020.0, 121030.0, 121010.0, 121012.0, 3.0),
                    bybit_kline("BTCUSDT", minute(2), 121020.0, 121061.0, 121001.0, 121044.0, 9.5, confirm=True),
                    bybit_kline("BTCUSDT", minute(3), 121044.0, 121044.0, 121044.0, 121044.0, 0.2),
                    bybit_kline("BTCUSDT", minute(3), 121044.0, 121070.0, 121030.0, 121066.0, 4.25, confirm=True),
                    bybit_kline("BTCUSDT", minute(4), 121066.0, 121066.0, 121066.0, 121066.0, 0.1),
                ]
            ],
            "allLiquidation": [
                [
                    bybit_all_liquidation(
                        "BTCUSDT", [(t2 + 100, "Buy", "0.5", "121000.0"), (t2 + 105, "Sell", "0.2", "122000.0")]
                    ),
                    bybit_all_liquidation("BTCUSDT", [(t2 + 61_000, "Buy", "1.5", "120500.0")]),
                ]
            ],
        },
        {"/v5/market/kline": bybit_klines(clock), "/v5/market/open-interest": bybit_empty,
         "/v5/market/funding/history": bybit_empty},
        clock=clock,
    )  # fmt: skip
    store = Store(tmp_path)
    follower = follow(store, replay, clock, max_batches=2, max_polls=1)

    liqs = store.read(Series("liquidations", "bybit", "BTC/USDT:USDT"))
    assert rows(liqs, LIQ) == [
        [minute(2) + pd.Timedelta(milliseconds=100), "long", 60500.0, 121000.0, 0.5, 0.5, "buy", "BTCUSDT"],
        [minute(2) + pd.Timedelta(milliseconds=105), "short", 24400.0, 122000.0, 0.2, 0.2, "sell", "BTCUSDT"],
        [minute(3) + pd.Timedelta(seconds=1), "long", 180750.0, 120500.0, 1.5, 1.5, "buy", "BTCUSDT"],
    ]
    candles = store.read(Series("candles", "bybit", "BTC/USDT:USDT", "1m"))
    # an hour over REST before the sockets (minute -58 to 1), then what the socket closed (2 and 3, not the open 4)
    assert candles["ts"].tolist() == [minute(i) for i in range(-58, 4)]
    assert rows(candles.iloc[[0, 59]], OHLCV) == [[minute(-58), *bar(-58)], [minute(1), *bar(1)]]
    assert rows(candles.tail(2), OHLCV) == [
        [minute(2), 121020.0, 121061.0, 121001.0, 121044.0, 9.5],
        [minute(3), 121044.0, 121070.0, 121030.0, 121066.0, 4.25],
    ]
    assert store.cursors() == {
        "bybit|BTC/USDT:USDT|candles-1m": "2025-10-10T00:03:00.000000Z",
        "bybit|BTC/USDT:USDT|liquidations": "2025-10-10T00:03:01.000000Z",
    }
    assert follower.state.batches == {"candles": 2, "liquidations": 2}
    assert (follower.state.reconnects, follower.state.missed, clock.slept) == ({}, [], [])
    (socket,) = replay.hub.sockets
    assert socket.url == "wss://stream.bybit.com/v5/public/linear"
    assert [m["args"] for m in socket.sent] == [["kline.1.BTCUSDT"], ["allLiquidation.BTCUSDT"]]
    assert [r.query["start"] for r in replay.rest.paths("/v5/market/kline")] == [str(ms(minute(-58)))]


# ------------------------------------------------------------------------------------------ (b)


def test_a_candle_socket_drop_reconnects_with_backoff_and_backfills_over_rest(tmp_path: Path) -> None:
    """Binance USD-M: the kline socket drops mid-candle, the next connection drops at once, the third is
    four minutes later. The candles closed meanwhile come over REST; the liquidation socket is untouched."""
    clock = Clock(minute(9) + pd.Timedelta(seconds=30))

    def final(i: int) -> dict[str, Any]:
        return binance_kline("BTCUSDT", minute(i), *bar(i), closed=True)

    def early(i: int) -> dict[str, Any]:  # the candle's first update, a second after it opened
        o = bar(i)[0]
        return binance_kline("BTCUSDT", minute(i), o, o + 1, o - 1, o - 0.5, 0.4)

    a = binance_force_order("BTCUSDT", "SELL", "0.100", "120900.0", "120900.0", ms(minute(9)) + 1_000)
    b = binance_force_order("BTCUSDT", "BUY", "0.200", "121100.0", "121100.0", ms(minute(9)) + 2_000)
    c = binance_force_order("BTCUSDT", "SELL", "0.300", "120800.0", "120800.0", ms(minute(10)) + 3_000)
    eth = binance_force_order("ETHUSDT", "SELL", "1.000", "4400.0", "4400.0", ms(minute(9)) + 1_500)
    replay = Replay(
        "binance",
        "BTCUSDT",
        {
            "kline": [
                [early(9), final(9), early(10), final(10), early(11), DROP],
                [DROP],
                [Advance(pd.Timedelta(minutes=4)), early(13), final(13), early(14), final(14), early(15)],
            ],
            "forceOrder": [[a, eth, b, a, c]],  # a is sent twice
        },
        {
            "/fapi/v1/klines": binance_klines(clock),
            "/futures/data/openInterestHist": empty_list,
            "/fapi/v1/fundingRate": empty_list,
        },
        clock=clock,
    )
    store = Store(tmp_path)
    follower = follow(store, replay, clock, max_batches=4, max_polls=1)

    assert clock.slept == [0.5, 1.0]
    assert follower.state.reconnects == {"candles": 2}
    assert follower.state.batches == {"candles": 4, "liquidations": 4}
    assert follower.state.missed == []
    assert (
        follower.state.log[-1] == "binance BTC/USDT:USDT candles: back after a drop at 00:09:30; backfilled 2 candle(s) over REST"
    )
    kline_sockets = [s for s in replay.hub.sockets if "kline" in s.channels]
    assert len(kline_sockets) == 3
    assert all(s.sent == [{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": s.sent[0]["id"]}] for s in kline_sockets)
    assert replay.hub.drops == [kline_sockets[0].url, kline_sockets[1].url]
    # REST: the hour before the start, then from the candle cursor (10) when the socket is back at 13:30
    assert [int(r.query["startTime"]) for r in replay.rest.paths("/fapi/v1/klines")] == [ms(minute(-51)), ms(minute(10))]

    candles = store.read(Series("candles", "binance", "BTC/USDT:USDT", "1m"))
    assert candles["ts"].tolist() == [minute(i) for i in range(-51, 15)]  # no gap, no duplicate
    # 11 was open when the socket dropped (its one update said close 121109.5); 11 and 12 came over REST
    assert rows(candles[candles["ts"].between(minute(9), minute(14))], OHLCV) == [[minute(i), *bar(i)] for i in range(9, 15)]
    assert store.cursor("binance", "BTC/USDT:USDT", "candles-1m") == minute(14)

    liqs = store.read(Series("liquidations", "binance", "BTC/USDT:USDT"))
    assert rows(liqs, ["ts", "side", "usd", "quantity"]) == [
        [minute(9) + pd.Timedelta(seconds=1), "long", 12090.0, 0.1],
        [minute(9) + pd.Timedelta(seconds=2), "short", 24220.0, 0.2],
        [minute(10) + pd.Timedelta(seconds=3), "long", 36240.0, 0.3],
    ]


def test_a_liquidation_socket_drop_is_recorded_as_a_gap_and_repeats_are_stored_once(tmp_path: Path) -> None:
    """Binance COIN-M: the forceOrder socket drops; three minutes later the new one repeats the last order."""
    clock = Clock(minute(9) + pd.Timedelta(seconds=30))
    a = binance_force_order("BTCUSD_PERP", "SELL", "12", "120900.0", "120900.0", ms(minute(9)) + 1_000)
    b = binance_force_order("BTCUSD_PERP", "BUY", "3", "121100.0", "121150.0", ms(minute(9)) + 2_000)
    c = binance_force_order("BTCUSD_PERP", "SELL", "40", "120800.0", "120750.0", ms(minute(12)) + 3_000)
    replay = Replay(
        "binance",
        "BTCUSD_PERP",
        {
            "kline": [[binance_kline("BTCUSD_PERP", minute(i), *bar(i)) for i in range(9, 14)]],
            "forceOrder": [[a, b, DROP], [Advance(pd.Timedelta(minutes=3)), b, c]],
        },
        {
            "/dapi/v1/klines": binance_klines(clock),
            "/futures/data/openInterestHist": empty_list,
            "/dapi/v1/fundingRate": empty_list,
        },
        clock=clock,
    )
    store = Store(tmp_path)
    follower = follow(store, replay, clock, max_batches=4, max_polls=1)

    assert clock.slept == [0.5]
    assert follower.state.reconnects == {"liquidations": 1}
    assert follower.state.batches == {"candles": 4, "liquidations": 4}
    down, back = minute(9) + pd.Timedelta(seconds=30), minute(12) + pd.Timedelta(seconds=30)
    assert follower.state.missed == [
        {"venue": "binance", "symbol": "BTC/USD:BTC", "stream": "liquidations", "from": down, "to": back}
    ]
    gaps = store.read(Series("gaps", "binance", "BTC/USD:BTC"))
    assert rows(gaps, ["ts", "until", "stream", "reason"]) == [[down, back, "liquidations", "websocket drop"]]

    liqs = store.read(Series("liquidations", "binance", "BTC/USD:BTC"))
    # contracts of 100 USD; b came twice and is stored once
    assert rows(liqs, ["ts", "side", "usd", "price", "contracts", "native", "venue_symbol"]) == [
        [minute(9) + pd.Timedelta(seconds=1), "long", 1200.0, 120900.0, 12.0, "sell", "BTCUSD_PERP"],
        [minute(9) + pd.Timedelta(seconds=2), "short", 300.0, 121150.0, 3.0, "buy", "BTCUSD_PERP"],
        [minute(12) + pd.Timedelta(seconds=3), "long", 4000.0, 120750.0, 40.0, "sell", "BTCUSD_PERP"],
    ]
    assert liqs["quantity"].tolist() == pytest.approx([1200.0 / 120900.0, 300.0 / 121150.0, 4000.0 / 120750.0], rel=1e-12)
    assert store.cursor("binance", "BTC/USD:BTC", "liquidations") == minute(12) + pd.Timedelta(seconds=3)
    candles = store.read(Series("candles", "binance", "BTC/USD:BTC", "1m"))
    assert candles["ts"].tolist() == [minute(i) for i in range(-51, 13)]
    assert [s.sent[0]["params"] for s in replay.hub.sockets] == [
        ["btcusd_perp@kline_1m"],
        ["btcusd_perp@forceOrder"],
        ["btcusd_perp@forceOrder"],
    ]


# ------------------------------------------------------------------------------------------ (c)


def test_an_error_retrying_cannot_fix_propagates_and_stops_the_follower(tmp_path: Path) -> None:
    """OKX answers the liquidation subscription with an authentication error: no reconnect, no backoff,
    and the poller (unbounded here) does not go on polling behind the caller."""
    clock = Clock(minute(9) + pd.Timedelta(seconds=30))
    oi_path = "/api/v5/rubik/stat/contracts/open-interest-history"

    def okx_empty(request: Request) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": []}

    replay = Replay(
        "okx",
        "BTC-USDT-SWAP",
        {
            "candle1m": [[]],
            "liquidation-orders": [[{"event": "error", "msg": "Invalid OK-ACCESS-KEY", "code": "60005", "connId": "a4d3ae55"}]],
        },
        {"/api/v5/market/history-candles": okx_empty, oi_path: okx_empty, "/api/v5/public/funding-rate-history": okx_empty},
        clock=clock,
    )
    store = Store(tmp_path)
    follower = Follower(store, replay.source, "1m", sleep=clock.sleep, now=clock)

    async def main() -> tuple[int, int]:
        with pytest.raises(VenueError, match="60005") as raised:
            await follower.run(max_batches=3)
        assert not isinstance(raised.value, RetryableVenueError)
        assert str(raised.value).startswith("okx watch_liquidations BTC/USDT:USDT: AuthenticationError: ")
        polls = len(replay.rest.paths(oi_path))
        for _ in range(50):
            await asyncio.sleep(0)
        return polls, len(replay.rest.paths(oi_path))

    with store.writer():
        polls, later = run(main())
    assert polls >= 1
    assert later == polls
    assert follower.state.reconnects == {}
    assert not any(delay < 60.0 for delay in clock.slept)  # the poller's own wait only: no reconnect backoff
    assert follower.state.batches == {}
    assert [s.channels for s in replay.hub.sockets] == [["candle1m"], ["liquidation-orders"]]
    assert all(s.closed for s in replay.hub.sockets)  # the source was closed on the way out


# ------------------------------------------------------------------------------------------ (d)


def test_hyperliquid_has_no_liquidation_stream_and_polls_its_open_interest(tmp_path: Path) -> None:
    clock = Clock(minute(9) + pd.Timedelta(seconds=30))
    clock_moves = clock.sleep

    async def sleep(delay: float) -> None:  # the poll interval passes on the test clock
        clock.advance(pd.Timedelta(seconds=delay))
        await clock_moves(delay)

    def meta_and_ctxs(request: Request) -> list[Any]:  # markets and their state: open interest grows in the minute
        meta = {"universe": [{"szDecimals": 5, "name": "BTC", "maxLeverage": 40}]}
        interest = "30123.45678" if clock() < minute(10) else "30200.0"
        return [meta, [{**HYPERLIQUID_ASSET, "openInterest": interest}]]

    def candle_snapshot(request: Request) -> list[dict[str, Any]]:
        req = request.body["req"]
        out = []
        i = minutes_since_t0(req["startTime"])
        while minute(i) <= clock() and ms(minute(i)) <= req["endTime"]:
            o, h, low, c, v = bar(i)
            t = ms(minute(i))
            out.append(
                {
                    "t": t,
                    "T": t + 59_999,
                    "s": "BTC",
                    "i": "1m",
                    "o": str(o),
                    "c": str(c),
                    "h": str(h),
                    "l": str(low),
                    "v": str(v),
                    "n": 9,
                }
            )
            i += 1
        return out

    def funding_history(request: Request) -> list[dict[str, Any]]:
        rates = [{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0001", "time": ms(minute(0))}]
        return [r for r in rates if r["time"] >= request.body["startTime"]]

    replay = Replay(
        "hyperliquid",
        "BTC",
        {"candle": [[hyperliquid_candle("BTC", minute(9), *bar(9)), hyperliquid_candle("BTC", minute(10), *bar(10))]]},
        {"info:metaAndAssetCtxs": meta_and_ctxs, "info:candleSnapshot": candle_snapshot, "info:fundingHistory": funding_history},
        clock=clock,
    )
    store = Store(tmp_path)
    follower = Follower(store, replay.source, "1m", poll_every=60.0, sleep=sleep, now=clock)
    with store.writer():
        state = run(follower.run(max_batches=1, max_polls=2))

    # one sample at the start, one a minute later, each stamped with the follower's clock (Hyperliquid gives no time)
    oi = store.read(Series("open_interest", "hyperliquid", "BTC/USDC:USDC"))
    first, second = minute(9) + pd.Timedelta(seconds=30), minute(10) + pd.Timedelta(seconds=30)
    assert rows(oi, ["ts", "oi_base", "oi_usd"]) == [
        [first, 30123.45678, 30123.45678 * 121510.0],
        [second, 30200.0, 30200.0 * 121510.0],
    ]
    funding = store.read(Series("funding", "hyperliquid", "BTC/USDC:USDC"))
    assert rows(funding, ["ts", "rate"]) == [[minute(0), 0.0000125]]
    assert state.batches == {"candles": 1}  # no liquidation stream was opened
    assert clock.slept == [60.0]
    assert [s.sent for s in replay.hub.sockets] == [
        [{"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}}]
    ]
    candles = store.read(Series("candles", "hyperliquid", "BTC/USDC:USDC", "1m"))
    assert candles["ts"].tolist() == [minute(i) for i in range(-51, 10)]
    assert store.cursor("hyperliquid", "BTC/USDC:USDC", "open_interest") == second


# ------------------------------------------------------------------------------------------ (e)


def test_a_slow_rest_call_of_one_venue_does_not_hold_up_another_venues_socket(tmp_path: Path) -> None:
    """``liqheat follow`` runs the followers of every venue in one event loop. Binance takes 2 s (on the
    wall clock) to answer the open-interest poll; Bybit pushes four liquidations meanwhile, 0.3 s apart.
    Each must be on disk within 0.3 s of being pushed, not when Binance's answer comes. (The pushes
    start 0.6 s in, after both followers' start-up store reads and writes, which still run in the loop.)"""
    clock = Clock(minute(9) + pd.Timedelta(seconds=30))
    oi_path, slow = "/futures/data/openInterestHist", 4.0

    def binance_oi(request: Request) -> list[dict[str, Any]]:
        sample = {"symbol": "BTCUSDT", "sumOpenInterest": "88231.114", "sumOpenInterestValue": "10738608884.94",
                  "CMCCirculatingSupply": "19932156.0", "timestamp": str(ms(minute(5)))}  # fmt: skip
        return [sample] if int(request.query.get("startTime", 0)) <= ms(minute(5)) else []

    binance = Replay(
        "binance",
        "BTCUSDT",
        {"kline": [[]], "forceOrder": [[]]},
        {"/fapi/v1/klines": binance_klines(clock), oi_path: binance_oi, "/fapi/v1/fundingRate": empty_list},
        clock=clock,
        delays={oi_path: slow},
    )

    def asked() -> float | None:  # when Binance was asked for open interest (time.monotonic())
        requests = binance.rest.paths(oi_path)
        return requests[0].at if requests else None

    def after(seconds: float) -> At:
        return At(lambda: None if (t := asked()) is None else t + seconds)

    pushed = [0.6, 0.9, 1.2, 1.5]  # seconds after the slow call began: all while it is in flight
    liq_ms = [ms(minute(9)) + 1_000 * (i + 1) for i in range(len(pushed))]
    script = [x for s, t in zip(pushed, liq_ms, strict=True)
              for x in (after(s), bybit_all_liquidation("BTCUSDT", [(t, "Buy", "0.5", "121000.0")]))]  # fmt: skip
    bybit = Replay(
        "bybit",
        "BTCUSDT",
        {"kline": [[]], "allLiquidation": [script]},
        {"/v5/market/kline": bybit_klines(clock), "/v5/market/open-interest": bybit_empty,
         "/v5/market/funding/history": bybit_empty},
        clock=clock,
    )  # fmt: skip

    store = Store(tmp_path)
    written: list[tuple[str, str, list[pd.Timestamp], float]] = []  # venue, kind, rows' ts, when on disk
    write = store.write

    def stamped(series: Series, frame: pd.DataFrame) -> int:
        added = write(series, frame)
        written.append((series.venue, series.kind, frame["ts"].tolist(), time.monotonic()))
        return added

    store.write = stamped  # type: ignore[method-assign]
    followers = [Follower(store, r.source, "1m", now=clock) for r in (binance, bybit)]  # real asyncio.sleep between polls

    def done() -> bool:
        liqs = sum(len(ts) for venue, kind, ts, _ in written if (venue, kind) == ("bybit", "liquidations"))
        return liqs == len(pushed) and any((venue, kind) == ("binance", "open_interest") for venue, kind, _, _ in written)

    async def main() -> None:  # as `liqheat follow --venue binance --venue bybit` runs them, until Ctrl-C
        tasks = [asyncio.ensure_future(f.run()) for f in followers]
        while not done():
            await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    with store.writer():
        run(main(), timeout=14.0)

    start = asked()
    assert start is not None
    on_disk = {ts[0]: at for venue, kind, ts, at in written if (venue, kind) == ("bybit", "liquidations")}
    lags = [round(on_disk[pd.Timestamp(t, unit="ms", tz="UTC")] - (start + s), 3) for s, t in zip(pushed, liq_ms, strict=True)]
    oi_at = next(at for venue, kind, _, at in written if (venue, kind) == ("binance", "open_interest"))
    assert oi_at - start >= slow  # the slow answer did take its 4 s, and the pushes all came before it
    # held up by the slow call, each would land 2.5 s or more after its push; 1 s leaves room for a busy machine
    assert all(0 <= lag < 1.0 for lag in lags), f"Bybit liquidations reached the store {lags} s after they were pushed"
    liqs = store.read(Series("liquidations", "bybit", "BTC/USDT:USDT"))
    assert liqs["ts"].tolist() == [pd.Timestamp(t, unit="ms", tz="UTC") for t in liq_ms]
    oi = store.read(Series("open_interest", "binance", "BTC/USDT:USDT"))
    assert rows(oi, ["ts", "oi_base", "oi_usd"]) == [[minute(5), 88231.114, 10738608884.94]]
