"""The ahead-of-time kernel (``liqheat.engine.compiled``) is the JIT kernel, built once: same numbers, bit for bit."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from liqheat.engine import compiled, kernel
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, MarketView
from liqheat.evaluation.synthetic.market import SimParams, simulate


@pytest.fixture(scope="module")
def view() -> MarketView:
    return MarketView.from_bundle(simulate(SimParams(days=3, seed=11)).bundle)


def test_setup_built_the_compiled_kernel_from_this_source() -> None:
    assert compiled.MODE == "aot", "the compiled kernel is missing or stale: run bash scripts/setup.sh"


def _run(view: MarketView, module: object, params: ModelParams) -> tuple[np.ndarray, ...]:
    engine = Engine.for_view(view, params)
    original = (compiled.replay, compiled.step, compiled.snapshot)
    compiled.replay, compiled.step, compiled.snapshot = module.replay, module.step, module.snapshot  # type: ignore[attr-defined]
    try:
        frame_at = np.arange(0, len(view), 97, dtype=np.int64)
        mask = np.zeros(len(engine.leverages), dtype=np.bool_)
        mask[::3] = True
        preds, frames_long, frames_short = engine.run(view, frame_at, 3, mask, stop=len(view) - 40)
        live = range(len(view) - 40, len(view))
        tail = [engine.update(float(view.high[t]), float(view.low[t]), 1e6, 0.01, 0.55, 1.0, 2e5) for t in live]
        at_long, at_short = engine.at_risk()
    finally:
        compiled.replay, compiled.step, compiled.snapshot = original
    return preds, frames_long, frames_short, np.array(tail), at_long, at_short, engine.ledger.copy()


@pytest.mark.parametrize("params", [ModelParams(), ModelParams(bin_width=0.002, entry_points=3, intra_sweep=0.5)])
def test_compiled_and_jit_kernels_agree_bit_for_bit(view: MarketView, params: ModelParams) -> None:
    if compiled.MODE != "aot":
        pytest.fail("the compiled kernel is missing or stale: run bash scripts/setup.sh")
    aot = importlib.import_module("liqheat.engine._kernel_aot")
    for a, j in zip(_run(view, aot, params), _run(view, kernel, params), strict=True):
        assert a.shape == j.shape
        assert np.array_equal(a, j), f"largest difference {np.abs(a - j).max()}"


def test_a_stale_build_falls_back_to_the_jit_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import liqheat.engine.aot as aot

    monkeypatch.setattr(aot, "source_digest", lambda: "0" * 64)
    mode, module = compiled.load()
    assert (mode, module) == ("jit", kernel)


def test_liqheat_jit_forces_the_jit_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQHEAT_JIT", "1")
    assert compiled.load() == ("jit", kernel)


def test_speed_up_moves_to_the_jit_kernel_already_compiled_for_what_the_engine_passes(view: MarketView) -> None:
    """The server's switch: once done, a timeline, its heatmaps and live updates compile nothing more (a request
    would wait seconds for numba) and give the compiled build's numbers."""
    from liqheat.engine.timeline import Timeline

    params = ModelParams()
    saved = (compiled.MODE, compiled.replay, compiled.step, compiled.snapshot)
    want = Timeline(view, params, checkpoint_every=512, recent_every=128, max_snapshots=64)
    try:
        thread = compiled.speed_up()
        assert thread is not None
        thread.join()
        assert compiled.MODE == "jit"
        assert compiled.replay is kernel.replay
        assert compiled.speed_up() is None
        compiled_for = {name: len(getattr(kernel, name).signatures) for name in ("replay", "step", "snapshot")}
        got = Timeline(view, params, checkpoint_every=512, recent_every=128, max_snapshots=64)
        candles = np.arange(100, len(view), 37, dtype=np.int64)
        for rows in (None, (10, 60)):
            pairs = zip(*(t.maps_at_open(candles, 2, None, rows=rows) for t in (got, want)), strict=True)
            for a, b in pairs:
                np.testing.assert_array_equal(a, b)
        engine = got.engine(got.checkpoints[len(view)])
        engine.update(float(view.high[-1]), float(view.low[-1]), 1e6, 0.01, 0.55, 1.0, 2e5)
        np.testing.assert_array_equal(got.predictions, want.predictions)
        assert {name: len(getattr(kernel, name).signatures) for name in compiled_for} == compiled_for
    finally:
        compiled.MODE, compiled.replay, compiled.step, compiled.snapshot = saved
