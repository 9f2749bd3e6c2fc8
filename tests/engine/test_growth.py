"""A market's replay carried on as candles arrive (``Timeline.extend``, ``MarketView.extended``,
``Drivers.extended``, ``growing.Rows``): what a grown timeline serves is what one built on the longer view
serves, bit for bit, and what was handed out before stays as it was."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import hourly_random_walk
from liqheat.bundle import Bundle, BundleMeta
from liqheat.demo.live import published
from liqheat.engine.growing import Blocks, Rows
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView, drivers
from liqheat.engine.timeline import Timeline
from liqheat.model import ContractKind, DomainError

PARAMS = ModelParams()
SMALL = {"checkpoint_every": 50, "max_snapshots": 16, "keep_every": 4, "keep_maps": 20}  # every path, on few candles


def market(n: int = 400, seed: int = 5, *, from_candle: int | None = None, factor: float = 1.0) -> Bundle:
    """Hourly candles with volume, open interest and funding; from ``from_candle`` on, prices compounded by
    ``factor`` per candle (a climb or a fall out of the grid the earlier candles needed)."""
    _, candles, oi, funding, _ = hourly_random_walk(n, seed)
    if from_candle is not None:
        scale = factor ** np.maximum(0, np.arange(n) - from_candle + 1)
        for column in ("open", "high", "low", "close"):
            candles[column] = candles[column] * scale
        candles.loc[from_candle, "open"] = candles.loc[from_candle - 1, "close"]
        candles.loc[from_candle, "high"] = candles.loc[from_candle, ["open", "high"]].max()
        candles.loc[from_candle, "low"] = candles.loc[from_candle, ["open", "low"]].min()
    meta = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",),
                      source="growth test", funding_interval="1h")  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi, funding=funding)


def view_of(full: Bundle, n: int) -> MarketView:
    return MarketView.from_bundle(published(full, n))


def grown_view(view: MarketView, full: Bundle, n: int) -> MarketView:
    return view.extended(MarketView.from_bundle(published(full, n), start=len(view)))


VIEW_ARRAYS = ("ts", "open", "high", "low", "close", "volume", "taker_buy", "oi_before", "oi_after", "funding")


def assert_same_view(got: MarketView, want: MarketView) -> None:
    for name in VIEW_ARRAYS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert (got.timeframe_hours, got.symbol) == (want.timeframe_hours, want.symbol)


def assert_same_timeline(got: Timeline, want: Timeline) -> None:
    n = len(want.view)
    assert (got.grid, got.stride) == (want.grid, want.stride)
    np.testing.assert_array_equal(got.predictions, want.predictions)
    np.testing.assert_array_equal(got.snapshot_candles, want.snapshot_candles)
    after = np.unique(np.r_[0, np.arange(1, n, 7), n - 2, n - 1])
    for a, b in zip(got.maps_after(after), want.maps_after(after), strict=True):
        np.testing.assert_array_equal(a, b)
    band = (want.leverages >= 5) & (want.leverages <= 50)
    aligned = want.snapshot_candles
    reads = ((aligned, 1, None, True), (aligned, 3, None, True), (np.arange(1, n, 5), 2, None, False),
             (np.arange(n - 30, n), 4, band, False))  # fmt: skip
    for candles, group, mask, snapshots in reads:
        for a, b in zip(got.maps_at_open(candles, group, mask, snapshots=snapshots),
                        want.maps_at_open(candles, group, mask, snapshots=snapshots), strict=True):  # fmt: skip
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "steps",
    [[1, 1, 1, 1, 1], [1, 49, 1, 120], [229]],
    ids=["one by one", "across checkpoints and strides", "all at once"],
)
def test_an_extended_timeline_serves_what_a_fresh_one_does(steps: list[int]) -> None:
    full = market()
    n = 170
    timeline = Timeline(view_of(full, n), PARAMS, **SMALL)
    for k in steps:
        n += k
        view = grown_view(timeline.view, full, n)
        assert_same_view(view, view_of(full, n))
        timeline = timeline.extend(view)
        assert_same_timeline(timeline, Timeline(view_of(full, n), PARAMS, **SMALL))
    assert timeline.stride > 8  # the stride doubled on the way: every other snapshot went


@pytest.mark.parametrize(("factor", "moves"), [(1.02, "top"), (1 / 1.03, "bottom")])
def test_a_timeline_extended_past_its_grid_grows_it(factor: float, moves: str) -> None:
    full = market(from_candle=301, factor=factor)
    timeline = Timeline(view_of(full, 300), PARAMS, **SMALL)
    grid = timeline.grid
    for n in (301, 302, 303, 310, 340):
        timeline = timeline.extend(grown_view(timeline.view, full, n))
        assert_same_timeline(timeline, Timeline(view_of(full, n), PARAMS, **SMALL))
    assert timeline.grid.n_bins > grid.n_bins
    assert (timeline.grid.k0 == grid.k0) == (moves == "top")


@pytest.mark.parametrize("config", [SMALL, SMALL | {"max_snapshots": 1024}], ids=["few snapshots", "a snapshot a candle"])
def test_what_a_timeline_served_before_it_was_extended_stays(config: dict[str, int]) -> None:
    """A request may still read the timeline of the last version: neither extending it nor extending it again
    from the same version (a second branch) changes what it serves. With a snapshot a candle, the extensions cross
    a block of snapshots (256) and the branch cuts one."""
    full = market()
    old = Timeline(view_of(full, 200), PARAMS, **config)
    after, candles = np.arange(0, 200, 3), np.arange(1, 200, 2)
    before = (old.predictions.copy(), *old.maps_after(after), *old.maps_at_open(candles, 2, None))
    first = old.extend(grown_view(old.view, full, 260))
    second = old.extend(grown_view(old.view, full, 230))
    now = (old.predictions, *old.maps_after(after), *old.maps_at_open(candles, 2, None))
    for a, b in zip(before, now, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(old.view) == len(old.predictions) == 200
    assert_same_timeline(first, Timeline(view_of(full, 260), PARAMS, **config))
    assert_same_timeline(second, Timeline(view_of(full, 230), PARAMS, **config))


def test_extended_drivers_are_the_drivers_of_the_longer_view() -> None:
    full = market()
    view = view_of(full, 150)
    driven = drivers(view, PARAMS)
    for n in (151, 152, 200, 400):
        view = grown_view(view, full, n)
        driven = driven.extended(view, PARAMS)
        want = drivers(view_of(full, n), PARAMS)
        for name in ("churn", "net_new", "close_frac", "long_share", "dt_hours", "volume_sum"):
            np.testing.assert_array_equal(getattr(driven, name), getattr(want, name), err_msg=f"{n} {name}")


def test_a_view_without_volume_or_funding_extends_too() -> None:
    full = market()
    bare = replace(full, candles=full.candles.drop(columns=["volume", "taker_buy_volume"]), funding=None)
    timeline = Timeline(view_of(bare, 100), PARAMS, **SMALL)
    timeline = timeline.extend(grown_view(timeline.view, bare, 180))
    assert timeline.view.volume is None
    assert_same_timeline(timeline, Timeline(view_of(bare, 180), PARAMS, **SMALL))


def test_a_view_extends_only_with_later_candles_of_the_same_market() -> None:
    full = market()
    view = view_of(full, 100)
    with pytest.raises(DomainError, match="after the view's last candle"):
        view.extended(MarketView.from_bundle(published(full, 120), start=99))
    other = replace(published(full, 120), meta=replace(full.meta, symbol="ETH"))
    with pytest.raises(DomainError, match="cannot extend"):
        view.extended(MarketView.from_bundle(other, start=100))
    timeline = Timeline(view, PARAMS, **SMALL)
    edited = view_of(full, 120)
    changed = replace(edited, close=np.where(np.arange(120) == 99, edited.close * 1.01, edited.close))
    with pytest.raises(DomainError, match="does not extend"):
        timeline.extend(changed)


def test_a_new_row_out_of_bounds_is_refused_with_its_place() -> None:
    full = market()
    bad = published(full, 110)
    candles = bad.candles.copy()
    candles.loc[105, "high"] = 1e13
    with pytest.raises(DomainError, match=r"candles, row at .* column 'high'"):
        MarketView.from_bundle(replace(bad, candles=candles), start=100)
    assert len(MarketView.from_bundle(replace(bad, candles=candles), start=106)) == 4  # the rows before are not read


def test_rows_grow_in_place_and_branch_from_an_earlier_length() -> None:
    rows = Rows({"a": np.arange(3.0), "b": np.zeros((3, 2))})
    first = rows.grown(3, {"a": np.array([3.0, 4.0]), "b": np.ones((2, 2))})
    held = first["a"]
    again = first.grown(5, {"a": np.array([5.0]), "b": np.ones((1, 2))})
    assert again is first
    np.testing.assert_array_equal(held, [0, 1, 2, 3, 4])  # a view taken before never sees later rows
    branch = first.grown(4, {"a": np.array([9.0]), "b": np.full((1, 2), 2.0)})
    assert branch is not first
    np.testing.assert_array_equal(branch["a"], [0, 1, 2, 3, 9])
    np.testing.assert_array_equal(first["a"], [0, 1, 2, 3, 4, 5])
    with pytest.raises(DomainError, match="columns"):
        first.grown(6, {"a": np.array([1.0])})


def test_blocks_grow_in_place_and_branch_sharing_the_blocks_before() -> None:
    """A timeline's snapshots: appended in place, and a branch from an earlier length (a revision) shares the whole
    blocks before it, copies the one it cuts, and leaves the rows of the version it branched from as they were."""
    maps = np.arange(22.0).reshape(11, 2)
    blocks = Blocks({"m": maps}, size=4)
    assert (len(blocks), blocks.blocks) == (11, 3)
    np.testing.assert_array_equal(blocks.take("m", np.array([10, 0, 5])), maps[[10, 0, 5]])
    np.testing.assert_array_equal(blocks.take("m", np.array([9, 1]), slice(1, 2)), maps[[9, 1], 1:2])
    more = np.full((3, 2), -1.0)
    grown = blocks.grown(11, {"m": more})
    assert grown is blocks
    assert (len(grown), grown.blocks) == (14, 4)
    np.testing.assert_array_equal(grown.take("m", np.arange(14)), np.vstack([maps, more]))
    branch = grown.grown(6, {"m": np.full((1, 2), 7.0)})
    assert branch is not grown
    assert branch._blocks["m"][0] is grown._blocks["m"][0]  # the whole block before the cut is shared, not copied
    assert branch._blocks["m"][1] is not grown._blocks["m"][1]
    np.testing.assert_array_equal(branch.take("m", np.arange(7)), np.vstack([maps[:6], [[7.0, 7.0]]]))
    np.testing.assert_array_equal(grown.take("m", np.arange(14)), np.vstack([maps, more]))  # as it was
    again = branch.grown(7, {"m": np.full((6, 2), 8.0)})  # the branch goes on in place, over its own blocks
    assert again is branch
    np.testing.assert_array_equal(grown.take("m", np.arange(14)), np.vstack([maps, more]))
    np.testing.assert_array_equal(again.take("m", np.arange(13))[7:], np.full((6, 2), 8.0))
    with pytest.raises(DomainError, match="columns"):
        blocks.grown(14, {"x": more})


def test_a_timeline_extended_again_from_an_earlier_version_serves_the_new_data() -> None:
    """Extended to 301 candles over one open interest, then from its 300-candle version over another (the sample at
    candle 300's close arrived late): the branch keeps no map of the first extension, and serves a fresh timeline's."""
    full = market()
    revised = replace(full, open_interest=full.open_interest.copy())
    revised.open_interest.loc[300, "oi_usd"] *= 1.5  # the row at candle 300's close
    base = view_of(full, 300)
    earlier = Timeline(base, PARAMS, **SMALL | {"keep_every": 1})
    first = earlier.extend(grown_view(base, full, 301))
    first.maps_after(np.array([300]))
    assert not np.array_equal(view_of(revised, 302).oi_after[300], view_of(full, 301).oi_after[300])
    branch = earlier.extend(grown_view(base, revised, 302), branch=True)
    assert_same_timeline(branch, Timeline(view_of(revised, 302), PARAMS, **SMALL | {"keep_every": 1}))
    np.testing.assert_array_equal(
        first.maps_after(np.array([300]))[0], Timeline(view_of(full, 301), PARAMS).maps_after(np.array([300]))[0]
    )


def test_rows_of_read_only_columns_take_an_empty_tail() -> None:
    """A market whose bundle grew in liquidations or open interest only extends its view by no candle; the columns
    it was built on are read-only when they came from Arrow (the store), which an empty write must not touch."""
    column = np.arange(3.0)
    column.flags.writeable = False
    rows = Rows({"a": column})
    assert rows.grown(3, {"a": np.array([])}) is rows
    np.testing.assert_array_equal(rows.grown(2, {"a": np.array([])})["a"], [0, 1])
    np.testing.assert_array_equal(rows.grown(3, {"a": np.array([3.0])})["a"], [0, 1, 2, 3])


def test_heatmap_columns_of_the_window_one_candle_later_are_the_same_but_the_ends() -> None:
    """What a followed heatmap relies on: columns sit on whole multiples of their step."""
    from liqheat.engine.frames import MARGIN, heatmap_layout

    full = market(n=600)
    timeline = Timeline(view_of(full, 600), PARAMS)
    layouts = []
    for n in (500, 501, 502, 530):
        bundle = published(full, n)
        layouts.append(heatmap_layout(bundle, window="7d", end=None, max_bins=100, max_columns=40, margin=MARGIN,
                                      leverage_band=None, grid=timeline.grid, leverages=timeline.leverages,
                                      timeline=timeline))  # fmt: skip
    for a, b in itertools.pairwise(layouts):
        step = int(a.columns[1] - a.columns[0])
        assert np.all(a.columns % step == 0)
        shared = np.intersect1d(a.columns, b.columns)
        np.testing.assert_array_equal(shared, a.columns[a.columns >= b.columns[0]])
        assert b.columns[-1] >= a.columns[-1]
    assert pd.Index(layouts[0].columns).is_monotonic_increasing
