"""The command index that ``liqheat --help`` reads matches the commands themselves, and commands load lazily."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import typer.main
from typer.testing import CliRunner

from liqheat.cli.common import app
from liqheat.cli.index import COMMANDS


def _registered() -> dict[str, tuple[str, str]]:
    """Every command on the app: name → (module, first paragraph of its help)."""
    for module in {entry.module for entry in COMMANDS.values()}:
        importlib.import_module(f"liqheat.cli.{module}")
    found: dict[str, tuple[str, str]] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        doc = inspect.getdoc(info.callback) or ""
        found[name] = (info.callback.__module__.rsplit(".", 1)[1], " ".join(doc.split("\n\n")[0].split()))
    for group in app.registered_groups:
        assert group.name is not None
        assert group.typer_instance is not None
        first = group.typer_instance.registered_commands[0].callback
        assert first is not None
        found[group.name] = (first.__module__.rsplit(".", 1)[1], str(group.typer_instance.info.help))
    return found


def test_the_index_lists_every_command_with_its_module_and_summary() -> None:
    registered = _registered()
    assert sorted(COMMANDS) == sorted(registered)
    for name, entry in COMMANDS.items():
        assert (entry.module, entry.summary) == registered[name], name


def test_help_lists_every_command_without_importing_any() -> None:
    probe = (
        "import sys\n"
        "from liqheat.cli.main import main\n"
        "sys.argv = ['liqheat', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('liqheat.cli.') and m not in "
        "('liqheat.cli.main', 'liqheat.cli.common', 'liqheat.cli.index'))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out
    for name in COMMANDS:
        assert f"\n  {name} " in out, name


def test_a_command_loads_its_module_when_run() -> None:
    result = CliRunner().invoke(app, ["calc", "--venue", "binance", "--symbol", "BTCUSDT", "--side", "long",
                                      "--entry", "60000", "--leverage", "20", "--size", "1", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"liquidation_price": 57228.9' in result.output
    assert CliRunner().invoke(app, ["no-such-command"]).exit_code == 2
