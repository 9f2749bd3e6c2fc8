"""How many heavy requests (a map, a heatmap, candles over a window) compute at once, and how many wait.

Every sync route runs in a thread of its own; 200 clients asking for heatmaps at once meant 40 threads
replaying on 2 cores, each holding its matrices, with answers slowing for all and memory climbing. The
:class:`Gate` lets ``slots`` compute (the cores) while up to ``queue`` wait in line; a request past
that is a 429 with ``Retry-After``, answered at once rather than left to time out.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import AsyncIterator

from fastapi import Depends, Request

from liqheat.api.errors import ApiError


class Gate:
    """A counting gate that works from any event loop (each TestClient request may run its own)."""

    def __init__(self, slots: int | None = None, queue: int = 256, retry_after: int = 2) -> None:
        self.slots = max(1, slots if slots is not None else (os.cpu_count() or 1))
        self.queue = queue
        self.retry_after = retry_after
        self.running = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.running < self.slots and not self._waiters:
                self.running += 1
                return
            if len(self._waiters) >= self.queue:
                raise ApiError(
                    429,
                    f"busy: {self.running} requests computing and {len(self._waiters)} waiting; retry in {self.retry_after} s",
                    None,
                    headers={"Retry-After": str(self.retry_after)},
                )
            entry = (loop, loop.create_future())
            self._waiters.append(entry)
        try:
            await entry[1]
        except asyncio.CancelledError:
            with self._lock:
                queued = entry in self._waiters
                if queued:
                    self._waiters.remove(entry)
            if not queued and entry[1].done() and not entry[1].cancelled():
                self.release()  # the slot was handed over as the request went away
            raise

    def release(self) -> None:
        """Hand the slot to the first in line (on its own loop), or free it."""
        with self._lock:
            if self._waiters:
                loop, future = self._waiters.popleft()
                loop.call_soon_threadsafe(self._hand_over, future)
                return
            self.running -= 1

    def _hand_over(self, future: asyncio.Future[None]) -> None:
        if future.done():  # cancelled meanwhile: pass the slot on
            self.release()
        else:
            future.set_result(None)


async def heavy(request: Request) -> AsyncIterator[None]:
    """A dependency holding one of the app's compute slots while the route runs (not while it streams)."""
    gate: Gate = request.app.state.gate
    await gate.acquire()
    try:
        yield
    finally:
        gate.release()


HEAVY = [Depends(heavy, scope="function")]  # a route's ``dependencies=``: compute inside a slot
