"""The service's alerts on the page: the rules, the latest alerts with each delivery's state, and a browser
notification for an alert that fires while the page is open (a server without alert rules shows no panel)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from liqheat.alerts.rules import Alert, Near, Stale
from liqheat.alerts.state import AlertStore
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.evaluation.synthetic.market import SimParams, simulate
from web.browser import open_page, serve, shot

NOTIFY = """window.__notes = [];
window.Notification = class { constructor(title, options) { window.__notes.push([title, options.body]); }
  static get permission() { return 'granted'; } static requestPermission() { return Promise.resolve('granted'); } };"""


def alert(n: int, market: str = "demo") -> Alert:
    return Alert(key=f"near/near/{market}/long/{60_000 - n}/2026-01-0{n}T00:00:00Z", rule="near", kind="near", market_id=market,
                 ts=f"2026-01-0{n}T00:00:00Z", title=f"{market}: long cluster $5.0M at {60_000 - n:,}, 0.8 % away",
                 text="price within 1 % of a cluster of $5M")  # fmt: skip


def registry(tmp_path: Path) -> tuple[Registry, AlertStore]:
    reg = Registry()
    reg.add(simulate(SimParams(days=2, seed=3)).bundle, market_id="demo", kind="synthetic")
    store = AlertStore(tmp_path / "alerts.sqlite")
    reg.alerts = store
    reg.alert_rules = [Near(name="near", within_pct=1.0, min_usd=5e6), Stale(name="stale", markets=("demo",))]
    store.record([(alert(1), ["hook", "phone"])], time.time())
    store.delivered(1, "hook", time.time())
    store.failed(1, "phone", time.time(), "HTTP 502 from api.telegram.org", time.time() + 60)
    return reg, store


def test_the_alerts_route_gives_rules_alerts_and_deliveries(tmp_path: Path) -> None:
    reg, _ = registry(tmp_path)
    client = TestClient(create_app(reg))
    assert client.get("/api/server").json()["alerts"] is True
    a = client.get("/api/alerts").json()
    assert a["rules"] == [{"name": "near", "kind": "near", "markets": None, "destinations": None},
                          {"name": "stale", "kind": "stale", "markets": ["demo"], "destinations": None}]  # fmt: skip
    (only,) = a["alerts"]
    assert only["market"] == "demo"
    assert only["title"] == alert(1).title
    states = {d["destination"]: (d["status"], d["attempts"], d["last_error"]) for d in only["deliveries"]}
    assert states == {"hook": ("delivered", 1, None), "phone": ("pending", 1, "HTTP 502 from api.telegram.org")}
    none = TestClient(create_app(Registry())).get("/api/alerts")
    assert none.status_code == 404
    assert "liqheat run" in none.json()["detail"]


def test_the_page_shows_the_alerts_and_notifies_a_new_one(browser: Any, tmp_path: Path) -> None:
    reg, store = registry(tmp_path)
    with serve(reg) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(NOTIFY)
        page = context.new_page()
        try:
            open_page(page, f"{base}/?market=demo&window=24h")
            page.wait_for_selector("#alertsbox:not([hidden]) #alertsout li")
            text = page.text_content("#alertsout") or ""
            assert alert(1).title in text
            assert "hook ✓" in text
            assert "phone ⟳ 1 (HTTP 502 from api.telegram.org)" in text
            assert "near (near) · stale (stale: demo)" in text
            assert page.evaluate("window.__notes") == []  # what was there before the page opened is no news
            store.record([(alert(2), ["hook"])], time.time())
            page.evaluate("refreshAlerts()")
            page.wait_for_function("window.__notes.length === 1")
            assert page.evaluate("window.__notes") == [[alert(2).title, alert(2).text]]
            assert page.locator("#alertsout li").count() == 2
            shot(page, "alerts-panel")
        finally:
            context.close()
