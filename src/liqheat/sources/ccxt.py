"""One source over ccxt for every venue: REST history (candles, open interest, funding, bracket tiers)
and websocket streams (liquidations, candles), normalised to the project's own frames.

A venue is data (:class:`~liqheat.venues.spec.VenueSpec`, one per ``venues/<venue>/feed.py``): which
ccxt class serves which contract kind, what the venue can give, how its liquidation side reads, which
unit its open interest and tiers are in. Everything venue-specific ends here; the frames that leave
carry USD notional and the side of the *position* that was liquidated.

REST history is one async implementation run two ways: ``fetch_*`` run it to completion on ccxt's sync
exchange (``liqheat fetch``, a plain command with nothing else to serve), ``fetch_*_async`` await it on
the ccxt.pro exchange (``liqheat follow``, where a blocking call or ``time.sleep`` would stall every
other stream in the event loop). Paging, de-duplication and retry classification exist once.

ccxt's exceptions end here: what leaves is :class:`~liqheat.sources.errors.VenueError` (or its retryable
subclass), :class:`~liqheat.model.DomainError` for a market the venue does not list, or a bug as it is.

Tests replace ccxt's transport (``exchange.fetch`` for REST, the websocket client's frames for
streams), so the code under test is ccxt's own parsing plus ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import numpy as np
import pandas as pd

from liqheat.model import ContractKind, DomainError, Market
from liqheat.sources.errors import RetryableVenueError, VenueError
from liqheat.timeutil import parse_duration
from liqheat.venues.spec import VenueSpec, num

log = logging.getLogger("liqheat.sources")
T = TypeVar("T")

# ccxt's classes (and their subclasses) for failures that pass with time
RETRYABLE = frozenset({"RateLimitExceeded", "DDoSProtection", "RequestTimeout", "NetworkError", "ExchangeNotAvailable"})
LIQUIDATION_COLUMNS = ["ts", "side", "usd", "price", "quantity", "contracts", "native", "venue_symbol"]


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.timestamp() * 1000)


def _iso(ms: int) -> str:
    return f"{pd.Timestamp(ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M:%S}"


def _frame_ts(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(ms.astype("int64"), unit="ms", utc=True).astype("datetime64[us, UTC]")


def _ccxt_names(exc: BaseException) -> set[str]:
    """The ccxt classes ``exc`` is an instance of (none for anything else)."""
    return {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("ccxt")}


@dataclass(frozen=True)
class _Rest:
    """Where a REST job's calls go and how its retries wait: the sync exchange and a blocking sleep, or
    the ccxt.pro exchange (whose calls return awaitables) and an async one."""

    exchange: Any
    sleep: Callable[[float], Awaitable[None]]

    async def call(self, fn: Callable[[Any], Any]) -> Any:
        out = fn(self.exchange)
        return await out if inspect.isawaitable(out) else out


class CcxtSource:
    """A venue market behind the project's source contract (see :mod:`liqheat.sources.template`)."""

    def __init__(
        self,
        spec: VenueSpec,
        market: Market,
        exchange: Any = None,
        *,
        pro: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        options: dict[str, Any] | None = None,
    ) -> None:
        if market.kind not in spec.ccxt_ids:
            kinds = " or ".join(k.value for k in spec.ccxt_ids)
            raise DomainError(f"{spec.name} lists only {kinds} perpetuals through liqheat, not {market} ({market.kind.value})")
        self.spec = spec
        self.market = market
        self.venue = spec.name
        self.capabilities = spec.capabilities
        self.ccxt_id = spec.ccxt_ids[market.kind]
        self._options = {"enableRateLimit": True, **(options or {})}
        self._exchange = exchange
        self._pro = pro
        self.sleep, self.async_sleep = sleep, async_sleep
        self.log: list[str] = []

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            import ccxt

            self._exchange = getattr(ccxt, self.ccxt_id)(self._options)
        return self._exchange

    @property
    def pro(self) -> Any:
        if self._pro is None:
            import ccxt.pro

            self._pro = getattr(ccxt.pro, self.ccxt_id)(self._options)
        return self._pro

    def _note(self, message: str) -> None:
        self.log.append(message)
        log.warning("%s %s: %s", self.venue, self.market, message)

    def _run(self, job: Callable[[_Rest], Coroutine[Any, Any, T]]) -> T:
        """Run a REST job to completion on the sync exchange: its calls and backoff block, which is what a
        plain command wants (an event loop, when one is running, must use the ``*_async`` methods)."""

        async def blocking_sleep(delay: float) -> None:
            self.sleep(delay)

        return asyncio.run(job(_Rest(self.exchange, blocking_sleep)))

    @property
    def _async_rest(self) -> _Rest:
        return _Rest(self.pro, self.async_sleep)

    def _raise_venue_error(self, what: str, exc: BaseException, retries: int = 0) -> NoReturn:
        """Raise ``exc`` as liqheat sees it: ccxt's exceptions become a :class:`VenueError` naming the venue,
        the call and the reason (a symbol the venue does not list is the user's, a DomainError); anything
        else is not the venue's doing and is raised as it is."""
        names = _ccxt_names(exc)
        if not names:
            raise exc
        if "BadSymbol" in names:
            raise DomainError(f"{self.venue}: {exc}") from exc
        reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        if retries:
            reason += f" (still failing after {retries} retries)"
        error = RetryableVenueError if names & RETRYABLE else VenueError
        raise error(self.venue, f"{what} {self.market}", reason) from exc

    @contextlib.contextmanager
    def _venue_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self._raise_venue_error(what, exc)

    async def _call(self, rest: _Rest, what: str, fn: Callable[[Any], Any]) -> Any:
        """``fn(exchange)``; rate limits, DDoS protection, timeouts and network errors are retried with backoff."""
        attempt = 0
        while True:
            try:
                return await rest.call(fn)
            except Exception as exc:
                retryable = bool(_ccxt_names(exc) & RETRYABLE)
                if not retryable or attempt >= self.spec.max_retries:
                    if retryable:
                        self._note(f"{what}: {type(exc).__name__} again after {attempt} retries; giving up")
                    self._raise_venue_error(what, exc, attempt)
                delay = min(30.0, 0.5 * 2**attempt)
                self._note(f"{what}: {type(exc).__name__}, retry {attempt + 1} in {delay:g}s")
                await rest.sleep(delay)
                attempt += 1

    async def _market(self, rest: _Rest) -> dict[str, Any]:
        """The market as ccxt loaded it (markets are loaded once per exchange)."""
        await self._call(rest, "load_markets", lambda ex: ex.load_markets())
        try:
            found: dict[str, Any] = rest.exchange.market(self.market.unified)
        except Exception as exc:
            if "BadSymbol" in _ccxt_names(exc):
                raise DomainError(f"{self.venue} has no market {self.market}") from None
            raise
        return found

    async def _page(
        self,
        rest: _Rest,
        what: str,
        fetch: Callable[[Any, int, int], Any],
        ts_of: Callable[[Any], int],
        since: pd.Timestamp,
        until: pd.Timestamp,
        limit: int,
        step_ms: int,
        progress: Callable[[float], None] | None = None,
        probe_ms: int | None = None,
    ) -> list[Any]:
        """Follow pages forward from ``since``: rows outside [since, until) are dropped, a short page is
        continued from its last row, and the cursor never moves back. An empty page ends the walk only
        when nothing later exists (see :meth:`_after_empty`): a venue glitch must not leave a silent hole."""
        cursor, stop = _ms(since), _ms(until)
        rows: list[Any] = []
        while cursor < stop:
            raw = await self._fetch_page(rest, what, fetch, cursor, limit)
            page = [r for r in raw if cursor <= ts_of(r) < stop]
            if not page and not any(ts_of(r) >= stop for r in raw):  # rows past ``stop``: nothing before it
                page = await self._after_empty(rest, what, fetch, ts_of, cursor, stop, limit, probe_ms or limit * step_ms)
            if not page:
                break
            rows.extend(page)
            last = max(ts_of(r) for r in page)
            cursor = last + step_ms
            if progress:
                progress(min(1.0, (cursor - _ms(since)) / max(1, stop - _ms(since))))
        return rows

    async def _page_back(
        self,
        rest: _Rest,
        what: str,
        fetch: Callable[[Any, int, int], Any],
        ts_of: Callable[[Any], int],
        since: pd.Timestamp,
        until: pd.Timestamp,
        limit: int,
        progress: Callable[[float], None] | None = None,
    ) -> list[Any]:
        """Follow pages backwards from ``until``, each the newest rows older than the cursor; rows before
        ``since`` are dropped, and a page with nothing older than the cursor ends the walk."""
        start, cursor = _ms(since), _ms(until)
        rows: list[Any] = []
        while cursor > start:
            page = [r for r in await self._fetch_page(rest, what, fetch, cursor, limit) if ts_of(r) < cursor]
            if not page:
                break
            rows.extend(r for r in page if ts_of(r) >= start)
            cursor = min(ts_of(r) for r in page)
            if progress:
                progress(min(1.0, (_ms(until) - cursor) / max(1, _ms(until) - start)))
        return rows

    async def _fetch_page(
        self, rest: _Rest, what: str, fetch: Callable[[Any, int, int], Any], cursor: int, limit: int
    ) -> list[Any]:
        """One page: ``fetch(exchange, cursor, limit)``, retried as :meth:`_call` does."""
        page = await self._call(rest, what, lambda ex: fetch(ex, cursor, limit))
        if not isinstance(page, list):
            raise DomainError(f"{self.venue} {what}: expected a list, got {type(page).__name__}")
        return page

    async def _after_empty(
        self, rest: _Rest, what: str, fetch: Callable[[Any, int, int], Any], ts_of: Callable[[Any], int], cursor: int,
        stop: int, limit: int, window: int,
    ) -> list[Any]:  # fmt: skip
        """An empty page at ``cursor`` before ``stop``: the end of the venue's data, a stretch it has
        nothing for, or a glitch. Look one ``window`` further at a time; if something is there, ask
        ``cursor`` again (a glitch fills in), else go on after the stretch and say it is missing."""
        probe = cursor + window
        while probe < stop:
            raw = await self._fetch_page(rest, what, fetch, probe, limit)
            found = [r for r in raw if probe <= ts_of(r) < stop]
            if found:
                again = [r for r in await self._fetch_page(rest, what, fetch, cursor, limit) if cursor <= ts_of(r) < stop]
                if again:
                    self._note(f"{what}: an empty page at {_iso(cursor)} had rows when asked again")
                    return again
                first = min(ts_of(r) for r in found)
                self._note(f"{what}: no rows from {_iso(cursor)} to {_iso(first)} although later ones exist; left as a gap")
                return found
            if any(ts_of(r) >= stop for r in raw):
                break
            probe += window
        return []

    # -- REST history -----------------------------------------------------------------------------
    #
    # Each ``fetch_x`` blocks (sync exchange); each ``fetch_x_async`` awaits (ccxt.pro exchange, for code
    # that runs in an event loop). Both run the one ``_x`` below.

    def fetch_candles(
        self, symbol: str | None, timeframe: str, since: pd.Timestamp, until: pd.Timestamp,
        progress: Callable[[float], None] | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """Closed candles with ts in [since, until): ts, open, high, low, close, volume."""
        return self._run(lambda rest: self._candles(rest, symbol, timeframe, since, until, progress))

    async def fetch_candles_async(
        self, symbol: str | None, timeframe: str, since: pd.Timestamp, until: pd.Timestamp
    ) -> pd.DataFrame:
        return await self._candles(self._async_rest, symbol, timeframe, since, until, None)

    async def _candles(
        self, rest: _Rest, symbol: str | None, timeframe: str, since: pd.Timestamp, until: pd.Timestamp,
        progress: Callable[[float], None] | None,
    ) -> pd.DataFrame:  # fmt: skip
        step = int(parse_duration(timeframe, "timeframe").total_seconds() * 1000)
        unified = self._unified(symbol)
        await self._market(rest)
        rows = await self._page(
            rest,
            "fetch_ohlcv",
            lambda ex, cursor, limit: ex.fetch_ohlcv(unified, timeframe, since=cursor, limit=limit),
            lambda r: int(r[0]),
            since,
            min(until, pd.Timestamp.now(tz="UTC").floor(f"{step}ms")),
            self.spec.candle_page,
            step,
            progress,
        )
        frame = pd.DataFrame([r[:6] for r in rows], columns=["ms", "open", "high", "low", "close", "volume"])
        frame = frame.drop_duplicates("ms", keep="last").sort_values("ms").reset_index(drop=True)
        frame.insert(0, "ts", _frame_ts(frame.pop("ms")))
        return frame.astype({c: "float64" for c in ("open", "high", "low", "close", "volume")})

    def fetch_open_interest(
        self, since: pd.Timestamp, until: pd.Timestamp, progress: Callable[[float], None] | None = None
    ) -> pd.DataFrame:
        """Open interest history: ts, oi_base, oi_usd (NaN where the venue gives only the other one)."""
        return self._run(lambda rest: self._open_interest(rest, since, until, progress))

    async def fetch_open_interest_async(self, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
        return await self._open_interest(self._async_rest, since, until, None)

    async def _open_interest(
        self, rest: _Rest, since: pd.Timestamp, until: pd.Timestamp, progress: Callable[[float], None] | None
    ) -> pd.DataFrame:
        if self.spec.capabilities.open_interest_history is None or self.spec.oi_units is None:
            raise DomainError(f"{self.venue} gives no open-interest history; `liqheat follow` records it as it goes")
        market = await self._market(rest)
        step = int(parse_duration(self.spec.oi_period, "oi period").total_seconds() * 1000)
        unified = self.market.unified
        period = self.spec.oi_period
        rows = await self._page(
            rest,
            "fetch_open_interest_history",
            lambda ex, cursor, limit: ex.fetch_open_interest_history(unified, period, since=cursor, limit=limit),
            lambda r: int(r["timestamp"]),
            since,
            until,
            self.spec.oi_page,
            step,
            progress,
        )
        return self._oi_frame(rows, market)

    async def fetch_open_interest_now_async(self, now: pd.Timestamp | None = None) -> pd.DataFrame:
        """The current open interest (one row): what ``follow`` records where no history is kept. A venue
        that does not stamp it (Hyperliquid) gets ``now``, the caller's clock (the wall clock by default)."""
        rest = self._async_rest
        market = await self._market(rest)
        unified = self.market.unified
        entry = await self._call(rest, "fetch_open_interest", lambda ex: ex.fetch_open_interest(unified))
        if entry.get("timestamp") is None:
            entry = {**entry, "timestamp": _ms(now) if now is not None else int(time.time() * 1000)}
        return self._oi_frame([entry], market)

    def _oi_frame(self, rows: list[dict[str, Any]], market: dict[str, Any]) -> pd.DataFrame:
        assert self.spec.oi_units is not None
        out = []
        for entry in rows:
            base, usd = self.spec.oi_units(entry, market)
            if base is None and usd is None:
                self._note(f"open interest at {entry.get('timestamp')} has no value; skipped")
                continue
            out.append((int(entry["timestamp"]), math.nan if base is None else base, math.nan if usd is None else usd))
        frame = pd.DataFrame(out, columns=["ms", "oi_base", "oi_usd"]).drop_duplicates("ms", keep="last").sort_values("ms")
        frame.insert(0, "ts", _frame_ts(frame.pop("ms")))
        return frame.reset_index(drop=True).astype({"oi_base": "float64", "oi_usd": "float64"})

    def fetch_funding(
        self, since: pd.Timestamp, until: pd.Timestamp, progress: Callable[[float], None] | None = None
    ) -> pd.DataFrame:
        """Funding rate history: ts, rate (per funding interval)."""
        return self._run(lambda rest: self._funding(rest, since, until, progress))

    async def fetch_funding_async(self, since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
        return await self._funding(self._async_rest, since, until, None)

    async def _funding(
        self, rest: _Rest, since: pd.Timestamp, until: pd.Timestamp, progress: Callable[[float], None] | None
    ) -> pd.DataFrame:
        await self._market(rest)
        unified = self.market.unified
        older_than = self.spec.funding_older_than
        if older_than:
            rows = await self._page_back(
                rest,
                "fetch_funding_rate_history",
                lambda ex, cursor, limit: ex.fetch_funding_rate_history(unified, limit=limit, params={older_than: cursor}),
                lambda r: int(r["timestamp"]),
                since,
                until,
                self.spec.funding_page,
                progress,
            )
        else:
            rows = await self._page(
                rest,
                "fetch_funding_rate_history",
                lambda ex, cursor, limit: ex.fetch_funding_rate_history(unified, since=cursor, limit=limit),
                lambda r: int(r["timestamp"]),
                since,
                until,
                self.spec.funding_page,
                1,
                progress,
                probe_ms=self.spec.funding_page * 3_600_000,  # funding comes at most hourly: a page spans that much or more
            )
        frame = pd.DataFrame([(int(r["timestamp"]), num(r.get("fundingRate"))) for r in rows], columns=["ms", "rate"])
        frame = frame.dropna().drop_duplicates("ms", keep="last").sort_values("ms")
        frame.insert(0, "ts", _frame_ts(frame.pop("ms")))
        return frame.reset_index(drop=True).astype({"rate": "float64"})

    def fetch_tiers(self) -> dict[str, Any]:
        """The market's maintenance-margin tiers as a ``margin/tables`` JSON object (see :mod:`liqheat.margin.tables`).

        ccxt gives floor, cap, MMR and max leverage; the maintenance amount ("cum") is rebuilt from
        continuity, ``cum_k = cum_{k-1} + floor_k × (mmr_k − mmr_{k-1})``, and checked against the
        venue's own figure where the payload carries one; it stays 0 where the tier's rate applies to the
        whole position (``tier_deduction`` False: OKX). A tier starts where the one below ends (OKX's
        ``minSz`` is the previous ``maxSz`` plus one lot).
        """
        return self._run(self._tiers)

    async def _tiers(self, rest: _Rest) -> dict[str, Any]:
        market = await self._market(rest)
        unit = self.spec.tier_unit.get(self.market.kind)
        if unit is None:
            raise DomainError(f"{self.venue} publishes no maintenance tiers through ccxt; its tables ship with liqheat")
        unified = self.market.unified
        raw = await self._call(rest, "fetch_market_leverage_tiers", lambda ex: ex.fetch_market_leverage_tiers(unified))
        tiers = sorted(raw, key=lambda t: float(t["minNotional"] or 0))
        if not tiers:
            raise DomainError(f"{self.venue} returned no tiers for {self.market}")
        out: list[dict[str, Any]] = []
        cum = 0.0
        for i, t in enumerate(tiers):
            floor, cap = float(t["minNotional"] or 0), num(t.get("maxNotional"))
            if i and out[-1]["cap"] is not None and out[-1]["cap"] < floor:
                floor = out[-1]["cap"]
            mmr, lev = float(t["maintenanceMarginRate"]), float(t["maxLeverage"])
            if i and self.spec.tier_deduction:
                cum += floor * (mmr - out[-1]["mmr"])
            info = t.get("info") or {}
            given = num(info.get("cum") if "cum" in info else info.get("mmDeduction"))
            if given is not None and not math.isclose(given, cum, rel_tol=1e-6, abs_tol=1e-6):
                self._note(f"tier {i + 1}: venue's maintenance amount {given} differs from continuity {cum}; keeping the venue's")
                cum = given
            out.append({"floor": floor, "cap": cap, "max_leverage": lev, "mmr": mmr, "maint_amount": round(cum, 10)})
        notional_unit = {"quote": self.market.quote, "base": self.market.base, "contracts": "contracts"}[unit]
        today = datetime.now(UTC).date().isoformat()
        return {
            "venue": self.venue,
            "market": self.spec.tier_market.get(self.market.kind, self.market.kind.value),
            "symbol": market["id"],
            "unified": self.market.unified,
            "contract": self.market.kind.value,
            "contract_size": float(market.get("contractSize") or 1.0),
            "notional_unit": notional_unit,
            "as_of": today,
            "source": f"ccxt {self.ccxt_id}.fetch_market_leverage_tiers({self.market.unified}) on {today}",
            "tiers": out,
        }

    # -- normalisation ----------------------------------------------------------------------------

    def liquidation_rows(self, liquidations: list[dict[str, Any]]) -> pd.DataFrame:
        """ccxt liquidation structures -> ts, side (the position liquidated), usd, price, quantity (base), contracts."""
        rows = []
        for liq in liquidations:
            events = self.spec.expand(liq) if self.spec.expand else [liq]
            for event in events:
                rows.append(self._liquidation_row(liq, event))
        frame = pd.DataFrame(rows, columns=["ms", *LIQUIDATION_COLUMNS[1:]])
        frame.insert(0, "ts", _frame_ts(frame.pop("ms")))
        return frame.astype({"usd": "float64", "price": "float64", "quantity": "float64", "contracts": "float64"})

    def _liquidation_row(self, liq: dict[str, Any], event: dict[str, Any]) -> tuple[Any, ...]:
        ts, price, contracts = event.get("timestamp"), num(event.get("price")), num(event.get("contracts"))
        if ts is None or price is None or price <= 0 or contracts is None or contracts <= 0:
            raise DomainError(f"{self.venue}: liquidation without time, price or size: {liq.get('info')!r}")
        size = num(event.get("contractSize") or liq.get("contractSize")) or self._contract_size()
        side, native = self.spec.liquidation_side(liq.get("info") or {}, event)
        if self.market.kind is ContractKind.LINEAR:
            quantity = contracts * size
            usd = quantity * price
        else:
            usd = contracts * size
            quantity = usd / price
        symbol = str((liq.get("info") or {}).get("s") or (liq.get("info") or {}).get("instId") or liq.get("symbol"))
        return int(ts), side, usd, price, quantity, contracts, native, symbol

    def _contract_size(self) -> float:
        """The market's contract size as ccxt loaded it. ccxt's websocket liquidations leave theirs empty
        (``safe_liquidation`` is called without the market), and 1 would be 100 times off for Binance
        COIN-M (100 USD) or OKX BTC-USDT-SWAP (0.01 BTC)."""
        for exchange in (self._pro, self._exchange):
            market = (getattr(exchange, "markets", None) or {}).get(self.market.unified) or {}
            size = num(market.get("contractSize"))
            if size:
                return size
        raise DomainError(f"{self.venue}: no contract size known for {self.market} (its markets are not loaded)")

    def _unified(self, symbol: str | None) -> str:
        if symbol is not None and symbol != self.market.unified:
            raise DomainError(f"this source serves {self.market}, not {symbol}")
        return self.market.unified

    # -- websocket streams ------------------------------------------------------------------------

    async def watch_liquidations(self) -> AsyncIterator[pd.DataFrame]:
        """Each batch of liquidations the venue pushes, normalised. A drop raises RetryableVenueError (the
        caller reconnects), a refusal VenueError.

        A watch returns the one liquidation that woke it, but a message can carry several (Bybit's
        allLiquidation lists them) and more can arrive before the next watch is set (aiohttp hands
        ccxt a burst at once): ccxt resolves only the first and keeps every one in its cache, which
        counts what is new for the symbol since the last look. The batch is taken from there.
        """
        if self.spec.capabilities.liquidations_stream is None:
            raise DomainError(f"{self.venue} has no public liquidation stream")
        pro = self.pro
        await self._market(self._async_rest)
        symbol = self.market.unified
        while True:
            with self._venue_errors("watch_liquidations"):
                if pro.has.get("watchLiquidationsForSymbols") is True:
                    batch = await pro.watch_liquidations_for_symbols([symbol])
                else:
                    batch = await pro.watch_liquidations(symbol)
            cache: Any = getattr(pro, "liquidations", None)
            if hasattr(cache, "getLimit"):
                new = cache.getLimit(symbol, None) or 0
                batch = [liq for liq in cache if liq.get("symbol") == symbol][-new:] if new else []
            batch = [liq for liq in batch if liq.get("symbol") == symbol]
            if batch:
                yield self.liquidation_rows(batch)

    async def watch_candles(self, timeframe: str) -> AsyncIterator[pd.DataFrame]:
        """Candles as the venue updates them; a candle is yielded once, when the next one opens (closed)."""
        pro = self.pro
        await self._market(self._async_rest)
        pending: dict[int, list[Any]] = {}
        emitted = -1
        while True:
            with self._venue_errors("watch_ohlcv"):
                rows = await pro.watch_ohlcv(self.market.unified, timeframe)
            for r in rows:
                if int(r[0]) > emitted:
                    pending[int(r[0])] = list(r[:6])
            if len(pending) < 2:
                continue
            latest = max(pending)
            closed = sorted(ms for ms in pending if ms < latest)
            values = np.array([pending.pop(ms)[1:6] for ms in closed], dtype=np.float64)  # a missing value: NaN
            emitted = closed[-1]
            ts = pd.DatetimeIndex((np.array(closed, dtype=np.int64) * 1000).view("datetime64[us]")).tz_localize("UTC")
            yield pd.DataFrame({"ts": ts, **{c: values[:, j] for j, c in enumerate(("open", "high", "low", "close", "volume"))}})

    async def close(self) -> None:
        if self._pro is not None:
            await self._pro.close()
