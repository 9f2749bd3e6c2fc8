"""The one atomic file write: a temporary sibling, flushed to disk, renamed into place, the folder synced.

A reader sees the old file or the new one, never half of one, and after a crash the new name points
at complete data (the rename is durable once the folder's entry is synced). A write that fails (a
folder in the way, a read-only or full disk, ``ulimit -f``) is a :class:`DomainError` naming the file,
and the old file is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from liqheat.model import DomainError


def refused(path: Path, why: str, param: str | None = None) -> DomainError:
    """``out PATH: why``: the message starts with the parameter's name, as every DomainError's does."""
    return DomainError(f"{param + ' ' if param else ''}{path}: {why}", param=param)


def cannot_write(path: Path, exc: OSError, param: str | None = None) -> DomainError:
    """``PATH: cannot write (No space left on device)``: what an OS error means for the file asked for."""
    return refused(path, f"cannot write ({exc.strerror or str(exc) or type(exc).__name__})", param)


def check_writable(path: Path, *, folder: bool = False, param: str | None = None) -> None:
    """Refuse, before any work is done, a ``path`` that cannot be written: a folder where a file is
    wanted (or a file where a folder is), or a place whose nearest existing folder takes no new file."""
    try:
        if path.is_dir() and not folder:
            raise refused(path, "is a folder, not a file", param)
        if path.exists() and not path.is_dir() and folder:
            raise refused(path, "is a file, not a folder", param)
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise refused(path, f"cannot write ({parent} is not a folder)", param)
        with tempfile.TemporaryFile(dir=parent):  # the one honest test: /proc, read-only mounts, permissions
            pass
    except OSError as exc:
        raise cannot_write(path, exc, param) from exc


def atomic_write(path: Path, write: Callable[[Path], object], *, param: str | None = None) -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then fsync and rename it to ``path``.

    The temporary name is ``.<name>.<random>.tmp``: a crash leaves at most one such file beside ``path``.
    ``param`` names the option ``path`` came from, for the error.
    """
    if path.is_dir():
        raise refused(path, "is a folder, not a file", param)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise cannot_write(path, exc, param) from exc
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise cannot_write(path, exc, param) from exc
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make renames inside ``folder`` durable (a no-op where the OS cannot open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
