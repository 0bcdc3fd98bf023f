"""One log stream: structlog for our code, stdlib (Temporal, uvicorn) routed through it.

Console renderer in a terminal, JSON otherwise. Personal data (resident ID numbers,
mobiles) is masked before anything is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_text(text: str) -> str:
    """Mask resident ID numbers (keep region and last four) and mobiles (keep 3 + 4)."""
    text = _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask(v) for v in value)
    return value


def mask_personal_data(_logger: Any, _method: str, event_dict: dict) -> dict:
    return {k: _mask(v) for k, v in event_dict.items()}


_configured = False


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    global _configured
    if fmt == "auto":
        fmt = "console" if sys.stdout.isatty() else "json"
    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=False),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]
    renderer = (
        structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True
