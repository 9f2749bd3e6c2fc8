"""Aave v3 positions read from a subgraph URL the user configures (GraphQL over HTTP), all at one indexed block.

The schema is the Aave v3 subgraph's (aave/protocol-subgraphs, ``schemas/v3.schema.graphql``): ``reserves``
(thresholds and bonuses in basis points, ``liquidityIndex``/``variableBorrowIndex`` in ray with the rates and
``lastUpdateTimestamp`` they accrue from, ``price.priceInEth``: the oracle price in the market's base currency,
USD with ``priceOracles.baseCurrencyUnit`` = 10^8 on v3), ``users`` with ``eModeCategoryId`` and their
``reserves`` (``userReserves``: ``scaledATokenBalance``, ``scaledVariableDebt``, ``usageAsCollateralEnabledOnUser``).

A subgraph knows every user, which an RPC endpoint cannot list: only users with a borrow are read (no debt, no
liquidation). Balances are accrued to the indexed block's timestamp as :mod:`.rpc` accrues them. That schema
gives a reserve one e-mode category (v3.0–3.1); a category's collateral and borrowable assets are then the
reserves in it. The debt ceiling is in hundredths of USD (the pool's 2 debt-ceiling decimals).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from liqheat.model import DomainError
from liqheat.venues.aave.position import V3_3, EModeCategory, Market, Position, Reserve
from liqheat.venues.aave.rpc import Deployment, PoolState, user_position

PAGE = 1000  # The Graph answers at most 1,000 rows a list
DEBT_CEILING_DECIMALS = 2

STATE_QUERY = """
query State($pool: String!) {
  _meta { block { number timestamp } }
  pools { id }
  priceOracles(first: 5) { id baseCurrencyUnit }
  reserves(first: 1000, where: {pool: $pool}) {
    id underlyingAsset symbol decimals usageAsCollateralEnabled
    reserveLiquidationThreshold reserveLiquidationBonus debtCeiling borrowableInIsolation
    liquidityIndex liquidityRate variableBorrowIndex variableBorrowRate lastUpdateTimestamp
    price { priceInEth }
    eMode { id liquidationThreshold liquidationBonus label }
  }
}
"""

USERS_QUERY = """
query Users($pool: String!, $after: String!, $first: Int!, $block: Int!) {
  users(first: $first, orderBy: id, orderDirection: asc, block: {number: $block},
        where: {id_gt: $after, borrowedReservesCount_gt: 0}) {
    id
    eModeCategoryId { id }
    reserves(where: {pool: $pool}) {
      reserve { underlyingAsset }
      usageAsCollateralEnabledOnUser scaledATokenBalance scaledVariableDebt
    }
  }
}
"""


def _field(row: Mapping[str, Any], name: str, where: str) -> Any:
    if not isinstance(row, Mapping) or name not in row or row[name] is None:
        raise DomainError(f"subgraph {where}: {name} is missing", param="subgraph_url")
    return row[name]


def _int(row: Mapping[str, Any], name: str, where: str) -> int:
    value = _field(row, name, where)
    try:
        return int(str(value))
    except ValueError:
        raise DomainError(f"subgraph {where}: {name} {value!r} is not an integer", param="subgraph_url") from None


def subgraph_state(deployment: Deployment, data: Mapping[str, Any], pool: str) -> PoolState:
    """The pool of a ``State`` answer's ``data`` (pure: what :class:`AaveSubgraph` reads): its reserves, e-modes,
    USD prices and the indexed block."""
    block = _field(_field(data, "_meta", "_meta"), "block", "_meta")
    number, timestamp = _int(block, "number", "_meta.block"), _int(block, "timestamp", "_meta.block")
    oracles = _field(data, "priceOracles", "answer")
    if not oracles:
        raise DomainError("subgraph answer: priceOracles is empty (no base currency unit to read prices in)",
                          param="subgraph_url")  # fmt: skip
    unit = _int(oracles[0], "baseCurrencyUnit", "priceOracles[0]")
    if unit <= 0:
        raise DomainError(f"subgraph priceOracles[0]: baseCurrencyUnit {unit} must be > 0", param="subgraph_url")
    rows = _field(data, "reserves", "answer")
    if not rows:
        raise DomainError(f"subgraph answer: no reserves of pool {pool} ({deployment.name})", param="subgraph_url")
    records: dict[str, dict[str, Any]] = {}
    symbols: dict[str, str] = {}
    params: dict[str, Reserve] = {}
    prices: dict[str, float] = {}
    modes: dict[int, tuple[str, float, float, set[str]]] = {}
    for i, row in enumerate(rows):
        address = str(_field(row, "underlyingAsset", f"reserves[{i}]")).lower()
        where = f"reserves[{i}] ({row.get('symbol', '?')} {address})"
        symbol = str(_field(row, "symbol", where))
        if symbol in params:
            symbol = f"{symbol}@{address[:10]}"
        records[address] = {k: _int(row, k, where) for k in ("decimals", "liquidityIndex", "liquidityRate",
                            "variableBorrowIndex", "variableBorrowRate", "lastUpdateTimestamp")}  # fmt: skip
        symbols[address] = symbol
        threshold = _int(row, "reserveLiquidationThreshold", where) / 1e4
        bonus = _int(row, "reserveLiquidationBonus", where) / 1e4 if threshold > 0 else 1.0
        ceiling = int(str(row.get("debtCeiling") or 0)) / 10**DEBT_CEILING_DECIMALS
        try:
            params[symbol] = Reserve(symbol, threshold, bonus, debt_ceiling_usd=ceiling,
                                     borrowable_in_isolation=bool(row.get("borrowableInIsolation")))  # fmt: skip
        except DomainError as exc:
            raise DomainError(f"subgraph {where}: {exc}", param="subgraph_url") from None
        prices[symbol] = _int(_field(row, "price", where), "priceInEth", f"{where}.price") / unit
        mode = row.get("eMode")
        if mode:
            category = _int(mode, "id", f"{where}.eMode")
            label = str(mode.get("label") or category)
            found = modes.setdefault(category, (label, _int(mode, "liquidationThreshold", f"{where}.eMode") / 1e4,
                                              _int(mode, "liquidationBonus", f"{where}.eMode") / 1e4, set()))  # fmt: skip
            found[3].add(symbol)
    categories = {n: EModeCategory(n, label, t, b, frozenset(m), frozenset(m))
                  for n, (label, t, b, m) in modes.items() if t > 0}  # fmt: skip
    market = Market(deployment.name, params, categories, rules=V3_3)
    return PoolState(market, records, symbols, prices, number, timestamp)


def subgraph_positions(state: PoolState, users: Sequence[Mapping[str, Any]], offset: int = 0) -> list[Position]:
    """The positions of a ``Users`` answer's rows, balances accrued to the state's block (pure); ``offset``: the
    rows' place in the whole list, so an error names the row the subgraph sent."""
    out = []
    for i, row in enumerate(users, start=offset):
        user = str(_field(row, "id", f"users[{i}]"))
        where = f"users[{i}] ({user})"
        mode = row.get("eModeCategoryId")
        emode = _int(mode, "id", f"{where}.eModeCategoryId") if mode else 0
        held = []
        for j, ur in enumerate(_field(row, "reserves", where)):
            at = f"{where}.reserves[{j}]"
            asset = _field(_field(ur, "reserve", at), "underlyingAsset", f"{at}.reserve")
            held.append((asset, _int(ur, "scaledATokenBalance", at), bool(ur.get("usageAsCollateralEnabledOnUser")),
                         _int(ur, "scaledVariableDebt", at)))  # fmt: skip
        try:
            position = user_position(state, user, held, emode)
        except DomainError as exc:
            raise DomainError(f"subgraph {where}: {exc}", param="subgraph_url") from None
        if position.debt:
            out.append(position)
    return out


class AaveSubgraph:
    """Reads one deployment's positions from an Aave v3 subgraph (``url``: its GraphQL endpoint, with any key
    the gateway wants in it). The pool is the deployment's addresses provider, as the subgraph names pools."""

    def __init__(self, url: str, deployment: Deployment, *, timeout: float = 30.0, page: int = PAGE) -> None:
        if not url.startswith(("http://", "https://")):
            raise DomainError(f"subgraph_url must be an http(s) URL, got {url!r}", param="subgraph_url")
        if not 1 <= page <= PAGE:
            raise DomainError(f"page must be 1..{PAGE}, got {page}", param="page")
        self.url, self.deployment, self.timeout, self.page = url, deployment, timeout, page

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # an http(s) URL, checked
                answer = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DomainError(f"{self.deployment.name}: the subgraph at {self.url} failed: {exc}", param="subgraph_url") from None
        if not isinstance(answer, dict):
            raise DomainError("subgraph answer: not a JSON object", param="subgraph_url")
        if answer.get("errors"):
            said = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in answer["errors"])
            raise DomainError(f"subgraph answer: errors: {said}", param="subgraph_url")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise DomainError("subgraph answer: data is missing", param="subgraph_url")
        return data

    def state(self) -> PoolState:
        pool = self.deployment.addresses_provider.lower()
        data = self._post(STATE_QUERY, {"pool": pool})
        known = [str(p.get("id", "")).lower() for p in data.get("pools") or []]
        if known and pool not in known:
            raise DomainError(f"subgraph has no pool {pool} ({self.deployment.name}); its pools: {', '.join(known)}",
                              param="chain")  # fmt: skip
        return subgraph_state(self.deployment, data, pool)

    def positions(self, limit: int | None = None) -> tuple[PoolState, list[Position]]:
        """The pool and every borrowing user's position at one indexed block (the first ``limit`` users)."""
        state = self.state()
        pool = self.deployment.addresses_provider.lower()
        out: list[Position] = []
        after, seen = "", 0
        while limit is None or seen < limit:
            first = self.page if limit is None else min(self.page, limit - seen)
            rows = _field(self._post(USERS_QUERY, {"pool": pool, "after": after, "first": first, "block": state.block}),
                          "users", "answer")  # fmt: skip
            out += subgraph_positions(state, rows, offset=seen)
            seen += len(rows)
            if len(rows) < first:
                break
            after = str(rows[-1]["id"])
        return state, out
