"""Which address to read next: the few that hold most of the notional often, every other one in turn.

Targets (issue 16): the addresses holding 90 % of the discovered notional at most 2 minutes old, all of them at
most 20 minutes, within 600 reads a minute. Two queues:

* *hot*: the fewest addresses whose last-read notional sums to ``hot_share`` of the total (recomputed every
  ``regroup`` seconds), each due ``hot_age × lead`` after its last read (the lead leaves room for several
  falling due together);
* *cold*: every other address, oldest read first, never-read ones first of all (in the order found).

Each read goes to the hot address that is due, else to the oldest cold one: reading never idles while the
budget allows, and the hot set is served first when there is not room for both. Both targets hold when
``H / (hot_age × lead) + (N − H) / max_age`` fits the read rate (H hot of N): with 590 reads a minute (one
``metaAndAssetCtxs`` a minute besides), 10,000 addresses and a 0.9 lead, up to about 170 hot addresses.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np

from liqheat.model import DomainError


@dataclass(frozen=True, slots=True)
class Freshness:
    """Ages at one moment: the notional-weighted 90th percentile, the oldest, and how many are known/read."""

    at: float
    p90_notional_age: float
    max_age: float
    addresses: int
    read: int
    hot: int


class Refresher:
    def __init__(self, *, hot_share: float = 0.9, hot_age: float = 120.0, max_age: float = 1200.0, lead: float = 0.9,
                 regroup: float = 10.0) -> None:  # fmt: skip
        if not 0 < hot_share <= 1:
            raise DomainError(f"hot_share must be within (0, 1], got {hot_share!r}", param="hot_share")
        if not (0 < hot_age <= max_age and math.isfinite(max_age)):
            raise DomainError(f"ages must satisfy 0 < hot_age ≤ max_age, got {hot_age!r}, {max_age!r}", param="hot_age")
        if not 0 < lead <= 1:
            raise DomainError(f"lead must be within (0, 1], got {lead!r}", param="lead")
        self.hot_share, self.hot_age, self.max_age, self.lead, self.regroup = hot_share, hot_age, max_age, lead, regroup
        self.found_at: dict[str, float] = {}
        self.read_at: dict[str, float] = {}
        self.notional: dict[str, float] = {}
        self.hot: frozenset[str] = frozenset()
        self._hot_heap: list[tuple[float, int, int, str]] = []
        self._cold_heap: list[tuple[float, int, int, str]] = []
        self._version: dict[str, int] = {}
        self._seq = itertools.count()
        self._grouped_at = -math.inf

    def __len__(self) -> int:
        return len(self.found_at)

    def _push(self, user: str) -> None:
        """Queue ``user`` again (hot: by when it falls due; cold: by its last read); older entries become stale."""
        version = self._version[user] = self._version.get(user, 0) + 1
        if user in self.hot:
            heapq.heappush(self._hot_heap, (self.read_at[user] + self.hot_age * self.lead, next(self._seq), version, user))
        else:
            heapq.heappush(self._cold_heap, (self.read_at.get(user, -math.inf), next(self._seq), version, user))

    def add(self, user: str, now: float) -> bool:
        """A newly found address (False when already known): read before any cold one already read."""
        if user in self.found_at:
            return False
        self.found_at[user] = now
        self._push(user)
        return True

    def done(self, user: str, now: float, notional: float) -> None:
        """``user`` was read at ``now`` holding ``notional`` USD (0 when flat)."""
        if user not in self.found_at:
            self.found_at[user] = now
        self.read_at[user] = now
        self.notional[user] = notional
        self._push(user)

    def _regroup(self, now: float) -> None:
        self._grouped_at = now
        users = [u for u, n in self.notional.items() if n > 0]
        values = np.fromiter((self.notional[u] for u in users), dtype=np.float64, count=len(users))
        order = np.argsort(-values, kind="stable")
        cum = np.cumsum(values[order])
        hot: frozenset[str] = frozenset()
        if len(cum) and cum[-1] > 0:
            k = int(np.searchsorted(cum, self.hot_share * cum[-1] * (1 - 1e-12))) + 1
            hot = frozenset(users[i] for i in order[:k])
        moved = hot ^ self.hot
        self.hot = hot
        for user in moved:
            self._push(user)

    def _head(self, heap: list[tuple[float, int, int, str]]) -> tuple[float, str] | None:
        while heap:
            key, _, version, user = heap[0]
            if self._version[user] == version:
                return key, user
            heapq.heappop(heap)
        return None

    def next(self, now: float) -> str | None:
        """The address to read now, or None when none is known."""
        if now - self._grouped_at >= self.regroup:
            self._regroup(now)
        hot = self._head(self._hot_heap)
        if hot is not None and hot[0] <= now:
            heapq.heappop(self._hot_heap)
            return hot[1]
        cold = self._head(self._cold_heap)
        pick = cold if cold is not None else hot
        if pick is None:
            return None
        heapq.heappop(self._cold_heap if pick is cold else self._hot_heap)
        return pick[1]

    def freshness(self, now: float) -> Freshness:
        """Ages now; a never-read address counts from when it was found."""
        users = list(self.found_at)
        ages = np.fromiter((now - self.read_at.get(u, self.found_at[u]) for u in users), dtype=np.float64, count=len(users))
        weights = np.fromiter((self.notional.get(u, 0.0) for u in users), dtype=np.float64, count=len(users))
        p90 = 0.0
        if weights.sum() > 0:
            order = np.argsort(ages, kind="stable")
            cum = np.cumsum(weights[order])
            p90 = float(ages[order][int(np.searchsorted(cum, 0.9 * cum[-1] * (1 - 1e-12)))])
        return Freshness(now, p90, float(ages.max()) if len(ages) else 0.0, len(users), len(self.read_at), len(self.hot))
