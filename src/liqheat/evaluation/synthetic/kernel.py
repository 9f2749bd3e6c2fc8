"""The simulator's compiled loop: traders, forced liquidations and a price that feels them.

One tick = one sub-step of a minute. Each tick:
1. the price diffuses (GARCH(1,1) volatility, rare jumps);
2. positions whose holding time is over close at market;
3. new positions open at market (Poisson count, heavy-tailed size, log-normal leverage, isolated or
   cross margin). Their liquidation price is the venue's exact tier rule (``liquidation_price``);
4. ordinary flow is counted in volume; its effect on price is the diffusion itself;
5. forced liquidations: every long whose level the price reached (and every short) is closed at
   market into a book of finite depth, moving the price by the square-root law,
   Δlog p = 1 % · √(Q / depth), which may reach more levels. The loop repeats until no level is
   reached: cascades emerge from the book, they are not scripted.

Positions are kept in heaps keyed by liquidation price (max-heap for longs, min-heap for shorts) and by
closing time, with lazy deletion, so a tick costs O(log n) per event, never a scan of the book.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# position record columns (float64 table)
P_SIDE, P_SIZE, P_ENTRY, P_LEV, P_LIQ, P_MARGIN, P_CROSS, P_OPEN, P_END, P_REASON, P_EXIT = range(11)
P_COLS = 11
REASON_OPEN, REASON_CLOSED, REASON_LIQUIDATED = 0.0, 1.0, 2.0
# scalar state
S_LOGP, S_SIG2, S_EPS, S_NPOS, S_NLIQ, S_NCASC, S_OI_LONG, S_OI_SHORT, S_FUNDING, S_FULL, S_DEV = range(11)
S_SIZE = 11


@njit(cache=True, nogil=True)
def liquidation_price(side: int, size: float, entry: float, collateral: float, floors: np.ndarray, caps: np.ndarray,
                      mmr: np.ndarray, cum: np.ndarray) -> float:  # fmt: skip
    """Exact linear rule: collateral + s·Q·(P − E) = Q·P·mmr − cum, tier holding Q·P (last open-ended).

    The same equation as :func:`liqheat.margin.solver.solve` for Binance USD-M; 0 if never reached.
    """
    best = 0.0
    best_gap = 1e300
    n = floors.shape[0]
    for j in range(n):
        denom = size * (mmr[j] - side)
        if denom == 0.0:
            continue
        p = (collateral + cum[j] - side * size * entry) / denom
        if p <= 0.0:
            continue
        notional = size * p
        cap = caps[j] if j < n - 1 else 1e300
        if notional >= floors[j] * (1 - 1e-12) and notional < cap * (1 + 1e-12):
            gap = abs(p - entry)
            if gap < best_gap:
                best_gap = gap
                best = p
    return best


@njit(cache=True, nogil=True)
def _push(keys: np.ndarray, ids: np.ndarray, n: np.ndarray, slot: int, key: float, pid: int) -> None:
    i = n[slot]
    n[slot] += 1
    keys[i] = key
    ids[i] = pid
    while i > 0:
        parent = (i - 1) // 2
        if keys[parent] <= keys[i]:
            break
        keys[parent], keys[i] = keys[i], keys[parent]
        ids[parent], ids[i] = ids[i], ids[parent]
        i = parent


@njit(cache=True, nogil=True)
def _pop(keys: np.ndarray, ids: np.ndarray, n: np.ndarray, slot: int) -> int:
    top: int = ids[0]
    last = n[slot] - 1
    n[slot] = last
    if last > 0:
        keys[0] = keys[last]
        ids[0] = ids[last]
        i = 0
        while True:
            left = 2 * i + 1
            right = left + 1
            smallest = i
            if left < last and keys[left] < keys[smallest]:
                smallest = left
            if right < last and keys[right] < keys[smallest]:
                smallest = right
            if smallest == i:
                break
            keys[smallest], keys[i] = keys[i], keys[smallest]
            ids[smallest], ids[i] = ids[i], ids[smallest]
            i = smallest
    return top


@njit(cache=True, nogil=True)
def seed(value: int) -> None:
    np.random.seed(value)


@njit(cache=True, nogil=True)
def run(
    tick_from: int,
    tick_to: int,
    substeps: int,
    state: np.ndarray,
    cfg: np.ndarray,
    floors: np.ndarray,
    caps: np.ndarray,
    mmr: np.ndarray,
    cum: np.ndarray,
    max_lev: np.ndarray,
    positions: np.ndarray,
    heap_keys: np.ndarray,
    heap_ids: np.ndarray,
    heap_n: np.ndarray,
    candles: np.ndarray,
    oi_usd: np.ndarray,
    funding: np.ndarray,
    liqs: np.ndarray,
    cascades: np.ndarray,
) -> None:
    """Advance ticks [tick_from, tick_to). Heaps: slot 0 longs (key −liq), 1 shorts (key liq), 2 closes.

    ``cfg``: 0 tick σ, 1 GARCH α, 2 GARCH β, 3 jump probability per tick, 4 jump σ, 5 opens per tick,
    6 size min USD, 7 size tail α, 8 size max USD, 9 log leverage median, 10 leverage σ, 11 leverage
    max, 12 cross share, 13 cross extra mean, 14 holding hours at 10×, 15 depth USD per 1 %,
    16 background volume per tick (base), 17 funding gain per hour, 18 funding cap, 19 momentum tilt,
    20 funding tilt, 21 tick hours, 22 cascade threshold (rounds), 23 shock tick (−1: none),
    24 shock size (log return), 25 permanent share of impact, 26 per-tick decay of the transient part.

    The price is exp(fundamental + deviation): forced orders move the fundamental by their permanent
    share and the deviation by the rest, which decays as the book refills (a wick, then recovery).
    """
    sig0 = cfg[0]
    omega = sig0 * sig0 * (1.0 - cfg[1] - cfg[2])
    n_slots = positions.shape[0]
    ticks_per_hour = round(1.0 / cfg[21])
    for tick in range(tick_from, tick_to):
        minute = tick // substeps
        t_hours = tick * cfg[21]
        # 1. diffusion with volatility clustering and jumps
        eps = np.random.normal()
        sig2 = omega + cfg[1] * state[S_SIG2] * state[S_EPS] * state[S_EPS] + cfg[2] * state[S_SIG2]
        state[S_SIG2] = sig2
        state[S_EPS] = eps
        r = math.sqrt(sig2) * eps
        if np.random.random() < cfg[3]:
            r += np.random.normal() * cfg[4]
        if tick == cfg[23]:
            r += cfg[24]  # a forced shock: what the book does next is the experiment
        state[S_LOGP] += r
        state[S_DEV] *= cfg[26]
        price = math.exp(state[S_LOGP] + state[S_DEV])
        if tick % substeps == 0:
            candles[minute, 0] = price
            candles[minute, 1] = price
            candles[minute, 2] = price
        buys = 0.0
        sells = 0.0
        # 2. voluntary closes
        while heap_n[2] > 0 and heap_keys[2, 0] <= t_hours:
            pid = _pop(heap_keys[2], heap_ids[2], heap_n, 2)
            if positions[pid, P_REASON] != REASON_OPEN:
                continue
            level = positions[pid, P_LIQ]
            if level > 0.0 and (price - level) * positions[pid, P_SIDE] <= 0.0:
                continue  # the move already reached its level: the liquidation loop takes it, not the trader
            size = positions[pid, P_SIZE]
            positions[pid, P_REASON] = REASON_CLOSED
            positions[pid, P_END] = t_hours
            positions[pid, P_EXIT] = price
            if positions[pid, P_SIDE] > 0:
                sells += size * price
                state[S_OI_LONG] -= size
            else:
                buys += size * price
                state[S_OI_SHORT] -= size
        # 3. new positions
        activity = math.sqrt(sig2) / sig0
        n_new = np.random.poisson(cfg[5] * min(activity, 4.0))
        tilt = cfg[19] * math.tanh(r / sig0) - cfg[20] * state[S_FUNDING] / 1e-4
        p_long = min(0.85, max(0.15, 0.5 + tilt))
        for _ in range(n_new):
            pid = int(state[S_NPOS])
            if pid >= n_slots:
                state[S_FULL] = 1.0
                break
            side = 1 if np.random.random() < p_long else -1
            notional = min(cfg[6] * np.random.random() ** (-1.0 / cfg[7]), cfg[8])
            size = notional / price
            lev = min(math.exp(cfg[9] + cfg[10] * np.random.normal()), cfg[11])
            lev = max(lev, 1.5)
            for j in range(floors.shape[0]):
                if notional < caps[j] or j == floors.shape[0] - 1:
                    lev = min(lev, max_lev[j])
                    break
            margin = notional / lev
            cross = np.random.random() < cfg[12]
            if cross:
                margin *= 1.0 + np.random.exponential(cfg[13])
            liq = liquidation_price(side, size, price, margin, floors, caps, mmr, cum)
            hold = np.random.exponential(cfg[14] * math.sqrt(10.0 / lev))
            positions[pid, P_SIDE] = side
            positions[pid, P_SIZE] = size
            positions[pid, P_ENTRY] = price
            positions[pid, P_LEV] = lev
            positions[pid, P_LIQ] = liq
            positions[pid, P_MARGIN] = margin
            positions[pid, P_CROSS] = 1.0 if cross else 0.0
            positions[pid, P_OPEN] = t_hours
            positions[pid, P_END] = -1.0
            positions[pid, P_REASON] = REASON_OPEN
            positions[pid, P_EXIT] = 0.0
            state[S_NPOS] += 1
            _push(heap_keys[2], heap_ids[2], heap_n, 2, t_hours + hold, pid)
            if side > 0:
                buys += notional
                state[S_OI_LONG] += size
                if liq > 0.0:
                    _push(heap_keys[0], heap_ids[0], heap_n, 0, -liq, pid)
            else:
                sells += notional
                state[S_OI_SHORT] += size
                if liq > 0.0:
                    _push(heap_keys[1], heap_ids[1], heap_n, 1, liq, pid)
        # 4. ordinary flow is what the diffusion already stands for: it trades, it does not push
        volume = (buys + sells) / price + cfg[16] * activity
        taker_buy = buys / price + 0.5 * cfg[16] * activity
        lo = min(candles[minute, 2], price)
        hi = max(candles[minute, 1], price)
        # 5. forced liquidations, round after round
        rounds = 0
        p_start = price
        total = 0.0
        while True:
            forced_sell = 0.0
            forced_buy = 0.0
            while heap_n[0] > 0 and -heap_keys[0, 0] >= price:
                pid = _pop(heap_keys[0], heap_ids[0], heap_n, 0)
                if positions[pid, P_REASON] != REASON_OPEN:
                    continue
                forced_sell += _liquidate(pid, price, t_hours, positions, liqs, state, minute)
            while heap_n[1] > 0 and heap_keys[1, 0] <= price:
                pid = _pop(heap_keys[1], heap_ids[1], heap_n, 1)
                if positions[pid, P_REASON] != REASON_OPEN:
                    continue
                forced_buy += _liquidate(pid, price, t_hours, positions, liqs, state, minute)
            flow = forced_buy - forced_sell
            if forced_buy + forced_sell == 0.0:
                break
            rounds += 1
            total += forced_buy + forced_sell
            volume += (forced_buy + forced_sell) / price
            taker_buy += forced_buy / price
            if flow != 0.0:
                impact = math.copysign(0.01 * math.sqrt(abs(flow) / cfg[15]), flow)
                state[S_LOGP] += cfg[25] * impact
                state[S_DEV] += (1.0 - cfg[25]) * impact
            price = math.exp(state[S_LOGP] + state[S_DEV])
            lo = min(lo, price)
            hi = max(hi, price)
            if rounds >= 200:
                break
        if rounds >= cfg[22] and int(state[S_NCASC]) < cascades.shape[0]:
            c = int(state[S_NCASC])
            cascades[c, 0] = t_hours
            cascades[c, 1] = rounds
            cascades[c, 2] = total
            cascades[c, 3] = p_start
            cascades[c, 4] = price
            state[S_NCASC] += 1
        # 6. candle, open interest, funding
        candles[minute, 1] = hi
        candles[minute, 2] = lo
        candles[minute, 3] = price
        candles[minute, 4] += volume
        candles[minute, 5] += taker_buy
        if (tick + 1) % substeps == 0:
            oi_usd[minute] = (state[S_OI_LONG] + state[S_OI_SHORT]) * 0.5 * price
        if (tick + 1) % ticks_per_hour == 0:
            long_oi = state[S_OI_LONG]
            short_oi = state[S_OI_SHORT]
            imbalance = (long_oi - short_oi) / (long_oi + short_oi) if long_oi + short_oi > 0 else 0.0
            rate = min(cfg[18], max(-cfg[18], cfg[17] * imbalance))
            state[S_FUNDING] = rate
            funding[(tick + 1) // ticks_per_hour - 1] = rate


@njit(cache=True, nogil=True)
def _liquidate(
    pid: int, price: float, t_hours: float, positions: np.ndarray, liqs: np.ndarray, state: np.ndarray, minute: int
) -> float:
    size: float = positions[pid, P_SIZE]
    positions[pid, P_REASON] = REASON_LIQUIDATED
    positions[pid, P_END] = t_hours
    positions[pid, P_EXIT] = price
    if positions[pid, P_SIDE] > 0:
        state[S_OI_LONG] -= size
    else:
        state[S_OI_SHORT] -= size
    k = int(state[S_NLIQ])
    if k < liqs.shape[0]:
        liqs[k, 0] = minute
        liqs[k, 1] = positions[pid, P_SIDE]
        liqs[k, 2] = size * price
        liqs[k, 3] = price
        liqs[k, 4] = t_hours
        state[S_NLIQ] += 1
    return size * price
