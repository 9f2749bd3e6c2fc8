"""The compiled heart: one candle step, and the loop that replays many. Pure numbers, no I/O.

State per side is a (price bin × leverage bucket) array of *stored* notional. The notional at risk
is ``stored × scale[leverage]``. Decay and proportional closing multiply the scales (O(buckets)),
never the bins, so a step costs O(bins the candle sweeps + entries × buckets). ``front`` holds the
highest bin that may hold long levels and the lowest that may hold short ones, so a sweep starts
where the last one left off.

Ledger (``ledger`` array, cumulative, for conservation checks):
0 added to the map, 1 swept from the map, 2 opened and swept inside the same candle,
3 closed (open-interest decrease and turnover), 4 aged out.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

RENORM_BELOW = 1e-150
LEDGER_SIZE = 5


@njit(cache=True, nogil=True)
def _renorm(store: np.ndarray, scale: np.ndarray, k: int) -> None:
    g = scale[k]
    for b in range(store.shape[0]):
        store[b, k] *= g
    scale[k] = 1.0


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
    grid_lo: float,
    inv_bw: float,
    high: float,
    low: float,
    gross: float,
    close_frac: float,
    long_share: float,
    off_long: np.ndarray,
    off_short: np.ndarray,
    weights: np.ndarray,
    log_decay_per_hour: np.ndarray,
    dt_hours: float,
    intra_sweep: float,
    entry_points: int,
    out: np.ndarray,
) -> None:
    """Advance one candle. ``out`` gets [swept long, swept short, intra long, intra short].

    Order: sweep what existed before the candle (its prediction), then close, then add the
    candle's entries (sweeping inside the candle those whose level the range already crossed),
    then age.
    """
    n_bins = longs.shape[0]
    n_lev = longs.shape[1]
    log_low = math.log(low)
    log_high = math.log(high)

    swept_long = 0.0
    b_low = math.floor((log_low - grid_lo) * inv_bw)
    if b_low < 0:
        b_low = 0
    top = front[0]
    if top >= n_bins:
        top = n_bins - 1
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
    b_high = math.floor((log_high - grid_lo) * inv_bw)
    if b_high >= n_bins:
        b_high = n_bins - 1
    bottom = front[1]
    if bottom < 0:
        bottom = 0
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
    if gross > 0.0:
        span = log_high - log_low
        for j in range(entry_points):
            log_entry = log_low + span * (j + 0.5) / entry_points
            for k in range(n_lev):
                amount = gross * weights[k] / entry_points
                a = amount * long_share
                if a > 0.0:
                    level = log_entry + off_long[k]
                    if level >= log_low:
                        intra_long += a * intra_sweep
                        a *= 1.0 - intra_sweep
                    b = math.floor((level - grid_lo) * inv_bw)
                    if b < 0:
                        b = 0
                    elif b >= n_bins:
                        b = n_bins - 1
                    longs[b, k] += a / g_long[k]
                    tot_long[k] += a
                    ledger[0] += a
                    if b > front[0]:
                        front[0] = b
                s = amount - amount * long_share
                if s > 0.0:
                    level = log_entry + off_short[k]
                    if level <= log_high:
                        intra_short += s * intra_sweep
                        s *= 1.0 - intra_sweep
                    b = math.floor((level - grid_lo) * inv_bw)
                    if b < 0:
                        b = 0
                    elif b >= n_bins:
                        b = n_bins - 1
                    shorts[b, k] += s / g_short[k]
                    tot_short[k] += s
                    ledger[0] += s
                    if b < front[1]:
                        front[1] = b

    if dt_hours > 0.0:
        for k in range(n_lev):
            f = math.exp(log_decay_per_hour[k] * dt_hours)
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
    out_long: np.ndarray,
    out_short: np.ndarray,
) -> None:
    """Notional at risk per display bin (``group`` engine bins each), leverage buckets in ``lev_mask``."""
    n_bins = longs.shape[0]
    n_lev = longs.shape[1]
    for i in range(out_long.shape[0]):
        out_long[i] = 0.0
        out_short[i] = 0.0
    for b in range(n_bins):
        i = b // group
        if i >= out_long.shape[0]:
            break
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
    grid_lo: float,
    inv_bw: float,
    high: np.ndarray,
    low: np.ndarray,
    gross: np.ndarray,
    close_frac: np.ndarray,
    long_share: np.ndarray,
    dt_hours: np.ndarray,
    off_long: np.ndarray,
    off_short: np.ndarray,
    weights: np.ndarray,
    log_decay_per_hour: np.ndarray,
    intra_sweep: float,
    entry_points: int,
    predictions: np.ndarray,
    frame_at: np.ndarray,
    lev_mask: np.ndarray,
    group: int,
    frames_long: np.ndarray,
    frames_short: np.ndarray,
) -> None:
    """Replay candles in order: ``predictions[t]`` = [swept long, swept short, intra long, intra short].

    After candle ``frame_at[f]`` the map is written to ``frames_*[f]`` (the map as it stands at that
    candle's close, i.e. what the next candle will meet).
    """
    out = np.zeros(4)
    f = 0
    n_frames = frame_at.shape[0]
    for t in range(high.shape[0]):
        step(
            longs, shorts, g_long, g_short, tot_long, tot_short, front, ledger, grid_lo, inv_bw,
            high[t], low[t], gross[t], close_frac[t], long_share[t], off_long, off_short, weights,
            log_decay_per_hour, dt_hours[t], intra_sweep, entry_points, out,
        )  # fmt: skip
        for i in range(4):
            predictions[t, i] = out[i]
        while f < n_frames and frame_at[f] == t:
            snapshot(longs, shorts, g_long, g_short, lev_mask, group, frames_long[f], frames_short[f])
            f += 1
