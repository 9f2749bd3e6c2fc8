"""What the alert tests share: clusters and snapshots made by hand, a replayable market scenario, and local
receivers on 127.0.0.1 (a signed-webhook receiver, a fake Telegram Bot API, an SMTP server)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd

from liqheat.alerts.deliver import verify_signature
from liqheat.alerts.rules import Near, OpenInterest, Rule, Snapshot, Swept
from liqheat.analytics.clusters import Cluster

T0 = pd.Timestamp("2026-01-05T00:00:00Z")
MINUTE = pd.Timedelta(minutes=1)
MARKET = "btc-binance-1m"
SECRET = "a-test-secret-of-32-characters!!"


def cluster(side: str, peak: float, usd: float = 10e6, *, width_pct: float = 0.4, expected: float | None = None) -> Cluster:
    """A band ``width_pct`` % wide around ``peak`` (distances are the rules' own business: they use the price)."""
    half = width_pct / 200
    return Cluster(
        side=side,
        price_low=peak * (1 - half),
        price_high=peak * (1 + half),
        peak_price=peak,
        notional_usd=usd,
        share=0.1,
        distance_pct=0.0,
        hit_prob_24h=0.5 if expected is not None else None,
        expected_usd_24h=expected,
    )


def snap(price: float, minute: int, clusters: tuple[Cluster, ...] = (), **extra: Any) -> Snapshot:
    """The snapshot after the candle closing ``minute`` minutes after :data:`T0`."""
    ts = T0 + minute * MINUTE
    fields: dict[str, Any] = {"now": ts, "timeframe": MINUTE, "last_close": ts, "atr_pct": 0.5, "market_id": MARKET}
    fields.update(extra)
    return Snapshot(ts=ts, price=price, clusters=clusters, **fields)


# ------------------------------------------------------------------------------------------ a replayable market


def scenario_rules() -> list[Rule]:
    return [
        Near(name="near", within_pct=0.6, min_usd=2e6, cooldown=600, hysteresis=0.5),
        Swept(name="swept", min_usd=2e6, cooldown=0),
        OpenInterest(name="oi", change_pct=3.0, window=1800, cooldown=0),
    ]


def scenario(n: int = 480, seed: int = 11) -> list[Snapshot]:
    """``n`` one-minute snapshots of a random walk around 60,000 past fixed cluster levels every 0.5 %, with
    liquidations recorded where price trades through a level and open interest that jumps now and then: the
    same list in every process, so a restarted evaluator sees what the first one saw."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.0012, n)
    close = 60_000 * np.exp(np.cumsum(steps))
    open_ = np.concatenate(([60_000.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0004, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0004, n)))
    ts = T0 + MINUTE * np.arange(n)
    candles = pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close})
    levels = 60_000 * np.exp(np.log1p(0.005) * np.arange(-12, 13))
    sizes = 1e6 * (1 + 9 * rng.random(len(levels)))
    oi = 2e9 * np.exp(np.cumsum(np.where(rng.random(n) < 0.02, rng.normal(0, 0.04, n), rng.normal(0, 0.001, n))))
    open_interest = pd.DataFrame({"ts": ts + MINUTE, "oi_usd": oi})
    liq_rows = []
    for i in range(n):
        for level, usd in zip(levels, sizes, strict=True):
            if low[i] <= level <= high[i]:
                liq_rows.append({"ts": ts[i], "side": "long" if close[i] < level else "short", "usd": usd / 3, "price": level})
    liquidations = pd.DataFrame(liq_rows, columns=["ts", "side", "usd", "price"])
    out = []
    for i in range(n):
        price = float(close[i])
        at = ts[i] + MINUTE
        bands = tuple(
            cluster("long" if level < price else "short", float(level), float(usd))
            for level, usd in zip(levels, sizes, strict=True)
            if abs(level / price - 1) > 0.0008
        )
        out.append(
            Snapshot(
                market_id=MARKET,
                ts=at,
                now=at,
                price=price,
                timeframe=MINUTE,
                last_close=at,
                clusters=bands,
                atr_pct=0.4,
                candles=candles,
                open_interest=open_interest,
                liquidations=liquidations,
                realized_from=T0,
            )
        )
    return out


# ------------------------------------------------------------------------------------------ local receivers


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    timestamp: str


@dataclass
class WebhookReceiver:
    """A signed-webhook receiver on 127.0.0.1: checks the HMAC and the timestamp, keeps each idempotency key's first
    delivery (``accepted``, in arrival order) and counts the repeats it dropped (``repeats``). ``down`` makes it
    answer 503; ``delay`` slows each answer."""

    secret: str = SECRET
    down: bool = False
    delay: float = 0.0
    accepted: list[Received] = field(default_factory=list)
    repeats: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # why requests were refused (bad signature, down)
    url: str = ""

    def handle(self, headers: Any, body: bytes) -> tuple[int, str]:
        import time

        if self.delay:
            time.sleep(self.delay)
        if self.down:
            self.refused.append("down")
            return 503, "down for maintenance"
        stamp, signature = headers.get("X-Liqheat-Timestamp", ""), headers.get("X-Liqheat-Signature", "")
        if not verify_signature(self.secret, stamp, body, signature):
            self.refused.append("bad signature")
            return 401, "bad signature"
        key = headers.get("Idempotency-Key", "")
        data = json.loads(body)
        assert data["key"] == key
        if any(r.key == key for r in self.accepted):
            self.repeats[key] = self.repeats.get(key, 0) + 1
        else:
            self.accepted.append(Received(key, data, stamp))
        return 200, "ok"


@dataclass
class FakeTelegram:
    """Telegram's Bot API as far as apprise's tgram:// uses it: ``/bot<TOKEN>/sendMessage`` answers ok."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""

    def handle(self, path: str, body: bytes) -> tuple[int, str]:
        self.paths.append(path)
        if not path.endswith("/sendMessage"):
            return 404, json.dumps({"ok": False, "error_code": 404, "description": "Not Found"})
        payload = json.loads(body)
        self.messages.append(payload)
        return 200, json.dumps({"ok": True, "result": {"message_id": len(self.messages), "chat": {"id": payload["chat_id"]}}})


@contextmanager
def serving(receiver: WebhookReceiver | FakeTelegram) -> Iterator[str]:
    """Serve ``receiver`` on 127.0.0.1 (a free port) and yield its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if isinstance(receiver, WebhookReceiver):
                status, text = receiver.handle(self.headers, body)
            else:
                status, text = receiver.handle(self.path, body)
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender was killed while waiting for the answer: what the kill -9 test does

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver.url
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """An aiosmtpd server on 127.0.0.1: yields its port and the list of messages it received."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, received
    finally:
        controller.stop()
