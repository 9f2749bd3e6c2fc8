"""A tables folder that cannot be looked into holds no refreshed table: the shipped ones serve, so even
``liqheat calc`` works with $LIQHEAT_HOME a file or under an unreadable home (issue #12, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqheat.model import DomainError, Market
from liqheat.venues import tables

BTC = Market("BTC", "USDT", "USDT")


def test_liqheat_home_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "home").write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("LIQHEAT_HOME", str(tmp_path / "home"))
    assert tables.local() == {}
    assert tables.lookup("binance", BTC) is tables.shipped()[("binance", BTC.unified)]


def test_unreadable_home_falls_back_to_the_shipped_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root a chmod 000 folder stays readable, so the refusal the OS gives other users is played here."""
    monkeypatch.delenv("LIQHEAT_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "locked" / "me"))
    real = Path.is_dir

    def is_dir(self: Path) -> bool:
        if str(self).startswith(str(tmp_path / "locked")):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    assert tables.local() == {}
    assert tables.lookup("binance", BTC).table.venue == "binance"


def test_no_home_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIQHEAT_HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert tables.local() == {}
    with pytest.raises(DomainError, match="set LIQHEAT_HOME"):
        tables.local_dir()  # `tables refresh` has nowhere to write: it says so
