"""Where the live demo market resumes, so that its clock never goes back across a restart.

The rule: before each candle it publishes, the feeder records how many candles will be out in
``live.json`` beside the demo cache (written atomically, with the parameters' digest), so the record
is never behind what a page was shown. The next start resumes at that count (never before the cached
market's end) and simulates one more day past it, so the market keeps growing. This works because a
simulation with the same seed and more days is the shorter one continued: the resumed market is the
one the page showed, going on from where it was.

Growth stops at :data:`EXTRA_DAYS` simulated days past the cached market (12 hours of serving at one
minute a second); past that the demo stands still at its end, and deleting ``live.json`` starts over.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path

from liqheat.evaluation.synthetic.market import SimParams
from liqheat.fsutil import atomic_write
from liqheat.model import DomainError

log = logging.getLogger("liqheat.demo")

EXTRA_DAYS = 30  # simulated days the live demo may run past its cached market, over all restarts
FILE = "live.json"


def resume_at(folder: Path, params: SimParams) -> int:
    """How many candles the live demo had published when it last ran with ``params`` (at least the cached
    market's), capped at :data:`EXTRA_DAYS` past it."""
    base = params.minutes
    try:
        saved = json.loads((folder / FILE).read_text(encoding="utf-8"))
        count = int(saved["candles"]) if saved.get("params") == params.digest() else base
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # none yet, or not ours
        count = base
    return min(max(count, base), base + EXTRA_DAYS * 1440)


def ahead(params: SimParams, start: int) -> SimParams:
    """The parameters of a simulation one day past candle ``start`` (never past :data:`EXTRA_DAYS`)."""
    days = min(math.ceil(start / 1440) + 1, params.days + EXTRA_DAYS)
    return replace(params, days=max(float(days), params.days))


class Recorder:
    """Writes the feeder's count to ``folder/live.json`` (a callable the feeder calls before each candle).

    A write that fails is logged once and the demo goes on: the clock then resumes from the last good count.
    """

    def __init__(self, folder: Path, params: SimParams) -> None:
        self.path = folder / FILE
        self.digest = params.digest()
        self._warned = False

    def __call__(self, count: int) -> None:
        text = json.dumps({"params": self.digest, "candles": count})
        try:
            atomic_write(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        except (DomainError, OSError) as exc:
            if not self._warned:
                log.warning("the demo's clock cannot be saved (%s): a restart may resume earlier", exc)
                self._warned = True
