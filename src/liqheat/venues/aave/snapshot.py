"""The shared snapshot of Aave positions with WBTC/cbBTC collateral (``aave-v2-v3-wbtc-positions``): read
in place into :class:`~.position.Position` records, and its recorded liquidations replayed against the model.

The snapshot comes from Messari's Aave subgraphs (see its PROVENANCE.md). What it does not say, and what we
assume in its place:

* ``btc_collateral_tokens`` is the account's WBTC + cbBTC collateral, repeated on each of its borrow rows and
  under each key it was found by. One key: that asset; both keys: counted as WBTC (same 78 % threshold, so
  only the bonus differs). Other collateral (ETH, stablecoins) is absent: an account with some has a
  higher health factor than we compute, so its levels come out too near. Those whose health factor is
  already below 1 at the snapshot price must hold such collateral (the pool would have liquidated
  them); they are set aside, not mapped.
* Borrow balances are as of each account's last event (no interest since). No e-mode is recorded: every BTC
  e-mode on Ethereum Core borrows only BTC assets, whose debt moves with the collateral, so an account with
  other debt is in none and one with BTC debt only has no BTC liquidation price in any category.
* Prices: BTC assets at the last ``btc_price_history`` row (daily), USD stablecoins at $1; others only when given.
* Only v3 rows are read: v2's current WBTC parameters are neither in the data nor shipped.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from liqheat.model import DomainError, Side
from liqheat.venues.aave.health import health_factor, solve
from liqheat.venues.aave.levels import LevelMap, band_edges, level_map, parse_bands, parse_fraction, position_levels
from liqheat.venues.aave.markets import ETHEREUM_V3, REFERENCE, UNDERLYING, USD_PEGGED, underlying
from liqheat.venues.aave.position import Holding, Market, Position

POSITIONS = "collateral_open_positions.parquet"
LIQUIDATIONS = "collateral_liquidations.parquet"
PRICES = "btc_price_history.parquet"

COLUMNS = {
    POSITIONS: ("account", "collateral_key", "version", "borrowed_symbol", "borrow_balance_tokens", "btc_collateral_tokens"),
    LIQUIDATIONS: ("timestamp", "collateral_key", "version", "liquidatee", "amount_tokens", "amount_usd"),
    PRICES: ("date", "btc_price_usd"),
}
KEYS = {"wbtc": "WBTC", "cbbtc": "cbBTC"}
BTC = UNDERLYING["BTC"]


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """One of the snapshot's files with the columns we read, or an error naming the file and what it lacks."""
    path = folder / name
    if not path.is_file():
        raise DomainError(f"{path}: not found (an aave-v2-v3-wbtc-positions snapshot folder holds {', '.join(COLUMNS)})")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DomainError(f"{path}: not a readable Parquet file ({exc})") from None
    missing = [c for c in COLUMNS[name] if c not in frame.columns]
    if missing:
        raise DomainError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame.reset_index(drop=True)


def _check_amounts(frame: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = ~(values.notna() & values.ge(0) & values.lt(math.inf))
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            value = frame[column].tolist()[row]
            raise DomainError(f"{path}: row {row}, column {column}: must be a number ≥ 0, got {value!r}")


def _check_keys(frame: pd.DataFrame, path: Path) -> None:
    bad = ~frame["collateral_key"].isin(list(KEYS))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DomainError(f"{path}: row {row}, column collateral_key: must be one of {', '.join(KEYS)}, "
                          f"got {frame['collateral_key'].iloc[row]!r}")  # fmt: skip


def btc_price_at_end(folder: Path) -> tuple[pd.Timestamp, float]:
    """The date and BTC price of the price history's last row: the snapshot's day."""
    prices = read_table(folder, PRICES)
    path = folder / PRICES
    if prices.empty:
        raise DomainError(f"{path}: no rows")
    last = prices.iloc[-1]
    price = float(last["btc_price_usd"])
    if not (math.isfinite(price) and price > 0):
        raise DomainError(f"{path}: row {len(prices) - 1}, column btc_price_usd: must be > 0, got {price!r}")
    return pd.Timestamp(last["date"]), price


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """Positions read from a snapshot folder, with the accounts set aside and why (reason → accounts)."""

    folder: Path
    as_of: pd.Timestamp
    btc_price: float
    positions: tuple[Position, ...]
    unhealthy: tuple[Position, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    unpriced: dict[str, int] = field(default_factory=dict)  # debt symbol without a price → accounts set aside for it

    @property
    def btc_collateral(self) -> float:
        return sum(h.amount for p in self.positions for h in p.collateral)


def read_snapshot(folder: Path, *, prices: Mapping[str, float] | None = None, market: Market = ETHEREUM_V3) -> Snapshot:
    """The snapshot's v3 accounts that hold BTC collateral, priced, under ``market``'s parameters. ``prices``
    (USD per token by symbol) adds to or overrides $1 stablecoins; ``BTC`` in it prices every BTC asset
    instead of the price history's last day."""
    folder = Path(folder)
    given = dict(prices or {})
    for symbol, value in given.items():
        if not (math.isfinite(value) and value > 0):
            raise DomainError(f"price of {symbol} must be a number > 0, got {value!r}", param="price")
    as_of, last_price = btc_price_at_end(folder)
    btc = given.pop("BTC", last_price)
    priced: dict[str, float] = {**dict.fromkeys(USD_PEGGED, 1.0), **dict.fromkeys(BTC, btc), **given}

    rows = read_table(folder, POSITIONS)
    path = folder / POSITIONS
    _check_amounts(rows, path, ("borrow_balance_tokens", "btc_collateral_tokens"))
    _check_keys(rows, path)
    rows = rows[rows["btc_collateral_tokens"] > 0]
    skipped: Counter[str] = Counter()
    for version, accounts in rows[rows["version"] != "V3"].groupby("version")["account"]:
        skipped[f"on {version} (its reserve parameters are not shipped)"] += accounts.nunique()
    rows = rows[rows["version"] == "V3"]
    has_wbtc = rows["account"].isin(rows.loc[rows["collateral_key"] == "wbtc", "account"])
    rows = rows[(rows["collateral_key"] == "wbtc") | ~has_wbtc]
    unpriced: Counter[str] = Counter()
    positions: list[Position] = []
    unhealthy: list[Position] = []
    for account, own in rows.groupby("account", sort=True):
        symbols = own["borrowed_symbol"].tolist()
        missing = sorted({s for s in symbols if s not in priced})
        if missing:
            unpriced.update(missing)
            skipped["with debt in an asset without a price"] += 1
            continue
        debt: dict[str, float] = {}
        for symbol, amount in zip(symbols, own["borrow_balance_tokens"].tolist(), strict=True):
            debt[symbol] = debt.get(symbol, 0.0) + float(amount)
        key = str(own["collateral_key"].iloc[0])
        position = Position(str(account), market, (Holding(KEYS[key], float(own["btc_collateral_tokens"].iloc[0]), btc),),
                            tuple(Holding(s, a, priced[s]) for s, a in sorted(debt.items())))  # fmt: skip
        (positions if health_factor(position) >= 1 else unhealthy).append(position)
    if unhealthy:
        skipped["with HF < 1 at the snapshot price (collateral it lacks)"] += len(unhealthy)
    return Snapshot(folder, as_of, btc, tuple(positions), tuple(unhealthy), dict(skipped), dict(unpriced.most_common()))


@dataclass(frozen=True, slots=True)
class Replayed:
    """A recorded liquidation against the model: the position just before it (the snapshot's, with this and
    every later liquidation undone), its health factor at the liquidation's price and its model liquidation price."""

    account: str
    time: pd.Timestamp
    price: float
    seized_btc: float
    repaid_usd: float
    health_factor: float
    liquidation_price: float | None

    @property
    def agrees(self) -> bool:
        """The liquidation happened at or past the model's liquidation price (HF ≤ 1 there)."""
        return self.health_factor <= 1.0


@dataclass(frozen=True, slots=True, eq=False)
class LiquidationCheck:
    replayed: tuple[Replayed, ...]
    skipped: dict[str, int]

    @property
    def share(self) -> float:
        return sum(r.agrees for r in self.replayed) / len(self.replayed) if self.replayed else math.nan


def _undo(position: Position, seized_btc: float, repaid_usd: float) -> Position:
    """``position`` before a liquidation that seized ``seized_btc`` (its BTC holding) and repaid ``repaid_usd``.
    The debt asset is not recorded: it comes back as USD debt (most of these accounts owe stablecoins)."""
    coll = position.collateral[0]
    debts = {h.asset: h for h in position.debt}
    usd = debts.get("USD")
    back = Holding("USD", (usd.amount if usd else 0.0) + repaid_usd, 1.0)
    return Position(position.account, position.market, (Holding(coll.asset, coll.amount + seized_btc, coll.price),),
                    (*(h for h in position.debt if h.asset != "USD"), back), position.emode)  # fmt: skip


def check_liquidations(snapshot: Snapshot, *, since: pd.Timestamp | None = None) -> LiquidationCheck:
    """Replay the snapshot's recorded v3 liquidations of the accounts it maps, newest first, undoing each on
    the way back: the seized collateral returns, and the debt it repaid (seized ÷ (bonus − (bonus − 1) × fee)
    at the liquidation's price, since the event records what the liquidator received, net of the treasury's
    fee). A liquidation agrees with the model when the position so rebuilt had HF ≤ 1 at the price it was
    liquidated at (``amount_usd ÷ amount_tokens``, the subgraph's oracle price). It cannot agree when the
    account changed between the liquidation and the snapshot other than by liquidations (repaid, withdrew,
    supplied) or holds collateral the snapshot lacks."""
    frame = read_table(snapshot.folder, LIQUIDATIONS)
    path = snapshot.folder / LIQUIDATIONS
    _check_amounts(frame, path, ("amount_tokens", "amount_usd"))
    _check_keys(frame, path)
    frame = frame[frame["version"] == "V3"]
    frame = frame.assign(time=pd.to_datetime(frame["timestamp"], unit="s", utc=True))
    if since is not None:
        frame = frame[frame["time"] >= since]
    by_account = {p.account: p for p in snapshot.positions}
    skipped: Counter[str] = Counter()
    mapped = frame["liquidatee"].isin(list(by_account))
    skipped["account not in the mapped positions (closed, fully liquidated or set aside)"] += int((~mapped).sum())
    frame = frame[mapped]
    zero = (frame["amount_tokens"] <= 0) | (frame["amount_usd"] <= 0)
    skipped["no amount or no USD value recorded"] += int(zero.sum())
    frame = frame[~zero]

    out: list[Replayed] = []
    moved = BTC
    for account, own in frame.groupby("liquidatee", sort=True):
        position = by_account[str(account)]
        own = own.sort_values("timestamp", ascending=False)
        columns = (own[c].tolist() for c in ("time", "collateral_key", "amount_tokens", "amount_usd"))
        for time, key, tokens, value in zip(*columns, strict=True):
            price = float(value) / float(tokens)
            reserve = position.market.reserve(KEYS[str(key)])
            bonus = reserve.liquidation_bonus
            base = float(tokens) / (bonus - (bonus - 1) * reserve.protocol_fee)
            position = _undo(position, base * bonus, base * price)
            trigger = solve(position, moved)
            at = trigger.scale * snapshot.btc_price if trigger.crosses else None
            hf = health_factor(position, moved, price / snapshot.btc_price)
            out.append(Replayed(str(account), pd.Timestamp(time), price, base * bonus, base * price, hf, at))
    return LiquidationCheck(tuple(sorted(out, key=lambda r: r.time)), {k: v for k, v in skipped.items() if v})


def _reference(snap: Snapshot, name: str, prices: Mapping[str, float] | None) -> float:
    """The price of underlying ``name`` on the snapshot's day: BTC's from the snapshot, ETH's from ``prices``."""
    reference = snap.btc_price if name == "BTC" else (prices or {}).get(REFERENCE[name])
    if reference is None:
        raise DomainError(f"a map on {name} needs the price of {REFERENCE[name]}: give {REFERENCE[name]}=USD", param="price")
    return reference


def snapshot_map(
    folder: Path, *, asset: str = "BTC", bands: str = "2%", depth: str = "30%", prices: Mapping[str, float] | None = None
) -> tuple[Snapshot, LevelMap]:
    """The snapshot's positions and their exact level map on ``asset`` (``BTC``, or ``ETH`` with a WETH price in
    ``prices``), in bands ``bands`` wide (``2%`` of the price or USD) reaching ``depth`` (``30%``) each way."""
    group = underlying(asset)
    name = asset.strip().upper()
    snap = read_snapshot(folder, prices=prices)
    reference = _reference(snap, name, prices)
    edges = band_edges(reference, parse_bands(bands, reference), parse_fraction(depth, "depth"))
    return snap, level_map(snap.positions, group, reference, edges, asset=name)


@dataclass(frozen=True, slots=True, eq=False)
class SnapshotLevels:
    """Every liquidation call of a snapshot's positions on ``asset`` within reach, one row per call: its price,
    whether it seizes the asset's collateral as the price falls (long) or repays its debt as it rises (short),
    and its USD (what the call takes on this axis)."""

    snapshot: Snapshot
    asset: str
    price: npt.NDArray[np.float64]
    long: npt.NDArray[np.bool_]
    usd: npt.NDArray[np.float64]


def snapshot_levels(
    folder: Path, *, asset: str = "BTC", reach: tuple[float, float] = (0.2, 5.0), prices: Mapping[str, float] | None = None
) -> SnapshotLevels:
    """The calls of every position of the snapshot at ``folder`` while ``asset`` stays within ``reach`` × its price
    on the snapshot's day (:func:`snapshot_map` sums the same calls into bands)."""
    group = underlying(asset)
    name = asset.strip().upper()
    snap = read_snapshot(folder, prices=prices)
    reference = _reference(snap, name, prices)
    low, high = reach[0] * reference, reach[1] * reference
    calls = [lv for p in snap.positions for lv in position_levels(p, group, reference, low=low, high=high)]
    return SnapshotLevels(
        snap, name, np.array([c.price for c in calls], dtype=np.float64),
        np.array([c.side is Side.LONG for c in calls], dtype=np.bool_), np.array([c.usd for c in calls], dtype=np.float64),
    )  # fmt: skip
