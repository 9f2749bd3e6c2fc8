"""What price does after a liquidation cluster is swept, against random levels at the same distance.

Selection is causal: every ``every`` hours (candles closing on that grid, after a warm-up) the map after
candle t (:func:`liqheat.analytics.maps.market_map`) gives its ``top`` clusters per side within
``reach_atr`` ATRs of price (:func:`liqheat.analytics.clusters.clusters_of`): the map's largest bands
overall sit some 25 ATR away and are seldom reached within the horizon. Only what comes after is looked
at forward, on purpose:

- **swept**: the first candle after t, closing at most ``horizon`` later, whose low (a long band, below
  price) or high (a short band) reaches the band's *peak*. The peak, not an edge: it is where the map puts
  the band's densest notional and where its distance is measured; the bands are wide (several % on the
  shared bundles), so the far edge would ask for a trend, and the near edge is only the start of the band;
- **one event per side and sweep candle**: consecutive samples see the same band, and a candle that
  passes two peaks of one side has one outcome; the event keeps the first sample that saw a band swept
  at that candle (the earliest warning, the fullest horizon) and, within it, the largest such band;
- **outcome**: the close ``h`` hours after the sweep candle closes against that close, in %, signed so
  that positive is continuation (further down after a long-side sweep, further up after a short-side
  one) and negative a reversal.

The null: the same side and the same distance in ATR (the map's ATR of 14 hourly bars) from the close of a
random candle (not a sampled one: the cluster condition removed), followed over the same horizon.
Same time and same distance would be the cluster itself, so the time is what is drawn, ``nulls`` per
cluster, with a fixed seed. Intervals come from a moving-block bootstrap over calendar days: events of
one day move together, and blocks of ``block_days`` keep 24 h outcomes that straddle midnight together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from liqheat.analytics import maps
from liqheat.analytics.clusters import clusters_of
from liqheat.analytics.maps import market_map
from liqheat.bundle import Bundle
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import MarketView
from liqheat.engine.timeline import Timeline
from liqheat.model import DomainError

AFTER_HOURS = (1, 4, 24)
SIZE_GROUPS = ("small", "mid", "large")
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class SweepSettings:
    """How the study samples, follows and resamples (times in hours)."""

    horizon_hours: float = 72.0
    every_hours: float = 4.0
    warmup_hours: float = 168.0  # the map is thin before a week of open interest has built it
    top: int = 3
    reach_atr: float = 10.0  # clusters farther than this from price are not selected (inf: the whole map)
    after_hours: tuple[int, ...] = AFTER_HOURS
    nulls: int = 5
    seed: int = 0
    draws: int = 2000
    block_days: int = 3
    level: float = 0.95

    def __post_init__(self) -> None:
        checks = (
            (self.horizon_hours > 0, "horizon_hours", "must be > 0"),
            (self.every_hours > 0, "every_hours", "must be > 0"),
            (self.warmup_hours >= 0, "warmup_hours", "must be ≥ 0"),
            (self.top >= 1, "top", "must be ≥ 1"),
            (self.reach_atr > 0, "reach_atr", "must be > 0"),
            (len(self.after_hours) > 0 and min(self.after_hours) > 0, "after_hours", "must be > 0"),
            (self.nulls >= 1, "nulls", "must be ≥ 1"),
            (self.draws >= 100, "draws", "must be ≥ 100"),
            (self.block_days >= 1, "block_days", "must be ≥ 1"),
            (0.5 < self.level < 1, "level", "must be in (0.5, 1)"),
        )
        for ok, name, message in checks:
            if not ok:
                raise DomainError(f"{name} {message}", param=name)

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "after_hours": list(self.after_hours)}
        return {**out, "reach_atr": None if math.isinf(self.reach_atr) else self.reach_atr}


@dataclass(frozen=True)
class Study:
    """One bundle's sweeps: the clusters selected, their events and the matched random levels."""

    name: str
    selections: pd.DataFrame  # one row per cluster selected at a sampled candle, ``touched`` within the horizon
    null_touches: pd.DataFrame  # ``nulls`` rows per selection: sel, touched
    events: pd.DataFrame  # one row per side and sweep candle, with the signed returns ``ret_<h>h``
    null_events: pd.DataFrame  # the swept random levels matched to each event, with their returns
    samples: int  # candles sampled (some may have no cluster within reach)
    candles: int


def atr_pcts(view: MarketView) -> np.ndarray:
    """The map's ATR (:func:`liqheat.analytics.maps.atr_pcts`, 14 hourly bars) at every candle at once."""
    return maps.atr_pcts(view.open, view.high, view.low, view.close, pd.Timedelta(hours=view.timeframe_hours))


def first_cross(view: MarketView, starts: np.ndarray, levels: np.ndarray, long: np.ndarray, horizon_us: int) -> np.ndarray:
    """Index of the first candle after each start, closing within ``horizon_us`` of the start's close,
    whose low (``long``) or high reaches the level; -1 where none does."""
    starts = np.asarray(starts, dtype=np.int64)
    out = np.full(len(starts), -1, dtype=np.int64)
    if not len(starts):
        return out
    ends = np.searchsorted(view.ts, view.ts[starts] + horizon_us, side="right")  # candles j < end open by t + H
    width = int((ends - starts - 1).max())
    if width <= 0:
        return out
    n = len(view)
    for lo in range(0, len(starts), 4096):
        s, e, lv, lg = starts[lo : lo + 4096], ends[lo : lo + 4096], levels[lo : lo + 4096], long[lo : lo + 4096]
        j = s[:, None] + 1 + np.arange(width)[None, :]
        inside = j < e[:, None]
        jj = np.minimum(j, n - 1)
        hit = inside & np.where(lg[:, None], view.low[jj] <= lv[:, None], view.high[jj] >= lv[:, None])
        found = hit.any(axis=1)
        out[lo : lo + 4096] = np.where(found, s + 1 + hit.argmax(axis=1), -1)
    return out


def after_returns(view: MarketView, sweep: np.ndarray, long: np.ndarray, hours: Sequence[int]) -> dict[str, np.ndarray]:
    """Signed % return from each sweep candle's close to the last close ``h`` hours later (NaN past the data):
    positive = continuation of the sweep's move, negative = reversal."""
    closes_at = view.ts + step_us(view)
    sign = np.where(long, -1.0, 1.0)
    out: dict[str, np.ndarray] = {}
    for h in hours:
        target = closes_at[sweep] + h * HOUR_US
        k = np.searchsorted(closes_at, target, side="right") - 1
        ok = (sweep >= 0) & (target <= closes_at[-1])
        base = view.close[np.maximum(sweep, 0)]
        later = view.close[np.clip(k, 0, len(view) - 1)]
        out[f"ret_{h}h"] = np.where(ok, sign * (later / base - 1) * 100, np.nan)
    return out


def sample_candles(view: MarketView, settings: SweepSettings) -> np.ndarray:
    """Candles closing on the ``every`` grid (UTC), after the warm-up, whose whole horizon is in the data."""
    closes = view.ts + step_us(view)
    every = round(settings.every_hours * HOUR_US)
    on_grid = closes % every == 0
    warm = closes >= view.ts[0] + round(settings.warmup_hours * HOUR_US)
    complete = closes + round(settings.horizon_hours * HOUR_US) <= closes[-1]
    return np.flatnonzero(on_grid & warm & complete)


def select(bundle: Bundle, params: ModelParams, settings: SweepSettings, view: MarketView | None = None) -> pd.DataFrame:
    """The clusters of the map at every sampled candle: only what that map knows (no outcome)."""
    view = view or MarketView.from_bundle(bundle)
    samples = sample_candles(view, settings)
    columns = ["t", "side", "rank", "peak", "price_low", "price_high", "price", "notional_usd", "oi_usd", "size_oi",
               "distance_atr", "distance_pct", "atr_pct"]  # fmt: skip
    if not len(samples):
        return pd.DataFrame({c: pd.Series(dtype=object if c == "side" else float) for c in columns})
    every = max(1, int(np.median(np.diff(samples)))) if len(samples) > 1 else 1
    timeline = Timeline(view, params, checkpoint_every=max(every, math.ceil(len(view) / 48)), max_snapshots=1)
    rows: list[tuple[Any, ...]] = []
    for t in samples:
        m = market_map(bundle, params, index=int(t), timeline=timeline, history_points=0)
        oi = float(view.oi_after[t])
        ranks = {"long": 0, "short": 0}
        for c in clusters_of(m, top=None):
            if not abs(c.distance_atr or math.inf) <= settings.reach_atr or ranks[c.side] >= settings.top:
                continue
            ranks[c.side] += 1
            size = c.notional_usd / oi if oi > 0 else math.nan
            rows.append((int(t), c.side, ranks[c.side], c.peak_price, c.price_low, c.price_high, m.price, c.notional_usd,
                         oi, size, abs(c.distance_atr or math.nan), abs(c.distance_pct), m.atr_pct))  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"t": np.int64, "rank": np.int64})


def dedupe(swept: pd.DataFrame) -> pd.DataFrame:
    """One event per side and sweep candle: the first sample that saw it, the largest band of that sample."""
    ordered = swept.sort_values(["side", "sweep", "t", "rank"], kind="stable")
    return ordered.drop_duplicates(["side", "sweep"], keep="first").sort_values(["sweep", "side"], kind="stable")


def null_levels(
    view: MarketView, atr: np.ndarray, distance_atr: np.ndarray, long: np.ndarray, eligible: np.ndarray, k: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``k`` random (candle, level) per row: a candle drawn from ``eligible``, the level on the row's side at
    the row's distance in that candle's ATR from its close."""
    times = rng.choice(eligible, size=(len(distance_atr), k)).ravel()
    d = np.repeat(distance_atr, k) * atr[times] / 100
    levels = view.close[times] * np.where(np.repeat(long, k), 1 - d, 1 + d)
    return times, levels


def follow(view: MarketView, sel: pd.DataFrame, settings: SweepSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The selections with their first sweep (``sweep``, -1 for none; ``touched``), and the deduplicated
    events with hours to the sweep and the signed returns after it. ``day`` is the UTC day a statistic's
    block bootstrap puts a row in: the map's day for a selection, the sweep's for an event."""
    sel = sel.assign(sel=np.arange(len(sel)))
    t = sel["t"].to_numpy(np.int64)
    sel["sweep"] = first_cross(view, t, sel["peak"].to_numpy(np.float64), (sel["side"] == "long").to_numpy(),
                               round(settings.horizon_hours * HOUR_US))  # fmt: skip
    sel["touched"] = sel["sweep"] >= 0
    sel["day"] = (view.ts[t] + step_us(view)) // DAY_US
    sel["size_group"] = terciles(sel["size_oi"].to_numpy(np.float64))
    events = dedupe(sel[sel["touched"]]).reset_index(drop=True)
    events["event"] = np.arange(len(events))
    sweep = events["sweep"].to_numpy(np.int64)
    events["hours_to_sweep"] = (view.ts[sweep] - view.ts[events["t"].to_numpy(np.int64)]) / HOUR_US
    events["day"] = (view.ts[sweep] + step_us(view)) // DAY_US
    for key, values in after_returns(view, sweep, (events["side"] == "long").to_numpy(), settings.after_hours).items():
        events[key] = values
    return sel, events


def draw_nulls(
    view: MarketView, sel: pd.DataFrame, events: pd.DataFrame, settings: SweepSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``nulls`` random levels per selection (``sel``, ``t``, ``level``, ``touched``) and per event (the swept
    ones only: ``event``, ``t``, ``level``, ``sweep`` and the returns), drawn from candles after the
    warm-up whose whole horizon is in the data."""
    horizon, step, k = round(settings.horizon_hours * HOUR_US), step_us(view), settings.nulls
    rng = np.random.default_rng(settings.seed)
    atr = atr_pcts(view)
    closes = view.ts + step
    eligible = np.flatnonzero((closes >= view.ts[0] + round(settings.warmup_hours * HOUR_US)) & (closes + horizon <= closes[-1]))
    if not len(eligible):
        raise DomainError("no candle after the warm-up has its whole horizon in the bundle: shorten --warmup or --horizon")
    long = (sel["side"] == "long").to_numpy()
    times, levels = null_levels(view, atr, sel["distance_atr"].to_numpy(np.float64), long, eligible, k, rng)
    touches = pd.DataFrame({"sel": np.repeat(sel["sel"].to_numpy(), k), "t": times, "level": levels,
                            "touched": first_cross(view, times, levels, np.repeat(long, k), horizon) >= 0})  # fmt: skip
    ev_long = (events["side"] == "long").to_numpy()
    times, levels = null_levels(view, atr, events["distance_atr"].to_numpy(np.float64), ev_long, eligible, k, rng)
    null_long = np.repeat(ev_long, k)
    null_sweep = first_cross(view, times, levels, null_long, horizon)
    swept = null_sweep >= 0
    null_events = pd.DataFrame({"event": np.repeat(events["event"].to_numpy(), k)[swept], "t": times[swept],
                                "level": levels[swept], "sweep": null_sweep[swept]})  # fmt: skip
    for key, values in after_returns(view, null_sweep[swept], null_long[swept], settings.after_hours).items():
        null_events[key] = values
    return touches, null_events


def study(
    bundle: Bundle,
    params: ModelParams | None = None,
    settings: SweepSettings | None = None,
    name: str | None = None,
) -> Study:
    """Select, follow, deduplicate, and draw the null for one bundle."""
    params = params or ModelParams()
    settings = settings or SweepSettings()
    view = MarketView.from_bundle(bundle)
    if len(view) < 2:
        raise DomainError("the bundle needs at least two candles")
    sel, events = follow(view, select(bundle, params, settings, view), settings)
    touches, null_events = draw_nulls(view, sel, events, settings)
    return Study(
        name=name or (bundle.path.name if bundle.path is not None else bundle.meta.symbol),
        selections=sel,
        null_touches=touches,
        events=events,
        null_events=null_events,
        samples=len(sample_candles(view, settings)),
        candles=len(view),
    )


def step_us(view: MarketView) -> int:
    """The candle length in µs from the timeframe, not from the first two stamps (a bundle may start with a gap)."""
    return round(view.timeframe_hours * HOUR_US)


def terciles(values: np.ndarray) -> np.ndarray:
    """small / mid / large by the sample's own tercile cut points ("" where the value is missing)."""
    out = np.full(len(values), "", dtype=object)
    ok = np.isfinite(values)
    if not ok.any():
        return out
    lo, hi = np.quantile(values[ok], [1 / 3, 2 / 3])
    out[ok] = np.where(values[ok] <= lo, "small", np.where(values[ok] <= hi, "mid", "large"))
    return out


# ------------------------------------------------------------------------------------------ resampling


class Days:
    """A moving-block bootstrap over calendar days, shared by every statistic of one report.

    ``weights[b, d]`` is how often day ``d`` is in draw ``b``: blocks of ``block_days`` consecutive days,
    starts uniform, as many blocks as cover the span. A statistic is then a ratio of weighted day sums.
    """

    def __init__(self, first: int, last: int, settings: SweepSettings) -> None:
        self.first = first
        self.span = last - first + 1
        self.level = settings.level
        rng = np.random.default_rng(settings.seed + 1)
        block = min(settings.block_days, self.span)
        blocks = math.ceil(self.span / block)
        starts = rng.integers(0, self.span - block + 1, size=(settings.draws, blocks))
        days = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(settings.draws, -1)[:, : self.span]
        self.weights = np.zeros((settings.draws, self.span))
        np.add.at(self.weights, (np.arange(settings.draws)[:, None], days), 1.0)

    def sums(self, day: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-day sum and count of the finite values."""
        ok = np.isfinite(values)
        idx = np.asarray(day, dtype=np.int64)[ok] - self.first
        return (np.bincount(idx, values[ok], self.span), np.bincount(idx, minlength=self.span).astype(np.float64))

    def mean(self, day: np.ndarray, values: np.ndarray) -> tuple[float, np.ndarray, int]:
        """The mean, its bootstrap draws, and how many values it has."""
        s, c = self.sums(day, values)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (float(s.sum() / c.sum()) if c.sum() else math.nan), (self.weights @ s) / (self.weights @ c), int(c.sum())

    def interval(self, estimate: float, draws: np.ndarray, n: int | None = None) -> dict[str, Any]:
        tail = (1 - self.level) / 2 * 100
        finite = draws[np.isfinite(draws)]
        low, high = (float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))) if len(finite) else (
            math.nan, math.nan)  # fmt: skip
        out: dict[str, Any] = {"estimate": estimate, "low": low, "high": high}
        if n is not None:
            out["n"] = n
        return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ the report

GROUPS = ("all", "long side", "short side", "rank 1", "rank 2+", *(f"size/OI {g}" for g in SIZE_GROUPS))


def in_group(frame: pd.DataFrame, group: str) -> pd.Series:
    """Rows of ``frame`` (events, selections or their nulls, which carry their cluster's columns) in ``group``."""
    if group == "all":
        return pd.Series(True, index=frame.index)
    if group.endswith(" side"):
        return frame["side"] == group.split()[0]
    if group == "rank 1":
        return frame["rank"] == 1
    if group == "rank 2+":
        return frame["rank"] > 1
    return frame["size_group"] == group.split()[-1]


def report(studies: Sequence[Study], settings: SweepSettings) -> dict[str, Any]:
    """Continuation and touch statistics of one or more studies pooled, with intervals and the claims."""
    ev = pd.concat([s.events.assign(key=f"{i}:") for i, s in enumerate(studies)], ignore_index=True)
    ev["key"] = ev["key"] + ev["event"].astype(str)
    nul = pd.concat([s.null_events.assign(key=f"{i}:" + s.null_events["event"].astype(str)) for i, s in enumerate(studies)],
                    ignore_index=True)  # fmt: skip
    sel = pd.concat([s.selections.assign(key=f"{i}:" + s.selections["sel"].astype(str)) for i, s in enumerate(studies)],
                    ignore_index=True)  # fmt: skip
    ntouch = pd.concat([s.null_touches.assign(key=f"{i}:" + s.null_touches["sel"].astype(str)) for i, s in enumerate(studies)],
                       ignore_index=True)  # fmt: skip
    nul = nul.merge(ev[["key", "side", "rank", "size_group", "day"]], on="key", how="left")
    ntouch = ntouch.merge(sel[["key", "side", "rank", "size_group", "day"]], on="key", how="left")
    days = pd.concat([ev["day"], sel["day"]])
    if not len(days):
        return {"events": 0, "null_events": 0, "selections": 0, "groups": [], "touch": [], "claims": []}
    boot = Days(int(days.min()), int(days.max()), settings)

    def compare(a: pd.DataFrame, b: pd.DataFrame, column: str, f: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        ea, da, na = boot.mean(a["day"].to_numpy(), f(a[column].to_numpy(np.float64)))
        eb, db, nb = boot.mean(b["day"].to_numpy(), f(b[column].to_numpy(np.float64)))
        return {"cluster": boot.interval(ea, da, na), "null": boot.interval(eb, db, nb), "diff": boot.interval(ea - eb, da - db)}

    def rate(x: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(x), (x > 0).astype(np.float64), np.nan)

    def ident(x: np.ndarray) -> np.ndarray:
        return x

    groups = []
    for label in GROUPS:
        a, b = ev[in_group(ev, label)], nul[in_group(nul, label)]
        for h in settings.after_hours:
            col = f"ret_{h}h"
            groups.append({"group": label, "after_hours": h, "continuation": compare(a, b, col, rate),
                           "mean_pct": compare(a, b, col, ident)})  # fmt: skip
    touch = []
    for label in GROUPS:
        a, b = sel[in_group(sel, label)], ntouch[in_group(ntouch, label)]
        touch.append({"group": label, **compare(a, b, "touched", ident)})
    claims = judge(ev, nul, boot, settings, groups, touch)
    out: dict[str, Any] = _clean({"events": len(ev), "null_events": len(nul), "selections": len(sel), "groups": groups,
                                  "touch": touch, "claims": claims})  # fmt: skip
    return out


def direction(stat: dict[str, Any], level: float = 0.0) -> int | None:
    """+1 or -1 when the interval lies wholly above or below ``level``, 0 when it covers it, None without one."""
    low, high = stat.get("low"), stat.get("high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return 1 if low > level else -1 if high < level else 0


def _claim(claim: str, group: str, after: int | None, statistic: str, estimate: dict[str, Any],
           versus: dict[str, Any] | None, verdict: str, detail: str) -> dict[str, Any]:  # fmt: skip
    return {"claim": claim, "group": group, "after_hours": after, "statistic": statistic, "estimate": estimate,
            "versus_null": versus, "verdict": verdict, "detail": detail}  # fmt: skip


def judge(
    ev: pd.DataFrame, nul: pd.DataFrame, boot: Days, settings: SweepSettings, groups: list[dict[str, Any]],
    touch: list[dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    """The traders' claims, each with the statistic that tests it and what the intervals say.

    A verdict is ``supported`` or ``contradicted`` only when an interval excludes the no-effect value;
    otherwise ``not supported`` (no difference). A reversal claim needs both a continuation rate below 50 %
    and more reversal than at random levels at the same distance: reversal that any level shows is not a
    property of liquidation clusters.
    """
    by = {(g["group"], g["after_hours"]): g for g in groups}
    touched = {t["group"]: t for t in touch}
    out: list[dict[str, Any]] = []
    too_few = "too few events for an interval"

    def reversal(group: str, claim: str) -> None:
        for h in settings.after_hours:
            g = by[(group, h)]["continuation"]
            absolute, relative = direction(g["cluster"], 0.5), direction(g["diff"])
            if absolute is None or relative is None:
                verdict, detail = "not supported", too_few
            elif absolute < 0 and relative < 0:
                verdict, detail = "supported", "continuation below 50 % and below random levels"
            elif absolute > 0 or relative > 0:
                verdict = "contradicted"
                detail = "continuation above 50 %" if absolute > 0 else "more continuation than at random levels"
            elif absolute < 0:
                verdict, detail = "not supported", "reversal below 50 %, but no different from random levels"
            else:
                verdict = "not supported"
                detail = "no difference from 50 %" + (" nor from random levels" if relative == 0 else
                                                      ", less continuation than at random levels")  # fmt: skip
            out.append(_claim(claim, group, h, "continuation rate; cluster − null", g["cluster"], g["diff"], verdict, detail))

    reversal("rank 1", "price reverses after the largest cluster is swept (a liquidity grab)")
    reversal("long side", "after a long-side sweep price bounces")
    reversal("short side", "after a short squeeze (short-side sweep) price drops")
    for h in settings.after_hours:
        col = f"ret_{h}h"
        for label, a, b in (
            ("size/OI top − bottom tercile", ev[ev["size_group"] == "large"], ev[ev["size_group"] == "small"]),
            ("rank 1 − ranks 2+", ev[ev["rank"] == 1], ev[ev["rank"] > 1]),
        ):
            ea, da, _ = boot.mean(a["day"].to_numpy(), a[col].to_numpy(np.float64))
            eb, db, _ = boot.mean(b["day"].to_numpy(), b[col].to_numpy(np.float64))
            diff = boot.interval(ea - eb, da - db)
            d = direction(diff)
            verdict = {None: "not supported", 0: "not supported", -1: "supported", 1: "contradicted"}[d]
            detail = {None: too_few, 0: "no difference in mean signed return",
                      -1: "larger clusters: lower mean signed return (more reversal)",
                      1: "larger clusters: higher mean signed return (more continuation)"}[d]  # fmt: skip
            out.append(_claim("sweeps of larger clusters are followed by larger reversals", label, h,
                              "difference of mean signed return, %", diff, None, verdict, detail))  # fmt: skip
    for group in ("all", "rank 1", "size/OI large"):
        t = touched[group]
        d = direction(t["diff"])
        verdict = {None: "not supported", 0: "not supported", -1: "contradicted", 1: "supported"}[d]
        detail = {None: too_few, 0: "no difference from random levels at the same distance",
                  -1: "reached less often than random levels", 1: "reached more often than random levels"}[d]  # fmt: skip
        out.append(_claim("clusters are magnets: price reaches them more often than random levels at the same distance",
                          group, None, f"touch rate within {settings.horizon_hours:g} h; cluster − null", t["cluster"], t["diff"],
                          verdict, detail))  # fmt: skip
    return out


def sweeps(
    bundles: Sequence[Bundle],
    params: ModelParams | None = None,
    settings: SweepSettings | None = None,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The whole study: a report per bundle and, with several, pooled over calendar days."""
    params = params or ModelParams()
    settings = settings or SweepSettings()
    studies = []
    for i, bundle in enumerate(bundles):
        name = names[i] if names is not None else None
        s = study(bundle, params, settings, name=name)
        studies.append(s)
        if progress is not None:
            progress(s.name)
    per = [{"name": s.name, "candles": s.candles, "samples": s.samples, **report([s], settings)} for s in studies]
    return {
        "settings": settings.to_dict(),
        "params": params.to_dict(),
        "bundles": per,
        "pooled": report(studies, settings) if len(studies) > 1 else None,
    }
