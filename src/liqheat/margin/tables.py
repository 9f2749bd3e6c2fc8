"""Maintenance-margin tables shipped as data files (``tables/*.json``), each with its source and date.

One file per venue and market. The shape is the one ccxt's ``fetch_leverage_tiers`` can refresh:
``{"venue", "market", "symbol", "unified", "contract", "contract_size", "notional_unit", "source",
"as_of", "tiers": [{"floor", "cap", "max_leverage", "mmr", "maint_amount"}]}``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
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


@cache
def shipped() -> dict[tuple[str, str], VenueTable]:
    """Every table shipped with the package, keyed by (venue, unified symbol)."""
    out: dict[tuple[str, str], VenueTable] = {}
    folder = resources.files("liqheat.margin") / "tables"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            vt = parse_table(json.loads(entry.read_text(encoding="utf-8")), f"liqheat/margin/tables/{entry.name}")
            out[(vt.table.venue, vt.table.market.unified)] = vt
    return out


def local_dir() -> Path:
    """Where ``liqheat tables refresh`` writes tables read from the venues: ``$LIQHEAT_HOME/tables``."""
    return Path(os.environ.get("LIQHEAT_HOME") or Path.home() / ".liqheat") / "tables"


def local() -> dict[tuple[str, str], VenueTable]:
    """Refreshed tables (newer than the shipped ones, when present), keyed like :func:`shipped`."""
    out: dict[tuple[str, str], VenueTable] = {}
    folder = local_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            vt = load_file(path)
            out[(vt.table.venue, vt.table.market.unified)] = vt
    return out


def lookup(venue: str, market: Market, *, refreshed: bool = True) -> VenueTable:
    """The table for ``market`` on ``venue``: a refreshed one if ``refreshed`` and present, else the
    shipped one, else an error listing what exists."""
    tables = {**shipped(), **(local() if refreshed else {})}
    found = tables.get((venue, market.unified))
    if found is None:
        have = sorted(sym for (v, sym) in tables if v == venue)
        listing = ", ".join(have) if have else "none"
        raise DomainError(f"no {venue} bracket table for {market} (shipped: {listing}); pass a table file with --table FILE")
    return found
