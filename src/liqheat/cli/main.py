"""The ``liqheat`` command line. Each command calls one library function and formats its result.

Importing this module registers every command on :data:`app`; each command module imports what it
computes with only when it runs, so ``liqheat --help`` stays fast.
"""

from __future__ import annotations

from liqheat.cli import bundle_cmds, calc, demo, model_cmds, serve, store_cmds, trader  # noqa: F401  (registers their commands)
from liqheat.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
