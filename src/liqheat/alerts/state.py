"""Alert state and the outbox in one SQLite file (stdlib sqlite3, write-ahead log).

Durability: every commit survives the process being killed (the log is written before the commit returns). A
transaction that records alerts is synced to disk before it returns, as ``synchronous=FULL`` would; the others
(rule states, the outbox's marks) are synced with the next such one or the next checkpoint, so an OS crash or a
power cut may take back the last of them: a rule state from an evaluation or two ago (evaluated again, its
alerts, recorded under the same keys, are not recorded twice), or a delivery mark (sent again, as after a crash
between sending and marking). A service writes a rule state per market and candle; syncing each cost more than
evaluating the rules.

The contract:

- A rule's state and the alerts it fired are written in one transaction (:meth:`AlertStore.transact`):
  after a crash either both are there or neither is, so an interrupted evaluation is evaluated again and
  fires the same events under the same keys.
- An alert's key is unique: the same event recorded twice is one alert.
- An alert waits in the outbox once per destination, ``pending`` until that destination took it. It is
  marked ``delivered`` after the destination answered, so a crash between the two sends it again (at
  least once: the signed webhook carries the key as its idempotency key, for the receiver to drop the
  repeat). A failure is recorded with its reason and the time of the next try; no row is ever deleted.
- Per destination, alerts leave in the order they were recorded: a failing one holds back those after it
  (:meth:`AlertStore.heads`) rather than let them overtake it.

Times of the outbox are seconds since the epoch (the deliverer's clock); an alert's ``ts`` is the ISO time
of the data it speaks of.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqheat.alerts.rules import Alert, State
from liqheat.model import DomainError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS rule_state (
    rule TEXT NOT NULL, market TEXT NOT NULL, state TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (rule, market));
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, kind TEXT NOT NULL,
    market TEXT NOT NULL, ts TEXT NOT NULL, created REAL NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER NOT NULL REFERENCES alerts (seq), destination TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
    attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL, last_try REAL, last_error TEXT, delivered_at REAL,
    PRIMARY KEY (seq, destination));
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (destination, status, seq);
"""


def _clean(value: Any) -> Any:
    """``value`` as JSON can hold it: NaN and infinities become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class Delivery:
    """One alert's state at one destination."""

    seq: int
    destination: str
    status: str  # pending | delivered
    attempts: int
    next_try: float
    last_try: float | None
    last_error: str | None
    delivered_at: float | None


@dataclass(frozen=True)
class Pending:
    """An alert due at a destination: what the deliverer sends."""

    alert: Alert
    delivery: Delivery


@dataclass(frozen=True)
class Record:
    """An alert as history shows it: when it was recorded and where it went."""

    seq: int
    alert: Alert
    created: float
    deliveries: tuple[Delivery, ...]


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(
        key=row["key"],
        rule=row["rule"],
        kind=row["kind"],
        market_id=row["market"],
        ts=row["ts"],
        title=row["title"],
        text=row["text"],
        data=json.loads(row["data"]),
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        seq=row["seq"],
        destination=row["destination"],
        status=row["status"],
        attempts=row["attempts"],
        next_try=row["next_try"],
        last_try=row["last_try"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


Fired = Sequence[tuple[Alert, Sequence[str]]]  # each alert with the destinations it goes to


class AlertStore:
    """The SQLite file at ``path`` (created with its folder when missing). One object may be shared by
    threads (a lock serialises them); several processes may open the same file (SQLite's locking, with a
    5 s wait for a busy writer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        except (OSError, sqlite3.Error) as exc:
            raise DomainError(f"{self.path}: cannot open the alert state ({exc})") from None
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DomainError(
                    f"{self.path}: alert state of a newer liqheat (schema {version}; this one reads {SCHEMA_VERSION})"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # alerts synced by _synced (the module's docstring)
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._write() as db:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise DomainError(f"{self.path}: not an alert state file ({exc})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    # -- rule state and alerts ------------------------------------------------------------------------

    def states(self, market_id: str) -> dict[str, State]:
        """Each rule's state for a market, by rule name."""
        with self._lock:
            rows = self._db.execute("SELECT rule, state FROM rule_state WHERE market = ?", (market_id,)).fetchall()
        return {r["rule"]: json.loads(r["state"]) for r in rows}

    def transact(
        self, market_id: str, evaluate: Callable[[dict[str, State]], tuple[Fired, Mapping[str, State]]], now: float
    ) -> list[Alert]:
        """Read the market's rule states, ``evaluate`` them, and write the new states with the alerts it fired
        (into the outbox, once per destination) in one transaction. Returns the alerts new to the store (an
        event recorded before is not recorded again)."""
        with self._write() as db:
            rows = db.execute("SELECT rule, state FROM rule_state WHERE market = ?", (market_id,)).fetchall()
            saved = {r["rule"]: r["state"] for r in rows}
            fired, states = evaluate({rule: json.loads(text) for rule, text in saved.items()})
            for rule, state in states.items():
                text = json.dumps(_clean(state), allow_nan=False)
                if saved.get(rule) == text:
                    continue  # unchanged (the same map again): nothing to write, nothing to sync
                db.execute(
                    "INSERT INTO rule_state (rule, market, state, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (rule, market) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                    (rule, market_id, text, now),
                )
            new = self._add(db, fired, now)
        return self._synced(new)

    def record(self, fired: Fired, now: float) -> list[Alert]:
        """Add alerts (each with its destinations) without touching rule state; returns the new ones."""
        with self._write() as db:
            new = self._add(db, fired, now)
        return self._synced(new)

    def _synced(self, new: list[Alert]) -> list[Alert]:
        """``new``, after the write-ahead log is on disk when it holds alerts (with every commit before)."""
        if new:
            fd = os.open(self.path.with_name(self.path.name + "-wal"), os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        return new

    def _add(self, db: sqlite3.Connection, fired: Fired, now: float) -> list[Alert]:
        new = []
        for alert, destinations in fired:
            cur = db.execute(
                "INSERT INTO alerts (key, rule, kind, market, ts, created, title, text, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (
                    alert.key,
                    alert.rule,
                    alert.kind,
                    alert.market_id,
                    alert.ts,
                    now,
                    alert.title,
                    alert.text,
                    json.dumps(_clean(alert.data), allow_nan=False),
                ),
            )
            if cur.rowcount != 1:
                continue
            seq = cur.lastrowid
            db.executemany(
                "INSERT INTO outbox (seq, destination, next_try) VALUES (?, ?, ?)",
                [(seq, d, now) for d in dict.fromkeys(destinations)],
            )
            new.append(alert)
        return new

    # -- the outbox -------------------------------------------------------------------------------------

    def heads(self, now: float) -> list[Pending]:
        """Per destination, its oldest pending alert, when it is due by ``now``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.*, o.destination, o.status, o.attempts, o.next_try, o.last_try, o.last_error, o.delivered_at "
                "FROM outbox o JOIN alerts a ON a.seq = o.seq "
                "WHERE o.status = 'pending' AND o.seq = "
                "(SELECT MIN(p.seq) FROM outbox p WHERE p.destination = o.destination AND p.status = 'pending') "
                "AND o.next_try <= ? ORDER BY o.seq, o.destination",
                (now,),
            ).fetchall()
        return [Pending(_alert(r), _delivery(r)) for r in rows]

    def delivered(self, seq: int, destination: str, now: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, last_try = ?, delivered_at = ? "
                "WHERE seq = ? AND destination = ? AND status = 'pending'",
                (now, now, seq, destination),
            )

    def failed(self, seq: int, destination: str, now: float, reason: str, next_try: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_try = ?, last_error = ?, next_try = ? "
                "WHERE seq = ? AND destination = ? AND status = 'pending'",
                (now, reason, next_try, seq, destination),
            )

    def waiting(self) -> list[Delivery]:
        """Every pending delivery, oldest first: what has not reached its destination yet."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM outbox WHERE status = 'pending' ORDER BY seq, destination").fetchall()
        return [_delivery(r) for r in rows]

    def history(self, limit: int = 50, market_id: str | None = None) -> list[Record]:
        """The ``limit`` newest alerts (of one market, when given), newest first, with their deliveries."""
        where, args = ("WHERE market = ?", (market_id, limit)) if market_id else ("", (limit,))
        with self._lock:
            alerts = self._db.execute(f"SELECT * FROM alerts {where} ORDER BY seq DESC LIMIT ?", args).fetchall()
            seqs = [a["seq"] for a in alerts]
            marks = ",".join("?" * len(seqs))
            outbox = self._db.execute(f"SELECT * FROM outbox WHERE seq IN ({marks}) ORDER BY destination", seqs).fetchall()
        by_seq: dict[int, list[Delivery]] = {}
        for r in outbox:
            by_seq.setdefault(r["seq"], []).append(_delivery(r))
        return [Record(a["seq"], _alert(a), a["created"], tuple(by_seq.get(a["seq"], []))) for a in alerts]
