"""The compiled heart: one candle step, and the loop that replays many. Pure numbers, no I/O.

State per side is a (price bin × leverage bucket) array of *stored* notional. The notional at risk
is ``stored × scale[leverage]``. Decay and proportional closing multiply the scales (O(buckets)),
never the bins, so a step costs O(bins the candle sweeps + entries × buckets). ``front`` holds the
highest bin that may hold long levels and the lowest that may hold short ones, so a sweep starts
where the last one left off.

Price bin b holds log-prices in [(k0 + b)·w, (k0 + b + 1)·w). The edges are absolute multiples of
the bin width, so how far the grid extends never changes which bin a price falls in: a grid sized
with later data must not move earlier predictions.

Ledger (``ledger`` array, cumulative, for conservation checks):
0 added to the map, 1 swept from the map, 2 opened and swept inside the same candle,
3 closed (open-interest decrease and turnover), 4 aged out.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from liqheat.engine.layout import LEDGER_SIZE, RENORM_BELOW

__all__ = ["LEDGER_SIZE", "RENORM_BELOW", "replay", "snapshot", "step"]


@njit(cache=True, nogil=True)
def _renorm(store: np.ndarray, scale: np.ndarray, k: int) -> None:
    g = scale[k]
    for b in range(store.shape[0]):
        store[b, k] *= g
    scale[k] = 1.0


@njit(cache=True, nogil=True)
def _bin(log_price: float, inv_bw: float, k0: int, n_bins: int) -> int:
    b = math.floor(log_price * inv_bw) - k0
    if b < 0:
        return 0
    if b >= n_bins:
        return n_bins - 1
    return b


@njit(cache=True, nogil=True)
def step(
    longs: np.ndarray,
    shorts: np.ndarray,
    g_long: np.ndarray,
    g_short: np.ndarray,
    tot_long: np.ndarray,
    tot_short: np.ndarray,
    front: np.ndarray,
    ledger: np.ndarray,
    k0: int,
    inv_bw: float,
    high: float,
    low: float,
    churn: float,
    net_new: float,
    close_frac: float,
    long_share: float,
    off_long: np.ndarray,
    off_short: np.ndarray,
    weights: np.ndarray,
    log_decay_per_hour: np.ndarray,
    dt_hours: float,
    intra_sweep: float,
    entry_points: int,
    decay_cache: np.ndarray,
    out: np.ndarray,
) -> None:
    """Advance one candle. ``out`` gets [swept long, swept short, intra long, intra short].

    Order: sweep what existed before the candle (its prediction), then close, then add the
    candle's entries, then age. Entries are ``churn`` (sized from data before the candle: traders
    opening and closing inside it) and ``net_new`` (the rise in open interest seen when it closes).
    Of the churn whose level the candle's range already crossed, ``intra_sweep`` is liquidated
    inside the candle and joins its prediction. Net new positions only enter the map, for later
    candles. ``decay_cache`` = [dt, factor per bucket…] spares an exp per bucket per candle.
    """
    n_bins = longs.shape[0]
    n_lev = longs.shape[1]
    log_low = math.log(low)
    log_high = math.log(high)

    swept_long = 0.0
    b_low = _bin(log_low, inv_bw, k0, n_bins)
    top = min(front[0], n_bins - 1)
    if top >= b_low:
        for b in range(b_low, top + 1):
            for k in range(n_lev):
                x = longs[b, k]
                if x != 0.0:
                    v = x * g_long[k]
                    swept_long += v
                    tot_long[k] -= v
                    longs[b, k] = 0.0
        front[0] = b_low - 1

    swept_short = 0.0
    b_high = _bin(log_high, inv_bw, k0, n_bins)
    bottom = max(front[1], 0)
    if bottom <= b_high:
        for b in range(bottom, b_high + 1):
            for k in range(n_lev):
                x = shorts[b, k]
                if x != 0.0:
                    v = x * g_short[k]
                    swept_short += v
                    tot_short[k] -= v
                    shorts[b, k] = 0.0
        front[1] = b_high + 1

    if close_frac > 0.0:
        keep = 1.0 - close_frac
        for k in range(n_lev):
            ledger[3] += (tot_long[k] + tot_short[k]) * close_frac
            g_long[k] *= keep
            g_short[k] *= keep
            tot_long[k] *= keep
            tot_short[k] *= keep
            if g_long[k] < RENORM_BELOW:
                _renorm(longs, g_long, k)
            if g_short[k] < RENORM_BELOW:
                _renorm(shorts, g_short, k)

    intra_long = 0.0
    intra_short = 0.0
    gross = churn + net_new
    if gross > 0.0:
        span = log_high - log_low
        short_share = 1.0 - long_share
        for j in range(entry_points):
            log_entry = log_low + span * (j + 0.5) / entry_points
            for k in range(n_lev):
                w = weights[k] / entry_points
                a = gross * w * long_share
                if a > 0.0:
                    level = log_entry + off_long[k]
                    if level >= log_low:
                        gone = churn * w * long_share * intra_sweep
                        intra_long += gone
                        a -= gone
                    b = _bin(level, inv_bw, k0, n_bins)
                    longs[b, k] += a / g_long[k]
                    tot_long[k] += a
                    ledger[0] += a
                    if b > front[0]:
                        front[0] = b
                s = gross * w * short_share
                if s > 0.0:
                    level = log_entry + off_short[k]
                    if level <= log_high:
                        gone = churn * w * short_share * intra_sweep
                        intra_short += gone
                        s -= gone
                    b = _bin(level, inv_bw, k0, n_bins)
                    shorts[b, k] += s / g_short[k]
                    tot_short[k] += s
                    ledger[0] += s
                    if b < front[1]:
                        front[1] = b

    if dt_hours > 0.0:
        if decay_cache[0] != dt_hours:
            decay_cache[0] = dt_hours
            for k in range(n_lev):
                decay_cache[k + 1] = math.exp(log_decay_per_hour[k] * dt_hours)
        for k in range(n_lev):
            f = decay_cache[k + 1]
            ledger[4] += (tot_long[k] + tot_short[k]) * (1.0 - f)
            g_long[k] *= f
            g_short[k] *= f
            tot_long[k] *= f
            tot_short[k] *= f
            if g_long[k] < RENORM_BELOW:
                _renorm(longs, g_long, k)
            if g_short[k] < RENORM_BELOW:
                _renorm(shorts, g_short, k)

    ledger[1] += swept_long + swept_short
    ledger[2] += intra_long + intra_short
    out[0] = swept_long
    out[1] = swept_short
    out[2] = intra_long
    out[3] = intra_short


@njit(cache=True, nogil=True)
def snapshot(
    longs: np.ndarray,
    shorts: np.ndarray,
    g_long: np.ndarray,
    g_short: np.ndarray,
    lev_mask: np.ndarray,
    group: int,
    row0: int,
    out_long: np.ndarray,
    out_short: np.ndarray,
) -> None:
    """Notional at risk per display bin (``group`` engine bins each), leverage buckets in ``lev_mask``: display
    rows ``row0 …`` as many as ``out_*`` hold, so a heatmap reads only the engine bins it shows."""
    n_bins = longs.shape[0]
    n_lev = longs.shape[1]
    n_out = out_long.shape[0]
    for i in range(n_out):
        out_long[i] = 0.0
        out_short[i] = 0.0
    for b in range(row0 * group, min(n_bins, (row0 + n_out) * group)):
        i = b // group - row0
        acc_l = 0.0
        acc_s = 0.0
        for k in range(n_lev):
            if lev_mask[k]:
                acc_l += longs[b, k] * g_long[k]
                acc_s += shorts[b, k] * g_short[k]
        out_long[i] += acc_l
        out_short[i] += acc_s


@njit(cache=True, nogil=True)
def replay(
    longs: np.ndarray,
    shorts: np.ndarray,
    g_long: np.ndarray,
    g_short: np.ndarray,
    tot_long: np.ndarray,
    tot_short: np.ndarray,
    front: np.ndarray,
    ledger: np.ndarray,
    k0: int,
    inv_bw: float,
    high: np.ndarray,
    low: np.ndarray,
    churn: np.ndarray,
    net_new: np.ndarray,
    close_frac: np.ndarray,
    long_share: np.ndarray,
    dt_hours: np.ndarray,
    off_long: np.ndarray,
    off_short: np.ndarray,
    weights: np.ndarray,
    log_decay_per_hour: np.ndarray,
    intra_sweep: float,
    entry_points: int,
    decay_cache: np.ndarray,
    predictions: np.ndarray,
    out: np.ndarray,
    frame_at: np.ndarray,
    lev_mask: np.ndarray,
    group: int,
    row0: int,
    frames_long: np.ndarray,
    frames_short: np.ndarray,
) -> None:
    """Replay candles in order: ``predictions[t]`` = [swept long, swept short, intra long, intra short].

    After candle ``frame_at[f]`` the map is written to ``frames_*[f]`` (the map as it stands at that
    candle's close, i.e. what the next candle will meet), display rows from ``row0`` (see :func:`snapshot`).
    """
    f = 0
    n_frames = frame_at.shape[0]
    for t in range(high.shape[0]):
        step(
            longs, shorts, g_long, g_short, tot_long, tot_short, front, ledger, k0, inv_bw,
            high[t], low[t], churn[t], net_new[t], close_frac[t], long_share[t], off_long, off_short, weights,
            log_decay_per_hour, dt_hours[t], intra_sweep, entry_points, decay_cache, out,
        )  # fmt: skip
        for i in range(4):
            predictions[t, i] = out[i]
        while f < n_frames and frame_at[f] == t:
            snapshot(longs, shorts, g_long, g_short, lev_mask, group, row0, frames_long[f], frames_short[f])
            f += 1
