"""Maintenance-margin tables as data files, each with its source and date (shipped ones live in
``venues/<venue>/tables/``; :mod:`liqheat.venues.tables` finds them).

One file per venue and market. The shape is the one ccxt's ``fetch_leverage_tiers`` can refresh:
``{"venue", "market", "symbol", "unified", "contract", "contract_size", "notional_unit", "source",
"as_of", "tiers": [{"floor", "cap", "max_leverage", "mmr", "maint_amount"}]}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqheat.model import Bracket, BracketTable, ContractSpec, DomainError, Market


@dataclass(frozen=True, slots=True)
class VenueTable:
    """A bracket table together with the contract it applies to."""

    table: BracketTable
    spec: ContractSpec
    native_symbol: str


def parse_table(data: Any, origin: str) -> VenueTable:
    """Build a :class:`VenueTable` from a decoded JSON file; errors name ``origin`` and the tier."""
    if not isinstance(data, dict):
        raise DomainError(f"{origin}: must hold a JSON object")
    try:
        market = Market.parse_unified(str(data["unified"]))
        tiers = data["tiers"]
        brackets = tuple(
            Bracket(
                tier=i + 1,
                floor=float(t["floor"]),
                cap=math.inf if t.get("cap") is None else float(t["cap"]),
                max_leverage=float(t["max_leverage"]),
                mmr=float(t["mmr"]),
                maint_amount=float(t.get("maint_amount", 0.0)),
            )
            for i, t in enumerate(tiers)
        )
        table = BracketTable(
            venue=str(data["venue"]),
            market=market,
            notional_unit=str(data["notional_unit"]),
            source=str(data["source"]),
            as_of=str(data["as_of"]),
            brackets=brackets,
        )
        spec = ContractSpec(market=market, contract_size=float(data.get("contract_size", 1.0)))
    except KeyError as exc:
        raise DomainError(f"{origin}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{origin}: {exc}") from None
    if data.get("contract") not in (None, market.kind.value):
        raise DomainError(f"{origin}: contract {data.get('contract')!r} disagrees with {market} ({market.kind.value})")
    return VenueTable(table=table, spec=spec, native_symbol=str(data.get("symbol", market.unified)))


def load_file(path: str | Path) -> VenueTable:
    path = Path(path)
    try:
        return parse_table(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, json.JSONDecodeError) as exc:
        raise DomainError(f"{path}: cannot read bracket table ({exc})") from None
