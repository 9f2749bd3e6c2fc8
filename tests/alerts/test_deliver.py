"""Alerts end to end, everything on 127.0.0.1: through the outbox to a signed-webhook receiver (HMAC checked),
an SMTP server (aiosmtpd) through apprise's mailto://, a fake Telegram Bot API through apprise's tgram://;
a delivering process killed with SIGKILL ten times; a destination down for five minutes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.alerts.fakes import (
    SECRET,
    FakeTelegram,
    WebhookReceiver,
    cluster,
    scenario,
    scenario_rules,
    serving,
    smtp_server,
    snap,
)

from liqheat.alerts.deliver import AppriseDestination, Deliverer, WebhookDestination, send_trial, sign, verify_signature
from liqheat.alerts.monitor import Monitor
from liqheat.alerts.rules import Near
from liqheat.alerts.state import AlertStore
from liqheat.model import DomainError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def near_alerts(monitor: Monitor, count: int, start: int = 1) -> list[str]:
    """Record ``count`` near alerts, one a minute from minute ``start``, each for a new narrow cluster 100 lower
    than the last (59,800 at minute 1); returns their keys."""
    keys = []
    for minute in range(start, start + count):
        fired = monitor.apply(snap(60_000.0, minute, (cluster("long", 59_900.0 - 100 * minute, width_pct=0.1),)))
        keys += [a.key for a in fired]
    assert len(keys) == count
    return keys


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"key":"k"}'
    expected = "sha256=" + hmac.new(SECRET.encode(), b"1767571200." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1767571200", body) == expected
    assert verify_signature(SECRET, "1767571200", body, expected, now=1767571200 + 299)
    assert not verify_signature(SECRET, "1767571200", body, expected, now=1767571200 + 301)  # too old: a replay
    assert not verify_signature(SECRET, "1767571200", body + b" ", expected, now=1767571200)
    assert not verify_signature("another secret of some length", "1767571200", body, expected, now=1767571200)


def test_webhook_end_to_end_through_the_outbox(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with serving(receiver) as url:
        store = AlertStore(tmp_path / "alerts.sqlite")
        monitor = Monitor([Near(name="near", within_pct=1.0, cooldown=0)], store, ["hook"])
        keys = near_alerts(monitor, 3)
        report = Deliverer(store, {"hook": WebhookDestination("hook", url + "/liqheat", SECRET)}).flush()
    assert report.delivered == [(k, "hook") for k in keys]
    assert report.failed == []
    assert report.waiting == 0
    assert [r.key for r in receiver.accepted] == keys
    body = receiver.accepted[0].body
    assert body["market"] == "btc-binance-1m"
    assert body["kind"] == "near"
    assert body["data"]["peak_price"] == 59_800.0
    assert "59,800" in body["text"]
    assert all(d.status == "delivered" for r in store.history() for d in r.deliveries)


def test_a_wrong_secret_is_refused_recorded_and_kept(tmp_path: Path) -> None:
    receiver = WebhookReceiver(secret="the receiver's own secret!!")
    with serving(receiver) as url:
        store = AlertStore(tmp_path / "alerts.sqlite")
        near_alerts(Monitor([Near(name="near", within_pct=1.0)], store, ["hook"]), 1)
        report = Deliverer(store, {"hook": WebhookDestination("hook", url, SECRET)}).flush()
    assert receiver.accepted == []
    assert receiver.refused == ["bad signature"]
    (failure,) = report.failed
    assert "HTTP 401" in failure.reason
    assert "bad signature" in failure.reason
    (waiting,) = store.waiting()
    assert waiting.attempts == 1
    assert waiting.last_error == failure.reason


def test_email_through_apprise_mailto_to_a_local_smtp_server(tmp_path: Path) -> None:
    with smtp_server() as (port, received):  # apprise waits 5.5 s between two e-mails of one destination (its throttle)
        store = AlertStore(tmp_path / "alerts.sqlite")
        monitor = Monitor([Near(name="near", within_pct=1.0, cooldown=0)], store, ["mail"])
        keys = near_alerts(monitor, 2)
        mail = AppriseDestination("mail", f"mailto://127.0.0.1:{port}?from=alerts@example.com&to=trader@example.com")
        report = Deliverer(store, {"mail": mail}).flush()
        deadline = time.time() + 5
        while len(received) < 2 and time.time() < deadline:
            time.sleep(0.05)
    assert report.failed == []
    assert [k for k, _ in report.delivered] == keys
    titles = [r.alert.title for r in reversed(store.history())]
    assert [m["Subject"] for m in received] == titles
    assert received[0]["To"] == "trader@example.com"
    text = next(p for p in received[0].walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert text.strip() == store.history()[-1].alert.text
    assert "59,800" in text


def test_telegram_through_apprise_tgram_to_a_fake_bot_api(tmp_path: Path) -> None:
    fake = FakeTelegram()
    with serving(fake) as url:
        store = AlertStore(tmp_path / "alerts.sqlite")
        monitor = Monitor([Near(name="near", within_pct=1.0, cooldown=0)], store, ["tg"])
        keys = near_alerts(monitor, 2)
        tg = AppriseDestination("tg", f"tgram://{TOKEN}/987654321", telegram_api=url)
        report = Deliverer(store, {"tg": tg}).flush()
    assert report.failed == []
    assert [k for k, _ in report.delivered] == keys
    assert fake.paths == [f"/bot{TOKEN}/sendMessage"] * 2
    texts = [m["text"] for m in fake.messages]
    assert [str(m["chat_id"]) for m in fake.messages] == ["987654321"] * 2
    for text, record in zip(texts, reversed(store.history()), strict=True):
        assert record.alert.title in text
        assert "59," in text


def test_telegram_api_only_for_tgram_and_bad_urls_are_named() -> None:
    with pytest.raises(DomainError, match="tgram"):
        AppriseDestination("x", "json://127.0.0.1/x", telegram_api="http://127.0.0.1:1")
    with pytest.raises(DomainError, match="nope://"):
        AppriseDestination("x", "nope://x")
    with pytest.raises(DomainError, match="16 characters"):
        WebhookDestination("x", "http://127.0.0.1/x", "short")


def test_alerts_test_reports_each_destination(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with serving(receiver) as url:
        results = send_trial(
            {
                "ok": WebhookDestination("ok", url, SECRET),
                "closed": WebhookDestination("closed", "http://127.0.0.1:9/x", SECRET, timeout=2),
            }
        )
    assert results["ok"] is None
    assert "cannot reach http://127.0.0.1:9" in (results["closed"] or "")
    assert receiver.accepted[0].body["kind"] == "test"


def test_a_destination_down_for_five_minutes_gets_every_alert_after_it_recovers(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    receiver = WebhookReceiver(down=True)
    with serving(receiver) as url:
        store = AlertStore(tmp_path / "alerts.sqlite")
        monitor = Monitor([Near(name="near", within_pct=1.0, cooldown=0)], store, ["hook", "other"], clock=lambda: clock[0])
        other = WebhookReceiver()
        with serving(other) as other_url:
            destinations = {
                "hook": WebhookDestination("hook", url, SECRET),
                "other": WebhookDestination("other", other_url, SECRET),
            }
            deliverer = Deliverer(store, destinations, retry_min=5, retry_max=600, clock=lambda: clock[0])
            keys = near_alerts(monitor, 2)
            failures = []
            recovered_at = clock[0] + 300
            while clock[0] < recovered_at:  # five minutes down, flushing every 5 s, new alerts meanwhile
                if len(keys) < 4 and clock[0] > 1_000_100:
                    keys += near_alerts(monitor, 2, start=3)
                failures += deliverer.flush().failed
                clock[0] += 5
            assert receiver.accepted == []
            assert [r.key for r in other.accepted] == keys  # a failing destination holds back no other
            receiver.down = False
            while store.waiting() and clock[0] < recovered_at + 600:
                deliverer.flush()
                clock[0] += 1
    assert [r.key for r in receiver.accepted] == keys  # every alert, in order, once
    assert clock[0] <= recovered_at + 16  # tries at 5, 10, 20, …, 160 s: the one after recovery came at 315 s
    assert {f.reason for f in failures} == {f"{url} answered HTTP 503 Service Unavailable: down for maintenance"}
    assert [f.attempts for f in failures] == [1, 2, 3, 4, 5, 6]  # only the head is tried; the rest wait behind it
    record = store.history(limit=1)[0]
    (hook,) = [d for d in record.deliveries if d.destination == "hook"]
    assert hook.status == "delivered"


def test_kill_9_while_delivering_loses_nothing_and_delivers_each_alert_once(tmp_path: Path) -> None:
    n, seed = 480, 11
    expected_store = AlertStore(tmp_path / "expected.sqlite")
    for s in scenario(n, seed):
        Monitor(scenario_rules(), expected_store, ["hook"]).apply(s)
    expected = [r.alert.to_dict() for r in reversed(expected_store.history(10_000))]
    assert len(expected) > 30
    state = tmp_path / "alerts.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [sys.executable, str(ROOT / "tests" / "alerts" / "worker.py"), str(state), "", str(n), str(seed)]
    receiver = WebhookReceiver(delay=0.05)
    rng = random.Random(20260105)
    progress = []
    with serving(receiver) as url:
        command[3] = url
        for _ in range(10):
            worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.6))
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(timeout=10) == -signal.SIGKILL
            progress.append(len(receiver.accepted))
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert final.stdout.split() == ["ready", "done"]
    print(f"delivered after each kill: {progress} of {len(expected)}; repeats dropped by key: {sum(receiver.repeats.values())}")
    assert progress[0] > 0  # the first run delivered something before its kill
    assert sum(p < len(expected) for p in progress) >= 5, progress  # most kills fell while alerts were still being delivered
    got = [r.body for r in receiver.accepted]
    assert [b["key"] for b in got] == [e["key"] for e in expected]  # none lost, each once, in order
    assert got == plain(expected)
    assert sum(receiver.repeats.values()) <= 10  # a kill between sending and marking sends once more; the key drops it
    with AlertStore(state) as store:
        assert store.waiting() == []
        assert [r.alert.key for r in reversed(store.history(10_000))] == [e["key"] for e in expected]


def plain(data: Any) -> Any:
    import json

    return json.loads(json.dumps(data))
