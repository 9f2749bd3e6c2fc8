"""A market that grows while it is served (issue #14, item 5): the view and the timeline are carried on when
the new bundle extends the old one, and everything served is then what a market built afresh on the longer
bundle serves, bit for bit. A bundle that does not extend the old one (history edited) is built again."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.data import build_bundle
from liqheat.analytics.clusters import clusters_of, concentration
from liqheat.api.app import create_app
from liqheat.api.markets import Market, Registry, extends
from liqheat.bundle import Bundle
from liqheat.demo.live import published
from liqheat.model import DomainError

FULL = build_bundle(n=420, seed=11)
WEEK, THREE_DAYS, MONTH = pd.Timedelta(days=7), pd.Timedelta(days=3), pd.Timedelta(days=30)
BAND = (2.0, 20.0)


def shifted(bundle: Bundle, start: int, factor: float) -> Bundle:
    """``bundle`` with every price from candle ``start`` on multiplied by ``factor`` per candle (compounded):
    a climb (factor > 1) or a fall that leaves the price grid the earlier candles needed."""
    c = bundle.candles.copy()
    k = np.arange(len(c)) - start + 1
    scale = np.where(k > 0, factor ** np.maximum(k, 0), 1.0)
    for column in ("open", "high", "low", "close"):
        c[column] = c[column] * scale
    c.loc[start, "open"] = bundle.candles.loc[start, "open"]
    c.loc[start, "high"] = max(c.loc[start, "high"], c.loc[start, "open"])
    c.loc[start, "low"] = min(c.loc[start, "low"], c.loc[start, "open"])
    return replace(bundle, candles=c)


def served(m: Market) -> dict[str, Any]:
    """What a page and a trader read from the market at its last candle."""
    last = len(m.bundle.candles) - 1
    mm = m.map_at(last)
    every = clusters_of(mm, top=None)
    end = m.bundle.candles["ts"].iloc[last // 2]
    return {
        "map": mm,
        "bare map": m.map_at(last, ages=False),
        "earlier map": m.map_at(last - 3),
        "followed": m.heatmap(WEEK, None, 300, 800, None),
        "banded": m.heatmap(THREE_DAYS, None, 60, 50, BAND),
        "ended": m.heatmap(MONTH, end, 100, 100, None),
        "clusters": [c.to_dict() for c in every],
        "concentration": concentration(mm, every),
        "predictions": m.predictions,
        "score": m.score,
    }


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("map", "bare map", "earlier map"):
        a, b = got[key], want[key]
        for name in ("edges", "long", "short", "past_long", "past_short"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{key} {name}")
        for name in ("index", "ts", "price", "atr_pct", "past_ts", "sigma_hour"):
            assert getattr(a, name) == getattr(b, name), f"{key} {name}"
    for key in ("followed", "banded", "ended"):
        a, b = got[key], want[key]
        for name in ("price_edges", "long", "short"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{key} {name}")
        assert a.times.equals(b.times), key
        pd.testing.assert_frame_equal(a.candles, b.candles)
    assert got["clusters"] == want["clusters"]
    assert got["concentration"] == want["concentration"]
    pd.testing.assert_frame_equal(got["predictions"], want["predictions"], check_exact=True)
    assert got["score"] == want["score"]


def fresh(bundle: Bundle) -> dict[str, Any]:
    return served(Market(id="fresh", bundle=bundle))


def test_a_market_grown_candle_by_candle_serves_what_a_fresh_one_does() -> None:
    m = Market(id="live", bundle=published(FULL, 300))
    served(m)
    for n in range(301, 309):
        m.grow(published(FULL, n))
        assert m.kept()["maps"][0] > 0  # carried on: the maps of earlier candles stay
        assert_same(served(m), fresh(published(FULL, n)))
    assert m.version == 8


def test_a_market_grown_by_many_candles_at_once_serves_what_a_fresh_one_does() -> None:
    m = Market(id="live", bundle=published(FULL, 200))
    served(m)
    for n in (201, 330, 331, 420):
        m.grow(published(FULL, n))
        assert_same(served(m), fresh(published(FULL, n)))


def test_a_market_that_grew_before_it_was_served_builds_on_first_read() -> None:
    m = Market(id="live", bundle=published(FULL, 250))
    m.grow(published(FULL, 260))
    m.grow(published(FULL, 270))
    assert_same(served(m), fresh(published(FULL, 270)))


@pytest.mark.parametrize(("factor", "moves"), [(1.02, "top"), (1 / 1.03, "bottom")])
def test_a_price_that_leaves_the_grid_grows_it_and_changes_nothing_served(factor: float, moves: str) -> None:
    """A climb (new bins above; the followed heatmap keeps its columns) and a fall (the grid's first bin moves)."""
    full = shifted(FULL, 301, factor)
    m = Market(id="live", bundle=published(full, 300))
    served(m)
    grid = m.timeline.grid
    for n in range(301, 313):
        m.grow(published(full, n))
        assert_same(served(m), fresh(published(full, n)))
    grown = m.timeline.grid
    assert grown.n_bins > grid.n_bins
    assert (grown.k0 == grid.k0) == (moves == "top")


def edited_candle(bundle: Bundle, at: int) -> Bundle:
    c = bundle.candles.copy()
    c.loc[at, "close"] = c.loc[at, "close"] * 1.001
    c.loc[at, "high"] = max(c.loc[at, "high"], c.loc[at, "close"])
    return replace(bundle, candles=c)


def edited_open_interest(bundle: Bundle, at: int) -> Bundle:
    oi = bundle.open_interest.copy()
    oi.loc[at, "oi_usd"] = oi.loc[at, "oi_usd"] * 1.5
    return replace(bundle, open_interest=oi)


def test_extends_is_true_only_for_the_same_history_with_rows_appended() -> None:
    old = published(FULL, 300)
    assert extends(old, published(FULL, 301))
    assert extends(old, published(FULL, 420))
    assert extends(old, old)
    revised = edited_open_interest(published(FULL, 301), 300)  # a sample past the old last candle's close
    assert extends(old, revised)
    assert not extends(old, edited_candle(published(FULL, 301), 120))
    assert not extends(old, edited_open_interest(published(FULL, 301), 100))
    assert not extends(old, published(FULL, 299))
    assert not extends(old, replace(published(FULL, 301), meta=replace(FULL.meta, symbol="ETH")))
    assert not extends(old, replace(published(FULL, 301), funding=None))


def test_the_first_liquidations_extend_a_market_that_had_none() -> None:
    """A store market has no liquidation table (nor a scoring start) until its follower records the first: that is
    rows appended, not history edited; a scoring start that moves is an edit."""
    bare = published(FULL, 300)
    bare = replace(bare, liquidations=None, meta=replace(bare.meta, score_from=None, liquidations_interval=None))
    assert FULL.liquidations is not None
    assert extends(bare, published(FULL, 301))
    assert not extends(published(FULL, 300), bare)
    moved = published(FULL, 301)
    assert not extends(published(FULL, 300), replace(moved, meta=replace(moved.meta, score_from=moved.candles["ts"].iloc[5])))
    m = Market(id="live", bundle=bare)
    served(m)
    m.grow(published(FULL, 301))
    assert m.kept()["maps"][0] > 0  # carried on
    assert_same(served(m), fresh(published(FULL, 301)))


@pytest.mark.parametrize(
    "changed",
    [
        lambda: edited_candle(published(FULL, 310), 120),
        lambda: edited_open_interest(published(FULL, 310), 100),
        lambda: published(FULL, 290),
    ],
    ids=["candle", "open interest", "shorter"],
)
def test_a_grow_that_edits_history_builds_the_market_again(changed: Any) -> None:
    m = Market(id="live", bundle=published(FULL, 300))
    before = served(m)
    bundle = changed()
    m.grow(bundle)
    assert m.kept()["maps"] == (0, 0)  # the maps of the old history went
    after = served(m)
    assert_same(after, fresh(bundle))
    assert not np.array_equal(after["followed"].long, before["followed"].long)


def test_open_interest_that_arrives_after_the_candle_carries_on_from_the_version_before() -> None:
    """The sample at the close of candle 300 arrives once 301 and 302 are in: the 301-candle version read another
    value at its last close, so the market is carried on from the 300-candle one (not replayed from the start), and
    serves what a fresh market does; the maps of the version that read the old value are not served."""
    m = Market(id="live", bundle=published(FULL, 300))
    served(m)
    m.grow(published(FULL, 301))
    stale = served(m)
    late = edited_open_interest(published(FULL, 302), 300)
    assert not extends(published(FULL, 301), late)
    m.grow(late)
    assert sorted(m.timeline.checkpoints) == [0, 300, 302]  # carried on from the state after candle 300
    got = served(m)
    assert_same(got, fresh(late))
    assert not np.array_equal(m.map_at(300).long, stale["map"].long)  # candle 300's map reads the late sample
    m.grow(edited_open_interest(published(FULL, 303), 300))  # the same late sample, one candle on: carried on as usual
    assert sorted(m.timeline.checkpoints) == [0, 302, 303]
    assert_same(served(m), fresh(edited_open_interest(published(FULL, 303), 300)))


def test_new_rows_out_of_bounds_are_reported_on_the_next_read() -> None:
    m = Market(id="live", bundle=published(FULL, 300))
    served(m)
    bad = published(FULL, 301)
    c = bad.candles.copy()
    c.loc[300, "volume"] = 1e30
    m.grow(replace(bad, candles=c))
    with pytest.raises(DomainError, match="volume"):
        m.map_at(300)
    m.grow(published(FULL, 302))  # the feed corrects itself: served again, built afresh
    assert_same(served(m), fresh(published(FULL, 302)))


def test_reads_while_the_market_grows_are_each_of_one_version() -> None:
    """Readers on three threads while candles arrive: every map and heatmap read is the one a fresh market of
    some published version serves (never one version's bundle with another's replay)."""
    m = Market(id="live", bundle=published(FULL, 300))
    served(m)
    done = threading.Event()
    reads: dict[int, tuple[str, Any]] = {}  # by identity: a value read again from a cache is checked once
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not done.is_set():
                last = len(m.bundle.candles) - 1
                for kind, value in (("map", m.map_at(last)), ("followed", m.heatmap(WEEK, None, 300, 800, None)),
                                    ("banded", m.heatmap(THREE_DAYS, None, 60, 50, BAND))):  # fmt: skip
                    reads[id(value)] = (kind, value)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    for n in range(301, 331):
        m.grow(published(FULL, n))
    done.set()
    for thread in readers:
        thread.join()
    assert not errors
    assert len(reads) >= 3
    markets: dict[int, Market] = {}

    def market(n: int) -> Market:
        return markets.setdefault(n, Market(id=f"fresh-{n}", bundle=published(FULL, n)))

    for kind, got in reads.values():
        if kind == "map":
            want = market(got.index + 1).map_at(got.index)
            for name in ("edges", "long", "short", "past_long", "past_short"):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        else:
            n = int(got.candles.index[-1]) + 1  # the frame's last candle: the version it was read from
            window, bins, columns, band = (WEEK, 300, 800, None) if kind == "followed" else (THREE_DAYS, 60, 50, BAND)
            frame = market(n).heatmap(window, None, bins, columns, band)
            np.testing.assert_array_equal(got.long, frame.long)
            np.testing.assert_array_equal(got.short, frame.short)
            assert got.times.equals(frame.times)


def answers(client: TestClient) -> list[Any]:
    routes = (
        ("heatmap", {"window": "7d"}),
        ("heatmap", {"window": "3d", "bins": "60", "columns": "50", "lev_min": "2", "lev_max": "20", "format": "bin"}),
        ("map", {}),
        ("clusters", {"top": "20"}),
        ("levels", {}),
    )
    out = []
    for route, params in routes:
        response = client.get(f"/api/markets/m/{route}", params=params)
        assert response.status_code == 200, response.text
        out.append(response.content if params.get("format") == "bin" else response.json())
    return out


def test_the_routes_of_a_grown_market_answer_as_those_of_a_fresh_one() -> None:
    live = Registry()
    m = live.add(published(FULL, 300), market_id="m")
    client = TestClient(create_app(live))
    answers(client)  # fills the caches of every route
    for n in (301, 302, 340):
        m.grow(published(FULL, n))
        fresh_registry = Registry()
        fresh_registry.add(published(FULL, n), market_id="m")
        assert answers(client) == answers(TestClient(create_app(fresh_registry)))


def test_an_answer_built_while_the_market_grew_is_not_kept() -> None:
    m = Market(id="live", bundle=published(FULL, 300))
    version = m.version
    m.grow(published(FULL, 301))
    assert m.answer(("key",), lambda: b"old", version) == b"old"
    assert m.kept()["answers"] == (0, 0)
    assert m.answer(("key",), lambda: b"new", m.version) == b"new"
    assert m.kept()["answers"][0] == 1


def test_a_live_market_keeps_its_score_a_while_across_candles_and_never_across_an_edit() -> None:
    """Scoring months of realized liquidations on every new minute costs more than the candle itself; a live
    market (score_every > 0) keeps the score that long, unless its history changed."""
    m = Market(id="live", bundle=published(FULL, 300), score_every=3600.0)
    first = m.score
    assert first is not None
    m.grow(published(FULL, 301))
    assert m.score is first  # kept: one candle more changes a month's score by nothing a trader reads
    m.score_every = 0.0
    exact = m.score
    assert exact is not first
    assert exact == fresh(published(FULL, 301))["score"]
    m.score_every = 3600.0
    edited = published(FULL, 302)
    candles = edited.candles.copy()
    candles.loc[5, "close"] = candles.loc[5, "close"] * 1.001  # history edited: scored again at once
    candles.loc[5, "high"] = max(candles.loc[5, "high"], candles.loc[5, "close"])
    m.grow(replace(edited, candles=candles))
    assert m.score == fresh(replace(edited, candles=candles))["score"]


def snapshot_bytes(m: Market) -> tuple[int, int]:
    """Bytes of the snapshot blocks the market holds (its timeline's and those of the versions it keeps to carry on
    from, each block once), and those of its timeline alone."""
    from liqheat.api.markets import EARLIER

    timelines = [m.timeline, *(t for *_, t in m._earlier if t is not None)]
    assert len(timelines) <= EARLIER + 1
    held = {id(b): b.nbytes for t in timelines for blocks in t._snaps._blocks.values() for b in blocks}
    own = sum(b.nbytes for blocks in m.timeline._snaps._blocks.values() for b in blocks)
    return sum(held.values()), own


def test_open_interest_arriving_late_on_every_candle_keeps_memory_bounded() -> None:
    """Each candle first served without the open interest sampled at its close, then again with it (what a store
    market following a venue sees): every second grow is a revision, carried on from the version before. The
    versions kept share their snapshots but the block each revision cuts (with a copy per revision, three versions
    held three times the snapshots), the kept maps stay within their budget, and what is served is a fresh market's."""
    from liqheat.api.markets import EARLIER, KEPT_MAPS

    def late(n: int) -> Bundle:  # the first n candles, the sample at the last one's close not in yet
        b = published(FULL, n)
        return replace(b, open_interest=b.open_interest.iloc[:-1].reset_index(drop=True))

    m = Market(id="live", bundle=published(FULL, 300))
    m.map_at(299)
    generation = m._served().generation
    for n in range(301, 361):
        m.grow(late(n))
        m.map_at(n - 1)
        m.grow(published(FULL, n))
        m.map_at(n - 1)
        held, own = snapshot_bytes(m)
        block = m.timeline._snaps._blocks["long"][0].nbytes
        assert held <= own + 2 * (EARLIER + 1) * block
        assert len(m.timeline._kept) <= KEPT_MAPS
        assert m.kept()["maps"][1] <= m.map_bytes
    assert m._served().generation - generation == 60  # every second grow was a revision, not a carried-on append
    assert m.timeline._snaps.blocks >= 2  # the snapshots span blocks, of which the revisions shared the first
    assert_same(served(m), fresh(published(FULL, 360)))


def test_late_open_interest_at_the_first_close_after_a_store_market_is_served_carries_it_on() -> None:
    """A market served from the store has no version before the one it was built on; the sample at its last
    close arriving with the next candle would build it again from the start (every market of a service once, all in
    its first minute). It is built as the version one candle shorter carried on by the last, and carried on from
    that one instead: the same maps as a fresh market's."""
    m = Market(id="live", bundle=published(FULL, 300), kind="store")
    generation = m._served().generation
    m.map_at(299)
    at_close = len(published(FULL, 300).open_interest) - 1  # the sample candle 299's close reads
    late = edited_open_interest(published(FULL, 301), at_close)
    assert not extends(published(FULL, 300), late)
    m.grow(late)
    assert m._served().generation == generation + 1  # a revision (history read anew), carried on
    assert sorted(m.timeline.checkpoints) == [0, 299, 301]  # from the state after candle 299, not from the start
    assert_same(served(m), fresh(late))
    plain = Market(id="file", bundle=published(FULL, 300))
    assert sorted(plain.timeline.checkpoints) == [0, 300]  # a market that does not grow is built as before
