"""``liqheat onchain``: exact liquidation levels of on-chain positions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqheat.cli.common import app, console, emit_json, fail, price_text, usd
from liqheat.model import DomainError

onchain_app = typer.Typer(help="Exact liquidation levels of on-chain positions, whose balances are public.")
app.add_typer(onchain_app, name="onchain")


@onchain_app.command("aave-map")
def aave_map(
    snapshot: Annotated[Path, typer.Argument(help="An aave-v2-v3-wbtc-positions snapshot folder (Parquet files).")],
    asset: Annotated[str, typer.Option(help="The underlying whose price the map is drawn on: BTC or ETH.")] = "BTC",
    bands: Annotated[str, typer.Option(help="Band width: a percentage of the price (2%) or USD (1000).")] = "2%",
    depth: Annotated[str, typer.Option(help="How far the map reaches each way from the price.")] = "30%",
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="SYMBOL=USD for a debt the snapshot has no price for (WETH=1850), or BTC=… (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The exact levels of an Aave snapshot: what its positions' liquidations would seize per price band.

    Each position's liquidation price is solved in closed form from its health factor; the levels follow the
    calls liquidators may make as the price moves on (close factor, bonus). See liqheat.venues.aave.snapshot
    for what the shared snapshot lacks and what is assumed in its place.
    """
    from rich import box
    from rich.table import Table

    from liqheat.venues.aave.markets import parse_prices
    from liqheat.venues.aave.snapshot import snapshot_map

    try:
        snap, m = snapshot_map(snapshot, asset=asset, bands=bands, depth=depth, prices=parse_prices(price))
    except DomainError as exc:
        fail(exc)
    name = m.asset
    summary = {
        "market": snap.positions[0].market.name if snap.positions else None, "as_of": snap.as_of.date().isoformat(),
        "btc_collateral": snap.btc_collateral, "set_aside": snap.skipped, "unpriced_debts": snap.unpriced,
    }  # fmt: skip
    if as_json:
        emit_json({**m.to_dict(), **summary})
        return
    table = Table(
        title=f"Aave: {name} {price_text(m.price)} on {summary['as_of']}, {m.positions:,} positions, "
        f"{snap.btc_collateral:,.0f} BTC",
        header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
    )  # fmt: skip
    for col in ("band", "from", "long", name, "pos", "cum long", "short", "pos "):
        table.add_column(col, justify="right", no_wrap=True)
    reach = m.long_reach_usd
    for i in reversed(range(len(m.edges) - 1)):
        if not (m.long_usd[i] or m.short_usd[i]):
            continue
        mid = (m.edges[i] + m.edges[i + 1]) / 2
        table.add_row(
            f"{price_text(m.edges[i])}–{price_text(m.edges[i + 1])}", f"{(mid / m.price - 1) * 100:+.1f}%",
            usd(m.long_usd[i]), f"{m.long_amount[i]:,.1f}", f"{m.long_positions[i]:,}",
            usd(reach[i]) if m.edges[i] < m.price else "", usd(m.short_usd[i]), f"{m.short_positions[i]:,}",
        )  # fmt: skip
    console.print(table)
    console.print(f"long: {name} collateral seized as it falls; short: {name} debt repaid as it rises")
    for reason, accounts in snap.skipped.items():
        console.print(f"set aside: {accounts:,} accounts {reason}")
    if snap.unpriced:
        listed = ", ".join(f"{s} {n}" for s, n in list(snap.unpriced.items())[:4])
        more = f" and {len(snap.unpriced) - 4} more" if len(snap.unpriced) > 4 else ""
        console.print(f"unpriced debts: {listed}{more} (--price SYMBOL=USD)")
