"""Which ``Host`` a server answers: a guard against DNS rebinding.

A page on any site can point its own name at 127.0.0.1 and then read this server as same-origin; the
only sign is the ``Host`` header, which names the attacker's domain. So a served app answers only the
names it was started for: the loopback names, the address it is bound to, and those given with
``liqheat serve --allowed-host`` (``*`` for any, behind a proxy that checks it). Everything else is a
400 in the API's one error body, naming ``host``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from liqheat.api.errors import body
from liqheat.model import DomainError

LOCAL = ("localhost", "127.0.0.1", "::1")
ANY = "*"
_WILDCARD_BINDS = ("", "0.0.0.0", "::")
_RAW = re.compile(r"^[A-Za-z0-9_.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$")
_NAME = re.compile(r"^[a-z0-9_.\-]+$|^[0-9a-f:.]+$")


def host_name(header: str) -> str:
    """The name in a ``Host`` header: lower case, without its port, IPv6 brackets or a trailing dot."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The loopback names, ``bound`` (unless it is every interface) and ``extra`` (``*`` allows any)."""
    names = set(LOCAL)
    if host_name(bound) not in _WILDCARD_BINDS:
        names.add(host_name(bound))
    for raw in extra:
        name = ANY if raw.strip() == ANY else host_name(raw)
        if name != ANY and not (_RAW.match(raw.strip()) and _NAME.match(name)):
            raise DomainError(f"allowed_host {raw!r} is not a host name (give a name or address, e.g. liqheat.example.org)",
                              param="allowed_host")  # fmt: skip
        names.add(name)
    return frozenset(names)


class HostGuard:
    """ASGI middleware answering 400 to a request whose ``Host`` is not in ``hosts``."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or ANY in self.hosts:
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
        if header is not None and host_name(header) in self.hosts:
            await self.app(scope, receive, send)
            return
        shown = "no Host header" if header is None else f"host {header!r} is not served here"
        detail = f"{shown} (DNS rebinding guard): the server answers another name only when started allowing it"
        await JSONResponse(body(detail, "host"), 400)(scope, receive, send)
