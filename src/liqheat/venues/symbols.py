"""Turn whatever a user types for a market into one canonical :class:`~liqheat.model.Market`.

The canonical name is ccxt's unified symbol (``BTC/USDT:USDT``, ``BTC/USD:BTC``). Venue-native
spellings are aliases: ``BTCUSDT`` (Binance, Bybit), ``BTCUSD_PERP`` (Binance COIN-M), ``BTCUSD``
(Bybit inverse), ``BTC-USDT-SWAP`` / ``BTC-USD-SWAP`` (OKX), ``BTC`` (Hyperliquid, USDC-settled).
Spellings only one venue gives are that venue's data (:class:`~liqheat.venues.spec.VenueSpec`).
"""

from __future__ import annotations

import re

from liqheat.model import DomainError, Market
from liqheat.venues.registry import FEEDS, RULES
from liqheat.venues.spec import VenueSpec

_STABLE_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD")
_UNIFIED = re.compile(r"^([A-Z0-9]+)/([A-Z0-9]+)(?::([A-Z0-9]+))?$")
_OKX = re.compile(r"^([A-Z0-9]+)-([A-Z0-9]+)-SWAP$")
_BINANCE_COINM = re.compile(r"^([A-Z0-9]+)(USD)_PERP$")
_BASE_ONLY = re.compile(r"^[A-Z0-9]{2,20}$")


def _feed(venue: str | None) -> VenueSpec | None:
    """The feed whose spellings apply: ``venue`` is a feed name or a rules id (``bybit-classic`` → Bybit)."""
    if not venue:
        return None
    name = venue.strip().lower()
    return FEEDS.get(RULES[name].tables_from if name in RULES else name)


def _bare_coin_venues() -> str:
    return " or ".join(name for name, feed in FEEDS.items() if feed.bare_coin_quote)


def resolve(text: str, venue: str | None = None) -> Market:
    """Resolve ``text`` (unified or venue-native, any case) to a market; errors show what is accepted."""
    try:
        return _resolve(text, venue)
    except DomainError as exc:
        if str(exc).startswith("cannot read symbol"):
            raise
        raise DomainError(f"cannot read symbol {text!r} ({exc}); {_FORMS}") from None


_FORMS = (
    "use a unified symbol such as BTC/USDT:USDT (linear) or BTC/USD:BTC (inverse), "
    "or a venue name such as BTCUSDT, BTCUSD_PERP, BTC-USDT-SWAP"
)


def _resolve(text: str, venue: str | None) -> Market:
    """``venue`` disambiguates spellings whose meaning differs between venues: a bare coin (``BTC``)
    is a Hyperliquid USDC perpetual, ``BTCUSD`` is Bybit's inverse perpetual.
    """
    raw = text.strip().upper()
    if not raw:
        raise DomainError("cannot read symbol '': it is empty")
    venue = venue.lower() if venue else None

    if match := _UNIFIED.match(raw):
        base, quote, settle = match.groups()
        return Market(base, quote, settle or (quote if quote != "USD" else base))
    if match := _OKX.match(raw):
        base, quote = match.groups()
        return Market(base, quote, base if quote == "USD" else quote)
    if match := _BINANCE_COINM.match(raw):
        return Market(match.group(1), "USD", match.group(1))
    for quote in _STABLE_QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote):
            return Market(raw[: -len(quote)], quote, quote)
    feed = _feed(venue)
    if raw.endswith("PERP") and len(raw) > 4 and feed is not None and feed.perp_suffix_quote:
        return Market(raw[:-4], feed.perp_suffix_quote, feed.perp_suffix_quote)
    if raw.endswith("USD") and len(raw) > 3:
        base = raw[:-3]
        return Market(base, "USD", base)
    if _BASE_ONLY.match(raw) and feed is not None and feed.bare_coin_quote:
        return Market(raw, feed.bare_coin_quote, feed.bare_coin_quote)
    hint = ""
    if _BASE_ONLY.match(raw):  # in words both faces share: the CLI's --venue and the API's venue are one name
        where = f", not {venue}" if venue else ": name the venue"
        hint = f" (a bare coin names a market only on {_bare_coin_venues()}{where})"
    raise DomainError(f"cannot read symbol {text!r}{hint}; {_FORMS}")
