"""Replay a venue to ccxt without a network: REST answers and websocket frames in the venue's own shapes.

What is replaced is only the transport. REST: ``exchange.fetch`` (the sync exchange, ``liqheat fetch``'s)
and ``pro.fetch`` (the ccxt.pro one, whose REST the follower awaits). Websockets: each ccxt ``Client``'s
``create_connection``, which returns a :class:`FakeSocket` instead of an aiohttp connection. ccxt still
subscribes, decodes the JSON, routes it through the exchange's ``handle_message`` to
``handle_liquidation`` / ``handle_ohlcv``, fills its caches and resolves or rejects the watchers,
exactly as with a live socket.

Scripts. Frames are scripted per *channel*: a key that appears in the subscription ccxt sends
("forceOrder", "kline", "allLiquidation", "liquidation-orders", "candle1m", ...). When a connection
subscribes to a channel it takes that channel's next script, so the first connection plays script 0,
the connection ccxt opens after a drop plays script 1, and so on. A script is a list of frames (dicts
or lists, sent as TEXT), :class:`Drop` (the server hangs up: ccxt rejects every watcher with
NetworkError and forgets the client, as after a real drop), :class:`Advance` (move the test clock) and
:class:`At` (the server sends the next frame at a moment on the wall clock, whatever the client is doing).

Pacing. A frame is released only while some watcher of that connection waits (``paced=True``), so
each frame reaches ccxt as the stream under test asks for more, deterministically. ``paced=False``
delivers a burst as aiohttp does when frames arrive faster than they are read: everything already
received sits in aiohttp's reader buffer, which ccxt's receive loop drains in one go (every frame but
the last is handled before any watcher runs again).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlparse

import ccxt
import ccxt.pro
import pandas as pd
from aiohttp import WSMessage, WSMsgType

from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.registry import open_source
from liqheat.venues.registry import spec
from liqheat.venues.symbols import resolve

T = TypeVar("T")


@dataclass(frozen=True)
class Drop:
    """The connection ends here: "close" is the server's CLOSE frame (code 1006), "error" an aiohttp
    ERROR message (a reset). ccxt rejects every pending watcher with NetworkError either way."""

    kind: str = "close"


@dataclass(frozen=True)
class Advance:
    """Move the test clock before the next frame (time passed while the socket was down, say)."""

    by: pd.Timedelta


@dataclass(frozen=True)
class At:
    """The server sends the next frame at ``when()``, a ``time.monotonic()`` reading (None: not known yet).

    Real time, unlike :class:`Advance`: a client whose event loop is blocked reads the frame late, as it
    would read a live socket's, and the test can compare when it was sent with when it was handled.
    """

    when: Callable[[], float | None]


DROP = Drop()
Frame = Any  # dict | list (sent as JSON TEXT), Drop, Advance or At


class Clock:
    """A test clock for ``Follower(now=...)``; ``sleep`` records delays and only yields to the loop."""

    def __init__(self, start: pd.Timestamp) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> pd.Timestamp:
        return self.t

    def advance(self, by: pd.Timedelta) -> None:
        self.t += by

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)
        await asyncio.sleep(0)


# --------------------------------------------------------------------------------------------- REST


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)  # when it was asked (time.monotonic())


Route = Callable[[Request], Any]


class RestReplay:
    """ccxt's HTTP layer: answers by path, or for Hyperliquid's ``POST /info`` by ``"info:" + body type``.

    ``delays`` (route key -> seconds) is how long the venue takes to answer, on the wall clock: the sync
    exchange's transport (``__call__``) blocks that long, as a socket read does; the async one (``fetch``)
    awaits it, as aiohttp does.
    """

    def __init__(self, routes: dict[str, Route], delays: dict[str, float] | None = None) -> None:
        self.routes = routes
        self.delays = delays or {}
        self.requests: list[Request] = []

    def _answer(self, url: str, method: str, body: Any) -> tuple[str, Any]:
        parsed = urlparse(url)
        payload = json.loads(body) if body else None
        request = Request(method, parsed.path, dict(parse_qsl(parsed.query)), payload)
        self.requests.append(request)
        key = parsed.path
        if parsed.path == "/info" and isinstance(payload, dict):
            key = f"info:{payload.get('type')}"
        if key not in self.routes:
            raise AssertionError(f"unexpected request {method} {url} {body or ''}")
        return key, self.routes[key](request)

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        key, answer = self._answer(url, method, body)
        time.sleep(self.delays.get(key, 0.0))
        return answer

    async def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        key, answer = self._answer(url, method, body)
        await asyncio.sleep(self.delays.get(key, 0.0))
        return answer

    def paths(self, key: str) -> list[Request]:
        return [r for r in self.requests if r.path == key or (isinstance(r.body, dict) and f"info:{r.body.get('type')}" == key)]


def _const(value: Any) -> Route:
    return lambda request: value


def binance_symbol(symbol: str, base: str, quote: str, *, inverse: bool) -> dict[str, Any]:
    """One entry of GET /fapi/v1/exchangeInfo (USD-M) or /dapi/v1/exchangeInfo (COIN-M, contractSize in USD)."""
    entry: dict[str, Any] = {
        "symbol": symbol,
        "pair": symbol.split("_")[0],
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": base if inverse else quote,
        "pricePrecision": 1 if inverse else 2,
        "quantityPrecision": 0 if inverse else 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.015000" if inverse else "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
            {
                "filterType": "LOT_SIZE",
                "minQty": "1" if inverse else "0.001",
                "maxQty": "1000",
                "stepSize": "1" if inverse else "0.001",
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "1" if inverse else "0.001",
                "maxQty": "120",
                "stepSize": "1" if inverse else "0.001",
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC"],
    }
    if inverse:
        entry.update({"contractStatus": "TRADING", "contractSize": 100 if base == "BTC" else 10, "equalQtyPrecision": 4})
    else:
        entry["status"] = "TRADING"
    return entry


def _bybit_instrument(symbol: str, base: str, quote: str, settle: str) -> dict[str, Any]:
    """One entry of GET /v5/market/instruments-info?category=linear|inverse."""
    return {
        "symbol": symbol,
        "contractType": "InversePerpetual" if settle == base else "LinearPerpetual",
        "status": "Trading",
        "baseCoin": base,
        "quoteCoin": quote,
        "settleCoin": settle,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
        # inverse: USD contracts (ccxt reads the contract size from minOrderQty)
        "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": "1", "qtyStep": "1"}
        if settle == base
        else {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001", "minNotionalValue": "5"},
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "copyTrading": "both",
        "isPreListing": False,
    }


def _bybit_list(category: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": category, "list": items, "nextPageCursor": ""},
        "retExtInfo": {},
        "time": 1760054400000,
    }


def _okx_swap(inst_id: str, ct_type: str, ct_val: str, ct_val_ccy: str, settle: str) -> dict[str, Any]:
    """One entry of GET /api/v5/public/instruments?instType=SWAP (ctVal: 0.01 BTC linear, 100 USD inverse)."""
    family = inst_id.removesuffix("-SWAP")
    return {
        "alias": "",
        "baseCcy": "",
        "category": "1",
        "ctMult": "1",
        "ctType": ct_type,
        "ctVal": ct_val,
        "ctValCcy": ct_val_ccy,
        "expTime": "",
        "instFamily": family,
        "instId": inst_id,
        "instType": "SWAP",
        "lever": "100",
        "listTime": "1573557408000",
        "lotSz": "0.01" if ct_type == "linear" else "1",
        "maxLmtSz": "100000000",
        "maxMktSz": "12000",
        "minSz": "0.01" if ct_type == "linear" else "1",
        "optType": "",
        "quoteCcy": "",
        "settleCcy": settle,
        "state": "live",
        "stk": "",
        "tickSz": "0.1",
        "uly": family,
    }


def _okx(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


HYPERLIQUID_ASSET = {
    "funding": "0.0000125",
    "openInterest": "30123.45678",
    "prevDayPx": "121000.0",
    "dayNtlVlm": "3000000000.0",
    "premium": "0.0001",
    "oraclePx": "121500.0",
    "markPx": "121510.0",
    "midPx": "121505.5",
    "impactPxs": ["121505.0", "121506.0"],
    "dayBaseVlm": "24700.1",
}


def market_routes(ccxt_id: str) -> dict[str, Route]:
    """What ``load_markets`` asks each venue, answered with BTC and ETH perpetuals in the venue's shapes."""
    if ccxt_id == "binanceusdm":
        info = {"timezone": "UTC", "serverTime": 1760054400000, "rateLimits": [], "exchangeFilters": [], "assets": [],
                "symbols": [binance_symbol("BTCUSDT", "BTC", "USDT", inverse=False),
                            binance_symbol("ETHUSDT", "ETH", "USDT", inverse=False)]}  # fmt: skip
        return {"/fapi/v1/exchangeInfo": _const(info)}
    if ccxt_id == "binancecoinm":
        info = {"timezone": "UTC", "serverTime": 1760054400000, "rateLimits": [], "exchangeFilters": [],
                "symbols": [binance_symbol("BTCUSD_PERP", "BTC", "USD", inverse=True),
                            binance_symbol("ETHUSD_PERP", "ETH", "USD", inverse=True)]}  # fmt: skip
        return {"/dapi/v1/exchangeInfo": _const(info)}
    if ccxt_id == "bybit":
        by_category = {
            "linear": [_bybit_instrument("BTCUSDT", "BTC", "USDT", "USDT"), _bybit_instrument("ETHUSDT", "ETH", "USDT", "USDT")],
            "inverse": [_bybit_instrument("BTCUSD", "BTC", "USD", "BTC")],
        }

        def instruments(request: Request) -> Any:
            category = request.query["category"]
            fresh = request.query.get("status") != "PreLaunch"
            return _bybit_list(category, by_category.get(category, []) if fresh else [])

        return {"/v5/market/instruments-info": instruments}
    if ccxt_id == "okx":
        swaps = [
            _okx_swap("BTC-USDT-SWAP", "linear", "0.01", "BTC", "USDT"),
            _okx_swap("ETH-USDT-SWAP", "linear", "0.1", "ETH", "USDT"),
            _okx_swap("BTC-USD-SWAP", "inverse", "100", "USD", "BTC"),
        ]
        return {"/api/v5/public/instruments": lambda r: _okx(swaps if r.query["instType"] == "SWAP" else [])}
    if ccxt_id == "hyperliquid":
        meta = {
            "universe": [{"szDecimals": 5, "name": "BTC", "maxLeverage": 40}, {"szDecimals": 4, "name": "ETH", "maxLeverage": 25}]
        }
        eth = {**HYPERLIQUID_ASSET, "openInterest": "500000.0", "markPx": "4400.5", "oraclePx": "4400.0", "midPx": "4400.25"}
        return {
            "info:spotMeta": _const({"tokens": [], "universe": []}),
            "info:spotMetaAndAssetCtxs": _const([{"tokens": [], "universe": []}, []]),
            "info:metaAndAssetCtxs": _const([meta, [HYPERLIQUID_ASSET, eth]]),
            "info:perpDexs": _const([None]),
        }
    raise AssertionError(f"no market payloads for {ccxt_id}")


# ------------------------------------------------------------------------------------------ sockets


class FakeSocket:
    """What aiohttp's ``ClientWebSocketResponse`` is to ccxt's ``Client``: send_str, receive, close, ping."""

    def __init__(self, hub: SocketHub, client: Any) -> None:
        self.hub, self.client, self.url = hub, client, client.url
        self.sent: list[Any] = []
        self.channels: list[str] = []
        self.queue: deque[Frame] = deque()
        self.closed = False
        # ccxt's Client.buffer reads aiohttp's reader buffer at _conn.protocol._payload._buffer: none when
        # paced; a burst (paced=False) is put there whole, as aiohttp would hold it
        self.buffer: deque[tuple[WSMessage, int]] = deque()
        self._conn = (
            None if hub.paced else SimpleNamespace(protocol=SimpleNamespace(_payload=SimpleNamespace(_buffer=self.buffer)))
        )

    async def send_str(self, text: str) -> None:
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            message = text
        self.sent.append(message)
        for key in self.hub.scripts:
            if key in text and key not in self.channels:
                self.channels.append(key)
                self.queue.extend(self.hub.next_script(key))
        if not self.hub.paced:
            while self.queue:
                item = self.queue.popleft()
                assert not isinstance(item, Advance | At), "a burst (paced=False) cannot wait"
                self.buffer.append((self._message(item), 0))
        self.hub.poke()

    def _released(self) -> bool:
        if not self.queue:
            return False
        if isinstance(self.queue[0], Advance | At):
            return True
        return any(not f.done() for f in self.client.futures.values())

    def _message(self, item: Frame) -> WSMessage:
        if isinstance(item, Drop):
            self.hub.drops.append(self.url)
            if item.kind == "error":
                return WSMessage(WSMsgType.ERROR, ConnectionResetError("connection reset (test drop)"), None)
            return WSMessage(WSMsgType.CLOSE, 1006, "")
        self.hub.delivered += 1
        return WSMessage(WSMsgType.TEXT, json.dumps(item), None)

    async def receive(self) -> WSMessage:
        while True:
            if self.closed:  # a closed socket says nothing more; the pending read is cancelled at shutdown
                await asyncio.Event().wait()
            if self.buffer:
                return self.buffer.popleft()[0]
            if not self._released():
                await self.hub.changed()
                continue
            item = self.queue.popleft()
            if isinstance(item, Advance):
                assert self.hub.clock is not None, "Advance needs a Clock"
                self.hub.clock.advance(item.by)
                continue
            if isinstance(item, At):
                while (due := item.when()) is None or time.monotonic() < due:
                    await asyncio.sleep(0.005 if due is None else due - time.monotonic())
                continue
            return self._message(item)

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        self.hub.poke()
        return True

    async def ping(self, message: bytes = b"") -> None:
        return None

    async def pong(self, message: bytes = b"") -> None:
        return None


@dataclass
class SocketHub:
    """Every connection one ccxt.pro exchange opens, and the scripts they play."""

    scripts: dict[str, list[list[Frame]]]
    clock: Clock | None = None
    paced: bool = True
    sockets: list[FakeSocket] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    delivered: int = 0
    _event: asyncio.Event | None = None
    _taken: dict[str, int] = field(default_factory=dict)

    def next_script(self, key: str) -> list[Frame]:
        i = self._taken.get(key, 0)
        self._taken[key] = i + 1
        scripts = self.scripts[key]
        return list(scripts[i]) if i < len(scripts) else []

    def poke(self) -> None:
        if self._event is not None:
            self._event.set()
        self._event = None

    async def changed(self) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()

    def attach(self, pro: Any) -> None:
        """Make ``pro``'s websocket clients connect to fake sockets (and tell the hub when a watcher waits)."""
        make_client = pro.client

        def client(url: str) -> Any:
            fresh = url not in (pro.clients or {})
            found = make_client(url)
            if fresh:
                make_future = found.future

                def future(message_hash: str) -> Any:
                    out = make_future(message_hash)
                    self.poke()
                    return out

                async def connect(session: Any) -> FakeSocket:
                    socket = FakeSocket(self, found)
                    self.sockets.append(socket)
                    return socket

                found.future = future
                found.create_connection = connect
            return found

        pro.client = client

    def sent(self) -> list[Any]:
        return [m for s in self.sockets for m in s.sent]


# ------------------------------------------------------------------------------------------ harness


class Replay:
    """A :class:`CcxtSource` for ``venue``/``symbol`` whose REST and websockets are replayed (``keepalive`` off: ccxt
    sends no pings, which fake sockets would leave unanswered, for replays longer than the venue's interval)."""

    def __init__(
        self,
        venue: str,
        symbol: str,
        scripts: dict[str, list[list[Frame]]] | None = None,
        rest: dict[str, Route] | None = None,
        *,
        clock: Clock | None = None,
        paced: bool = True,
        delays: dict[str, float] | None = None,
        keepalive: bool = True,
    ) -> None:
        market = resolve(symbol, venue)
        ccxt_id = spec(venue).ccxt_ids[market.kind]
        self.rest = RestReplay({**market_routes(ccxt_id), **(rest or {})}, delays)
        exchange = getattr(ccxt, ccxt_id)({"enableRateLimit": False})
        exchange.fetch = self.rest
        self.pro = getattr(ccxt.pro, ccxt_id)({"enableRateLimit": False})
        self.pro.fetch = self.rest.fetch
        self.pro.timeout_on_exit = 0
        if not keepalive:  # a replay that lasts longer than ccxt's ping interval: fake sockets answer no pings
            self.pro.streaming = {**self.pro.streaming, "keepAlive": 0}
        self.hub = SocketHub(scripts or {}, clock, paced)
        self.hub.attach(self.pro)
        self.slept: list[float] = []  # REST retry backoff, blocking or awaited: recorded, not slept

        async def async_sleep(delay: float) -> None:
            self.slept.append(delay)

        self.source: CcxtSource = open_source(
            venue, market, exchange, pro=self.pro, sleep=self.slept.append, async_sleep=async_sleep
        )


async def take(stream: AsyncIterator[T], n: int) -> list[T]:
    """The first ``n`` items of an async stream, which is then closed."""
    out: list[T] = []
    try:
        async for item in stream:
            out.append(item)
            if len(out) >= n:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return out


def run(coro: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
    """Run a test coroutine; a stream that waits for a frame no script holds fails instead of hanging."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def collect(replay: Replay, stream: AsyncIterator[T], n: int) -> list[T]:
    try:
        return await take(stream, n)
    finally:
        await replay.source.close()


def ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


# ---------------------------------------------------------------------------------- native frames


def binance_force_order(symbol: str, side: str, qty: str, price: str, avg: str, ts: int) -> dict[str, Any]:
    """``<symbol>@forceOrder`` (USD-M and COIN-M "Liquidation Order Streams"): ``S`` is the forced order's
    side, ``q``/``l``/``z`` its quantity (coins on USD-M, contracts on COIN-M), ``ap`` the average price."""
    order = {"s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": qty, "p": price, "ap": avg, "X": "FILLED",
             "l": qty, "z": qty, "T": ts}  # fmt: skip
    if symbol.endswith("_PERP"):
        order["ps"] = symbol.split("_")[0]
    return {"e": "forceOrder", "E": ts + 2, "o": order}


def binance_kline(
    symbol: str, start: pd.Timestamp, o: float, h: float, low: float, c: float, v: float, *, closed: bool = False
) -> dict[str, Any]:
    """``<symbol>@kline_1m``: ``k.t`` open time, ``k.x`` whether this is the candle's final update."""
    t = ms(start)
    kline = {"t": t, "T": t + 59_999, "s": symbol, "i": "1m", "f": 100, "L": 200, "o": str(o), "c": str(c), "h": str(h)}
    kline |= {"l": str(low), "v": str(v), "n": 100, "x": closed, "q": str(v * c), "V": str(v / 2), "Q": str(v * c / 2), "B": "0"}
    return {"e": "kline", "E": t + 30_000, "s": symbol, "k": kline}


def bybit_all_liquidation(symbol: str, events: list[tuple[int, str, str, str]]) -> dict[str, Any]:
    """``allLiquidation.<symbol>`` (Bybit v5): ``data`` lists (T, s, S, v, p); ``S`` "Buy" means a long
    position was liquidated; ``v`` is in coins (linear) or contracts of 1 USD (inverse)."""
    return {
        "topic": f"allLiquidation.{symbol}",
        "type": "snapshot",
        "ts": max(e[0] for e in events) + 200,
        "data": [{"T": t, "s": symbol, "S": side, "v": size, "p": price} for t, side, size, price in events],
    }


def bybit_kline(
    symbol: str, start: pd.Timestamp, o: float, h: float, low: float, c: float, v: float, *, confirm: bool = False
) -> dict[str, Any]:
    """``kline.1.<symbol>`` (Bybit v5)."""
    t = ms(start)
    row = {"start": t, "end": t + 59_999, "interval": "1", "open": str(o), "close": str(c), "high": str(h), "low": str(low),
           "volume": str(v), "turnover": str(v * c), "confirm": confirm, "timestamp": t + 30_000}  # fmt: skip
    return {"topic": f"kline.1.{symbol}", "data": [row], "ts": t + 30_000, "type": "snapshot"}


def okx_liquidations(inst_id: str, details: list[dict[str, str]]) -> dict[str, Any]:
    """``liquidation-orders`` (OKX v5): one entry per instrument with every ``details`` item (bkPx, sz in
    contracts, side of the forced order, posSide long/short, or net in one-way mode)."""
    family = inst_id.removesuffix("-SWAP")
    full = [{"bkLoss": "0", "ccy": "", **d} for d in details]
    return {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [{"details": full, "instFamily": family, "instId": inst_id, "instType": "SWAP", "uly": family}],
    }


def okx_candle(
    inst_id: str,
    start: pd.Timestamp,
    o: float,
    h: float,
    low: float,
    c: float,
    contracts: float,
    coins: float,
    *,
    confirm: bool = False,
) -> dict[str, Any]:
    """``candle1m`` (OKX v5, business socket): [ts, o, h, l, c, vol (contracts), volCcy (coins), volCcyQuote, confirm]."""
    row = [str(ms(start)), str(o), str(h), str(low), str(c), str(contracts), str(coins), str(coins * c), "1" if confirm else "0"]
    return {"arg": {"channel": "candle1m", "instId": inst_id}, "data": [row]}


def hyperliquid_candle(coin: str, start: pd.Timestamp, o: float, h: float, low: float, c: float, v: float) -> dict[str, Any]:
    """``candle`` subscription (Hyperliquid): t open, T close, s coin, i interval, n trades."""
    t = ms(start)
    data = {
        "t": t,
        "T": t + 59_999,
        "s": coin,
        "i": "1m",
        "o": str(o),
        "c": str(c),
        "h": str(h),
        "l": str(low),
        "v": str(v),
        "n": 42,
    }
    return {"channel": "candle", "data": data}
