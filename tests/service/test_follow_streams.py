"""``liqheat run`` following venue websockets end to end, everything on 127.0.0.1: the service (its in-process entry,
:class:`~liqheat.service.run.Service`, what ``liqheat run --config`` starts) follows two markets whose ccxt.pro
exchanges read replayed sockets (tests/sources/wsreplay.py: only the transport is replaced, ccxt parses the frames):

- Binance BTCUSDT from 2025-01-27 16:50 to 17:10 UTC: the ``forceOrder`` frames of the shared recording
  (../shared/data/raw/binance-forceorder-stream, paulius, de-duplicated: 31 BTC orders, a short squeeze at 17:03
  and a long flush at 17:08) and ``kline_1m`` frames. Klines of that window were not recorded (PROVENANCE.md): each
  minute's candle is drawn through the fill prices recorded in it, interpolated between.
- Bybit BTCUSDT: the five linear klines of tests/venues/bybit/kline.json as ``kline.1`` frames.

Each market has two days of minutes in the store before (a random walk ending at the stream's first price). The
stream is paced by the service: a candle is sent once the previous one was evaluated and the liquidations before its
close are on disk, so what the service evaluates, and what it fires, is known. The alerts go to a signed-webhook
receiver, a fake Telegram Bot API (apprise tgram://) and an SMTP server (aiosmtpd, apprise mailto://; swept alerts
only: apprise waits 5.5 s between two e-mails). The test replays the same data map by map through the rules apart
from the service and expects exactly those alerts, each once, in order per market, with the same figures; a swept
band's realized liquidations are the recorded orders' filled notional priced in that band.
"""

from __future__ import annotations

import html
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alerts.fakes import SECRET, FakeTelegram, WebhookReceiver, serving, smtp_server
from liqheat.alerts.monitor import Monitor
from liqheat.alerts.rules import Alert
from liqheat.alerts.state import AlertStore
from liqheat.analytics.clusters import clusters_of
from liqheat.api.markets import Market
from liqheat.bundle import Bundle
from liqheat.demo.live import published
from liqheat.service.config import MarketSpec, config_from
from liqheat.service.run import Service
from liqheat.store.aggregate import aggregate, parse_feeds
from liqheat.store.parquet_store import Series, Store
from liqheat.venues.binance.forceorder import read_force_orders
from sources.wsreplay import At, Replay, Request, binance_force_order, binance_kline, bybit_kline, ms

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT.parent / "shared" / "data" / "raw" / "binance-forceorder-stream" / "paulius_forceorder_2025-01-26_2025-02-06.csv"
BYBIT_KLINES = ROOT / "tests" / "venues" / "bybit" / "kline.json"
MINUTE = pd.Timedelta(minutes=1)
BINANCE_START, BINANCE_MINUTES = pd.Timestamp("2025-01-27T16:50:00Z"), 20
UNIFIED = "BTC/USDT:USDT"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
OI_USD = 7e9

pytestmark = pytest.mark.skipif(not RECORDING.is_file(), reason=f"shared recording not found at {RECORDING}")


def history(end: pd.Timestamp, last_close: float, days: int = 2, seed: int = 5, plateau: float = 1.006) -> pd.DataFrame:
    """``days`` of minutes before ``end``: a climb of 3 % to a plateau 0.6 % above ``last_close`` for the last twelve
    hours (where positions are opened whose liquidation bands the stream then reaches), then down to ``last_close``
    in the last half hour; a little noise on that line, none at its end."""
    n = days * 1440
    rng = np.random.default_rng(seed)
    at = np.arange(n)
    line = np.interp(
        at, [0, n - 720, n - 30, n - 1], np.log([last_close * 0.976, last_close * plateau, last_close * plateau, last_close])
    )
    noise = np.cumsum(rng.normal(0, 3e-4, n))
    noise -= np.linspace(noise[0], noise[-1], n)
    close = np.exp(line + noise)
    open_ = np.r_[close[0], close[:-1]]
    ts = pd.date_range(end - n * MINUTE, periods=n, freq="1min").astype("datetime64[us, UTC]")
    wiggle = np.abs(rng.normal(0, 3e-4, (2, n)))
    return pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * (1 + wiggle[0]),
                         "low": np.minimum(open_, close) * (1 - wiggle[1]), "close": close, "volume": 40.0})  # fmt: skip


def recorded_orders() -> pd.DataFrame:
    orders = read_force_orders(RECORDING)
    btc = orders[(orders["native"] == "BTCUSDT") & (orders["ts"] >= BINANCE_START)]
    btc = btc[btc["ts"] < BINANCE_START + BINANCE_MINUTES * MINUTE].sort_values("ts", kind="stable")
    # two orders are on record twice with the recorder's usd_size off by 1e6 in one copy: one order each
    return btc.drop_duplicates(["ts", "side", "filled", "price", "average_price"]).reset_index(drop=True)


def binance_candles(orders: pd.DataFrame, first_open: float) -> pd.DataFrame:
    """The window's minutes through the recorded fill prices: a minute with orders closes at its last fill and
    trades every fill; a minute without closes on the line between its neighbours."""
    minutes = BINANCE_START + MINUTE * np.arange(BINANCE_MINUTES + 1)
    fills = orders.assign(minute=orders["ts"].dt.floor("1min"))
    last = fills.groupby("minute")["average_price"].last()
    known = [(0, first_open)] + [(int((m - BINANCE_START) / MINUTE), float(p)) for m, p in last.items()]
    close = np.interp(np.arange(len(minutes)), [k for k, _ in known], [p for _, p in known])
    open_ = np.r_[first_open, close[:-1]]
    high, low = np.maximum(open_, close), np.minimum(open_, close)
    for m, group in fills.groupby("minute"):
        k = int((m - BINANCE_START) / MINUTE)
        high[k], low[k] = max(high[k], group["average_price"].max()), min(low[k], group["average_price"].min())
    ts = pd.DatetimeIndex(minutes).astype("datetime64[us, UTC]")
    return pd.DataFrame({"ts": ts, "open": open_, "high": high + 5, "low": low - 5, "close": close, "volume": 60.0})


def bybit_candles() -> pd.DataFrame:
    rows = json.loads(BYBIT_KLINES.read_text())["linear"]["result"]["list"][::-1]
    frame = pd.DataFrame(
        [[int(r[0]), *map(float, r[1:6])] for r in rows], columns=["ms", "open", "high", "low", "close", "volume"]
    )
    frame.insert(0, "ts", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True).astype("datetime64[us, UTC]"))
    after = frame.iloc[-1]
    opening = {"ts": after["ts"] + MINUTE, "open": after["close"], "high": after["close"], "low": after["close"],
               "close": after["close"], "volume": 0.0}  # fmt: skip
    return pd.concat([frame, pd.DataFrame([opening])], ignore_index=True)


def seed(store: Store, venue: str, candles: pd.DataFrame) -> None:
    with store.writer():
        store.write(Series("candles", venue, UNIFIED, "1m"), candles)
        store.write(Series("open_interest", venue, UNIFIED), pd.DataFrame({"ts": candles["ts"], "oi_usd": OI_USD}))
        store.advance(venue, UNIFIED, "candles-1m", candles["ts"].iloc[-1])
        store.advance(venue, UNIFIED, "open_interest", candles["ts"].iloc[-1])


class Paced(Service):
    """The service, noting each market's evaluations (the close of the candle the map was after) and how many
    liquidations each market has on disk, for the sockets to pace themselves by."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.evaluated: dict[str, list[pd.Timestamp]] = {}
        self.liquidations: dict[str, int] = {}

    def evaluate(self, market_id: str) -> int:
        bundle = self.registry.get(market_id).bundle
        fired = super().evaluate(market_id)
        self.evaluated.setdefault(market_id, []).append(bundle.candles["ts"].iloc[-1] + MINUTE)
        return fired

    def written(self, market_id: str, kind: str, rows: pd.DataFrame | None = None) -> None:
        if kind == "liquidations":
            spec = self.specs()[market_id]
            self.liquidations[market_id] = len(self.store.read(Series("liquidations", spec.venue, spec.market.unified)))
        super().written(market_id, kind, rows)


class Venues:
    """Each market's replayed exchange, its frames released as :class:`Paced` allows."""

    def __init__(self, orders: pd.DataFrame, binance: pd.DataFrame, bybit: pd.DataFrame) -> None:
        self.orders, self.binance, self.bybit = orders, binance, bybit
        self.service: Paced | None = None

    def after(self, market_id: str, close: pd.Timestamp, liquidations: int = 0) -> At:
        """Sent once ``market_id`` was evaluated at ``close`` and has ``liquidations`` on disk."""

        def when() -> float | None:
            s = self.service
            if s is None or close not in s.evaluated.get(market_id, []) or s.liquidations.get(market_id, 0) < liquidations:
                return None
            return time.monotonic()

        return At(when)

    def klines(self, market_id: str, live: pd.DataFrame, frame: Any) -> list[Any]:
        """The opening update of the first live candle, then for each candle its final update and the next one's
        opening (which closes it for ccxt), sent once the candle before was evaluated and its liquidations stored."""
        rows = list(live.itertuples(index=False))
        out: list[Any] = [frame(rows[0], False)]
        for prev, nxt in itertools.pairwise(rows):
            before = int((self.orders["ts"] < nxt.ts).sum()) if market_id == "btc-binance-1m" else 0
            out += [self.after(market_id, prev.ts, before), frame(prev, True), frame(nxt, False)]
        return out

    def source(self, spec: MarketSpec) -> Any:
        if spec.venue == "binance":

            def frame(r: Any, closed: bool) -> dict[str, Any]:
                if closed:
                    return binance_kline("BTCUSDT", r.ts, r.open, r.high, r.low, r.close, r.volume, closed=True)
                return binance_kline("BTCUSDT", r.ts, r.open, r.open, r.open, r.open, 0.0)

            orders: list[Any] = []
            for o in self.orders.itertuples(index=False):
                side = "SELL" if o.side == "long" else "BUY"
                price, avg = f"{o.price:.2f}", f"{o.average_price:.2f}"
                orders += [self.after(spec.id, o.ts.floor("1min")),
                           binance_force_order("BTCUSDT", side, f"{o.filled:.3f}", price, avg, ms(o.ts))]  # fmt: skip
            scripts = {"kline": [self.klines(spec.id, self.binance, frame)], "forceOrder": [orders]}
            rest = {"/futures/data/openInterestHist": lambda r: [], "/fapi/v1/fundingRate": lambda r: [],
                    "/fapi/v1/klines": self.binance_history}  # fmt: skip
            return Replay("binance", "BTCUSDT", scripts, rest, keepalive=False).source

        def bybit(r: Any, closed: bool) -> dict[str, Any]:
            if closed:
                return bybit_kline("BTCUSDT", r.ts, r.open, r.high, r.low, r.close, r.volume, confirm=True)
            return bybit_kline("BTCUSDT", r.ts, r.open, r.open, r.open, r.open, 0.0)

        empty = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [], "nextPageCursor": ""}, "time": 1}
        rest = {"/v5/market/open-interest": lambda r: empty, "/v5/market/funding/history": lambda r: empty,
                "/v5/market/kline": lambda r: empty}  # fmt: skip
        scripts = {"kline": [self.klines(spec.id, self.bybit, bybit)], "allLiquidation": [[]]}
        return Replay("bybit", "BTCUSDT", scripts, rest, keepalive=False).source

    def binance_history(self, request: Request) -> list[list[Any]]:
        """GET /fapi/v1/klines at start-up (the follower backfills from its cursor): the last stored minute."""
        assert int(request.query["startTime"]) < ms(BINANCE_START)
        return []


def as_aggregated(bundle: Bundle) -> Bundle:
    """``bundle`` as the store's aggregate gives it: no liquidation table (and no scoring) while none are recorded."""
    if bundle.liquidations is not None and len(bundle.liquidations):
        return bundle
    return replace(bundle, liquidations=None, meta=replace(bundle.meta, score_from=None, liquidations_interval=None))


def expected_alerts(service: Paced, store: Store, tmp_path: Path, now: pd.Timestamp) -> dict[str, list[Alert]]:
    """The rules over each market's data map by map, apart from the service: the final store's aggregate cut at
    every close the service evaluated, each map built afresh."""
    monitor = Monitor(service.config.rules(), AlertStore(tmp_path / "expected.sqlite"), list(service.config.destinations))
    out: dict[str, list[Alert]] = {}
    for spec in service.config.market_list():
        final = aggregate(store, parse_feeds([spec.venue], spec.symbol), "1m").bundle
        for close in service.evaluated[spec.id]:
            n = int(final.candles["ts"].searchsorted(close - MINUTE, side="right"))
            bundle = as_aggregated(published(final, n))
            m = Market(id=spec.id, bundle=bundle).map_at(n - 1)
            out.setdefault(spec.id, []).extend(monitor.evaluate(spec.id, m, clusters_of(m, top=None), bundle, now=now))
    return out


def test_run_follows_recorded_streams_to_webhook_telegram_and_email(tmp_path: Path) -> None:
    orders = recorded_orders()
    assert len(orders) == 31
    assert orders["side"].value_counts().to_dict() == {"long": 26, "short": 5}
    binance = binance_candles(orders, first_open=99_800.0)
    bybit = bybit_candles()
    store = Store(tmp_path / "store")
    seed(store, "binance", history(BINANCE_START, binance["open"].iloc[0]))
    seed(store, "bybit", history(bybit["ts"].iloc[0], bybit["open"].iloc[0], seed=6))
    venues = Venues(orders, binance, bybit)
    receiver, telegram = WebhookReceiver(), FakeTelegram()
    with serving(receiver) as hook, serving(telegram) as bot_api, smtp_server() as (smtp_port, mails):
        config = config_from({
            "store": {"path": str(store.root)},
            "markets": [{"venues": ["binance", "bybit"], "symbols": ["BTCUSDT"]}],
            "alerts": [{"rule": "near", "within_pct": 1.5, "min_usd": 5e6, "cooldown": 0},
                       {"rule": "near", "name": "wide", "within_pct": 6.0, "min_usd": 2e7, "cooldown": 0,
                        "destinations": ["hook", "tg"]},
                       {"rule": "swept", "min_usd": 5e6, "cooldown": 0, "destinations": ["hook", "tg"]}],
            "destinations": {"hook": {"webhook": f"{hook}/liqheat", "secret": SECRET},
                             "tg": {"url": f"tgram://{TOKEN}/987654321", "telegram_api": bot_api},
                             "mail": {"url": f"mailto://127.0.0.1:{smtp_port}?from=alerts@example.com&to=trader@example.com"}},
            "delivery": {"retry_min": 1, "retry_max": 5},
        }, "test")  # fmt: skip
        service = Paced(config, tick=0.2, sources=venues.source, clock=lambda: BINANCE_START)
        venues.service = service
        service.start()
        closes = {"btc-binance-1m": binance["ts"].iloc[-1], "btc-bybit-1m": bybit["ts"].iloc[-1]}
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline and not (
                all(c in service.evaluated.get(m, []) for m, c in closes.items()) and not service.alerts.waiting()
            ):
                time.sleep(0.1)
        finally:
            service.stop()
    progress = {m: (len(e), str(e[-1])) for m, e in service.evaluated.items()}
    assert all(c in service.evaluated.get(m, []) for m, c in closes.items()), (progress, service.liquidations)
    # every candle of the stream was evaluated once, in order, after the start-up look at the history's last close
    assert service.evaluated["btc-binance-1m"][0] == BINANCE_START
    assert sorted(set(service.evaluated["btc-binance-1m"])) == [BINANCE_START + k * MINUTE for k in range(BINANCE_MINUTES + 1)]
    stored = store.read(Series("liquidations", "binance", UNIFIED))
    assert len(stored) == len(orders)
    np.testing.assert_allclose(stored["usd"], orders["filled"] * orders["average_price"], rtol=1e-12)

    expected = expected_alerts(service, store, tmp_path, BINANCE_START)
    flush = [a for a in expected["btc-binance-1m"] if a.kind == "near" and pd.Timestamp(a.ts) > BINANCE_START]
    assert [(a.ts, a.data["side"]) for a in flush] == [("2025-01-27T17:09:00Z", "long")]  # the recorded long flush
    everything = {a.key for alerts in expected.values() for a in alerts}
    print(f"alerts: {len(everything)}, " + ", ".join(f"{a.market_id} {a.kind} {a.ts}" for v in expected.values() for a in v))
    # the signed webhook: every alert once, in order per market, with the figures of the replay apart
    got = [r.body for r in receiver.accepted]
    assert receiver.repeats == {}
    assert receiver.refused == []
    assert {b["key"] for b in got} == everything
    for market, alerts in expected.items():
        assert [b for b in got if b["market"] == market] == [json.loads(json.dumps(a.to_dict())) for a in alerts]
    # Telegram and e-mail carried the same alerts, in the order the webhook got them
    order = [b["key"] for b in got]
    by_key = {a.key: a for alerts in expected.values() for a in alerts}
    assert len(telegram.messages) == len(order)
    for key, message in zip(order, telegram.messages, strict=True):
        text = html.unescape(message["text"])
        assert by_key[key].title in text
        assert by_key[key].text in text
    near = [k for k in order if by_key[k].rule == "near"]
    deadline = time.monotonic() + 10
    while len(mails) < len(near) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m["Subject"] for m in mails] == [by_key[k].title for k in near]
    # a swept band's realized liquidations are the recorded orders priced in it, in the window since the last look
    for key in (k for k in order if by_key[k].kind == "swept"):
        d = by_key[key].data
        if d["realized_usd"] is None:
            continue
        since, until = pd.Timestamp(d["since"]), pd.Timestamp(by_key[key].ts)
        inside = orders[(orders["ts"] >= since) & (orders["ts"] < until) & (orders["side"] == d["side"])]
        inside = inside[(inside["average_price"] >= d["price_low"]) & (inside["average_price"] <= d["price_high"])]
        assert d["realized_usd"] == pytest.approx(float((inside["filled"] * inside["average_price"]).sum()), rel=1e-9)
