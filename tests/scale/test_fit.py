"""``liqheat fit`` on Dask: each coordinate's candidates are tasks on the cluster's workers (the bundles sent once),
and the fit is the single-process one bit for bit: the same parameters, the same scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from api.data import build_bundle
from liqheat.bundle import write_bundle
from liqheat.cli.main import app
from liqheat.evaluation.fit import Split, fit
from liqheat.model import DomainError
from liqheat.scale.fit import candidates_on, connect

GRID = {"half_life_hours": (12.0, 48.0, 96.0), "leverage_median": (10.0, 25.0), "intra_sweep": (0.5, 1.0)}


def test_a_fit_whose_candidates_run_on_two_workers_is_the_single_process_fit() -> None:
    splits = [Split.halves(build_bundle(n=10 * 24, seed=s)) for s in (7, 8)]
    here = fit(splits, grid=GRID, passes=2)
    asked: list[int] = []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        on_cluster = candidates_on(client, splits)

        def counted(candidates: list) -> list[float]:  # type: ignore[type-arg]
            asked.append(len(candidates))
            return on_cluster(candidates)

        there = fit(splits, grid=GRID, passes=2, evaluate=counted)
    assert there.params == here.params
    assert there.evaluations == here.evaluations
    assert {k: r.to_dict() for k, r in there.fit.items()} == {k: r.to_dict() for k, r in here.fit.items()}
    assert {k: r.to_dict() for k, r in there.check.items()} == {k: r.to_dict() for k, r in here.check.items()}
    assert asked[0] == 1  # the start, then a coordinate's candidates at once (all but the best)
    assert max(asked) == 2


def test_the_fit_command_on_a_local_cluster_prints_the_fit_it_prints_in_one_process(tmp_path: Path) -> None:
    folder = write_bundle(build_bundle(n=10 * 24, seed=7), tmp_path / "b", fmt="csv")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("liqheat.evaluation.fit.DEFAULT_GRID", {"half_life_hours": (24.0, 96.0)})
        here = CliRunner().invoke(app, ["fit", str(folder), "--json"])
        there = CliRunner().invoke(app, ["fit", str(folder), "--json", "--workers", "2"])
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert json.loads(there.stdout) == json.loads(here.stdout)


def test_bad_cluster_options_are_named() -> None:
    with pytest.raises(DomainError, match="workers must be ≥ 1") as raised:
        connect(None, 0)
    assert raised.value.param == "workers"
    result = CliRunner().invoke(app, ["fit", "nowhere", "--workers", "-1"])
    assert result.exit_code == 2
    assert "--workers must be ≥ 0, got -1" in result.output
