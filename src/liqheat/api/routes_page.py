"""The page at ``/``, its files under ``/static``, the chart library under ``/vendor`` and the icon a browser asks
for at ``/favicon.ico``, all from the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"  # package data: the page ships in the package

router = APIRouter()


def vendor_dir() -> Path:
    """Lightweight Charts inside the package, served at /vendor/: a build copies it there from npm's package
    (scripts/vendor_js.py, run by setup.py's build hook and, for the editable install, by scripts/setup.sh)."""
    return STATIC / "vendor"


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """Every browser asks for it on its own, whatever the page links: answered, not a 404 in every log."""
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


def mount_files(app: FastAPI) -> None:
    """Serve the page's files, and the vendored chart library when it is there."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    vendor = vendor_dir()
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
