"""Benchmark ``liqheat run`` against issue #15's targets: 50 markets followed and evaluated on one core, the alert
latency from the candle that crosses a rule to the signed webhook arriving at a local receiver (p99 ≤ 1 s), and the
memory over an hour of replayed streams (no growth beyond 10 % after warm-up).

What runs is the service itself (:class:`liqheat.service.run.Service`, what ``liqheat run --config`` starts, without
its HTTP server): one follower per market on one asyncio loop writing the store, the watch loop growing the served
markets, evaluating the rules and flushing the outbox. Only the venue is replayed: each market's ccxt.pro exchange gets
fake sockets and a fake REST transport (tests/sources/wsreplay.py), so Binance's own ``<symbol>@kline_1m`` and
``<symbol>@forceOrder`` frames go through ccxt's parsing as they would from the network. The process is pinned to
one core (``--cpu``), the webhook receiver included.

The data: each market (a Binance USD-M perpetual) has ``--days`` of 1-minute candles and 5-minute open interest in
the store, as an earlier run of the followers would have left them; then ``--minutes`` candles (an hour: 60 per
market) arrive over the websocket with the liquidations inside them (1.5 a minute on average), and open interest is
polled over REST every venue minute, as ``liqheat run`` polls it every 60 s. The clock is compressed: a venue minute lasts
``--minute-seconds`` wall seconds (5 by default: the hour in 5 minutes, 12× faster than the venue). The candles of
all markets close at the same instant, as a venue's do at the minute. Every candle of the hour is processed: the
bench checks that each market's store and served bundle hold all of them, and that every alert reached the receiver.

Latency of an alert: from the moment the venue sent the candle that crossed the rule to the webhook's arrival. The
watch loop evaluates a market on the newest map after whatever arrived since its last look, so the crossing candle
is one of the candles since its previous evaluation; the bench takes the earliest of them (an upper bound).

Run: .venv/bin/python bench/service.py [--markets 50] [--days 3] [--minutes 60] [--minute-seconds 5] [--tick 1]
Prints the machine, the load average, the figures and the targets; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from foundation import machine

from alerts.fakes import SECRET, WebhookReceiver, serving
from liqheat.service.config import MarketSpec, config_from
from liqheat.service.run import Service
from liqheat.store.parquet_store import Series, Store
from sources.wsreplay import At, Replay, Request, binance_force_order, binance_kline, binance_symbol, ms

BASES = ["BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "TRX", "LTC", "BCH", "NEAR", "APT", "ARB", "OP",
         "SUI", "SEI", "INJ", "TIA", "ATOM", "FIL", "ETC", "UNI", "AAVE", "MKR", "LDO", "FET", "WLD", "PEPE", "SHIB", "BNB",
         "TON", "XLM", "HBAR", "ICP", "STX", "IMX", "GRT", "ALGO", "SAND", "MANA", "AXS", "GALA", "FLOW", "EGLD", "THETA",
         "KAS", "JUP", "ENA"]  # fmt: skip
START = pd.Timestamp("2026-01-05T00:00:00Z")  # the replayed hour starts here; the stored history ends here
MINUTE = pd.Timedelta(minutes=1)
OI_STEP = pd.Timedelta(minutes=5)
TARGET_P99 = 1.0
TARGET_GROWTH = 0.10


@dataclass
class Feed:
    """One market's data: stored history then the replayed hour (candles ``n_hist`` on), with its liquidations."""

    symbol: str
    base: str
    candles: pd.DataFrame
    oi: pd.DataFrame
    liquidations: pd.DataFrame  # ts, side, price, qty: the forceOrder frames of the replayed hour
    n_hist: int


def make_feed(i: int, base: str, days: int, minutes: int) -> Feed:
    """A random walk at its own price level, volume and open interest; liquidations where the hour's candles trade."""
    rng = np.random.default_rng(1000 + i)
    n_hist = days * 1440
    n = n_hist + minutes + 1  # the candle after the hour is the one whose opening closes the last
    price0 = float(10 ** rng.uniform(-1, 5))
    ts = pd.date_range(START - n_hist * MINUTE, periods=n, freq="1min").astype("datetime64[us, UTC]")
    close = price0 * np.exp(np.cumsum(rng.normal(0, 8e-4, n)))
    open_ = np.r_[price0, close[:-1]]
    wiggle = np.abs(rng.normal(0, 4e-4, (2, n)))
    candles = pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * (1 + wiggle[0]),
                            "low": np.minimum(open_, close) * (1 - wiggle[1]), "close": close,
                            "volume": rng.gamma(2.0, 5e5 / price0, n)})  # fmt: skip
    oi_ts = pd.date_range(ts[0], ts[-1], freq=OI_STEP).astype("datetime64[us, UTC]")
    oi_usd = 2e8 * (1 + i % 7) * np.exp(np.cumsum(rng.normal(0, 2e-3, len(oi_ts))))
    oi_close = np.interp(oi_ts.asi8, ts.asi8, close)
    oi = pd.DataFrame({"ts": oi_ts, "oi_usd": oi_usd, "oi_base": oi_usd / oi_close})
    rows = []
    for k in range(n_hist, n_hist + minutes):
        c = candles.iloc[k]
        for _ in range(rng.poisson(1.5)):
            long = rng.random() < 0.5
            price = float(c["low"] if long else c["high"]) * (1 + rng.normal(0, 1e-4))
            at = c["ts"] + pd.Timedelta(seconds=float(rng.uniform(1, 58)))
            rows.append({"ts": at, "side": "long" if long else "short", "price": price, "qty": 2e4 / price * rng.gamma(2, 1)})
    liquidations = pd.DataFrame(rows, columns=["ts", "side", "price", "qty"]).sort_values("ts", ignore_index=True)
    return Feed(f"{base}USDT", base, candles, oi, liquidations, n_hist)


def seed(store: Store, feeds: list[Feed]) -> None:
    """The history an earlier run of the followers left in the store: candles, open interest, the cursors."""
    with store.writer():
        for f in feeds:
            unified = f"{f.base}/USDT:USDT"
            hist = f.candles.iloc[: f.n_hist]
            store.write(Series("candles", "binance", unified, "1m"), hist)
            oi = f.oi[f.oi["ts"] < START]
            store.write(Series("open_interest", "binance", unified), oi)
            store.advance("binance", unified, "candles-1m", hist["ts"].iloc[-1])
            store.advance("binance", unified, "open_interest", oi["ts"].iloc[-1])


class Replayed:
    """The venue as every market's follower sees it: a clock that runs ``60 / minute_seconds`` times faster than the
    wall clock from :meth:`begin`, and per market a ccxt source whose sockets play the hour on that clock."""

    def __init__(self, feeds: list[Feed], minute_seconds: float) -> None:
        self.feeds = {f.symbol: f for f in feeds}
        self.minute_seconds = minute_seconds
        self.m0: float | None = None
        self.replays: dict[str, Replay] = {}

    def begin(self) -> None:
        self.m0 = time.monotonic()

    def now(self) -> pd.Timestamp:
        elapsed = 0.0 if self.m0 is None else time.monotonic() - self.m0
        return (START + pd.Timedelta(seconds=elapsed * 60 / self.minute_seconds)).floor("us")

    def due(self, at: pd.Timestamp) -> Callable[[], float | None]:
        """When, on the wall clock, the venue sends what it sends at ``at`` (None before :meth:`begin`)."""
        offset = (at - START) / MINUTE * self.minute_seconds
        return lambda: None if self.m0 is None else self.m0 + offset

    def sent_at(self, close: pd.Timestamp) -> float:
        """When the venue sent the candle closing at ``close`` (the next candle's opening frame closes it)."""
        assert self.m0 is not None
        return self.m0 + (close - START) / MINUTE * self.minute_seconds

    def klines(self, request: Request) -> list[list[Any]]:
        f = self.feeds[request.query["symbol"]]
        start, limit = int(request.query["startTime"]), int(request.query["limit"])
        end = min(int(request.query.get("endTime", 2**62)), ms(self.now()))
        rows = f.candles[(f.candles["ts"].astype("int64") // 1000 >= start) & (f.candles["ts"].astype("int64") // 1000 <= end)]
        out = []
        for r in rows.iloc[:limit].itertuples(index=False):
            t = ms(r.ts)
            out.append(
                [t, str(r.open), str(r.high), str(r.low), str(r.close), str(r.volume), t + 59_999, "0", 100, "0", "0", "0"]
            )
        return out

    def open_interest(self, request: Request) -> list[dict[str, Any]]:
        f = self.feeds[request.query["symbol"]]
        start = int(request.query.get("startTime", 0))
        end = min(int(request.query.get("endTime", 2**62)), ms(self.now()))
        t = f.oi["ts"].astype("int64") // 1000
        rows = f.oi[(t >= start) & (t <= end)].iloc[-500:]
        return [{"symbol": f.symbol, "sumOpenInterest": str(r.oi_base), "sumOpenInterestValue": str(r.oi_usd),
                 "timestamp": str(ms(r.ts))} for r in rows.itertuples(index=False)]  # fmt: skip

    def source(self, spec: MarketSpec) -> Any:
        f = self.feeds[spec.symbol]
        live = f.candles.iloc[f.n_hist :]

        def kline(r: Any, closed: bool) -> dict[str, Any]:
            if closed:
                return binance_kline(f.symbol, r.ts, r.open, r.high, r.low, r.close, r.volume, closed=True)
            return binance_kline(f.symbol, r.ts, r.open, r.open, r.open, r.open, 0.0)

        rows = list(live.itertuples(index=False))
        klines: list[Any] = [At(self.due(START)), kline(rows[0], False)]
        for prev, nxt in itertools.pairwise(rows):
            klines += [At(self.due(nxt.ts)), kline(prev, True), kline(nxt, False)]
        orders: list[Any] = []
        for r in f.liquidations.itertuples(index=False):
            qty = f"{r.qty:.6f}"
            orders += [At(self.due(r.ts)), binance_force_order(f.symbol, "SELL" if r.side == "long" else "BUY", qty,
                                                             f"{r.price:.8g}", f"{r.price:.8g}", ms(r.ts))]  # fmt: skip
        info = {"timezone": "UTC", "serverTime": ms(START), "rateLimits": [], "exchangeFilters": [], "assets": [],
                "symbols": [binance_symbol(f.symbol, f.base, "USDT", inverse=False)]}  # fmt: skip
        rest = {"/fapi/v1/exchangeInfo": lambda r: info, "/fapi/v1/klines": self.klines,
                "/futures/data/openInterestHist": self.open_interest, "/fapi/v1/fundingRate": lambda r: []}  # fmt: skip
        replay = Replay("binance", f.symbol, {"kline": [klines], "forceOrder": [orders]}, rest, keepalive=False)
        self.replays[spec.id] = replay
        return replay.source


@dataclass
class Evaluated:
    market: str
    close: pd.Timestamp  # the close of the newest candle the map was made after
    at: float


class Watched(Service):
    """The service, noting each evaluation (which candle the map was after, and when)."""

    evaluations: list[Evaluated]
    candles_written: list[tuple[str, pd.Timestamp, float]]  # market, the close of the newest candle written, when
    near_written: list[bool]  # whether each came within a rule's reach

    def written(self, market_id: str, kind: str, rows: pd.DataFrame | None = None) -> None:
        if kind == "candles" and rows is not None and len(rows):
            self.candles_written.append((market_id, rows["ts"].iloc[-1] + MINUTE, time.monotonic()))
            self.near_written.append(self.within_reach(market_id, rows))
        super().written(market_id, kind, rows)

    def evaluate(self, market_id: str) -> int:
        bundle = self.registry.get(market_id).bundle
        close = bundle.candles["ts"].iloc[-1] + bundle.meta.timeframe_delta
        fired = super().evaluate(market_id)
        self.evaluations.append(Evaluated(market_id, close, time.monotonic()))
        return fired


@dataclass
class Arrivals(WebhookReceiver):
    """The signed-webhook receiver, stamping each alert's first arrival (time.monotonic())."""

    arrived: dict[str, float] = field(default_factory=dict)

    def handle(self, headers: Any, body: bytes) -> tuple[int, str]:
        at = time.monotonic()
        status, text = super().handle(headers, body)
        key = headers.get("Idempotency-Key", "")
        if status == 200:
            self.arrived.setdefault(key, at)
        return status, text


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=50)
    parser.add_argument("--days", type=int, default=3, help="days of stored history per market")
    parser.add_argument("--minutes", type=int, default=60, help="candles replayed per market")
    parser.add_argument("--minute-seconds", type=float, default=5.0, help="wall seconds a replayed minute lasts")
    parser.add_argument("--tick", type=float, default=1.0, help="the watch loop's tick (liqheat run --tick)")
    parser.add_argument("--warmup", type=int, default=10, help="replayed minutes before memory counts as warm")
    parser.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the last one)")
    args = parser.parse_args()
    if not 1 <= args.markets <= len(BASES):
        parser.error(f"--markets must be in [1, {len(BASES)}], got {args.markets}")
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})

    feeds = [make_feed(i, b, args.days, args.minutes) for i, b in enumerate(BASES[: args.markets])]
    work = Path(tempfile.mkdtemp(prefix="liqheat-bench-service-"))
    store = Store(work / "store")
    seed(store, feeds)
    venue = Replayed(feeds, args.minute_seconds)
    receiver = Arrivals()
    rss: list[tuple[float, float]] = []  # (replayed minute, MB)
    with serving(receiver) as url:
        config = config_from({
            "store": {"path": str(store.root)},
            "markets": [{"venues": ["binance"], "symbols": [f.symbol for f in feeds], "timeframe": "1m"}],
            "alerts": [{"rule": "near", "within_pct": 0.5, "min_usd": 1e5, "cooldown": 0},
                       {"rule": "swept", "min_usd": 1e5, "cooldown": 0}],
            "destinations": {"hook": {"webhook": f"{url}/hook", "secret": SECRET}},
            "delivery": {"retry_min": 0.5, "retry_max": 5},
        }, "bench")  # fmt: skip
        service = Watched(config, tick=args.tick, sources=venue.source, clock=venue.now,
                          poll_every=args.minute_seconds)  # fmt: skip
        service.evaluations = []
        service.candles_written = []
        service.near_written = []
        started = time.monotonic()
        service.start()
        while len({e.market for e in service.evaluations}) < len(feeds) and time.monotonic() - started < 600:
            time.sleep(0.1)  # the hour starts once every market is served and evaluated
        ready = time.monotonic() - started
        venue.begin()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.wait(0.5):
                rss.append(((venue.now() - START) / MINUTE, rss_mb()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        last_close = START + args.minutes * MINUTE
        deadline = time.monotonic() + args.minutes * args.minute_seconds * 3 + 120
        while time.monotonic() < deadline:
            done = {e.market for e in service.evaluations if e.close >= last_close}
            if len(done) == len(feeds) and not service.alerts.waiting():
                break
            time.sleep(0.2)
        replay_wall = time.monotonic() - (venue.m0 or started)
        stop_sampling.set()
        sampler.join()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        service.stop()

    # every candle of the hour processed, every alert delivered
    candles_in = {f.symbol: len(store.read(Series("candles", "binance", f"{f.base}/USDT:USDT", "1m"), START)) for f in feeds}
    served = {m.id: len(m.bundle.candles) - args.days * 1440 for m in service.registry}
    history = service.alerts.history(100_000)
    fired = [r for r in history if pd.Timestamp(r.alert.ts) > START]
    lost = [r.alert.key for r in history if r.alert.key not in receiver.arrived]

    # latency: from the first candle since the market's previous evaluation to the webhook's arrival
    by_market: dict[str, list[Evaluated]] = {}
    for e in service.evaluations:
        by_market.setdefault(e.market, []).append(e)
    latencies = []
    for r in fired:
        close = pd.Timestamp(r.alert.ts)
        evals = by_market[r.alert.market_id]
        i = next(j for j, e in enumerate(evals) if e.close >= close)
        before = max([e.close for e in evals[:i]] + [START])
        crossing = before + MINUTE
        latencies.append(receiver.arrived[r.alert.key] - venue.sent_at(crossing))
    first_eval: dict[tuple[str, pd.Timestamp], float] = {}  # a candle's first evaluation (later ones: other rows)
    for e in service.evaluations:
        if e.close > START:
            first_eval.setdefault((e.market, e.close), e.at)
    lag_eval = [at - venue.sent_at(close) for (_, close), at in first_eval.items()]
    warm = [mb for minute, mb in rss if args.warmup - 1 <= minute < args.warmup]
    after = [mb for minute, mb in rss if minute >= args.warmup]
    base_mb = statistics.median(warm) if warm else float("nan")
    growth = max(after) / base_mb - 1 if after and warm else float("nan")
    used = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)

    print(f"machine   {machine()}")
    print(f"load avg  {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min; at the end)")
    print(f"pinned    core {cpu} (the service's threads and the webhook receiver)")
    print(f"replay    {len(feeds)} Binance USD-M markets, {args.days} d of stored history each, then {args.minutes} candles "
          f"each over the websocket; 1 venue minute = {args.minute_seconds:g} s ({60 / args.minute_seconds:g}× compressed); "
          f"tick {args.tick:g} s")  # fmt: skip
    print(f"start     {ready:.1f} s to serve and first evaluate every market (timelines built)")
    short = {s: n for s, n in candles_in.items() if n != args.minutes}
    print(f"candles   stored per market in the hour: {min(candles_in.values())}–{max(candles_in.values())} "
          f"(of {args.minutes}) "
          f"{'all markets' if not short else 'MISSING ' + json.dumps(short)}; served per market beyond the history: "
          f"{min(served.values())}–{max(served.values())}")  # fmt: skip
    print(f"work      {len(service.evaluations)} evaluations in {replay_wall:.0f} s; CPU {used:.0f} s "
          f"({used / replay_wall:.0%} of the core)")  # fmt: skip
    kinds = pd.Series([r.alert.kind for r in fired]).value_counts().to_dict()
    print(f"alerts    {len(fired)} from the replayed hour ({kinds}); {len(lost)} not delivered; "
          f"{sum(receiver.repeats.values())} repeats dropped by the receiver")  # fmt: skip
    if latencies:
        print(f"latency   crossing candle sent → webhook received: p50 {percentile(latencies, 50):.3f} s, "
              f"p99 {percentile(latencies, 99):.3f} s, max {max(latencies):.3f} s  (target p99 ≤ {TARGET_P99:g} s: "
              f"{'met' if percentile(latencies, 99) <= TARGET_P99 else 'NOT met'})")  # fmt: skip
    print(f"evaluate  candle sent → the map after it first evaluated, every market's every candle ({len(lag_eval):,}): "
          f"p50 {percentile(lag_eval, 50):.3f} s, p99 {percentile(lag_eval, 99):.3f} s, max {max(lag_eval, default=0):.3f} s "
          f"(what an alert's latency is, for any rule)")  # fmt: skip
    lag_written = [at - venue.sent_at(close) for _, close, at in service.candles_written if close > START]
    near = sum(service.near_written)
    print(f"reach     {near} of {len(service.near_written)} candles came within a rule's reach of the last evaluation "
          f"(taken first)")
    print(f"written   candle sent → on disk (the followers' part of the above): p50 {percentile(lag_written, 50):.3f} s, "
          f"p99 {percentile(lag_written, 99):.3f} s")
    by_minute: dict[int, list[float]] = {}
    for (_, close), at in first_eval.items():
        by_minute.setdefault(int((close - START) / MINUTE), []).append(at - venue.sent_at(close))
    print("per minute  p50 / p99 of each replayed minute's first evaluations (s): " + ", ".join(
        f"{k}: {percentile(v, 50):.1f}/{percentile(v, 99):.1f}" for k, v in sorted(by_minute.items())))  # fmt: skip
    if not after:
        print(f"memory    not measured: the replay is no longer than --warmup ({args.warmup} minutes)")
    else:
        print(f"memory    RSS {base_mb:.0f} MB after {args.warmup} replayed minutes, max {max(after):.0f} MB after, "
              f"{after[-1]:.0f} MB at the end: growth {growth:+.1%} (target ≤ {TARGET_GROWTH:.0%}: "
              f"{'met' if growth <= TARGET_GROWTH else 'NOT met'})")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
