"""The SQLite alert state and outbox: one transaction for state and alerts, each event once, order per
destination, nothing lost or resent across a reopen."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from tests.alerts.fakes import cluster, scenario, scenario_rules, snap

from liqheat.alerts.monitor import Monitor
from liqheat.alerts.rules import Alert, Near
from liqheat.alerts.state import AlertStore
from liqheat.model import DomainError


def alert(key: str) -> Alert:
    return Alert(
        key=key,
        rule="r",
        kind="near",
        market_id="m",
        ts="2026-01-05T00:00:00Z",
        title=f"title {key}",
        text=f"text {key}",
        data={"x": 1.0, "nan": float("nan")},
    )


def test_state_and_alerts_are_one_transaction(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "a.sqlite")

    broken = Alert(key="k2", rule="r", kind="near", market_id="m", ts="t", title="t", text="t", data={"x": object()})
    with pytest.raises(TypeError):  # the state and the first alert are written, then the second cannot be: none stays
        store.transact("m", lambda states: ([(alert("k1"), ["hook"]), (broken, ["hook"])], {"r": {"last_ts": "x"}}), 1.0)
    assert store.states("m") == {}
    assert store.history() == []
    assert store.waiting() == []
    new = store.transact("m", lambda states: ([(alert("k1"), ["hook", "tg"])], {"r": {"last_ts": "x"}}), 1.0)
    assert [a.key for a in new] == ["k1"]
    assert store.states("m") == {"r": {"last_ts": "x"}}
    assert [(d.seq, d.destination) for d in store.waiting()] == [(1, "hook"), (1, "tg")]
    (record,) = store.history()
    assert record.alert.data == {"x": 1.0, "nan": None}  # JSON holds no NaN


def test_alerts_reach_the_disk_before_they_are_returned_rule_states_with_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule state is written per market and candle: synced on its own only when the transaction records an alert
    (what the deliverer then sends must be on disk first); the synced log holds every commit before it."""
    store = AlertStore(tmp_path / "a.sqlite")
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(os.fstat(fd).st_size), real(fd))[1])
    wal = tmp_path / "a.sqlite-wal"
    for k in range(3):
        store.transact("m", lambda states, k=k: ([], {"r": {"last_ts": str(k)}}), 1.0)
    assert synced == []
    grown = wal.stat().st_size
    new = store.transact("m", lambda states: ([(alert("k1"), ["hook"])], {"r": {"last_ts": "3"}}), 2.0)
    assert [a.key for a in new] == ["k1"]
    assert len(synced) == 1
    assert synced[0] == wal.stat().st_size > grown  # the log with this commit and those before
    store.transact("m", lambda states: ([(alert("k1"), ["hook"])], {"r": {"last_ts": "4"}}), 3.0)
    assert len(synced) == 1  # an event recorded before: nothing new to sync for
    assert len(store.record([(alert("k2"), ["hook"])], 4.0)) == 1
    assert len(synced) == 2
    reopened = AlertStore(tmp_path / "a.sqlite")
    assert reopened.states("m") == {"r": {"last_ts": "4"}}
    assert [r.alert.key for r in reopened.history()] == ["k2", "k1"]


def test_an_event_is_recorded_once(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "a.sqlite")
    assert len(store.record([(alert("k1"), ["hook"])], 1.0)) == 1
    assert [a.key for a in store.record([(alert("k1"), ["hook"]), (alert("k2"), ["hook"])], 2.0)] == ["k2"]
    assert [r.alert.key for r in store.history()] == ["k2", "k1"]


def test_heads_keep_the_order_per_destination_and_a_failure_holds_the_rest(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "a.sqlite")
    store.record([(alert("k1"), ["a", "b"]), (alert("k2"), ["a", "b"]), (alert("k3"), ["a"])], 10.0)
    assert [(p.alert.key, p.delivery.destination) for p in store.heads(10.0)] == [("k1", "a"), ("k1", "b")]
    store.delivered(1, "a", 11.0)
    store.failed(1, "b", 11.0, "HTTP 503", next_try=20.0)
    assert [(p.alert.key, p.delivery.destination) for p in store.heads(12.0)] == [("k2", "a")]
    assert [(p.alert.key, p.delivery.destination, p.delivery.attempts) for p in store.heads(20.0)] == [
        ("k1", "b", 1),
        ("k2", "a", 0),
    ]
    (b,) = [d for d in store.waiting() if d.destination == "b" and d.seq == 1]
    assert (b.attempts, b.last_error, b.next_try) == (1, "HTTP 503", 20.0)


def test_a_reopened_store_resends_nothing_delivered_and_keeps_what_waits(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    with AlertStore(path) as store:
        store.record([(alert("k1"), ["a"]), (alert("k2"), ["a"])], 1.0)
        store.delivered(1, "a", 2.0)
    with AlertStore(path) as store:
        assert [p.alert.key for p in store.heads(3.0)] == ["k2"]
        assert [(d.destination, d.status) for r in store.history() for d in r.deliveries] == [
            ("a", "pending"),
            ("a", "delivered"),
        ]


def test_a_file_that_is_no_alert_state_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DomainError, match=r"bad\.sqlite: not an alert state file"):
        AlertStore(bad)
    newer = tmp_path / "newer.sqlite"
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(DomainError, match="newer liqheat"):
        AlertStore(newer)


def test_the_monitor_writes_alerts_to_the_rules_destinations(tmp_path: Path) -> None:
    rules = [Near(name="near", within_pct=1.0, cooldown=0, destinations=("tg",)), *scenario_rules()[1:]]
    store = AlertStore(tmp_path / "a.sqlite")
    monitor = Monitor(rules, store, ["hook", "tg"], clock=lambda: 5.0)
    fired = monitor.apply(snap(60_000.0, 1, (cluster("long", 59_800.0),)))
    assert [a.rule for a in fired] == ["near"]
    assert [d.destination for d in store.waiting()] == ["tg"]
    assert monitor.apply(snap(60_000.0, 1, (cluster("long", 59_800.0),))) == []
    with pytest.raises(DomainError, match="unknown destination"):
        Monitor(rules, store, ["hook"])
    with pytest.raises(DomainError, match="unique"):
        Monitor([*rules, rules[0]], store, ["hook", "tg"])


def test_a_monitor_restarted_midway_records_what_one_run_records(tmp_path: Path) -> None:
    snaps = scenario(n=150, seed=5)
    one = AlertStore(tmp_path / "one.sqlite")
    for s in snaps:
        Monitor(scenario_rules(), one, ["hook"]).apply(s)
    two = tmp_path / "two.sqlite"
    with AlertStore(two) as store:
        for s in snaps[:60]:
            Monitor(scenario_rules(), store, ["hook"]).apply(s)
    with AlertStore(two) as store:
        for s in snaps:
            Monitor(scenario_rules(), store, ["hook"]).apply(s)
        assert [r.alert.key for r in store.history(10_000)] == [r.alert.key for r in one.history(10_000)]
