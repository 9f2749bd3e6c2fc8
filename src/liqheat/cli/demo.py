"""``liqheat demo``: the README's main job.

Until the synthetic market and the heatmap engine land (issues #3 and #4), the demo shows what
exists and needs no data from outside the package: every venue's published worked example
recomputed, the same position priced on every venue, and, given ``--bundle``, a bundle summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from liqheat.cli.app import app, console, fail
from liqheat.model import DomainError


@app.command()
def demo(
    bundle: Annotated[
        list[Path] | None, typer.Option("--bundle", help="Also validate and summarise these bundle folders.")
    ] = None,
) -> None:
    """Run what liqheat can do today on embedded data: published examples, venues compared, bundles."""
    from liqheat.bundle import read_bundle
    from liqheat.cli.summary import bundle_summary, print_bundle_summary
    from liqheat.margin.calculator import calculate, position_from_inputs
    from liqheat.margin.examples import EXAMPLES

    checks = Table(title="Published worked examples, recomputed", header_style="bold", show_lines=False)
    for column, justify in (("venue", "left"), ("example", "left"), ("published", "right"), ("liqheat", "right"), ("", "center")):
        checks.add_column(column, justify=justify)  # type: ignore[arg-type]
    failures = 0
    for example in EXAMPLES:
        price = example.run().liquidation_price
        ok = abs(price - example.published) <= example.tolerance
        failures += not ok
        checks.add_row(
            example.venue, example.title, f"{example.published:,.4f}", f"{price:,.4f}", "[green]✓[/]" if ok else "[red]✗[/]"
        )
    console.print(checks)

    compare = Table(title="Long and short, 1 BTC at 60,000, 20x isolated, on every venue", header_style="bold")
    for column in ("venue", "symbol", "long liq.", "short liq.", "tier", "MMR", "table as of"):
        compare.add_column(column, justify="left" if column in ("venue", "symbol") else "right")
    for venue_id, symbol, size in (
        ("binance", "BTCUSDT", 1.0),
        ("binance", "BTCUSD_PERP", 600.0),
        ("bybit", "BTCUSDT", 1.0),
        ("bybit", "BTCUSD", 60_000.0),
        ("okx", "BTC-USDT-SWAP", 1.0),
        ("hyperliquid", "BTC", 1.0),
    ):
        prices = []
        for side in ("long", "short"):
            position, vt = position_from_inputs(venue_id, symbol, side, 60_000, 20, size)
            result = calculate(venue_id, position, table=vt)
            prices.append(result)
        b = prices[0].solution.bracket
        compare.add_row(
            venue_id,
            prices[0].position.spec.market.unified,
            f"{prices[0].liquidation_price:,.2f}",
            f"{prices[1].liquidation_price:,.2f}",
            str(b.tier),
            f"{b.mmr * 100:.3g}%",
            prices[0].table.as_of,
        )
    console.print(compare)
    console.print(
        "[dim]Inverse sizes are contracts: 600 × 100 USD on Binance COIN-M, 60,000 × 1 USD on Bybit. "
        "Every venue triggers on its mark price, not the last trade.[/]"
    )

    for folder in bundle or []:
        try:
            print_bundle_summary(console, bundle_summary(read_bundle(folder)))
        except DomainError as exc:
            fail(str(exc))
    if failures:
        fail(f"{failures} published example(s) not reproduced")
    console.print("[bold green]All published examples reproduced.[/] Try: liqheat calc --help · liqheat info BUNDLE")
