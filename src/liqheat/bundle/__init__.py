"""Market bundles: the project's interchange format (one folder, one market, one timeframe).

:mod:`.meta` holds the format and the records, :mod:`.read` the one reader (it validates everything),
:mod:`.write` the one writer (atomic). Import from here.
"""

from liqheat.bundle.meta import Bundle, BundleError, BundleMeta, Format, Gaps, with_tables
from liqheat.bundle.read import BundleColumns, Columns, read_bundle, read_columns
from liqheat.bundle.write import iso_micros_text, iso_utc_text, write_bundle

__all__ = [
    "Bundle", "BundleColumns", "BundleError", "BundleMeta", "Columns", "Format", "Gaps",
    "iso_micros_text", "iso_utc_text", "read_bundle", "read_columns", "with_tables", "write_bundle",
]  # fmt: skip
