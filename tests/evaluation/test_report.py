"""`liqheat report`: the figures it gathers add up, and the page stands alone (no script, no network)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.engine.test_replay import synthetic_bundle
from tests.helpers import run

from liqheat.bundle import read_bundle, write_bundle
from liqheat.evaluation.report import MIN_BUCKETS, build
from liqheat.render.report import render


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(synthetic_bundle(n=24 * 40 + 3, seed=4, start="2026-01-20T00:00:00Z"), tmp_path_factory.mktemp("r") / "b")


@pytest.fixture(scope="module")
def data(folder: Path) -> dict[str, Any]:
    return build([read_bundle(folder)], every_hours=6, draws=100)


def test_months_partition_the_scored_buckets(data: dict[str, Any]) -> None:
    (b,) = data["bundles"]
    assert [m["month"] for m in b["months"]] == ["2026-01", "2026-02", "2026-03"]
    for side in ("long", "short"):
        assert sum(m[side]["buckets"] for m in b["months"]) == b[side]["buckets"]
        for m in b["months"]:
            assert (m[side]["model"] is None) == (m[side]["buckets"] < MIN_BUCKETS)
        assert b["months"][-1][side]["buckets"] == 3  # March's three hours: listed, not scored
    assert data["params"]["venue"] == "binance"
    assert set(data["reach"]) == {"4h", "24h", "72h"}
    assert data["sweeps"]["pooled"]["events"] >= 0


def test_the_page_is_self_contained_and_escapes_its_text(data: dict[str, Any]) -> None:
    hostile = {**data, "bundles": [{**data["bundles"][0], "name": "<img src=x onerror=alert(1)>"}]}
    page = render(hostile)
    assert "<script" not in page.lower()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"(src|href)=\"(?!data:)", page), "every image is embedded"
    for heading in ("Score on realized liquidations", "Per calendar month", "How likely a cluster is reached",
                    "After a sweep", "Parameters and data"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in page


def test_the_command_writes_the_page(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("report", folder, "--out", out, "--every", "6h", "--draws", "100")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    bad = run("report", folder, "--out", tmp_path)
    assert bad.exit_code == 2
    assert "--out" in bad.output
