"""The page when its server stops and comes back: it says "disconnected", retries with backoff, and on
reconnecting loads the market again, in the same document. Screenshots: artifacts/web/disconnected.png (the
note in the header) and disconnected-fetch.png (a control changed meanwhile: the banner)."""

from __future__ import annotations

from typing import Any

from web.browser import free_port, open_page, serve, shot

CONN = "document.getElementById('conn')"


def test_the_page_says_disconnected_retries_and_resumes(browser: Any) -> None:
    from liqheat.api.markets import Registry
    from liqheat.demo.live import published
    from liqheat.evaluation.synthetic.market import SimParams, simulate

    full = simulate(SimParams(days=2, seed=5)).bundle
    start = 1440
    port = free_port()
    context = browser.new_context(viewport={"width": 1200, "height": 700})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        first = Registry()
        first.add(published(full, start), market_id="live")
        with serve(first, port) as base:
            open_page(page, f"{base}/?market=live&window=24h&interval=1m")
            assert page.evaluate("document.body.dataset.state") == "ready"
            assert page.evaluate(f"{CONN}.hidden")
            before = page.evaluate("page.bars[page.bars.length - 1]")
            page.evaluate("window.__marker = 'same document'")
            # the backoff: 1 s doubling to a 30 s cap, jittered ±25 % (evaluated with the jitter's extremes)
            extremes = "(a) => [m.backoff(a, () => 0), m.backoff(a, () => 1)]"
            waits = page.evaluate(f"import('/static/live.js').then((m) => [0, 1, 2, 3, 4, 5, 9].map({extremes}))")
            assert waits == [[750, 1250], [1500, 2500], [3000, 5000], [6000, 10000], [12000, 20000], [24000, 30000],
                             [30000, 30000]]  # fmt: skip

        # the server stopped: its stream ended with a bye, and the page says so at once
        page.wait_for_function(f"{CONN}.dataset.state === 'disconnected' && !{CONN}.hidden", timeout=20_000)
        assert page.locator("#conn").inner_text().startswith("disconnected — retrying in ")
        shot(page, "disconnected")

        # a fetch with no server behind it reads "disconnected", not the browser's "Failed to fetch"
        page.select_option("#side", "long")
        page.wait_for_function("document.body.dataset.state === 'error'", timeout=20_000)
        banner = page.locator("#error").inner_text()
        assert "disconnected" in banner, banner
        assert "Failed to fetch" not in banner, banner
        shot(page, "disconnected-fetch")

        # back on the same port, with the market two hours further on: the page reconnects and reloads
        again = Registry()
        again.add(published(full, start + 120), market_id="live")
        with serve(again, port):
            page.wait_for_function(f"{CONN}.hidden && {CONN}.dataset.state === 'live'", timeout=60_000)
            page.wait_for_function(f"page.bars[page.bars.length - 1] >= {before} + 120 * 60", timeout=60_000)
            page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60_000)
            assert page.locator("#error").is_hidden()
            assert page.evaluate("window.__marker") == "same document"  # resumed in place, not reloaded
        assert errors == []
    finally:
        context.close()
