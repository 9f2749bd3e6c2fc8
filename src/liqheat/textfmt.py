"""How dollars and prices read in text a trader gets: the CLI's tables and the alerts' messages say them alike."""

from __future__ import annotations


def usd(x: float, digits: int = 2) -> str:
    """``$652.70M``, ``$9.5k``, ``$312``: a dollar amount as a trader reads it."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"${x / scale:,.{digits}f}{unit}"
    return f"${x:,.0f}"


def price_text(p: float) -> str:
    """``72,438``, ``2,116``, ``146.37``, ``0.08412``: a price in as few characters as a table needs (80 columns)."""
    if abs(p) >= 1000:
        return f"{p:,.0f}"
    if abs(p) >= 1:
        return f"{p:,.2f}"
    return f"{p:.4g}"
