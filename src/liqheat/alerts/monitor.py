"""Evaluate a market's alert rules and record what fired: the one call a service makes per market and map.

:meth:`Monitor.evaluate` takes what the analytics already computed (the map, its clusters, the bundle),
turns it into a :class:`~liqheat.alerts.rules.Snapshot`, runs the pure rules over it and the rules' saved
state, and writes the new state with the alerts into the outbox in one transaction
(:meth:`~liqheat.alerts.state.AlertStore.transact`). Calling it again with the same map fires nothing new
(only ``stale``, which looks at the clock, is evaluated on every call): call it on every tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from liqheat.alerts.rules import Alert, CascadeRisk, Rule, Snapshot, State, evaluate
from liqheat.alerts.state import AlertStore, Fired
from liqheat.model import DomainError

if TYPE_CHECKING:
    from liqheat.analytics.clusters import Cluster
    from liqheat.analytics.maps import MarketMap
    from liqheat.bundle import Bundle


def snapshot(
    market_id: str, m: MarketMap, clusters: Sequence[Cluster], bundle: Bundle, now: pd.Timestamp, *, risk: bool = False
) -> Snapshot:
    """What the rules read about a market: ``m`` and its ``clusters`` (``clusters_of(m)``), the bundle's tables,
    the close of its newest candle; with ``risk``, the cascade-risk index on the market's calm book scaled by
    its volume (:func:`~liqheat.analytics.cascade.market_book`, what ``liqheat cascade`` walks)."""
    from liqheat.analytics.cascade import cascade_risk, market_book

    step = bundle.meta.timeframe_delta
    candles = bundle.candles
    index = None
    if risk:
        book = market_book("calm", candles, m.index, step, symbol=m.symbol)
        index = cascade_risk(m, book)
    return Snapshot(
        market_id=market_id,
        ts=m.ts,
        now=now,
        price=m.price,
        timeframe=step,
        last_close=candles["ts"].iloc[-1] + step,
        clusters=tuple(clusters),
        atr_pct=m.atr_pct,
        risk=index,
        candles=candles,
        open_interest=bundle.open_interest,
        funding=bundle.funding,
        liquidations=bundle.liquidations,
        realized_from=bundle.meta.score_from if bundle.liquidations is not None else None,
    )


class Monitor:
    """The rules of a config over an :class:`AlertStore`; ``destinations`` are every destination's name (a rule
    without its own list sends to all of them)."""

    def __init__(
        self, rules: Sequence[Rule], store: AlertStore, destinations: Sequence[str], clock: Callable[[], float] = time.time
    ) -> None:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise DomainError(f"rule names must be unique, got {names}", param="name")
        for rule in rules:
            unknown = [d for d in rule.destinations or () if d not in destinations]
            if unknown:
                raise DomainError(f"rule {rule.name}: unknown destination(s) {', '.join(unknown)}", param="destinations")
        self.rules = list(rules)
        self.store = store
        self.destinations = tuple(destinations)
        self.clock = clock

    def evaluate(
        self, market_id: str, m: MarketMap, clusters: Sequence[Cluster], bundle: Bundle, now: pd.Timestamp | None = None
    ) -> list[Alert]:
        """Evaluate ``market_id``'s rules on its map (``now``: the wall clock, UTC) and record what fired; returns
        the alerts new to the store, already waiting in the outbox."""
        rules = [r for r in self.rules if r.applies_to(market_id)]
        if not rules:
            return []
        at = now if now is not None else pd.Timestamp(self.clock(), unit="s", tz="UTC")
        needs_risk = any(isinstance(r, CascadeRisk) for r in rules)
        return self.apply(snapshot(market_id, m, clusters, bundle, at, risk=needs_risk))

    def reach(
        self, market_id: str, clusters: Sequence[Cluster], atr_pct: float | None
    ) -> list[tuple[float, float]] | None:
        """The price ranges where the market's next candle could make one of its rules fire (:meth:`Rule.reach`),
        None when one of them cannot tell."""
        ranges: list[tuple[float, float]] = []
        for rule in self.rules:
            if rule.applies_to(market_id):
                more = rule.reach(clusters, atr_pct)
                if more is None:
                    return None
                ranges += more
        return ranges

    def apply(self, snap: Snapshot) -> list[Alert]:
        """:meth:`evaluate` on a snapshot already made."""

        def run(states: dict[str, State]) -> tuple[Fired, dict[str, State]]:
            result = evaluate(self.rules, snap, states)
            by_name = {r.name: r for r in self.rules}
            fired = [(a, by_name[a.rule].destinations or self.destinations) for a in result.alerts]
            return fired, result.states

        return self.store.transact(snap.market_id, run, self.clock())
