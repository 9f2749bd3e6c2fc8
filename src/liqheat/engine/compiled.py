"""The kernel the engine calls: the ahead-of-time build when it matches the source, else numba's JIT.

Both are the one kernel in :mod:`.kernel`, giving the same numbers bit for bit; the compiled build only
spares numba's start-up (see :mod:`.aot`). ``LIQHEAT_JIT=1`` forces the JIT kernel. A process that lives
long (the server) calls :func:`speed_up`: numba's JIT build replays about 1.5× faster than pycc's (bench/engine.py)
and lets go of the GIL, so two requests replay at once.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from liqheat.engine.layout import LEDGER_SIZE

__all__ = ["LEDGER_SIZE", "MODE", "replay", "snapshot", "speed_up", "step"]


def load() -> tuple[str, Any]:
    """The kernel to use and its kind: ("aot", the compiled module) or ("jit", :mod:`.kernel`)."""
    if os.environ.get("LIQHEAT_JIT") != "1":
        from liqheat.engine.aot import source_digest

        stamp = Path(__file__).resolve().parent / "_kernel_aot.sha256"
        if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == source_digest():
            with contextlib.suppress(ImportError):  # a stamp without its module: fall back
                return "aot", importlib.import_module("liqheat.engine._kernel_aot")
    return "jit", importlib.import_module("liqheat.engine.kernel")


MODE, _kernel = load()
step: Callable[..., None] = _kernel.step
snapshot: Callable[..., None] = _kernel.snapshot
replay: Callable[..., None] = _kernel.replay


def speed_up() -> threading.Thread | None:
    """Compile the JIT kernel in a thread and switch to it once compiled (about 1 s from numba's cache, 4 s
    without); calls meanwhile run on the compiled build. None when the JIT kernel is already the one in use."""
    if MODE == "jit":
        return None

    def switch() -> None:
        global MODE, replay, snapshot, step
        from liqheat.engine import aot, kernel

        for name, signature in aot.SIGNATURES.items():
            for args in contiguous_types(signature, readonly=READONLY.get(name, ())):
                getattr(kernel, name).compile(tuple(args))
        replay, snapshot, step = kernel.replay, kernel.snapshot, kernel.step
        MODE = "jit"

    thread = threading.Thread(target=switch, name="liqheat-jit", daemon=True)
    thread.start()
    return thread


READONLY = {"replay": (10, 11)}
"""Arguments that come both writable and read-only (a market view's highs and lows are read-only)."""


def contiguous_types(signature: str, readonly: tuple[int, ...] = ()) -> list[list[Any]]:
    """The argument types of an :data:`liqheat.engine.aot.SIGNATURES` signature as the engine passes them
    (C-contiguous arrays), once with every array writable and once with those of ``readonly`` read-only."""
    from numba import types

    sigutils: Any = importlib.import_module("numba.core.sigutils")  # untyped upstream
    args, _ = sigutils.normalize_signature(signature)

    def typed(frozen: tuple[int, ...]) -> list[Any]:
        return [a.copy(layout="C", readonly=i in frozen) if isinstance(a, types.Array) else a for i, a in enumerate(args)]

    return [typed(()), typed(readonly)] if readonly else [typed(())]
