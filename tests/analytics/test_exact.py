"""Exact on-chain levels beside the estimated map: when they are shown, when they leave, how they are binned,
and an Aave snapshot read into them (the same calls as the banded Aave map)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import write_aave_snapshot
from liqheat.analytics.exact import ExactLevels, Snapshots, aave_levels, latest, on_bins
from liqheat.model import DomainError

AS_OF = pd.Timestamp("2026-02-24", tz="UTC")


def levels(as_of: pd.Timestamp = AS_OF, source: str = "aave v3") -> ExactLevels:
    price = np.array([90.0, 95.0, 99.0, 101.0, 110.0])
    return ExactLevels(source, "BTC", as_of, price, price < 100, np.array([1.0, 2.0, 4.0, 8.0, 16.0]), positions=3)


def candles(lows: list[float], highs: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts = pd.date_range("2026-02-23 22:00", periods=len(lows), freq="1h", tz="UTC")
    return np.asarray(ts.as_unit("us").asi8), np.array(lows), np.array(highs)


def test_a_long_level_leaves_when_a_low_reaches_it_and_a_short_one_when_a_high_does() -> None:
    ts, low, high = candles([99.5, 99.5, 99.5, 96.0, 99.6, 99.6, 100.5], [100.5, 100.5, 100.5, 100.5, 100.5, 102.0, 102.0])
    lv = levels()
    assert not lv.open_at(ts, low, high, 1).any()  # candles 0 and 1 open before the snapshot: nothing known then
    assert lv.open_at(ts, low, high, 2).tolist() == [True, True, True, True, True]  # lowest 99.5, highest 100.5
    assert lv.open_at(ts, low, high, 3).tolist() == [True, True, False, True, True]  # a low of 96: 99 gone, 95 stays
    assert lv.open_at(ts, low, high, 5).tolist() == [True, True, False, False, True]  # a high of 102: 101 gone
    with pytest.raises(DomainError, match="candle 7 is outside 0 … 6"):
        lv.open_at(ts, low, high, 7)


def test_a_read_taken_inside_a_candle_shows_at_its_close_less_what_its_whole_range_reaches() -> None:
    """A live store reads every minute, so its newest read always falls inside the current candle: it must show when
    that candle closes (it showed nothing before), and a level the candle's range reaches is taken as crossed."""
    ts, low, high = candles([99.5, 99.5, 98.0, 99.6], [100.5, 100.5, 100.5, 100.5])  # 22:00, 23:00, 00:00, 01:00
    lv = levels(AS_OF + pd.Timedelta(minutes=30))  # inside the 00:00 candle
    assert not lv.open_at(ts, low, high, 1).any()
    assert lv.open_at(ts, low, high, 2).tolist() == [True, True, False, True, True]  # its low of 98 reaches 99
    assert lv.open_at(ts, low, high, 3).tolist() == [True, True, False, True, True]
    before_all = levels(pd.Timestamp("2026-02-23 20:00", tz="UTC"))  # before the first candle: known from it on
    assert before_all.open_at(ts, low, high, 0).tolist() == [True, True, True, True, True]


def test_a_later_snapshot_of_a_source_replaces_the_earlier_and_none_is_shown_before_the_first() -> None:
    early, late = levels(AS_OF), levels(AS_OF + pd.Timedelta(hours=6))
    other = levels(AS_OF, source="hyperliquid")
    sources = [Snapshots("aave v3", "BTC", (late, early)), Snapshots.of(other)]
    assert latest(sources, AS_OF - pd.Timedelta(hours=1)) == []
    assert latest(sources, AS_OF + pd.Timedelta(hours=1)) == [early, other]
    chosen = latest(sources, AS_OF + pd.Timedelta(hours=7))
    assert chosen[0] is late
    assert chosen[1] is other


def test_open_levels_are_summed_into_bins_a_level_on_an_edge_in_the_bin_above() -> None:
    lv = levels()
    edges = np.array([80.0, 95.0, 100.0, 105.0, 108.0])
    long, short = on_bins(lv, np.array([True, True, True, True, True]), edges)
    assert long.tolist() == [1.0, 6.0, 0.0, 0.0]  # 90 in the first; 95 (on an edge) and 99 in the second
    assert short.tolist() == [0.0, 0.0, 8.0, 0.0]  # 110 is beyond the edges: left out
    long, short = on_bins(lv, np.array([True, False, True, True, True]), edges)
    assert long.tolist() == [1.0, 4.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"usd": np.array([1.0, -2.0, 4.0, 8.0, 16.0])}, "aave v3: every usd must be a number ≥ 0"),
        ({"price": np.array([90.0, 0.0, 99.0, 101.0, 110.0])}, "aave v3: every price must be a number > 0"),
        ({"long": np.array([True, False])}, "aave v3: long has 2 values for 5 prices"),
        ({"coverage": -0.5}, "coverage must be a share ≥ 0"),
        ({"as_of": pd.Timestamp("2026-02-24")}, "as_of must carry a time zone"),
        ({"source": " "}, "an exact source needs a name"),
    ],
)
def test_bad_levels_are_refused_naming_the_field(change: dict[str, object], message: str) -> None:
    base = levels()
    fields = {k: getattr(base, k) for k in ("source", "symbol", "as_of", "price", "long", "usd", "positions", "coverage")}
    with pytest.raises(DomainError, match=message):
        ExactLevels(**{**fields, **change})  # type: ignore[arg-type]


def test_an_aave_snapshot_gives_the_calls_its_banded_map_sums(tmp_path: Path) -> None:
    from liqheat.venues.aave.snapshot import snapshot_map

    folder = write_aave_snapshot(tmp_path / "snap")
    lv = aave_levels(str(folder))
    assert (lv.source, lv.symbol, lv.as_of) == ("aave v3", "BTC", AS_OF)
    assert lv.positions == 3  # A, B and C (GHO is priced at $1); D owes WETH (no price), E is v2, F has no BTC, G is unhealthy
    assert len(lv.price) > 0
    assert np.all(lv.price[lv.long] < 60_000)  # healthy positions liquidate below today's price
    snap, banded = snapshot_map(folder, bands="1%", depth="60%")
    inside = (lv.price >= banded.edges[0]) & (lv.price < banded.edges[-1])
    assert lv.usd[inside & lv.long].sum() == pytest.approx(banded.long_usd.sum(), rel=1e-12)
    assert lv.usd[inside & ~lv.long].sum() == pytest.approx(banded.short_usd.sum(), rel=1e-12)
    assert snap.as_of == pd.Timestamp("2026-02-24")
