"""One error body for every 4xx: ``{"detail": "<message>", "param": "<parameter name or null>"}``.

``detail`` is always a sentence a user can act on (FastAPI's own 422 list is folded into one string,
``query.<name>: <why>``); ``param`` names the query or path parameter at fault, so a page can point at
the field. The library raises :class:`~liqheat.model.DomainError` naming things in its own words; the
routes say which parameter that was with :func:`naming`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from liqheat.model import DomainError


class ApiError(HTTPException):
    """A 4xx that names the parameter at fault (``None`` when no single one is, as for a 429)."""

    def __init__(self, status_code: int, detail: str, param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, detail, headers=headers)
        self.param = param


@contextmanager
def naming(param: str | None, *others: str, aliases: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn a :class:`DomainError` raised inside into a 400 naming ``param``.

    A library call that can refuse several parameters starts its message with the name of the one it
    refuses (``entry price must be …``, ``--end … is after …``): the first of ``others`` (or of the
    library's words in ``aliases``, mapped to the route's names) the message starts with is named
    instead of ``param``.
    """
    try:
        yield
    except DomainError as exc:
        message = str(exc)
        words = message.lstrip("-")
        named = {**{name: name for name in others}, **(aliases or {})}
        if exc.param is not None and exc.param in named:
            found: str | None = named[exc.param]
        else:
            found = next((named[w] for w in sorted(named, key=len, reverse=True) if words.startswith(f"{w} ")), param)
        raise ApiError(400, message, found) from None


def body(detail: str, param: str | None) -> dict[str, str | None]:
    return {"detail": detail, "param": param}


def install(app: FastAPI) -> None:
    """Answer every 4xx of ``app`` (its own, FastAPI's validation, Starlette's 404 and 405) in the one shape."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(body(str(exc.detail), getattr(exc, "param", None)), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        detail = " | ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors) or "invalid request"
        where: tuple[Any, ...] = tuple(errors[0]["loc"]) if errors else ()
        return JSONResponse(body(detail, str(where[1]) if len(where) > 1 else None), 422)

    @app.exception_handler(DomainError)
    async def refused(_: Request, exc: DomainError) -> JSONResponse:
        """A refusal no route named a parameter for (the message still says what and why)."""
        return JSONResponse(body(str(exc), exc.param), 400)
