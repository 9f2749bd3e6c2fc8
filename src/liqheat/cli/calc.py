"""``liqheat calc``: the exact liquidation price of one position."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from liqheat.cli.common import app, console, emit_json, fail
from liqheat.model import DomainError
from liqheat.venues.registry import RULES as VENUES

if TYPE_CHECKING:
    from liqheat.margin.calculator import Result


def _num(value: float, digits: int = 2) -> str:
    if not math.isfinite(value):
        return "∞"
    return f"{value:,.{digits}f}"


def _price_digits(price: float) -> int:
    return 2 if price >= 100 else 4 if price >= 1 else 8


def print_result(result: Result) -> None:
    from rich.markup import escape
    from rich.table import Table

    d = result.to_dict()
    digits = _price_digits(result.position.entry_price)
    settle = d["settle_currency"]
    side = d["side"]
    console.print(
        f"[bold]{result.venue.name}[/] {d['symbol']} ({d['contract']}, contract {d['contract_size']:g}"
        f"{' USD face value' if d['contract'] == 'inverse' else ' ' + d['symbol'].split('/')[0]}) · "
        f"{side} {d['size_contracts']:,.8g} contracts at {_num(d['entry_price'], digits)} · {d['leverage']:g}x {d['margin_mode']}"
    )
    if d["liquidatable"]:
        colour = "red" if side == "long" else "green"
        console.print(
            f"liquidation price [bold {colour}]{_num(d['liquidation_price'], digits)}[/] "
            f"({d['distance_pct']:+.2f}% from entry) · bankruptcy {_num(d['bankruptcy_price'], digits)}"
        )
    else:
        console.print("[bold green]no liquidation price[/]: the collateral covers any move")
    b = d["bracket"]
    cap = "∞" if b["cap"] is None else f"{b['cap']:,.0f}"
    console.print(
        f"bracket: tier {b['tier']} [{b['floor']:,.0f}, {cap}) {b['unit']} · MMR {b['mmr'] * 100:.3g}% · "
        f"maintenance amount {b['maint_amount']:,.8g} · max {b['max_leverage']:g}x"
    )
    console.print(
        f"maintenance margin {d['maintenance_margin']:,.8g} {settle} at the liquidation price · "
        f"initial margin {d['initial_margin']:,.8g} {settle} · collateral {d['collateral']:,.8g} {settle}"
        + (f" · fee rate {d['fee_rate'] * 100:.4g}%" if d["fee_rate"] else "")
    )
    if len(d["steps"]) > 1:
        table = Table(title="stepwise liquidation", show_edge=False, header_style="bold")
        for column in ("mark price", "closed", "left", "notional closed"):
            table.add_column(column, justify="right")
        for s in d["steps"]:
            table.add_row(
                _num(s["price"], digits),
                f"{s['contracts_closed']:,.6g}",
                f"{s['contracts_left']:,.6g}",
                _num(s["notional_closed"], 0),
            )
        console.print(table)
    for note in d["notes"]:
        console.print(f"[dim]· {escape(note)}[/]", highlight=False)
    console.print(f"[dim]· formula: {escape(d['formula_source'])}[/]", highlight=False)
    console.print(f"[dim]· table: {escape(d['table_source'][:160])} (as of {escape(d['table_as_of'])})[/]", highlight=False)


@app.command()
def calc(
    venue: Annotated[str, typer.Option(help=f"One of: {', '.join(VENUES)}.")],
    symbol: Annotated[str, typer.Option(help="BTC/USDT:USDT, BTCUSDT, BTCUSD_PERP, BTC-USDT-SWAP, BTC (Hyperliquid) ...")],
    side: Annotated[str, typer.Option(help="long or short.")],
    entry: Annotated[float, typer.Option(help="Entry price.")],
    leverage: Annotated[float, typer.Option(help="Leverage, e.g. 20.")],
    size: Annotated[
        float,
        typer.Option(help="Base-asset amount for linear contracts; number of contracts for inverse ones (face value per venue)."),
    ],
    margin_mode: Annotated[str, typer.Option("--margin-mode", help="isolated or cross.")] = "isolated",
    balance: Annotated[float | None, typer.Option(help="Cross margin: the account's wallet balance (settle currency).")] = None,
    margin: Annotated[
        float | None, typer.Option(help="Isolated margin: the position's margin if not entry notional ÷ leverage.")
    ] = None,
    fee_rate: Annotated[
        float | None, typer.Option("--fee-rate", help="Taker fee rate (OKX, Bybit); default: the venue's base rate.")
    ] = None,
    table_file: Annotated[
        Path | None, typer.Option("--table", help="A bracket-table JSON file to use instead of the shipped one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The exact liquidation price of one position (venue rules, tiered maintenance margin)."""
    mode = margin_mode.strip().lower()
    if mode == "cross" and balance is None:
        fail("--margin-mode cross needs --balance (the account's wallet balance)")
    if mode == "cross" and margin is not None:
        fail("--margin is for isolated positions; in cross mode give --balance")
    if mode == "isolated" and balance is not None:
        fail("--balance is for cross margin; for isolated positions give --margin")
    from liqheat.margin.tables import load_file
    from liqheat.venues.calc import calculate, position_from_inputs

    try:
        table = load_file(table_file) if table_file else None
        position, vt = position_from_inputs(
            venue,
            symbol,
            side,
            entry,
            leverage,
            size,
            margin_mode=mode,
            balance=balance if mode == "cross" else margin,
            table=table,
        )
        result = calculate(venue, position, table=vt, fee_rate=fee_rate)
    except DomainError as exc:
        fail(exc)
    if as_json:
        emit_json(result.to_dict())
    else:
        print_result(result)
