"""One set of time rules for bundles, the CLI and the API."""

from __future__ import annotations

import pandas as pd
import pytest

from liqheat.model import DomainError
from liqheat.timeutil import parse_time, stamp_micros, utc_micros


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
