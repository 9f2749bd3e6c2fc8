"""A bundle summary as plain data (for ``--json``) and as a rich table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liqheat.bundle import Bundle
from liqheat.timeutil import iso


def bundle_summary(bundle: Bundle) -> dict[str, Any]:
    meta = bundle.meta
    tables: dict[str, Any] = {}
    for name in ("candles", "open_interest", "funding", "liquidations"):
        frame = bundle.table(name)
        if frame is None or frame.empty:
            continue
        tables[name] = {"rows": len(frame), "first": iso(frame["ts"].iloc[0]), "last": iso(frame["ts"].iloc[-1])}
    candles = bundle.candles
    tables["candles"].update(
        low=float(candles["low"].min()), high=float(candles["high"].max()), last_close=float(candles["close"].iloc[-1])
    )
    tables["open_interest"].update(last_usd=float(bundle.open_interest["oi_usd"].iloc[-1]))
    liq = bundle.liquidations
    if liq is not None and not liq.empty:
        scored = liq if meta.score_from is None else liq[liq["ts"] >= meta.score_from]
        tables["liquidations"].update(
            long_usd=float(liq.loc[liq["side"] == "long", "usd"].sum()),
            short_usd=float(liq.loc[liq["side"] == "short", "usd"].sum()),
            scored_rows=len(scored),
            with_price=int(liq["price"].notna().sum()) if "price" in liq else 0,
        )
    return {
        "path": str(bundle.path) if bundle.path else None,
        "market": f"{meta.symbol} {meta.contract.value} ({meta.quote})",
        "timeframe": meta.timeframe,
        "venues": list(meta.venues),
        "source": meta.source,
        "score_from": iso(meta.score_from) if meta.score_from is not None else None,
        "liquidations_interval": meta.liquidations_interval,
        "tables": tables,
        "gaps": [
            {
                "table": g.table,
                "count": g.count,
                "missing_steps": g.missing_steps,
                "largest_hours": g.largest.total_seconds() / 3600,
                "largest_after": iso(g.largest_after) if g.largest_after is not None else None,
                "text": str(g),
            }
            for g in bundle.gaps
        ],
        "warnings": list(bundle.warnings),
    }


def print_bundle_summary(console: Console, summary: dict[str, Any]) -> None:
    venues = ", ".join(summary["venues"])
    console.print(f"[bold]{escape(summary['market'])}[/] · {escape(summary['timeframe'])} · venues {escape(venues)}")
    console.print(f"[dim]{escape(summary['source'])}[/]")
    table = Table(show_edge=False, header_style="bold")
    for column in ("table", "rows", "first", "last", "detail"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for name, t in summary["tables"].items():
        detail = ""
        if name == "candles":
            detail = f"low {t['low']:,.2f} · high {t['high']:,.2f} · last {t['last_close']:,.2f}"
        elif name == "open_interest":
            detail = f"last ${t['last_usd'] / 1e6:,.1f}M"
        elif name == "liquidations":
            detail = f"long ${t['long_usd'] / 1e6:,.1f}M · short ${t['short_usd'] / 1e6:,.1f}M · {t['scored_rows']} scored rows"
        table.add_row(name, f"{t['rows']:,}", t["first"], t["last"], detail)
    console.print(table)
    if summary["score_from"]:
        console.print(f"scoring from {summary['score_from']} in {summary['liquidations_interval']} buckets")
    for gap in summary["gaps"]:
        style = "yellow" if gap["count"] else "green"
        console.print(f"[{style}]{gap['text']}[/] (left as is: never interpolated)")
    for warning in summary["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
