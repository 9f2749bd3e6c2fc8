"""The one registry of venues: each venue's feed (what ccxt gives), margin rules and bracket tables.

Adding a venue is one folder under ``venues/`` (see ``venues/_template/``) and one line here. Nothing
else in liqheat branches on a venue's name.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from liqheat.margin.rules import Venue
from liqheat.model import DomainError
from liqheat.venues.binance import feed as binance_feed
from liqheat.venues.binance import rules as binance_rules
from liqheat.venues.bybit import feed as bybit_feed
from liqheat.venues.bybit import rules as bybit_rules
from liqheat.venues.hyperliquid import feed as hyperliquid_feed
from liqheat.venues.hyperliquid import rules as hyperliquid_rules
from liqheat.venues.okx import feed as okx_feed
from liqheat.venues.okx import rules as okx_rules
from liqheat.venues.spec import VenueSpec

PACKAGES = ("binance", "bybit", "okx", "hyperliquid")

RULES: dict[str, Venue] = {
    v.id: v for v in (binance_rules.RULES, bybit_rules.RULES, bybit_rules.CLASSIC, okx_rules.RULES, hyperliquid_rules.RULES)
}
FEEDS: dict[str, VenueSpec] = {s.name: s for s in (binance_feed.SPEC, bybit_feed.SPEC, okx_feed.SPEC, hyperliquid_feed.SPEC)}


def rules(name: str) -> Venue:
    """A venue's margin rules by id (``bybit-classic`` included); the error lists the ones that exist."""
    found = RULES.get(name.strip().lower())
    if found is None:
        raise DomainError(f"unknown venue {name!r} (known: {', '.join(RULES)})")
    return found


def spec(name: str) -> VenueSpec:
    """A venue's feed spec by name; the error lists the venues liqheat reads."""
    found = FEEDS.get(name.strip().lower())
    if found is None:
        raise DomainError(f"unknown venue {name!r} (known: {', '.join(FEEDS)})")
    return found


def linear_quote(name: str) -> str:
    """The quote of a venue's main linear perpetuals (USDT; USDC on Hyperliquid), by rules or feed name."""
    return spec(rules(name).tables_from).linear_quote


def table_folders() -> list[tuple[str, Traversable]]:
    """Each venue package's shipped ``tables/`` folder, as (package, folder)."""
    root = resources.files("liqheat.venues")
    return [(name, root / name / "tables") for name in PACKAGES]
