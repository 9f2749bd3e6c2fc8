"""The market screen: every market ranked by its large clusters within reach (``liqheat screen``).

A market is screened from what names it (a bundle folder, or a store market: root, venue, symbol,
timeframe), so the one who reads it is the one who screens it: this process, or a Dask worker that sees the
same files (:mod:`liqheat.scale.screen`). Each market is a pure function of its files; the ranking is done
once all are in, so a cluster's screen is the one of this process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqheat.analytics.clusters import clusters_of
from liqheat.analytics.maps import market_map
from liqheat.bundle import Bundle
from liqheat.model import DomainError

RANKS = ("reach", "distance")
FIELDS = ("side", "peak_price", "distance_pct", "distance_atr", "hit_prob_24h", "expected_usd_24h")


@dataclass(frozen=True)
class Target:
    """A market to screen: a bundle ``folder``, or the ``store`` market of ``venue`` and ``symbol`` (as the venue or
    ccxt writes it: resolved where it is read)."""

    name: str
    folder: Path | None = None
    store: Path | None = None
    venue: str = ""
    symbol: str = ""
    timeframe: str = "1h"

    def bundle(self) -> Bundle:
        if self.folder is not None:
            from liqheat.bundle import read_bundle

            return read_bundle(self.folder)
        if self.store is None:
            raise DomainError(f"{self.name}: a target needs a bundle folder or a store", param="bundle")
        from liqheat.store.aggregate import Feed, aggregate
        from liqheat.store.parquet_store import Store
        from liqheat.venues.symbols import resolve

        feed = Feed(self.venue, resolve(self.symbol, self.venue))
        return aggregate(Store(self.store), [feed], self.timeframe).bundle


def store_targets(root: Path, timeframe: str) -> tuple[list[Target], list[str]]:
    """Every (venue, symbol) the store holds candles of ``timeframe`` for, and those whose symbol no venue knows."""
    from liqheat.store.aggregate import Feed
    from liqheat.venues.symbols import resolve

    targets, skipped = [], []
    for folder in sorted((root / "candles").glob(f"venue=*/symbol=*/timeframe={timeframe}")):
        venue = folder.parent.parent.name.split("=", 1)[1]
        symbol = folder.parent.name.split("=", 1)[1].replace("-", "/").replace("_", ":")
        try:
            label = Feed(venue, resolve(symbol, venue)).label
        except DomainError as exc:
            skipped.append(f"{venue} {symbol}: skipped ({exc})")
            continue
        targets.append(Target(label, store=root, venue=venue, symbol=symbol, timeframe=timeframe))
    return targets, skipped


def screen_bundle(name: str, bundle: Bundle, min_share: float = 0.05, rank: str = "reach") -> dict[str, Any]:
    """The market's row: its likeliest (``reach``) or nearest (``distance``) large cluster, a band holding at
    least ``min_share`` of its side; the row's cluster fields are None when it has none."""
    if rank not in RANKS:
        raise DomainError(f"rank must be reach or distance, got {rank!r}", param="rank")
    m = market_map(bundle, history_points=1)
    large = [c for c in clusters_of(m, top=None) if (c.side_share or 0.0) >= min_share]
    if not large:
        return dict.fromkeys(FIELDS) | {"market": name, "price": m.price, "notional_usd": 0.0}
    if rank == "reach":
        near = max(large, key=lambda c: (c.hit_prob_24h or 0.0, c.notional_usd))
    else:
        near = min(large, key=lambda c: abs(c.distance_atr or c.distance_pct))
    return {"market": name, "price": m.price, "notional_usd": near.notional_usd} | {f: getattr(near, f) for f in FIELDS}


def screen_target(target: Target, min_share: float = 0.05, rank: str = "reach") -> tuple[str, Any]:
    """``("row", row)``; ``("skip", why)`` for a market that cannot be screened (too short, a store market that
    does not aggregate); ``("fail", why)`` for a bundle folder that does not read (the asker named it)."""
    try:
        bundle = target.bundle()
    except DomainError as exc:
        return ("fail", str(exc)) if target.folder is not None else ("skip", f"{target.name}: skipped ({exc})")
    try:
        return "row", screen_bundle(target.name, bundle, min_share, rank)
    except DomainError as exc:
        return "skip", f"{target.name}: skipped ({exc})"


def ranked(rows: Iterable[dict[str, Any]], rank: str = "reach") -> list[dict[str, Any]]:
    """Rows likeliest first (``reach``) or nearest in ATRs first (``distance``); markets without one last."""
    if rank == "reach":
        return sorted(rows, key=lambda r: -(r["hit_prob_24h"] or 0.0) if r["side"] is not None else float("inf"))
    return sorted(rows, key=lambda r: abs(r["distance_atr"]) if r["distance_atr"] is not None else float("inf"))
