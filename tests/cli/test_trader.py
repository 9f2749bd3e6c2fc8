"""The trader commands end to end: ``liqheat clusters``, ``levels``, ``cascade``, ``plan``, ``sentiment`` and
``screen`` (in-process, typer's CliRunner), checked against the engine called directly. The matching API routes
are checked against these commands in tests/api/test_trader_routes.py.

Most tests run on the synthetic demo market (three days of 1-minute candles, simulated once per session and
written as a bundle: the ``demo_dir`` fixture). A few tests run on the real shared bundles and are skipped when
../shared is absent.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import Result

from helpers import PLAN_KEYS, SHARED_BUNDLES, cli_json, implied_price, plain, plan_json, run
from liqheat.analytics.cascade import cascade as run_cascade
from liqheat.analytics.cascade import market_book
from liqheat.analytics.clusters import clusters_of, concentration, ranked
from liqheat.analytics.levels import confluence, levels
from liqheat.analytics.maps import MarketMap, market_map
from liqheat.analytics.planner import plan as make_plan
from liqheat.analytics.planner import sentiment as read_sentiment
from liqheat.bundle import Bundle, read_bundle, write_bundle
from liqheat.cli.common import price_text
from liqheat.evaluation.synthetic.market import SimParams, simulate
from liqheat.venues.calc import calculate, position_from_inputs

BUNDLES = SHARED_BUNDLES
REAL_NAMES = ("btc-agg-1h-dec-feb", "btc-hyperliquid-1h-2025", "eth-hyperliquid-1h-2025", "sol-hyperliquid-1h-2025")


def _real(name: str) -> Any:
    folder = BUNDLES / name
    return pytest.param(
        name, id=name, marks=pytest.mark.skipif(not (folder / "meta.json").is_file(), reason=f"shared bundle {folder} is absent")
    )


REAL_PARAMS = [_real(n) for n in REAL_NAMES]
needs_shared = pytest.mark.skipif(
    not all((BUNDLES / n / "meta.json").is_file() for n in REAL_NAMES), reason=f"shared bundles in {BUNDLES} are absent"
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def text(s: str) -> str:
    """Output without colour codes and table rules, with every run of whitespace (rich's wrapping) made one space."""
    return " ".join(_ANSI.sub("", s).replace("│", " ").split())


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def shown(m: MarketMap, top: int = 5, rank: str = "reach") -> list[dict[str, Any]]:
    """What ``liqheat clusters`` shows: each side's ``top`` clusters by ``rank``, longs first."""
    every = ranked(clusters_of(m, top=None), rank)
    return plain([c.to_dict() for side in ("long", "short") for c in [x for x in every if x.side == side][:top]])


def binance_tier1_liq(side: str, entry: float, leverage: float) -> float:
    """Binance USD-M isolated, tier 1 (MMR 0.4 %, no maintenance amount): LP = EP (1 ∓ 1/L) / (1 ∓ MMR)."""
    if side == "long":
        return entry * (1 - 1 / leverage) / (1 - 0.004)
    return entry * (1 + 1 / leverage) / (1 + 0.004)


def library_liq(venue: str, symbol: str, side: str, entry: float, leverage: float, size: float) -> float:
    position, table = position_from_inputs(venue, symbol, side, entry, leverage, size)
    return float(calculate(venue, position, table=table, strict_leverage=False).liquidation_price)


# ------------------------------------------------------------------------------------------ fixtures


def _write_sim(root: Path, name: str, params: SimParams) -> Path:
    folder = root / name
    write_bundle(simulate(params).bundle, folder, fmt="parquet")
    return folder


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, different market for ``screen``: two days from another seed and price."""
    return _write_sim(tmp_path_factory.mktemp("trader-other"), "other", SimParams(days=2, seed=11, start_price=3_000.0))


# ------------------------------------------------------------------------------------------ clusters


def test_trader_commands_are_registered() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("clusters", "levels", "cascade", "plan", "sentiment", "screen"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command


def test_clusters_json_is_the_engine_map(demo_dir: Path, demo: Bundle, demo_map: MarketMap) -> None:
    data = cli_json("clusters", demo_dir, "--rank", "size")
    assert data == shown(demo_map, rank="size")
    price = demo_map.price
    assert price == float(demo.candles["close"].iloc[-1])
    long_risk, short_risk = demo_map.at_risk()
    centers = demo_map.centers
    by_side: dict[str, list[dict[str, Any]]] = {"long": [], "short": []}
    for c in data:
        for key in ("side", "price_low", "price_high", "peak_price", "notional_usd", "share", "distance_pct"):
            assert c[key] is not None, key
        by_side[c["side"]].append(c)
        assert c["price_low"] < c["peak_price"] < c["price_high"]
        assert c["distance_pct"] == pytest.approx((c["peak_price"] / price - 1) * 100, rel=1e-12)
        if c["side"] == "long":  # longs liquidate below price, shorts above
            assert c["price_high"] <= price * (1 + 1e-12)
            assert c["distance_pct"] < 0
        else:
            assert c["price_low"] >= price * (1 - 1e-12)
            assert c["distance_pct"] > 0
        # the notional is the at-risk map summed over the band; share is of all notional at risk, side_share of its side
        values = long_risk if c["side"] == "long" else short_risk
        inside = (centers > c["price_low"]) & (centers < c["price_high"])
        assert c["notional_usd"] == pytest.approx(float(values[inside].sum()), rel=1e-9)
        assert c["side_share"] == pytest.approx(c["notional_usd"] / float(values.sum()), rel=1e-9)
        assert c["share"] == pytest.approx(c["notional_usd"] / float(long_risk.sum() + short_risk.sum()), rel=1e-9)
    for side, found in by_side.items():
        assert len(found) == 5, side
        notional = [c["notional_usd"] for c in found]
        assert notional == sorted(notional, reverse=True)
        assert 0 < sum(c["side_share"] for c in found) <= 1 + 1e-9
        bands = sorted((c["price_low"], c["price_high"]) for c in found)
        assert all(a[1] <= b[0] * (1 + 1e-12) for a, b in itertools.pairwise(bands)), "bands do not overlap"
    # every cluster of a side together holds at most all of that side
    every = clusters_of(demo_map, top=None)
    for side in ("long", "short"):
        assert 0.5 < sum(c.side_share or 0.0 for c in every if c.side == side) <= 1 + 1e-9


def test_clusters_top_keeps_the_largest(demo_dir: Path) -> None:
    five = cli_json("clusters", demo_dir)
    two = cli_json("clusters", demo_dir, "--top", "2")
    for side in ("long", "short"):
        assert [c for c in two if c["side"] == side] == [c for c in five if c["side"] == side][:2]
    assert len(two) == 4


def test_clusters_at_defaults_to_after_the_last_candle(demo_dir: Path, demo: Bundle) -> None:
    ts, close, step = demo.candles["ts"], demo.candles["close"], demo.meta.timeframe_delta
    default = cli_json("clusters", demo_dir)
    assert implied_price(default[0]) == pytest.approx(close.iloc[-1], rel=1e-9)
    # --at is the time of the map: the default is the last candle's close (its open + the timeframe) ...
    assert cli_json("clusters", demo_dir, "--at", iso(ts.iloc[-1] + step)) == default
    # ... so the last candle's open time is the map before that candle, one candle earlier
    at_open = cli_json("clusters", demo_dir, "--at", iso(ts.iloc[-1]))
    assert implied_price(at_open[0]) == pytest.approx(close.iloc[-2], rel=1e-9)
    assert at_open != default


def test_clusters_at_changes_the_answer(demo_dir: Path, demo: Bundle) -> None:
    ts, step = demo.candles["ts"], demo.meta.timeframe_delta
    k = 2000
    when = ts.iloc[k] + step + pd.Timedelta(seconds=30)  # mid-candle: the map after candle k closed
    data = cli_json("clusters", demo_dir, "--at", when.isoformat())
    assert data == shown(market_map(demo, at=when))
    assert implied_price(data[0]) == pytest.approx(demo.candles["close"].iloc[k], rel=1e-9)
    assert data != cli_json("clusters", demo_dir)
    # a time with an offset is converted to UTC
    shifted = (ts.iloc[k] + step).tz_convert("Etc/GMT-5").isoformat()
    assert "+05:00" in shifted
    assert cli_json("clusters", demo_dir, "--at", shifted) == data


def test_clusters_table(demo_dir: Path, demo_map: MarketMap) -> None:
    result = run("clusters", demo_dir)
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    assert f"BTC at {demo_map.ts:%Y-%m-%d %H:%M} UTC, price {demo_map.price:,.2f}" in out
    every = clusters_of(demo_map, top=None)
    stats = concentration(demo_map, every)
    assert stats["clusters"] == len(every)
    n, k, share = stats["clusters"], stats["top5pct_clusters"], stats["top5pct_share"]
    assert f"top 5 % of {n} clusters ({k}) hold {share:.1%} of the notional at risk" in out
    assert 0 < share <= 1
    likeliest_long = max((c for c in every if c.side == "long"), key=lambda c: c.expected_usd_24h or 0.0)
    assert f"{likeliest_long.distance_pct:+.2f}%" in out
    largest_long = max((c for c in every if c.side == "long"), key=lambda c: c.notional_usd)
    assert f"{largest_long.distance_pct:+.2f}%" in text(run("clusters", demo_dir, "--rank", "size").stdout)
    assert f"every {stats['round_affinity']['round_step']:,.0f}" in out


# ------------------------------------------------------------------------------------------ levels


def test_levels_json(demo_dir: Path, demo: Bundle, demo_map: MarketMap) -> None:
    data = cli_json("levels", demo_dir)
    price = demo_map.price
    assert data["price"] == price
    found = levels(demo.candles, price, lookback=24 * 30)
    assert data["levels"] == plain([lv.to_dict() for lv in found[:10]])
    assert data["confluence"] == plain([x.to_dict() for x in confluence(clusters_of(demo_map, top=10), found)[:10]])
    assert len(data["levels"]) == 10
    strengths = [lv["strength"] for lv in data["levels"]]
    assert strengths == sorted(strengths, reverse=True)
    for lv in data["levels"]:
        assert 0 < lv["strength"] <= 1
        assert lv["source"] in ("pivot", "volume")
        assert lv["kind"] == ("support" if lv["price"] < price else "resistance")
    for x in data["confluence"]:
        c, lv = x["cluster"], x["level"]
        assert lv["kind"] == ("support" if c["side"] == "long" else "resistance")
        dist = (lv["price"] / c["peak_price"] - 1) * 100
        assert x["distance_pct"] == pytest.approx(dist)
        assert c["price_low"] <= lv["price"] <= c["price_high"] or abs(dist) <= 0.5
        closeness = 1.0 if abs(dist) <= 0.5 else 0.5 / abs(dist)
        assert x["score"] == pytest.approx(c["side_share"] * c["hit_prob_24h"] * lv["strength"] * closeness)
    scores = [x["score"] for x in data["confluence"]]
    assert scores == sorted(scores, reverse=True)
    by_size = cli_json("levels", demo_dir, "--rank", "size")
    sized = confluence(clusters_of(demo_map, top=10), found, rank="size")
    assert by_size["confluence"] == plain([x.to_dict() for x in sized[:10]])
    for x in by_size["confluence"]:
        dist = abs(x["distance_pct"])
        closeness = 1.0 if dist <= 0.5 else 0.5 / dist
        assert x["score"] == pytest.approx(x["cluster"]["side_share"] * x["level"]["strength"] * closeness)
    bad = run("levels", demo_dir, "--rank", "loud")
    assert bad.exit_code == 2
    assert "--rank" in bad.stderr
    three = cli_json("levels", demo_dir, "--top", "3", "--lookback", "100")
    assert three["levels"] == plain([lv.to_dict() for lv in levels(demo.candles, price, lookback=100)[:3]])


def test_levels_table(demo_dir: Path, demo_map: MarketMap) -> None:
    result = run("levels", demo_dir, "--top", "4")
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    assert f"support and resistance at {demo_map.ts:%Y-%m-%d %H:%M} UTC, price {demo_map.price:,.2f}" in out
    for lv in cli_json("levels", demo_dir, "--top", "4")["levels"]:
        assert f"{lv['price']:,.2f} {lv['kind']} {lv['source']} {lv['strength']:.2f}" in out


# ------------------------------------------------------------------------------------------ cascade


def test_cascade_json_is_the_engine_result(demo_dir: Path, demo: Bundle, demo_map: MarketMap) -> None:
    data = cli_json("cascade", demo_dir, "--shock", "-3%")
    book = market_book("calm", demo.candles, demo_map.index, pd.Timedelta(minutes=1), symbol="BTC").scaled(1.0)
    expected = run_cascade(demo_map, -3.0, book, clusters_of(demo_map, top=20))
    assert data == plain(expected.to_dict())
    assert data["price_before"] == demo_map.price
    assert data["shock_pct"] == -3.0
    assert data["amplification"] == pytest.approx(data["move_pct"] / -3.0)
    # "5", "+5%" and "5%" are the same shock, and "-3" is "-3%"
    assert cli_json("cascade", demo_dir, "--shock", "5") == cli_json("cascade", demo_dir, "--shock", "+5%")
    assert cli_json("cascade", demo_dir, "--shock", "-3") == data


def test_cascade_scales_the_book_to_the_market_by_its_traded_volume(demo_dir: Path, demo: Bundle) -> None:
    """The demo market trades far less than Binance BTCUSDT: its book is the reference's × its volume share."""
    data = cli_json("cascade", demo_dir, "--shock", "-3%")
    c = demo.candles  # three days of minutes: the whole market is inside the 7-day window
    traded = float((c["volume"] * c["close"]).sum()) / (len(c) / 60)
    share = traded / 1_041_028_000  # Binance BTCUSDT's USD per hour over the calm book's hours
    assert data["depth"] == {
        "reference": "BTC/USDT:USDT on binance, calm book of 2025-10-10", "rule": "volume",
        "market_usd_per_hour": pytest.approx(traded), "reference_usd_per_hour": 1_041_028_000.0, "window_days": 7,
        "market_scale": pytest.approx(share), "depth_scale": 1.0, "scale": pytest.approx(share),
    }  # fmt: skip
    assert 0.01 < share < 0.05  # about $27M an hour against $1.04B
    assert data["risk"]["bid_depth_1pct_usd"] == pytest.approx(283_236_000 * share)
    assert "BTC's traded volume ÷ the reference's" in data["depth_source"]
    # --depth reference walks Binance BTCUSDT's book as measured
    reference = cli_json("cascade", demo_dir, "--shock", "-3%", "--depth", "reference")
    assert reference["risk"]["bid_depth_1pct_usd"] == pytest.approx(283_236_000)
    assert (reference["depth"]["rule"], reference["depth"]["scale"]) == ("reference", 1.0)
    assert abs(reference["move_pct"]) <= abs(data["move_pct"])  # a deeper book moves no further
    out = text(run("cascade", demo_dir, "--shock", "-3%").stdout)
    assert f"scaled by traded volume: ${traded / 1e6:,.2f}M/h over the last 7 days" in out
    assert f"= × {share:.4g}" in out


@pytest.mark.parametrize("shock", ["-3%", "-1.5", "3%", "6%"])
def test_cascade_shock_sign_decides_the_side_that_fires(demo_dir: Path, demo_map: MarketMap, shock: str) -> None:
    data = cli_json("cascade", demo_dir, "--shock", shock)
    pct = float(shock.rstrip("%"))
    price, after = data["price_before"], data["price_after"]
    long_risk, short_risk = demo_map.at_risk()
    centers = demo_map.centers
    if pct < 0:  # down: only longs below price fire, and price ends at least the shock lower
        assert after <= price * (1 + pct / 100) * (1 + 1e-12)
        fired = float(long_risk[(centers >= after) & (centers < price)].sum())
        side = "long"
        prices = [r["price"] for r in data["rounds"]]
        assert prices == sorted(prices, reverse=True)
    else:
        assert after >= price * (1 + pct / 100) * (1 - 1e-12)
        fired = float(short_risk[(centers <= after) & (centers > price)].sum())
        side = "short"
        prices = [r["price"] for r in data["rounds"]]
        assert prices == sorted(prices)
    assert data["move_pct"] == pytest.approx((after / price - 1) * 100)
    assert abs(data["move_pct"]) >= abs(pct) - 1e-9
    assert data["liquidated_usd"] > 0
    # everything between price and where it stopped fired (the last round's leftover is below the $1 tolerance)
    assert data["liquidated_usd"] == pytest.approx(fired, abs=1.0, rel=1e-9)
    assert all(c["side"] == side for c in data["clusters_fired"])
    assert data["rounds"][-1]["forced_total_usd"] == pytest.approx(data["liquidated_usd"])
    assert sum(r["fired_usd"] for r in data["rounds"]) == pytest.approx(data["liquidated_usd"])


@pytest.mark.parametrize("shock", ["-3%", "3%"])
def test_thinner_book_liquidates_more_and_moves_further(demo_dir: Path, shock: str) -> None:
    runs = [cli_json("cascade", demo_dir, "--shock", shock, "--depth-scale", s) for s in ("2", "1", "0.5", "0.1", "0.01")]
    liquidated = [r["liquidated_usd"] for r in runs]
    moves = [abs(r["move_pct"]) for r in runs]
    assert all(b >= a * (1 - 1e-12) for a, b in itertools.pairwise(liquidated)), liquidated
    assert all(b >= a * (1 - 1e-12) for a, b in itertools.pairwise(moves)), moves
    # the thinnest book really amplifies: more liquidated, a longer move, more rounds
    assert liquidated[-1] > liquidated[1]
    assert moves[-1] > moves[1] + 0.1
    assert len(runs[-1]["rounds"]) > len(runs[1]["rounds"])
    assert runs[2]["depth_source"].endswith("traded volume ÷ the reference's) × 0.5")
    assert runs[2]["depth"]["scale"] == pytest.approx(0.5 * runs[1]["depth"]["scale"])
    assert runs[2]["depth"]["depth_scale"] == 0.5
    # the cascade-risk index scales inversely with the depth
    assert runs[2]["risk"]["down"] == pytest.approx(2 * runs[1]["risk"]["down"])
    assert runs[2]["risk"]["bid_depth_1pct_usd"] == pytest.approx(0.5 * runs[1]["risk"]["bid_depth_1pct_usd"])


def test_cascade_table(demo_dir: Path, demo_map: MarketMap) -> None:
    result = run("cascade", demo_dir, "--shock", "3%", "--depth-scale", "0.5")
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    data = cli_json("cascade", demo_dir, "--shock", "3%", "--depth-scale", "0.5")
    assert f"{demo_map.price:,.2f}, shock +3.00%" in out
    assert f"ends at {data['price_after']:,.2f} ({data['move_pct']:+.2f}%" in out
    assert f"down {data['risk']['down']:.4f}, up {data['risk']['up']:.4f}" in out
    assert "reference's) × 0.5; $" in out
    assert "within 1 %; refill 0" in out
    assert "not scaled to" not in out  # the warning is only for a market whose book could not be scaled


# ------------------------------------------------------------------------------------------ plan


def test_plan_long(demo_dir: Path, demo: Bundle, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    p = plan_json(demo_dir, "long", entry, "--risk", "1%")
    expected = make_plan(demo_map, clusters_of(demo_map, top=None), side="long", entry=entry, leverage=10, balance=10_000,
                         risk=0.01, venue="binance", contract=demo.meta.contract)  # fmt: skip
    assert p == plain(expected.to_dict())
    assert p["symbol"] == "BTC/USDT:USDT"
    assert p["risk_usd"] == pytest.approx(100.0)
    assert not any("capped" in w for w in p["warnings"])
    # size × distance to the stop = balance × risk
    assert p["size_base"] * (entry - p["stop"]) == pytest.approx(10_000 * 0.01, rel=1e-9)
    assert p["notional_usd"] == pytest.approx(p["size_base"] * entry)
    assert p["margin_usd"] == pytest.approx(p["notional_usd"] / 10)
    # the stop: the long zone beneath the entry starts 4 ATR away, so it is 2 ATR, well before the own liquidation
    below = p["clusters_below"]
    assert below
    assert all(c["side"] == "long" and c["peak_price"] < entry and c["side_share"] >= 0.03 for c in below)
    assert [c["peak_price"] for c in below] == sorted((c["peak_price"] for c in below), reverse=True)
    atr = demo_map.atr_pct / 100 * entry
    assert entry - below[0]["price_high"] > 4 * atr
    assert p["sound_stop"]
    assert p["stop_reason"].startswith("2 ATR")
    assert p["stop"] == pytest.approx(entry - 2 * atr)
    assert p["liquidation_price"] < p["stop"] < entry
    # allowed 1,000 ATR at 3×, it stands below the whole zone of adjoining long bands that starts with the nearest
    wide = cli_json("plan", demo_dir, "--side", "long", "--entry", entry, "--leverage", 3, "--balance", 10_000,
                    "--max-stop", 1000)  # fmt: skip
    zone = re.fullmatch(r"0\.2% below the long cluster ([\d,.]+)–([\d,.]+)", wide["stop_reason"])
    assert zone is not None, wide["stop_reason"]
    low, high = (float(x.replace(",", "")) for x in zone.groups())
    assert high == pytest.approx(below[0]["price_high"], abs=0.005)
    assert wide["stop"] == pytest.approx(low * (1 - 0.2 / 100), rel=1e-6)
    bands = [c for c in clusters_of(demo_map, top=None) if (c.side_share or 0.0) >= 0.03 and c.side == "long"]
    assert not any(c.price_low < wide["stop"] < c.price_high for c in bands)
    assert wide["liquidation_price"] < wide["stop"]
    # the target: the nearest short cluster above, with its reward/risk
    above = p["clusters_above"]
    assert above
    assert p["take_profit"] == above[0]["peak_price"] > entry
    assert p["reward_risk"] == pytest.approx((p["take_profit"] - entry) / (entry - p["stop"]))
    # own liquidation price: exact (Binance tier 1) and where 10× puts it
    liq = p["liquidation_price"]
    assert liq == pytest.approx(binance_tier1_liq("long", entry, 10), rel=1e-9)
    assert liq == pytest.approx(library_liq("binance", p["symbol"], "long", entry, 10, p["size_base"]), rel=1e-12)
    assert entry * (1 - 1 / 10) < liq < entry


def test_plan_short(demo_dir: Path, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    p = plan_json(demo_dir, "short", entry)
    above = p["clusters_above"]
    assert above
    assert all(c["side"] == "short" and c["peak_price"] > entry for c in above)
    # the short zone above starts within 2 ATR and runs past the 4 ATR limit: out just before it
    atr = demo_map.atr_pct / 100 * entry
    assert above[0]["price_low"] < entry + 2 * atr < above[0]["price_high"]
    assert p["sound_stop"]
    assert p["stop"] == pytest.approx(above[0]["price_low"] * (1 - 0.2 / 100))
    assert p["stop_reason"].startswith(f"0.2% below the short cluster {above[0]['price_low']:,.2f}")
    assert "out before its sweep" in p["stop_reason"]
    assert 0.5 * atr <= p["stop"] - entry <= 4 * atr
    assert entry < p["stop"] < p["liquidation_price"]
    assert p["size_base"] * (p["stop"] - entry) == pytest.approx(100.0, rel=1e-9)
    assert p["take_profit"] == p["clusters_below"][0]["peak_price"] < entry
    assert p["reward_risk"] == pytest.approx((entry - p["take_profit"]) / (p["stop"] - entry))
    liq = p["liquidation_price"]
    assert liq == pytest.approx(binance_tier1_liq("short", entry, 10), rel=1e-9)
    assert entry < liq < entry * (1 + 1 / 10)


def test_plan_risk_is_a_percentage_or_a_fraction(demo_dir: Path, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    default = plan_json(demo_dir, "long", entry)
    assert plan_json(demo_dir, "long", entry, "--risk", "0.01") == default
    assert plan_json(demo_dir, "long", entry, "--risk", " 1% ") == default
    half = plan_json(demo_dir, "long", entry, "--risk", "0.5%")
    assert half["risk_usd"] == pytest.approx(50.0)
    assert not any("capped" in w for w in default["warnings"] + half["warnings"])
    assert half["size_base"] == pytest.approx(default["size_base"] / 2)
    assert half["stop"] == default["stop"]  # the stop comes from the map, not from the risk


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
def test_plan_venue_sets_the_liquidation_rule(demo_dir: Path, demo_map: MarketMap, venue: str) -> None:
    entry = round(demo_map.price)
    for side in ("long", "short"):
        p = plan_json(demo_dir, side, entry, "--venue", venue)
        assert p["venue"] == venue
        assert p["symbol"] == ("BTC/USDC:USDC" if venue == "hyperliquid" else "BTC/USDT:USDT")
        liq = p["liquidation_price"]
        assert math.isfinite(liq)
        assert liq == pytest.approx(library_liq(venue, p["symbol"], side, entry, 10, p["size_base"]), rel=1e-12)
        if side == "long":
            assert entry * 0.9 < liq < entry
        else:
            assert entry < liq < entry * 1.1


def test_plan_leverage_moves_only_the_liquidation_price(demo_dir: Path, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    plans = [cli_json("plan", demo_dir, "--side", "long", "--entry", entry, "--leverage", lev, "--balance", 10_000,
                      "--risk", "0.2%") for lev in (2, 5, 10, 25)]  # fmt: skip
    liqs = [p["liquidation_price"] for p in plans]
    assert liqs == sorted(liqs)  # more leverage, closer to the entry
    assert liqs[-1] < entry
    for p, lev in zip(plans, (2, 5, 10, 25), strict=True):
        assert p["size_base"] == pytest.approx(plans[0]["size_base"])  # sized by risk, not by leverage
        assert p["margin_usd"] == pytest.approx(p["notional_usd"] / lev)
        assert p["liquidation_price"] == pytest.approx(binance_tier1_liq("long", entry, lev), rel=1e-9)


def test_plan_size_is_capped_by_the_balance(demo_dir: Path, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    p = cli_json("plan", demo_dir, "--side", "long", "--entry", entry, "--leverage", 1, "--balance", 10_000, "--risk", "100%")
    assert any("size capped" in w for w in p["warnings"])
    assert p["notional_usd"] == pytest.approx(10_000.0)
    assert p["size_base"] * (entry - p["stop"]) < p["risk_usd"]
    assert p["liquidation_price"] == 0.0  # a 1× linear long cannot be liquidated


def test_plan_margin_to_clear_moves_the_liquidation_beyond_the_cluster(demo_dir: Path, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    p = plan_json(demo_dir, "long", entry)
    inside = [
        c
        for c in clusters_of(demo_map, top=None)
        if (c.side_share or 0.0) >= 0.03 and c.price_low <= p["liquidation_price"] <= c.price_high
    ]
    assert inside, "on this map the 10× long's own liquidation price sits in a long cluster"
    assert any(w.startswith("the own liquidation price") for w in p["warnings"])
    beyond = min(p["stop"], inside[0].price_low)
    assert p["margin_to_clear"] is not None
    assert p["margin_usd"] < p["margin_to_clear"] <= 10_000
    # isolated margin = notional ÷ leverage: the same position margined that much liquidates beyond the cluster
    lev = p["notional_usd"] / p["margin_to_clear"]
    cleared = library_liq("binance", p["symbol"], "long", entry, lev, p["size_base"])
    assert cleared < beyond
    assert cleared == pytest.approx(beyond, rel=1e-6)  # and no more margin than that (bisection)


def test_plan_table(demo_dir: Path, demo_map: MarketMap) -> None:
    entry = round(demo_map.price)
    result = run("plan", demo_dir, "--side", "long", "--entry", entry, *PLAN_KEYS)
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    p = plan_json(demo_dir, "long", entry)
    assert f"BTC/USDT:USDT on binance, price {demo_map.price:,.2f}" in out
    assert f"stop {p['stop']:,.2f} ({p['stop_reason']})" in out
    assert f"own liquidation {p['liquidation_price']:,.2f} (exact, isolated)" in out
    assert f"reward/risk {p['reward_risk']:.2f}" in out
    assert out.count("warning:") == len(p["warnings"])


# ------------------------------------------------------------------------------------------ sentiment


def test_sentiment_json(demo_dir: Path, demo: Bundle, demo_map: MarketMap) -> None:
    data = cli_json("sentiment", demo_dir)
    long_risk, short_risk = demo_map.at_risk()
    lo, sh = float(long_risk.sum()), float(short_risk.sum())
    assert data["at"] == iso(demo_map.ts)
    assert data["window_hours"] == 24.0
    assert data["long_at_risk_usd"] == pytest.approx(lo)
    assert data["short_at_risk_usd"] == pytest.approx(sh)
    assert lo > 0
    assert sh > 0
    assert data["long_short_ratio"] == pytest.approx(lo / sh)
    assert data["skew"] == pytest.approx((lo - sh) / (lo + sh))
    oi = demo.open_interest
    now = oi[oi["ts"] <= demo_map.ts]["oi_usd"].iloc[-1]
    then = oi[oi["ts"] <= demo_map.ts - pd.Timedelta(hours=24)]["oi_usd"].iloc[-1]
    assert data["open_interest_usd"] == pytest.approx(now)
    assert data["open_interest_change_pct"] == pytest.approx((now / then - 1) * 100)
    c = demo.candles
    day = c[c["ts"] >= demo_map.ts - pd.Timedelta(hours=24)]
    assert data["price_change_pct"] == pytest.approx((day["close"].iloc[-1] / day["open"].iloc[0] - 1) * 100)
    f = demo.funding
    assert f is not None
    rates = f[(f["ts"] > demo_map.ts - pd.Timedelta(hours=24)) & (f["ts"] <= demo_map.ts)]["rate"]
    assert len(rates) >= 20
    assert data["funding_mean"] == pytest.approx(rates.mean())
    assert data["funding_last"] == pytest.approx(rates.iloc[-1])
    week = cli_json("sentiment", demo_dir, "--window", "2d")
    assert week["window_hours"] == 48.0
    assert week["long_at_risk_usd"] == data["long_at_risk_usd"]  # the map does not depend on the window
    assert week["open_interest_change_pct"] != data["open_interest_change_pct"]
    assert week == plain(read_sentiment(demo_map, c, oi, f, pd.Timedelta(days=2)))


def test_sentiment_table(demo_dir: Path) -> None:
    result = run("sentiment", demo_dir)
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    data = cli_json("sentiment", demo_dir)
    assert f"(ratio {data['long_short_ratio']:.2f}, skew {data['skew']:+.2f})" in out
    assert f"open interest {data['open_interest_change_pct']:+.2f}%" in out


# ------------------------------------------------------------------------------------------ screen


def nearest_large(folder: Path, min_share: float = 0.05) -> dict[str, Any]:
    m = market_map(read_bundle(folder), history_points=1)
    large = [c for c in clusters_of(m, top=None) if (c.side_share or 0.0) >= min_share]
    if not large:
        empty = dict.fromkeys(("side", "peak_price", "distance_pct", "distance_atr"))
        return {"market": folder.name, "price": m.price, "notional_usd": 0.0, **empty}
    near = min(large, key=lambda c: abs(c.distance_atr or c.distance_pct))
    return {"market": folder.name, "price": m.price, "side": near.side, "peak_price": near.peak_price,
            "notional_usd": near.notional_usd, "distance_pct": near.distance_pct, "distance_atr": near.distance_atr}  # fmt: skip


def test_screen_ranks_markets_by_their_nearest_large_cluster(demo_dir: Path, other_dir: Path) -> None:
    rows = [strip_reach(r) for r in cli_json("screen", demo_dir, other_dir, "--rank", "distance")]
    expected = [nearest_large(demo_dir), nearest_large(other_dir)]
    assert all(r["side"] is not None for r in expected), "both markets have a cluster holding ≥ 5 % of its side"
    assert rows == plain(sorted(expected, key=lambda r: abs(r["distance_atr"])))
    assert {r["market"] for r in rows} == {"demo", "other"}
    assert abs(rows[0]["distance_atr"]) <= abs(rows[1]["distance_atr"])
    assert rows[0]["distance_atr"] != rows[1]["distance_atr"]
    for r in rows:
        assert (r["side"] == "long") == (r["peak_price"] < r["price"])
        assert r["notional_usd"] > 0
    assert [strip_reach(r) for r in cli_json("screen", other_dir, demo_dir, "--rank", "distance")] == rows  # not the given order
    # a stricter idea of "large" never finds a nearer cluster; none at all leaves the market unranked, last
    strict = {r["market"]: r for r in cli_json("screen", demo_dir, other_dir, "--min-share", "0.08", "--rank", "distance")}
    for r in rows:
        further = strict[r["market"]]["distance_atr"]
        assert further is None or abs(further) >= abs(r["distance_atr"])
    empty = cli_json("screen", demo_dir, "--min-share", "1.01")
    assert empty == [{"market": "demo", "price": rows[[r["market"] for r in rows].index("demo")]["price"], "side": None,
                      "peak_price": None, "distance_pct": None, "distance_atr": None, "notional_usd": 0.0,
                      "hit_prob_24h": None, "expected_usd_24h": None}]  # fmt: skip


def strip_reach(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("hit_prob_24h", "expected_usd_24h")}


def test_screen_ranks_markets_by_the_chance_a_large_cluster_is_reached(demo_dir: Path, other_dir: Path) -> None:
    """By default each market shows its large cluster likeliest to be reached within 24 h, markets by that chance."""
    rows = cli_json("screen", demo_dir, other_dir)
    assert {r["market"] for r in rows} == {"demo", "other"}
    chances = [r["hit_prob_24h"] for r in rows]
    assert chances == sorted(chances, reverse=True)
    for folder in (demo_dir, other_dir):
        m = market_map(read_bundle(folder), history_points=1)
        large = [c for c in clusters_of(m, top=None) if (c.side_share or 0.0) >= 0.05]
        best = max(large, key=lambda c: (c.hit_prob_24h or 0.0, c.notional_usd))
        row = next(r for r in rows if r["market"] == folder.name)
        assert row["hit_prob_24h"] == pytest.approx(best.hit_prob_24h)
        assert row["peak_price"] == pytest.approx(best.peak_price)
        assert all((c.hit_prob_24h or 0.0) <= row["hit_prob_24h"] for c in large)
    out = text(run("screen", demo_dir, other_dir).stdout)
    assert "likeliest large cluster per market" in out
    assert f"{rows[0]['hit_prob_24h'] * 100:.0f}%" in out
    bad = run("screen", demo_dir, "--rank", "soon")
    assert bad.exit_code == 2
    assert "--rank" in bad.stderr


def test_screen_table(demo_dir: Path, other_dir: Path) -> None:
    result = run("screen", demo_dir, other_dir, "--rank", "distance")
    assert result.exit_code == 0, result.output
    out = text(result.stdout)
    assert "nearest large cluster per market" in out
    rows = cli_json("screen", demo_dir, other_dir, "--rank", "distance")
    first, second = (f"{r['market']} {price_text(r['price'])} {r['side']} {price_text(r['peak_price'])}" for r in rows)
    assert first in out
    assert second in out
    assert out.index(first) < out.index(second)


# ------------------------------------------------------------------------------------------ bad input (CLI)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """Exit 2, nothing on stdout, and one line on stderr naming what is wrong (no traceback)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    message = _ANSI.sub("", result.stderr).strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("error: ")
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message


PLAN_ARGS = ("--side", "long", "--entry", "63000", *PLAN_KEYS)
BAD_INPUTS = [
    (("cascade", "--shock", "abc"), ("--shock must be a percentage", "'abc'")),
    (("cascade", "--shock", "%"), ("--shock must be a percentage",)),
    (("cascade", "--shock", "0"), ("--shock must be a non-zero %",)),
    (("cascade", "--shock", "-95%"), ("--shock", "(-90, 900)", "-95.0")),
    (("cascade", "--shock", "inf"), ("--shock",)),
    (("cascade", "--shock", "nan"), ("--shock",)),
    (("cascade", "--shock", "-3%", "--depth-scale", "0"), ("--depth-scale must be a number in [0.0001, 10000]",)),
    (("cascade", "--shock", "-3%", "--depth-scale", "-1"), ("--depth-scale",)),
    (("cascade", "--shock", "-3%", "--book", "wild"), ("--book must be calm or crash", "'wild'")),
    (("cascade", "--shock", "-3%", "--depth", "deep"), ("--depth must be market or reference", "'deep'")),
    (("cascade", "--shock", "-3%", "--refill", "2"), ("--refill must be in [0, 1]",)),
    (("plan", *PLAN_ARGS, "--risk", "abc"), ("--risk must be a percentage", "'abc'")),
    (("plan", *PLAN_ARGS, "--risk", "0"), ("--risk must be in (0, 100 %]",)),
    (("plan", *PLAN_ARGS, "--risk", "150%"), ("--risk must be in (0, 100 %]", "'150%'")),
    (("plan", *PLAN_ARGS, "--risk", "-1%"), ("--risk",)),
    (("plan", *PLAN_ARGS, "--risk", "nan"), ("--risk",)),
    (("plan", "--side", "sideways", "--entry", "63000", *PLAN_KEYS), ("--side must be long or short", "'sideways'")),
    (("plan", "--side", "long", "--entry", "-5", *PLAN_KEYS), ("--entry must be a number in [1e-12, 1e+12], got -5.0",)),
    (("plan", "--side", "long", "--entry", "nan", *PLAN_KEYS), ("--entry",)),
    (("plan", "--side", "long", "--entry", "63000", "--leverage", "0.5", "--balance", "1"), ("--leverage must be a number",)),
    (("plan", "--side", "long", "--entry", "63000", "--leverage", "inf", "--balance", "1"), ("--leverage",)),
    (("plan", "--side", "long", "--entry", "63000", "--leverage", "10", "--balance", "0"), ("--balance must be a number",)),
    (("plan", *PLAN_ARGS, "--venue", "kraken"), ("unknown venue 'kraken'",)),
    (("sentiment", "--window", "3x"), ("--window must look like",)),
    (("sentiment", "--window", "3661d"), ("--window 3661d is longer than 10 years",)),  # as the API
    (("sentiment", "--window", "99999999999999d"), ("--window", "is too long (at most 100 years)")),  # was a traceback
    (("heatmap", "--window", "99999999999999d", "--out", "never.png"), ("--window", "is too long")),  # was a traceback
    (("sentiment", "--window", "9" * 22 + "d"), ("--window", "is too long")),  # was an OutOfBoundsTimedelta traceback
    (("clusters", "--at", "not-a-time"), ("--at is not an ISO 8601 time: 'not-a-time'",)),
    (("clusters", "--at", "NaT"), ("--at is not an ISO 8601 time: 'NaT'",)),  # was silently the last candle
    (("clusters", "--at", "-1"), ("--at '-1' is outside any market's data",)),  # was a strftime traceback
]
WITH_AT = [
    ("clusters",),
    ("levels",),
    ("cascade", "--shock", "-3%"),
    ("plan", *PLAN_ARGS),
    ("sentiment",),
]


@pytest.mark.parametrize(("args", "fragments"), BAD_INPUTS, ids=[" ".join(a)[:60] for a, _ in BAD_INPUTS])
def test_bad_input_is_a_one_line_usage_error(demo_dir: Path, args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    command, *rest = args
    assert_one_line_error(run(command, demo_dir, *rest), *fragments)


@pytest.mark.parametrize("command", WITH_AT, ids=lambda c: c[0])
@pytest.mark.parametrize("when", ["2030-01-01T00:00:00Z", "2020-06-01", "2026-01-01T00:00:00Z"])
def test_at_outside_the_bundle_is_a_usage_error(demo_dir: Path, command: tuple[str, ...], when: str) -> None:
    # the first map is after the first candle closes (00:01); the last after the last one (2026-01-04 00:00)
    result = run(command[0], demo_dir, *command[1:], "--at", when)
    assert_one_line_error(result, "--at", "is outside the bundle", "(2026-01-01T00:01:00Z … 2026-01-04T00:00:00Z)")


@pytest.mark.parametrize("command", [*WITH_AT, ("screen",)], ids=lambda c: c[0])
def test_missing_bundle_folder_is_a_usage_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "no-such-bundle"
    result = run(command[0], missing, *command[1:])
    assert_one_line_error(result, str(missing), "not a folder")


def test_a_folder_that_is_not_a_bundle_is_a_usage_error(tmp_path: Path) -> None:
    assert_one_line_error(run("clusters", tmp_path), "meta.json: missing")


def test_screen_with_nothing_to_rank() -> None:
    assert_one_line_error(run("screen"), "nothing to screen")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("clusters",), "Missing argument 'bundle'"),
        (("cascade", "{demo}"), "Missing option '--shock'"),
        (("plan", "{demo}", "--entry", "1", *PLAN_KEYS), "Missing option '--side'"),
        (("plan", "{demo}", "--side", "long", "--entry", "x", *PLAN_KEYS), "Invalid value for '--entry'"),
        (("cascade", "{demo}", "--shock", "-3%", "--depth-scale", "thin"), "Invalid value for '--depth-scale'"),
        (("clusters", "{demo}", "--top", "0"), "Invalid value for '--top'"),
        (("levels", "{demo}", "--lookback", "5"), "Invalid value for '--lookback'"),
    ],
)
def test_missing_or_malformed_options_are_usage_errors(demo_dir: Path, args: tuple[str, ...], fragment: str) -> None:
    result = run(*(a.replace("{demo}", str(demo_dir)) for a in args))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert fragment in text(result.stderr)
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------ real shared bundles


@pytest.mark.parametrize("name", REAL_PARAMS)
def test_real_bundle_every_command(name: str) -> None:
    folder = BUNDLES / name
    clusters = cli_json("clusters", folder)
    price = implied_price(clusters[0])
    bundle = read_bundle(folder)
    assert price == pytest.approx(float(bundle.candles["close"].iloc[-1]), rel=1e-9)
    sides = {c["side"] for c in clusters}
    assert sides == {"long", "short"}, "clusters on both sides of price"
    for c in clusters:
        assert (c["peak_price"] < price) == (c["side"] == "long")
        assert 0 < c["share"] <= 1
        assert c["notional_usd"] > 0
        assert abs(c["distance_pct"]) < 90
    for side in ("long", "short"):
        assert sum(c["side_share"] for c in clusters if c["side"] == side) <= 1 + 1e-9
    assert sum(c["share"] for c in clusters) <= 1 + 1e-9

    entry = float(f"{price:.4g}")
    for side in ("long", "short"):
        p = plan_json(folder, side, entry)
        liq = p["liquidation_price"]
        assert math.isfinite(liq)
        assert p["size_base"] > 0
        assert p["size_base"] * abs(entry - p["stop"]) == pytest.approx(100.0, rel=1e-9)
        if side == "long":
            assert entry * 0.9 < liq < entry
            assert 0 < p["stop"] < entry
        else:
            assert entry < liq < entry * 1.1
            assert p["stop"] > entry

    down = cli_json("cascade", folder, "--shock", "-3%")
    assert down["price_after"] <= down["price_before"] * 0.97 * (1 + 1e-12)
    assert down["liquidated_usd"] >= 0
    assert all(c["side"] == "long" for c in down["clusters_fired"])
    thin = cli_json("cascade", folder, "--shock", "-3%", "--depth-scale", "0.1")
    assert thin["liquidated_usd"] >= down["liquidated_usd"]
    assert thin["price_after"] <= down["price_after"]

    s = cli_json("sentiment", folder)
    assert s["long_at_risk_usd"] > 0
    assert s["short_at_risk_usd"] > 0
    assert 0 < s["long_short_ratio"] < 100
    assert -1 < s["skew"] < 1
    assert s["open_interest_usd"] > 0

    lv = cli_json("levels", folder, "--top", "100")
    kinds = {x["kind"] for x in lv["levels"]}
    assert kinds == {"support", "resistance"}
    assert all((x["price"] < lv["price"]) == (x["kind"] == "support") for x in lv["levels"])


@needs_shared
def test_real_screen_ranks_the_shared_markets() -> None:
    rows = cli_json("screen", *(BUNDLES / n for n in REAL_NAMES))
    assert sorted(r["market"] for r in rows) == sorted(REAL_NAMES)
    chances = [r["hit_prob_24h"] for r in rows]
    assert chances == sorted(chances, reverse=True)
    assert all(0 < p < 1 for p in chances)
    nearest = cli_json("screen", *(BUNDLES / n for n in REAL_NAMES), "--rank", "distance")
    distances = [abs(r["distance_atr"]) for r in nearest]
    assert distances == sorted(distances)
    for r in rows:
        assert r["side"] in ("long", "short")
        assert (r["peak_price"] < r["price"]) == (r["side"] == "long")
        assert r["notional_usd"] > 0


def test_clusters_lead_with_what_is_likely_to_liquidate_soon(demo_dir: Path, demo_map: MarketMap) -> None:
    """The default order is the notional expected within 24 h (analytics.reach), each side; the table shows it."""
    data = cli_json("clusters", demo_dir, "--top", "100")
    for side in ("long", "short"):
        expected = [c["expected_usd_24h"] for c in data if c["side"] == side]
        assert expected == sorted(expected, reverse=True)
        assert all(0 <= c["hit_prob_24h"] <= 1 for c in data if c["side"] == side)
    assert data == shown(demo_map, top=100)
    table = run("clusters", demo_dir)
    assert table.exit_code == 0
    assert "24h p" in table.output
    bad = run("clusters", demo_dir, "--rank", "loud")
    assert bad.exit_code == 2
    assert "--rank" in bad.output


@pytest.mark.parametrize(
    "args",
    [("clusters",), ("levels",), ("sentiment",), ("plan", "--side", "long", *PLAN_KEYS), ("screen", "OTHER"), ("score",)],
    ids=["clusters", "levels", "sentiment", "plan", "screen", "score"],
)
def test_cli_tables_fit_80_columns_without_cutting_a_value(demo_dir: Path, other_dir: Path, args: tuple[str, ...]) -> None:
    import liqheat.cli.model_cmds  # noqa: F401  (registers score)

    command, *rest = args
    extra = [other_dir if a == "OTHER" else a for a in rest]
    if command == "plan":
        extra += ["--entry", round(market_map(read_bundle(demo_dir)).price)]
    result = run(command, demo_dir, *extra)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith("params {")]  # JSON kept whole, to copy
    assert max(len(line) for line in lines) <= 80, "\n".join(line for line in lines if len(line) > 80)
    assert not any("…" in line for line in lines), result.stdout  # a value rich had to cut
