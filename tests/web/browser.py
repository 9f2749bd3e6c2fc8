"""Helpers for the page's browser tests: a server on a free port, the page when it has settled, screenshots.

Screenshots are saved under artifacts/web/ (kept out of git) for a person to look at.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "bundles" / "btc-agg-1h-dec-feb"
ARTIFACTS = REPO / "artifacts" / "web"
NODE = REPO / "node_modules" / "lightweight-charts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(registry: Any, port: int | None = None) -> Iterator[str]:
    """The API and the page for ``registry`` on ``port`` (default: a free one) on loopback, in a thread;
    yields its base URL. Stopped as ``liqheat serve`` stops: the pages' event streams end at once."""
    import uvicorn

    from liqheat.api.app import create_app
    from liqheat.api.server import Server

    app = create_app(registry)
    config = uvicorn.Config(app, host="127.0.0.1", port=port or free_port(), log_level="warning")
    srv = Server(config, app.state.stopping)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("['ready', 'error'].includes(document.body.dataset.state)", timeout=60_000)


def shot(page: Any, name: str) -> np.ndarray:
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int32)


def chart_box(page: Any) -> dict[str, float]:
    box: dict[str, float] = page.locator("#chart").bounding_box()
    return box


def coloured_share(pixels: np.ndarray, box: dict[str, float]) -> float:
    """Share of the plot area (price scale excluded) that is not the dark background."""
    x0, y0 = int(box["x"]), int(box["y"])
    area = pixels[y0 + 5 : y0 + int(box["height"]) - 40, x0 + 5 : x0 + int(box["width"]) - 90]
    background = np.array([13, 17, 23])
    return float((np.abs(area - background).sum(axis=2) > 40).mean())


@contextmanager
def fresh_page(browser: Any, **options: Any) -> Iterator[Any]:
    """A page in a context of its own (``options``: viewport, touch, …); ``page.errors`` collects uncaught script
    errors."""
    context = browser.new_context(**options)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    try:
        yield pg
    finally:
        context.close()
