"""Arrays that grow at the end while every view of their earlier rows stays as it was.

A live market gains a candle a second; copying a year of aligned arrays for each one would cost more
than everything else the server does for that candle. :class:`Rows` keeps spare room after the last row
(doubling when full), so appending writes only the new rows, and what was handed out before (a view, a
timeline of the previous version that a request is still reading) never sees them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from liqheat.model import DomainError


class Rows:
    """Named columns of equal length (any trailing shape) with room to grow.

    Rows are only ever written past the longest length handed out, so a view of the first n rows taken
    earlier never changes. Growing from an older length (a second branch from an earlier version) copies
    the rows it keeps instead of writing over the branch that grew first.
    """

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        lengths = {int(values.shape[0]) for values in columns.values()}
        if len(lengths) > 1:
            raise DomainError(f"columns must have equal lengths, got {sorted(lengths)}")
        self._buffers = dict(columns)
        self.length = lengths.pop() if lengths else 0
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> np.ndarray:
        return self._buffers[name][: self.length]

    def grown(self, at: int, tail: Mapping[str, np.ndarray]) -> Rows:
        """Rows ``0 … at − 1`` of these, then ``tail`` (every column, equal lengths): in place when ``at``
        is the longest length so far, as a copy otherwise. Read the columns of the answer."""
        if set(tail) != set(self._buffers):
            raise DomainError(f"tail has columns {sorted(tail)}, rows have {sorted(self._buffers)}")
        added = {int(values.shape[0]) for values in tail.values()}
        if len(added) > 1:
            raise DomainError(f"tail columns must have equal lengths, got {sorted(added)}")
        k = added.pop() if added else 0
        with self._lock:
            if at == self.length:
                self._write(at, k, tail)
                return self
        branch = Rows({name: buffer[:at] for name, buffer in self._buffers.items()})
        branch._write(at, k, tail)
        return branch

    def _write(self, at: int, k: int, tail: Mapping[str, np.ndarray]) -> None:
        need = at + k
        if k == 0:  # nothing to append (a bundle that grew in open interest or liquidations only): columns given
            self.length = need  # to __init__ may be read-only (Arrow's), and numpy refuses even an empty write to those
            return
        for name, buffer in self._buffers.items():
            if buffer.shape[0] < need:  # the first growth copies: the columns given to __init__ are never written
                grown = np.empty((max(need, 2 * at, 64), *buffer.shape[1:]), dtype=buffer.dtype)
                grown[:at] = buffer[:at]
                self._buffers[name] = buffer = grown
            buffer[at:need] = tail[name]
        self.length = need
