"""Monitor.evaluate on real maps: the synthetic market (``demo``, three days of 1-minute candles) replayed map by
map through the rules, the outbox and a local webhook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.alerts.fakes import SECRET, WebhookReceiver, serving

from liqheat.alerts.deliver import Deliverer, WebhookDestination
from liqheat.alerts.monitor import Monitor
from liqheat.alerts.rules import CascadeRisk, Near, Stale, Swept, edge_pct
from liqheat.alerts.state import AlertStore
from liqheat.analytics.clusters import clusters_of
from liqheat.analytics.maps import MarketMap, maps_at
from liqheat.bundle import Bundle
from liqheat.engine.params import ModelParams


def test_monitor_evaluate_on_a_real_map(tmp_path: Path, demo: Bundle, demo_map: MarketMap) -> None:
    clusters = clusters_of(demo_map)
    nearest = min(edge_pct(demo_map.price, c.price_low, c.price_high) for c in clusters)  # to a band's near edge
    rules = [
        Near(name="near", within_pct=nearest + 0.01, cooldown=0),
        CascadeRisk(name="cascade", above=1e-6),
        Stale(name="stale"),
    ]
    monitor = Monitor(rules, AlertStore(tmp_path / "alerts.sqlite"), ["hook"])
    later = demo_map.ts + pd.Timedelta(hours=1)
    fired = monitor.evaluate("demo", demo_map, clusters, demo, now=later)
    by_rule = {a.rule: a for a in fired}
    assert set(by_rule) == {"near", "cascade", "stale"}
    assert by_rule["near"].data["distance"] == pytest.approx(nearest)
    assert by_rule["stale"].data["age_s"] == 3600.0
    assert monitor.evaluate("demo", demo_map, clusters, demo, now=later) == []  # the same map and hour: nothing new


def test_the_synthetic_market_replayed_map_by_map_to_a_webhook(tmp_path: Path, demo: Bundle) -> None:
    maps = maps_at(demo, ModelParams(), np.arange(24 * 60, len(demo.candles), 60))  # hourly maps from day 2
    rules = [Near(name="near", within_atr=2.0, min_usd=1e6, cooldown=0), Swept(name="swept", min_usd=1e6, cooldown=0)]
    store = AlertStore(tmp_path / "alerts.sqlite")
    monitor = Monitor(rules, store, ["hook"])
    receiver = WebhookReceiver()
    with serving(receiver) as url:
        deliverer = Deliverer(store, {"hook": WebhookDestination("hook", url, SECRET)})
        fired = []
        for m in maps:
            fired += monitor.evaluate("syn", m, clusters_of(m, top=None), demo, now=m.ts)
            deliverer.flush()
        again = [a for m in maps for a in monitor.evaluate("syn", m, clusters_of(m, top=None), demo, now=m.ts)]
    assert again == []  # a restart replaying the same maps fires nothing
    kinds = [a.kind for a in fired]
    assert kinds.count("near") >= 2
    assert kinds.count("swept") >= 1
    assert [r.body for r in receiver.accepted] == [a.to_dict() for a in fired]  # each once, in order, with its figures
    assert receiver.repeats == {}
    swept = next(a for a in fired if a.kind == "swept")
    liq = demo.liquidations
    assert liq is not None
    since, until = pd.Timestamp(swept.data["since"]), pd.Timestamp(swept.ts)
    band = liq[(liq["ts"] >= since) & (liq["ts"] < until) & (liq["side"] == swept.data["side"])]
    band = band[(band["price"] >= swept.data["price_low"]) & (band["price"] <= swept.data["price_high"])]
    assert swept.data["realized_usd"] == pytest.approx(float(band["usd"].sum()))
    assert swept.data["realized_usd"] > 0
    assert swept.data["predicted_usd"] > 1e6
