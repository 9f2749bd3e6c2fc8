"""Replay and incremental update (``liqheat.engine.replay``): causality, conservation of notional and
agreement of the batch and incremental paths, on the shared bundles and on synthetic ones."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqheat.bundle import Bundle, BundleMeta, read_bundle
from liqheat.engine.frames import heatmap_frame
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, Grid, MarketView, drivers, liquidation_offsets, relative_activity
from liqheat.evaluation.fit import predict
from liqheat.model import ContractKind, DomainError

BUNDLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bundles"
SHARED_NAMES = ("btc-agg-1h-dec-feb", "btc-hyperliquid-1h-2025", "eth-hyperliquid-1h-2025", "sol-hyperliquid-1h-2025")

_cache: dict[str, Bundle] = {}


def shared(name: str) -> Bundle:
    folder = BUNDLES / name
    if not (folder / "meta.json").is_file():
        pytest.skip(f"shared bundle {folder} is absent (../shared/data/bundles next to the repository)")
    if name not in _cache:
        _cache[name] = read_bundle(folder)
    return _cache[name]


# ------------------------------------------------------------------------------------- synthetic data


def utc_range(start: str, n: int, freq: str = "1h") -> pd.Series:
    return pd.Series(pd.date_range(start, periods=n, freq=freq, tz="UTC").astype("datetime64[us, UTC]"))


def ohlc(closes: np.ndarray, first_open: float, rng: np.random.Generator, wick: float = 0.004) -> pd.DataFrame:
    opens = np.concatenate(([first_open], closes[:-1]))
    high = np.maximum(opens, closes) * np.exp(np.abs(rng.normal(0, wick, len(closes))))
    low = np.minimum(opens, closes) * np.exp(-np.abs(rng.normal(0, wick, len(closes))))
    return pd.DataFrame({"open": opens, "high": high, "low": low, "close": closes})


def synthetic_bundle(n: int = 240, seed: int = 0, *, volume: bool = True, funding: bool = True, p0: float = 100.0,
                     step: float = 0.008, start: str = "2026-01-01T00:00:00Z") -> Bundle:  # fmt: skip
    """A random-walk market on 1h candles: OI sampled at each candle's close (one sample missing),
    optional volume / taker buy volume and funding, and hourly realized liquidations."""
    rng = np.random.default_rng(seed)
    closes = p0 * np.exp(np.cumsum(rng.normal(0, step, n)))
    candles = ohlc(closes, p0, rng)
    candles.insert(0, "ts", utc_range(start, n))
    if volume:
        candles["volume"] = rng.lognormal(3, 0.5, n)
        candles["taker_buy_volume"] = candles["volume"] * rng.uniform(0.2, 0.8, n)
    oi_ts = utc_range(start, n) + pd.Timedelta(hours=1)
    oi = pd.DataFrame({"ts": oi_ts, "oi_usd": 1e9 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))}).drop(index=n // 3)
    funding_frame = pd.DataFrame({"ts": oi_ts, "rate": rng.normal(0, 1e-4, n)}) if funding else None
    down = (candles["open"] - candles["low"]) / candles["open"]
    up = (candles["high"] - candles["open"]) / candles["open"]
    liq = pd.concat(
        [
            pd.DataFrame({"ts": candles["ts"], "side": "long", "usd": 1e9 * down * rng.lognormal(0, 0.5, n)}),
            pd.DataFrame({"ts": candles["ts"], "side": "short", "usd": 1e9 * up * rng.lognormal(0, 0.5, n)}),
        ]
    ).sort_values(["ts", "side"], kind="stable", ignore_index=True)
    meta = BundleMeta(
        symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("binance",), source="synthetic",
        funding_interval="8h" if funding else None, liquidations_interval="1h", score_from=candles["ts"].iloc[min(48, n - 1)],
    )  # fmt: skip
    return Bundle(meta=meta, candles=candles, open_interest=oi.reset_index(drop=True), funding=funding_frame, liquidations=liq)


def replace_from(bundle: Bundle, t: int, new_ohlc: pd.DataFrame, oi_factor: float = 3.0, seed: int = 1) -> Bundle:
    """``bundle`` with candles ≥ t replaced by ``new_ohlc`` (volumes and funding redrawn) and every open
    interest sample after candle t's open multiplied by ``oi_factor``."""
    rng = np.random.default_rng(seed)
    c = bundle.candles.copy()
    for column in ("open", "high", "low", "close"):
        c.loc[t:, column] = new_ohlc[column].to_numpy()
    if "volume" in c:
        c.loc[t:, "volume"] = rng.lognormal(5, 1, len(c) - t)
        c.loc[t:, "taker_buy_volume"] = c.loc[t:, "volume"] * rng.uniform(0, 1, len(c) - t)
    t_open = c["ts"].iloc[t]
    oi = bundle.open_interest.copy()
    oi.loc[oi["ts"] > t_open, "oi_usd"] *= oi_factor
    funding = bundle.funding
    if funding is not None:
        funding = funding.copy()
        later = funding["ts"] > t_open
        funding.loc[later, "rate"] = rng.normal(0, 5e-4, int(later.sum()))
    return replace(bundle, candles=c, open_interest=oi, funding=funding)


def permuted_from(bundle: Bundle, t: int, seed: int = 0) -> pd.DataFrame:
    """Candles ≥ t in another order: different values at every time, same extremes."""
    later = bundle.candles.loc[t:, ["open", "high", "low", "close"]].reset_index(drop=True)
    order = np.random.default_rng(seed).permutation(len(later))
    if (order == np.arange(len(later))).all():
        order = order[::-1]
    return later.iloc[order].reset_index(drop=True)


BUSY = ModelParams(split_damping=0.3, funding_weight=0.5, intra_sweep=0.5, turnover_per_hour=0.05, volume_window_hours=24.0)


def values(frame: pd.DataFrame) -> np.ndarray:
    return frame[["long_usd", "short_usd"]].to_numpy()


# ------------------------------------------------------------------------------------------ the view


def test_market_view_looks_up_open_interest_causally() -> None:
    b = synthetic_bundle(n=12, funding=False)
    oi = b.open_interest
    v = MarketView.from_bundle(b)
    assert len(v) == 12
    assert v.timeframe_hours == 1.0
    assert v.symbol == "BTC"
    assert math.isnan(v.oi_before[0])  # the first sample is stamped at the first candle's close
    assert v.oi_after[0] == oi["oi_usd"].iloc[0]
    np.testing.assert_array_equal(v.oi_before[1:], v.oi_after[:-1])
    # sample n // 3 = 4 is missing (stamped at 05:00): 05:00 carries 04:00's value forward
    assert v.oi_after[4] == v.oi_after[3] == oi.loc[oi["ts"] == pd.Timestamp("2026-01-01T04:00Z"), "oi_usd"].iloc[0]
    assert v.oi_before[5] == v.oi_after[3]
    assert (v.funding == 0).all()
    np.testing.assert_array_equal(v.high, b.candles["high"].to_numpy())
    assert v.volume is not None
    assert v.taker_buy is not None


def test_relative_activity_uses_only_earlier_candles() -> None:
    volume = np.array([10.0, 20.0, 30.0, 0.0, 40.0, 5.0])
    rel = relative_activity(volume, 2)
    expected = [1.0, 20 / 10, 30 / 15, 0 / 25, 40 / 15, 5 / 20]
    np.testing.assert_allclose(rel, expected, rtol=1e-14)
    assert relative_activity(np.array([0.0, 0.0, 7.0]), 3)[2] == 1.0  # nothing to compare with
    changed = volume.copy()
    changed[4:] = [1e6, 1e-6]
    np.testing.assert_array_equal(relative_activity(changed, 2)[:4], rel[:4])


def test_drivers_by_hand() -> None:
    ts = utc_range("2026-01-01T00:00:00Z", 4)
    ts.iloc[3] = ts.iloc[2] + pd.Timedelta(hours=3)  # a 2-candle gap
    candles = pd.DataFrame({"ts": ts, "open": [100.0, 100, 100, 100], "high": [101.0, 102, 100, 100],
                            "low": [99.0, 100, 98, 100], "close": [100.5, 102, 98, 100]})  # fmt: skip
    oi = pd.DataFrame({"ts": ts + pd.Timedelta(hours=1), "oi_usd": [1000.0, 1100.0, 900.0, 900.0]})
    meta = BundleMeta(symbol="BTC", contract=ContractKind.LINEAR, quote="USD", timeframe="1h", venues=("x",), source="hand")
    v = MarketView.from_bundle(Bundle(meta=meta, candles=candles, open_interest=oi))
    p = ModelParams(turnover_per_hour=0.01, at_risk_share=0.5, split_damping=0.2)
    d = drivers(v, p)
    # candle 0 knows no open interest at its open: no turnover, no change
    np.testing.assert_allclose(d.gross, [0.0, 0.5 * (10 + 100), 0.5 * 11, 0.5 * 9], rtol=1e-14)
    np.testing.assert_allclose(d.close_frac, [0.0, 10 / 1000, (11 + 200) / 1100, 9 / 900], rtol=1e-14)
    np.testing.assert_allclose(d.long_share, [0.5 + 0.2 * 0.25, 0.7, 0.3, 0.5], rtol=1e-14)
    np.testing.assert_array_equal(d.dt_hours, [1.0, 1.0, 1.0, 3.0])


def test_liquidation_offsets_follow_binance_tier_one() -> None:
    p = ModelParams()
    off_long, off_short = liquidation_offsets(p, "BTC")
    lev, weights = p.leverages()
    assert weights.sum() == pytest.approx(1.0)
    assert lev[0] == pytest.approx(p.leverage_min)
    assert lev[-1] == pytest.approx(125.0)
    # isolated at initial margin, MMR 0.4 %: long LP = EP (1 − 1/L) / (1 − MMR), short LP = EP (1 + 1/L) / (1 + MMR)
    np.testing.assert_allclose(off_long, np.log((1 - 1 / lev) / (1 - 0.004)), rtol=1e-9)
    np.testing.assert_allclose(off_short, np.log((1 + 1 / lev) / (1 + 0.004)), rtol=1e-9)
    assert (np.diff(off_long) > 0).all()  # higher leverage liquidates closer
    assert (np.diff(off_short) < 0).all()


@pytest.mark.parametrize(
    ("venue", "symbol"),
    [
        ("binance", "BTC"),
        ("binance", "SOL"),
        ("bybit", "BTC"),
        ("bybit-classic", "ETH"),
        ("okx", "BTC"),
        ("okx", "SOL"),
        ("hyperliquid", "BTC"),
    ],
)
def test_liquidation_offsets_for_every_venue(venue: str, symbol: str) -> None:
    off_long, off_short = liquidation_offsets(ModelParams(venue=venue), symbol)
    assert np.isfinite(off_long).all()
    assert np.isfinite(off_short).all()
    assert (off_long <= 0).all()
    assert (off_short >= 0).all()
    assert (np.diff(off_long) >= 0).all()
    assert (np.diff(off_short) <= 0).all()
    assert off_long[0] < -0.6  # 2×: about half the price away
    assert off_short[0] > 0.35


# ------------------------------------------------------------------------------------------ causality


def fixed_grid_predictions(view: MarketView, params: ModelParams, grid: Grid) -> np.ndarray:
    off_long, off_short = liquidation_offsets(params, view.symbol)
    predictions, _, _ = Engine(params, grid, off_long, off_short).run(view)
    return predictions


@pytest.mark.parametrize("t", [1, 60, 150, 230])
def test_causality_synthetic(t: int) -> None:
    b = synthetic_bundle()
    changed = replace_from(b, t, permuted_from(b, t))
    assert not np.array_equal(changed.candles["high"].to_numpy()[t:], b.candles["high"].to_numpy()[t:])
    before, after = predict(b, BUSY), predict(changed, BUSY)
    np.testing.assert_array_equal(values(after)[:t], values(before)[:t])  # bit for bit
    assert not np.array_equal(values(after)[t:], values(before)[t:])  # the change did reach the later candles


def test_causality_real_bundle() -> None:
    b = shared("btc-agg-1h-dec-feb")
    t = 1_000
    changed = replace_from(b, t, permuted_from(b, t))
    assert (changed.open_interest["oi_usd"] != b.open_interest["oi_usd"]).sum() > 1_000
    for params in (ModelParams(), BUSY):
        before, after = predict(b, params), predict(changed, params)
        np.testing.assert_array_equal(values(after)[:t], values(before)[:t])
        assert not np.array_equal(values(after)[t:], values(before)[t:])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    other=st.integers(0, 2**32 - 1),
    t=st.integers(1, 119),
    oi_factor=st.floats(0.1, 10.0),
)
def test_causality_random_walks(seed: int, other: int, t: int, oi_factor: float) -> None:
    b = synthetic_bundle(n=120, seed=seed, step=0.02)
    rng = np.random.default_rng(other)
    start = float(b.candles["close"].iloc[t - 1])
    new = ohlc(start * np.exp(np.cumsum(rng.normal(0, 0.03, 120 - t))), start, rng, wick=0.01)
    changed = replace_from(b, t, new, oi_factor=oi_factor, seed=other)
    v0, v1 = MarketView.from_bundle(b), MarketView.from_bundle(changed)
    # the kernel and the drivers, on one grid that covers both paths
    off_long, off_short = liquidation_offsets(BUSY, "BTC")
    low = min(v0.low.min(), v1.low.min())
    high = max(v0.high.max(), v1.high.max())
    grid = Grid.covering(low, high, BUSY, off_long, off_short)
    p0, p1 = fixed_grid_predictions(v0, BUSY, grid), fixed_grid_predictions(v1, BUSY, grid)
    np.testing.assert_array_equal(p1[:t], p0[:t])
    # the whole causal path (bundle → view → engine) where the new candles keep the price extremes
    permuted = replace_from(b, t, permuted_from(b, t, seed=other), oi_factor=oi_factor, seed=other)
    np.testing.assert_array_equal(values(predict(permuted, BUSY))[:t], values(predict(b, BUSY))[:t])


def test_causality_when_later_candles_make_new_extremes_synthetic() -> None:
    b = synthetic_bundle()
    t = 150
    crash = b.candles.loc[t:, ["open", "high", "low", "close"]].reset_index(drop=True) * 0.7
    changed = replace_from(b, t, crash, oi_factor=1.0)
    np.testing.assert_array_equal(values(predict(changed, ModelParams()))[:t], values(predict(b, ModelParams()))[:t])


def test_causality_of_a_truncated_real_bundle() -> None:
    b = shared("btc-agg-1h-dec-feb")
    t = 1_000  # the bundle's lowest low (60,000) comes later, in February
    truncated = replace(b, candles=b.candles.iloc[:t].reset_index(drop=True))
    np.testing.assert_array_equal(values(predict(truncated, ModelParams())), values(predict(b, ModelParams()))[:t])


# --------------------------------------------------------------------------------------- conservation


def assert_conserved(engine: Engine, predictions: np.ndarray, gross: np.ndarray) -> None:
    ledger = engine.ledger
    scale = ledger[0]
    assert scale > 0
    long_risk, short_risk = engine.at_risk()
    # added to the map = swept from it + closed + aged + still at risk
    assert ledger[0] == pytest.approx(ledger[1] + ledger[3] + ledger[4] + engine.total_at_risk, rel=1e-9)
    assert float(long_risk.sum() + short_risk.sum()) == pytest.approx(engine.total_at_risk, rel=1e-9, abs=1e-9 * scale)
    assert (long_risk >= 0).all()
    assert (short_risk >= 0).all()
    # everything opened was either added to the map or swept inside its own candle
    assert float(gross.sum()) == pytest.approx(ledger[0] + ledger[2], rel=1e-9)
    # what the predictions report is what left the map (or never reached it)
    assert float(predictions[:, :2].sum()) == pytest.approx(ledger[1], rel=1e-9)
    assert float(predictions[:, 2:].sum()) == pytest.approx(ledger[2], rel=1e-9)
    for i in (1, 2, 3, 4):
        assert ledger[i] > 0


def run_and_check(view: MarketView, params: ModelParams) -> Engine:
    engine = Engine.for_view(view, params)
    predictions, _, _ = engine.run(view)
    assert_conserved(engine, predictions, drivers(view, params).gross)
    return engine


@pytest.mark.parametrize("name", SHARED_NAMES)
def test_conservation_real(name: str) -> None:
    view = MarketView.from_bundle(shared(name))
    for params in (ModelParams(), BUSY):
        run_and_check(view, params)


@pytest.mark.parametrize(
    "params", [ModelParams(), BUSY, ModelParams(intra_sweep=1.0, entry_points=1, leverage_buckets=1, leverage_median=50.0)]
)
def test_conservation_synthetic(params: ModelParams) -> None:
    run_and_check(MarketView.from_bundle(synthetic_bundle(n=500, seed=3)), params)


def test_conservation_through_a_volume_spike_that_closes_everything() -> None:
    b = synthetic_bundle(n=300, seed=4)
    spike = 200
    c = b.candles.copy()
    c.loc[spike, "volume"] *= 1e5
    c.loc[spike, "taker_buy_volume"] *= 1e5
    view = MarketView.from_bundle(replace(b, candles=c))
    params = ModelParams(volume_window_hours=48.0)
    d = drivers(view, params)
    closing = spike + 1  # churn follows the activity of the candle before: known at the next open
    assert d.close_frac[closing] == 1.0  # turnover far beyond open interest, clipped
    assert (d.close_frac[:closing] < 1).all()
    engine = Engine.for_view(view, params)
    for t in range(len(view)):
        held, closed = engine.total_at_risk, engine.ledger[3]
        out = engine.update(view.high[t], view.low[t], d.churn[t], d.close_frac[t], d.long_share[t], d.dt_hours[t], d.net_new[t])
        if t == closing:
            assert held > 0
            assert engine.ledger[3] - closed == pytest.approx(held - out[0] - out[1], rel=1e-9)
            long_risk, short_risk = engine.at_risk()
            # all that is left is what the spike candle itself added, aged one hour
            assert float(long_risk.sum() + short_risk.sum()) == pytest.approx(engine.total_at_risk, rel=1e-9)
    assert_conserved(engine, np.array([[engine.ledger[1], 0, engine.ledger[2], 0]]), d.gross)
    batch = run_and_check(view, params)
    np.testing.assert_allclose(batch.ledger, engine.ledger, rtol=1e-9)


def test_conservation_across_renormalisation_of_the_lazy_scales() -> None:
    view = MarketView.from_bundle(synthetic_bundle(n=3_000, seed=5, step=0.003))
    params = ModelParams(half_life_hours=0.2)  # decays ≥ 2^-5 per hour: scales pass 1e-150 within ~100 candles
    d = drivers(view, params)
    engine = Engine.for_view(view, params)
    renormalised = 0
    for t in range(len(view)):
        g_before = np.concatenate((engine.g_long, engine.g_short))
        engine.update(view.high[t], view.low[t], d.churn[t], d.close_frac[t], d.long_share[t], d.dt_hours[t], d.net_new[t])
        renormalised += int((np.concatenate((engine.g_long, engine.g_short)) > g_before).any())
    assert renormalised >= 20
    assert np.isfinite(engine.longs).all()
    assert np.isfinite(engine.shorts).all()
    assert engine.total_at_risk > 0
    predictions = np.zeros((1, 4))
    predictions[0] = [engine.ledger[1], 0.0, engine.ledger[2], 0.0]
    assert_conserved(engine, predictions, d.gross)
    batch = run_and_check(view, params)
    np.testing.assert_allclose(batch.at_risk()[0], engine.at_risk()[0], rtol=1e-9, atol=1e-12 * engine.ledger[0])


# ----------------------------------------------------------------------------------- batch vs incremental


def compare_paths(view: MarketView, params: ModelParams, frame_at: np.ndarray) -> None:
    batch = Engine.for_view(view, params)
    predictions, frames_long, frames_short = batch.run(view, frame_at=frame_at)
    live = Engine.for_view(view, params)
    d = drivers(view, params)
    f = 0
    for t in range(len(view)):
        out = live.update(float(view.high[t]), float(view.low[t]), float(d.churn[t]), float(d.close_frac[t]),
                          float(d.long_share[t]), float(d.dt_hours[t]), float(d.net_new[t]))  # fmt: skip
        np.testing.assert_allclose(out, predictions[t], rtol=1e-9, atol=0)
        while f < len(frame_at) and frame_at[f] == t:
            long_risk, short_risk = live.at_risk()
            np.testing.assert_allclose(frames_long[f], long_risk, rtol=1e-9, atol=0)
            np.testing.assert_allclose(frames_short[f], short_risk, rtol=1e-9, atol=0)
            f += 1
    assert f == len(frame_at)
    for a, b in zip(batch.at_risk(), live.at_risk(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)
    np.testing.assert_allclose(batch.ledger, live.ledger, rtol=1e-9)
    assert batch.total_at_risk == pytest.approx(live.total_at_risk, rel=1e-9)
    assert (predictions[:, :2] > 0).any()
    assert frames_long[-1].sum() > 0


def test_incremental_equals_batch_synthetic() -> None:
    view = MarketView.from_bundle(synthetic_bundle(n=400, seed=6))
    for params in (ModelParams(), BUSY):
        compare_paths(view, params, np.array([0, 10, 10, 200, 399]))


@pytest.mark.parametrize("name", ["btc-agg-1h-dec-feb", "eth-hyperliquid-1h-2025"])
def test_incremental_equals_batch_real(name: str) -> None:
    view = MarketView.from_bundle(shared(name))
    compare_paths(view, ModelParams(), np.array([5, len(view) // 2, len(view) - 1]))


def test_heatmap_columns_are_the_map_at_each_candles_open() -> None:
    b = synthetic_bundle(n=200, seed=7)
    params = ModelParams()
    frame = heatmap_frame(b, params, window="2d", max_bins=40)
    view = MarketView.from_bundle(b)
    engine = Engine.for_view(view, params)
    grid = engine.grid
    group = round(math.log(frame.price_edges[1] / frame.price_edges[0]) / grid.width)
    r0 = round((math.log(frame.price_edges[0]) - grid.lo) / (grid.width * group))
    n_rows = len(frame.price_edges) - 1
    assert group > 1
    assert frame.long.shape == frame.short.shape == (len(frame.times), n_rows)
    assert n_rows <= 40
    assert frame.times[-1] == b.candles["ts"].iloc[-1]
    assert frame.times[0] == b.candles["ts"].iloc[-48]  # 2 days ending at the last candle: (end − 48 h, end]
    assert len(frame.times) == 48
    columns = {ts: i for i, ts in enumerate(frame.times)}
    d = drivers(view, params)
    for t in range(len(view)):
        ts = b.candles["ts"].iloc[t]
        if ts in columns:  # the map as candle t opens: after candle t - 1
            long_risk, short_risk = engine.at_risk()
            pad = (-len(long_risk)) % group
            grouped_long = np.pad(long_risk, (0, pad)).reshape(-1, group).sum(axis=1)[r0 : r0 + n_rows]
            grouped_short = np.pad(short_risk, (0, pad)).reshape(-1, group).sum(axis=1)[r0 : r0 + n_rows]
            np.testing.assert_allclose(frame.long[columns[ts]], grouped_long, rtol=1e-9, atol=1e-6)
            np.testing.assert_allclose(frame.short[columns[ts]], grouped_short, rtol=1e-9, atol=1e-6)
        engine.update(view.high[t], view.low[t], d.churn[t], d.close_frac[t], d.long_share[t], d.dt_hours[t], d.net_new[t])
    assert frame.long.sum() > 0


def test_a_timeline_serves_the_same_maps_as_a_replay_from_the_start() -> None:
    """Snapshots (float32) and checkpoint replays give the maps of a full replay at the same candles."""
    from liqheat.engine.timeline import Timeline

    b = synthetic_bundle(n=3000, seed=8)
    view = MarketView.from_bundle(b)
    params = ModelParams()
    timeline = Timeline(view, params, checkpoint_every=700, max_snapshots=100)
    assert timeline.stride == 32
    assert sorted(timeline.checkpoints) == [0, 700, 1400, 2100, 2800, 3000]
    for candles, group in ((np.arange(32, 3001, 64), 1), (np.arange(1500, 2900, 7), 3), (np.array([5, 6, 2999]), 2)):
        candles = candles[candles <= len(view) - 1] if candles[-1] > len(view) - 1 else candles
        got_long, got_short = timeline.maps_at_open(candles, group, None)
        _, want_long, want_short = Engine.for_view(view, params).run(view, frame_at=candles - 1, group=group)
        np.testing.assert_allclose(got_long, want_long, rtol=1e-6, atol=1e-6 * want_long.max())
        np.testing.assert_allclose(got_short, want_short, rtol=1e-6, atol=1e-6 * want_short.max())
    band = (Engine.for_view(view, params).leverages > 20).astype(bool)
    got_long, _ = timeline.maps_at_open(np.array([2500, 2600]), 1, band)
    _, want_long, _ = Engine.for_view(view, params).run(view, frame_at=np.array([2499, 2599]), lev_mask=band)
    np.testing.assert_array_equal(got_long, want_long)  # replayed from a checkpoint: bit for bit


def test_a_heatmap_reads_only_the_rows_it_shows() -> None:
    """Maps asked for some display rows are those rows of the whole maps, bit for bit, however they are read
    (snapshots, checkpoints, replays, a leverage band); rows outside the map are refused, naming them."""
    from liqheat.engine.timeline import Timeline

    b = synthetic_bundle(n=3000, seed=8)
    view = MarketView.from_bundle(b)
    params = ModelParams()
    timeline = Timeline(view, params, checkpoint_every=700, max_snapshots=100)
    band = (timeline.leverages > 20).astype(bool)
    for candles, group, mask in (
        (np.arange(32, 3001, 64)[:-1], 1, None),  # snapshots
        (np.arange(32, 3001, 64)[:-1], 3, None),
        (np.array([700, 1400, 1401, 2999]), 2, None),  # checkpoints and replays
        (np.array([2500, 2600]), 4, band),
    ):
        width = -(-timeline.grid.n_bins // group)
        whole = timeline.maps_at_open(candles, group, mask)
        for rows in ((0, width - 1), (3, width // 2), (width - 7, width - 1)):
            part = timeline.maps_at_open(candles, group, mask, rows=rows)
            for got, want in zip(part, whole, strict=True):
                np.testing.assert_array_equal(got, want[:, rows[0] : rows[1] + 1])
            _, *replayed = Engine.for_view(view, params).run(view, frame_at=candles - 1, group=group, lev_mask=mask, rows=rows)
            _, *replayed_whole = Engine.for_view(view, params).run(view, frame_at=candles - 1, group=group, lev_mask=mask)
            for got, want in zip(replayed, replayed_whole, strict=True):
                np.testing.assert_array_equal(got, want[:, rows[0] : rows[1] + 1])
        with pytest.raises(DomainError, match=rf"rows 2 … {width} are outside the map's 0 … {width - 1}"):
            timeline.maps_at_open(candles, group, mask, rows=(2, width))
        with pytest.raises(DomainError, match="rows 5 … 4 are outside"):
            Engine.for_view(view, params).run(view, frame_at=candles - 1, group=group, rows=(5, 4))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("funding", [True, False])
def test_view_from_columns_equals_view_from_bundle(tmp_path: Path, fmt: str, funding: bool) -> None:
    """`liqheat replay` builds its view from arrays (no pandas); every other face from the Bundle: one view."""
    from liqheat.bundle import read_columns, write_bundle

    folder = write_bundle(synthetic_bundle(funding=funding), tmp_path / "b", fmt=fmt)  # type: ignore[arg-type]
    by_frames = MarketView.from_bundle(read_bundle(folder))
    by_arrays = MarketView.from_columns(read_columns(folder))
    for name in ("ts", "open", "high", "low", "close", "volume", "taker_buy", "oi_before", "oi_after", "funding"):
        np.testing.assert_array_equal(getattr(by_arrays, name), getattr(by_frames, name), err_msg=name)
    assert (by_arrays.timeframe_hours, by_arrays.symbol) == (by_frames.timeframe_hours, by_frames.symbol)


def test_a_long_replay_cut_at_checkpoints_gives_the_one_runs_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long window is replayed as runs from checkpoints, at once on several cores: no candle twice, and the
    maps of one run from the first checkpoint, bit for bit."""
    from liqheat.engine import timeline as timelines

    view = MarketView.from_bundle(synthetic_bundle(n=3000, seed=8))
    params = ModelParams()
    timeline = timelines.Timeline(view, params, checkpoint_every=512, recent_every=64, max_snapshots=4)
    candles = np.arange(130, 2990, 3, dtype=np.int64)
    candles = candles[~np.isin(candles + 1, list(timeline.checkpoints))]  # maps a replay must make
    one = timeline._parts(candles)
    assert [start for start, _ in one] == [max(k for k in timeline.checkpoints if k <= candles[0])]
    monkeypatch.setattr(timelines, "PARALLEL_FROM", 100)
    monkeypatch.setattr(timelines.os, "cpu_count", lambda: 4)
    parts = timeline._parts(candles)
    assert len(parts) == 4
    assert np.array_equal(np.concatenate([rows for _, rows in parts]), candles)
    for (start, rows), (following, _) in zip(parts, [*parts[1:], (len(view), None)], strict=True):
        assert start in timeline.checkpoints
        assert start <= rows[0]
        assert rows[-1] < following
    got = timeline.maps_at_open(candles + 1, 2, None, rows=(5, 90))
    _, *want = Engine.for_view(view, params).run(view, frame_at=candles, group=2, rows=(5, 90))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_long_window_is_read_from_the_snapshots_with_at_least_half_the_columns_asked() -> None:
    """Columns at least half a snapshot stride apart are put on the snapshots (read, never replayed); closer ones
    are replayed at the spacing asked. Either way the frame is the full replay's at those candles."""
    from liqheat.engine.frames import MARGIN, heatmap_frame, heatmap_layout
    from liqheat.engine.timeline import Timeline

    b = synthetic_bundle(n=3000, seed=8)
    view = MarketView.from_bundle(b)
    params = ModelParams()
    timeline = Timeline(view, params, checkpoint_every=700, max_snapshots=100)
    assert timeline.stride == 32
    n = len(view)
    for columns, snapshots in ((n // 16, True), (n // 31, True), (n // 15, False), (n // 8, False)):
        layout = heatmap_layout(
            b, window="3650d", end=None, max_bins=100, max_columns=columns, margin=MARGIN, leverage_band=None,
            grid=timeline.grid, leverages=timeline.leverages, timeline=timeline,
        )  # fmt: skip
        assert layout.snapshots is snapshots, columns
        assert len(layout.columns) <= columns
        assert len(layout.columns) >= (columns // 2 if snapshots else columns - 1), (columns, len(layout.columns))
        frame = heatmap_frame(b, params, window="3650d", max_bins=100, max_columns=columns, timeline=timeline)
        _, want, _ = Engine.for_view(view, params).run(view, frame_at=layout.columns - 1, group=layout.group)
        np.testing.assert_allclose(frame.long, want[:, layout.r0 : layout.r1 + 1], rtol=1e-6, atol=1e-6 * want.max())
