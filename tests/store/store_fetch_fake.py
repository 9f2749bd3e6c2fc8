"""A fake Binance USD-M behind ccxt's HTTP session, for the ``fetch`` fault tests (and their subprocesses).

The market is synthetic and deterministic (a seeded random walk): 1-minute klines in Binance's native
array shape, openInterestHist rows every 5 minutes, fundingRate rows every 8 hours. The fake answers
by URL path and the startTime/endTime/limit query the way Binance does (at most ``limit`` rows from
startTime, inside endTime when given), as real HTTP responses, so ccxt's own parsing and error
mapping run: a 429 or 418 status becomes ccxt's DDoSProtection, a read timeout RequestTimeout, a
dropped connection NetworkError. Faults are scheduled per endpoint by request number.

Importable from a subprocess with ``sys.path.insert(0, <tests folder>)``; :func:`run_fetch` is what
the kill-and-resume test runs there.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import ccxt
import numpy as np
import pandas as pd
import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from liqheat.sources.ccxt import CcxtSource
from liqheat.store.parquet_store import Series, Store
from liqheat.venues.binance import feed as binance
from liqheat.venues.spec import VenueSpec
from liqheat.venues.symbols import resolve

HERE = Path(__file__).resolve().parent
EXCHANGE_INFO = json.loads((HERE.parent / "venues" / "binance" / "exchangeInfo.json").read_text(encoding="utf-8"))
START = pd.Timestamp("2025-10-10T00:00:00Z")  # exchangeInfo's serverTime
DAYS = 3
END = START + pd.Timedelta(days=DAYS)
MINUTE_MS = 60_000
OI_MS = 5 * MINUTE_MS
FUNDING_MS = 8 * 3_600_000
SYMBOL = "BTC/USDT:USDT"

# Binance as liqheat knows it, except that the fake keeps all its open-interest history (the real
# venue keeps 30 days, which fixed 2025 dates are outside of) and pages are smaller, so a three-day
# market spans several pages and several chunks: 9 kline pages, 5 open-interest pages, 3 funding pages.
SPEC: VenueSpec = dataclasses.replace(
    binance.SPEC,
    capabilities=dataclasses.replace(
        binance.SPEC.capabilities, open_interest_history="5m steps (the fake keeps it all)", oi_history_days=None
    ),
    candle_page=500,
    oi_page=200,
    funding_page=4,
)
KILL_SPEC: VenueSpec = dataclasses.replace(SPEC, candle_page=600, oi_page=100)  # more, smaller chunks to kill
PAGES_PER_CHUNK = 3  # candle chunks of 1,500 minutes, open-interest chunks of 3,000 minutes


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


@dataclass
class Market:
    """The venue's data, in Binance's native shapes, ascending."""

    klines: list[list[Any]]
    open_interest: list[dict[str, Any]]
    funding: list[dict[str, Any]]

    def candles(self) -> pd.DataFrame:
        """What the store should hold for the klines."""
        frame = pd.DataFrame(
            [[r[0], *(float(x) for x in r[1:6])] for r in self.klines], columns=["ms", "open", "high", "low", "close", "volume"]
        )
        frame.insert(0, "ts", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
        return frame

    def oi(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            [(r["timestamp"], float(r["sumOpenInterest"]), float(r["sumOpenInterestValue"])) for r in self.open_interest],
            columns=["ms", "oi_base", "oi_usd"],
        )
        frame.insert(0, "ts", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
        return frame

    def rates(self) -> pd.DataFrame:
        frame = pd.DataFrame([(r["fundingTime"], float(r["fundingRate"])) for r in self.funding], columns=["ms", "rate"])
        frame.insert(0, "ts", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
        return frame


def make_market(
    seed: int = 20251010,
    *,
    kline_holes: Iterable[tuple[int, int]] = (),
    oi_holes: Iterable[tuple[int, int]] = (),
) -> Market:
    """Three days from :data:`START`; ``*_holes`` are [first, last) minute offsets the venue has no rows for."""
    rng = np.random.default_rng(seed)
    n = DAYS * 1440
    close = np.round(121_700.0 + np.cumsum(rng.normal(0.0, 25.0, n)), 1)
    open_ = np.concatenate([[121_700.0], close[:-1]])
    high = np.round(np.maximum(open_, close) + np.abs(rng.normal(0.0, 12.0, n)), 1)
    low = np.round(np.minimum(open_, close) - np.abs(rng.normal(0.0, 12.0, n)), 1)
    volume = np.round(rng.gamma(2.0, 60.0, n), 3)
    trades = rng.integers(200, 4000, n)
    taker = np.round(volume * rng.uniform(0.3, 0.7, n), 3)
    start = _ms(START)
    missing = {m for a, b in kline_holes for m in range(a, b)}
    klines = [
        [
            start + i * MINUTE_MS,
            f"{open_[i]:.1f}",
            f"{high[i]:.1f}",
            f"{low[i]:.1f}",
            f"{close[i]:.1f}",
            f"{volume[i]:.3f}",
            start + (i + 1) * MINUTE_MS - 1,
            f"{volume[i] * close[i]:.5f}",
            int(trades[i]),
            f"{taker[i]:.3f}",
            f"{taker[i] * close[i]:.5f}",
            "0",
        ]
        for i in range(n)
        if i not in missing
    ]
    oi_base = 80_000.0 + np.cumsum(rng.normal(0.0, 40.0, n // 5))
    oi_missing = {m for a, b in oi_holes for m in range(a, b)}
    open_interest = [
        {
            "symbol": "BTCUSDT",
            "sumOpenInterest": f"{oi_base[k]:.8f}",
            "sumOpenInterestValue": f"{oi_base[k] * close[5 * k]:.8f}",
            "CMCCirculatingSupply": "19930000.00",
            "timestamp": start + k * OI_MS,
        }
        for k in range(n // 5)
        if 5 * k not in oi_missing
    ]
    funding = [
        {
            "symbol": "BTCUSDT",
            "fundingTime": start + k * FUNDING_MS + int(rng.integers(0, 6)),  # Binance's stamps are a few ms late
            "fundingRate": f"{rng.normal(1e-4, 5e-5):.8f}",
            "markPrice": f"{close[min(n - 1, k * 480)]:.8f}",
        }
        for k in range(DAYS * 3)
    ]
    return Market(klines, open_interest, funding)


@dataclass
class Fault:
    """What request number ``at`` (1-based, per endpoint, retries included) and the ``times - 1`` after it get
    (or, with ``start``, every request for that startTime).

    kind: "429", "418", "401" (an HTTP error with Binance's body), "timeout", "network" (requests errors),
    "ratelimit" (ccxt's RateLimitExceeded raised as is), "boom" (a RuntimeError: not a venue error),
    "truncate" (only the first ``keep`` rows), "empty" ([]), "shuffle" (rows out of order),
    "overlap" (``keep`` rows from before startTime prepended and one row repeated).
    """

    endpoint: str
    at: int
    kind: str
    times: int = 1
    keep: int = 0
    start: int | None = None  # instead of ``at``/``times``: every request with this startTime (ms), however often


ERROR_BODIES = {
    429: (-1003, "Too many requests; current limit of IP(0.0.0.0) is 2400 requests per minute."),
    418: (-1003, "Way too much request weight used; IP banned until 1760054700000."),
    401: (-2015, "Invalid API-key, IP, or permissions for action."),
}
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 418: "I'm a teapot", 429: "Too Many Requests"}


class FakeBinance:
    """Stands in for ``exchange.session`` (a requests.Session): serves the market, injects the faults."""

    ENDPOINTS: ClassVar[dict[str, str]] = {
        "/fapi/v1/klines": "klines",
        "/futures/data/openInterestHist": "openInterestHist",
        "/fapi/v1/fundingRate": "fundingRate",
    }

    def __init__(self, market: Market, faults: Iterable[Fault] = ()) -> None:
        self.market = market
        self.faults = list(faults)
        self.cookies = RequestsCookieJar()
        self.headers: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, int]]] = []  # (endpoint, integer query params)
        self.faulted: list[tuple[str, int, str]] = []  # (endpoint, request number, kind)

    def close(self) -> None:
        pass

    def request(self, method: str, url: str, **_: Any) -> requests.Response:
        parsed = urlparse(url)
        if parsed.path == "/fapi/v1/exchangeInfo":
            return self._respond(url, 200, EXCHANGE_INFO)
        endpoint = self.ENDPOINTS.get(parsed.path)
        if endpoint is None:
            raise AssertionError(f"unexpected request {method} {url}")
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        params = {k: int(v) for k, v in query.items() if k in ("startTime", "endTime", "limit")}
        if query.get("symbol") != "BTCUSDT":
            return self._respond(url, 400, {"code": -1121, "msg": "Invalid symbol."})
        self.counts[endpoint] = n = self.counts.get(endpoint, 0) + 1
        self.requests.append((endpoint, params))
        fault = next((f for f in self.faults if f.endpoint == endpoint and self._hits(f, n, params)), None)
        if fault is not None:
            self.faulted.append((endpoint, n, fault.kind))
            self._raise(fault, url)
        rows = self._rows(endpoint, params)
        if fault is not None:
            rows = self._spoil(fault, endpoint, rows, params)
        return self._respond(url, 200, rows)

    @staticmethod
    def _hits(fault: Fault, n: int, params: dict[str, int]) -> bool:
        if fault.start is not None:
            return params.get("startTime") == fault.start
        return fault.at <= n < fault.at + fault.times

    def _table(self, endpoint: str) -> tuple[list[Any], Callable[[Any], int], int, int]:
        """The endpoint's rows, their timestamp, and its default and largest ``limit``."""
        if endpoint == "klines":
            return self.market.klines, (lambda r: int(r[0])), 500, 1500
        if endpoint == "openInterestHist":
            return self.market.open_interest, (lambda r: int(r["timestamp"])), 30, 500
        return self.market.funding, (lambda r: int(r["fundingTime"])), 100, 1000

    def _rows(self, endpoint: str, params: dict[str, int]) -> list[Any]:
        rows, ts, default, top = self._table(endpoint)
        start, end = params.get("startTime", 0), params.get("endTime")
        chosen = [r for r in rows if ts(r) >= start and (end is None or ts(r) <= end)]
        return chosen[: min(top, params.get("limit", default))]

    def _raise(self, fault: Fault, url: str) -> None:
        if fault.kind == "timeout":
            raise requests.exceptions.ReadTimeout(f"HTTPSConnectionPool(host='fapi.binance.com'): Read timed out. {url}")
        if fault.kind == "network":
            raise requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('closed without response'))")
        if fault.kind == "ratelimit":
            raise ccxt.RateLimitExceeded('binanceusdm {"code":-1003,"msg":"Too many requests"}')
        if fault.kind == "boom":
            raise RuntimeError("the fake transport broke on purpose")

    def _spoil(self, fault: Fault, endpoint: str, rows: list[Any], params: dict[str, int]) -> Any:
        if fault.kind in ("429", "418", "401"):
            code, msg = ERROR_BODIES[int(fault.kind)]
            return _Status(int(fault.kind), {"code": code, "msg": msg})
        if fault.kind == "truncate":
            return rows[: fault.keep]
        if fault.kind == "empty":
            return []
        if fault.kind == "shuffle":
            return rows[::-1] if len(rows) < 3 else [rows[1], rows[0], *rows[:1:-1]]
        if fault.kind == "overlap":
            table, ts, _, _ = self._table(endpoint)
            earlier = [r for r in table if ts(r) < params["startTime"]][-fault.keep :] if fault.keep else []
            return [*earlier, *rows[:1], *rows]
        raise AssertionError(f"unknown fault {fault.kind}")

    def _respond(self, url: str, status: int, body: Any) -> requests.Response:
        if isinstance(body, _Status):
            status, body = body.status, body.body
        response = requests.Response()
        response.status_code = status
        response.reason = REASONS.get(status, "")
        response.url = url
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response._content = json.dumps(body).encode()
        return response


@dataclass
class _Status:
    status: int
    body: Any = field(default=None)


def open_fake(fake: FakeBinance, spec: VenueSpec = SPEC) -> tuple[CcxtSource, list[float]]:
    """A Binance source whose HTTP goes to ``fake``; backoff sleeps are recorded, not slept."""
    exchange = ccxt.binanceusdm({"enableRateLimit": False})
    exchange.session = fake
    slept: list[float] = []
    return CcxtSource(spec, resolve(SYMBOL, "binance"), exchange, sleep=slept.append), slept


def series(kind: str) -> Series:
    return Series(kind, "binance", SYMBOL, "1m" if kind == "candles" else "-")


COLUMNS = {
    "candles": ["ts", "open", "high", "low", "close", "volume"],
    "open_interest": ["ts", "oi_base", "oi_usd"],
    "funding": ["ts", "rate"],
}


def stored(store: Store, kind: str) -> pd.DataFrame:
    """A series as stored (without the partition columns DuckDB adds), or an empty frame with its columns."""
    frame = store.read(series(kind))
    return frame[COLUMNS[kind]] if len(frame) else pd.DataFrame(columns=COLUMNS[kind])


def snapshot(store: Store) -> dict[str, Any]:
    """Everything a fetch leaves in the store: each series' rows and the cursors."""
    out: dict[str, Any] = {kind: stored(store, kind) for kind in COLUMNS}
    out["cursors"] = store.cursors()
    return out


def run_fetch(root: str, *, slow: float = 0.0, announce: bool = False) -> None:
    """The clean fetch of the whole market into ``root`` in chunks of one page (what the kill-and-resume
    subprocesses run, and the reference they are compared with).

    ``slow`` seconds are slept before each write and again between it and the cursor that covers it, to
    widen the windows a kill can fall into; ``announce`` prints a line per write so the parent can time kills.
    """
    from liqheat.store.collect import fetch_history

    if slow or announce:
        original = Store.write

        def write(self: Store, series: Series, frame: pd.DataFrame) -> int:
            time.sleep(slow)
            added = original(self, series, frame)
            if announce:
                print(f"wrote {series.kind} {len(frame)}", flush=True)
            time.sleep(slow)  # between the data and the cursor that covers it
            return added

        Store.write = write  # type: ignore[method-assign]
    source, _ = open_fake(FakeBinance(make_market()), KILL_SPEC)
    if announce:
        print("ready", flush=True)
    fetch_history(Store(root), source, "1m", START, END, pages_per_chunk=1)
    if announce:
        print("done", flush=True)


if __name__ == "__main__":  # pragma: no cover - run by hand: python tests/store_fetch_fake.py <store folder>
    run_fetch(sys.argv[1])
