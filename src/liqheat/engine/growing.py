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


def _tail_length(tail: Mapping[str, np.ndarray], columns: Mapping[str, object], held: str) -> int:
    """The rows ``tail`` adds: every held column, all of one length (an error names what differs)."""
    if set(tail) != set(columns):
        raise DomainError(f"tail has columns {sorted(tail)}, {held} have {sorted(columns)}")
    added = {int(values.shape[0]) for values in tail.values()}
    if len(added) > 1:
        raise DomainError(f"tail columns must have equal lengths, got {sorted(added)}")
    return added.pop() if added else 0


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
        k = _tail_length(tail, self._buffers, "rows")
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


class Blocks:
    """Named columns of equal length (rows of any trailing shape) kept in blocks of ``size`` rows, read a few rows at
    a time (:meth:`take`): a timeline's snapshots, a map per row, up to 8,192 of them.

    Appending writes only the new rows, as :class:`Rows` does. Growing from an older length (a timeline carried on
    from an earlier version when late open interest revises its last candles) shares every block before that length
    and copies only the one it cuts, where :class:`Rows` would copy every row: 128 MB of snapshots on each revision,
    and as many kept until the versions that hold them go. Blocks are only ever written past the longest length
    handed out, so a version's rows never change.
    """

    def __init__(self, columns: Mapping[str, np.ndarray], size: int = 256) -> None:
        lengths = {int(values.shape[0]) for values in columns.values()}
        if len(lengths) > 1:
            raise DomainError(f"columns must have equal lengths, got {sorted(lengths)}")
        if size < 1:
            raise DomainError(f"blocks must hold at least one row, got {size}")
        self.size = size
        self.length = 0
        self._shapes = {name: (values.shape[1:], values.dtype) for name, values in columns.items()}
        self._blocks: dict[str, list[np.ndarray]] = {name: [] for name in columns}
        self._lock = threading.Lock()
        self._write(0, lengths.pop() if lengths else 0, columns)

    def __len__(self) -> int:
        return self.length

    @property
    def blocks(self) -> int:
        """How many blocks hold the rows (shared ones included)."""
        return len(next(iter(self._blocks.values()), []))

    def take(self, name: str, rows: np.ndarray, cols: slice = slice(None)) -> np.ndarray:
        """Rows ``rows`` (below the length the caller was handed) of column ``name``, trailing axis cut to ``cols``."""
        rows = np.asarray(rows, dtype=np.int64)
        blocks = self._blocks[name]
        shape, dtype = self._shapes[name]
        cut = (slice(None), cols) if shape else (slice(None),)
        out = np.empty((len(rows), *np.empty((0, *shape), dtype=dtype)[cut].shape[1:]), dtype=dtype)
        which, within = np.divmod(rows, self.size)
        for b in np.unique(which).tolist():
            at = which == b
            out[at] = np.take(blocks[b][cut], within[at], axis=0)  # the rows asked, of the columns asked only
        return out

    def grown(self, at: int, tail: Mapping[str, np.ndarray]) -> Blocks:
        """Rows ``0 … at − 1`` of these, then ``tail``: in place when ``at`` is the longest length so far, else a
        branch sharing the whole blocks before ``at``. Read the rows of the answer."""
        k = _tail_length(tail, self._blocks, "blocks")
        with self._lock:
            if at == self.length:
                self._write(at, k, tail)
                return self
            if not 0 <= at < self.length:
                raise DomainError(f"cannot grow {self.length} rows from {at}")
            branch = object.__new__(Blocks)
            branch.size, branch.length, branch._shapes, branch._lock = self.size, at, self._shapes, threading.Lock()
            whole, part = divmod(at, self.size)
            branch._blocks = {name: blocks[:whole] for name, blocks in self._blocks.items()}
            if part:
                for name, blocks in self._blocks.items():
                    block = np.empty_like(blocks[whole])
                    block[:part] = blocks[whole][:part]
                    branch._blocks[name].append(block)
        branch._write(at, k, tail)
        return branch

    def _write(self, at: int, k: int, tail: Mapping[str, np.ndarray]) -> None:
        for name, blocks in self._blocks.items():
            shape, dtype = self._shapes[name]
            values = tail[name]
            done = 0
            while done < k:
                b, r = divmod(at + done, self.size)
                if b == len(blocks):
                    blocks.append(np.empty((self.size, *shape), dtype=dtype))
                n = min(k - done, self.size - r)
                blocks[b][r : r + n] = values[done : done + n]
                done += n
        self.length = at + k
