"""A client of Hyperliquid's ``/info`` endpoint that never spends more request weight a minute than its budget.

Hyperliquid limits REST requests per IP to an aggregated weight of 1,200 a minute; ``clearinghouseState`` (and
``l2Book``, ``allMids``, ``orderStatus``, ``spotClearinghouseState``, ``exchangeStatus``) weighs 2, ``userRole``
60, every other documented ``info`` request (``metaAndAssetCtxs`` among them) 20:
https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits . So 600 account reads a minute
at most, fewer when market reads share the minute.

The budget is a sliding window: a request is sent only when the weights sent in the last 60 s plus its own fit.
A 429 (the venue counts differently, another client shares the IP, the network bunched requests) is answered by
waiting (``Retry-After`` when given, else 1, 2, 4 … 60 s) and trying again through the budget. The URL is
configurable: providers serve the same ``/info`` without the cap, and the budget is then raised to suit.
Time comes from a :class:`Clock`, so a replay runs an hour of schedule without waiting an hour.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from liqheat.model import DomainError
from liqheat.venues.hyperliquid.state import AccountState, AssetContext, parse_clearinghouse_state, parse_meta_and_asset_ctxs

DEFAULT_URL = "https://api.hyperliquid.xyz/info"
DEFAULT_BUDGET = 1200
WINDOW = 60.0
LIGHT = frozenset({"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"})
HEAVY = {"userRole": 60}
OTHER = 20
MAX_BACKOFF = 60.0
SLACK = 1e-3  # a sent request counts 1 ms longer than the window: the venue's clock and rounding are not ours


def weight(request_type: str) -> int:
    """The published weight of one ``info`` request of ``request_type``."""
    return 2 if request_type in LIGHT else HEAVY.get(request_type, OTHER)


class Unavailable(DomainError):
    """The endpoint kept failing (429s, 5xx, dropped connections) through every retry: worth trying later."""


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Monotonic seconds and a real sleep."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """Time that moves only when slept through: a schedule of hours replays in moments, and a server that reads
    the same clock sees requests at the times the client meant to send them."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._t = max(self._t + seconds, math.nextafter(self._t, math.inf))  # a sleep too short to add still moves on


class WeightBudget:
    """At most ``per_minute`` weight in any 60 s: :meth:`acquire` waits (on the clock) until a request fits.

    Requests are also paced, one of weight ``w`` every ``w × 60 / per_minute`` s: a bare window would let a
    minute's worth go at once and then stall a minute, so every account would be read in bursts a minute apart."""

    def __init__(self, per_minute: int = DEFAULT_BUDGET, clock: Clock | None = None) -> None:
        if not isinstance(per_minute, int) or per_minute < max(HEAVY.values()):
            least = max(HEAVY.values())
            raise DomainError(f"budget must be a whole weight a minute ≥ {least}, got {per_minute!r}", param="budget")
        self.per_minute = per_minute
        self.clock = clock or SystemClock()
        self._sent: deque[tuple[float, int]] = deque()  # (when it leaves the window, weight)
        self._used = 0
        self._next = -math.inf
        self._lock = threading.Lock()  # several readers share one budget: checking and counting are one step

    def used(self) -> int:
        """Weight sent in the last 60 s."""
        self._expire(self.clock.now())
        return self._used

    def _expire(self, now: float) -> None:
        while self._sent and now >= self._sent[0][0]:
            self._used -= self._sent.popleft()[1]

    def wait(self, w: int) -> float:
        """Seconds until ``w`` fits (0: now)."""
        now = self.clock.now()
        self._expire(now)
        paced = max(0.0, self._next - now)
        free = self.per_minute - self._used
        if w <= free:
            return paced
        for leaves, spent in self._sent:
            free += spent
            if w <= free:
                return max(paced, leaves - now)
        raise DomainError(f"a request of weight {w} never fits a budget of {self.per_minute}", param="budget")

    def acquire(self, w: int) -> float:
        """Wait until ``w`` fits, then count it as sent now (the time returned). A request the window held back is not
        paced after: the window, full, already meters what follows (pacing too would charge its weight twice)."""
        held = False
        while True:
            with self._lock:
                delay = self.wait(w)
                if delay <= 0:
                    now = self.clock.now()
                    self._sent.append((now + WINDOW + SLACK, w))
                    self._used += w
                    self._next = now if held else now + w * WINDOW / self.per_minute
                    return now
                held = held or delay > max(0.0, self._next - self.clock.now())
            self.clock.sleep(delay)


@dataclass
class Counters:
    requests: int = 0
    weight: int = 0
    rate_limited: int = 0
    retried: int = 0


class InfoClient:
    """POST JSON to an ``/info`` URL within a :class:`WeightBudget`, over one kept-alive connection per thread:
    several threads read at once where the round trip, not the budget, would bound the rate."""

    def __init__(self, url: str = DEFAULT_URL, *, budget: WeightBudget | None = None, timeout: float = 10.0,
                 retries: int = 6) -> None:  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DomainError(f"info_url must be an http(s) URL such as {DEFAULT_URL}, got {url!r}", param="info_url")
        self.url = url
        self._parts = parts
        self.budget = budget or WeightBudget()
        self.timeout = timeout
        self.retries = retries
        self.counters = Counters()
        self._local = threading.local()  # one kept-alive connection per reading thread
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            host, port = self._parts.hostname or "", self._parts.port
            kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            conn = self._local.conn = kind(host, port, timeout=self.timeout)
            with self._lock:
                self._opened.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        """Close every thread's connection (call when no thread reads any more)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()

    def _count(self, **add: int) -> None:
        with self._lock:
            for name, n in add.items():
                setattr(self.counters, name, getattr(self.counters, name) + n)

    def _send(self, body: bytes) -> tuple[int, str | None, bytes]:
        conn = self._connection()
        try:
            conn.request("POST", self._parts.path or "/", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, response.getheader("Retry-After"), response.read()
        except (OSError, http.client.HTTPException):
            self._drop()
            raise

    def post(self, request: dict[str, Any]) -> Any:
        """The JSON answer to one ``info`` request; 429, 5xx and dropped connections are retried after a backoff."""
        kind = str(request.get("type"))
        w = weight(kind)
        body = json.dumps(request).encode()
        backoff = 1.0
        for attempt in range(self.retries + 1):
            self.budget.acquire(w)
            self._count(requests=1, weight=w)
            try:
                status, retry_after, data = self._send(body)
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                status, retry_after, data = 0, None, b""
            else:
                problem = f"HTTP {status}: {data[:200].decode(errors='replace')}"
            if status == 200:
                try:
                    return json.loads(data)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise DomainError(f"{self.url}: {kind} answer is not JSON ({data[:80]!r})", param="info_url") from None
            if status == 429:
                self._count(rate_limited=1)
            elif status and status < 500:
                raise DomainError(f"{self.url}: {kind} refused ({problem})", param="info_url")
            if attempt == self.retries:
                raise Unavailable(f"{self.url}: {kind} failed {self.retries + 1} times, last: {problem}", param="info_url")
            self._count(retried=1)
            delay = _retry_after(retry_after) if status == 429 else None
            self.budget.clock.sleep(min(MAX_BACKOFF, delay if delay is not None else backoff))
            backoff = min(MAX_BACKOFF, backoff * 2)
        raise AssertionError("unreachable")

    def clearinghouse_state(self, user: str) -> AccountState:
        return parse_clearinghouse_state(user, self.post({"type": "clearinghouseState", "user": user}))

    def meta_and_asset_ctxs(self) -> dict[str, AssetContext]:
        return parse_meta_and_asset_ctxs(self.post({"type": "metaAndAssetCtxs"}))


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
