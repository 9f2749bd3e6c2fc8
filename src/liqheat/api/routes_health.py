"""Service probes: liveness (the process answers), readiness (every market loaded, every followed venue fresh)
and the version, for a supervisor, a load balancer or a container runtime."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from liqheat import __version__
from liqheat.api.deps import RegistryDep
from liqheat.api.models import ERRORS

router = APIRouter(responses=ERRORS)  # a Host the server does not answer is a 400 here too


@router.get("/healthz", summary="Liveness: the process answers", tags=["service"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: every market loaded, every followed venue fresh (503 and why, else)", tags=["service"])
def readyz(markets: RegistryDep) -> JSONResponse:
    problems: list[dict[str, Any]] = [{"market": m, "problem": why} for m, why in markets.problems.items()]
    for m in markets:
        for status in m.bundle.meta.extra.get("venue_status", []):
            if status.get("state") != "fresh":
                problems.append({"market": m.id, "venue": status.get("venue"), "problem": status.get("state"),
                                 "lag_seconds": status.get("lag_seconds")})  # fmt: skip
    if not len(markets):
        problems.append({"market": None, "problem": "no market"})
    body = {"status": "ready" if not problems else "not ready", "markets": len(markets), "problems": problems}
    return JSONResponse(body, status_code=200 if not problems else 503)


@router.get("/api/version", summary="The version of liqheat serving", tags=["service"])
def version() -> dict[str, str]:
    return {"version": __version__}
