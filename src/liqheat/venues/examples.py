"""Worked examples the venues publish, with their inputs and published answers.

Each example fixes the maintenance tier it states (MMR and maintenance amount), so it checks the
formula itself, independent of today's tables. ``tolerance`` is what the publication's own rounding
allows (Hyperliquid's example prints inputs rounded to 6 decimals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from liqheat.margin.calculator import Result
from liqheat.margin.tables import VenueTable
from liqheat.model import Bracket, BracketTable, ContractSpec, MarginMode, Market, Position, Side
from liqheat.venues.calc import calculate


@dataclass(frozen=True, slots=True)
class Example:
    venue: str
    title: str
    source: str
    unified: str
    side: Side
    entry: float
    contracts: float
    leverage: float
    mmr: float
    published: float
    tolerance: float
    maint_amount: float = 0.0
    contract_size: float = 1.0
    margin: float | None = None
    margin_mode: MarginMode = MarginMode.ISOLATED
    fee_rate: float | None = None
    other_maintenance: float = 0.0
    other_upnl: float = 0.0

    def table(self) -> VenueTable:
        market = Market.parse_unified(self.unified)
        unit = market.settle
        bracket = Bracket(1, 0.0, math.inf, max(self.leverage, 1.0), self.mmr, self.maint_amount)
        table = BracketTable(self.venue.split("-")[0], market, unit, self.source, "published example", (bracket,))
        return VenueTable(table=table, spec=ContractSpec(market, self.contract_size), native_symbol=self.unified)

    def run(self) -> Result:
        vt = self.table()
        position = Position(
            spec=vt.spec,
            side=self.side,
            entry_price=self.entry,
            contracts=self.contracts,
            leverage=self.leverage,
            margin_mode=self.margin_mode,
            margin=self.margin,
        )
        return calculate(
            self.venue,
            position,
            table=vt,
            fee_rate=self.fee_rate,
            other_maintenance=self.other_maintenance,
            other_upnl=self.other_upnl,
        )


_BYBIT_CLASSIC = "https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract"
_BYBIT_UTA = "https://www.bybit.com/en/help-center/article/UTA-Trading-Rules-Liquidation-Process"
_BINANCE_USDM = (
    "https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-"
    "b3c689c1f50a44cabb3a84e663b81d93"
)

EXAMPLES: tuple[Example, ...] = (
    Example(
        venue="bybit-classic",
        title="1 BTC long at 20,000, 50x, MMR 0.5 %",
        source=_BYBIT_CLASSIC,
        unified="BTC/USDT:USDT",
        side=Side.LONG,
        entry=20_000,
        contracts=1,
        leverage=50,
        mmr=0.005,
        published=19_700,
        tolerance=1e-6,
    ),
    Example(
        venue="bybit-classic",
        title="1 BTC short at 20,000, 50x, +3,000 USDT margin added",
        source=_BYBIT_CLASSIC,
        unified="BTC/USDT:USDT",
        side=Side.SHORT,
        entry=20_000,
        contracts=1,
        leverage=50,
        mmr=0.005,
        margin=400 + 3_000,
        published=23_300,
        tolerance=1e-6,
    ),
    Example(
        venue="bybit-classic",
        title="1 BTC long at 20,000, 50x, 200 USDT funding taken from margin",
        source=_BYBIT_CLASSIC,
        unified="BTC/USDT:USDT",
        side=Side.LONG,
        entry=20_000,
        contracts=1,
        leverage=50,
        mmr=0.005,
        margin=400 - 200,
        published=19_900,
        tolerance=1e-6,
    ),
    Example(
        venue="bybit-classic",
        title="1 BTC long at 10,000, 50x, MMR 0.5 % (FAQ: 10,000 × (1 − 2 % + 0.5 %))",
        source="https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract (2020 FAQ wording)",
        unified="BTC/USDT:USDT",
        side=Side.LONG,
        entry=10_000,
        contracts=1,
        leverage=50,
        mmr=0.005,
        published=9_850,
        tolerance=1e-6,
    ),
    Example(
        venue="bybit-classic",
        title="1 BTC short at 8,000, 40x, MMR 0.5 % (FAQ: 8,000 × (1 + 2.5 % − 0.5 %))",
        source="https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract (2020 FAQ wording)",
        unified="BTC/USDT:USDT",
        side=Side.SHORT,
        entry=8_000,
        contracts=1,
        leverage=40,
        mmr=0.005,
        published=8_160,
        tolerance=1e-6,
    ),
    Example(
        venue="bybit",
        title="UTA: 1 BTC long at 40,000, 50x, +3,000 USDT margin, taker 0.055 %",
        source=_BYBIT_UTA,
        unified="BTC/USDT:USDT",
        side=Side.LONG,
        entry=40_000,
        contracts=1,
        leverage=50,
        mmr=0.005,
        margin=800 + 3_000,
        fee_rate=0.00055,
        published=36_380.25,
        tolerance=0.005,
    ),
    Example(
        venue="bybit",
        title="UTA inverse: short 30,000 USD of BTCUSD at 60,000, 10x",
        source=_BYBIT_UTA,
        unified="BTC/USD:BTC",
        side=Side.SHORT,
        entry=60_000,
        contracts=30_000,
        leverage=10,
        mmr=0.005,
        fee_rate=0.00055,
        published=66_333.33,
        tolerance=0.005,
    ),
    Example(
        venue="binance",
        title="Cross, ETHUSDT long 3,683.979 at 1,456.84 beside a BTCUSDT position (FAQ)",
        source=_BINANCE_USDM,
        unified="ETH/USDT:USDT",
        side=Side.LONG,
        entry=1_456.84,
        contracts=3_683.979,
        leverage=10,
        mmr=0.10,
        maint_amount=135_365,
        margin_mode=MarginMode.CROSS,
        margin=1_535_443.01,
        other_maintenance=71_200.81144,
        other_upnl=-56_354.57,
        published=1_153.26,
        tolerance=0.005,
    ),
    Example(
        venue="binance",
        title="Cross, BTCUSDT long 109.488 at 32,481.98 beside an ETHUSDT position (FAQ)",
        source=_BINANCE_USDM,
        unified="BTC/USDT:USDT",
        side=Side.LONG,
        entry=32_481.98,
        contracts=109.488,
        leverage=10,
        mmr=0.025,
        maint_amount=16_300,
        margin_mode=MarginMode.CROSS,
        margin=1_535_443.01,
        other_maintenance=356_512.508,
        other_upnl=-448_192.89,
        published=26_316.89,
        tolerance=0.005,
    ),
    Example(
        venue="binance",
        title="COIN-M BTCUSD long 100,000 contracts at 45,000, wallet 101 BTC, MMR 12.5 %, cum 11.81",
        source="https://dev.binance.vision/t/coin-margined-futures-liquidation-price-calculation-help-cm-variable/6292",
        unified="BTC/USD:BTC",
        side=Side.LONG,
        entry=45_000,
        contracts=100_000,
        contract_size=100,
        leverage=3,
        mmr=0.125,
        maint_amount=11.81,
        margin_mode=MarginMode.CROSS,
        margin=101,
        published=33_578.8597,
        tolerance=5e-4,
    ),
    Example(
        venue="hyperliquid",
        title="ETH isolated long 0.0335 at 2,986.3, max leverage 50 (API docs example)",
        source="https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals",
        unified="ETH/USDC:USDC",
        side=Side.LONG,
        entry=2_986.3,
        contracts=0.0335,
        leverage=20,
        mmr=1 / (2 * 50),
        margin=-95.059824 + 0.0335 * 2_986.3,
        published=2_866.26936529,
        tolerance=1e-3,
    ),
)
