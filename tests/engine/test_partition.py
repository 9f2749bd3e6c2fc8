"""Months chained through the carried state replay a market exactly as one uninterrupted replay does."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from liqheat.engine.params import ModelParams
from liqheat.engine.partition import Carried, Month, replay_month
from liqheat.engine.replay import Engine, Grid, MarketView
from liqheat.evaluation.synthetic.market import SimParams, simulate
from liqheat.model import DomainError
from liqheat.timeutil import epoch_micros


@pytest.fixture(scope="module")
def market() -> MarketView:
    """70 days of 1-minute candles from mid-January: three calendar months, the first and last in part."""
    sim = simulate(SimParams(seed=11, days=70, substeps=1, opens_per_minute=2.0), start=pd.Timestamp("2026-01-20T00:00Z"))
    return MarketView.from_bundle(sim.bundle)


def _months(view: MarketView) -> list[tuple[int, int]]:
    """Calendar months of the view as [start, end) in µs."""
    first = pd.Timestamp(int(view.ts[0]), unit="us", tz="UTC").floor("D").replace(day=1)
    bounds = pd.date_range(first, periods=4, freq="MS")
    micros = epoch_micros(pd.Series(bounds))
    return [(int(a), int(b)) for a, b in itertools.pairwise(micros) if a <= view.ts[-1]]


def _chain(view: MarketView, params: ModelParams, *, through_bytes: bool, frame_every_us: int = 0) -> list[Month]:
    """Replay ``view`` a calendar month at a time from its raw samples, as a partition reads them."""
    out: list[Month] = []
    carried: Carried | None = None
    for start, until in _months(view):
        rows = (view.ts >= start) & (view.ts < until)
        oi = _samples(view, "oi", start, until)
        funding = _samples(view, "funding", start, until)
        candles = {"open": view.open[rows], "high": view.high[rows], "low": view.low[rows], "close": view.close[rows]}
        if view.volume is not None:
            candles["volume"] = view.volume[rows]
        if view.taker_buy is not None:
            candles["taker_buy_volume"] = view.taker_buy[rows]
        month = replay_month(
            params, view.symbol, 60_000_000, view.ts[rows], candles, oi, funding, carried, until=until,
            frame_every_us=frame_every_us,
        )  # fmt: skip
        carried = Carried.from_bytes(month.carried.to_bytes()) if through_bytes else month.carried
        out.append(month)
    return out


SAMPLES: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _samples(view: MarketView, name: str, start: int, until: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw samples stamped in [start, until + one candle]: what a partition reads from the store."""
    ts, values = SAMPLES[name]
    keep = (ts >= start) & (ts <= until + 60_000_000)
    return ts[keep], values[keep]


@pytest.fixture(scope="module", autouse=True)
def raw_samples() -> None:
    sim = simulate(SimParams(seed=11, days=70, substeps=1, opens_per_minute=2.0), start=pd.Timestamp("2026-01-20T00:00Z"))
    oi, funding = sim.bundle.open_interest, sim.bundle.funding
    assert funding is not None
    SAMPLES["oi"] = (epoch_micros(oi["ts"]), oi["oi_usd"].to_numpy(np.float64))
    SAMPLES["funding"] = (epoch_micros(funding["ts"]), funding["rate"].to_numpy(np.float64))


@pytest.mark.parametrize("through_bytes", [False, True])
def test_chained_months_equal_one_replay_bit_for_bit(market: MarketView, through_bytes: bool) -> None:
    params = ModelParams()
    whole = Engine.for_view(market, params)
    predictions, _, _ = whole.run(market)
    months = _chain(market, params, through_bytes=through_bytes)
    assert len(months) == 3
    chained = np.concatenate([m.predictions for m in months])
    assert chained.shape == predictions.shape
    assert chained.tobytes() == predictions.tobytes()
    assert predictions[:, :2].sum() > 0  # the market sweeps levels, so the comparison has something to compare
    state = months[-1].carried
    assert state.candles == len(market)
    for name in ("g_long", "g_short", "tot_long", "tot_short", "ledger"):
        assert getattr(state, name).tobytes() == getattr(whole, name).tobytes(), name
    on_whole = whole.grid.k0 + np.flatnonzero(whole.longs.any(axis=1) | whole.shorts.any(axis=1))
    assert state.k0 == on_whole[0]
    assert state.longs.tobytes() == whole.longs[on_whole[0] - whole.grid.k0 : on_whole[-1] - whole.grid.k0 + 1].tobytes()
    assert state.shorts.tobytes() == whole.shorts[on_whole[0] - whole.grid.k0 : on_whole[-1] - whole.grid.k0 + 1].tobytes()


def test_the_state_at_each_month_end_is_the_uninterrupted_replays(market: MarketView) -> None:
    params = ModelParams(volume_window_hours=24.0)
    months = _chain(market, params, through_bytes=True)
    whole = Engine.for_view(market, params)
    done = 0
    for month in months:
        whole.run(market, start=done, stop=done + len(month.ts))
        done += len(month.ts)
        state = whole.state()
        kept = month.carried
        held = np.flatnonzero(state["longs"].any(axis=1) | state["shorts"].any(axis=1))
        assert kept.k0 == whole.grid.k0 + held[0]
        assert kept.longs.tobytes() == state["longs"][held[0] : held[-1] + 1].tobytes()
        assert kept.g_short.tobytes() == state["g_short"].tobytes()


def test_frames_are_the_maps_after_their_candles(market: MarketView) -> None:
    params = ModelParams()
    day = 86_400_000_000
    months = _chain(market, params, through_bytes=False, frame_every_us=day)
    whole = Engine.for_view(market, params)
    at = np.flatnonzero((market.ts + 60_000_000) % day == 0)
    _, long, short = whole.run(market, frame_at=at)
    offset = 0
    got_long = []
    for month in months:
        assert np.all((month.ts[month.frame_at] + 60_000_000) % day == 0)
        offset += len(month.frame_at)
        source = Grid(lo=month.frame_k0 * params.bin_width, width=params.bin_width, n_bins=month.frames_long.shape[1])
        got_long.append(_moved(month.frames_long, source, whole.grid))
    assert offset == len(at)
    assert np.vstack(got_long).tobytes() == long.tobytes()
    assert short.sum() > 0


def _moved(rows: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Rows of maps on ``source``'s bins placed on ``target``'s (which holds every bin with a level)."""
    out = np.zeros((rows.shape[0], target.n_bins))
    shift = source.k0 - target.k0
    for i, b in zip(*np.nonzero(rows), strict=True):
        out[i, b + shift] = rows[i, b]
    return out


def test_a_month_before_its_carried_state_is_refused(market: MarketView) -> None:
    params = ModelParams()
    months = _chain(market, params, through_bytes=False)
    first = months[0]
    with pytest.raises(DomainError, match="after the carried state"):
        replay_month(params, market.symbol, 60_000_000, first.ts, {"open": market.open[: len(first.ts)],
                     "high": market.high[: len(first.ts)], "low": market.low[: len(first.ts)],
                     "close": market.close[: len(first.ts)]}, SAMPLES["oi"], None, first.carried,
                     until=int(first.ts[-1]) + 60_000_000)  # fmt: skip


def test_a_state_of_another_format_is_refused() -> None:
    with pytest.raises(DomainError, match="not an engine state"):
        Carried.from_bytes(b"nonsense")


def test_a_month_without_candles_carries_the_state_through(market: MarketView) -> None:
    """February missing (a venue down for a month): the chain passes it with its samples and decays over the gap."""
    start, until = _months(market)[1]
    keep = (market.ts < start) | (market.ts >= until)
    oi_ts, oi_values = SAMPLES["oi"]
    funding_ts, funding_values = SAMPLES["funding"]
    rows = {"open": market.open, "high": market.high, "low": market.low, "close": market.close}
    rows |= {"volume": market.volume, "taker_buy_volume": market.taker_buy}  # type: ignore[dict-item]
    candles = {k: v[keep] for k, v in rows.items()}
    gapped = MarketView.from_arrays(
        ts=market.ts[keep], candles=candles, oi=(oi_ts, oi_values), funding=(funding_ts, funding_values),
        timeframe_us=60_000_000, symbol=market.symbol,
    )  # fmt: skip
    params = ModelParams()
    expected, _, _ = Engine.for_view(gapped, params).run(gapped)
    months = _chain(gapped, params, through_bytes=True)
    assert [len(m.ts) for m in months][1] == 0
    assert np.concatenate([m.predictions for m in months]).tobytes() == expected.tobytes()
