"""Aave v3 positions read live from a JSON-RPC endpoint the user configures (web3.py), all at one block.

Calls, with the v3.6 ABI of ``UiPoolDataProviderV3`` (the one aave-utilities' contract types carry since its
v3.6 upgrade; v3.3 and older pools return reserves with two more fields and cannot be read by it):

* ``getReservesData(provider)``: each reserve's threshold, bonus, debt ceiling, indexes, rates and oracle price;
* ``getEModes(provider)``: the e-mode categories, their collateral and borrowable assets as bitmaps of reserve ids;
* ``getUserReservesData(provider, user)``: the user's scaled balances, collateral flags and e-mode;
* ``Pool.getUserAccountData(user)``: the pool's own health factor, kept beside ours as a check.

Balances are scaled balances times the reserve's index accrued to the block's timestamp (linear for deposits,
the pool's three-term compounding for debt), as the pool computes them. A bitmap's bit i is the i-th reserve of
``getReservesData`` (the pool's reserve id while no reserve was ever dropped, as on the deployments below).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from liqheat.model import DomainError
from liqheat.venues.aave.position import V3_3, EModeCategory, Holding, Market, Position, Reserve

RAY = 10**27
SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where one Aave v3 pool lives: addresses from bgd-labs/aave-address-book (its snapshot of 2026-05-01; the three
    UiPoolDataProviders are those of its commit ec634ea2, 2025-12-18, one version, the reserve fields below)."""

    name: str
    chain_id: int
    addresses_provider: str
    pool: str
    ui_pool_data_provider: str


DEPLOYMENTS = {
    "ethereum": Deployment("Aave v3 Ethereum Core", 1, "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e",
                           "0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2", "0x56b7A1012765C285afAC8b8F25C69Bf10ccfE978"),
    "base": Deployment("Aave v3 Base", 8453, "0xe20fCBdBfFC4Dd138cE8b2E6FBb6CB49777ad64D",
                       "0xA238Dd80C259a72e81d7e4664a9801593F98d1c5", "0xb84A20e848baE3e13897934bB4e74E2225f4546B"),
    "arbitrum": Deployment("Aave v3 Arbitrum", 42161, "0xa97684ead0e402dC232d5A977953DF7ECBaB3CDb",
                           "0x794a61358D6845594F94dc1DB02A252b5b4814aD", "0x13c833256BD767da2320d727a3691BAff3770E39"),
}  # fmt: skip

RESERVE_FIELDS = (
    "underlyingAsset", "name", "symbol", "decimals", "baseLTVasCollateral", "reserveLiquidationThreshold",
    "reserveLiquidationBonus", "reserveFactor", "usageAsCollateralEnabled", "borrowingEnabled", "isActive", "isFrozen",
    "liquidityIndex", "variableBorrowIndex", "liquidityRate", "variableBorrowRate", "lastUpdateTimestamp", "aTokenAddress",
    "variableDebtTokenAddress", "interestRateStrategyAddress", "availableLiquidity", "totalScaledVariableDebt",
    "priceInMarketReferenceCurrency", "priceOracle", "variableRateSlope1", "variableRateSlope2", "baseVariableBorrowRate",
    "optimalUsageRatio", "isPaused", "isSiloedBorrowing", "accruedToTreasury", "isolationModeTotalDebt", "flashLoanEnabled",
    "debtCeiling", "debtCeilingDecimals", "borrowCap", "supplyCap", "borrowableInIsolation", "virtualUnderlyingBalance",
    "deficit",
)  # fmt: skip
RESERVE_TYPES = (
    "address,string,string,uint256,uint256,uint256,uint256,uint256,bool,bool,bool,bool,uint128,uint128,uint128,uint128,"
    "uint40,address,address,address,uint256,uint256,uint256,address,uint256,uint256,uint256,uint256,bool,bool,uint128,"
    "uint128,bool,uint256,uint256,uint256,uint256,bool,uint128,uint128"
)
RESERVES_OUT = [f"({RESERVE_TYPES})[]", "(uint256,int256,int256,uint8)"]
EMODES_OUT = ["(uint8,(uint16,uint16,uint16,uint128,string,uint128,uint128))[]"]
USER_OUT = ["(address,uint256,bool,uint256)[]", "uint8"]
ACCOUNT_OUT = ["uint256"] * 6


def linear_income(index: int, rate: int, since: int, now: int) -> float:
    """The deposit index at ``now`` (``MathUtils.calculateLinearInterest``), as a multiple of RAY."""
    return index / RAY * (1 + rate / RAY * max(now - since, 0) / SECONDS_PER_YEAR)


def compounded_debt(index: int, rate: int, since: int, now: int) -> float:
    """The debt index at ``now``: the pool's three-term expansion of compounding per second
    (``MathUtils.calculateCompoundedInterest``), as a multiple of RAY."""
    t = max(now - since, 0)
    r = rate / RAY / SECONDS_PER_YEAR
    return index / RAY * (1 + r * t + r * r * t * (t - 1) / 2 + r**3 * t * (t - 1) * max(t - 2, 0) / 6)


@dataclass(frozen=True, slots=True, eq=False)
class PoolState:
    """One pool at one block: its market (reserves, e-modes, rules), each reserve's raw record by address, USD
    prices by symbol, and the block's timestamp the indexes accrue to."""

    market: Market
    reserves: dict[str, dict[str, Any]]
    symbols: dict[str, str]
    prices: dict[str, float]
    block: int
    timestamp: int


@dataclass(frozen=True, slots=True, eq=False)
class LivePosition:
    """A position read from the chain, and the health factor the pool itself reports for it."""

    position: Position
    pool_health_factor: float


def pool_state(
    deployment: Deployment, reserves: Sequence[Sequence[Any]], base: Sequence[Any], emodes: Iterable[Sequence[Any]],
    block: int, timestamp: int,
) -> PoolState:  # fmt: skip
    """The market of decoded ``getReservesData`` and ``getEModes`` answers (pure: what :class:`AaveRpc` reads)."""
    unit, reference_usd = int(base[0]), int(base[1])
    if unit <= 0 or reference_usd <= 0:
        raise DomainError(f"{deployment.name}: the pool's reference currency has unit {unit} and USD price {reference_usd}")
    records: dict[str, dict[str, Any]] = {}
    symbols: dict[str, str] = {}
    by_index: list[str] = []
    params: dict[str, Reserve] = {}
    prices: dict[str, float] = {}
    for row in reserves:
        r = dict(zip(RESERVE_FIELDS, row, strict=True))
        address = str(r["underlyingAsset"]).lower()
        symbol = str(r["symbol"])
        if symbol in params:
            symbol = f"{symbol}@{address[:10]}"
        records[address], symbols[address] = r, symbol
        by_index.append(symbol)
        threshold = int(r["reserveLiquidationThreshold"]) / 1e4
        bonus = int(r["reserveLiquidationBonus"]) / 1e4 if threshold > 0 else 1.0
        ceiling = int(r["debtCeiling"]) / 10 ** int(r["debtCeilingDecimals"])
        try:
            params[symbol] = Reserve(symbol, threshold, bonus, debt_ceiling_usd=ceiling,
                                     borrowable_in_isolation=bool(r["borrowableInIsolation"]))  # fmt: skip
        except DomainError as exc:
            raise DomainError(f"{deployment.name}: {exc}") from None
        prices[symbol] = int(r["priceInMarketReferenceCurrency"]) / unit * reference_usd / 1e8

    def members(bitmap: int) -> frozenset[str]:
        return frozenset(s for i, s in enumerate(by_index) if bitmap >> i & 1)

    categories = {}
    for number, (_ltv, threshold, bonus, collateral, label, borrowable, _ltvzero) in emodes:
        if int(threshold) == 0:
            continue
        categories[int(number)] = EModeCategory(int(number), str(label), int(threshold) / 1e4, int(bonus) / 1e4,
                                                members(int(collateral)), members(int(borrowable)))  # fmt: skip
    market = Market(deployment.name, params, categories, rules=V3_3)
    return PoolState(market, records, symbols, prices, block, timestamp)


def user_position(state: PoolState, user: str, user_reserves: Iterable[Sequence[Any]], emode: int) -> Position:
    """The position of decoded ``getUserReservesData`` answers, balances accrued to the state's block (pure)."""
    collateral: list[Holding] = []
    debt: list[Holding] = []
    for asset, scaled_supply, as_collateral, scaled_debt in user_reserves:
        address = str(asset).lower()
        r = state.reserves.get(address)
        if r is None:
            raise DomainError(f"account {user}: reserve {address} is not among the pool's reserves")
        symbol = state.symbols[address]
        unit = 10 ** int(r["decimals"])
        since = int(r["lastUpdateTimestamp"])
        if int(scaled_supply) > 0 and as_collateral:
            income = linear_income(int(r["liquidityIndex"]), int(r["liquidityRate"]), since, state.timestamp)
            collateral.append(Holding(symbol, int(scaled_supply) * income / unit, state.prices[symbol]))
        if int(scaled_debt) > 0:
            owed = compounded_debt(int(r["variableBorrowIndex"]), int(r["variableBorrowRate"]), since, state.timestamp)
            debt.append(Holding(symbol, int(scaled_debt) * owed / unit, state.prices[symbol]))
    return Position(user.lower(), state.market, tuple(collateral), tuple(debt), int(emode))


class AaveRpc:
    """Reads one deployment through a JSON-RPC endpoint (``url``: any Ethereum node or provider of that chain)."""

    def __init__(self, url: str, deployment: Deployment, *, timeout: float = 30.0) -> None:
        from web3 import Web3

        if not url.startswith(("http://", "https://")):
            raise DomainError(f"rpc_url must be an http(s) URL, got {url!r}", param="rpc_url")
        self.deployment = deployment
        self._w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))

    def _call(self, to: str, signature: str, types: list[str], args: list[Any], out: list[str], block: int) -> tuple[Any, ...]:
        from eth_abi.abi import decode, encode
        from web3 import Web3
        from web3.exceptions import Web3Exception

        data = Web3.keccak(text=signature)[:4] + encode(types, args)
        try:
            raw = self._w3.eth.call({"to": Web3.to_checksum_address(to), "data": data}, block_identifier=block)
        except (Web3Exception, OSError, ValueError) as exc:
            raise DomainError(f"{self.deployment.name}: {signature} at block {block} failed: {exc}", param="rpc_url") from None
        try:
            return tuple(decode(out, bytes(raw)))
        except Exception as exc:  # eth_abi's decoding errors share no base class beyond this
            raise DomainError(f"{self.deployment.name}: {signature} answered in another shape than the v3.6 ABI ({exc})",
                              param="rpc_url") from None  # fmt: skip

    def state(self, block: int | None = None) -> PoolState:
        """The pool at ``block`` (the latest when None)."""
        try:
            header = self._w3.eth.get_block("latest" if block is None else block)
        except Exception as exc:  # a transport, JSON-RPC or missing-block error: all say the endpoint failed us
            raise DomainError(f"{self.deployment.name}: cannot read block {block or 'latest'}: {exc}", param="rpc_url") from None
        number, timestamp = int(header["number"]), int(header["timestamp"])
        d = self.deployment
        ui, provider = d.ui_pool_data_provider, [d.addresses_provider]
        reserves, base = self._call(ui, "getReservesData(address)", ["address"], provider, RESERVES_OUT, number)
        (emodes,) = self._call(ui, "getEModes(address)", ["address"], provider, EMODES_OUT, number)
        return pool_state(d, reserves, base, emodes, number, timestamp)

    def position(self, state: PoolState, user: str) -> LivePosition:
        """One user's position at the state's block, with the pool's own health factor."""
        from web3 import Web3

        if not Web3.is_address(user):
            raise DomainError(f"address must be a 20-byte hex address, got {user!r}", param="address")
        d = self.deployment
        rows, emode = self._call(d.ui_pool_data_provider, "getUserReservesData(address,address)", ["address", "address"],
                                 [d.addresses_provider, user], USER_OUT, state.block)  # fmt: skip
        account = self._call(d.pool, "getUserAccountData(address)", ["address"], [user], ACCOUNT_OUT, state.block)
        hf = int(account[5])
        return LivePosition(user_position(state, user, rows, emode), math.inf if hf == 2**256 - 1 else hf / 1e18)

    def positions(self, users: Iterable[str], block: int | None = None) -> tuple[PoolState, list[LivePosition]]:
        """The pool and every user's position at one block."""
        state = self.state(block)
        return state, [self.position(state, u) for u in users]
