"""Addresses from recorded trades, liquidation fills, the leaderboard file and lists; bad input named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqheat.model import DomainError
from liqheat.venues.hyperliquid.discovery import gather, read_fills, read_trades, trade_users

HERE = Path(__file__).parent / "positions"
SHARED_LIQUIDATIONS = Path(__file__).resolve().parents[3].parent / "shared/data/raw/hyperliquid-liquidation-orders-2025-05"
A = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
B = "0xb7b6f3cea3f66bf525f5d8f965f6dbf6d9b017b2"


def test_trades_give_both_users_of_every_fill_lower_cased() -> None:
    assert read_trades(HERE / "trades.jsonl") == [B, A, "0xcb331197e84f135ab9ed6fb51cd9757c0bd29d0d", B,
                                                  "0x31ca8395cf837de08b24da3f660e77761dfb974b", B]  # fmt: skip


def test_liquidation_fills_give_the_liquidated_user_only() -> None:
    assert read_fills(HERE / "liquidation-fills.jsonl") == ["0x63e8c7c149556d5f34f833419a287bb9ef81487f", A]


def test_every_source_together_each_address_once_under_the_first_source(tmp_path: Path) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text(f"# whales\n{A.upper().replace('0X', '0x')}\n\n{'0x' + '12' * 20}  # a note\n")
    book = gather(addresses=[B], lists=[listed], trades=[HERE / "trades.jsonl"], fills=[HERE / "liquidation-fills.jsonl"],
                  leaderboard=str(HERE / "leaderboard.json"))  # fmt: skip
    assert len(book) == 7
    assert book.sources[B] == "given"
    assert book.sources[A] == "list"
    assert book.counts() == {"given": 1, "list": 2, "trades": 2, "liquidations": 1, "leaderboard": 1}


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"channel": "trades", "data": [{"users": ["0x12"]}]}, "data[0]: field 'users' must be [buyer, seller]"),
        ({"channel": "trades", "data": [{"users": ["0x12", B]}]}, "users must be a 0x address of 40 hex digits, got '0x12'"),
        ({"channel": "trades", "data": {}}, "field 'data' must be a list of trades"),
        ([], "must be a JSON object with channel and data"),
    ],
)
def test_malformed_trades_are_refused_naming_the_field(message: object, error: str) -> None:
    with pytest.raises(DomainError, match=None) as info:
        trade_users(message)
    assert error in str(info.value)


def test_bad_lines_are_named_with_the_option_they_came_from(tmp_path: Path) -> None:
    bad = tmp_path / "trades.jsonl"
    bad.write_text('{"channel": "pong"}\n{"channel": "trades", "data": [\n')
    with pytest.raises(DomainError, match=r"trades\.jsonl: line 2: not JSON") as info:
        gather(trades=[bad])
    assert info.value.param == "trades"
    listed = tmp_path / "list.txt"
    listed.write_text(f"{A}\nnot-an-address\n")
    with pytest.raises(DomainError, match=r"list\.txt: line 2: address must be a 0x address of 40 hex digits") as info:
        gather(lists=[listed])
    assert info.value.param == "addresses"
    with pytest.raises(DomainError, match=r"leaderboard .*nope\.json: cannot read"):
        gather(leaderboard=str(tmp_path / "nope.json"))


def test_a_fills_csv_without_addresses_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "liquidations.csv"
    path.write_text("timestamp,venue,coin,side,size_usd,price\n2025-05-25 14:36:58.596+00:00,hyperliquid,HYPE,S,101.2,38.5\n")
    with pytest.raises(DomainError, match=r"no address column .*it has timestamp, venue, coin, side, size_usd, price"):
        read_fills(path)
    path.write_text(f"timestamp,user\n2025-05-25,{A}\n2025-05-26,0xzz\n")
    with pytest.raises(DomainError, match=r"liquidations\.csv: row 3: user must be a 0x address"):
        read_fills(path)


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_LIQUIDATIONS.is_dir(), reason=f"needs {SHARED_LIQUIDATIONS}")
def test_the_shared_liquidation_orders_name_no_address() -> None:
    with pytest.raises(DomainError, match="no address column"):
        read_fills(SHARED_LIQUIDATIONS / "liquidations.csv")


def test_the_live_trades_stream_subscribes_per_coin_finds_users_and_reconnects_after_a_drop() -> None:
    """A local websocket replays the recorded messages, drops the first connection, then replays them again."""
    import json
    import threading

    from websockets.sync.server import ServerConnection, serve

    from liqheat.venues.hyperliquid.discovery import stream_trades

    lines = (HERE / "trades.jsonl").read_text().splitlines()
    received: list[str] = []
    connections: list[int] = []
    found: list[list[str]] = []
    stop = threading.Event()

    def handler(ws: ServerConnection) -> None:
        connections.append(1)
        received.extend(str(ws.recv()) for _ in range(2))
        for line in lines:
            ws.send(line)
        ws.send("not json")  # skipped, with a warning
        if len(connections) == 1:
            return  # a drop: the client reconnects
        while not stop.is_set():
            stop.wait(0.05)

    def seen(users: list[str]) -> None:
        found.append(users)
        if len(found) == 4:
            stop.set()

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        thread = threading.Thread(target=stream_trades, args=(["BTC", "ETH"], seen, stop), kwargs={"url": url})
        thread.start()
        thread.join(timeout=30)
        stop.set()
        server.shutdown()
    assert not thread.is_alive()
    assert [json.loads(m) for m in received[:2]] == [
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "ETH"}},
    ]
    assert len(connections) == 2
    assert found[0] == [B, A]
    assert found[2] == found[0]
