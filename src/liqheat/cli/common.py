"""What every command module shares: the typer app, the consoles, and how bad input and JSON leave."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
import typer.main
from typer import _click
from typer.core import TyperGroup

from liqheat.cli.index import COMMANDS
from liqheat.textfmt import price_text as price_text  # the commands' formatting, one place for CLI and alerts
from liqheat.textfmt import usd as usd

if TYPE_CHECKING:
    from rich.console import Console


class LazyGroup(TyperGroup):
    """The command group: a command's module is imported, and its click command built, only when asked
    for; the command list in ``--help`` comes from :data:`liqheat.cli.index.COMMANDS`."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"liqheat.cli.{COMMANDS[cmd_name].module}")
            built = _build(cmd_name)
            if built is not None:
                self.commands[cmd_name] = built
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _click.utils.make_default_short_help(entry.summary, limit)) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _build(name: str) -> _click.Command | None:
    """The click command (or sub-group) registered on :data:`app` under ``name``, as typer would build it."""
    for info in app.registered_commands:
        if info.callback is not None and (info.name or typer.main.get_command_name(info.callback.__name__)) == name:
            return typer.main.get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode
            )
    for group in app.registered_groups:
        if group.name == name:
            return typer.main.get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                suggest_commands=app.suggest_commands,
                rich_markup_mode=app.rich_markup_mode,
            )
    return None


app = typer.Typer(
    cls=LazyGroup,
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
    """The library's message with the parameter it names spelled as this CLI's flag (``depth_scale`` →
    ``--depth-scale``; a model parameter, which the CLI takes as ``--set NAME=VALUE``, → ``--set bin_width``)."""
    text, param = str(exc), getattr(exc, "param", None)
    if not isinstance(param, str) or param.startswith("-"):
        return text
    flag = f"--set {param}" if getattr(exc, "model_parameter", False) else "--" + param.replace("_", "-")
    if text.startswith(param) and not text[len(param) : len(param) + 1].isalnum():
        return flag + text[len(param) :]
    return f"{text} ({flag})"


def fail(message: str | BaseException) -> NoReturn:
    """Bad input: say what is wrong on stderr and exit 2 (the convention for usage errors)."""
    from rich.markup import escape

    message = flagged(message) if isinstance(message, BaseException) else message

    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def store_root(option: Path | None, *, writing: bool = False) -> Path:
    """The store folder of ``--store`` (else ``$LIQHEAT_HOME``, else ``~/.liqheat``), checked where it enters:
    a file there is no store, and a command that writes needs a folder that takes new files."""
    import os

    from liqheat.fsutil import check_writable
    from liqheat.model import DomainError
    from liqheat.store.parquet_store import default_root

    try:
        root = option if option is not None else default_root()
    except RuntimeError:  # no $HOME and no password entry
        raise DomainError("no home folder for the store: set LIQHEAT_HOME or give --store") from None
    named = "--store" if option is not None else "$LIQHEAT_HOME" if os.environ.get("LIQHEAT_HOME") else "the store"
    try:
        if writing:
            check_writable(root, folder=True)
        elif root.exists() and not root.is_dir():
            raise DomainError(f"{root}: is a file, not a folder")
    except OSError as exc:  # under a folder this user cannot read
        raise DomainError(f"{named} {root}: cannot read ({exc.strerror})") from None
    except DomainError as exc:
        raise DomainError(f"{named} {exc}") from None
    return root


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


BundleArg = Annotated[Path, typer.Argument(help="A market bundle folder (meta.json, candles, open_interest, ...).")]
AllowedHost = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        help="Also answer requests for this Host name (repeatable; * for any). Default: localhost names and --host only.",
    ),
]
