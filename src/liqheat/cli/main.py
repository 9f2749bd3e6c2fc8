"""The ``liqheat`` command line. Each command calls one library function and formats its result.

Commands are registered lazily (:class:`liqheat.cli.common.LazyGroup`): ``liqheat replay`` imports
the module of ``replay`` only, and ``liqheat --help`` none, so every command starts faster.
"""

from __future__ import annotations

from liqheat.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
