"""A delivering process for the kill -9 test: evaluates the scenario into the outbox and delivers it to a webhook.

``python tests/alerts/worker.py STATE URL N SEED``: prints ``ready`` once it starts evaluating, ``done`` when every
alert was delivered. Run again after a kill, it goes on from what the state file holds.
"""

from __future__ import annotations

import sys
import time


def main(state: str, url: str, n: int, seed: int) -> None:
    from tests.alerts.fakes import SECRET, scenario, scenario_rules

    from liqheat.alerts.deliver import Deliverer, WebhookDestination
    from liqheat.alerts.monitor import Monitor
    from liqheat.alerts.state import AlertStore

    snaps = scenario(n, seed)
    store = AlertStore(state)
    monitor = Monitor(scenario_rules(), store, ["hook"])
    deliverer = Deliverer(store, {"hook": WebhookDestination("hook", url, SECRET, timeout=5)}, retry_min=0.05, retry_max=0.2)
    print("ready", flush=True)
    for s in snaps:
        if monitor.apply(s):
            deliverer.flush()
    while store.waiting():
        deliverer.flush()
        time.sleep(0.02)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
