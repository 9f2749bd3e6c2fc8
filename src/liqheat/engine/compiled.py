"""The kernel the engine calls: the ahead-of-time build when it matches the source, else numba's JIT.

Both are the one kernel in :mod:`.kernel`; the compiled build only spares numba's start-up (see
:mod:`.aot`). ``LIQHEAT_JIT=1`` forces the JIT kernel.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from liqheat.engine.layout import LEDGER_SIZE

__all__ = ["LEDGER_SIZE", "MODE", "replay", "snapshot", "step"]


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
