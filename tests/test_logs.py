"""Logging configured once: JSON lines (one object a line, the extra fields kept) when not on a terminal, one
handler however often it is configured, and a bad level named."""

from __future__ import annotations

import io
import json
import logging

import pytest

from liqheat.logs import configure
from liqheat.model import DomainError


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    out = io.StringIO()
    configure("info", stream=out)
    log = logging.getLogger("liqheat.test")
    log.debug("not shown")
    log.info("alert sent to %s", "webhook", extra={"market": "btc", "rule": "near"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("delivery failed")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/healthz", "1.1", 200)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    access = '127.0.0.1:5 - "GET /healthz HTTP/1.1" 200'
    assert [x["message"] for x in lines] == ["alert sent to webhook", "delivery failed", access]
    first = lines[0]
    assert first["level"] == "info"
    assert first["logger"] == "liqheat.test"
    assert first["market"] == "btc"
    assert first["rule"] == "near"
    assert first["ts"].endswith("Z")
    assert "ValueError: boom" in lines[1]["exception"]
    assert lines[2]["logger"] == "uvicorn.access"


def test_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure("info", stream=first)
    configure("warning", stream=second)
    logging.getLogger("liqheat.x").warning("once")
    logging.getLogger("liqheat.x").info("filtered")
    assert first.getvalue() == ""
    assert [json.loads(line)["message"] for line in second.getvalue().splitlines()] == ["once"]
    assert [h.get_name() for h in logging.getLogger("liqheat").handlers].count("liqheat") == 1  # pytest adds its own


def test_a_terminal_gets_rich_lines() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    configure("info", stream=out)
    logging.getLogger("liqheat.t").info("hello there")
    assert "hello there" in out.getvalue()
    assert not out.getvalue().lstrip().startswith("{")


def test_a_bad_level_is_named() -> None:
    with pytest.raises(DomainError, match="log level must be one of debug, info, warning, error, got 'loud'"):
        configure("loud")
