"""``fetch_history`` and ``liqheat fetch`` under injected venue faults, over a fake Binance USD-M.

Every faulty run must leave the store exactly as a fault-free run does (same rows, no gap, no
duplicate, same cursors) and say what happened in the log; an error that retrying cannot fix is
raised with nothing half-written, and a rerun completes. The fake (``store_fetch_fake``) sits below
ccxt, at its HTTP session, so ccxt's parsing and error mapping are part of what is tested.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from store_fetch_fake import (
    COLUMNS,
    END,
    PAGES_PER_CHUNK,
    SPEC,
    START,
    SYMBOL,
    FakeBinance,
    Fault,
    Market,
    make_market,
    open_fake,
    run_fetch,
    snapshot,
    stored,
)

from liqheat.sources.ccxt import CcxtSource
from liqheat.sources.errors import RetryableVenueError, VenueError
from liqheat.store.collect import FetchReport, candle_gaps, complete_open_interest, fetch_history
from liqheat.store.parquet_store import Store
from liqheat.venues.spec import VenueSpec
from liqheat.venues.spec import num as _num

HERE = Path(__file__).resolve().parent
MARKET = make_market()
FULL = {"candles": 4320, "open_interest": 864, "funding": 9}
WHAT = {"klines": "fetch_ohlcv", "openInterestHist": "fetch_open_interest_history", "fundingRate": "fetch_funding_rate_history"}
CANDLES_KEY, OI_KEY, FUNDING_KEY = (f"binance|{SYMBOL}|{s}" for s in ("candles-1m", "open_interest", "funding"))


def minutes(n: float) -> pd.Timestamp:
    return START + pd.Timedelta(minutes=n)


def ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


def stamp(ts: pd.Timestamp) -> str:
    """A cursor as the store writes it."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass
class Run:
    store: Store
    fake: FakeBinance
    source: CcxtSource
    slept: list[float]
    report: FetchReport | None = None
    error: BaseException | None = None

    def starts(self, endpoint: str) -> list[float]:
        """The startTime of each request to ``endpoint``, in minutes after START."""
        return [(p["startTime"] - ms(START)) / 60_000 for e, p in self.fake.requests if e == endpoint]


def run(
    root: Path, faults: tuple[Fault, ...] = (), *, market: Market = MARKET, spec: VenueSpec = SPEC, raises: bool = False
) -> Run:
    """One fetch of the whole market into ``root`` (resuming from what is there)."""
    fake = FakeBinance(market, faults)
    source, slept = open_fake(fake, spec)
    out = Run(Store(root), fake, source, slept)
    try:
        out.report = fetch_history(out.store, source, "1m", START, END, pages_per_chunk=PAGES_PER_CHUNK)
    except Exception as exc:
        if not raises:
            raise
        out.error = exc
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a fault-free fetch leaves in the store."""
    return snapshot(run(tmp_path_factory.mktemp("clean")).store)


def assert_same(store: Store, clean: dict[str, Any]) -> None:
    got = snapshot(store)
    for kind in COLUMNS:
        pd.testing.assert_frame_equal(got[kind], clean[kind], obj=kind)
    assert got["cursors"] == clean["cursors"]


def assert_prefix(store: Store, clean: dict[str, Any]) -> dict[str, int]:
    """Each series holds the first rows of the clean run, nothing else, and its cursor is its last row."""
    got = snapshot(store)
    lengths = {}
    for kind, key in zip(COLUMNS, (CANDLES_KEY, OI_KEY, FUNDING_KEY), strict=True):
        n = lengths[kind] = len(got[kind])
        pd.testing.assert_frame_equal(got[kind], clean[kind].iloc[:n].reset_index(drop=True), check_dtype=bool(n), obj=kind)
        assert got["cursors"].get(key) == (stamp(got[kind]["ts"].iloc[-1]) if n else None)
    return lengths


def retry_lines(what: str, names: list[str]) -> list[str]:
    return [f"{what}: {name}, retry {i + 1} in {0.5 * 2**i:g}s" for i, name in enumerate(names)]


# ------------------------------------------------------------------------------------- the clean run


def test_a_clean_run_stores_the_market_exactly(tmp_path: Path, clean: dict[str, Any]) -> None:
    pd.testing.assert_frame_equal(clean["candles"], MARKET.candles())
    pd.testing.assert_frame_equal(clean["open_interest"], MARKET.oi())
    pd.testing.assert_frame_equal(clean["funding"], MARKET.rates())
    assert (clean["candles"]["ts"].diff().iloc[1:] == pd.Timedelta(minutes=1)).all()  # no gap, no duplicate
    assert clean["cursors"] == {
        CANDLES_KEY: "2025-10-12T23:59:00.000000Z",
        OI_KEY: "2025-10-12T23:55:00.000000Z",
        FUNDING_KEY: stamp(MARKET.rates()["ts"].iloc[-1]),
    }
    again = run(tmp_path)
    assert again.report is not None
    assert again.report.added == FULL
    assert (again.report.gaps, again.report.log, again.slept) == ([], [], [])
    assert again.starts("klines") == [0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000]  # one request a page, no overlap
    assert again.starts("openInterestHist") == [0, 1000, 2000, 3000, 4000]
    rerun = run(tmp_path)  # everything is there: the rerun resumes at the cursors and adds nothing
    assert rerun.report is not None
    assert rerun.report.added == {"candles": 0, "open_interest": 0, "funding": 0}
    assert rerun.starts("klines") == [4319]
    assert_same(rerun.store, clean)


# --------------------------------------------------------------------------------- retried faults


@pytest.mark.parametrize(
    ("endpoint", "kind", "name"),
    [
        ("klines", "429", "DDoSProtection"),  # ccxt's binance maps HTTP 429 and 418 alike to DDoSProtection
        ("klines", "418", "DDoSProtection"),
        ("klines", "ratelimit", "RateLimitExceeded"),
        ("klines", "timeout", "RequestTimeout"),
        ("klines", "network", "NetworkError"),
        ("openInterestHist", "429", "DDoSProtection"),
        ("openInterestHist", "timeout", "RequestTimeout"),
        ("fundingRate", "418", "DDoSProtection"),
        ("fundingRate", "network", "NetworkError"),
    ],
)
def test_transient_faults_are_retried_with_exponential_backoff(
    tmp_path: Path, clean: dict[str, Any], endpoint: str, kind: str, name: str
) -> None:
    done = run(tmp_path, (Fault(endpoint, 2, kind, times=3),))
    assert done.report is not None
    assert done.fake.faulted == [(endpoint, 2, kind), (endpoint, 3, kind), (endpoint, 4, kind)]
    assert done.slept == [0.5, 1.0, 2.0]
    assert done.report.log == retry_lines(WHAT[endpoint], [name] * 3)
    assert done.report.added == FULL
    assert done.report.gaps == []
    assert_same(done.store, clean)


def test_backoff_grows_per_request_and_starts_again_for_the_next(tmp_path: Path, clean: dict[str, Any]) -> None:
    faults = (
        Fault("klines", 4, "timeout"),
        Fault("klines", 5, "network"),
        Fault("klines", 6, "429"),
        Fault("klines", 9, "418"),  # a later page: its backoff starts again at 0.5 s
    )
    done = run(tmp_path, faults)
    assert done.report is not None
    assert done.slept == [0.5, 1.0, 2.0, 0.5]
    assert done.report.log == [
        *retry_lines("fetch_ohlcv", ["RequestTimeout", "NetworkError", "DDoSProtection"]),
        *retry_lines("fetch_ohlcv", ["DDoSProtection"]),
    ]
    assert done.starts("klines")[3:9] == [1500, 1500, 1500, 1500, 2000, 2500]  # the same page asked until it came
    assert_same(done.store, clean)


def test_retries_exhausted_raise_a_clear_error_and_a_rerun_completes(tmp_path: Path, clean: dict[str, Any]) -> None:
    failed = run(tmp_path, (Fault("klines", 5, "timeout", times=6),), raises=True)  # page 2 of chunk 2, six times
    assert isinstance(failed.error, RetryableVenueError)
    assert str(failed.error).startswith("binance fetch_ohlcv BTC/USDT:USDT: RequestTimeout: ")
    assert "fapi/v1/klines" in str(failed.error)
    assert str(failed.error).endswith("(still failing after 5 retries)")
    assert failed.slept == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert failed.source.log == [
        *retry_lines("fetch_ohlcv", ["RequestTimeout"] * 5),
        "fetch_ohlcv: RequestTimeout again after 5 retries; giving up",
    ]
    assert assert_prefix(failed.store, clean) == {"candles": 1500, "open_interest": 0, "funding": 0}  # chunk 1 only
    assert failed.store.cursors() == {CANDLES_KEY: "2025-10-11T00:59:00.000000Z"}
    rerun = run(tmp_path)
    assert rerun.report is not None
    assert rerun.starts("klines")[0] == 1499  # from the cursor
    assert rerun.report.added == {**FULL, "candles": 4320 - 1500}
    assert_same(rerun.store, clean)


def test_a_permanent_error_is_raised_at_once_with_nothing_half_written(tmp_path: Path, clean: dict[str, Any]) -> None:
    failed = run(tmp_path, (Fault("openInterestHist", 4, "401"),), raises=True)  # chunk 2 of open interest
    assert type(failed.error) is VenueError  # not retryable
    assert str(failed.error).startswith("binance fetch_open_interest_history BTC/USDT:USDT: AuthenticationError: ")
    assert "Invalid API-key" in str(failed.error)
    assert (failed.slept, failed.source.log) == ([], [])
    assert failed.fake.counts["openInterestHist"] == 4  # not asked again
    assert assert_prefix(failed.store, clean) == {"candles": 4320, "open_interest": 600, "funding": 0}
    assert failed.store.cursors()[OI_KEY] == stamp(minutes(2995))  # the last sample of the chunk that was written
    rerun = run(tmp_path)
    assert rerun.report is not None
    assert rerun.starts("openInterestHist")[0] == 2995
    assert rerun.report.added == {"candles": 0, "open_interest": 864 - 600, "funding": 9}
    assert_same(rerun.store, clean)


# ------------------------------------------------------------------------------------- bad pages


def test_truncated_pages_are_continued_from_their_last_row(tmp_path: Path, clean: dict[str, Any]) -> None:
    faults = (
        Fault("klines", 2, "truncate", keep=137),
        Fault("openInterestHist", 2, "truncate", keep=17),
        Fault("fundingRate", 1, "truncate", keep=2),
    )
    done = run(tmp_path, faults)
    assert done.report is not None
    assert done.starts("klines")[:5] == [0, 500, 637, 1137, 1500]  # 500 + 137 rows, then on from the row after
    assert done.starts("openInterestHist")[:3] == [0, 1000, 1085]  # 200 + 17 samples of 5 minutes
    assert done.fake.requests[[e for e, _ in done.fake.requests].index("fundingRate") + 1][1]["startTime"] == (
        MARKET.funding[1]["fundingTime"] + 1
    )
    assert done.report.added == FULL
    assert (done.report.log, done.report.gaps) == ([], [])
    assert_same(done.store, clean)


def test_an_empty_page_mid_range_is_asked_again_and_filled(tmp_path: Path, clean: dict[str, Any]) -> None:
    faults = (Fault("klines", 2, "empty"), Fault("openInterestHist", 2, "empty"), Fault("fundingRate", 2, "empty"))
    done = run(tmp_path, faults)
    assert done.report is not None
    # the empty page, a look one page further (data there), the same page again (rows now)
    assert done.starts("klines")[:5] == [0, 500, 1000, 500, 1000]
    assert done.starts("openInterestHist")[:5] == [0, 1000, 2000, 1000, 2000]
    assert done.report.log == [
        "fetch_ohlcv: an empty page at 2025-10-10 08:20:00 had rows when asked again",
        "fetch_open_interest_history: an empty page at 2025-10-10 16:40:00 had rows when asked again",
        "fetch_funding_rate_history: an empty page at 2025-10-11 00:00:00 had rows when asked again",
    ]
    assert done.report.added == FULL
    assert done.report.gaps == []
    assert_same(done.store, clean)


def test_a_stretch_the_venue_keeps_empty_is_reported_never_silent(tmp_path: Path, clean: dict[str, Any]) -> None:
    faults = (Fault("klines", 0, "empty", start=ms(minutes(500))), Fault("openInterestHist", 0, "empty", start=ms(minutes(1000))))
    done = run(tmp_path, faults)
    assert done.report is not None
    assert done.report.log == [
        "fetch_ohlcv: no rows from 2025-10-10 08:20:00 to 2025-10-10 16:40:00 although later ones exist; left as a gap",
        "fetch_open_interest_history: no rows from 2025-10-10 16:40:00 to 2025-10-11 09:20:00 although later ones exist; "
        "left as a gap",
    ]
    assert done.report.gaps == [(minutes(500), minutes(1000))]
    candles, oi = stored(done.store, "candles"), stored(done.store, "open_interest")
    expected = clean["candles"][(clean["candles"]["ts"] < minutes(500)) | (clean["candles"]["ts"] >= minutes(1000))]
    pd.testing.assert_frame_equal(candles, expected.reset_index(drop=True))
    expected = clean["open_interest"][
        (clean["open_interest"]["ts"] < minutes(1000)) | (clean["open_interest"]["ts"] >= minutes(2000))
    ]
    pd.testing.assert_frame_equal(oi, expected.reset_index(drop=True))
    assert done.report.added == {**FULL, "candles": 4320 - 500, "open_interest": 864 - 200}


def test_a_hole_longer_than_an_open_interest_page_is_crossed_and_reported(tmp_path: Path) -> None:
    """Binance's openInterestHist answers inside [startTime, endTime] (ccxt asks one page's span), so a
    hole longer than a page comes back as an empty page: the walk must go on after it, and say so."""
    market = make_market(oi_holes=[(600, 1800)])
    done = run(tmp_path, market=market)
    assert done.report is not None
    pd.testing.assert_frame_equal(stored(done.store, "open_interest"), market.oi())
    assert len(market.oi()) == 864 - 240
    assert done.report.log == [
        "fetch_open_interest_history: no rows from 2025-10-10 10:00:00 to 2025-10-11 06:00:00 although later ones exist; "
        "left as a gap"
    ]
    assert done.starts("openInterestHist")[:4] == [0, 600, 1600, 600]  # empty, a page further, the empty one again


def test_out_of_order_rows_and_rows_repeated_across_pages_change_nothing(tmp_path: Path, clean: dict[str, Any]) -> None:
    faults = (
        Fault("klines", 2, "shuffle"),
        Fault("klines", 3, "overlap", keep=5),
        Fault("klines", 7, "overlap", keep=40),
        Fault("openInterestHist", 2, "shuffle"),
        Fault("openInterestHist", 4, "overlap", keep=3),
        Fault("fundingRate", 1, "shuffle"),
        Fault("fundingRate", 2, "overlap", keep=2),
    )
    done = run(tmp_path, faults)
    assert done.report is not None
    assert [kind for _, _, kind in done.fake.faulted] == [
        "shuffle",
        "overlap",
        "overlap",
        "shuffle",
        "overlap",
        "shuffle",
        "overlap",
    ]
    assert done.report.added == FULL  # repeated rows are not counted twice
    assert (done.report.log, done.report.gaps) == ([], [])
    assert_same(done.store, clean)


# -------------------------------------------------------------------------------------- resuming


@pytest.mark.parametrize(("endpoint", "at", "lengths"), [
    ("klines", 2, {"candles": 0, "open_interest": 0, "funding": 0}),
    ("klines", 7, {"candles": 3000, "open_interest": 0, "funding": 0}),
    ("openInterestHist", 5, {"candles": 4320, "open_interest": 600, "funding": 0}),
    ("fundingRate", 3, {"candles": 4320, "open_interest": 864, "funding": 0}),
])  # fmt: skip
def test_a_run_stopped_by_an_error_midway_resumes_to_the_clean_result(
    tmp_path: Path, clean: dict[str, Any], endpoint: str, at: int, lengths: dict[str, int]
) -> None:
    failed = run(tmp_path, (Fault(endpoint, at, "boom"),), raises=True)  # not a venue error: never retried
    assert isinstance(failed.error, RuntimeError)
    assert failed.slept == []
    assert assert_prefix(failed.store, clean) == lengths
    rerun = run(tmp_path)
    assert rerun.report is not None
    assert rerun.report.added == {k: FULL[k] - lengths[k] for k in FULL}
    assert_same(rerun.store, clean)


def test_a_rerun_with_an_earlier_since_fills_the_older_stretch_newest_first(tmp_path: Path, clean: dict[str, Any]) -> None:
    """The cursor says "complete up to here" only from the first stored row on: widening ``--since`` on a
    rerun must fetch what lies before that row, not skip it. The older stretch is fetched newest window
    first, so a run stopped there still leaves one unbroken stretch, and its rerun finishes the job."""
    half = minutes(36 * 60)
    fake = FakeBinance(MARKET)
    source, _ = open_fake(fake)
    fetch_history(Store(tmp_path), source, "1m", half, END, pages_per_chunk=PAGES_PER_CHUNK)
    late = snapshot(Store(tmp_path))
    assert late["candles"]["ts"].iloc[0] == half
    stopped = run(tmp_path, (Fault("klines", 3, "boom"),), raises=True)  # the second (older) window's first page
    assert isinstance(stopped.error, RuntimeError)
    kept = stored(stopped.store, "candles")
    assert (kept["ts"].diff().iloc[1:] == pd.Timedelta(minutes=1)).all()  # no hole between the new rows and the old
    assert kept["ts"].iloc[0] == minutes(1500)
    assert stopped.starts("klines") == [1500, 2000, 0]  # windows of 1,500 minutes, newest first
    rerun = run(tmp_path)
    assert rerun.report is not None
    assert rerun.report.added["candles"] == 1500
    assert_same(rerun.store, clean)


SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import store_fetch_fake
store_fetch_fake.run_fetch(sys.argv[2], slow=0.004, announce=True)
"""


def test_killed_at_random_points_and_resumed_it_ends_equal_to_an_uninterrupted_run(tmp_path: Path) -> None:
    run_fetch(str(tmp_path / "reference"))
    reference = snapshot(Store(tmp_path / "reference"))
    assert [len(reference[k]) for k in COLUMNS] == [4320, 864, 9]
    target = tmp_path / "killed"
    rng = random.Random(20251010)
    killed_after: list[list[str]] = []
    for _ in range(4):
        process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(HERE), str(target)], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        writes = []
        for _ in range(rng.randint(2, 6)):
            line = process.stdout.readline().strip()
            if not line.startswith("wrote"):
                break
            writes.append(line)
        time.sleep(rng.uniform(0.0, 0.012))  # inside a write, between a write and its cursor, or between pages
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed_after.append(writes)
        process.communicate()
    assert len(killed_after) >= 3, "the runs should have been killed mid-way"
    assert {writes[-1].split()[1] for writes in killed_after} == {"candles", "open_interest"}  # in both long phases
    finish = subprocess.run([sys.executable, "-c", SCRIPT, str(HERE), str(target)], capture_output=True, text=True, check=False)
    assert finish.returncode == 0, finish.stderr
    assert finish.stdout.splitlines()[-1] == "done"
    got = snapshot(Store(target))
    for kind in COLUMNS:
        pd.testing.assert_frame_equal(got[kind], reference[kind], obj=kind)
    assert got["cursors"] == reference["cursors"]
    assert all(p.name.startswith(".") for p in target.rglob("*.tmp"))  # a kill may leave a temp file, never half a month


# ---------------------------------------------------------------------- open interest and candle gaps


def test_open_interest_in_coins_only_is_priced_at_the_last_closed_candle(caplog: pytest.LogCaptureFixture) -> None:
    """A sample at t is priced at the close of the last candle closed by t: the candle opening at t closes in
    t's future, and using it would let the price of the next minute leak into the open interest."""
    t = pd.Timestamp("2025-10-10T00:00:00Z")
    step = pd.Timedelta(minutes=1)
    candles = pd.DataFrame({"ts": [t + pd.Timedelta(minutes=i) for i in range(3)], "close": [100.0, 101.0, 102.0]})
    oi = pd.DataFrame(
        {
            "ts": [
                t,
                t + pd.Timedelta(seconds=90),
                t + pd.Timedelta(minutes=2),
                t + pd.Timedelta(minutes=5),
            ],
            "oi_base": [10.0, 20.0, float("nan"), 30.0],
            "oi_usd": [float("nan"), float("nan"), 202.0, float("nan")],
        }
    )
    with caplog.at_level(logging.WARNING, logger="liqheat.collect"):
        out = complete_open_interest(oi, candles, step)
    assert out["ts"].tolist() == oi["ts"].tolist()[1:]  # at t no candle has closed yet: left out
    assert out["oi_usd"].tolist() == [2000.0, 202.0, 3060.0]  # closes at t+1m (100), t+2m (101), t+3m (102)
    assert out["oi_base"].tolist() == [20.0, 2.0, 30.0]
    assert caplog.messages == ["1 open-interest sample(s) have no candle to price them; left out"]
    both = oi.iloc[1:].assign(oi_usd=1.0, oi_base=1.0)
    assert complete_open_interest(both, candles.iloc[:0], step) is both  # nothing to fill: left as it is


def test_open_interest_in_coins_only_is_completed_through_fetch(tmp_path: Path) -> None:
    """A Bybit-like venue (open interest in coins only) over the same market; its first half hour has no candles."""
    coins_only = dataclasses.replace(SPEC, oi_units=lambda entry, market: (_num(entry.get("openInterestAmount")), None))
    market = make_market(kline_holes=[(0, 30)])
    done = run(tmp_path, market=market, spec=coins_only)
    assert done.report is not None
    closes = {int(r[0]) + 60_000: float(r[4]) for r in market.klines}  # the price known when each candle closes
    priced = [r for r in market.open_interest if r["timestamp"] in closes]
    oi = stored(done.store, "open_interest")
    assert len(priced) == 864 - 7
    assert oi["ts"].tolist() == [pd.Timestamp(r["timestamp"], unit="ms", tz="UTC") for r in priced]
    assert oi["oi_base"].tolist() == [float(r["sumOpenInterest"]) for r in priced]
    assert oi["oi_usd"].tolist() == [float(r["sumOpenInterest"]) * closes[r["timestamp"]] for r in priced]
    assert done.report.log == [
        "open interest: 7 sample(s) in 2025-10-10 00:00 to 2025-10-12 02:00 have no 1m candle to price them; left out"
    ]
    assert done.report.gaps == [(START, minutes(30))]
    assert done.report.added == {"candles": 4290, "open_interest": 857, "funding": 9}


def test_candle_gaps_are_the_missing_stretches_of_the_range() -> None:
    t = pd.Timestamp("2025-10-10T00:00:00Z")
    step = pd.Timedelta(minutes=1)
    have = pd.DataFrame({"ts": [t + i * step for i in (1, 2, 6, 7, 8, 9)]})
    assert candle_gaps(have, step, t + pd.Timedelta(seconds=30), t + 12 * step) == [
        (t + 3 * step, t + 6 * step),
        (t + 10 * step, t + 12 * step),
    ]
    assert candle_gaps(have, step, t, t + 10 * step) == [(t, t + step), (t + 3 * step, t + 6 * step)]
    assert candle_gaps(pd.DataFrame(columns=["ts"]), step, t, t + 5 * step) == [(t, t + 5 * step)]


# ------------------------------------------------------------------------------------ the command


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``liqheat fetch`` with every venue behind the fake (the real Binance spec); set ``market``/``faults`` first."""
    from liqheat.sources import registry
    from liqheat.venues import registry as venue_registry

    state: dict[str, Any] = {"market": MARKET, "faults": (), "fakes": []}

    def open_source(venue: str, market: Any, exchange: Any = None, **kwargs: Any) -> CcxtSource:
        fake = FakeBinance(state["market"], state["faults"])
        state["fakes"].append(fake)
        source, _ = open_fake(fake, venue_registry.spec(venue))
        return source

    monkeypatch.setattr(registry, "open_source", open_source)
    return state


def invoke(args: list[str]) -> Any:
    from typer.testing import CliRunner

    import liqheat.cli.store_cmds  # noqa: F401  (registers the commands)
    from liqheat.cli.main import app

    return CliRunner().invoke(app, args)


def fetch_args(store: Path, **over: str) -> list[str]:
    options = {"--venue": "binance", "--symbol": "BTCUSDT", "--since": "2025-10-10T00:00:00Z", "--until": "2025-10-13T00:00:00Z"}
    options.update({f"--{k}": v for k, v in over.items()})
    return ["fetch", *(x for kv in options.items() for x in kv), "--store", str(store)]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_fetch_command_prints_what_it_added_skipped_retried_and_the_candle_gaps(tmp_path: Path, cli: dict[str, Any]) -> None:
    cli["market"] = make_market(kline_holes=[(600, 720)])
    cli["faults"] = (Fault("klines", 2, "429"),)
    result = invoke(fetch_args(tmp_path / "store"))
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "binance BTC/USDT:USDT: added 4,200 candles, 0 open_interest, 9 funding to" in out
    assert "open_interest skipped: before" in out  # the real spec: Binance keeps 30 days of open interest
    assert "last 30 days only" in out
    assert "candle gap: 2025-10-10 10:00 to 2025-10-10 12:00" in out
    assert "fetch_ohlcv: DDoSProtection, retry 1 in 0.5s" in out
    (fake,) = cli["fakes"]
    assert fake.requests[0] == ("klines", {"startTime": ms(START), "limit": 1000})  # ccxt asks 1000 of Binance's 1500
    pd.testing.assert_frame_equal(stored(Store(tmp_path / "store"), "candles"), cli["market"].candles())


def test_fetch_command_out_of_retries_says_so_in_one_line_and_a_rerun_completes(tmp_path: Path, cli: dict[str, Any]) -> None:
    cli["faults"] = (Fault("klines", 2, "timeout", times=6),)
    failed = invoke(fetch_args(tmp_path / "store"))
    assert failed.exit_code == 2
    out = flat(failed.output)
    assert "error: binance fetch_ohlcv BTC/USDT:USDT: RequestTimeout: binanceusdm GET https://fapi.binance.com/" in out
    assert "run the same command again to resume" in out
    assert "fetch_ohlcv: RequestTimeout again after 5 retries; giving up" in out
    assert "Traceback" not in failed.output
    cli["faults"] = ()
    again = invoke(fetch_args(tmp_path / "store"))
    assert again.exit_code == 0, again.output
    assert "added 4,320 candles, 0 open_interest, 9 funding" in flat(again.output)
    pd.testing.assert_frame_equal(stored(Store(tmp_path / "store"), "candles"), MARKET.candles())


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"venue": "nope"}, "--venue: unknown venue 'nope' (known: binance, bybit, okx, hyperliquid)"),
        ({"symbol": "???"}, "--symbol: cannot read symbol '???'"),
        ({"since": "yesterday"}, "--since is not an ISO 8601 time: 'yesterday'"),
        ({"until": "2025-13-01"}, "--until is not an ISO 8601 time: '2025-13-01'"),
        (
            {"until": "2025-10-09T00:00:00Z"},
            "--until (2025-10-09 00:00:00+00:00) must be after the start (2025-10-10 00:00:00+00:00)",
        ),
        (
            {"streams": "candles,trades"},
            "--streams must be a comma list of candles, open_interest, funding; got 'candles,trades'",
        ),
        ({"streams": " , "}, "--streams must be a comma list of candles, open_interest, funding; got ' , '"),
        ({"timeframe": "1x"}, "--timeframe must look like 1m, 5m, 1h, 8h or 1d, got '1x'"),
    ],
)
def test_fetch_command_refuses_bad_input_naming_the_parameter(
    tmp_path: Path, cli: dict[str, Any], over: dict[str, str], message: str
) -> None:
    result = invoke(fetch_args(tmp_path / "store", **over))
    assert result.exit_code == 2
    assert f"error: {message}" in flat(result.output)
    assert [r for fake in cli["fakes"] for r in fake.requests] == []  # refused before asking the venue anything
    assert not (tmp_path / "store").exists()
