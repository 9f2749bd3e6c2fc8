"""A new venue, in one folder: copy ``_template/`` to ``venues/<name>/`` and fill in each file.

1. ``feed.py``: a :class:`~liqheat.venues.spec.VenueSpec` (ccxt class per contract kind, typed
   :class:`~liqheat.venues.spec.Capabilities` with the ``exchange.has`` keys they rest on, page sizes,
   open-interest units, how a liquidation's side reads). Quirks are small functions beside it.
2. ``rules.py``: its liquidation rule as a :class:`~liqheat.margin.rules.Venue`, with the page each
   formula comes from.
3. ``tables/<name>-<market>-<SYMBOL>.json``: bracket tables, each naming its source and date.
4. A line in ``venues/registry.py`` and recorded payloads under ``tests/venues/<name>/`` fed through
   ccxt's own parsing.

Importing :mod:`.feed` or :mod:`.rules` from here raises with these steps, so a half-made venue fails
loudly rather than silently missing fields.
"""
