"""Alerts: rules over what the analytics say about a market (:mod:`.rules`, pure), their state and an
outbox in SQLite (:mod:`.state`), the glue that evaluates a market and records what fired in one
transaction (:mod:`.monitor`), and delivery through apprise or a signed webhook (:mod:`.deliver`)."""
