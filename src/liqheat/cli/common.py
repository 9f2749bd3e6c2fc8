"""What every command module shares: the typer app, the consoles, and how bad input and JSON leave."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="liqheat",
    help="liqheat: an open, measured liquidation heatmap for crypto perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich's help renderer costs ~0.14 s of every `--help`
)


class _LazyConsole:
    """A rich Console made on first use, so commands that print nothing (``--help``) never import rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def _made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def __enter__(self) -> Console:
        return self._made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._made().__exit__(*exc)


console = cast("Console", _LazyConsole())
errors = cast("Console", _LazyConsole(stderr=True))


def _print_version(value: bool) -> None:
    if value:
        from liqheat import __version__

        typer.echo(f"liqheat {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print liqheat's version and exit.")
    ] = False,
) -> None:
    # no docstring: the app's help stays the one given to typer.Typer above
    pass


def flagged(exc: BaseException) -> str:
    """The library's message with the parameter it names spelled as this CLI's flag (``depth_scale`` → ``--depth-scale``)."""
    text, param = str(exc), getattr(exc, "param", None)
    if not isinstance(param, str) or param.startswith("-"):
        return text
    flag = "--" + param.replace("_", "-")
    if text.startswith(param) and not text[len(param) : len(param) + 1].isalnum():
        return flag + text[len(param) :]
    return f"{text} ({flag})"


def fail(message: str | BaseException) -> NoReturn:
    """Bad input: say what is wrong on stderr and exit 2 (the convention for usage errors)."""
    from rich.markup import escape

    message = flagged(message) if isinstance(message, BaseException) else message

    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


BundleArg = Annotated[Path, typer.Argument(help="A market bundle folder (meta.json, candles, open_interest, ...).")]
