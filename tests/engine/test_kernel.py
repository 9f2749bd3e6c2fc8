"""The numba kernel (``liqheat.engine.kernel``) driven through :class:`Engine`: sweeping, placement of new
levels, closing, ageing, the lazy scales and the sweep frontiers, on states whose every number is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqheat.engine import kernel
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, Grid, liquidation_offsets
from liqheat.model import DomainError

LO_PRICE = 50.0
HI_PRICE = 200.0


def make_engine(params: ModelParams, off_long: np.ndarray | None = None, off_short: np.ndarray | None = None) -> Engine:
    """An empty engine on a grid from 50 to 200 (about 1,387 bins of 0.1 %)."""
    if off_long is None or off_short is None:
        off_long, off_short = liquidation_offsets(params, "BTC")
    n_bins = math.ceil(math.log(HI_PRICE / LO_PRICE) / params.bin_width) + 1
    return Engine(params, Grid(lo=math.log(LO_PRICE), width=params.bin_width, n_bins=n_bins), off_long, off_short)


def bin_of(engine: Engine, log_price: float) -> int:
    """The bin the kernel files a log price under (same float expression as the kernel)."""
    return math.floor((log_price - engine.grid.lo) * (1.0 / engine.grid.width))


def center(engine: Engine, b: int) -> float:
    return math.exp(engine.grid.lo + (b + 0.5) * engine.grid.width)


def place(engine: Engine, longs: dict[tuple[int, int], float], shorts: dict[tuple[int, int], float]) -> None:
    """Put stored notional at (bin, leverage bucket) and make totals and frontiers consistent with it."""
    for (b, k), v in longs.items():
        engine.longs[b, k] = v
    for (b, k), v in shorts.items():
        engine.shorts[b, k] = v
    engine.tot_long[:] = (engine.longs * engine.g_long).sum(axis=0)
    engine.tot_short[:] = (engine.shorts * engine.g_short).sum(axis=0)
    engine.front[0] = max(b for b, _ in longs) if longs else -1
    engine.front[1] = min(b for b, _ in shorts) if shorts else engine.grid.n_bins


# ------------------------------------------------------------------------------------------ sweeping

LONG_LEVELS = {(100, 0): 1_000.0, (300, 1): 2_000.0, (300, 2): 4_000.0, (500, 0): 8_000.0}
SHORT_LEVELS = {(900, 2): 16_000.0, (1_100, 1): 32_000.0, (1_300, 0): 64_000.0, (1_300, 2): 128_000.0}


@pytest.fixture
def loaded() -> Engine:
    engine = make_engine(ModelParams(leverage_buckets=3, entry_points=1, intra_sweep=0.0))
    place(engine, LONG_LEVELS, SHORT_LEVELS)
    return engine


def test_candle_sweeps_longs_at_or_above_its_low_and_shorts_at_or_below_its_high(loaded: Engine) -> None:
    e = loaded
    long_before, short_before = e.at_risk()
    out = e.update(center(e, 1_100), center(e, 300), 0.0, 0.0, 0.5, 0.0)
    assert out[0] == pytest.approx(2_000 + 4_000 + 8_000, rel=1e-15)  # bins 300 and 500 (≥ the low's bin 300)
    assert out[1] == pytest.approx(16_000 + 32_000, rel=1e-15)  # bins 900 and 1,100 (≤ the high's bin 1,100)
    assert out[2] == 0.0
    assert out[3] == 0.0
    long_after, short_after = e.at_risk()
    assert long_after[300] == 0.0
    assert long_after[500] == 0.0
    assert short_after[900] == 0.0
    assert short_after[1_100] == 0.0
    # everything else is untouched
    assert long_after[100] == long_before[100] == 1_000.0
    assert short_after[1_300] == short_before[1_300] == 64_000 + 128_000
    assert long_after.sum() == pytest.approx(1_000.0)
    assert short_after.sum() == pytest.approx(192_000.0)
    assert e.total_at_risk == pytest.approx(193_000.0, rel=1e-15)
    assert e.ledger[1] == pytest.approx(14_000 + 48_000, rel=1e-15)
    assert e.ledger[0] == 0.0  # nothing was added by a candle with no gross opening

    # The same candle again meets an empty range: nothing more to sweep, nothing changes.
    again = e.update(center(e, 1_100), center(e, 300), 0.0, 0.0, 0.5, 0.0)
    assert list(again) == [0.0, 0.0, 0.0, 0.0]
    np.testing.assert_array_equal(e.at_risk()[0], long_after)
    np.testing.assert_array_equal(e.at_risk()[1], short_after)
    assert e.ledger[1] == pytest.approx(62_000, rel=1e-15)


def test_levels_just_outside_the_range_survive(loaded: Engine) -> None:
    e = loaded
    # low inside bin 301: the long levels in bin 300 lie below it; high inside bin 899: shorts in 900 lie above it
    out = e.update(center(e, 899), center(e, 301), 0.0, 0.0, 0.5, 0.0)
    assert out[0] == pytest.approx(8_000)
    assert out[1] == 0.0
    long_after, short_after = e.at_risk()
    assert long_after[300] == pytest.approx(6_000)
    assert short_after[900] == pytest.approx(16_000)
    # now one tick lower and higher, at the bins' lower edges, reaches them
    out = e.update(math.exp(e.grid.lo + 900 * e.grid.width) * (1 + 1e-9), math.exp(e.grid.lo + 300 * e.grid.width) * (1 + 1e-9),
                   0.0, 0.0, 0.5, 0.0)  # fmt: skip
    assert out[0] == pytest.approx(6_000)
    assert out[1] == pytest.approx(16_000)


def test_sweep_reports_notional_through_the_lazy_scales(loaded: Engine) -> None:
    e = loaded
    # stored × scale is what is at risk: change the scales, keep totals consistent
    e.g_long[:] = [0.5, 2.0, 0.25]
    e.g_short[:] = [3.0, 0.1, 1.0]
    e.tot_long[:] = (e.longs * e.g_long).sum(axis=0)
    e.tot_short[:] = (e.shorts * e.g_short).sum(axis=0)
    long_risk, short_risk = e.at_risk()
    assert long_risk[300] == pytest.approx(2_000 * 2.0 + 4_000 * 0.25)
    assert short_risk[1_300] == pytest.approx(64_000 * 3.0 + 128_000 * 1.0)
    out = e.update(center(e, 1_300), center(e, 50), 0.0, 0.0, 0.5, 0.0)  # sweeps every level
    assert out[0] == pytest.approx(1_000 * 0.5 + 2_000 * 2.0 + 4_000 * 0.25 + 8_000 * 0.5)
    assert out[1] == pytest.approx(16_000 * 1.0 + 32_000 * 0.1 + 64_000 * 3.0 + 128_000 * 1.0)
    assert e.total_at_risk == pytest.approx(0.0, abs=1e-9)
    assert not e.longs.any()
    assert not e.shorts.any()


def test_prices_beyond_the_grid_sweep_the_edge_bins(loaded: Engine) -> None:
    e = loaded
    out = e.update(HI_PRICE * 5, LO_PRICE / 5, 0.0, 0.0, 0.5, 0.0)
    assert out[0] == pytest.approx(15_000)
    assert out[1] == pytest.approx(240_000)
    assert e.total_at_risk == pytest.approx(0.0, abs=1e-9)


def test_frontier_follows_new_levels_above_an_earlier_sweep() -> None:
    """A sweep moves the long frontier down and the short one up; levels opened later beyond the
    frontier must still be found by later sweeps."""
    params = ModelParams(leverage_buckets=4, leverage_min=5.0, leverage_median=10.0, entry_points=3, intra_sweep=0.0)
    e = make_engine(params)  # liquidation distances from 0.4 % to 20 %: every level stays inside the grid
    e.update(101.0, 99.0, 1e6, 0.0, 0.5, 0.0)  # levels around 100
    e.update(100.0, 60.0, 0.0, 0.0, 0.5, 0.0)  # sweeps every long (frontier low)
    e.update(190.0, 100.0, 0.0, 0.0, 0.5, 0.0)  # sweeps every short (frontier high)
    assert e.total_at_risk == pytest.approx(0.0, abs=1e-6)
    e.update(151.0, 149.0, 2e6, 0.0, 0.5, 0.0)  # new longs below ~150 (far above the long frontier)
    long_risk, short_risk = e.at_risk()
    assert long_risk.sum() == pytest.approx(1e6)
    assert short_risk.sum() == pytest.approx(1e6)
    assert long_risk[: bin_of(e, math.log(100.0))].sum() == 0.0  # all new longs above the old frontier
    out = e.update(149.0, 60.0, 0.0, 0.0, 0.5, 0.0)
    assert out[0] == pytest.approx(1e6)
    out = e.update(190.0, 149.0, 0.0, 0.0, 0.5, 0.0)
    assert out[1] == pytest.approx(1e6)
    assert e.total_at_risk == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------------------------ opening levels


def expected_entries(e: Engine, high: float, low: float, gross: float, long_share: float) -> tuple[np.ndarray, ...]:
    """Reference placement of one candle's entries on an empty map (pure Python, from the docstrings):
    the maps, the notional swept inside the candle and the notional whose level lay inside it, per side."""
    p = e.params
    longs = np.zeros_like(e.longs)
    shorts = np.zeros_like(e.shorts)
    intra = [0.0, 0.0]
    inside_range = [0.0, 0.0]
    log_low, log_high = math.log(low), math.log(high)
    for j in range(p.entry_points):
        log_entry = log_low + (log_high - log_low) * (j + 0.5) / p.entry_points
        for k in range(len(e.weights)):
            amount = gross * e.weights[k] / p.entry_points
            for side, share, off, store in ((0, long_share, e.off_long, longs), (1, 1 - long_share, e.off_short, shorts)):
                a = amount * share
                level = log_entry + off[k]
                inside = level >= log_low if side == 0 else level <= log_high
                if inside:
                    inside_range[side] += a
                    intra[side] += a * p.intra_sweep
                    a *= 1 - p.intra_sweep
                store[min(max(bin_of(e, level), 0), e.grid.n_bins - 1), k] += a
    return longs, shorts, np.array(intra), np.array(inside_range)


def test_new_longs_lie_below_the_entries_and_shorts_above() -> None:
    params = ModelParams(leverage_buckets=8, entry_points=5, intra_sweep=0.5)
    e = make_engine(params)
    assert (e.off_long < 0).all()
    assert (e.off_short > 0).all()
    out = e.update(100.1, 99.9, 1e6, 0.0, 0.7, 0.0)
    assert out[2] == 0.0  # no level within a 0.2 % candle: none swept inside it
    assert out[3] == 0.0
    long_risk, short_risk = e.at_risk()
    assert long_risk.sum() == pytest.approx(0.7e6, rel=1e-12)
    assert short_risk.sum() == pytest.approx(0.3e6, rel=1e-12)
    assert np.flatnonzero(long_risk).max() < bin_of(e, math.log(99.9))
    assert np.flatnonzero(short_risk).min() > bin_of(e, math.log(100.1))
    exp_long, exp_short, _, inside = expected_entries(e, 100.1, 99.9, 1e6, 0.7)
    assert inside.sum() == 0.0
    np.testing.assert_allclose(e.longs * e.g_long, exp_long, rtol=1e-12, atol=0)
    np.testing.assert_allclose(e.shorts * e.g_short, exp_short, rtol=1e-12, atol=0)


@pytest.mark.parametrize("intra_sweep", [0.0, 0.3, 1.0])
def test_entries_inside_a_wide_candle_are_swept_with_probability_intra_sweep(intra_sweep: float) -> None:
    params = ModelParams(leverage_buckets=16, entry_points=7, intra_sweep=intra_sweep)
    e = make_engine(params)
    high, low, gross, share = 104.0, 96.0, 5e6, 0.4
    out = e.update(high, low, gross, 0.0, share, 0.0)
    exp_long, exp_short, intra, inside = expected_entries(e, high, low, gross, share)
    assert inside.min() > 0.01 * gross  # the case is meaningful: some levels do fall inside the candle
    np.testing.assert_allclose(intra, intra_sweep * inside, rtol=1e-12)
    assert out[0] == 0.0  # nothing existed before the candle
    assert out[1] == 0.0
    assert out[2] == pytest.approx(intra[0], rel=1e-12, abs=1e-9)
    assert out[3] == pytest.approx(intra[1], rel=1e-12, abs=1e-9)
    np.testing.assert_allclose(e.longs * e.g_long, exp_long, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(e.shorts * e.g_short, exp_short, rtol=1e-12, atol=1e-9)
    assert e.ledger[0] == pytest.approx(gross - intra.sum(), rel=1e-12)
    assert e.ledger[2] == pytest.approx(intra.sum(), rel=1e-12, abs=1e-9)
    # levels left in the map inside the candle's range wait for the next visit there
    inside_long = exp_long[bin_of(e, math.log(low)) :].sum()
    again = e.update(high, low, 0.0, 0.0, share, 0.0)
    assert again[0] == pytest.approx(inside_long, rel=1e-12, abs=1e-9)
    if intra_sweep == 1.0:
        assert again[0] <= exp_long[bin_of(e, math.log(low))].sum() + 1e-9  # only the low's own bin (bin resolution)


def test_no_gross_no_levels() -> None:
    e = make_engine(ModelParams())
    out = e.update(101.0, 99.0, 0.0, 0.0, 0.5, 1.0)
    assert list(out) == [0.0, 0.0, 0.0, 0.0]
    assert e.total_at_risk == 0.0
    assert not e.longs.any()
    assert e.ledger.sum() == 0.0


# -------------------------------------------------------------------------------- closing and ageing


def test_close_applies_before_the_candles_own_entries_and_ageing_after() -> None:
    params = ModelParams(leverage_buckets=5, entry_points=1, intra_sweep=0.0, half_life_hours=10.0, half_life_exponent=0.5)
    e = make_engine(params)
    # An empty map: closing half of nothing; the entries arrive after the close, then age 3 h.
    e.update(100.05, 99.95, 1e6, 0.5, 0.5, 3.0)
    halves = params.half_lives(e.leverages)
    decay = 2.0 ** (-3.0 / halves)
    for k in range(len(e.leverages)):
        mask = np.zeros(len(e.leverages), dtype=np.bool_)
        mask[k] = True
        long_k, short_k = e.at_risk(mask)
        assert long_k.sum() == pytest.approx(0.5e6 * e.weights[k] * decay[k], rel=1e-12)
        assert short_k.sum() == pytest.approx(0.5e6 * e.weights[k] * decay[k], rel=1e-12)
    assert e.ledger[3] == 0.0
    assert e.ledger[4] == pytest.approx(1e6 * float((e.weights * (1 - decay)).sum()), rel=1e-12)
    before = e.total_at_risk
    long_before, short_before = e.at_risk()
    # Closing 25 % scales every level by 0.75 (ageing 0 h leaves it there).
    out = e.update(100.05, 99.95, 0.0, 0.25, 0.5, 0.0)
    assert list(out) == [0.0, 0.0, 0.0, 0.0]
    assert e.total_at_risk == pytest.approx(0.75 * before, rel=1e-12)
    assert e.ledger[3] == pytest.approx(0.25 * before, rel=1e-12)
    np.testing.assert_allclose(e.at_risk()[0], 0.75 * long_before, rtol=1e-12)
    np.testing.assert_allclose(e.at_risk()[1], 0.75 * short_before, rtol=1e-12)
    # Higher leverage lives shorter.
    assert (np.diff(halves) < 0).all()


def test_full_close_empties_the_map_and_resets_the_scales() -> None:
    e = make_engine(ModelParams(leverage_buckets=4))
    e.update(101.0, 99.0, 1e6, 0.0, 0.5, 1.0)
    assert e.total_at_risk > 0
    held = e.total_at_risk
    out = e.update(100.5, 99.5, 0.0, 1.0, 0.5, 0.0)
    assert e.total_at_risk == 0.0
    assert not e.longs.any()
    assert not e.shorts.any()
    assert (e.g_long == 1.0).all()  # keep = 0 drove the scale below the renormalisation bound
    assert (e.g_short == 1.0).all()
    assert out[0] > 0  # the second candle first swept the leftovers inside its range ...
    assert e.ledger[3] == pytest.approx(held - out[0] - out[1], rel=1e-12)  # ... then closed all the rest
    # the map works as new afterwards: it holds exactly what the next candle adds
    added_before = e.ledger[0]
    e.update(100.1, 99.9, 2e6, 0.0, 0.5, 0.0)
    assert e.ledger[0] - added_before == pytest.approx(2e6, rel=1e-12)
    assert e.total_at_risk == pytest.approx(2e6, rel=1e-12)
    assert sum(a.sum() for a in e.at_risk()) == pytest.approx(2e6, rel=1e-12)


def test_lazy_scales_renormalise_instead_of_underflowing() -> None:
    params = ModelParams(leverage_buckets=3, entry_points=1, half_life_hours=0.02, half_life_exponent=0.0, intra_sweep=0.0)
    e = make_engine(params)
    f = 2.0**-50  # what is left after one hour at a 0.02 h half-life
    steady = 1e6 * f / (1 - f)  # 1e6 added per candle, then aged one hour
    renormalised = 0
    for _ in range(60):
        g_before = e.g_long.copy()
        e.update(100.05, 99.95, 1e6, 0.0, 0.5, 1.0)
        renormalised += int((e.g_long > g_before).any())  # a scale only grows when it is folded into the bins
        assert (e.g_long >= kernel.RENORM_BELOW).all()
        assert (e.g_short >= kernel.RENORM_BELOW).all()
        assert np.isfinite(e.longs).all()
        assert np.isfinite(e.shorts).all()
        assert e.total_at_risk == pytest.approx(steady, rel=1e-9)
        assert sum(a.sum() for a in e.at_risk()) == pytest.approx(steady, rel=1e-9)
    assert renormalised >= 4


# ----------------------------------------------------------------------------------------- snapshots


def test_snapshot_groups_bins_and_masks_leverage(loaded: Engine) -> None:
    e = loaded
    full_long, full_short = e.at_risk()
    for group in (1, 3, 64):
        n_out = -(-e.grid.n_bins // group)
        out_long, out_short = np.zeros(n_out), np.zeros(n_out)
        mask = np.array([True, False, True])
        kernel.snapshot(e.longs, e.shorts, e.g_long, e.g_short, mask, group, 0, out_long, out_short)
        masked_long, masked_short = e.at_risk(mask)
        pad = n_out * group - e.grid.n_bins
        np.testing.assert_allclose(out_long, np.pad(masked_long, (0, pad)).reshape(n_out, group).sum(axis=1))
        np.testing.assert_allclose(out_short, np.pad(masked_short, (0, pad)).reshape(n_out, group).sum(axis=1))
        for row0 in (0, 1, n_out // 2, n_out - 1):  # some rows: the same numbers as those rows of the whole, bit for bit
            rows_long, rows_short = np.zeros(n_out - row0 - (row0 > 0)), np.zeros(n_out - row0 - (row0 > 0))
            kernel.snapshot(e.longs, e.shorts, e.g_long, e.g_short, mask, group, row0, rows_long, rows_short)
            np.testing.assert_array_equal(rows_long, out_long[row0 : row0 + len(rows_long)])
            np.testing.assert_array_equal(rows_short, out_short[row0 : row0 + len(rows_short)])
    masked_long, masked_short = e.at_risk(np.array([True, False, True]))
    assert masked_long.sum() == pytest.approx(full_long.sum() - 2_000)
    assert masked_short.sum() == pytest.approx(full_short.sum() - 32_000)


def test_rescale_scales_every_level_and_the_total(loaded: Engine) -> None:
    e = loaded
    long_before, short_before = e.at_risk()
    e.rescale(2.0 * e.total_at_risk)
    long_after, short_after = e.at_risk()
    np.testing.assert_allclose(long_after, 2 * long_before, rtol=1e-12)
    np.testing.assert_allclose(short_after, 2 * short_before, rtol=1e-12)
    assert e.total_at_risk == pytest.approx(2 * (long_before.sum() + short_before.sum()), rel=1e-12)
    empty = make_engine(ModelParams())
    empty.rescale(1e9)  # nothing to scale: stays empty
    assert empty.total_at_risk == 0.0


@pytest.mark.parametrize(("high", "low"), [(99.0, 100.0), (100.0, 0.0), (100.0, -1.0), (math.nan, 99.0), (math.inf, 99.0)])
def test_update_rejects_impossible_candles(high: float, low: float) -> None:
    e = make_engine(ModelParams())
    with pytest.raises(DomainError, match="low"):
        e.update(high, low, 1e6, 0.0, 0.5, 1.0)
    assert e.total_at_risk == 0.0
