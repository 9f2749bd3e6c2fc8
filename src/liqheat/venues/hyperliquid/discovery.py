"""Where Hyperliquid addresses come from: positions are public, but only per address, so they must first be found.

* The ``trades`` websocket stream: every fill carries both its users (``WsTrade.users``, [buyer, seller]:
  https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions ). Anyone who
  trades a coin shows up within their next fill.
* Liquidation fills: a fill's ``liquidation.liquidatedUser`` (``userFills``, ``userEvents``, the node's fills);
  JSON lines of fills or of the node's ``[user, fill]`` pairs, or a CSV with a ``user`` column. The shared
  ``hyperliquid-liquidation-orders-2025-05`` CSV has no address column (0xArchive's rows carry coin, price and
  size only), so it yields no address and is refused by name.
* The leaderboard: the documented ``/info`` API has no leaderboard request. The app's leaderboard page reads an
  undocumented file (``https://stats-data.hyperliquid.xyz/Mainnet/leaderboard``: ``leaderboardRows`` of
  ``ethAddress``, ``accountValue``); a saved copy of it, or its URL, is read when given.
* Addresses given by hand, one a line.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from liqheat.model import DomainError

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
WS_URL = "wss://api.hyperliquid.xyz/ws"
LEADERBOARD_URL = "https://stats-data.hyperliquid.xyz/Mainnet/leaderboard"
log = logging.getLogger("liqheat.hyperliquid")


def address(value: Any, where: str, name: str = "user") -> str:
    """A 0x-prefixed 20-byte hex address, lower-cased (the venue is case-blind; one spelling per account)."""
    if not isinstance(value, str) or not ADDRESS.match(value):
        prefix = f"{where}: " if where else ""
        raise DomainError(f"{prefix}{name} must be a 0x address of 40 hex digits, got {value!r}", param=name)
    return value.lower()


def trade_users(message: Any, where: str = "trades message") -> list[str]:
    """Both users of every fill in one ``trades`` websocket message; other channels (subscription answers,
    pongs) give none."""
    if not isinstance(message, dict):
        raise DomainError(f"{where}: must be a JSON object with channel and data, got {type(message).__name__}", param="channel")
    if message.get("channel") != "trades":
        return []
    data = message.get("data")
    if not isinstance(data, list):
        raise DomainError(f"{where}: field 'data' must be a list of trades, got {type(data).__name__}", param="data")
    users: list[str] = []
    for i, trade in enumerate(data):
        here = f"{where}: data[{i}]"
        pair = trade.get("users") if isinstance(trade, dict) else None
        if not isinstance(pair, list) or len(pair) != 2:
            raise DomainError(f"{here}: field 'users' must be [buyer, seller], got {pair!r}", param="users")
        users.extend(address(u, here, "users") for u in pair)
    return users


def liquidated_user(fill: Any, where: str) -> str | None:
    """The liquidated account of a fill, or None for a fill that liquidated nobody. A node fill is
    ``[user, fill]``; the user of a fill that *is* the liquidation (``liquidatedUser`` absent) is that user."""
    user = None
    if isinstance(fill, list) and len(fill) == 2:
        user, fill = address(fill[0], where), fill[1]
    if not isinstance(fill, dict):
        raise DomainError(f"{where}: must be a fill object (or a node's [user, fill] pair), got {type(fill).__name__}",
                          param="fill")  # fmt: skip
    liquidation = fill.get("liquidation")
    if liquidation is None:
        return None
    if not isinstance(liquidation, dict):
        raise DomainError(f"{where}: field 'liquidation' must be an object, got {liquidation!r}", param="liquidation")
    if "liquidatedUser" in liquidation:
        return address(liquidation["liquidatedUser"], f"{where}.liquidation", "liquidatedUser")
    return user


def leaderboard_users(payload: Any, where: str = "leaderboard") -> list[str]:
    rows = payload.get("leaderboardRows") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise DomainError(f"{where}: must be an object with a 'leaderboardRows' list", param="leaderboardRows")
    return [address(row.get("ethAddress") if isinstance(row, dict) else row, f"{where}: leaderboardRows[{i}]", "ethAddress")
            for i, row in enumerate(rows)]  # fmt: skip


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DomainError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with handle:
        for n, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DomainError(f"{path}: line {n}: not JSON ({exc.msg})") from None


def read_address_list(path: Path) -> list[str]:
    """One address a line; blank lines and ``#`` comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DomainError(f"{path}: cannot read ({exc})") from None
    return [address(s, f"{path}: line {n}", "address") for n, line in enumerate(lines, 1)
            if (s := line.split("#", 1)[0].strip())]  # fmt: skip


def read_trades(path: Path) -> list[str]:
    """Users of recorded ``trades`` websocket messages, one JSON message a line."""
    return [u for n, message in _json_lines(path) for u in trade_users(message, f"{path}: line {n}")]


def read_fills(path: Path) -> list[str]:
    """Liquidated users of recorded fills: JSON lines, or a CSV whose ``user`` (or ``liquidated_user``) column names them."""
    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                columns = reader.fieldnames or []
                name = next((c for c in ("liquidated_user", "user", "address") if c in columns), None)
                if name is None:
                    raise DomainError(f"{path}: no address column (liquidated_user, user or address; it has "
                                      f"{', '.join(columns) or 'none'}): these fills do not say whose they were",
                                      param="fills")  # fmt: skip
                return [address(row[name], f"{path}: row {n}", name) for n, row in enumerate(reader, 2)]
        except OSError as exc:
            raise DomainError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return [u for n, fill in _json_lines(path) if (u := liquidated_user(fill, f"{path}: line {n}")) is not None]


def read_leaderboard(source: str, timeout: float = 60.0) -> list[str]:
    """The leaderboard's addresses from a saved file or an http(s) URL (one GET, outside the ``/info`` budget)."""
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=timeout) as response:
                payload = json.loads(response.read())
        except (OSError, json.JSONDecodeError) as exc:
            raise DomainError(f"leaderboard {source}: cannot read ({exc})", param="leaderboard") from None
    else:
        try:
            payload = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DomainError(f"leaderboard {source}: cannot read ({exc})", param="leaderboard") from None
    return leaderboard_users(payload, f"leaderboard {source}")


@dataclass
class AddressBook:
    """Every address found so far, with where it was first found; thread-safe (the stream adds, the reader reads)."""

    sources: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, users: Iterable[str], source: str) -> list[str]:
        """Record ``users`` found by ``source``; returns those not known before, in order."""
        new: list[str] = []
        with self._lock:
            for user in users:
                if user not in self.sources:
                    self.sources[user] = source
                    new.append(user)
        return new

    def __len__(self) -> int:
        return len(self.sources)

    def counts(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for source in self.sources.values():
                out[source] = out.get(source, 0) + 1
            return out


def stream_trades(coins: Iterable[str], found: Callable[[list[str]], object], stop: threading.Event, *,
                  url: str = WS_URL, ping_every: float = 30.0) -> None:  # fmt: skip
    """Subscribe to ``trades`` of ``coins`` and hand each message's users to ``found`` until ``stop`` is set;
    reconnects after a drop, waiting 1, 2, 4 … 60 s. Pings keep the connection open through quiet markets."""
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    wanted = list(coins)
    backoff = 1.0
    while not stop.is_set():
        try:
            with connect(url, open_timeout=15, close_timeout=2) as ws:
                for coin in wanted:
                    ws.send(json.dumps({"method": "subscribe", "subscription": {"type": "trades", "coin": coin}}))
                backoff = 1.0
                while not stop.is_set():
                    try:
                        text = ws.recv(timeout=ping_every)
                    except TimeoutError:
                        ws.send(json.dumps({"method": "ping"}))
                        continue
                    try:
                        users = trade_users(json.loads(text))
                    except (json.JSONDecodeError, DomainError) as exc:
                        log.warning("hyperliquid trades: message skipped (%s)", exc)
                        continue
                    if users:
                        found(users)
        except (OSError, WebSocketException) as exc:
            log.warning("hyperliquid trades %s: %s; reconnecting in %.0f s", url, exc, backoff)
            stop.wait(backoff)
            backoff = min(60.0, backoff * 2)


def gather(*, addresses: Iterable[str] = (), lists: Iterable[Path] = (), trades: Iterable[Path] = (),
           fills: Iterable[Path] = (), leaderboard: str | None = None) -> AddressBook:  # fmt: skip
    """Every address the given sources name, each under the first source that named it."""
    book = AddressBook()
    book.add(_named("address", lambda: [address(a, "", "address") for a in addresses]), "given")
    for param, source, read, paths in (("addresses", "list", read_address_list, lists), ("trades", "trades", read_trades, trades),
                                       ("fills", "liquidations", read_fills, fills)):  # fmt: skip
        for path in paths:
            book.add(_named(param, partial(read, path)), source)
    if leaderboard:
        book.add(_named("leaderboard", lambda: read_leaderboard(leaderboard)), "leaderboard")
    return book


def _named(param: str, read: Callable[[], list[str]]) -> list[str]:
    """``read()``, its error naming the source ``param`` it came from (the option, not the field inside)."""
    try:
        return read()
    except DomainError as exc:
        raise DomainError(str(exc), param=param) from None
