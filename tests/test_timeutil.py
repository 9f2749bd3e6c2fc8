"""One set of time rules for bundles, the CLI and the API."""

from __future__ import annotations

import pandas as pd
import pytest

from liqheat.model import DomainError
from liqheat.timeutil import display_interval, parse_duration, parse_time, stamp_micros, utc_micros


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-10T00:00:00.123456789Z", "2026-01-10T00:00:00.123456Z"),  # nanoseconds: dropped, never a crash
        ("2026-01-10T00:00:00.999999999+00:00", "2026-01-10T00:00:00.999999Z"),
        ("2026-01-10 05:30", "2026-01-10T05:30:00Z"),
        ("2026-01-10T07:30:00+02:00", "2026-01-10T05:30:00Z"),
    ],
)
def test_parse_time_holds_microseconds_in_utc(text: str, expected: str) -> None:
    ts = parse_time(text, "--at")
    assert ts is not None
    assert ts.unit == "us"
    assert ts == pd.Timestamp(expected)
    assert ts.floor("us") == ts.as_unit("us")  # usable against every stored datetime64[us] column


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "1969-12-31T00:00:00Z", "2201-01-01"])
def test_parse_time_refuses_with_the_parameter_named(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_time(text, "--at")
    assert caught.value.param == "--at"
    assert "--at" in str(caught.value)


def test_utc_micros_needs_a_zone_and_a_year_in_range() -> None:
    assert stamp_micros(utc_micros("2026-01-10T05:30:00Z", "score_from")) == "2026-01-10T05:30:00Z"
    assert utc_micros("2026-01-10T05:30:00.5+00:00", "x") == utc_micros("2026-01-10T05:30:00Z", "x") + 500_000
    for bad, words in (("2026-01-10T05:30:00", "ending in Z"), ("2026-02-30T00:00:00Z", "not an ISO 8601"),
                       ("2500-01-01T00:00:00Z", "outside any market")):  # fmt: skip
        with pytest.raises(DomainError, match=words):
            utc_micros(bad, "score_from")


@pytest.mark.parametrize(
    ("span", "native", "picked"),
    [
        ("4h", "1m", "1m"),  # 240 candles
        ("48h", "1m", "1m"),  # 2,880
        ("3d", "1m", "5m"),  # 4,320 minutes: too many
        ("7d", "1m", "5m"),  # 2,016
        ("30d", "1m", "15m"),  # 2,880
        ("90d", "1m", "1h"),  # 2,160
        ("1y", "1m", "4h"),  # 2,190
        ("7d", "1h", "1h"),  # never finer than the market's
        ("3000d", "1m", "1d"),
        ("9000d", "1m", "1d"),  # none keeps it: the coarsest
        ("7d", "2h", "4h"),  # a multiple of the market's 2 h, not 1 h
        ("7d", "3h", "1d"),  # 1 d is the only multiple of 3 h
        ("7d", "7h", None),  # none of the intervals is a multiple of 7 h
    ],
)
def test_display_interval(span: str, native: str, picked: str | None) -> None:
    assert display_interval(parse_duration({"1y": "365d"}.get(span, span)), parse_duration(native)) == picked
