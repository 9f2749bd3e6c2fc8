"""liqheat.arrays reads and writes Arrow columns by buffer: it must agree with pyarrow's own conversion."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqheat import arrays

cells = st.lists(st.one_of(st.none(), st.floats(allow_nan=False, width=64)), max_size=40)


def chunked(values: list, kind: pa.DataType, cuts: list[int], start: int) -> pa.ChunkedArray:
    """Values split into chunks at ``cuts``, each chunk a slice of a longer array (offset ``start``)."""
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    chunks = []
    for lo, hi in itertools.pairwise(bounds):
        padded = [None] * start + values[lo:hi] + [None]
        chunks.append(pa.array(padded, type=kind).slice(start, hi - lo))
    return pa.chunked_array(chunks, type=kind)


@settings(max_examples=150, deadline=None)
@given(cells, st.lists(st.integers(0, 60), max_size=4), st.integers(0, 9))
def test_numbers_equal_pyarrow_conversion(values: list, cuts: list[int], start: int) -> None:
    column = chunked(values, pa.float64(), cuts, start)
    expected = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    np.testing.assert_array_equal(arrays.numbers(column), expected)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=40),
    st.lists(st.integers(0, 60), max_size=3),
    st.integers(0, 9),
)
def test_integer_columns_become_floats_with_nan(values: list, cuts: list[int], start: int) -> None:
    column = chunked(values, pa.int64(), cuts, start)
    expected = np.array([np.nan if v is None else float(v) for v in values])
    np.testing.assert_array_equal(arrays.numbers(column), expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.booleans()), max_size=70), st.lists(st.integers(0, 80), max_size=3), st.integers(0, 13))
def test_flags_unpack_bits_at_any_offset(values: list, cuts: list[int], start: int) -> None:
    column = chunked(values, pa.bool_(), cuts, start)
    np.testing.assert_array_equal(arrays.flags(column), np.array([bool(v) for v in values], dtype=bool))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**50), 2**50), max_size=40), st.sampled_from(["s", "ms", "us"]))
def test_timestamps_round_trip_and_format_like_arrow(us: list[int], unit: str) -> None:
    values = np.array(us, dtype=np.int64)
    written = arrays.timestamp_array(values, unit)
    scale = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
    np.testing.assert_array_equal(arrays.micros(written.cast(pa.timestamp("us"))), values // scale * scale)
    native = pa.array(values // scale, type=pa.timestamp(unit))
    assert written.equals(native)


def test_micros_refuses_other_units_and_nulls() -> None:
    with pytest.raises(TypeError, match="timestamp\\[us\\]"):
        arrays.micros(pa.array([1], type=pa.timestamp("ns")))
    with pytest.raises(TypeError, match="1 null"):
        arrays.micros(pa.array([1, None], type=pa.timestamp("us")))


def test_float_and_mask_arrays_equal_pyarrow_built_ones() -> None:
    values = np.array([1.5, np.nan, -0.0, 1e308])
    built = arrays.float_array(values)
    assert built.null_count == 0
    assert built.type == pa.float64()
    np.testing.assert_array_equal(built.to_numpy(), values)
    assert arrays.float_array(values[[0, 2, 3]]).equals(pa.array(values[[0, 2, 3]]))
    mask = np.array([True, False, True] * 7)
    flags = arrays.mask_array(mask)
    assert flags.equals(pa.array(mask))
    assert pc.sum(flags).as_py() == int(mask.sum())


def test_words_keep_text_and_nulls() -> None:
    assert list(arrays.words(pa.chunked_array([["long", None], ["short"]]))) == ["long", None, "short"]


def test_replay_never_imports_pandas(tmp_path: Path) -> None:
    """`liqheat replay` reads, validates, replays and writes without pandas (it costs 0.3 s of start-up)."""
    from tests.engine.test_replay import synthetic_bundle

    from liqheat.bundle import write_bundle

    folder = write_bundle(synthetic_bundle(), tmp_path / "b")
    out = tmp_path / "p.csv"
    probe = (
        "import sys\n"
        "from liqheat.cli.main import main\n"
        f"sys.argv = ['liqheat', 'replay', {str(folder)!r}, '--out', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('PANDAS', 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "PANDAS False" in result.stdout
    assert out.read_text().startswith("ts,long_usd,short_usd\n")
