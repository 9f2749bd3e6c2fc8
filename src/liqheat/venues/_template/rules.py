"""Template: replace with the venue's liquidation rule as ``RULES = Venue(...)``."""

raise NotImplementedError(
    "venues/_template/rules.py is a template: define RULES = Venue(...) with the formula's source page "
    "(see venues/hyperliquid/rules.py), ship its bracket tables in tables/, and register it in venues/registry.py"
)
