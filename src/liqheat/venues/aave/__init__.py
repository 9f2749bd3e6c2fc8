"""Aave v3 (and v2) lending positions: their exact liquidation prices and the levels they add up to.

A lending position has no leverage or entry: it is liquidated when its health factor
Σ collateral·price·LT ÷ Σ debt·price falls below 1, so its liquidation prices follow from public state
(balances, oracle prices, reserve parameters). :mod:`.position` holds the records, :mod:`.health` the
math, :mod:`.levels` the map, :mod:`.markets` the reserve parameters we ship, :mod:`.snapshot` the
shared subgraph snapshot and :mod:`.rpc` the live reader.
"""
