"""Delivering recorded alerts: apprise for its URLs (Telegram, Discord, Slack, e-mail, ``json://`` and the
rest of its schemes) and liqheat's own signed JSON webhook.

The signed webhook POSTs the alert as JSON (``key``, ``rule``, ``kind``, ``market``, ``ts``, ``title``,
``text``, ``data``) with

- ``X-Liqheat-Timestamp``: seconds since the epoch when it was sent (each try anew);
- ``X-Liqheat-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed by the shared secret, of
  ``f"{timestamp}.{body}"`` (the body's bytes as sent);
- ``Idempotency-Key``: the alert's event key, the same on every try: a receiver that has seen it drops it.

A receiver checks the two with :func:`verify_signature` and refuses a timestamp more than 5 minutes off.

:class:`Deliverer` sends what the outbox holds (:mod:`liqheat.alerts.state`): per destination, the oldest
pending alert first. A failure is recorded with its reason and tried again after ``retry_min × 2^(n-1)``
seconds (n: the failures so far), at most ``retry_max``; nothing is ever given up on. :meth:`Deliverer.flush`
says what went out and what failed, with the reasons.

apprise's Telegram plugin has no URL option for the Bot API's address; a destination's ``telegram_api``
points it at another one (Telegram's self-hosted ``telegram-bot-api`` server, or a test's fake) by setting
the plugin's ``notify_url``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from liqheat.alerts.rules import Alert
from liqheat.alerts.state import AlertStore, Delivery
from liqheat.model import DomainError

log = logging.getLogger("liqheat.alerts")
SIGNATURE_TOLERANCE = 300.0  # seconds a signed timestamp may be off the receiver's clock
TEST_KEY = "test"


class DeliveryError(Exception):
    """A destination did not take an alert; the message says why (shown in history, never the secret)."""


class Destination(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` or raise :class:`DeliveryError`."""

    def describe(self) -> str:
        """What it is, without secrets (for listings)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, now: float | None = None, tolerance: float = SIGNATURE_TOLERANCE
) -> bool:
    """Whether ``signature`` is ``body``'s under ``secret`` and ``timestamp`` is within ``tolerance`` s of ``now``."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if not math.isfinite(sent) or abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _where(url: str) -> str:
    """``scheme://host[:port]`` of a URL: enough to say where without its path's secrets."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


@dataclass
class WebhookDestination:
    """liqheat's signed JSON webhook (module docstring)."""

    name: str
    url: str
    secret: str = field(repr=False)
    timeout: float = 10.0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DomainError(f"webhook must be an http:// or https:// URL, got {self.url!r}", param="webhook")
        if len(self.secret) < 16:
            raise DomainError("secret must be at least 16 characters (it signs every webhook)", param="secret")

    def describe(self) -> str:
        return f"signed webhook {_where(self.url)}"

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
        stamp = str(int(self.clock()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "liqheat-alerts",
                "X-Liqheat-Timestamp": stamp,
                "X-Liqheat-Signature": sign(self.secret, stamp, body),
                "Idempotency-Key": alert.key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            said = exc.read(200).decode("utf-8", "replace").strip()
            raise DeliveryError(
                f"{_where(self.url)} answered HTTP {exc.code} {exc.reason}" + (f": {said}" if said else "")
            ) from None
        except urllib.error.URLError as exc:
            raise DeliveryError(f"cannot reach {_where(self.url)}: {exc.reason}") from None
        except TimeoutError:
            raise DeliveryError(f"{_where(self.url)} did not answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise DeliveryError(f"{_where(self.url)}: {exc}") from None


def apprise_plugin(url: str, telegram_api: str | None = None) -> Any:
    """apprise's notifier for ``url`` (its ``notify_url`` moved to ``telegram_api`` for a tgram:// URL given one);
    a URL apprise cannot read is an error naming the scheme."""
    import apprise

    capture: Any = apprise.LogCapture
    with capture(level=logging.WARNING, fmt="%(message)s") as said:
        plugin: Any = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else url
        reason = " ".join(said.getvalue().split()[-30:]) or "not a URL apprise reads"
        raise DomainError(f"url: apprise cannot use {scheme}:// URL ({reason})", param="url")
    if telegram_api is not None:
        if getattr(plugin, "secure_protocol", None) != "tgram":
            raise DomainError("telegram_api is for tgram:// URLs only", param="telegram_api")
        parts = urllib.parse.urlsplit(telegram_api)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DomainError(f"telegram_api must be an http(s):// URL, got {telegram_api!r}", param="telegram_api")
        plugin.notify_url = telegram_api.rstrip("/") + "/bot"
    return plugin


@dataclass
class AppriseDestination:
    """Any apprise URL: ``tgram://TOKEN/CHAT``, ``discord://…``, ``slack://…``, ``mailto://…``, ``json://…``."""

    name: str
    url: str = field(repr=False)
    telegram_api: str | None = None
    plugin: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.plugin = apprise_plugin(self.url, self.telegram_api)

    def describe(self) -> str:
        where = self.telegram_api if self.telegram_api else ""
        shown = str(self.plugin.url(privacy=True)).split("?", 1)[0]  # its options are apprise's defaults, mostly
        return f"apprise {self.plugin.service_name} ({shown}){' via ' + where if where else ''}"

    def send(self, alert: Alert) -> None:
        import apprise

        capture: Any = apprise.LogCapture
        with capture(level=logging.WARNING, fmt="%(message)s") as said:
            ok = self.plugin.notify(body=alert.text, title=alert.title)
        if not ok:
            lines = [line.strip() for line in said.getvalue().splitlines() if line.strip()]
            raise DeliveryError("; ".join(lines[-3:]) or f"apprise could not notify {self.plugin.service_name}")


@dataclass(frozen=True)
class Failure:
    key: str
    destination: str
    attempts: int
    reason: str
    next_try: float


@dataclass
class FlushReport:
    delivered: list[tuple[str, str]] = field(default_factory=list)  # (alert key, destination)
    failed: list[Failure] = field(default_factory=list)
    waiting: int = 0  # pending deliveries left (due later: backing off, or behind a failing one)


class Deliverer:
    """Sends the outbox of ``store`` to ``destinations`` (by name); call :meth:`flush` when alerts were recorded and
    every few seconds (it sends only what is due)."""

    def __init__(
        self,
        store: AlertStore,
        destinations: Mapping[str, Destination],
        *,
        retry_min: float = 5.0,
        retry_max: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (0 < retry_min <= retry_max):
            raise DomainError(f"need 0 < retry_min ≤ retry_max, got {retry_min:g} and {retry_max:g}", param="retry_min")
        self.store = store
        self.destinations = dict(destinations)
        self.retry_min, self.retry_max = retry_min, retry_max
        self.clock = clock

    def backoff(self, failures: int) -> float:
        """Seconds before the next try after ``failures`` failures in a row (≥ 1)."""
        return float(min(self.retry_max, self.retry_min * 2 ** min(failures - 1, 60)))

    def flush(self, *, budget: float | None = None) -> FlushReport:
        """Send every due alert, per destination in order, until nothing more is due (or ``budget`` seconds
        have passed). A destination that fails is left until its next try; the others go on."""
        report = FlushReport()
        start = self.clock()
        while budget is None or self.clock() - start < budget:
            due = self.store.heads(self.clock())
            if not due:
                break
            for item in due:
                self._one(item.alert, item.delivery, report)
        report.waiting = len(self.store.waiting())
        return report

    def _one(self, alert: Alert, d: Delivery, report: FlushReport) -> None:
        target = self.destinations.get(d.destination)
        try:
            if target is None:
                raise DeliveryError(f"destination {d.destination!r} is not in the config any more (kept until it is)")
            target.send(alert)
        except DeliveryError as exc:
            self._failed(alert, d, str(exc), report)
        except Exception as exc:  # a plugin's own bug must not stop the others: recorded like any failure
            self._failed(alert, d, f"{type(exc).__name__}: {exc}", report)
        else:
            self.store.delivered(d.seq, d.destination, self.clock())
            report.delivered.append((alert.key, d.destination))

    def _failed(self, alert: Alert, d: Delivery, reason: str, report: FlushReport) -> None:
        now = self.clock()
        next_try = now + self.backoff(d.attempts + 1)
        self.store.failed(d.seq, d.destination, now, reason, next_try)
        report.failed.append(Failure(alert.key, d.destination, d.attempts + 1, reason, next_try))
        log.warning(
            "alert %s to %s failed (try %d, next in %.0f s): %s", alert.key, d.destination, d.attempts + 1, next_try - now, reason
        )


def trial_alert(now: float | None = None) -> Alert:
    """The alert ``liqheat alerts test`` sends: says it is a test, names no market's figures."""
    import pandas as pd

    from liqheat.timeutil import iso

    at = pd.Timestamp(time.time() if now is None else now, unit="s", tz="UTC")
    stamp = iso(at)
    return Alert(
        key=f"{TEST_KEY}/{stamp}",
        rule=TEST_KEY,
        kind=TEST_KEY,
        market_id="liqheat",
        ts=stamp,
        title="liqheat: test alert",
        text=f"liqheat: a test alert sent at {stamp}; alerts will arrive here.",
        data={"test": True},
    )


def send_trial(destinations: Mapping[str, Destination], now: float | None = None) -> dict[str, str | None]:
    """Send :func:`trial_alert` to each destination directly (not through the outbox): name → None when it
    arrived, else the reason it did not."""
    alert = trial_alert(now)
    out: dict[str, str | None] = {}
    for name, target in destinations.items():
        try:
            target.send(alert)
            out[name] = None
        except DeliveryError as exc:
            out[name] = str(exc)
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    return out
