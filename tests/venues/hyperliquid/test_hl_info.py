"""The ``/info`` client against a local stand-in that enforces the published weights (tests/sources/hlinfo.py):
never a 429 under the default budget, backoff when the venue refuses anyway, and the refresher's freshness."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liqheat.model import DomainError
from liqheat.venues.hyperliquid.info import InfoClient, ManualClock, WeightBudget, weight
from liqheat.venues.hyperliquid.scheduler import Refresher
from liqheat.venues.hyperliquid.tracker import Recorder, Tracker
from sources.hlinfo import LIMIT, PUBLISHED, Venue, serve, synthetic_venue


def window_peak(times: list[float], weights: list[int]) -> int:
    """The most weight any 60 s window [t, t + 60) holds."""
    t = np.asarray(times)
    w = np.cumsum([0, *weights])
    ends = np.searchsorted(t, t + 60.0, side="left")
    return int((w[ends] - w[np.arange(len(t))]).max())


def test_the_client_weighs_requests_as_published() -> None:
    for kind, w in PUBLISHED.items():
        assert weight(kind) == w
    assert weight("metaAndAssetCtxs") == weight("userFills") == 20


def test_the_budget_never_holds_more_than_its_weight_in_any_minute() -> None:
    clock = ManualClock()
    budget = WeightBudget(1200, clock)
    rng = np.random.default_rng(5)
    times, weights = [], []
    for w in rng.choice([2, 2, 2, 2, 20, 60], 5000):
        budget.acquire(int(w))
        times.append(clock.now())
        weights.append(int(w))
    assert window_peak(times, weights) <= 1200
    assert np.all(np.diff(times) >= 0)


def test_threads_sharing_a_budget_never_take_more_than_it_together() -> None:
    import threading

    clock = ManualClock()
    budget = WeightBudget(1200, clock)
    sent: list[tuple[float, int]] = []
    lock = threading.Lock()

    def reader(seed: int) -> None:
        for w in np.random.default_rng(seed).choice([2, 2, 2, 20], 400):
            at = budget.acquire(int(w))
            with lock:
                sent.append((at, int(w)))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.sort()
    assert len(sent) == 1600
    assert window_peak([t for t, _ in sent], [w for _, w in sent]) <= 1200


def test_reads_with_a_market_read_a_minute_are_paced_and_use_the_whole_budget() -> None:
    clock = ManualClock()
    budget = WeightBudget(1200, clock)
    times, weights = [], []
    for i in range(6000):
        w = 20 if i % 591 == 0 else 2
        budget.acquire(w)
        times.append(clock.now())
        weights.append(w)
    assert window_peak(times, weights) <= 1200
    assert sum(weights[:-1]) / times[-1] * 60 == pytest.approx(1200, rel=0.005)  # no idling
    assert np.diff(times).min() == pytest.approx(0.1)  # 2 weight of 1,200 a minute: a read each 0.1 s, no burst


def test_a_budget_too_small_for_a_request_is_refused_by_name() -> None:
    with pytest.raises(DomainError, match="budget must be a whole weight a minute ≥ 60, got 10"):
        WeightBudget(10)
    with pytest.raises(DomainError, match="info_url must be an http"):
        InfoClient("ftp://example.org/info")


def test_no_429_under_the_default_budget_over_three_minutes_of_reads() -> None:
    clock = ManualClock()
    venue, users, _ = synthetic_venue(clock, 1000)
    with serve(venue) as url:
        client = InfoClient(url, budget=WeightBudget(clock=clock))
        tracker = Tracker(client, Refresher(), Recorder(frozenset({"BTC"})))
        tracker.add(users)
        while clock.now() < 180:
            tracker.step()
        client.close()
    assert venue.statuses().count(429) == 0
    assert client.counters.rate_limited == 0
    reads = venue.statuses("clearinghouseState")
    assert len(reads) == tracker.tally.reads >= 3 * 580  # the budget is used, not left idle
    accepted = [(t, PUBLISHED.get(k, 20)) for t, k, _, s in venue.log if s == 200]
    assert window_peak([t for t, _ in accepted], [w for _, w in accepted]) <= LIMIT


def test_a_venue_that_counts_more_is_backed_off_and_every_read_still_succeeds() -> None:
    clock = ManualClock()
    venue, users, _ = synthetic_venue(clock, 300)
    venue.limit = 600  # another client on the same IP takes half
    with serve(venue) as url:
        client = InfoClient(url, budget=WeightBudget(clock=clock))
        tracker = Tracker(client, Refresher(), Recorder(frozenset({"BTC"})))
        tracker.add(users)
        tracker.sweep()
        client.close()
    assert client.counters.rate_limited > 0
    assert client.counters.rate_limited == venue.statuses().count(429)
    assert (tracker.tally.reads, tracker.tally.failed) == (300, 0)
    answered = sorted({u for _, k, u, s in venue.log if k == "clearinghouseState" and s == 200})
    assert answered == sorted(users)


def test_retry_after_is_honoured_and_a_venue_that_never_answers_is_an_error_naming_the_url() -> None:
    clock = ManualClock()

    class Refusing(Venue):
        def answer(self, body: Any) -> tuple[int, Any]:
            self.log.append((self.clock.now(), str(body.get("type")), None, 429))
            return 429, None

    venue = Refusing(clock)
    with serve(venue) as url:
        client = InfoClient(url, budget=WeightBudget(clock=clock), retries=3)
        with pytest.raises(DomainError, match=f"{url}: clearinghouseState failed 4 times, last: HTTP 429"):
            client.clearinghouse_state("0x" + "ab" * 20)
        client.close()
    times = [t for t, *_ in venue.log]
    assert np.diff(times).tolist() == pytest.approx([1.0, 2.0, 4.0])  # 1, 2, 4 s between tries


def test_a_malformed_answer_is_refused_naming_the_account_and_field() -> None:
    clock = ManualClock()
    user = "0x" + "cd" * 20
    venue = Venue(clock, {user: {"assetPositions": [{"position": {"coin": "BTC", "szi": "x"}}], "marginSummary": {}}})
    with serve(venue) as url:
        client = InfoClient(url, budget=WeightBudget(clock=clock))
        with pytest.raises(DomainError, match=f"clearinghouseState of {user}: marginSummary: field 'accountValue' is missing"):
            client.clearinghouse_state(user)
        venue.accounts[user] = "not json at all"
        with pytest.raises(DomainError, match="clearinghouseState answer is not JSON"):
            client.post({"type": "clearinghouseState", "user": user})
        with pytest.raises(DomainError, match=r"refused \(HTTP 422: Failed to deserialize"):
            client.post({"type": "noSuchRequest"})
        client.close()


def simulate(notional: dict[str, float], minutes: float, *, sample: float = 10.0, budget: int = 1200) -> tuple[list[Any], int]:
    """The refresher's choices against the default budget (a market read a minute), on a manual clock; the
    freshness every ``sample`` s and how many accounts were read."""
    clock = ManualClock()
    weights = WeightBudget(budget, clock)
    refresher = Refresher()
    for user in notional:
        refresher.add(user, 0.0)
    samples, reads, next_meta, next_sample = [], 0, 0.0, 0.0
    while clock.now() < minutes * 60:
        if clock.now() >= next_meta:
            weights.acquire(weight("metaAndAssetCtxs"))
            next_meta += 60
        user = refresher.next(clock.now())
        assert user is not None
        weights.acquire(weight("clearinghouseState"))
        refresher.done(user, clock.now(), notional[user])
        reads += 1
        if clock.now() >= next_sample:
            samples.append(refresher.freshness(clock.now()))
            next_sample += sample
    return samples, reads


def test_ten_thousand_addresses_meet_the_freshness_targets_within_600_reads_a_minute() -> None:
    _, _, notional = synthetic_venue(ManualClock(), 10_000)
    samples, reads = simulate(notional, 45)
    steady = [f for f in samples if f.at >= 20 * 60]  # after the first full pass
    assert reads / 45 <= 600
    assert max(f.p90_notional_age for f in steady) <= 120
    assert max(f.max_age for f in steady) <= 20 * 60
    assert min(f.read for f in steady) == 10_000


def test_when_the_hot_set_is_too_large_for_both_targets_it_is_kept_fresh_first() -> None:
    _, _, notional = synthetic_venue(ManualClock(), 10_000, whales=600)  # 600 hot: 333 reads a minute alone
    samples, _ = simulate(notional, 45)
    steady = [f for f in samples if f.at >= 30 * 60]
    assert max(f.p90_notional_age for f in steady) <= 120
    assert max(f.max_age for f in steady) > 20 * 60  # the full sweep stretches instead


@settings(max_examples=20, deadline=None)
@given(n=st.integers(20, 400), sigma=st.floats(0.3, 3.0), seed=st.integers(0, 2**16))
def test_whenever_the_budget_leaves_room_both_targets_hold(n: int, sigma: float, seed: int) -> None:
    """Any notional distribution: with a budget 15 % above what the hot set and the round need, no address holding
    the top 90 % is older than 2 minutes and none at all older than 20, once the first round is done."""
    rng = np.random.default_rng(seed)
    values = np.exp(rng.normal(0, sigma, n))
    notional = {f"0x{i:040x}": float(v) for i, v in enumerate(values, 1)}
    ordered = np.sort(values)[::-1]
    hot = int(np.searchsorted(np.cumsum(ordered), 0.9 * ordered.sum())) + 1
    needed = hot / (120 * 0.9 / 60) + (n - hot) / 18  # reads a minute: the hot set each 108 s, the rest within 18 min
    per_minute = max(60, int(2 * 1.15 * needed) + 20)
    assume(per_minute <= 1200)
    samples, _ = simulate(notional, 45, budget=per_minute)
    first_round = next(f.at for f in samples if f.read == n)
    steady = [f for f in samples if f.at >= first_round + 120]
    assert steady
    assert max(f.p90_notional_age for f in steady) <= 120
    assert max(f.max_age for f in steady) <= 20 * 60
