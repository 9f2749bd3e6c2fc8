"""The engine's map against the exact map of stored Hyperliquid positions: the distances, magnitudes and the
leverage the positions reveal, computed here again from the parts; bad asks named; the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.data import BARE, SYN
from helpers import hl_state
from liqheat.analytics.exact import StoredPositions
from liqheat.analytics.maps import market_map
from liqheat.bundle import write_bundle
from liqheat.evaluation.onchain import band_shares, compare_exact
from liqheat.evaluation.truth import emd_pct
from liqheat.model import DomainError
from liqheat.store.parquet_store import Store
from liqheat.venues.hyperliquid.tracker import Recorder

AS_OF = SYN.candles["ts"].iloc[-48]
LAST = float(SYN.candles["close"].iloc[-1])
LOW = float(SYN.candles["low"].iloc[-48:].min())
HIGH = float(SYN.candles["high"].iloc[-48:].max())
# (user, size, liquidation price, leverage)
POSITIONS = [("0xa", 2.0, LOW * 0.9, 5.0), ("0xb", 1.0, LOW * 0.97, 20.0), ("0xc", -1.5, HIGH * 1.05, 60.0)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("hl") / "store")
    recorder = Recorder(frozenset({"BTC"}))
    for user, size, liq, lev in POSITIONS:
        state = hl_state(user, size, liq, LAST)
        position = state.positions[0]  # type: ignore[attr-defined]
        object.__setattr__(position, "leverage", lev)
        recorder.record(state, AS_OF)
    with store.writer():
        recorder.flush(store)
    return store


def test_the_comparison_is_its_parts(store: Store) -> None:
    got = compare_exact(SYN, StoredPositions(store.root, "BTC"))
    mm = market_map(SYN, history_points=0)
    est_long, est_short = mm.at_risk()
    exact_long, exact_short = np.zeros(len(mm.edges) - 1), np.zeros(len(mm.edges) - 1)
    for _, size, liq, _ in POSITIONS:
        i = int(np.searchsorted(mm.edges, liq, side="right")) - 1
        (exact_long if size > 0 else exact_short)[i] += abs(size) * liq
    assert got.emd_long == pytest.approx(emd_pct(est_long, exact_long, mm.edges))
    assert got.emd_short == pytest.approx(emd_pct(est_short, exact_short, mm.edges))
    assert got.exact_long_usd == pytest.approx(2.0 * LOW * 0.9 + 1.0 * LOW * 0.97)
    assert got.exact_short_usd == pytest.approx(1.5 * HIGH * 1.05)
    assert got.estimated_long_usd == pytest.approx(float(est_long.sum()))
    assert got.positions == 3
    assert got.coverage is None
    assert got.scaled("long") is None
    notional = np.array([abs(s) * liq for _, s, liq, _ in POSITIONS])
    lev = np.array([p[3] for p in POSITIONS])
    assert got.revealed == pytest.approx((notional[0] / notional.sum(), notional[1] / notional.sum(), 0.0,
                                          notional[2] / notional.sum()))  # fmt: skip
    mean = float(np.average(np.log(lev), weights=notional))
    assert got.fitted_median == pytest.approx(math.exp(mean))
    assert got.fitted_sigma == pytest.approx(math.sqrt(float(np.average((np.log(lev) - mean) ** 2, weights=notional))))
    assert sum(got.assumed) == pytest.approx(1.0)
    assert got.to_dict()["leverage"]["bands"] == ["< 10×", "10–25×", "25–50×", "≥ 50×"]


def test_band_shares_are_half_open() -> None:
    assert band_shares(np.array([10.0, 25.0, 50.0, 9.99]), np.ones(4)) == (0.25, 0.25, 0.25, 0.25)


def test_a_time_before_any_read_and_another_coin_are_named(store: Store) -> None:
    with pytest.raises(DomainError, match="hyperliquid: no positions read by") as raised:
        compare_exact(SYN, StoredPositions(store.root, "BTC"), at=AS_OF - pd.Timedelta(hours=3))
    assert raised.value.param == "at"
    with pytest.raises(DomainError, match="the bundle is on ETH, the positions on BTC") as raised:
        compare_exact(BARE, StoredPositions(store.root, "BTC"))
    assert raised.value.param == "coin"


def test_the_command_prints_the_comparison_and_its_json(store: Store, tmp_path: Path) -> None:
    import liqheat.cli.onchain  # noqa: F401  (registers the group)
    from liqheat.cli.main import app

    folder = write_bundle(SYN, tmp_path / "syn", fmt="csv")
    args = ["onchain", "compare", str(folder), "--store", str(store.root)]
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    direct = compare_exact(SYN, StoredPositions(store.root, "BTC")).to_dict()
    assert data["emd_pct"] == pytest.approx(direct["emd_pct"])
    assert data["leverage"]["revealed"] == pytest.approx(direct["leverage"]["revealed"])
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert max(len(line) for line in text.stdout.splitlines()) <= 80
    assert "fitted to the positions: --set leverage_median=" in text.stdout
    early = (AS_OF - pd.Timedelta(hours=3)).isoformat()
    bad = CliRunner().invoke(app, [*args, "--at", early])
    assert bad.exit_code == 2
    assert "no positions read by" in bad.output
    outside = CliRunner().invoke(app, [*args, "--at", "2020-01-01"])
    assert outside.exit_code == 2
    assert "is outside the bundle" in outside.output
