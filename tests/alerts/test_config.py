"""The service config (service/config.py) and the commands over it: ``liqheat config check`` and
``liqheat alerts list|test|history``. Every bad key or value exits 2 naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from tests.alerts.fakes import SECRET, WebhookReceiver, cluster, serving, snap
from typer.testing import CliRunner

from liqheat.alerts.rules import Near
from liqheat.alerts.state import AlertStore
from liqheat.cli.main import app
from liqheat.service.config import ConfigError, config_from, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "liqheat.example.toml"
GOOD = """
[[markets]]
venues = ["binance"]
symbols = ["BTCUSDT", "ETHUSDT"]
[[alerts]]
rule = "near"
within_pct = 1.0
min_usd = 5e6
[destinations.hook]
webhook = "http://127.0.0.1:9/hook"
secret = "0123456789abcdef0123"
"""


def liqheat(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def write(tmp_path: Path, text: str, name: str = "liqheat.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'[store]\npath = "{tmp_path / "store"}"\n' + text, encoding="utf-8")
    return path


def test_the_example_config_is_valid_and_short() -> None:
    result = liqheat("config", "check", EXAMPLE)
    assert result.exit_code == 0, result.output
    assert "btc-binance-1m" in result.stdout
    assert "btc-hyperliquid-1m" in result.stdout
    assert "change-me" not in result.stdout  # no secret shown
    assert len(EXAMPLE.read_text().splitlines()) <= 42


def test_the_ten_line_config_at_the_top_of_the_example_is_valid(tmp_path: Path) -> None:
    lines = EXAMPLE.read_text().splitlines()
    minimal = [line.removeprefix("#   ") for line in lines[1:] if line.startswith("#   ")]
    assert len(minimal) <= 10
    cfg = load_config(write(tmp_path, "\n".join(minimal) + "\n"))
    assert [m.id for m in cfg.market_list()] == ["btc-binance-1m", "eth-binance-1m"]
    (rule,) = cfg.rules()
    assert isinstance(rule, Near)
    assert (rule.within_pct, rule.min_usd) == (1.0, 5e6)
    assert list(cfg.destinations) == ["phone"]


BAD = [
    ("[server]\nport = 70000\n", "server.port"),
    ("[server]\nhots = 'x'\n", "server.hots"),
    ("[servr]\nport = 1\n", "servr"),
    ("[[markets]]\nvenues = ['bnance']\nsymbols = ['BTCUSDT']\n", "markets[1].venues[0]"),
    ("[[markets]]\nvenues = ['okx']\nsymbols = ['??']\n", "markets[1].symbols[0]"),
    ("[[markets]]\nvenues = ['okx']\nsymbols = []\n", "markets[1].symbols"),
    ("[[markets]]\nvenues = ['okx']\nsymbols = ['BTC-USDT-SWAP']\ntimeframe = '1x'\n", "markets[1].timeframe"),
    ("[[markets]]\nvenues = ['binance']\nsymbols = ['BTC/USDT:USDT']\n", "markets[1].symbols[0]"),  # btc-binance-1m twice
    ("[[alerts]]\nrule = 'near'\nname = 'n2'\nwithin_pct = -1\n", "alerts[1].within_pct"),
    ("[[alerts]]\nrule = 'near'\nname = 'n2'\nwithin_pct = 1\nwithin_atr = 1\n", "alerts[1]"),
    ("[[alerts]]\nrule = 'near'\nname = 'n2'\nwithin_pct = 1\ncooldown = '5x'\n", "alerts[1].cooldown"),
    ("[[alerts]]\nrule = 'near'\nname = 'n2'\nwithin_pct = 1\nside = 'up'\n", "alerts[1].side"),
    ("[[alerts]]\nrule = 'near'\nname = 'n2'\nwithin_pct = 1\nwithin = 2\n", "alerts[1].within"),
    ("[[alerts]]\nrule = 'near'\nwithin_pct = 1\n", "alerts[1].name"),  # a second 'near' without a name
    ("[[alerts]]\nrule = 'nope'\n", "alerts[1]"),
    ("[[alerts]]\nwithin_pct = 1\n", "alerts[1]"),
    ("[[alerts]]\nrule = 'cascade'\n", "alerts[1].above"),
    ("[[alerts]]\nrule = 'open_interest'\nchange_pct = 5\nwindow = '10s'\n", "alerts[1].window"),
    ("[[alerts]]\nrule = 'funding'\nchange_bps = 1e9\n", "alerts[1].change_bps"),
    ("[[alerts]]\nrule = 'stale'\nafter = 0.5\n", "alerts[1].after"),
    ("[[alerts]]\nrule = 'stale'\nmarkets = ['btc-okx-1m']\n", "alerts[1].markets[0]"),
    ("[[alerts]]\nrule = 'stale'\ndestinations = ['tg']\n", "alerts[1].destinations[0]"),
    ("[destinations.tg]\nurl = 'nope://x'\n", "destinations.tg.url"),
    ("[destinations.tg]\nurl = 'json://127.0.0.1/x'\nsecret = '0123456789abcdef0123'\n", "destinations.tg"),
    ("[destinations.tg]\nwebhook = 'ftp://x/y'\nsecret = '0123456789abcdef0123'\n", "destinations.tg.webhook"),
    ("[destinations.tg]\nwebhook = 'http://x/y'\nsecret = 'short'\n", "destinations.tg.secret"),
    ("[destinations.tg]\nurl = 'json://127.0.0.1/x'\ntelegram_api = 'http://127.0.0.1:1'\n", "destinations.tg"),
    ("[destinations.tg]\nwebhook = 'http://x/y'\n", "destinations.tg"),
    ("[destinations.'two words']\nurl = 'json://127.0.0.1/x'\n", "destinations.two words"),
    ("[delivery]\nretry_min = '10m'\nretry_max = '1m'\n", "delivery"),
    ("[delivery]\ntimeout = 0\n", "delivery.timeout"),
]


@pytest.mark.parametrize(("extra", "key"), BAD, ids=[key for _, key in BAD])
def test_a_bad_key_or_value_exits_2_naming_the_key(tmp_path: Path, extra: str, key: str) -> None:
    path = write(tmp_path, GOOD + extra)
    result = liqheat("config", "check", path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert re.search(rf"error: {re.escape(str(path))}: {re.escape(key)}(:| )", result.stderr), result.stderr


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "[server]\nport = 0\nhost = ''\n[[alerts]]\nrule = 'cascade'\n")
    result = liqheat("config", "check", path)
    assert result.exit_code == 2
    keys = re.findall(r": ([\w.\[\]]+): ", result.stderr)
    assert keys == ["server.host", "server.port", "alerts[1].above"]


def test_files_that_are_no_config(tmp_path: Path) -> None:
    missing = liqheat("config", "check", tmp_path / "none.toml")
    assert missing.exit_code == 2
    assert "none.toml: no such file" in missing.stderr
    broken = write(tmp_path, "[server\nport = 1\n", "broken.toml")
    result = liqheat("config", "check", broken)
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr
    assert "line 3" in result.stderr
    assert liqheat("config", "check", tmp_path).exit_code == 2


def test_environment_variables_override_the_file_and_are_named_when_bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD.replace('secret = "0123456789abcdef0123"\n', ""))
    monkeypatch.setenv("LIQHEAT_SERVER__PORT", "9001")
    monkeypatch.setenv("LIQHEAT_DESTINATIONS__HOOK__SECRET", "a-secret-from-the-environment")
    monkeypatch.setenv("LIQHEAT_HOME", str(tmp_path / "elsewhere"))  # liqheat's own variable, not a config key
    cfg = load_config(path)
    assert cfg.server.port == 9001
    assert cfg.server.host == "127.0.0.1"
    hook = cfg.destinations["hook"]
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == "a-secret-from-the-environment"
    monkeypatch.setenv("LIQHEAT_SERVER__PORT", "many")
    result = liqheat("config", "check", path)
    assert result.exit_code == 2
    assert "server.port: " in result.stderr
    assert "(from LIQHEAT_SERVER__PORT)" in result.stderr
    monkeypatch.setenv("LIQHEAT_SERVER__PORT", "9001")
    monkeypatch.setenv("LIQHEAT_MARKETS", '[{"venues": ["okx"], "symbols": ["BTC-USDT-SWAP"], "timeframe": "5m"}]')
    assert [m.id for m in load_config(path).market_list()] == ["btc-okx-5m"]


def test_config_from_a_table_and_its_error_type() -> None:
    with pytest.raises(ConfigError) as info:
        config_from({"server": {"port": "x"}}, "inline")
    (problem,) = info.value.problems
    assert problem == ("server.port", "Input should be a valid integer, unable to parse string as an integer, got 'x'")
    assert str(info.value).startswith("inline: server.port: ")


def test_alerts_list_test_and_history(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with serving(receiver) as url:
        text = GOOD.replace("http://127.0.0.1:9/hook", url).replace("0123456789abcdef0123", SECRET)
        text += f'[destinations.closed]\nwebhook = "http://127.0.0.1:9/x"\nsecret = "{SECRET}"\n'
        path = write(tmp_path, text)
        listed = liqheat("alerts", "list", "--config", path)
        assert listed.exit_code == 0, listed.output
        assert "near (near): within 1 % of a cluster ≥ $5.0M" in listed.stdout
        assert "→ hook, closed" in listed.stdout
        tested = liqheat("alerts", "test", "--config", path)
        assert tested.exit_code == 1
        assert re.search(r"sent\s+hook: signed webhook http://127\.0\.0\.1:\d+", tested.stdout)
        assert "failed closed: cannot reach http://127.0.0.1:9" in tested.stdout
        assert [r.body["kind"] for r in receiver.accepted] == ["test"]

    assert liqheat("alerts", "history", "--config", path).exit_code == 2  # nothing recorded yet: no state file
    cfg = load_config(path)
    with AlertStore(cfg.state_path) as store:
        cfg.monitor(store).apply(snap(60_000.0, 1, (cluster("long", 59_700.0, 9e6),)))
        store.delivered(1, "hook", 1_767_600_000.0)
        reason = "cannot reach http://127.0.0.1:9: [Errno 111] Connection refused"
        store.failed(1, "closed", 1_767_600_000.0, reason, next_try=1_767_600_005.0)
    history = liqheat("alerts", "history", "--config", path)
    assert history.exit_code == 0, history.output
    assert "long cluster $9.0M at 59,700" in history.stdout
    assert "delivered hook at 2026-01-05 08:00:00" in history.stdout
    assert "waiting   closed: next try 2026-01-05 08:00:05, 1 failed tries, last: cannot reach" in history.stdout
    assert "1 deliveries waiting, 1 of them after failures" in history.stdout
    as_json = liqheat("alerts", "history", "--state", cfg.state_path, "--json", "--market", "btc-binance-1m")
    assert as_json.exit_code == 0
    assert '"destination": "closed"' in as_json.stdout


def test_market_ids_are_the_servers_names_of_store_markets() -> None:
    from liqheat.api.markets import slug
    from liqheat.service.config import market_id

    for base, venue, timeframe in (("BTC", "binance", "1m"), ("1000PEPE", "bybit", "5m"), ("ETH", "hyperliquid", "1h")):
        assert market_id(base, venue, timeframe) == slug(f"{base}-{venue}-{timeframe}")
