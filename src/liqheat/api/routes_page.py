"""The page at ``/``, its files under ``/static`` and the chart library npm put under ``/vendor``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"

router = APIRouter()


def vendor_dir() -> Path:
    """Where npm put Lightweight Charts (the repository's node_modules)."""
    return Path(__file__).resolve().parents[3] / "node_modules" / "lightweight-charts" / "dist"


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


def mount_files(app: FastAPI) -> None:
    """Serve the page's files, and the vendored chart library when it is there."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    vendor = vendor_dir()
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
