"""A local stand-in of Hyperliquid's ``/info`` on 127.0.0.1 that enforces the published request weights per IP.

Weights and limit as https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/rate-limits publishes
them (1,200 a minute; ``clearinghouseState`` 2, ``metaAndAssetCtxs`` and other reads 20), written out here
apart from the client's own table so a client that miscounts is caught. A request that would take the last
60 s past the limit is answered 429 and not counted. Time is read from the clock the client sleeps on
(``ManualClock``), so a 20-minute schedule runs in a second and the server sees each request at the time the
client sent it. Answers are in the venue's JSON shape; an unknown user gets an empty account, as the venue
gives.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from liqheat.venues.hyperliquid.info import Clock

LIMIT = 1200
PUBLISHED = {"clearinghouseState": 2, "l2Book": 2, "allMids": 2, "orderStatus": 2, "spotClearinghouseState": 2,
             "exchangeStatus": 2, "userRole": 60}  # fmt: skip
ZERO = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0", "totalMarginUsed": "0.0"}
EMPTY = {"assetPositions": [], "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0", "time": 0, "marginSummary": ZERO,
         "crossMarginSummary": ZERO}  # fmt: skip


@dataclass
class Venue:
    """What the stand-in answers: accounts by user (a payload, or a function of the time giving one) and the
    market read; ``log`` keeps (time, type, user, status) of every request."""

    clock: Clock
    accounts: dict[str, Any] = field(default_factory=dict)
    meta: Any = None
    limit: int = LIMIT
    log: list[tuple[float, str, str | None, int]] = field(default_factory=list)
    window: deque[tuple[float, int]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: Any) -> tuple[int, Any]:
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(kind, str):
            return 422, "Failed to deserialize the JSON body into the target type"
        w = PUBLISHED.get(kind, 20)
        with self.lock:
            now = self.clock.now()
            while self.window and now - self.window[0][0] >= 60.0:
                self.window.popleft()
            used = sum(x for _, x in self.window)
            user = body.get("user")
            if used + w > self.limit:
                self.log.append((now, kind, user, 429))
                return 429, None
            self.window.append((now, w))
            self.log.append((now, kind, user, 200))
        if kind == "clearinghouseState":
            account = self.accounts.get(str(user).lower(), EMPTY)
            return 200, account(now) if callable(account) else account
        if kind == "metaAndAssetCtxs":
            return 200, self.meta(now) if callable(self.meta) else self.meta
        return 422, "Failed to deserialize the JSON body into the target type"

    def statuses(self, kind: str | None = None) -> list[int]:
        return [status for _, k, _, status in self.log if kind is None or k == kind]


@contextmanager
def serve(venue: Venue) -> Iterator[str]:
    """Serve ``venue`` on 127.0.0.1 (keep-alive); yields the ``/info`` URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall each

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                status, payload = 422, "Failed to deserialize the JSON body into the target type"
            else:
                status, payload = venue.answer(body)
            data = b"" if payload is None else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/info"
    finally:
        server.shutdown()
        server.server_close()


def account(coin: str, size: float, mark: float, leverage: int, *, isolated: bool = False, time: int = 0) -> dict[str, Any]:
    """One position's ``clearinghouseState`` with a liquidation price by the venue's formula (maintenance
    leverage 2 × 40, the account's margin only its initial margin)."""
    value = abs(size) * mark
    margin = value / leverage
    side = 1 if size > 0 else -1
    liq = mark - side * (margin - value / 80) / abs(size) / (1 - side / 80)
    lev: dict[str, Any] = {"type": "isolated", "value": leverage, "rawUsd": f"{-side * value + margin:.6f}"} if isolated else {
        "type": "cross", "value": leverage}  # fmt: skip
    summary = {"accountValue": f"{margin:.6f}", "totalNtlPos": f"{value:.6f}", "totalRawUsd": f"{margin:.6f}",
               "totalMarginUsed": f"{margin:.6f}"}  # fmt: skip
    position = {"coin": coin, "szi": f"{size:.5f}", "entryPx": f"{mark:.1f}", "leverage": lev, "liquidationPx": f"{liq:.6f}",
                "marginUsed": f"{margin:.6f}", "maxLeverage": 40, "positionValue": f"{value:.6f}", "returnOnEquity": "0.0",
                "unrealizedPnl": "0.0", "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"}}  # fmt: skip
    return {"assetPositions": [{"type": "oneWay", "position": position}], "crossMaintenanceMarginUsed": f"{value / 80:.6f}",
            "crossMarginSummary": summary, "marginSummary": summary, "withdrawable": "0.0", "time": time}  # fmt: skip


def meta(coins: dict[str, tuple[float, float]]) -> list[Any]:
    """A ``metaAndAssetCtxs`` answer: coin → (mark, open interest in coins)."""
    universe = [{"name": c, "szDecimals": 5, "maxLeverage": 40} for c in coins]
    ctxs = [{"dayNtlVlm": "0.0", "funding": "0.0000125", "markPx": str(m), "midPx": str(m), "openInterest": str(oi),
             "oraclePx": str(m), "premium": "0.0", "prevDayPx": str(m), "impactPxs": [str(m), str(m)], "dayBaseVlm": "0.0"}
            for m, oi in coins.values()]  # fmt: skip
    return [{"universe": universe}, ctxs]


def synthetic_venue(clock: Clock, n: int, *, whales: int = 150, whale_share: float = 0.93, seed: int = 11,
                    mark: float = 100_000.0, coverage: float = 0.6) -> tuple[Venue, list[str], dict[str, float]]:  # fmt: skip
    """``n`` BTC accounts with one position each: ``whales`` of them hold ``whale_share`` of the notional, the
    rest the remainder (lognormal within each group), half long and half short, leverage 3-40, the open interest
    such that they hold ``coverage`` of it. Returns the venue, the addresses and each one's notional."""
    rng = np.random.default_rng(seed)
    users = [f"0x{i:040x}" for i in range(1, n + 1)]
    notional = np.exp(rng.normal(0.0, 1.0, n))
    big = rng.permutation(n)[:whales]
    crowd = np.ones(n, dtype=bool)
    crowd[big] = False
    total = 1e9
    notional[big] *= whale_share * total / notional[big].sum()
    notional[crowd] *= (1 - whale_share) * total / notional[crowd].sum()
    sides = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    leverage = rng.choice([3, 5, 10, 20, 40], n)
    accounts: dict[str, Any] = {u: account("BTC", s * v / mark, mark, int(lev))
                                for u, v, s, lev in zip(users, notional, sides, leverage, strict=True)}  # fmt: skip
    oi = float(notional.sum()) / 2 / mark / coverage
    venue = Venue(clock, accounts, meta({"BTC": (mark, oi), "ETH": (2_500.0, 1_000.0)}))
    return venue, users, dict(zip(users, notional.tolist(), strict=True))
