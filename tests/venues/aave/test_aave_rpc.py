"""Aave v3 positions read through web3.py from a local JSON-RPC stub that answers ``eth_call`` from a table of
call results.

Where the results come from (nothing here was recorded from a live chain: this machine reaches none):

* ``UTILITIES``: the case of aave-utilities' ``formatUserSummaryETHMarket`` test (packages/math-utils, its
  ``UserReserveMock`` with ``.supply(200).variableBorrow(100)``: one 6-decimal reserve, LT 60 %, price 10 in an
  18-decimal ETH reference currency worth $10, no time elapsed), for which that SDK expects health factor 1.2
  and $20,000 of collateral. Its liquidation bonus is 105 % here (the mock's 0 is one the configurator refuses).
* ``CORE``: an Ethereum Core-shaped pool: WBTC, USDC, WETH, wstETH and cbBTC with the thresholds and bonuses of
  bgd-labs/aave-proposals-v3's configuration reports, the ETH-correlated e-mode (93/95 %, 1 % bonus) and a
  BTC one, indexes and rates of the size the pool shows, one hour of accrual. The pool's own health factor for
  each user is computed here with exact rational arithmetic of ``GenericLogic`` and ``MathUtils``.

The shapes are those of ``UiPoolDataProviderV3`` v3.6 and ``IPool`` (aave-dao/aave-v3-origin,
aave-utilities' contract types).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_abi.abi import encode
from web3 import Web3

from liqheat.model import DomainError
from liqheat.venues.aave.health import correlated, health_factor, liquidation_price
from liqheat.venues.aave.levels import level_map
from liqheat.venues.aave.rpc import (
    EMODES_OUT,
    RESERVES_OUT,
    SECONDS_PER_YEAR,
    USER_OUT,
    AaveRpc,
    Deployment,
)

RAY = 10**27
E21 = 10**21  # a millionth of RAY: indexes and rates written as RAY × n / 10⁶
DEPLOYMENT = Deployment("stub pool", 1, "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20)
U1, U2, U3 = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
ZERO = "0x" + "00" * 20


def reserve(index: int, symbol: str, decimals: int, lt: int, bonus: int, price: int, rates: tuple[int, int],
            indexes: tuple[int, int], updated: int) -> list[Any]:  # fmt: skip
    """One ``AggregatedReserveData`` tuple, in the ABI's field order."""
    asset = "0x" + f"{index + 1:040x}"
    return [asset, symbol, symbol, decimals, max(lt - 500, 0), lt, bonus, 1000, lt > 0, True, True, False,
            indexes[0], indexes[1], rates[0], rates[1], updated, ZERO, ZERO, ZERO, 0, 0, price, ZERO, 0, 0, 0, 0,
            False, False, 0, 0, True, 0, 2, 0, 0, False, 0, 0]  # fmt: skip


def asset(index: int) -> str:
    return "0x" + f"{index + 1:040x}"


UTILITIES = {
    "block": 1,
    "timestamp": 1,
    "reserves": [reserve(0, "TEST", 6, 6000, 10500, 10 * 10**18, (RAY, 3 * RAY), (RAY, RAY), 1)],
    "base": [10**18, 10 * 10**8, 10 * 10**8, 8],
    "emodes": [],
    "users": {U1: ([(asset(0), 200 * 10**6, True, 100 * 10**6)], 0)},
}

T = 1_771_900_000
CORE = {
    "block": 24_500_000,
    "timestamp": T,
    "reserves": [  # index, symbol, decimals, LT, bonus, price, (deposit rate, debt rate), (deposit index, debt index), updated
        reserve(
            0, "WBTC", 8, 7800, 10500, 6_440_600_840_822, (1_000 * E21, 5_200 * E21), (1_002_100 * E21, 1_014_300 * E21), T - 3600
        ),
        reserve(
            1, "USDC", 6, 7800, 10450, 99_990_000, (30_000 * E21, 45_000 * E21), (1_135_600 * E21, 1_190_000 * E21), T - 3600
        ),
        reserve(
            2, "WETH", 18, 8300, 10500, 185_000_000_000, (20_000 * E21, 25_000 * E21), (1_051_000 * E21, 1_072_000 * E21), T - 600
        ),
        reserve(3, "wstETH", 18, 8100, 10600, 225_000_000_000, (100 * E21, 1_000 * E21), (RAY, 1_001_000 * E21), T - 60),
        reserve(
            4, "cbBTC", 8, 7800, 10750, 6_440_600_840_822, (1_000 * E21, 30_000 * E21), (1_000_500 * E21, 1_012_000 * E21), T
        ),
    ],
    "base": [10**8, 10**8, 185_000_000_000, 8],
    "emodes": [
        (1, (9300, 9500, 10100, 0b01100, "ETH correlated", 0b00100, 0)),
        (4, (8400, 8600, 10300, 0b10001, "BTC correlated", 0b10001, 0)),
        (7, (0, 0, 0, 0, "retired", 0, 0)),
    ],
    "users": {
        U1: ([(asset(0), 2 * 10**8, True, 0), (asset(1), 0, False, 60_000 * 10**6)], 0),
        U2: ([(asset(3), 10 * 10**18, True, 0), (asset(2), 0, False, 8 * 10**18), (asset(1), 0, False, 4_000 * 10**6)], 1),
        U3: ([(asset(4), 10**8, False, 0), (asset(0), 5 * 10**7, True, 0), (asset(1), 0, False, 10_000 * 10**6)], 0),
    },
}


def exact_hf(case: dict[str, Any], user: str) -> int:
    """The pool's health factor (WAD) for ``user``: GenericLogic's sums with MathUtils' accrual, in exact rationals."""
    by = {r[0]: r for r in case["reserves"]}
    rows, emode = case["users"][user]
    categories = {e[0]: e[1] for e in case["emodes"]}
    unit, ref = case["base"][0], case["base"][1]
    weighted = debt = Fraction(0)
    for address, supplied, enabled, owed in rows:
        r = by[address]
        index = case["reserves"].index(r)
        dt = case["timestamp"] - r[16]
        price = Fraction(r[22], unit) * Fraction(ref, 10**8)
        decimals = 10 ** r[3]
        if supplied and enabled:
            income = Fraction(r[12], RAY) * (1 + Fraction(r[14], RAY) * dt / SECONDS_PER_YEAR)
            lt = r[5]
            if emode and categories[emode][3] >> index & 1:
                lt = categories[emode][1]
            weighted += supplied * income / decimals * price * Fraction(lt, 10_000)
        if owed:
            x = Fraction(r[15], RAY) / SECONDS_PER_YEAR
            growth = 1 + x * dt + x * x * dt * (dt - 1) / 2 + x**3 * dt * (dt - 1) * max(dt - 2, 0) / 6
            debt += owed * Fraction(r[13], RAY) * growth / decimals * price
    return 2**256 - 1 if debt == 0 else int(weighted / debt * 10**18)


def call_table(case: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(to, calldata) → ABI-encoded result of every call the reader makes on ``case``."""

    def data(signature: str, types: list[str], args: list[Any]) -> str:
        return "0x" + (Web3.keccak(text=signature)[:4] + encode(types, args)).hex()

    d = DEPLOYMENT
    ui, pool = d.ui_pool_data_provider.lower(), d.pool.lower()
    table = {
        (ui, data("getReservesData(address)", ["address"], [d.addresses_provider])):
            encode(RESERVES_OUT, [case["reserves"], case["base"]]),
        (ui, data("getEModes(address)", ["address"], [d.addresses_provider])): encode(EMODES_OUT, [case["emodes"]]),
    }  # fmt: skip
    for user, (rows, emode) in case["users"].items():
        table[(ui, data("getUserReservesData(address,address)", ["address", "address"], [d.addresses_provider, user]))] = encode(
            USER_OUT, [rows, emode]
        )
        account = [0, 0, 0, 0, 0, exact_hf(case, user)]
        table[(pool, data("getUserAccountData(address)", ["address"], [user]))] = encode(["uint256"] * 6, account)
    return {k: "0x" + v.hex() for k, v in table.items()}


class Stub(ThreadingHTTPServer):
    """A JSON-RPC endpoint on loopback: ``eth_call`` from a table, the block's header, the chain id; anything
    else, and any call not in the table, an error as a node gives it (a reverted call)."""

    calls: dict[tuple[str, str], str]
    block: int
    timestamp: int
    seen: list[str]


class Handler(BaseHTTPRequestHandler):
    server: Stub

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method, params = request["method"], request.get("params", [])
        self.server.seen.append(method)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        if method == "eth_chainId":
            reply["result"] = hex(1)
        elif method == "eth_getBlockByNumber":
            reply["result"] = {"number": hex(self.server.block), "timestamp": hex(self.server.timestamp),
                               "hash": "0x" + "ab" * 32, "parentHash": "0x" + "cd" * 32, "transactions": []}  # fmt: skip
        elif method == "eth_call":
            key = (params[0]["to"].lower(), params[0].get("data") or params[0].get("input"))
            if key in self.server.calls:
                reply["result"] = self.server.calls[key]
            else:
                reply["error"] = {"code": 3, "message": "execution reverted", "data": "0x"}
        else:
            reply["error"] = {"code": -32601, "message": f"the method {method} does not exist/is not available"}
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(case: dict[str, Any]) -> Iterator[tuple[str, Stub]]:
    server = Stub(("127.0.0.1", 0), Handler)
    server.calls, server.block, server.timestamp, server.seen = call_table(case), case["block"], case["timestamp"], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def utilities() -> Iterator[tuple[str, Stub]]:
    yield from serve(UTILITIES)


@pytest.fixture
def core() -> Iterator[tuple[str, Stub]]:
    yield from serve(CORE)


def test_the_aave_utilities_case_gives_its_health_factor(utilities: tuple[str, Stub]) -> None:
    url, stub = utilities
    state, (live,) = AaveRpc(url, DEPLOYMENT).positions([U1])
    assert state.prices == {"TEST": pytest.approx(100.0)}  # 10 units of a reference worth $10
    p = live.position
    assert [(h.asset, h.amount) for h in p.collateral] == [("TEST", pytest.approx(200.0))]
    assert [(h.asset, h.amount) for h in p.debt] == [("TEST", pytest.approx(100.0))]
    assert sum(h.usd for h in p.collateral) == pytest.approx(20_000.0)  # aave-utilities: totalCollateralUSD 20000
    assert live.pool_health_factor == pytest.approx(1.2)  # aave-utilities: healthFactor '1.2'
    assert health_factor(p) == pytest.approx(1.2, rel=1e-12)
    assert set(stub.seen) <= {"eth_chainId", "eth_getBlockByNumber", "eth_call"}


def test_core_positions_match_the_pools_health_factor(core: tuple[str, Stub]) -> None:
    url, _ = core
    state, lives = AaveRpc(url, DEPLOYMENT).positions([U1, U2, U3])
    market = state.market
    assert sorted(market.reserves) == ["USDC", "WBTC", "WETH", "cbBTC", "wstETH"]
    assert market.reserves["cbBTC"].liquidation_bonus == 1.075
    assert sorted(market.emodes) == [1, 4]  # category 7 has no threshold: retired
    assert market.emodes[1].collateral == {"WETH", "wstETH"}
    assert market.emodes[1].borrowable == {"WETH"}
    assert market.emodes[4].collateral == {"WBTC", "cbBTC"}
    for live in lives:
        assert health_factor(live.position) == pytest.approx(live.pool_health_factor, rel=1e-9), live.position.account
    u1, u2, u3 = (live.position for live in lives)
    usdc = next(h for h in u1.debt if h.asset == "USDC")
    x = 45e-3 / SECONDS_PER_YEAR
    assert usdc.amount == pytest.approx(60_000 * 1.19 * (1 + x * 3600 + x * x * 3600 * 3599 / 2), rel=1e-12)  # an hour's interest
    assert u2.emode == 1
    assert u2.liquidation_threshold("wstETH") == 0.95
    assert [h.asset for h in u3.collateral] == ["WBTC"]  # its cbBTC is supplied but not enabled as collateral
    # the ETH position: wstETH and WETH move together, only the USDC debt is exposed to ETH's price
    together = liquidation_price(u2, "wstETH", correlated(market, "wstETH"))
    alone = liquidation_price(u2, "wstETH")
    assert together is not None
    assert alone is not None
    assert together < alone < 2_250
    assert liquidation_price(u1, "WBTC") == pytest.approx(sum(h.usd for h in u1.debt) / (u1.collateral[0].amount * 0.78))
    m = level_map([u1, u2, u3], correlated(market, "WBTC"), state.prices["WBTC"], [20_000.0, 40_000.0, 60_000.0, 64_406.0],
                  asset="BTC")  # fmt: skip
    assert m.long_positions.tolist() == [2, 1, 0]  # u1 first near 45.7k, then lower; u3 near 30.4k; u2 holds no BTC
    assert math.isfinite(m.long_usd.sum())


def test_failures_are_named(core: tuple[str, Stub]) -> None:
    url, _ = core
    rpc = AaveRpc(url, DEPLOYMENT)
    state = rpc.state()
    with pytest.raises(DomainError) as caught:
        rpc.position(state, "0x" + "44" * 20)
    assert "getUserReservesData(address,address) at block 24500000 failed" in str(caught.value)
    with pytest.raises(DomainError, match="address must be a 20-byte hex address"):
        rpc.position(state, "0x1234")
    with pytest.raises(DomainError, match="rpc_url must be an http"):
        AaveRpc("ws://127.0.0.1:1", DEPLOYMENT)
    other = Deployment("elsewhere", 1, "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "d4" * 20)
    with pytest.raises(DomainError) as caught:
        AaveRpc(url, other).state()
    assert "elsewhere: getReservesData(address) at block 24500000 failed" in str(caught.value)


def test_an_endpoint_that_is_down_is_named() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    server.server_close()
    with pytest.raises(DomainError) as caught:
        AaveRpc(f"http://127.0.0.1:{port}", DEPLOYMENT, timeout=2).state()
    assert "stub pool: cannot read block latest" in str(caught.value)
