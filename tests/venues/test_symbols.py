"""Symbol resolution: unified ccxt symbols and venue-native aliases all name one canonical Market."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqheat.model import ContractKind, DomainError, Market
from liqheat.venues.symbols import resolve

LINEAR_BTC = Market("BTC", "USDT", "USDT")
INVERSE_BTC = Market("BTC", "USD", "BTC")


@pytest.mark.parametrize(
    ("text", "venue", "expected", "kind"),
    [
        ("BTCUSDT", None, LINEAR_BTC, ContractKind.LINEAR),
        ("BTCUSD_PERP", None, INVERSE_BTC, ContractKind.INVERSE),
        ("BTC-USDT-SWAP", None, LINEAR_BTC, ContractKind.LINEAR),
        ("BTC-USD-SWAP", None, INVERSE_BTC, ContractKind.INVERSE),
        ("ETHUSDC", None, Market("ETH", "USDC", "USDC"), ContractKind.LINEAR),
        ("BTC", "hyperliquid", Market("BTC", "USDC", "USDC"), ContractKind.LINEAR),
        ("BTCUSD", "bybit", INVERSE_BTC, ContractKind.INVERSE),
        ("BTCPERP", "bybit", Market("BTC", "USDC", "USDC"), ContractKind.LINEAR),
        ("1000PEPEUSDT", None, Market("1000PEPE", "USDT", "USDT"), ContractKind.LINEAR),
        ("ETHFDUSD", None, Market("ETH", "FDUSD", "FDUSD"), ContractKind.LINEAR),
        ("ETHBUSD", None, Market("ETH", "BUSD", "BUSD"), ContractKind.LINEAR),
        ("SOL-USDC-SWAP", None, Market("SOL", "USDC", "USDC"), ContractKind.LINEAR),
        ("ETHUSD_PERP", None, Market("ETH", "USD", "ETH"), ContractKind.INVERSE),
    ],
)
def test_venue_native_aliases(text: str, venue: str | None, expected: Market, kind: ContractKind) -> None:
    market = resolve(text, venue)
    assert market == expected
    assert market.kind is kind


@pytest.mark.parametrize("text", ["btcusdt", "  BTCUSDT  ", "\tbtc-usdt-swap\n", " btc/usdt:usdt ", "BtcUsdt"])
def test_lower_case_and_surrounding_whitespace_are_accepted(text: str) -> None:
    assert resolve(text) == LINEAR_BTC


def test_venue_name_is_case_insensitive() -> None:
    assert resolve("eth", "HyperLiquid") == Market("ETH", "USDC", "USDC")
    assert resolve("ethperp", "BYBIT") == Market("ETH", "USDC", "USDC")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BTC/USDT:USDT", LINEAR_BTC),
        ("BTC/USD:BTC", INVERSE_BTC),
        ("BTC/USDT", LINEAR_BTC),  # settle defaults to the quote ...
        ("BTC/USD", INVERSE_BTC),  # ... except for USD, which is the inverse (coin-settled) market
        ("BTC/USD:USD", Market("BTC", "USD", "USD")),  # an explicit settle wins
    ],
)
def test_unified_symbols(text: str, expected: Market) -> None:
    assert resolve(text) == expected


@pytest.mark.parametrize(
    "market",
    [LINEAR_BTC, INVERSE_BTC, Market("ETH", "USDC", "USDC"), Market("1000PEPE", "USDT", "USDT"), Market("SOL", "USD", "SOL")],
    ids=str,
)
def test_unified_round_trip(market: Market) -> None:
    assert resolve(market.unified) == market
    assert resolve(market.unified.lower()) == market


def test_perp_suffix_is_only_bybit_usdc() -> None:
    """``BTCPERP`` means Bybit's USDC perpetual; without the venue it is not guessed."""
    with pytest.raises(DomainError, match="cannot read symbol"):
        resolve("BTCPERP")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_symbol(text: str) -> None:
    with pytest.raises(DomainError, match="empty"):
        resolve(text)


@pytest.mark.parametrize("venue", [None, "binance", "bybit", "okx"])
def test_bare_coin_needs_hyperliquid(venue: str | None) -> None:
    with pytest.raises(DomainError, match="hyperliquid") as info:
        resolve("BTC", venue)
    assert "'BTC'" in str(info.value)
    assert "BTC/USDT:USDT" in str(info.value)  # and it shows a spelling that works
    # in words the CLI and the API share (no --flag): what to name, or why the venue named does not do
    where = ": name the venue" if venue is None else f", not {venue}"
    assert f"(a bare coin names a market only on hyperliquid{where})" in str(info.value)
    assert "--" not in str(info.value)


def test_settle_must_be_base_or_quote() -> None:
    with pytest.raises(DomainError, match=r"settle currency ETH must be the base \(BTC\) or the quote \(USDT\)"):
        resolve("BTC/USDT:ETH")


@pytest.mark.parametrize("text", ["$$$", "???", "BTC USDT", "BTC/USDT:USDT:USDT", "BTC_USDT", "BTC-USDT-FUTURES", "€"])
def test_garbage_is_a_domain_error(text: str) -> None:
    with pytest.raises(DomainError):
        resolve(text)


def test_garbage_message_quotes_the_input_and_shows_valid_spellings() -> None:
    with pytest.raises(DomainError) as info:
        resolve("$$$")
    message = str(info.value)
    assert "'$$$'" in message
    for example in ("BTC/USDT:USDT", "BTC/USD:BTC", "BTCUSDT", "BTCUSD_PERP", "BTC-USDT-SWAP"):
        assert example in message
    assert "hyperliquid" not in message  # not a bare coin: no Hyperliquid hint


def test_domain_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="symbol"):
        resolve("")


# ------------------------------------------------------------------------------------ properties

_QUOTE_SUFFIXES = ("USDT", "USDC", "USD", "BUSD", "FDUSD", "PERP")
_ALNUM_UPPER = string.ascii_uppercase + string.digits
bases = st.text(alphabet=_ALNUM_UPPER, min_size=2, max_size=10).filter(lambda b: not b.endswith(_QUOTE_SUFFIXES))


def _outcome(text: str) -> Market | str:
    try:
        return resolve(text)
    except DomainError:
        return "DomainError"


@given(bases)
def test_binance_okx_and_unified_spellings_agree(base: str) -> None:
    outcomes = [_outcome(base + "USDT"), _outcome(base + "-USDT-SWAP"), _outcome(base + "/USDT:USDT")]
    assert outcomes[0] == outcomes[1] == outcomes[2]
    if any(c.isalpha() for c in base):
        assert outcomes[0] == Market(base, "USDT", "USDT")


codes = st.text(alphabet=_ALNUM_UPPER, min_size=1, max_size=10).filter(lambda c: any(ch.isalpha() for ch in c))


@given(codes, codes, st.booleans())
def test_any_unified_symbol_round_trips(base: str, quote: str, inverse: bool) -> None:
    market = Market(base, quote, base if inverse else quote)
    assert resolve(market.unified) == market
    assert Market.parse_unified(market.unified) == market
