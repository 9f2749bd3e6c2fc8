"""Ahead-of-time build of the engine kernel: the same numba source (:mod:`.kernel`), compiled once at
install time into ``liqheat/engine/_kernel_aot`` so a command never pays numba's start-up.

Importing numba and loading a cached JIT kernel costs ~0.75 s per process; the replay itself of a
2,000-candle bundle takes ~6 ms. The compiled module imports in microseconds and gives bit-identical
results (tests/engine/test_compiled.py). ``python -m liqheat.engine.aot [FOLDER]`` builds it (setup and
the wheel build call it); :mod:`.compiled` falls back to the JIT kernel when it is missing or stale.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path
from typing import Any

MODULE = "_kernel_aot"
_F, _M = "f8[:]", "f8[:,:]"
SIGNATURES = {
    "step": f"void({_M},{_M},{_F},{_F},{_F},{_F},i8[:],{_F},i8,f8,f8,f8,f8,f8,f8,f8,{_F},{_F},{_F},{_F},f8,f8,i8,{_F},{_F})",
    "snapshot": f"void({_M},{_M},{_F},{_F},b1[:],i8,i8,{_F},{_F})",
    "replay": (
        f"void({_M},{_M},{_F},{_F},{_F},{_F},i8[:],{_F},i8,f8,{_F},{_F},{_F},{_F},{_F},{_F},{_F},"
        f"{_F},{_F},{_F},{_F},f8,i8,{_F},{_M},{_F},i8[:],b1[:],i8,i8,{_M},{_M})"
    ),
}


def source_digest() -> str:
    """SHA-256 of the kernel's source and layout: the compiled module is used only if it was built from these."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ("kernel.py", "layout.py", "aot.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def build(folder: Path) -> Path:
    """Compile the kernel into ``folder`` (next to a ``.sha256`` of its source); returns the module's path."""
    from liqheat.engine import kernel

    pycc: Any = importlib.import_module("numba.pycc")  # untyped, and deprecated upstream: pinned in the lock

    folder.mkdir(parents=True, exist_ok=True)
    cc = pycc.CC(MODULE)
    cc.output_dir = str(folder)
    cc.verbose = False
    for name, signature in SIGNATURES.items():
        cc.export(name, signature)(getattr(kernel, name).py_func)
    cc.compile()
    (folder / f"{MODULE}.sha256").write_text(source_digest() + "\n", encoding="ascii")
    built = sorted(folder.glob(f"{MODULE}.*.so")) + sorted(folder.glob(f"{MODULE}.*.pyd"))
    if not built:
        raise RuntimeError(f"numba.pycc wrote no {MODULE} extension into {folder}")
    return built[0]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    print(f"built {build(target)}")
