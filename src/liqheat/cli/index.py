"""Every command: the module that defines it and the one line ``liqheat --help`` shows for it.

``liqheat --help`` reads this table instead of importing and building all commands (two thirds of its
time); a command's module is imported only when that command runs or shows its own help.
``tests/cli/test_index.py`` checks the table against the commands' docstrings, so it cannot drift.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    module: str  # under liqheat.cli
    summary: str  # the first paragraph of the command's docstring


COMMANDS: dict[str, Entry] = {
    "info": Entry("bundle_cmds", "Validate a market bundle and summarise it: rows, time range, gaps, liquidations."),
    "convert": Entry("bundle_cmds", "Rewrite a bundle as CSV or Parquet (validated on the way; written atomically)."),
    "calc": Entry("calc", "The exact liquidation price of one position (venue rules, tiered maintenance margin)."),
    "demo": Entry("demo", "Simulate a market whose positions are known, draw its heatmap and show how good the map is."),
    "replay": Entry("model_cmds", "Replay a bundle causally and write each candle's predicted liquidations."),
    "score": Entry("model_cmds", "Spearman rank correlation of the model with realized liquidations, beside the yardstick."),
    "fit": Entry("model_cmds", "Fit parameters on the first half of each bundle's scored window, check on the second half."),
    "calibrate": Entry(
        "evaluation_cmds",
        "Fit the map's calibration walk-forward (background, scale) and score it per bundle and month against the engine.",
    ),
    "hits": Entry(
        "evaluation_cmds",
        "How well the chance a cluster is reached is told: the driftless model against learned ones, walk-forward.",
    ),
    "report": Entry(
        "evaluation_cmds", "One HTML page of how good the model is: score per bundle and month, reach of clusters, after a sweep."
    ),
    "sweeps": Entry(
        "evaluation_cmds",
        "After a sweep: continuation or reversal 1/4/24 h after a cluster is swept, against random levels at its distance.",
    ),
    "heatmap": Entry("model_cmds", "The liquidation heatmap over a window: PNG (candles over the map), JSON or Parquet matrix."),
    "serve": Entry("serve", "Serve the HTTP API (OpenAPI at /docs) and the heatmap page at /."),
    "import": Entry(
        "store_cmds", "Import native files into the store (idempotent and resumable: run it again after any failure)."
    ),
    "export": Entry(
        "store_cmds",
        "Write a market bundle from the store. One venue is written as stored; several are aggregated (one USD grid, "
        "summed open interest and liquidations, lagging venues flagged in meta.json).",
    ),
    "fetch": Entry(
        "store_cmds", "Backfill a venue's history into the store over REST (resumable: run it again after any failure)."
    ),
    "follow": Entry(
        "store_cmds",
        "Follow markets live into the store: candles and liquidations over websockets, open interest and funding by "
        "polling; reconnects with backoff and backfills what a drop missed. Ctrl-C stops.",
    ),
    "liquidations": Entry(
        "store_cmds",
        "Realized liquidations in the store: totals per hour or day by venue, side and symbol, and the largest orders.",
    ),
    "clusters": Entry(
        "trader",
        "The crowded zones of the map: bands of notional at risk per side, with distance, age and concentration.",
    ),
    "levels": Entry(
        "trader", "Support and resistance (swing pivots at 3 scales, volume nodes) and their confluence with the clusters."
    ),
    "cascade": Entry(
        "trader",
        "Push price by a shock and follow the liquidation chain through a calibrated book scaled to the market's volume.",
    ),
    "plan": Entry(
        "trader",
        "Size a trade from its risk; place the stop and target against the clusters; check its own liquidation price.",
    ),
    "sentiment": Entry("trader", "Long against short notional at risk, funding, and the open-interest change over a window."),
    "screen": Entry(
        "trader", "Rank markets by their large clusters within reach: the chance the next crowded zone is reached in 24 h."
    ),
    "tables": Entry("store_cmds", "Maintenance-margin (bracket) tables: list them, refresh them from the venues."),
    "onchain": Entry("onchain", "Exact liquidation levels of on-chain positions, whose balances are public."),
    "store": Entry("store_cmds", "The store itself: check it and repair what an interrupted write or a hand edit left."),
    "run": Entry(
        "service_cmds",
        "Run the service: follow the config's markets, serve them, alert on them; SIGHUP rereads the config. Exit 2 on "
        "a bad config, 3 when every venue refused.",
    ),
    "backfill": Entry(
        "scale_cmds",
        "Replay every month of every market into the store on Dask, exactly once a month; a rerun finishes the rest.",
    ),
    "config": Entry("service_cmds", "The service's config: check it."),
    "alerts": Entry("service_cmds", "Alert rules, a test alert to every destination, and the alerts sent so far."),
}
