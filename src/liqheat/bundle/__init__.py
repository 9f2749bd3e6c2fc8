"""Market bundles: the project's interchange format (one folder, one market, one timeframe).

:mod:`.meta` holds the format and the records, :mod:`.read` the one reader (it validates everything),
:mod:`.write` the one writer (atomic). Import from here.
"""

from liqheat.bundle.meta import Bundle, BundleError, BundleMeta, Format, Gaps, with_tables
from liqheat.bundle.read import read_bundle
from liqheat.bundle.write import iso_utc_text, write_bundle

__all__ = ["Bundle", "BundleError", "BundleMeta", "Format", "Gaps", "iso_utc_text", "read_bundle", "with_tables", "write_bundle"]
