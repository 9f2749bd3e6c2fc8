"""The Aave v3 subgraph reader against a local GraphQL stub answering recorded-shape responses (fixtures/subgraph,
see its README): every borrowing user read at the indexed block, page after page; balances accrued to that
block's time give the pool's health factor (exact rationals, as the RPC test computes it); each refused answer
names the row and field at fault."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from liqheat.model import DomainError
from liqheat.venues.aave.health import health_factor
from liqheat.venues.aave.rpc import DEPLOYMENTS, RAY, SECONDS_PER_YEAR
from liqheat.venues.aave.subgraph import AaveSubgraph

FIXTURES = Path(__file__).parent / "fixtures" / "subgraph"
STATE = json.loads((FIXTURES / "state.json").read_text())
PAGES = [json.loads((FIXTURES / f"users-{k}.json").read_text())["data"]["users"] for k in (1, 2)]
USERS = PAGES[0] + PAGES[1]
CORE = DEPLOYMENTS["ethereum"]


class Stub:
    """A GraphQL endpoint over the fixtures: the State query answers ``state``; the Users query answers the users
    after ``after``, ``first`` of them; every request is kept."""

    def __init__(self, state: dict[str, Any], users: list[dict[str, Any]], errors: list[Any] | None = None) -> None:
        self.state, self.users, self.errors, self.asked = state, users, errors, []

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(body)
        if self.errors is not None:
            return {"errors": self.errors}
        if "query State" in body["query"]:
            return self.state
        v = body["variables"]
        after = [u for u in self.users if u["id"] > v["after"]]
        return {"data": {"users": after[: v["first"]]}}


@pytest.fixture
def serve() -> Iterator[Any]:
    servers = []

    def start(stub: Stub) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                out = json.dumps(stub.answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/subgraphs/name/aave/protocol-v3"

    yield start
    for server in servers:
        server.shutdown()


def pool_hf(user: dict[str, Any]) -> Fraction:
    """The pool's health factor of a fixture user, in exact rationals: GenericLogic's sums with MathUtils' accrual."""
    reserves = {r["underlyingAsset"]: r for r in STATE["data"]["reserves"]}
    now = STATE["data"]["_meta"]["block"]["timestamp"]
    emode = int(user["eModeCategoryId"]["id"]) if user["eModeCategoryId"] else 0
    weighted = debt = Fraction(0)
    for ur in user["reserves"]:
        r = reserves[ur["reserve"]["underlyingAsset"]]
        dt = now - r["lastUpdateTimestamp"]
        price = Fraction(int(r["price"]["priceInEth"]), 10**8)
        unit = 10 ** r["decimals"]
        if int(ur["scaledATokenBalance"]) and ur["usageAsCollateralEnabledOnUser"]:
            rate = Fraction(int(r["liquidityRate"]), RAY)
            income = Fraction(int(r["liquidityIndex"]), RAY) * (1 + rate * dt / SECONDS_PER_YEAR)
            lt = int(r["eMode"]["liquidationThreshold"]) if emode and r["eMode"] else int(r["reserveLiquidationThreshold"])
            weighted += int(ur["scaledATokenBalance"]) * income / unit * price * Fraction(lt, 10_000)
        if int(ur["scaledVariableDebt"]):
            x = Fraction(int(r["variableBorrowRate"]), RAY) / SECONDS_PER_YEAR
            growth = 1 + x * dt + x * x * dt * (dt - 1) / 2 + x**3 * dt * (dt - 1) * max(dt - 2, 0) / 6
            debt += int(ur["scaledVariableDebt"]) * Fraction(int(r["variableBorrowIndex"]), RAY) * growth / unit * price
    return weighted / debt


def test_every_borrowing_user_is_read_at_the_indexed_block_page_by_page(serve: Any) -> None:
    stub = Stub(STATE, USERS)
    state, positions = AaveSubgraph(serve(stub), CORE, page=2).positions()
    assert (state.block, state.timestamp) == (24_500_000, 1_771_900_000)
    assert [p.account for p in positions] == [u["id"] for u in USERS]
    pages = [b["variables"] for b in stub.asked if "query Users" in b["query"]]
    assert [(v["after"], v["first"], v["block"]) for v in pages] == [("", 2, 24_500_000), (USERS[1]["id"], 2, 24_500_000)]
    assert all(v["pool"] == CORE.addresses_provider.lower() for v in pages)
    for position, user in zip(positions, USERS, strict=True):
        assert health_factor(position) == pytest.approx(float(pool_hf(user)), rel=1e-12)
    assert positions[1].emode == 1  # wstETH against WETH in the ETH-correlated e-mode: 93 % of its value counts
    assert positions[1].market.emodes[1].collateral == frozenset({"WETH", "wstETH"})
    assert [h.asset for h in positions[2].collateral] == ["WBTC"]  # its WETH is supplied but not enabled as collateral
    assert state.prices["WBTC"] == pytest.approx(64_406.00840822)


def test_a_limit_reads_only_that_many_users(serve: Any) -> None:
    _, positions = AaveSubgraph(serve(Stub(STATE, USERS)), CORE, page=2).positions(limit=1)
    assert [p.account for p in positions] == [USERS[0]["id"]]


def broken(path: list[Any], value: Any, *, users: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    state, rows = copy.deepcopy(STATE), copy.deepcopy(USERS)
    target: Any = rows if users else state["data"]
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return state, rows


@pytest.mark.parametrize(
    ("path", "value", "users", "said"),
    [
        (["reserves", 2, "liquidityIndex"], None, False, r"reserves\[2\] \(WETH 0xc02a.*\): liquidityIndex is missing"),
        (["reserves", 0, "price", "priceInEth"], "6.4e12", False, r"reserves\[0\] \(WBTC .*\)\.price: priceInEth '6.4e12'"),
        (["reserves", 1, "reserveLiquidationBonus"], "9000", False, r"reserves\[1\] \(USDC .*\): .*bonus"),
        (["_meta", "block", "timestamp"], None, False, r"_meta.block: timestamp is missing"),
        (["priceOracles"], [], False, "priceOracles is empty"),
        ([2, "reserves", 0, "scaledATokenBalance"], "many", True,
         r"users\[2\] \(0x3{40}\)\.reserves\[0\]: scaledATokenBalance"),
        ([0, "reserves", 1, "reserve", "underlyingAsset"], "0x" + "9" * 40, True, r"users\[0\] .*reserve 0x9{40} is not among"),
    ],
)
def test_a_refused_answer_names_the_row_and_the_field(serve: Any, path: list[Any], value: Any, users: bool, said: str) -> None:
    state, rows = broken(path, value, users=users)
    with pytest.raises(DomainError, match=said):
        AaveSubgraph(serve(Stub(state, rows)), CORE, page=2).positions()


def test_the_subgraphs_own_errors_and_another_pool_are_said(serve: Any) -> None:
    with pytest.raises(DomainError, match="errors: Store error: database unavailable"):
        AaveSubgraph(serve(Stub(STATE, USERS, errors=[{"message": "Store error: database unavailable"}])), CORE).state()
    with pytest.raises(DomainError, match=r"no pool 0xe20fcbdb.*\(Aave v3 Base\); its pools: 0x2f39d218"):
        AaveSubgraph(serve(Stub(STATE, USERS)), DEPLOYMENTS["base"]).state()
    with pytest.raises(DomainError, match=r"no pool 0xa97684ea.*\(Aave v3 Arbitrum\)"):
        AaveSubgraph(serve(Stub(STATE, USERS)), DEPLOYMENTS["arbitrum"]).state()
    with pytest.raises(DomainError, match="must be an http"):
        AaveSubgraph("ftp://example", CORE)
    with pytest.raises(DomainError, match=r"the subgraph at http://127\.0\.0\.1:9/ failed"):
        AaveSubgraph("http://127.0.0.1:9/", CORE, timeout=2).state()


def test_the_cli_reads_a_subgraph_and_maps_its_positions_on_btc(serve: Any) -> None:
    from typer.testing import CliRunner

    import liqheat.cli.onchain  # noqa: F401  (registers the group)
    from liqheat.cli.main import app

    url = serve(Stub(STATE, USERS))
    result = CliRunner().invoke(app, ["onchain", "aave-live", "--url", url, "--source", "subgraph", "--chain", "ethereum",
                                      "--bands", "1%", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["chain_id"], out["block"], out["positions"]) == (1, 24_500_000, 3)
    # user 1 liquidates as BTC falls, where its WBTC × 0.78 meets its debt; user 3's level (≈ $25.6k) is beyond 30 %
    levels = [b for b in out["bands"] if b["long_usd"] > 0]
    assert {b["long_positions"] for b in levels} == {1}
    first = max(levels, key=lambda b: b["high"])
    wbtc = 2 * 1.0021 * (1 + 0.001 * 3600 / SECONDS_PER_YEAR)  # user 1's WBTC, accrued an hour
    owed = 60_000 * 1.19 * 0.9999  # user 1's USDC debt in USD (accrual of an hour is far below a band)
    assert first["low"] <= owed / (wbtc * 0.78) <= first["high"]
    refused = CliRunner().invoke(app, ["onchain", "aave-live", "--url", url, "--source", "rpc"])
    assert refused.exit_code != 0
    assert "--user" in refused.output
    other = CliRunner().invoke(app, ["onchain", "aave-live", "--url", url, "--chain", "optimism"])
    assert "chain must be one of ethereum, base, arbitrum" in other.output
