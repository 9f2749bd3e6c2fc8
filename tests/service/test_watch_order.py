"""The watch loop's order after candles close together: those within a rule's reach first, then the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from liqheat.service.config import config_from
from liqheat.service.run import Service


def service(tmp_path: Path) -> tuple[Service, list[str]]:
    config = config_from({"store": {"path": str(tmp_path / "store")},
                          "markets": [{"venues": ["binance"], "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]}],
                          "alerts": [{"rule": "near", "within_pct": 1.0, "min_usd": 1e6}],
                          "destinations": {"hook": {"webhook": "http://127.0.0.1:9/hook", "secret": "s" * 16}}},
                         "test")  # fmt: skip
    s = Service(config, follow=False)
    order: list[str] = []

    def refresh(only: Any = None) -> list[str]:
        if only is not None:
            order.extend(only)
        return list(only or [])

    s.registry.refresh = refresh  # type: ignore[method-assign]
    s._evaluated = lambda market_id: 0  # type: ignore[method-assign]
    s.sync = lambda: []  # type: ignore[method-assign]
    return s, order


def candle(low: float, high: float) -> pd.DataFrame:
    return pd.DataFrame({"ts": [pd.Timestamp("2026-01-05T00:00:00Z")], "open": [low], "high": [high], "low": [low],
                         "close": [high]})  # fmt: skip


def test_candles_within_reach_are_taken_first_then_the_rest_in_the_order_written(tmp_path: Path) -> None:
    s, order = service(tmp_path)
    s._reach = {"a": [(99.0, 101.0)], "b": [(99.0, 101.0)], "c": [(49.0, 51.0)], "d": [(0.0, 10.0)]}
    s.written("a", "candles", candle(90.0, 95.0))  # 4 % below the range: later
    s.written("b", "candles", candle(80.0, 81.0))  # later
    s.written("c", "candles", candle(50.5, 52.0))  # within: first
    s.written("d", "candles", candle(10.02, 12.0))  # 0.2 % above its range: the quote's slack takes it in
    s.written("e", "candles", candle(1.0, 2.0))  # never evaluated: cannot tell, so within
    s.step()
    assert order == ["c", "d", "e", "a", "b"]


def test_a_rule_that_cannot_tell_or_rows_without_prices_keep_the_order_written(tmp_path: Path) -> None:
    s, order = service(tmp_path)
    s._reach = {"a": None, "b": [(99.0, 101.0)], "c": [(99.0, 101.0)]}
    s.written("b", "candles", candle(1.0, 2.0))
    s.written("a", "candles", candle(1.0, 2.0))
    s.written("c", "candles", pd.DataFrame({"ts": [pd.Timestamp("2026-01-05T00:00:00Z")], "close": [1.0]}))
    s.written("b", "liquidations", None)
    s.step()
    assert order[:3] == ["a", "c", "b"]
    assert s.within_reach("b", candle(float("nan"), 2.0))  # a price missing: cannot tell
