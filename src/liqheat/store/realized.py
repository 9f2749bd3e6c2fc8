"""Realized liquidations across the whole store: totals per hour or day by venue, side and symbol, and
the largest orders.

One DuckDB query over every ``liquidations`` month file (venue and symbol come from the folder names),
so it covers whatever was imported (Binance forceOrder recordings, hundreds of symbols) or followed.
Venues whose only source is a throttled stream are labelled lower bounds, and the stretches a follower
could not see (the ``gaps`` kind) are listed, so a quiet hour is not mistaken for a calm one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from liqheat.model import DomainError
from liqheat.store.parquet_store import Store, folder_value, month_files
from liqheat.timeutil import iso

WEEK = pd.Timedelta(days=7)
BUCKETS = {"1h": "1 hour", "1d": "1 day"}
_FOLDER_SYMBOL = re.compile(r"^([^-_/]+)-([^-_/]+)_(.+)$")


def folder_symbol(value: str) -> str:
    """The symbol a store folder was named after (``BTC-USDT_USDT`` → ``BTC/USDT:USDT``)."""
    match = _FOLDER_SYMBOL.match(value)
    return f"{match.group(1)}/{match.group(2)}:{match.group(3)}" if match else value


def lower_bound_venues() -> set[str]:
    """Venues whose liquidations come from a stream that drops some (Binance: one per symbol per second)."""
    from liqheat.venues.registry import FEEDS

    return {name for name, feed in FEEDS.items() if feed.liquidations_lower_bound}


@dataclass
class Realized:
    """What the store holds of realized liquidations in [since, until)."""

    bucket: str
    since: pd.Timestamp
    until: pd.Timestamp
    totals: pd.DataFrame  # bucket, venue, symbol, side, usd, orders
    largest: pd.DataFrame  # ts, venue, symbol, side, usd, price
    lower_bound: list[str]
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def by(self, *keys: str) -> pd.DataFrame:
        """Totals grouped by ``keys`` (any of bucket, venue, symbol, side), long and short side by side,
        largest total first."""
        if self.totals.empty:
            return pd.DataFrame(columns=[*keys, "long_usd", "short_usd", "total_usd", "orders"])
        keys_ = [k for k in keys if k != "side"]
        frame = self.totals.pivot_table(index=keys_ or None, columns="side", values="usd", aggfunc="sum", fill_value=0.0)
        frame = frame.reindex(columns=["long", "short"], fill_value=0.0).rename(
            columns={"long": "long_usd", "short": "short_usd"}
        )
        frame.columns.name = None
        orders = self.totals.groupby(keys_)["orders"].sum() if keys_ else pd.Series([self.totals["orders"].sum()])
        frame["total_usd"] = frame["long_usd"] + frame["short_usd"]
        frame["orders"] = orders.to_numpy() if not keys_ else orders.reindex(frame.index).to_numpy()
        frame = frame.reset_index() if keys_ else frame.reset_index(drop=True)
        if "bucket" in keys_:
            return frame.sort_values([*keys_], kind="stable").reset_index(drop=True)
        return frame.sort_values("total_usd", ascending=False, kind="stable").reset_index(drop=True)

    def to_dict(self, top: int = 20) -> dict[str, Any]:
        """The JSON shape of the API and ``liqheat liquidations --json``."""

        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in frame.to_dict("records"):
                item: dict[str, Any] = {
                    str(k): (iso(v) if k in ("bucket", "ts") else round(v, 2) if isinstance(v, float) else v)
                    for k, v in rec.items()
                }
                if "orders" in item:
                    item["orders"] = int(item["orders"])
                out.append(item)
            return out

        return {
            "bucket": self.bucket,
            "since": iso(self.since),
            "until": iso(self.until),
            "lower_bound": self.lower_bound,
            "total": rows(self.by())[0] if not self.totals.empty else None,
            "venues": rows(self.by("venue")),
            "symbols": rows(self.by("venue", "symbol").head(top)),
            "symbols_total": int(self.totals[["venue", "symbol"]].drop_duplicates().shape[0]) if not self.totals.empty else 0,
            "series": rows(self.by("bucket", "venue")),
            "largest": rows(self.largest),
            "gaps": [{**g, "from": iso(g["from"]), "to": iso(g["to"])} for g in self.gaps],
        }


def _files(store: Store, kind: str) -> list[str]:
    return [str(f) for p in sorted((store.root / kind).glob("venue=*/symbol=*/timeframe=*/month=*/data.parquet"))
            for f in month_files(p.parent)]  # fmt: skip


def realized(
    store: Store,
    *,
    bucket: str = "1d",
    window: pd.Timedelta = WEEK,
    until: pd.Timestamp | None = None,
    venues: list[str] | None = None,
    symbols: list[str] | None = None,
    largest: int = 10,
) -> Realized:
    """Totals in the ``window`` that ends at ``until`` (default: just after the newest stored liquidation)."""
    import duckdb

    tries = 3
    while True:
        tries -= 1
        try:
            return _realized(store, bucket, window, until, venues, symbols, largest)
        except duckdb.IOException:  # a month folded by a follower meanwhile: its parts are gone, list the files again
            if not tries:
                raise


def _realized(
    store: Store, bucket: str, window: pd.Timedelta, until: pd.Timestamp | None, venues: list[str] | None,
    symbols: list[str] | None, largest: int,
) -> Realized:  # fmt: skip
    import duckdb

    if bucket not in BUCKETS:
        raise DomainError(f"bucket must be one of {', '.join(BUCKETS)}, got {bucket!r}")
    if largest < 0:
        raise DomainError(f"largest must be 0 or more, got {largest}")
    if window <= pd.Timedelta(0):
        raise DomainError(f"window must be positive, got {window}")
    files = _files(store, "liquidations")
    if not files:
        raise DomainError(f"no liquidations in the store {store.root} (import or follow some first)")
    source = "read_parquet(?, hive_partitioning = true, union_by_name = true)"
    where: list[str] = ["usd > 0"]
    params: list[Any] = []
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        if venues:
            where.append(f"venue IN ({', '.join('?' for _ in venues)})")
            params.extend(v.lower() for v in venues)
        if symbols:
            folders = [folder_value(s) for s in symbols]
            where.append(f"symbol IN ({', '.join('?' for _ in folders)})")
            params.extend(folders)
        filters = " AND ".join(where)
        if until is None:
            newest = con.sql(f"SELECT epoch_ms(max(ts)) FROM {source} WHERE {filters}", params=[files, *params]).fetchall()[0]
            if newest[0] is None:
                raise DomainError(f"no liquidations in the store {store.root} match {_what(venues, symbols)}")
            until = pd.Timestamp(int(newest[0]), unit="ms", tz="UTC").floor("s") + pd.Timedelta(seconds=1)
        until = until.tz_localize("UTC") if until.tzinfo is None else until.tz_convert("UTC")
        since = until - window
        span = [*params, since.to_pydatetime(), until.to_pydatetime()]
        filters += " AND ts >= ? AND ts < ?"
        totals = (
            con.sql(
                f"SELECT time_bucket(INTERVAL '{BUCKETS[bucket]}', ts) AS bucket, venue, symbol, side, sum(usd) AS usd, "
                f"count(*) AS orders FROM {source} WHERE {filters} GROUP BY ALL ORDER BY bucket, venue, symbol, side",
                params=[files, *span],
            )
            .to_arrow_table()
            .to_pandas()
        )
        top = (
            con.sql(
                f"SELECT ts, venue, symbol, side, usd, price FROM {source} WHERE {filters} AND price > 0 "
                f"ORDER BY usd DESC, ts LIMIT {int(largest)}",
                params=[files, *span],
            )
            .to_arrow_table()
            .to_pandas()
        )
        gaps = _gaps(con, store, since, until, venues, symbols)
    for frame in (totals, top):
        frame["symbol"] = frame["symbol"].map(folder_symbol)
        for column in ("bucket", "ts"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True)
    seen = set(totals["venue"])
    return Realized(
        bucket=bucket,
        since=since,
        until=until,
        totals=totals,
        largest=top,
        lower_bound=sorted(seen & lower_bound_venues()),
        gaps=gaps,
    )


def _what(venues: list[str] | None, symbols: list[str] | None) -> str:
    parts = [f"venue {', '.join(venues)}" if venues else "", f"symbol {', '.join(symbols)}" if symbols else ""]
    return " and ".join(p for p in parts if p) or "anything"


def _gaps(
    con: Any,
    store: Store,
    since: pd.Timestamp,
    until: pd.Timestamp,
    venues: list[str] | None,
    symbols: list[str] | None,
) -> list[dict[str, Any]]:
    """Stretches a follower's liquidation stream was down, overlapping [since, until), on ``realized``'s connection."""
    files = _files(store, "gaps")
    if not files:
        return []
    frame = (
        con.sql(
            "SELECT ts, until, venue, symbol, reason FROM read_parquet(?, hive_partitioning = true, union_by_name = true) "
            "WHERE stream = 'liquidations' AND ts < ? AND until > ? ORDER BY ts",
            params=[files, until.to_pydatetime(), since.to_pydatetime()],
        )
        .to_arrow_table()
        .to_pandas()
    )
    out = []
    for rec in frame.to_dict("records"):
        symbol = folder_symbol(str(rec["symbol"]))
        if (venues and rec["venue"] not in [v.lower() for v in venues]) or (symbols and symbol not in symbols):
            continue
        out.append(
            {
                "venue": rec["venue"],
                "symbol": symbol,
                "from": pd.Timestamp(rec["ts"]).tz_convert("UTC"),
                "to": pd.Timestamp(rec["until"]).tz_convert("UTC"),
                "reason": rec["reason"],
            }
        )
    return out
