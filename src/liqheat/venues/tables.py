"""Where bracket tables come from: those shipped in each ``venues/<venue>/tables/`` and those
``liqheat tables refresh`` wrote to ``$LIQHEAT_HOME/tables`` (preferred when present)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from liqheat.margin.tables import VenueTable, load_file, parse_table
from liqheat.model import DomainError, Market
from liqheat.venues.registry import table_folders


@cache
def shipped() -> dict[tuple[str, str], VenueTable]:
    """Every table shipped with the package, keyed by (venue, unified symbol)."""
    out: dict[tuple[str, str], VenueTable] = {}
    for package, folder in table_folders():
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                origin = f"liqheat/venues/{package}/tables/{entry.name}"
                vt = parse_table(json.loads(entry.read_text(encoding="utf-8")), origin)
                out[(vt.table.venue, vt.table.market.unified)] = vt
    return out


def local_dir() -> Path:
    """Where ``liqheat tables refresh`` writes tables read from the venues: ``$LIQHEAT_HOME/tables``."""
    home = os.environ.get("LIQHEAT_HOME")
    if not home:
        try:
            home = str(Path.home() / ".liqheat")
        except RuntimeError:  # no $HOME and no password entry
            raise DomainError("no home folder to keep tables in: set LIQHEAT_HOME") from None
    return Path(home) / "tables"


def local() -> dict[tuple[str, str], VenueTable]:
    """Refreshed tables (newer than the shipped ones, when present), keyed like :func:`shipped`.

    A tables folder that cannot be looked into ($LIQHEAT_HOME a file, under an unreadable or missing
    home) holds none, so the shipped tables serve; a table that is there but broken is an error.
    """
    out: dict[tuple[str, str], VenueTable] = {}
    try:
        folder = local_dir()
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    except (DomainError, OSError):
        return out
    for path in paths:
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
        missing = f"no {venue} bracket table for {market} (shipped: {listing})"
        raise DomainError(f"{missing}; pass your own bracket table file instead", param="table")
    return found
