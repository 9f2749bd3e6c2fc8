"""The map at a time (``?at=``) knows only the candles that have closed by then, and is the map the CLI
(``liqheat clusters --at``, i.e. :func:`liqheat.analytics.maps.market_map`) gives for the same time.

The bug these guard against (issue #11): the API took the last candle *opened* by ``at``, so at 05:30 on
1-hour candles it showed a map that already knew the 05:00 candle's high and low.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.data import HOUR, SYN
from helpers import plain
from liqheat.analytics.clusters import clusters_of, ranked
from liqheat.analytics.maps import market_map
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.bundle import Bundle

TS = SYN.candles["ts"]
HALF_HOUR = pd.Timedelta(minutes=30)
# inside a candle (05:30: candle 5 is open, candle 4 closed at 05:00), on a close, after the last close
WHEN = [TS.iloc[5] + HALF_HOUR, TS.iloc[150] + HALF_HOUR, TS.iloc[150], TS.iloc[-1] + HOUR]
TRADER = {
    "map": {},
    "clusters": {"top": 20},
    "levels": {"top": 100},
    "cascade": {"shock": -5, "depth": "reference"},  # syn's own volume scales the book too thin for any cascade
    "plan": {"side": "long", "entry": 100, "leverage": 10, "balance": 10_000},
    "sentiment": {"window": "3d"},
}


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def serve(bundle: Bundle) -> TestClient:
    registry = Registry()
    registry.add(bundle, market_id="syn")
    return TestClient(create_app(registry))


def wild_from(bundle: Bundle, k: int) -> Bundle:
    """``bundle`` with candle ``k`` and every later one given a high three times, and a low a third of, its open."""
    c = bundle.candles.copy()
    later = c.index >= k
    c.loc[later, "high"] = c.loc[later, ["open", "close"]].max(axis=1) * 3
    c.loc[later, "low"] = c.loc[later, ["open", "close"]].min(axis=1) / 3
    return replace(bundle, candles=c)


@pytest.fixture(scope="module")
def syn() -> TestClient:
    return serve(SYN)


def get(client: TestClient, route: str, **params: Any) -> Any:
    response = client.get(f"/api/markets/syn/{route}", params=params)
    assert response.status_code == 200, (route, params, response.text[:300])
    return response


@pytest.mark.parametrize("when", WHEN, ids=iso)
def test_the_api_answers_the_map_the_cli_path_gives(syn: TestClient, when: pd.Timestamp) -> None:
    cli = market_map(SYN, at=when)
    assert cli.ts <= when < cli.ts + HOUR  # the last close at or before the time asked
    data = get(syn, "map", at=iso(when), bins=1000, span_pct=90).json()
    assert data["at"] == iso(cli.ts)
    assert data["price"] == cli.price
    long, short = cli.at_risk()
    inside = (cli.centers >= cli.price * 0.1) & (cli.centers < cli.price * 1.9)
    assert sum(data["long"]) == pytest.approx(float(long[inside].sum()), rel=1e-9, abs=1000 * 0.005)
    assert sum(data["short"]) == pytest.approx(float(short[inside].sum()), rel=1e-9, abs=1000 * 0.005)
    clusters = get(syn, "clusters", at=iso(when), top=20).json()
    assert clusters["at"] == iso(cli.ts)
    every = ranked(clusters_of(cli, top=None), "reach")
    assert clusters["clusters"] == plain([c.to_dict() for s in ("long", "short") for c in [x for x in every if x.side == s][:20]])


@pytest.mark.parametrize("k", [5, 150])
@pytest.mark.parametrize("route", sorted(TRADER))
def test_candles_after_at_change_nothing(syn: TestClient, route: str, k: int) -> None:
    """At 05:30 the candle that opened at 05:00 is still open: its high and low (and every later candle's) are unknown."""
    when = iso(TS.iloc[k] + HALF_HOUR)
    wild = serve(wild_from(SYN, k))
    assert get(wild, "candles", window="1d", end=iso(TS.iloc[k])).json()["high"][-1] > 2 * SYN.candles["high"].iloc[k]
    same = get(syn, route, at=when, **TRADER[route]).content
    assert get(wild, route, at=when, **TRADER[route]).content == same
    if route == "cascade":  # the default book, scaled by the volume up to the map: refused alike, to the dollar
        query = {"at": when, "shock": -5}
        refused = syn.get("/api/markets/syn/cascade", params=query)
        assert refused.status_code == 400
        assert "the book is too thin for this map" in refused.json()["detail"]
        assert wild.get("/api/markets/syn/cascade", params=query).content == refused.content
    # and the first candle that has closed by then does count: a map one candle later differs
    assert get(syn, route, at=iso(TS.iloc[k] + HOUR + HALF_HOUR), **TRADER[route]).content != same


@pytest.mark.parametrize("route", sorted(TRADER))
def test_a_nanosecond_at_is_the_same_map_as_its_microsecond(syn: TestClient, route: str) -> None:
    """``at`` with nanoseconds was a 500 (pandas cannot compare it with microsecond candles losslessly)."""
    when = TS.iloc[150] + HALF_HOUR
    nano = get(syn, route, at=when.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"), **TRADER[route]).content
    assert nano == get(syn, route, at=when.strftime("%Y-%m-%dT%H:%M:%S.123456Z"), **TRADER[route]).content


@pytest.mark.parametrize("route", ["heatmap", "candles", "liquidations", "liquidations/totals"])
def test_a_nanosecond_end_is_the_same_window_as_its_microsecond(syn: TestClient, route: str) -> None:
    end = TS.iloc[150]
    nano = get(syn, route, window="1d", end=end.strftime("%Y-%m-%dT%H:%M:%S.000000999Z")).content
    assert nano == get(syn, route, window="1d", end=end.strftime("%Y-%m-%dT%H:%M:%SZ")).content


def test_a_time_before_the_first_close_has_no_map(syn: TestClient) -> None:
    response = syn.get("/api/markets/syn/map", params={"at": iso(TS.iloc[0] + HALF_HOUR)})
    assert response.status_code == 400
    assert response.json()["detail"] == ("at 2026-01-05T00:30:00Z is outside syn (2026-01-05T01:00:00Z … 2026-01-19T00:00:00Z)")


def test_the_heatmap_column_at_a_candles_open_is_the_map_at_that_time(syn: TestClient) -> None:
    """The heatmap's column at candle t shows the map as t opens; ``/map?at=`` that instant is the same map."""
    k = 200
    heat = get(syn, "heatmap", window="1d", end=iso(TS.iloc[k]), bins=1000, columns=2000).json()
    assert heat["time"][-1] == int(TS.iloc[k].timestamp())
    cli = market_map(SYN, at=TS.iloc[k])
    assert cli.index == k - 1
    edges = np.array(heat["price_edges"])
    inside = (cli.centers >= edges[0]) & (cli.centers < edges[-1])
    for side, values in (("long", cli.long), ("short", cli.short)):  # the heatmap shows both sides everywhere
        assert sum(heat[side][-1]) == pytest.approx(float(values[inside].sum()), rel=1e-9, abs=1000 * 0.005)


def test_the_map_replays_no_candle_after_it_and_none_before_the_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """``/map`` reads the market's timeline: the map at the last candle is read from the checkpoint kept
    after it (no replay), one at candle k is replayed from the checkpoint before k up to k, never further."""
    from liqheat.engine.replay import Engine

    registry = Registry()
    market = registry.add(SYN, market_id="syn")
    checkpoints = sorted(market.timeline.checkpoints)  # built here, before the replays are counted
    client = TestClient(create_app(registry))
    replays: list[tuple[int, int]] = []
    run = Engine.run

    def counted(self: Engine, view: Any, *args: Any, start: int = 0, stop: int | None = None, **kwargs: Any) -> Any:
        replays.append((start, len(view) if stop is None else stop))
        return run(self, view, *args, start=start, stop=stop, **kwargs)

    monkeypatch.setattr(Engine, "run", counted)
    assert get(client, "map").json()["at"] == iso(TS.iloc[-1] + HOUR)
    assert replays == []
    k = 150
    assert get(client, "map", at=iso(TS.iloc[k] + HOUR)).json()["at"] == iso(TS.iloc[k] + HOUR)
    assert replays == [(max(c for c in checkpoints if c <= k), k + 1)]
