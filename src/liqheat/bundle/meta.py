"""The bundle format itself: its tables and columns, ``meta.json``, gaps, and the :class:`Bundle` record.

The format is defined in ``../shared/data/README.md``: ``meta.json``, ``candles``, ``open_interest``
and optional ``funding`` and ``liquidations`` tables, each as ``.csv`` or ``.parquet``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from liqheat.model import ContractKind, DomainError
from liqheat.timeutil import duration_seconds, format_delta, from_micros, iso_exact, parse_duration, utc_micros

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["csv", "parquet"]

TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # table: (required value columns, optional value columns); every table has a `ts` column first
    "candles": (("open", "high", "low", "close"), ("volume", "taker_buy_volume")),
    "open_interest": (("oi_usd",), ()),
    "funding": (("rate",), ()),
    "liquidations": (("side", "usd"), ("price",)),
}
REQUIRED_TABLES = ("candles", "open_interest")
META_REQUIRED = ("symbol", "contract", "quote", "timeframe", "venues", "source")
META_KEYS = (*META_REQUIRED, "funding_interval", "liquidations_interval", "score_from", "notes")


class BundleError(DomainError):
    """A bundle that cannot be read as it is; ``str()`` names file, line or row, and column."""

    def __init__(self, file: Path | str, message: str, *, where: str | None = None, column: str | None = None):
        self.file = str(file)
        self.where = where
        self.column = column
        self.reason = message
        parts = [self.file]
        if where:
            parts.append(where)
        if column:
            parts.append(f"column '{column}'")
        super().__init__(": ".join([", ".join(parts), message]))


@dataclass(frozen=True, slots=True)
class BundleMeta:
    """``meta.json``; unknown keys are kept in ``extra`` so a round trip loses nothing."""

    symbol: str
    contract: ContractKind
    quote: str
    timeframe: str
    venues: tuple[str, ...]
    source: str
    funding_interval: str | None = None
    liquidations_interval: str | None = None
    score_from: pd.Timestamp | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def timeframe_delta(self) -> pd.Timedelta:
        return parse_duration(self.timeframe, "timeframe")

    @classmethod
    def from_dict(cls, data: Any, file: Path | str) -> BundleMeta:
        return cls.from_fields(validate_meta(data, file))

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> BundleMeta:
        """From :func:`validate_meta`'s answer."""
        score_from = fields["score_from"]
        return cls(**{**fields, "score_from": from_micros(score_from) if score_from is not None else None})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "contract": self.contract.value,
            "quote": self.quote,
            "timeframe": self.timeframe,
            "venues": list(self.venues),
            "source": self.source,
        }
        optional = {
            "funding_interval": self.funding_interval,
            "liquidations_interval": self.liquidations_interval,
            "score_from": iso_exact(self.score_from) if self.score_from is not None else None,
            "notes": self.notes,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        out.update(self.extra)
        return out


def validate_meta(data: Any, file: Path | str) -> dict[str, Any]:
    """``meta.json`` checked without pandas: :class:`BundleMeta`'s fields, ``score_from`` in µs since the epoch."""
    if not isinstance(data, dict):
        raise BundleError(file, "must hold a JSON object")
    missing = [key for key in META_REQUIRED if key not in data]
    if missing:
        raise BundleError(file, f"missing key(s) {', '.join(missing)} (required: {', '.join(META_REQUIRED)})")

    def text(key: str) -> str:
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise BundleError(file, f"key '{key}' must be a non-empty string, got {value!r}")
        return value

    def checked(key: str, parse: Callable[[str, str], object]) -> None:
        if data.get(key) is not None:
            value = text(key)
            try:
                parse(value, f"key '{key}'")
            except DomainError as exc:
                raise BundleError(file, str(exc)) from None

    contract = text("contract")
    if contract not in ("linear", "inverse"):
        raise BundleError(file, f"key 'contract' must be 'linear' or 'inverse', got {contract!r}")
    venues = data["venues"]
    if not isinstance(venues, list) or not venues or not all(isinstance(v, str) and v for v in venues):
        raise BundleError(file, f"key 'venues' must be a non-empty list of names, got {venues!r}")
    for key in ("timeframe", "funding_interval", "liquidations_interval"):
        checked(key, duration_seconds)
    checked("score_from", utc_micros)
    notes = data.get("notes")
    return dict(
        symbol=text("symbol"),
        contract=ContractKind(contract),
        quote=text("quote"),
        timeframe=text("timeframe"),
        venues=tuple(venues),
        source=text("source"),
        funding_interval=data.get("funding_interval"),
        liquidations_interval=data.get("liquidations_interval"),
        score_from=utc_micros(data["score_from"], "score_from") if data.get("score_from") else None,
        notes=notes if isinstance(notes, str) else None,
        extra={k: v for k, v in data.items() if k not in META_KEYS},
    )


@dataclass(frozen=True, slots=True)
class Gaps:
    """Missing stretches in a time series: how many, the largest, and where it starts."""

    table: str
    expected: pd.Timedelta
    count: int
    largest: pd.Timedelta
    largest_after: pd.Timestamp | None
    missing_steps: int

    def __str__(self) -> str:
        if not self.count:
            return f"{self.table}: no gaps (step {format_delta(self.expected)})"
        return (
            f"{self.table}: {self.count} gap(s), {self.missing_steps} missing step(s) of {format_delta(self.expected)}; "
            f"largest {format_delta(self.largest)} after {self.largest_after:%Y-%m-%dT%H:%M:%SZ}"
        )


@dataclass(frozen=True, slots=True)
class Bundle:
    """A validated market bundle. Tables are DataFrames whose ``ts`` column is UTC ``datetime64``.

    Gaps are reported in ``gaps`` and left as they are: consumers decide (open interest is carried
    forward from the latest sample at or before a time, as the scoring rules say).
    """

    meta: BundleMeta
    candles: pd.DataFrame
    open_interest: pd.DataFrame
    funding: pd.DataFrame | None = None
    liquidations: pd.DataFrame | None = None
    path: Path | None = None
    gaps: tuple[Gaps, ...] = ()
    warnings: tuple[str, ...] = ()

    def table(self, name: str) -> pd.DataFrame | None:
        frame: pd.DataFrame | None = getattr(self, name)
        return frame


def with_tables(bundle: Bundle, **tables: pd.DataFrame | None) -> Bundle:
    """A copy of ``bundle`` with some tables replaced (used by importers and tests)."""
    return replace(bundle, **tables)  # type: ignore[arg-type]
