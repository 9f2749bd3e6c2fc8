"""How ``liqheat serve`` runs the app: uvicorn with limits that keep slow or idle clients from starving
the rest.

uvicorn closes a kept-alive connection that stays idle, but not one that never finishes its request
head: 1,500 sockets sending a header byte now and then (slowloris) held every slot while real clients
waited. :class:`GuardedH11` gives each request head :attr:`Limits.header_timeout` seconds, counted
from the connection (or the previous response) and not renewed by the bytes that trickle in, and
keeps at most :attr:`Limits.max_waiting` connections waiting for a head: past that, the oldest waiting
one is closed to make room, so a flood of half-open sockets cannot shut out a real client.

A stop (one Ctrl-C, or SIGTERM) is graceful and quick: :class:`Server` sets the app's ``state.stopping``
before uvicorn waits for open requests, so the event streams a tab holds open end at once (uvicorn alone
waited for the tab to go away: 714 s once), and a request still running :attr:`Limits.stop_timeout`
seconds later is cancelled. The process then exits 0 rather than dying of the signal it was asked to
stop by.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0  # seconds for a whole request head to arrive
    keep_alive: int = 5  # seconds an idle kept-alive connection stays open
    max_waiting: int = 512  # connections waiting for a request head; the oldest goes past that
    max_head_bytes: int = 16 * 1024  # a request line and headers longer than that are a 400
    backlog: int = 2048
    stop_timeout: int = 3  # seconds requests still running at a stop get before they are cancelled


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head and a cap on connections waiting for one.

    ``limits`` and ``waiting`` are set per server by :func:`protocol_for` (a subclass each), so two
    servers in one process share nothing.
    """

    limits: ClassVar[Limits] = Limits()
    waiting: ClassVar[dict[GuardedH11, None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._head_deadline is None and self.conn.their_state is h11.IDLE:
            self._await_head()  # bytes of a next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_arrived()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._head_deadline = self.loop.call_later(self.limits.header_timeout, self._head_too_slow)
        self.waiting[self] = None
        while len(self.waiting) > self.limits.max_waiting:
            oldest = next(iter(self.waiting))
            oldest._head_too_slow()

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self.waiting.pop(self, None)

    def _head_too_slow(self) -> None:
        self._head_arrived()
        if not self.transport.is_closing():
            self.transport.close()


def protocol_for(limits: Limits) -> type[GuardedH11]:
    """A :class:`GuardedH11` for one server: its own limits and its own list of waiting connections."""
    return type("GuardedH11Server", (GuardedH11,), {"limits": limits, "waiting": {}})


def config(
    app: Any, host: str, port: int, limits: Limits = Limits(), log_level: str = "warning", *, own_logging: bool = False
) -> uvicorn.Config:
    """The uvicorn configuration ``liqheat serve`` runs ``app`` with; ``own_logging`` keeps the logging that
    :func:`liqheat.logs.configure` set (JSON lines or rich, with the access log) instead of uvicorn's."""
    extra: dict[str, Any] = {"log_config": None, "access_log": True} if own_logging else {}
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(limits),
        timeout_keep_alive=limits.keep_alive,
        h11_max_incomplete_event_size=limits.max_head_bytes,
        backlog=limits.backlog,
        log_level=log_level,
        lifespan="off",
        timeout_graceful_shutdown=limits.stop_timeout,
        **extra,
    )


class Server(uvicorn.Server):
    """uvicorn's server, which tells the app it is stopping and exits cleanly on the signal that stopped it.

    ``stopping`` (the app's ``state.stopping``, see :func:`liqheat.api.app.create_app`) is set as the stop
    begins, before uvicorn waits for the open requests: the event stream ends on it.
    """

    def __init__(self, config: uvicorn.Config, stopping: threading.Event | None = None) -> None:
        super().__init__(config)
        self.stopping = stopping if stopping is not None else threading.Event()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping.set()
        await super().shutdown(sockets)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM ask for a graceful stop (a second Ctrl-C forces it), as uvicorn does; unlike
        uvicorn, the signal is not raised again once stopped, so a stop asked for and done exits 0."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class QuietCancel(logging.Filter):
    """Drops the traceback uvicorn logs for each request it cancels at a stop: its one line "Cancel N running
    task(s)" says what happened, and a Ctrl-C should not fill the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def serve(
    app: Any,
    host: str,
    port: int,
    limits: Limits = Limits(),
    sockets: Sequence[socket.socket] | None = None,
    log_level: str | None = None,
) -> None:
    """Run until interrupted (SIGINT or SIGTERM), then stop within about :attr:`Limits.stop_timeout` seconds.

    With ``log_level``, liqheat's logging (:func:`liqheat.logs.configure`) at that level, the access log
    included; without, uvicorn's own at warning. The engine moves to its faster kernel once compiled."""
    from liqheat.engine.compiled import speed_up

    speed_up()
    stopping = getattr(getattr(app, "state", None), "stopping", None)
    if log_level is not None:
        from liqheat.logs import configure

        configure(log_level)
        settings = config(app, host, port, limits, log_level, own_logging=True)
    else:
        settings = config(app, host, port, limits)  # configures uvicorn's loggers: the filter goes on after
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietCancel) for f in logger.filters):
        logger.addFilter(QuietCancel())
    Server(settings, stopping).run(sockets=list(sockets) if sockets else None)
