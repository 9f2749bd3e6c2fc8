"""Positions into the store as they open, change and close; nothing stored twice, nothing lost across a restart;
the exact map from what is stored, and its coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqheat.model import DomainError
from liqheat.store.parquet_store import Series, Store
from liqheat.venues.aave.levels import band_edges
from liqheat.venues.hyperliquid.info import InfoClient, ManualClock, WeightBudget
from liqheat.venues.hyperliquid.levels import exact_map, level_rows
from liqheat.venues.hyperliquid.scheduler import Refresher
from liqheat.venues.hyperliquid.state import Position, parse_clearinghouse_state
from liqheat.venues.hyperliquid.tracker import Recorder, Tracker, stored_coverage, stored_positions
from sources.hlinfo import serve, synthetic_venue

HERE = Path(__file__).parent / "positions"
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
T0 = pd.Timestamp("2026-12-07T12:00:00Z")


def sdk_state(**changes: str) -> object:
    payload = json.loads((HERE / "clearinghouseState-sdk.json").read_text())
    for coin, liq in changes.items():
        for entry in payload["assetPositions"]:
            if entry["position"]["coin"] == coin:
                entry["position"]["liquidationPx"] = liq
    return parse_clearinghouse_state(USER, payload)


def test_only_changes_are_recorded_and_a_vanished_position_is_a_close(tmp_path: Path) -> None:
    recorder = Recorder(frozenset({"BTC", "ETH"}))
    assert recorder.record(sdk_state(), T0) == 2
    assert recorder.record(sdk_state(BTC="173250.0"), T0 + pd.Timedelta(seconds=1)) == 0  # within 0.1 %
    assert recorder.record(sdk_state(BTC="180000.0"), T0 + pd.Timedelta(seconds=2)) == 1
    payload = json.loads((HERE / "clearinghouseState-sdk.json").read_text())
    payload["assetPositions"] = [e for e in payload["assetPositions"] if e["position"]["coin"] != "ETH"]
    payload["assetPositions"][0]["position"]["liquidationPx"] = "180000.0"
    assert recorder.record(parse_clearinghouse_state(USER, payload), T0 + pd.Timedelta(seconds=3)) == 1
    rows = pd.DataFrame(recorder.rows)
    assert rows[["coin", "size"]].values.tolist() == [["BTC", -0.00785], ["ETH", 0.1334], ["BTC", -0.00785], ["ETH", 0.0]]
    store = Store(tmp_path)
    with store.writer():
        assert recorder.flush(store) == 4
        assert recorder.flush(store) == 0
    assert stored_positions(store, "ETH") == []
    assert stored_positions(store, "ETH", T0 + pd.Timedelta(seconds=3))[0].size == 0.1334
    (btc,) = stored_positions(store, "BTC")
    assert (btc.liquidation_px, btc.margin_mode, btc.leverage) == (180000.0, "cross", 20.0)


def test_a_restarted_recorder_neither_repeats_nor_loses_a_change(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = Recorder(frozenset({"BTC", "ETH"}))
    first.record(sdk_state(), T0)
    with store.writer():
        first.flush(store)
        again = Recorder(frozenset({"BTC", "ETH"}))
        assert again.prime(store, ["BTC", "ETH"]) == 2
        assert again.record(sdk_state(), T0 + pd.Timedelta(minutes=1)) == 0
        assert again.record(sdk_state(ETH="1000.0"), T0 + pd.Timedelta(minutes=2)) == 1
        again.flush(store)
        again.rows.append(dict(first_row := store.read(Series("positions", "hyperliquid", "BTC")).iloc[0].to_dict()))
        assert again.flush(store) == 0  # a row already stored, merged on (ts, user, coin): not stored twice
    eth = store.read(Series("positions", "hyperliquid", "ETH"))
    assert eth["liquidation_px"].isna().tolist() == [True, False]
    assert len(store.read(Series("positions", "hyperliquid", "BTC"))) == 1
    assert first_row["user"] == USER


def test_a_failed_flush_keeps_its_rows_for_the_next_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    recorder = Recorder(frozenset({"BTC", "ETH"}))
    recorder.record(sdk_state(), T0)
    real = Store.write
    calls = []

    def failing(self: Store, series: Series, frame: pd.DataFrame) -> int:
        calls.append(series.symbol)
        if len(calls) == 2:
            raise DomainError(f"{series.symbol}: cannot write (No space left on device)")
        return real(self, series, frame)

    with store.writer():
        monkeypatch.setattr(Store, "write", failing)
        with pytest.raises(DomainError, match="No space left"):
            recorder.flush(store)  # BTC written, ETH not
        assert len(recorder.rows) == 2
        monkeypatch.setattr(Store, "write", real)
        assert recorder.flush(store) == 1  # only ETH is new: BTC merged again, not doubled
    assert [len(store.read(Series("positions", "hyperliquid", c))) for c in ("BTC", "ETH")] == [1, 1]


def position(size: float, liq: float | None, coin: str = "BTC", user: str = "0x" + "01" * 20) -> Position:
    return Position(user, coin, size, 100_000.0, abs(size) * 100_000.0, liq, "cross", 10.0, 1.0, 0.0)


def test_the_exact_map_puts_longs_below_and_shorts_above_at_their_size_there() -> None:
    edges = band_edges(100_000.0, 2_000.0, 0.1)  # 90,000 … 110,000
    positions_ = [position(2.0, 95_000.0), position(1.0, 94_000.0), position(-3.0, 104_000.0), position(-1.0, None),
                  position(1.0, 101_000.0), position(0.5, 50_000.0)]  # fmt: skip
    m = exact_map(positions_, 100_000.0, edges, coin="BTC", open_interest_usd=1e6)
    band = {float(lo): i for i, lo in enumerate(m.edges[:-1])}
    assert m.long_usd[band[94_000.0]] == pytest.approx(2.0 * 95_000)
    assert m.long_usd[band[92_000.0]] == pytest.approx(94_000.0)  # on an edge: the band below it, which price enters
    assert m.long_positions[band[94_000.0]] == m.long_positions[band[92_000.0]] == 1
    assert m.long_usd[band[98_000.0]] == pytest.approx(100_000.0)  # past its level: counted at today's price
    assert m.short_usd[band[104_000.0]] == pytest.approx(3 * 104_000.0)
    assert (m.positions, m.unreachable, m.outside) == (6, 1, 1)
    assert m.covered_usd == pytest.approx((4.5 + 4.0) / 2 * 100_000.0)  # at the map price
    assert m.coverage == pytest.approx(0.425)
    d = m.to_dict()
    assert (d["kind"], d["venue"], len(d["bands"])) == ("exact", "hyperliquid", 10)
    assert sum(b["long_usd"] for b in d["bands"]) == pytest.approx(m.long_usd.sum())
    rows = level_rows(positions_, 100_000.0)
    assert rows.price.tolist() == [95_000.0, 94_000.0, 104_000.0, 100_000.0, 50_000.0]
    assert rows.long.tolist() == [True, True, False, True, True]
    assert rows.usd.sum() == pytest.approx(m.long_usd.sum() + m.short_usd.sum() + 0.5 * 50_000)  # the one outside too
    with pytest.raises(DomainError, match="a ETH position of 0x0101"):
        exact_map([position(1.0, 1.0, coin="ETH")], 100_000.0, edges, coin="BTC")


def test_a_snapshot_of_the_stand_in_stores_every_position_and_its_coverage(tmp_path: Path) -> None:
    clock = ManualClock()
    venue, users, notional = synthetic_venue(clock, 200, whales=10, coverage=0.25)
    venue.accounts[users[0]] = {"assetPositions": "broken", "marginSummary": {"accountValue": "1"}}
    store = Store(tmp_path)
    with serve(venue) as url, store.writer():
        client = InfoClient(url, budget=WeightBudget(clock=clock))
        recorder = Recorder(frozenset({"BTC"}))
        tracker = Tracker(client, Refresher(), recorder, start=T0)
        tracker.add(users)
        assert tracker.sweep() == 200
        recorder.flush(store)
        client.close()
    assert (tracker.tally.reads, tracker.tally.failed) == (199, 1)
    positions = stored_positions(store, "BTC")
    assert len(positions) == 199
    cover = stored_coverage(store, "BTC")
    assert cover is not None
    held = sum(notional[u] for u in users[1:])
    assert cover["covered_usd"] == pytest.approx(held / 2, rel=1e-4)
    assert cover["coverage"] == pytest.approx(0.25 * held / sum(notional.values()), rel=1e-4)
    assert cover["ts"] == T0 + pd.Timedelta(seconds=clock.now())
    m = exact_map(positions, float(cover["mark_px"]), band_edges(100_000.0, 1_000.0, 0.5), coin="BTC",
                  open_interest_usd=float(cover["open_interest_usd"]))  # fmt: skip
    levels = np.array([p.liquidation_px for p in positions])
    at_levels = sum(abs(p.size) * p.liquidation_px for p in positions if p.liquidation_px)
    assert m.long_usd.sum() + m.short_usd.sum() == pytest.approx(at_levels)
    assert np.all(levels > 0)
