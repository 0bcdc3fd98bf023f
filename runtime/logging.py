"""One log stream: structlog for our code, stdlib (Temporal, uvicorn, FastAPI) routed through it.

Console renderer in a terminal, JSON otherwise. Personal data (resident ID numbers,
mobiles) is masked before anything is rendered: in the event, in every nested value,
in the formatted arguments of stdlib records and in exception tracebacks. The API and
the worker both call ``configure_logging`` at start.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any
from urllib.parse import unquote

import structlog

# GB 11643: 6 digits of region, 8 of birth date, 3 of sequence, a check character (digit or X).
_ID_RE = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
# Mainland mobiles: 11 digits from 13… to 19…, alone or after 86 / +86 / 0086 / 86-.
_MOBILE_RE = re.compile(r"(?:(?<!\d)|(?<=(?<!\d)86)|(?<=0086)|(?<=86-))(1[3-9]\d)\d{4}(\d{4})(?!\d)")

# Loggers that may bring handlers of their own (uvicorn's dictConfig): they must write into this stream.
_ADOPTED = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "fastapi", "starlette")
# Chatty at INFO (a line per HTTP request the worker makes).
_QUIET = ("httpx", "httpcore")
# Keys ProcessorFormatter puts into an event dict for its own use: not data.
_META = frozenset({"_record", "_from_structlog"})


def mask_text(text: str) -> str:
    """Mask resident ID numbers (``140121********0213``: first 6, last 4) and mobiles (``138****0421``).

    Percent-encoded text (a query string in an access log line) is decoded first when that reveals
    one, so ``%31%34…`` cannot slip through.
    """
    masked = _mask_plain(text)
    if "%" in masked:
        decoded = unquote(masked)
        decoded_masked = _mask_plain(decoded)
        if decoded_masked != decoded:
            return decoded_masked
    return masked


def _mask_plain(text: str) -> str:
    text = _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {_mask(k): _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_mask(v) for v in value)
    if value is None or isinstance(value, (bool, float)):
        return value
    # Anything else is rendered by its str/repr (an int mobile, a model, an exception): mask what that shows.
    shown = str(value) if isinstance(value, int) else repr(value)
    masked = mask_text(shown)
    return value if masked == shown else masked


def mask_personal_data(_logger: Any, _method: str, event_dict: dict) -> dict:
    """structlog processor: mask ID numbers and mobiles in every value of the event dict."""
    return {k: v if k in _META else _mask(v) for k, v in event_dict.items()}


class _CurrentStdout:
    """Writes to ``sys.stdout`` as it is when a line is written (a test's capture, a redirect)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()


def shared_processors() -> list:
    """What every line goes through, ours and stdlib's alike; masking comes after tracebacks are formatted."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=False),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]


def configure_logging(fmt: str = "auto", level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route structlog and every stdlib logger into one handler on ``stream`` (stdout by default).

    Idempotent: calling it again (uvicorn applied its own logging config meanwhile) takes the
    stdlib loggers back. Levels uvicorn set on its loggers (``--log-level``) are kept.
    """
    out: Any = stream if stream is not None else _CurrentStdout()
    tty = bool(getattr(out, "isatty", lambda: False)())
    if fmt == "auto":
        fmt = "console" if tty else "json"
    shared = shared_processors()
    renderer = (
        structlog.dev.ConsoleRenderer(colors=tty)
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]  # only this one: another (basicConfig's) would write unmasked lines
    root.setLevel(level.upper())
    for name in _ADOPTED:
        adopted = logging.getLogger(name)
        if adopted.handlers:  # its own handlers (uvicorn's dictConfig): into this stream instead
            adopted.handlers.clear()
            adopted.propagate = True
        # no handlers and not propagating: silenced on purpose (uvicorn --no-access-log), left so
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
