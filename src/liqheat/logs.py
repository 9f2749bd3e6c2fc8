"""Logging, configured once per process: rich lines on a terminal, JSON lines otherwise (a service's journal or
a container's log collector reads one object per line), at one level for liqheat's and uvicorn's loggers."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
OURS = ("liqheat", "uvicorn", "uvicorn.error", "uvicorn.access")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the extra fields given, and the
    exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure(level: str = "info", *, json_lines: bool | None = None, stream: Any = None) -> logging.Handler:
    """Send liqheat's and uvicorn's records at ``level`` and above to one handler (replacing any this set
    before): rich when ``stream`` (default stderr) is a terminal, JSON lines otherwise or when ``json_lines``."""
    from liqheat.model import DomainError

    if level not in LEVELS:
        raise DomainError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}", param="log_level")
    stream = stream if stream is not None else sys.stderr
    as_json = json_lines if json_lines is not None else not getattr(stream, "isatty", lambda: False)()
    handler: logging.Handler
    if as_json:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonLines())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=stream), show_path=False, rich_tracebacks=False)
    handler.set_name("liqheat")
    for name in OURS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "liqheat" or name.startswith("uvicorn")]:
            logger.removeHandler(old)
        logger.setLevel(level.upper())
        if name in ("liqheat", "uvicorn"):
            logger.addHandler(handler)
            logger.propagate = False
        else:
            logger.propagate = True  # to "uvicorn", whose handler is ours
    return handler
