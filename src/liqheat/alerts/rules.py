"""Alert rules: pure functions from what the analytics say about one market at one time (a :class:`Snapshot`)
and each rule's state to the alerts that fire and the rules' next states.

Nothing here reads a clock, a file or the network. A rule's state is a small JSON object kept per rule and
market (:mod:`liqheat.alerts.state` stores it in the transaction that stores the alerts it caused), so a
snapshot evaluated twice, or again after a restart, fires nothing new. An event's key is made of the data
alone (rule, market, side or direction, the price level, the time of the candle): the same event has the
same key in any process, which is what the outbox and a webhook receiver deduplicate on.

The rules (``kind``):

- ``near``: price within ``within_pct`` % (or ``within_atr`` ATRs) of a cluster's band, measured to its near edge
  (a long band's high, a short band's low: the first price at which its positions start to be liquidated, where
  :mod:`liqheat.analytics.reach` counts a band as reached; 0 inside the band), the cluster holding at least
  ``min_usd`` and, when given, expected to liquidate at least ``min_expected_usd`` within 24 h
  (:attr:`Cluster.expected_usd_24h`, the reach model). A trader's "within 1 % of a cluster" means the liquidations
  begin within 1 %: a wide band whose peak is 3 % away may start 0.5 % away. One alert per cluster: the band it
  fired for is kept and the rule re-arms for it only once price is farther from it than ``within × (1 + hysteresis)``.
- ``swept``: a cluster of at least ``min_usd`` in the map of the previous evaluation that the candles since
  crossed (a long band's low, a short band's high), with the liquidations the data recorded in the band next
  to the notional the map put there.
- ``cascade``: the cascade-risk index (notional liquidated within 1 % ÷ the book's depth within 1 %,
  :func:`liqheat.analytics.cascade.cascade_risk`) at or above ``above`` for a fall (``down``) or a rise
  (``up``); re-armed once below ``above ÷ (1 + hysteresis)``.
- ``open_interest``: open interest changed by ``change_pct`` % or more over ``window``; ``funding``: the
  funding rate changed by ``change_bps`` basis points or more over ``window``. Re-armed once the change is
  below ``threshold ÷ (1 + hysteresis)`` in that direction.
- ``stale``: the market's newest candle closed more than ``after`` timeframes before now: one alert per stale
  stretch (named by its last candle).

``cooldown`` (seconds): after a rule fires for a market (per side or direction), it keeps quiet there that
long; what it would have said meanwhile is said when the cooldown ends, if still true.

:meth:`Rule.reach` tells, from the clusters of the last evaluation, the prices where a new candle could make a rule
fire: a service evaluates first the markets whose candle came there (an alert waits for its own market, not for
every market whose candle closed at the same instant).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from liqheat.model import DomainError
from liqheat.textfmt import price_text, usd
from liqheat.timeutil import format_delta, format_seconds, iso, iso_exact

if TYPE_CHECKING:
    from liqheat.analytics.clusters import Cluster

State = dict[str, Any]  # JSON: str, float, bool, lists and objects of them
KINDS = ("near", "swept", "cascade", "open_interest", "funding", "stale")
SIDES = ("both", "long", "short")
DIRECTIONS = ("both", "down", "up")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DAY = 86_400.0

# Every rule parameter's range: (low, high, low included). The config (service/config.py) checks with these too.
LIMITS: dict[str, tuple[float, float, bool]] = {
    "cooldown": (0.0, 30 * DAY, True),
    "within_pct": (0.0, 100.0, False),
    "within_atr": (0.0, 1000.0, False),
    "min_usd": (0.0, 1e15, True),
    "min_expected_usd": (0.0, 1e15, True),
    "hysteresis": (0.0, 10.0, True),
    "above": (0.0, 1e6, False),
    "change_pct": (0.0, 1e6, False),
    "change_bps": (0.0, 1e4, False),
    "window": (60.0, 90 * DAY, True),
    "after": (1.0, 1e4, True),
}
DURATIONS = ("cooldown", "window")  # in seconds; written as durations (30m, 8h) in the config


def check_value(name: str, value: float | None) -> None:
    """Refuse a rule parameter outside :data:`LIMITS` (None: not given), naming it."""
    if value is None or name not in LIMITS:
        return
    low, high, closed = LIMITS[name]
    ok = isinstance(value, int | float) and math.isfinite(value) and (value >= low if closed else value > low) and value <= high
    if not ok and name in DURATIONS and isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        raise DomainError(
            f"{name} must be from {format_seconds(int(low))} to {format_seconds(int(high))}, got {format_seconds(round(value))}",
            param=name,
        )
    if not ok:
        bracket = "[" if closed else "("
        raise DomainError(f"{name} must be a number in {bracket}{low:g}, {high:g}], got {value!r}", param=name)


@dataclass(frozen=True)
class Snapshot:
    """What the analytics give about one market at one time: the input of every rule.

    Tables are the bundle's own (``ts`` ascending, UTC); rules read them only up to ``ts``. ``candles`` must
    reach back to the previous evaluation for ``swept``; ``open_interest`` and ``funding`` a ``window`` back.
    """

    market_id: str
    ts: pd.Timestamp  # the map's time: the close of its candle
    now: pd.Timestamp  # the wall clock of the evaluation (stale)
    price: float
    timeframe: pd.Timedelta
    last_close: pd.Timestamp  # the close of the market's newest candle
    clusters: tuple[Cluster, ...] = ()
    atr_pct: float | None = None
    risk: Mapping[str, float] | None = None  # cascade_risk(): "down" and "up"
    candles: pd.DataFrame | None = None  # ts (open), high, low
    open_interest: pd.DataFrame | None = None  # ts, oi_usd
    funding: pd.DataFrame | None = None  # ts, rate
    liquidations: pd.DataFrame | None = None  # ts, side, usd[, price]: realized; None when the data has none
    realized_from: pd.Timestamp | None = None  # liquidations are recorded from here on (the bundle's score_from)


@dataclass(frozen=True)
class Alert:
    """One event of one rule on one market; ``key`` names the event (stable across processes)."""

    key: str
    rule: str
    kind: str
    market_id: str
    ts: str  # ISO time of the data the alert speaks of
    title: str
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule": self.rule,
            "kind": self.kind,
            "market": self.market_id,
            "ts": self.ts,
            "title": self.title,
            "text": self.text,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Evaluation:
    alerts: list[Alert]
    states: dict[str, State]  # rule name → its next state (every rule that applied)


def usd_text(x: float) -> str:
    """``$52.3M``: a dollar amount in an alert (one decimal)."""
    return usd(x, 1)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _ts(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text)


def _level(x: float) -> str:
    return f"{x:.10g}"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What every rule has: a ``name`` unique in the config (part of every event key: renaming a rule starts
    its events afresh), the markets it watches (None: all), where its alerts go (None: everywhere) and its
    ``cooldown`` in seconds."""

    kind: ClassVar[str] = ""
    gated: ClassVar[bool] = True  # evaluated once per map (skips a snapshot no newer than the last one)
    name: str
    markets: tuple[str, ...] | None = None
    destinations: tuple[str, ...] | None = None
    cooldown: float = 3600.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise DomainError(f"name must be 1-64 letters, digits, '-', '_' or '.', got {self.name!r}", param="name")
        for f in fields(self):
            check_value(f.name, getattr(self, f.name))
        self.check()

    def check(self) -> None:
        """What a kind checks beyond :data:`LIMITS` (raises DomainError naming the parameter)."""

    def applies_to(self, market_id: str) -> bool:
        return self.markets is None or market_id in self.markets

    def evaluate(self, snap: Snapshot, state: Mapping[str, Any]) -> tuple[list[Alert], State]:
        """The alerts this snapshot fires and the rule's next state; ``state`` is left as it is."""
        last = _ts(state.get("last_ts"))
        if self.gated and last is not None and snap.ts <= last:
            return [], dict(state)
        alerts, new = self.fire(snap, state)
        if self.gated:
            new["last_ts"] = iso_exact(snap.ts)
        return alerts, new

    def fire(self, snap: Snapshot, state: Mapping[str, Any]) -> tuple[list[Alert], State]:
        raise NotImplementedError

    def reach(self, clusters: Sequence[Cluster], atr_pct: float | None) -> list[tuple[float, float]] | None:
        """The price ranges where the next candle could make this rule fire, judged on the clusters of the last
        evaluation (with their ATR in % of price); None when the rule cannot tell (any candle may)."""
        return None

    def key(self, snap: Snapshot, *parts: str) -> str:
        return "/".join((self.kind, self.name, snap.market_id, *parts))

    def quiet(self, state: Mapping[str, Any], group: str, ts: pd.Timestamp) -> bool:
        until = _ts(state.get("quiet_until", {}).get(group))
        return until is not None and ts < until

    def hush(self, quiet: dict[str, str], group: str, ts: pd.Timestamp) -> None:
        if self.cooldown > 0:
            quiet[group] = iso_exact(ts + pd.Timedelta(seconds=self.cooldown))

    def alert(self, snap: Snapshot, key: str, title: str, text: str, data: dict[str, Any]) -> Alert:
        return Alert(
            key=key,
            rule=self.name,
            kind=self.kind,
            market_id=snap.market_id,
            ts=iso(snap.ts),
            title=f"{snap.market_id}: {title}",
            text=f"{snap.market_id}: {text}",
            data=data,
        )


def edge_pct(price: float, low: float, high: float) -> float:
    """How far ``price`` is from the band [low, high], in % of price: to the nearer edge, 0 inside the band."""
    if low <= price <= high:
        return 0.0
    return min(abs(low / price - 1), abs(high / price - 1)) * 100


def _side_ok(rule_side: str, side: str) -> bool:
    return rule_side == "both" or rule_side == side


def _cluster_data(c: Cluster) -> dict[str, Any]:
    return {
        "side": c.side,
        "peak_price": c.peak_price,
        "price_low": c.price_low,
        "price_high": c.price_high,
        "notional_usd": c.notional_usd,
        "distance_pct": _num(c.distance_pct),
        "distance_atr": _num(c.distance_atr),
        "hit_prob_24h": _num(c.hit_prob_24h),
        "expected_usd_24h": _num(c.expected_usd_24h),
    }


@dataclass(frozen=True, kw_only=True)
class Near(Rule):
    """Price within reach of a large cluster (module docstring)."""

    kind: ClassVar[str] = "near"
    within_pct: float | None = None
    within_atr: float | None = None
    min_usd: float = 0.0
    min_expected_usd: float | None = None
    side: str = "both"
    hysteresis: float = 0.5

    def check(self) -> None:
        if (self.within_pct is None) == (self.within_atr is None):
            raise DomainError("give within_pct or within_atr (one of them)", param="within_pct")
        if self.side not in SIDES:
            raise DomainError(f"side must be one of {', '.join(SIDES)}, got {self.side!r}", param="side")

    @property
    def within(self) -> float:
        return self.within_pct if self.within_pct is not None else float(self.within_atr or 0.0)

    @property
    def unit(self) -> str:
        return "%" if self.within_pct is not None else "ATR"

    def distance(self, snap: Snapshot, low: float, high: float) -> float | None:
        """How far price is from the band [low, high] in the rule's unit (% or ATRs; None without an ATR): to its
        nearer edge, 0 inside it."""
        pct = edge_pct(snap.price, low, high)
        if self.within_pct is not None:
            return pct
        if snap.atr_pct is None or not (math.isfinite(snap.atr_pct) and snap.atr_pct > 0):
            return None
        return pct / snap.atr_pct

    def big_enough(self, c: Cluster) -> bool:
        if c.notional_usd < self.min_usd:
            return False
        return self.min_expected_usd is None or (c.expected_usd_24h or 0.0) >= self.min_expected_usd

    def reach(self, clusters: Sequence[Cluster], atr_pct: float | None) -> list[tuple[float, float]] | None:
        """Each large cluster's band widened by ``within`` (taken 1.5 times: the next map's ATR and bands move a
        little), without the expected-notional test (the next map's expectation may pass it)."""
        if self.within_pct is not None:
            pct = self.within_pct
        elif atr_pct is not None and math.isfinite(atr_pct) and atr_pct > 0:
            pct = float(self.within_atr or 0.0) * atr_pct
        else:
            return None
        w = min(1.5 * pct / 100, 0.99)
        return [(c.price_low / (1 + w), c.price_high / (1 - w)) for c in clusters
                if _side_ok(self.side, c.side) and c.notional_usd >= self.min_usd]  # fmt: skip

    def fire(self, snap: Snapshot, state: Mapping[str, Any]) -> tuple[list[Alert], State]:
        rearm = self.within * (1 + self.hysteresis)
        fired = []
        for f in state.get("fired", []):  # bands already alerted: kept until price has moved away beyond rearm
            d = self.distance(snap, f["low"], f["high"])
            if d is None or d <= rearm:
                fired.append(dict(f))
        quiet = dict(state.get("quiet_until", {}))
        alerts = []
        found = [
            (d, c)
            for c in snap.clusters
            if _side_ok(self.side, c.side) and self.big_enough(c)
            for d in [self.distance(snap, c.price_low, c.price_high)]
            if d is not None and d <= self.within
        ]
        for d, c in sorted(found, key=lambda dc: (dc[0], -dc[1].notional_usd)):
            same = any(
                f["side"] == c.side and (c.price_low <= f["peak"] <= c.price_high or f["low"] <= c.peak_price <= f["high"])
                for f in fired
            )
            if same or self.quiet({"quiet_until": quiet}, c.side, snap.ts):
                continue
            pct = edge_pct(snap.price, c.price_low, c.price_high)
            edge = c.price_high if c.side == "long" else c.price_low
            reach = f"{d:.2f} {self.unit}" if self.unit == "%" else f"{d:.2f} ATR ({pct:.2f} %)"
            text = (
                f"price {price_text(snap.price)} is {reach} from a {c.side} cluster of {usd_text(c.notional_usd)}: "
                f"its band {price_text(c.price_low)}–{price_text(c.price_high)} starts at {price_text(edge)}, "
                f"peaks at {price_text(c.peak_price)}"
            )
            if c.expected_usd_24h is not None and c.hit_prob_24h is not None:
                chance = f"{c.hit_prob_24h:.0%} chance of reaching it"
                text += f"; {usd_text(c.expected_usd_24h)} expected to liquidate within 24 h ({chance})"
            data = {"price": snap.price, **_cluster_data(c), "edge_price": edge, "distance": d, "within": self.within,
                    "unit": self.unit}  # fmt: skip
            key = self.key(snap, c.side, _level(c.peak_price), iso_exact(snap.ts))
            title = f"{c.side} cluster {usd_text(c.notional_usd)} at {price_text(c.peak_price)}, its band {pct:.2f} % away"
            alerts.append(self.alert(snap, key, title, text, data))
            fired.append({"side": c.side, "peak": c.peak_price, "low": c.price_low, "high": c.price_high})
            self.hush(quiet, c.side, snap.ts)
        return alerts, {"fired": fired, "quiet_until": quiet}


def realized_in_band(
    snap: Snapshot, side: str, low: float, high: float, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[float | None, str]:
    """Liquidations of ``side`` recorded in [start, end) with a price in [low, high] (all of the side's
    when the data gives no prices), and how they were counted; None where the data cannot say."""
    liq = snap.liquidations
    if liq is None:
        return None, "the data has no liquidations"
    if snap.realized_from is not None and start < snap.realized_from:
        return None, f"liquidations are recorded from {iso(snap.realized_from)} on"
    ts = liq["ts"]
    part = liq.iloc[int(ts.searchsorted(start, side="left")) : int(ts.searchsorted(end, side="left"))]
    part = part[part["side"] == side]
    if "price" in part and part["price"].notna().any():
        priced = part[part["price"].notna()]
        inside = priced[(priced["price"] >= low) & (priced["price"] <= high)]
        return float(inside["usd"].sum()), "orders priced in the band"
    return float(part["usd"].sum()), f"every {side} liquidation in the window (the data gives no prices)"


@dataclass(frozen=True, kw_only=True)
class Swept(Rule):
    """A cluster crossed since the last evaluation, with what was realized there (module docstring)."""

    kind: ClassVar[str] = "swept"
    min_usd: float = 0.0
    side: str = "both"

    def check(self) -> None:
        if self.side not in SIDES:
            raise DomainError(f"side must be one of {', '.join(SIDES)}, got {self.side!r}", param="side")

    def fire(self, snap: Snapshot, state: Mapping[str, Any]) -> tuple[list[Alert], State]:
        since = _ts(state.get("last_ts"))
        quiet = dict(state.get("quiet_until", {}))
        alerts = []
        if since is not None and snap.candles is not None and len(snap.candles):
            ts = snap.candles["ts"]
            lo, hi = int(ts.searchsorted(since, side="left")), int(ts.searchsorted(snap.ts, side="left"))
            lows = snap.candles["low"].to_numpy()[lo:hi]
            highs = snap.candles["high"].to_numpy()[lo:hi]
            for w in state.get("watch", []) if hi > lo else ():
                hits = (lows <= w["low"] if w["side"] == "long" else highs >= w["high"]).nonzero()[0]
                if not hits.size or self.quiet({"quiet_until": quiet}, w["side"], snap.ts):
                    continue
                at = ts.iloc[lo + int(hits[0])] + snap.timeframe  # the close of the candle that crossed it
                realized, basis = realized_in_band(snap, w["side"], w["low"], w["high"], since, snap.ts)
                band = f"{price_text(w['low'])}–{price_text(w['high'])}"
                text = f"price swept the {w['side']} cluster at {price_text(w['peak'])} ({band}) by {iso(at)}"
                text += f": the map put {usd_text(w['usd'])} there"
                text += (
                    f"; {usd_text(realized)} of {w['side']} liquidations recorded ({basis})"
                    if realized is not None
                    else f"; realized liquidations unknown ({basis})"
                )
                data = {
                    "side": w["side"],
                    "peak_price": w["peak"],
                    "price_low": w["low"],
                    "price_high": w["high"],
                    "predicted_usd": w["usd"],
                    "expected_usd_24h": w.get("expected"),
                    "realized_usd": realized,
                    "realized_basis": basis,
                    "swept_at": iso(at),
                    "since": iso(since),
                    "price": snap.price,
                }
                title = f"{w['side']} cluster {usd_text(w['usd'])} at {price_text(w['peak'])} swept"
                alerts.append(self.alert(snap, self.key(snap, w["side"], _level(w["peak"]), iso_exact(at)), title, text, data))
                self.hush(quiet, w["side"], snap.ts)
        watch = [
            {
                "side": c.side,
                "peak": c.peak_price,
                "low": c.price_low,
                "high": c.price_high,
                "usd": c.notional_usd,
                "expected": _num(c.expected_usd_24h),
            }
            for c in snap.clusters
            if _side_ok(self.side, c.side) and c.notional_usd >= self.min_usd
        ]
        return alerts, {"watch": watch, "quiet_until": quiet}

    def reach(self, clusters: Sequence[Cluster], atr_pct: float | None) -> list[tuple[float, float]] | None:
        """At or beyond a watched band's far edge: below a long band's low, above a short band's high."""
        return [(0.0, c.price_low) if c.side == "long" else (c.price_high, math.inf) for c in clusters
                if _side_ok(self.side, c.side) and c.notional_usd >= self.min_usd]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Threshold(Rule):
    """A number per direction crossing a threshold, armed again below ``threshold ÷ (1 + hysteresis)``."""

    direction: str = "both"
    hysteresis: float = 0.5

    def check(self) -> None:
        if self.direction not in DIRECTIONS:
            raise DomainError(f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}", param="direction")

    @property
    def threshold(self) -> float:
        raise NotImplementedError

    def values(self, snap: Snapshot) -> dict[str, float] | None:
        """Each direction's value (≥ 0: how far it went that way) and the figures behind them; None: unknown."""
        raise NotImplementedError

    def describe(self, snap: Snapshot, direction: str, value: float) -> tuple[str, str, dict[str, Any]]:
        raise NotImplementedError

    def fire(self, snap: Snapshot, state: Mapping[str, Any]) -> tuple[list[Alert], State]:
        armed = dict(state.get("armed", {}))
        quiet = dict(state.get("quiet_until", {}))
        values = self.values(snap)
        alerts = []
        if values is not None:
            for direction in ("down", "up") if self.direction == "both" else (self.direction,):
                value = values[direction]
                if not armed.get(direction, True) and value < self.threshold / (1 + self.hysteresis):
                    armed[direction] = True
                if (
                    armed.get(direction, True)
                    and value >= self.threshold
                    and not self.quiet({"quiet_until": quiet}, direction, snap.ts)
                ):
                    title, text, data = self.describe(snap, direction, value)
                    data |= {"direction": direction, "value": value, "threshold": self.threshold}
                    alerts.append(self.alert(snap, self.key(snap, direction, iso_exact(snap.ts)), title, text, data))
                    armed[direction] = False
                    self.hush(quiet, direction, snap.ts)
        return alerts, {"armed": armed, "quiet_until": quiet}


@dataclass(frozen=True, kw_only=True)
class CascadeRisk(Threshold):
    kind: ClassVar[str] = "cascade"
    above: float

    @property
    def threshold(self) -> float:
        return self.above

    def values(self, snap: Snapshot) -> dict[str, float] | None:
        if snap.risk is None:
            return None
        return {"down": float(snap.risk["down"]), "up": float(snap.risk["up"])}

    def describe(self, snap: Snapshot, direction: str, value: float) -> tuple[str, str, dict[str, Any]]:
        risk = snap.risk or {}
        side, book = ("long", "bid") if direction == "down" else ("short", "ask")
        at_risk = float(risk.get(f"{side}_within_1pct_usd", math.nan))
        depth = float(risk.get(f"{book}_depth_1pct_usd", math.nan))
        text = (
            f"cascade risk {value:.2f} for a {'fall' if direction == 'down' else 'rise'} (threshold {self.above:g}): "
            f"{usd_text(at_risk)} of {side}s liquidate within 1 % against {usd_text(depth)} of {book} depth"
        )
        data = {"price": snap.price, "at_risk_1pct_usd": _num(at_risk), "depth_1pct_usd": _num(depth)}
        return f"cascade risk {value:.2f} ({direction})", text, data


def value_at(frame: pd.DataFrame | None, column: str, at: pd.Timestamp) -> float | None:
    """The last finite ``column`` at or before ``at``; None when there is none."""
    if frame is None or not len(frame):
        return None
    i = int(frame["ts"].searchsorted(at, side="right")) - 1
    if i < 0:
        return None
    v = float(frame[column].iloc[i])
    return v if math.isfinite(v) else None


@dataclass(frozen=True, kw_only=True)
class OpenInterest(Threshold):
    kind: ClassVar[str] = "open_interest"
    change_pct: float
    window: float = 3600.0

    @property
    def threshold(self) -> float:
        return self.change_pct

    def change(self, snap: Snapshot) -> tuple[float, float, float] | None:
        now = value_at(snap.open_interest, "oi_usd", snap.ts)
        then = value_at(snap.open_interest, "oi_usd", snap.ts - pd.Timedelta(seconds=self.window))
        if now is None or then is None or then <= 0:
            return None
        return (now / then - 1) * 100, now, then

    def values(self, snap: Snapshot) -> dict[str, float] | None:
        found = self.change(snap)
        return None if found is None else {"up": max(found[0], 0.0), "down": max(-found[0], 0.0)}

    def describe(self, snap: Snapshot, direction: str, value: float) -> tuple[str, str, dict[str, Any]]:
        pct, now, then = self.change(snap) or (math.nan, math.nan, math.nan)
        span = format_seconds(round(self.window))
        text = f"open interest {pct:+.2f} % over {span}: {usd_text(then)} → {usd_text(now)} (threshold {self.change_pct:g} %)"
        return (
            f"open interest {pct:+.2f} % in {span}",
            text,
            {"change_pct": pct, "oi_usd": now, "oi_usd_before": then, "window_s": self.window},
        )


@dataclass(frozen=True, kw_only=True)
class Funding(Threshold):
    kind: ClassVar[str] = "funding"
    change_bps: float
    window: float = 8 * 3600.0

    @property
    def threshold(self) -> float:
        return self.change_bps

    def change(self, snap: Snapshot) -> tuple[float, float, float] | None:
        now = value_at(snap.funding, "rate", snap.ts)
        then = value_at(snap.funding, "rate", snap.ts - pd.Timedelta(seconds=self.window))
        if now is None or then is None:
            return None
        return (now - then) * 1e4, now, then

    def values(self, snap: Snapshot) -> dict[str, float] | None:
        found = self.change(snap)
        return None if found is None else {"up": max(found[0], 0.0), "down": max(-found[0], 0.0)}

    def describe(self, snap: Snapshot, direction: str, value: float) -> tuple[str, str, dict[str, Any]]:
        bps, now, then = self.change(snap) or (math.nan, math.nan, math.nan)
        span = format_seconds(round(self.window))
        text = f"funding {bps:+.2f} bp over {span}: {then * 100:.4f} % → {now * 100:.4f} % (threshold {self.change_bps:g} bp)"
        return (
            f"funding {bps:+.2f} bp in {span}",
            text,
            {"change_bps": bps, "rate": now, "rate_before": then, "window_s": self.window},
        )


@dataclass(frozen=True, kw_only=True)
class Stale(Rule):
    """The market's data stopped: its newest candle is older than ``after`` timeframes (module docstring)."""

    kind: ClassVar[str] = "stale"
    gated: ClassVar[bool] = False  # a stale market brings no new map: evaluated on every call
    after: float = 3.0

    def reach(self, clusters: Sequence[Cluster], atr_pct: float | None) -> list[tuple[float, float]] | None:
        return []  # a new candle makes data fresh, never stale

    def fire(self, snap: Snapshot, state: Mapping[str, Any]) -> tuple[list[Alert], State]:
        quiet = dict(state.get("quiet_until", {}))
        new: State = {"fired_for": state.get("fired_for"), "quiet_until": quiet}
        age = snap.now - snap.last_close
        if age <= self.after * snap.timeframe:
            return [], new
        last = iso_exact(snap.last_close)
        if state.get("fired_for") == last or self.quiet(state, "data", snap.now):
            return [], new
        minutes = age.total_seconds() / 60
        text = (
            f"no new candle for {minutes:,.0f} min: the newest closed at {iso(snap.last_close)} "
            f"(stale after {self.after:g} × {format_delta(snap.timeframe)})"
        )
        data = {
            "last_close": iso(snap.last_close),
            "age_s": age.total_seconds(),
            "after": self.after,
            "timeframe_s": snap.timeframe.total_seconds(),
            "now": iso(snap.now),
        }
        alert = Alert(
            key=self.key(snap, last),
            rule=self.name,
            kind=self.kind,
            market_id=snap.market_id,
            ts=iso(snap.now),
            title=f"{snap.market_id}: data stale since {iso(snap.last_close)}",
            text=f"{snap.market_id}: {text}",
            data=data,
        )
        self.hush(quiet, "data", snap.now)
        return [alert], {"fired_for": last, "quiet_until": quiet}


RULES: dict[str, type[Rule]] = {r.kind: r for r in (Near, Swept, CascadeRisk, OpenInterest, Funding, Stale)}


def evaluate(rules: Sequence[Rule], snap: Snapshot, states: Mapping[str, Mapping[str, Any]]) -> Evaluation:
    """Every rule that watches ``snap.market_id`` over the snapshot: the alerts in rule order, and each rule's
    next state (``states`` by rule name: what the last evaluation of this market left; missing: a fresh rule)."""
    alerts: list[Alert] = []
    out: dict[str, State] = {}
    for rule in rules:
        if not rule.applies_to(snap.market_id):
            continue
        fired, out[rule.name] = rule.evaluate(snap, states.get(rule.name, {}))
        alerts.extend(fired)
    return Evaluation(alerts, out)
