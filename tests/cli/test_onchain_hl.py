"""``liqheat onchain snapshot|follow|hl-map`` for Hyperliquid against the local ``/info`` stand-in (no network)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from liqheat.cli.main import app
from liqheat.venues.hyperliquid.info import SystemClock
from sources.hlinfo import serve, synthetic_venue

HERE = Path(__file__).resolve().parents[1] / "venues" / "hyperliquid" / "positions"


def run(*args: object) -> Result:
    import liqheat.cli.onchain  # noqa: F401  (registers the group)

    return CliRunner().invoke(app, ["onchain", *(str(a) for a in args)])


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, float]]]:
    """A stand-in of 40 BTC accounts without the public cap (a provider's), the addresses in a file."""
    v, users, notional = synthetic_venue(SystemClock(), 40, whales=4, coverage=0.5)
    v.limit = 120_000
    listed = tmp_path / "addresses.txt"
    listed.write_text("\n".join(users) + "\n")
    with serve(v) as url:
        yield url, listed, notional


def test_snapshot_then_map_show_the_exact_levels_with_coverage(venue: tuple[str, Path, dict[str, float]], tmp_path: Path) -> None:
    url, listed, _ = venue
    store = tmp_path / "store"
    result = run("snapshot", "--venue", "hyperliquid", "--coin", "BTC", "--addresses", listed, "--info-url", url,
                 "--budget", "120000", "--store", store, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["addresses"], data["read"], data["failed"], data["rate_limited"]) == (40, 40, 0, 0)
    assert data["found_by"] == {"list": 40}
    (btc,) = data["coins"]
    assert btc["coverage"] == pytest.approx(0.5, rel=1e-4)
    assert btc["positions"] == 40
    again = json.loads(run("snapshot", "--addresses", listed, "--info-url", url, "--budget", "120000", "--store", store,
                           "--json").stdout)  # fmt: skip
    assert (again["changes"], again["stored_rows"]) == (0, 2)  # nothing changed: only the market read before and after

    text = run("snapshot", "--addresses", listed, "--info-url", url, "--budget", "120000", "--store", store)
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0] == "Hyperliquid: 40 of 40 addresses read (40 list)"
    assert "coverage 50.0 % of $" in text.stdout
    assert max(len(line) for line in text.stdout.splitlines()) <= 80

    mapped = run("hl-map", "--coin", "btc", "--store", store, "--bands", "5%", "--depth", "60%", "--json")
    assert mapped.exit_code == 0, mapped.output
    m = json.loads(mapped.stdout)
    assert (m["kind"], m["venue"], m["asset"], m["positions"]) == ("exact", "hyperliquid", "BTC", 40)
    assert m["coverage"] == pytest.approx(0.5, rel=1e-4)
    assert sum(b["long_positions"] + b["short_positions"] for b in m["bands"]) + m["outside"] == 40

    table = run("hl-map", "--store", store, "--bands", "5%", "--depth", "60%")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert "Hyperliquid: BTC 100,000 at " in lines[0]
    assert "coverage 50.0 % of" in " ".join(lines[:3])
    assert max(len(line) for line in lines) <= 80


def test_follow_reads_by_priority_and_writes_as_it_goes(venue: tuple[str, Path, dict[str, float]], tmp_path: Path) -> None:
    url, listed, _ = venue
    result = run("follow", "--addresses", listed, "--no-stream", "--info-url", url, "--budget", "120000",
                 "--flush", "1s", "--for", "3s", "--store", tmp_path / "store")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "following BTC on " in result.stdout
    last = re.search(r"(\d+) addresses \((\d+) read, .* (\d+) rows stored, 0 × 429", result.stdout.splitlines()[-1])
    assert last is not None, result.stdout  # the last status, as it stopped
    found, read = int(last.group(1)), int(last.group(2))
    assert found == 40
    assert read >= 1
    mapped = json.loads(run("hl-map", "--store", tmp_path / "store", "--json").stdout)
    assert mapped["positions"] == read  # every account read is in the store (one position each)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("snapshot", "--venue", "aave"), "--venue must be hyperliquid (Aave's levels: liqheat onchain aave-map), got 'aave'"),
        (("snapshot", "--coin", "BTC-PERP", "--address", "0x" + "ab" * 20), "--coin must be a coin as Hyperliquid names it"),
        (("snapshot",), "no address to read: give --address, --addresses, --trades, --fills or --leaderboard"),
        (("snapshot", "--address", "0x12"), "--address must be a 0x address of 40 hex digits, got '0x12'"),
        (("snapshot", "--address", "0x" + "ab" * 20, "--budget", "10"), "--budget must be a whole weight a minute ≥ 60"),
        (("snapshot", "--address", "0x" + "ab" * 20, "--info-url", "ftp://x"), "--info-url must be an http(s) URL"),
        (("follow", "--flush", "soon"), "--flush must look like 1m, 5m, 1h, 8h or 1d, got 'soon'"),
        (("follow", "--ws-url", "http://x"), "--ws-url must be a ws:// or wss:// URL"),
        (("follow", "--workers", "0"), "--workers must be 1 … 64, got 0"),
        (("hl-map", "--bands", "wide"), "--bands must be a width in USD (1000) or a percentage of the price (2%)"),
        (("hl-map", "--at", "yesterday"), "--at is not an ISO 8601 time: 'yesterday'"),
    ],
)
def test_bad_options_exit_2_naming_the_flag(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    store = tmp_path / "store"
    if args[0] == "hl-map":
        (tmp_path / "addresses.txt").write_text("")
    result = run(*args, "--store", store)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())


def test_a_liquidation_csv_without_addresses_and_an_empty_store_are_named(tmp_path: Path) -> None:
    csv = tmp_path / "liquidations.csv"
    csv.write_text("timestamp,venue,coin,side,size_usd,price\n")
    result = run("snapshot", "--fills", csv, "--store", tmp_path / "store")
    assert result.exit_code == 2
    assert "no address column" in " ".join(result.stderr.split())
    empty = run("hl-map", "--store", tmp_path / "store")
    assert empty.exit_code == 2
    assert "no BTC position in the store" in " ".join(empty.stderr.split())
