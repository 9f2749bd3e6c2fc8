"""A venue failure reaches the user of ``liqheat follow`` and ``liqheat tables refresh`` as one line that
names the venue, the call and the reason (exit 2), not a traceback. (``liqheat fetch``: test_fetch_faults.)
Venues are replayed below ccxt (tests/sources/wsreplay.py), so the error is ccxt's, translated by liqheat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccxt
import pytest
from typer.testing import CliRunner, Result

import liqheat.cli.store_cmds  # noqa: F401  (registers the commands)
from liqheat.cli.main import app
from liqheat.model import Market
from liqheat.sources import registry
from liqheat.sources.ccxt import CcxtSource
from sources.wsreplay import Replay, Request


def invoke(monkeypatch: pytest.MonkeyPatch, replay: Replay, args: list[str]) -> Result:
    def open_source(venue: str, market: Market, exchange: Any = None, **kwargs: Any) -> CcxtSource:
        assert (venue, market) == (replay.source.venue, replay.source.market)
        return replay.source

    monkeypatch.setattr(registry, "open_source", open_source)
    return CliRunner().invoke(app, args)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_follow_stops_on_a_refused_subscription_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def okx_empty(request: Request) -> dict[str, Any]:
        return {"code": "0", "msg": "", "data": []}

    replay = Replay(
        "okx",
        "BTC-USDT-SWAP",
        {"candle1m": [[]], "liquidation-orders": [[{"event": "error", "msg": "Invalid OK-ACCESS-KEY", "code": "60005"}]]},
        {
            "/api/v5/market/candles": okx_empty,  # the last hour, on the wall clock
            "/api/v5/rubik/stat/contracts/open-interest-history": okx_empty,
            "/api/v5/public/funding-rate-history": okx_empty,
        },
    )
    result = invoke(monkeypatch, replay, ["follow", "--venue", "okx", "--symbol", "BTC-USDT-SWAP", "--store", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "error: okx watch_liquidations BTC/USDT:USDT: AuthenticationError: okx" in flat(result.output)
    assert "60005" in result.output
    assert "Traceback" not in result.output


def test_tables_refresh_says_which_call_the_venue_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQHEAT_HOME", str(tmp_path))

    def refused(request: Request) -> Any:  # what ccxt's bybit raises for {"retCode": 10001, ...}
        raise ccxt.BadRequest('bybit {"retCode":10001,"retMsg":"params error: category is invalid","result":{}}')

    replay = Replay("bybit", "BTCUSDT", rest={"/v5/market/risk-limit": refused})
    result = invoke(monkeypatch, replay, ["tables", "refresh", "--venue", "bybit", "--symbol", "BTCUSDT"])
    assert result.exit_code == 2, result.output
    assert flat(result.output) == (
        'error: bybit fetch_market_leverage_tiers BTC/USDT:USDT: BadRequest: bybit {"retCode":10001,'
        '"retMsg":"params error: category is invalid","result":{}}'
    )
    assert replay.slept == []  # not worth retrying
    assert not (tmp_path / "tables").exists()
