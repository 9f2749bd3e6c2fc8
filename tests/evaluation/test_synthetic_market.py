"""The synthetic market: determinism, exact liquidation prices, open-interest conservation, cascades, its bundle.

Most checks run on one simulated day (seed 1) built once per module; the cascade experiments run a few
more short markets. Times inside the simulator are ticks of ``1 / (60 · substeps)`` hours; the tests
recover a tick as ``round(hours · 60 · substeps)``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from liqheat.bundle import Bundle, read_bundle, write_bundle
from liqheat.evaluation.synthetic import kernel
from liqheat.evaluation.synthetic.market import TRUTH_COLUMNS, SimParams, SimResult, simulate, write_truth
from liqheat.model import ContractKind, DomainError, MarginMode, Market, Position, Side
from liqheat.venues.calc import calculate
from liqheat.venues.tables import lookup

MARKET = Market.parse_unified("BTC/USDT:USDT")
VT = lookup("binance", MARKET)
FLOORS = np.array([b.floor for b in VT.table.brackets])
CAPS = np.array([b.cap for b in VT.table.brackets])
MMR = np.array([b.mmr for b in VT.table.brackets])
CUM = np.array([b.maint_amount for b in VT.table.brackets])
MAX_LEV = np.array([b.max_leverage for b in VT.table.brackets])
TABLES = ("candles", "open_interest", "funding", "liquidations")
LIQUIDATED, CLOSED, OPEN = kernel.REASON_LIQUIDATED, kernel.REASON_CLOSED, kernel.REASON_OPEN


@pytest.fixture(scope="module")
def day() -> SimResult:
    return simulate(SimParams(days=1, seed=1))


def ticks(hours: np.ndarray | pd.Series, params: SimParams) -> np.ndarray:
    return np.rint(np.asarray(hours, dtype=np.float64) * 60 * params.substeps).astype(np.int64)


def assert_same_market(a: SimResult, b: SimResult) -> None:
    for name in TABLES:
        assert_frame_equal(getattr(a.bundle, name), getattr(b.bundle, name))
    assert a.bundle.meta == b.bundle.meta
    assert_frame_equal(a.positions, b.positions)
    assert_frame_equal(a.cascades, b.cascades)
    assert a.capacity_hit == b.capacity_hit


def assert_bundles_equal(a: Bundle, b: Bundle) -> None:
    assert a.meta == b.meta
    for name in TABLES:
        left, right = getattr(a, name), getattr(b, name)
        assert right is not None
        # side is read back as plain Python strings (object), the simulator builds pandas' string dtype
        assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=name != "liquidations")
        assert list(left.columns) == list(right.columns)


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_gives_the_same_market(day: SimResult) -> None:
    assert_same_market(day, simulate(SimParams(days=1, seed=1)))


def test_the_seed_is_set_at_every_call(day: SimResult) -> None:
    # numba's RNG is global: another market (and a stray draw) in between must not leak into the next run
    other = simulate(SimParams(days=0.5, seed=2, depth_usd=1e8))
    kernel.seed(12345)
    assert_same_market(day, simulate(SimParams(days=1, seed=1)))
    assert_same_market(other, simulate(SimParams(days=0.5, seed=2, depth_usd=1e8)))


def test_a_different_seed_gives_a_different_market(day: SimResult) -> None:
    other = simulate(SimParams(days=1, seed=2))
    close_a, close_b = day.bundle.candles["close"].to_numpy(), other.bundle.candles["close"].to_numpy()
    assert len(close_a) == len(close_b) == 1440
    assert (close_a != close_b).mean() > 0.99
    assert not day.positions.equals(other.positions)
    assert day.bundle.meta.source != other.bundle.meta.source  # the seed and the parameter digest are named


def test_start_only_shifts_the_clock(day: SimResult) -> None:
    shift = pd.Timedelta(days=3, hours=5)
    moved = simulate(SimParams(days=1, seed=1), start=day.start + shift)
    assert moved.start == day.start + shift
    for name in TABLES:
        a, b = getattr(day.bundle, name), getattr(moved.bundle, name)
        assert_frame_equal(a.drop(columns="ts"), b.drop(columns="ts"))
        assert (b["ts"] - a["ts"] == shift).all()
    assert_frame_equal(day.positions, moved.positions)
    assert moved.bundle.meta.score_from == day.bundle.meta.score_from + shift


def test_params_validate_and_round_trip() -> None:
    params = SimParams(days=2, seed=9, depth_usd=1e8)
    assert SimParams.from_dict(params.to_dict()) == params
    assert params.digest() == SimParams(days=2, seed=9, depth_usd=1e8).digest()
    assert params.digest() != SimParams(days=2, seed=10, depth_usd=1e8).digest()
    assert params.minutes == 2880
    assert params.ticks == 2880 * params.substeps
    with pytest.raises(DomainError, match="unknown simulation parameter"):
        SimParams.from_dict({**params.to_dict(), "depth": 1.0})
    bad_values = [
        {"days": 0},
        {"depth_usd": 0.0},
        {"shock_pct": -50.0},
        {"garch_alpha": 0.5, "garch_beta": 0.5},
        {"leverage_median": 1.0},
        {"size_min_usd": 3e7},
        {"substeps": 0},
    ]
    for bad in bad_values:
        with pytest.raises(DomainError, match="simulation parameter"):
            SimParams(**bad)  # type: ignore[arg-type]


def test_inverse_contracts_are_refused() -> None:
    with pytest.raises(DomainError, match="inverse"):
        simulate(SimParams(days=0.1, symbol="BTC/USD:BTC"))


# ---------------------------------------------------------------------------- exact liquidation prices


def test_positions_table_shape(day: SimResult) -> None:
    p = day.positions
    assert tuple(p.columns) == TRUTH_COLUMNS
    assert len(p) > 20_000
    assert not day.capacity_hit
    assert set(p["side"].unique()) == {1.0, -1.0}
    assert set(p["reason"].unique()) == {OPEN, CLOSED, LIQUIDATED}
    assert set(p["cross"].unique()) == {0.0, 1.0}
    assert (np.diff(p["open_h"].to_numpy()) >= 0).all()  # ids in order of opening
    still = p[p["reason"] == OPEN]
    assert (still["end_h"] == -1.0).all()
    assert (still["exit_price"] == 0.0).all()
    ended = p[p["reason"] != OPEN]
    assert (ended["end_h"] >= ended["open_h"]).all()
    assert (ended["end_h"] < 24).all()
    assert (ended["exit_price"] > 0).all()


def test_liquidation_price_solves_the_tier_equation(day: SimResult) -> None:
    """collateral + s·Q·(P − E) = Q·P·mmr − cum, in the tier holding Q·P (the last one open-ended)."""
    p = day.positions[day.positions["liq_price"] > 0]
    s, q, e, m, lp = (p[c].to_numpy() for c in ("side", "size", "entry", "margin", "liq_price"))
    tier = np.searchsorted(FLOORS, q * lp, side="right") - 1
    residual = m + s * q * (lp - e) - (q * lp * MMR[tier] - CUM[tier])
    assert np.abs(residual).max() <= 1e-9 * (q * lp).max()
    assert (np.abs(residual) <= 1e-9 * q * lp).all()
    # the sample reaches beyond the first tier on both sides
    assert (tier >= 1).sum() >= 10
    assert ((tier >= 1) & (s < 0)).any()
    assert ((tier >= 1) & (s > 0)).any()


def test_liquidation_price_equals_the_calculator(day: SimResult) -> None:
    """Every position's level is what ``liqheat calc`` says for Binance BTCUSDT (cross: margin = wallet)."""
    checked = {(True, 1.0): 0, (True, -1.0): 0, (False, 1.0): 0, (False, -1.0): 0}
    worst = 0.0
    for row in day.positions.itertuples(index=False):
        cross = bool(row.cross)
        position = Position(
            spec=VT.spec,
            side=Side.LONG if row.side > 0 else Side.SHORT,
            entry_price=row.entry,
            contracts=row.size,
            leverage=row.leverage,
            margin_mode=MarginMode.CROSS if cross else MarginMode.ISOLATED,
            margin=row.margin,
        )
        got = calculate("binance", position, table=VT, strict_leverage=False).liquidation_price
        if row.liq_price == 0:
            assert got == 0.0, row
        else:
            worst = max(worst, abs(got / row.liq_price - 1))
        checked[(cross, row.side)] += 1
    assert worst <= 1e-9
    assert min(checked.values()) > 1000


def test_never_liquidatable_positions_have_level_zero(day: SimResult) -> None:
    p = day.positions
    zero = p["liq_price"] == 0
    covers_all = (p["side"] > 0) & (p["margin"] >= p["size"] * p["entry"])  # a long whose collateral covers a fall to 0
    assert zero.sum() > 0
    assert (zero == covers_all).all()
    assert (p.loc[zero, "cross"] == 1).all()  # only extra cross collateral can cover the whole notional
    assert (p.loc[zero, "reason"] != LIQUIDATED).all()


def test_levels_lie_on_the_losing_side_of_entry(day: SimResult) -> None:
    p = day.positions[day.positions["liq_price"] > 0]
    long, short = p[p["side"] > 0], p[p["side"] < 0]
    assert (long["liq_price"] < long["entry"]).all()
    assert (short["liq_price"] > short["entry"]).all()


def test_leverage_respects_the_tier_maximum_at_entry(day: SimResult) -> None:
    p = day.positions
    notional = p["size"].to_numpy() * p["entry"].to_numpy()
    tier = np.minimum(np.searchsorted(CAPS, notional, side="right"), len(CAPS) - 1)
    lev = p["leverage"].to_numpy()
    assert (lev <= MAX_LEV[tier] * (1 + 1e-12)).all()
    assert lev.min() >= 1.5
    assert lev.max() <= SimParams().leverage_max
    assert (lev[tier >= 1] < MAX_LEV[0]).all()
    assert (tier >= 1).any()
    iso = p["cross"].to_numpy() == 0
    initial = notional / lev
    np.testing.assert_allclose(p["margin"].to_numpy()[iso], initial[iso], rtol=1e-12)
    assert (p["margin"].to_numpy()[~iso] >= initial[~iso] * (1 - 1e-12)).all()
    assert notional.max() <= SimParams().size_max_usd * (1 + 1e-9)
    assert notional.min() >= SimParams().size_min_usd * (1 - 1e-9)


def test_liquidated_positions_went_at_or_past_their_level(day: SimResult) -> None:
    p = day.positions
    liq = p[p["reason"] == LIQUIDATED]
    assert len(liq) > 500
    assert (liq["liq_price"] > 0).all()
    long, short = liq[liq["side"] > 0], liq[liq["side"] < 0]
    assert len(long) > 0
    assert len(short) > 0
    assert (long["exit_price"] <= long["liq_price"]).all()
    assert (short["exit_price"] >= short["liq_price"]).all()


def _range_extreme(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, pick: np.ufunc) -> np.ndarray:
    """``pick`` (np.minimum or np.maximum) of values[lo..hi] (inclusive) for each pair, by a sparse table."""
    levels = [values]
    while (1 << len(levels)) <= len(values):
        prev, half = levels[-1], 1 << (len(levels) - 1)
        levels.append(pick(prev[:-half], prev[half:]))
    j = np.floor(np.log2(hi - lo + 1)).astype(np.int64)
    out = np.empty(len(lo))
    for level in np.unique(j):
        m = j == level
        table = levels[level]
        out[m] = pick(table[lo[m]], table[hi[m] - (1 << level) + 1])
    return out


def test_no_position_stays_open_through_a_minute_that_reached_its_level() -> None:
    """Every price of a tick is checked against the heaps, so a whole minute spent open means its range missed the level."""
    params = SimParams(days=2, seed=7)
    sim = simulate(params)
    assert sim.cascades["rounds"].max() < 200  # the round cap (an unchecked last price) is never hit here
    p, c = sim.positions, sim.bundle.candles
    opened = ticks(p["open_h"], params)
    ended = np.where(p["end_h"] >= 0, ticks(p["end_h"], params), params.ticks)
    first = opened // params.substeps + 1  # first minute that starts after the opening tick
    last = ended // params.substeps - 1  # last minute that ends before the closing tick
    whole = first <= last
    assert whole.sum() > 40_000
    low = _range_extreme(c["low"].to_numpy(), first[whole], last[whole], np.minimum)
    high = _range_extreme(c["high"].to_numpy(), first[whole], last[whole], np.maximum)
    side, level = p["side"].to_numpy()[whole], p["liq_price"].to_numpy()[whole]
    assert not ((side > 0) & (level > 0) & (low <= level)).any()
    assert not ((side < 0) & (high >= level)).any()
    # and the check has teeth: many positions spent whole minutes within 0.5 % of their level
    near = np.where(side > 0, low / np.where(level > 0, level, np.inf), level / high) - 1
    assert ((near > 0) & (near < 0.005)).sum() > 100


@pytest.mark.parametrize(("seed", "days"), [(55, 1.0), (47, 0.5)])
def test_voluntary_closes_never_happen_past_the_level(seed: int, days: float) -> None:
    p = simulate(SimParams(days=days, seed=seed)).positions
    closed = p[(p["reason"] == CLOSED) & (p["liq_price"] > 0)]
    assert len(closed) > 1000
    long_past = (closed["side"] > 0) & (closed["exit_price"] <= closed["liq_price"])
    short_past = (closed["side"] < 0) & (closed["exit_price"] >= closed["liq_price"])
    past = closed[long_past | short_past]
    assert past.empty, past.to_string()


# ------------------------------------------------------------------------------- open interest


def test_open_interest_is_conserved_per_side(day: SimResult) -> None:
    """Size opened − closed − liquidated, replayed from the truth, is the open interest and the imbalance the kernel
    publishes at every hour (``oi_usd`` = (long + short)/2 × close; funding = gain × (long − short)/(long + short))."""
    params = day.params
    p = day.positions
    side, size = p["side"].to_numpy(), p["size"].to_numpy()
    open_t = ticks(p["open_h"], params)
    end_t = np.where(p["end_h"] >= 0, ticks(p["end_h"], params), np.iinfo(np.int64).max)
    closed = p["reason"].to_numpy() == CLOSED
    liquidated = p["reason"].to_numpy() == LIQUIDATED
    oi = day.bundle.open_interest
    funding = day.bundle.funding
    assert funding is not None
    candles = day.bundle.candles.set_index("ts")
    hours = np.arange(1, 25)
    assert (oi["ts"] == day.start + pd.to_timedelta(hours, unit="h")).all()
    assert (funding["ts"] == oi["ts"]).all()
    for i, hour in enumerate(hours):
        tick = hour * 60 * params.substeps - 1  # sampled after the hour's last tick, stamped at the hour
        per_side = {}
        for s in (1.0, -1.0):
            mine = side == s
            opened = size[mine & (open_t <= tick)].sum()
            gone_closed = size[mine & closed & (end_t <= tick)].sum()
            gone_liq = size[mine & liquidated & (end_t <= tick)].sum()
            per_side[s] = opened - gone_closed - gone_liq
        long_oi, short_oi = per_side[1.0], per_side[-1.0]
        close = candles.loc[oi["ts"].iloc[i] - pd.Timedelta(minutes=1), "close"]
        assert oi["oi_usd"].iloc[i] / close == pytest.approx((long_oi + short_oi) / 2, rel=1e-9)
        expected_rate = min(
            params.funding_cap, max(-params.funding_cap, params.funding_gain * (long_oi - short_oi) / (long_oi + short_oi))
        )
        assert funding["rate"].iloc[i] == pytest.approx(expected_rate, rel=1e-6, abs=1e-15)
    assert funding["rate"].abs().max() > 1e-6  # the imbalance check is not vacuous
    # at the end of the run what was opened and neither closed nor liquidated is exactly what is still open
    for s in (1.0, -1.0):
        mine = side == s
        balance = size[mine].sum() - size[mine & closed].sum() - size[mine & liquidated].sum()
        assert balance == pytest.approx(size[mine & (p["reason"].to_numpy() == OPEN)].sum(), rel=1e-9)
        assert size[mine & closed].sum() > 0
        assert size[mine & liquidated].sum() > 0


# ------------------------------------------------------------------------------------- cascades

SHOCK_MARKET = {"days": 1.0, "daily_vol": 0.01, "jumps_per_day": 0.0, "leverage_max": 20.0, "shock_hour": 20.0, "shock_pct": -6.0}


@pytest.mark.parametrize("seed", [7, 1, 5])
def test_a_shock_cascades_harder_into_a_thinner_book(seed: int) -> None:
    """A controlled experiment: a calm, ≤ 20x market has no forced order before the shock, so the book the shock
    hits is identical at every depth; only the impact of forced orders differs."""
    depths = (1e9, 3e8, 1e8)
    runs = [simulate(SimParams(seed=seed, depth_usd=d, **SHOCK_MARKET)) for d in depths]  # type: ignore[arg-type]
    shock_ts = runs[0].start + pd.Timedelta(hours=20)
    shock_minute = 20 * 60
    for run in runs:
        p = run.positions
        assert not ((p["reason"] == LIQUIDATED) & (p["end_h"] < 20 - 1e-9)).any()
        assert_frame_equal(run.bundle.candles.iloc[:shock_minute], runs[0].bundle.candles.iloc[:shock_minute])
        before = p[p["open_h"] < 20 - 1e-9]
        assert len(before) == (runs[0].positions["open_h"] < 20 - 1e-9).sum()
        book = ["side", "size", "entry", "leverage", "liq_price"]
        assert_frame_equal(before[book], runs[0].positions.loc[before.index, book])
    rows = []
    for run in runs:
        at = run.cascades[run.cascades["ts"] == shock_ts]
        assert len(at) == 1, "the shock tick must cascade"
        row = at.iloc[0]
        prev_close = run.bundle.candles["close"].iloc[shock_minute - 1]
        assert row["price_before"] / prev_close == pytest.approx(0.94, abs=0.005)  # the shock itself, −6 %
        liq = run.positions[run.positions["reason"] == LIQUIDATED]
        window = liq[(liq["end_h"] >= 20 - 1e-9) & (liq["end_h"] < 20 + 10 / 60)]
        rows.append((row["usd"], abs(row["move_pct"]), row["rounds"], (window["size"] * window["exit_price"]).sum()))
    usd, move, rounds, window_usd = (np.array(col) for col in zip(*rows, strict=True))
    assert (np.diff(usd) > 0).all(), usd  # more forced notional in the shock tick as depth shrinks
    assert (np.diff(move) > 0).all(), move  # and a larger move
    assert (np.diff(rounds) >= 0).all(), rounds
    assert rounds[-1] > rounds[0], rounds
    assert (np.diff(window_usd) > 0).all(), window_usd  # and in the ten minutes that follow
    assert (window_usd >= usd * (1 - 1e-12)).all(), window_usd
    assert move[-1] > 2 * move[0]  # √(10) ≈ 3.2 times the impact per unit


def test_depth_already_matters_before_a_late_shock() -> None:
    """Without the controls above, forced orders before the shock differ by depth: the markets part at the first one."""
    base = {"days": 2.0, "seed": 7, "shock_hour": 36.0, "shock_pct": -6.0}
    thin = simulate(SimParams(depth_usd=1e8, **base))  # type: ignore[arg-type]
    deep = simulate(SimParams(depth_usd=1e9, **base))  # type: ignore[arg-type]
    first_liq = thin.positions.loc[thin.positions["reason"] == LIQUIDATED, "end_h"].min()
    assert first_liq == deep.positions.loc[deep.positions["reason"] == LIQUIDATED, "end_h"].min()
    minute = int(ticks(np.array([first_liq]), thin.params)[0] // thin.params.substeps)
    assert 0 < minute < 36 * 60
    assert_frame_equal(thin.bundle.candles.iloc[:minute], deep.bundle.candles.iloc[:minute])
    assert thin.bundle.candles["close"].iloc[minute] != deep.bundle.candles["close"].iloc[minute]
    thin_pre = (thin.positions["reason"] == LIQUIDATED) & (thin.positions["end_h"] < 36)
    deep_pre = (deep.positions["reason"] == LIQUIDATED) & (deep.positions["end_h"] < 36)
    assert thin_pre.sum() > deep_pre.sum()  # a thin book has already flushed more levels by the time of the shock


def test_a_shock_leaves_the_past_alone() -> None:
    calm = simulate(SimParams(seed=3, **{**SHOCK_MARKET, "shock_pct": 0.0, "shock_hour": -1.0}))  # type: ignore[arg-type]
    shocked = simulate(SimParams(seed=3, **SHOCK_MARKET))  # type: ignore[arg-type]
    m = 20 * 60
    assert_frame_equal(calm.bundle.candles.iloc[:m], shocked.bundle.candles.iloc[:m])
    assert shocked.bundle.candles["open"].iloc[m] / calm.bundle.candles["open"].iloc[m] == pytest.approx(0.94, rel=1e-12)
    # the book answers: the forced orders take the price below where the shock alone left it
    assert shocked.bundle.candles["low"].iloc[m] < shocked.bundle.candles["open"].iloc[m]
    assert (shocked.positions["reason"] == LIQUIDATED).sum() > (calm.positions["reason"] == LIQUIDATED).sum()


def test_a_deep_book_hardly_cascades() -> None:
    thin = simulate(SimParams(days=2, seed=7, depth_usd=1e8))
    deep = simulate(SimParams(days=2, seed=7, depth_usd=1e13))
    assert (thin.cascades["rounds"] >= thin.params.cascade_rounds).all()
    assert len(thin.cascades) >= 20
    assert len(deep.cascades) < len(thin.cascades) / 10
    assert (deep.positions["reason"] == LIQUIDATED).sum() > 1000  # levels are still reached, one by one
    assert len(deep.cascades) == 0 or deep.cascades["move_pct"].abs().max() < 0.01


def test_cascades_are_the_ticks_with_many_rounds(day: SimResult) -> None:
    """Each cascade row sums the forced orders of its tick; round r liquidates at the price round r − 1 left."""
    casc = day.cascades
    assert list(casc.columns) == ["ts", "rounds", "usd", "price_before", "price_after", "move_pct"]
    assert len(casc) >= 10
    assert (casc["rounds"] >= day.params.cascade_rounds).all()
    assert casc["ts"].is_monotonic_increasing
    assert casc["ts"].is_unique
    liq = day.bundle.liquidations
    assert liq is not None
    orders = liq[liq["price"].notna()]
    for row in casc.itertuples(index=False):
        mine = orders[orders["ts"] == row.ts]
        assert mine["usd"].sum() == pytest.approx(row.usd, rel=1e-9)
        assert mine["price"].nunique() == row.rounds
        assert row.price_before in set(mine["price"])
        assert row.move_pct == pytest.approx((row.price_after / row.price_before - 1) * 100, rel=1e-12)
        signed = np.where(mine["side"] == "short", 1.0, -1.0) @ mine["usd"].to_numpy()
        assert math.copysign(1.0, row.move_pct) == math.copysign(1.0, signed)  # forced buying lifts the price


# ---------------------------------------------------------------------------------------- the bundle


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_the_published_bundle_validates_and_round_trips(day: SimResult, tmp_path: Path, fmt: str) -> None:
    folder = write_bundle(day.bundle, tmp_path / "syn", fmt=fmt)  # type: ignore[arg-type]
    back = read_bundle(folder)
    assert_bundles_equal(day.bundle, back)
    assert back.warnings == ()
    assert all(g.count == 0 for g in back.gaps)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["meta.json", *(f"{t}.{fmt}" for t in TABLES)])


def test_meta(day: SimResult) -> None:
    meta = day.bundle.meta
    assert (meta.symbol, meta.quote, meta.contract, meta.timeframe) == ("BTC", "USDT", ContractKind.LINEAR, "1m")
    assert meta.venues == ("synthetic",)
    assert (meta.funding_interval, meta.liquidations_interval) == ("1h", "1h")
    assert meta.score_from == day.start + pd.Timedelta(hours=8)  # a third of a 1-day run
    assert "seed 1" in meta.source
    assert day.params.digest() in meta.source
    long_run = simulate(SimParams(days=12, seed=1, opens_per_minute=0.5))
    assert long_run.bundle.meta.score_from == long_run.start + pd.Timedelta(days=3)  # capped at 3 days


def test_candles_cover_every_minute(day: SimResult) -> None:
    c = day.bundle.candles
    assert len(c) == 1440
    assert (c["ts"] == day.start + pd.to_timedelta(np.arange(1440), unit="min")).all()
    assert (c["low"] <= c[["open", "close"]].min(axis=1)).all()
    assert (c["high"] >= c[["open", "close"]].max(axis=1)).all()
    assert (c["volume"] > 0).all()
    assert (c["taker_buy_volume"] <= c["volume"]).all()
    assert (c["taker_buy_volume"] > 0).all()
    assert c["open"].iloc[0] == pytest.approx(day.params.start_price, rel=0.01)


def test_liquidation_orders_are_the_liquidated_positions(day: SimResult) -> None:
    liq = day.bundle.liquidations
    assert liq is not None
    orders = liq[liq["price"].notna()]
    assert (orders["usd"] > 0).all()
    truth = day.positions[day.positions["reason"] == LIQUIDATED]
    expected = pd.DataFrame(
        {
            "ts": day.start + pd.to_timedelta(ticks(truth["end_h"], day.params) * 10, unit="s"),
            "side": np.where(truth["side"] > 0, "long", "short"),
            "usd": truth["size"].to_numpy() * truth["exit_price"].to_numpy(),
            "price": truth["exit_price"].to_numpy(),
        }
    )
    expected["ts"] = expected["ts"].astype("datetime64[us, UTC]")
    key = ["ts", "side", "usd"]
    got = orders.sort_values(key).reset_index(drop=True)
    want = expected.sort_values(key).reset_index(drop=True)
    assert_frame_equal(got, want, check_dtype=False)
    assert liq["ts"].is_monotonic_increasing


def test_quiet_hours_have_zero_totals(day: SimResult) -> None:
    liq = day.bundle.liquidations
    assert liq is not None
    zeros = liq[liq["price"].isna()]
    assert (zeros["usd"] == 0).all()
    assert (zeros["ts"] == zeros["ts"].dt.floor("1h")).all()
    orders = liq[liq["price"].notna()]
    busy = set(zip(orders["ts"].dt.floor("1h"), orders["side"], strict=True))
    quiet = list(zip(zeros["ts"], zeros["side"], strict=True))
    assert len(quiet) == len(set(quiet))  # one zero total per hour and side
    hours = day.start + pd.to_timedelta(np.arange(24), unit="h")
    every = {(h, s) for h in hours for s in ("long", "short")}
    assert set(quiet) == every - busy
    assert set(quiet).isdisjoint(busy)
    assert 0 < len(quiet) < len(every)


def test_write_truth(day: SimResult, tmp_path: Path) -> None:
    write_truth(day, tmp_path / "truth")
    positions = pd.read_parquet(tmp_path / "truth" / "positions.parquet")
    assert_frame_equal(positions.drop(columns="open_ts"), day.positions)
    opened = pd.to_datetime(positions["open_ts"], utc=True)
    seconds = (opened - day.start).dt.total_seconds().to_numpy()
    np.testing.assert_allclose(seconds, ticks(day.positions["open_h"], day.params) * 10.0, rtol=0, atol=1e-3)
    cascades = pd.read_csv(tmp_path / "truth" / "cascades.csv", parse_dates=["ts"])
    assert len(cascades) == len(day.cascades)
    np.testing.assert_array_equal(cascades["rounds"], day.cascades["rounds"])
    np.testing.assert_allclose(cascades["usd"], day.cascades["usd"], rtol=1e-12)
    assert (pd.to_datetime(cascades["ts"], utc=True) == day.cascades["ts"]).all()
    saved = json.loads((tmp_path / "truth" / "params.json").read_text(encoding="utf-8"))
    assert SimParams.from_dict(saved) == day.params
