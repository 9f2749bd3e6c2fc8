"""Times and durations: one set of rules for bundles, the CLI and the API.

Every parser names what it parses (``what``) in its error, so the CLI can say ``--at`` and the API
``at`` with the same message. All times are UTC; a time without a zone is read as UTC.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from liqheat.model import DomainError

if TYPE_CHECKING:  # pandas is imported where a function needs it: `liqheat replay` never does
    import pandas as pd

_DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UTC_SUFFIX = re.compile(r"(Z|[+-]00:?00)$")
FIRST_YEAR, LAST_YEAR = 1970, 2200  # beyond these no market has data, and strftime/arithmetic may not hold
MAX_WINDOW_DAYS = 3660
WINDOWS = ("4h", "12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y")


def parse_duration(text: str, what: str = "duration") -> pd.Timedelta:
    """``"5m"``, ``"1h"``, ``"8h"``, ``"1d"`` → a Timedelta; anything else is an error naming ``what``."""
    import pandas as pd

    return pd.Timedelta(seconds=duration_seconds(text, what))


def duration_seconds(text: str, what: str = "duration") -> int:
    """:func:`parse_duration` in whole seconds, without pandas."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise DomainError(f"{what} must look like 1m, 5m, 1h, 8h or 1d, got {text!r}", param=what)
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > 100 * 366 * 86_400:  # beyond any market's data, and soon beyond what time arithmetic holds
        raise DomainError(f"{what} {text!r} is too long (at most 100 years)", param=what)
    return seconds


CANDLE_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")
MOST_CANDLES = 3000


def display_interval(span: pd.Timedelta, native: pd.Timedelta) -> str | None:
    """The finest of CANDLE_INTERVALS that keeps ``span`` to about MOST_CANDLES candles, never finer than the
    market's ``native`` candles nor other than a multiple of them (the coarsest such when none keeps it); None when
    none is a multiple. A chart of more candles than pixels costs time and shows nothing more."""
    import pandas as pd

    pick = None
    for name in CANDLE_INTERVALS:
        step = parse_duration(name)
        if step >= native and step % native == pd.Timedelta(0):
            pick = name
            if span / step <= MOST_CANDLES:
                return name
    return pick


def parse_window(text: str, what: str = "window") -> pd.Timedelta:
    """A look-back window: a duration (``6h``, ``7d``) or ``1y``, at most 10 years."""
    value = "365d" if str(text).strip() == "1y" else str(text)
    try:
        span = parse_duration(value, what)
    except DomainError as exc:
        if "too long" in str(exc):
            raise DomainError(f"{what} {text} is longer than 10 years", param=what) from None
        choices = ", ".join(WINDOWS)
        raise DomainError(f"{what} must be one of {choices} (or a duration like 6h, 2d), got {text!r}", param=what) from None
    if span.total_seconds() > MAX_WINDOW_DAYS * 86_400:
        raise DomainError(f"{what} {text} is longer than 10 years", param=what)
    return span


def utc_micros(text: str, what: str) -> int:
    """A time that must carry its UTC zone (``Z`` or ``+00:00``), as bundle files do, in µs since the epoch."""
    value = str(text).strip()
    suffix = _UTC_SUFFIX.search(value)
    if not suffix:
        raise DomainError(f"{what} must be ISO 8601 UTC ending in Z, got {text!r}", param=what)
    try:
        stamp: np.datetime64 = np.datetime64(value[: suffix.start()], "us")
    except ValueError:
        raise DomainError(f"{what} is not an ISO 8601 time: {text!r}", param=what) from None
    if np.isnat(stamp):
        raise DomainError(f"{what} is not an ISO 8601 time: {text!r}", param=what)
    if not FIRST_YEAR <= stamp.astype("datetime64[Y]").astype(int) + 1970 <= LAST_YEAR:
        raise DomainError(f"{what} {text!r} is outside any market's data (years {FIRST_YEAR}-{LAST_YEAR})", param=what)
    return int(stamp.astype(np.int64))


def from_micros(micros: int) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(micros, unit="us", tz="UTC")


def stamp_micros(micros: int) -> str:
    """``2026-01-05T14:00:00Z`` of a time in µs since the epoch (seconds shown), without pandas."""
    return f"{np.datetime64(int(micros), 'us').astype('datetime64[s]')}Z"


def parse_time(text: str | None, what: str) -> pd.Timestamp | None:
    """A time a user typed (ISO 8601; no zone means UTC), or None for None or "".

    Held in microseconds, as every stored time is: digits past the microsecond are dropped."""
    import pandas as pd

    if text is None or text == "":
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise DomainError(f"{what} is not an ISO 8601 time: {text!r}", param=what) from None
    if pd.isna(ts):
        raise DomainError(f"{what} is not an ISO 8601 time: {text!r}", param=what)
    if not FIRST_YEAR <= ts.year <= LAST_YEAR:
        raise DomainError(f"{what} {text!r} is outside any market's data (years {FIRST_YEAR}-{LAST_YEAR})", param=what)
    utc = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return utc.floor("us").as_unit("us")


def iso(ts: pd.Timestamp) -> str:
    """``2026-01-05T14:00:00Z``: the form every face prints and every API answer carries."""
    import pandas as pd

    t = pd.Timestamp(ts)
    return (t.tz_convert("UTC") if t.tzinfo is not None else t).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_exact(ts: pd.Timestamp) -> str:
    """ISO 8601 UTC ending in Z, with as many fractional digits as the time has."""
    return ts.tz_convert("UTC").tz_localize(None).isoformat() + "Z"


def format_delta(delta: pd.Timedelta) -> str:
    """``1h``, ``5m``, ``2d``: the largest whole unit."""
    return format_seconds(int(delta.total_seconds()))


def format_seconds(seconds: int) -> str:
    """:func:`format_delta` of a whole number of seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def epoch_micros(ts: pd.Series) -> np.ndarray:
    """Microseconds since the epoch of a UTC ``ts`` column.

    A column stored in microseconds (as bundles are) is read in place, read-only: a live market looks up its
    candles' times on every candle, and converting a year of them would cost more than the candle.
    """
    dtype = ts.dtype
    if getattr(dtype, "tz", None) is not None and getattr(dtype, "unit", None) == "us":
        values = np.asarray(ts.array.asi8).view()
        values.flags.writeable = False
        return values
    return np.asarray(ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").view(np.int64))


def find_gaps(
    ts: pd.Series, step: pd.Timedelta, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The missing stretches ``[start, end)`` of a sorted series expected every ``step``.

    With ``since``/``until`` the stretch before the first row (from ``since`` on the step grid) and
    after the last (up to ``until``) count too. The one gap finder of bundles, the store and aggregation.
    """
    import pandas as pd

    edges = epoch_micros(pd.Series(pd.to_datetime(ts, utc=True))) if len(ts) else np.empty(0, dtype=np.int64)
    width = int(step.value // 1000)
    if since is not None:
        edges = np.concatenate(([since.ceil(step).value // 1000 - width], edges))
    if until is not None:
        edges = np.concatenate((edges, [until.value // 1000]))
    if len(edges) < 2 or width <= 0:
        return []
    holes = np.flatnonzero(np.diff(edges) > width)
    at = pd.to_datetime(edges, unit="us", utc=True)
    return [(at[int(i)] + step, at[int(i) + 1]) for i in holes]
