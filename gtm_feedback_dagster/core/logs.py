"""Log output of the CLI and the intake service: Python's default text, or one JSON object per
line (`GTM_FEEDBACK_LOG_FORMAT=json`, read by config.log_format) for a log collector.

`JsonFormatter` is a small stdlib formatter written here (no extra dependency): `ts` (UTC,
ISO 8601), `level`, `logger`, `message`, `exc_info` when there is one, uvicorn's access-log fields
(`client`, `method`, `path`, `status`) and any `extra={...}` fields. The same class formats the
Dagster run logs when `deploy/dagster.yaml`'s `python_logs.dagster_handler_config` block is on.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, one line each."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            entry.update(zip(_ACCESS_FIELDS, map(_plain, args), strict=True))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=repr)


def logging_config(fmt: str, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the root logger and uvicorn's loggers (uvicorn takes
    it as `log_config`, and re-applies it in every `--workers` process)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level},
        "loggers": {
            name: {"handlers": ["main"], "level": level, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(fmt: str, level: str = "INFO") -> None:
    """Apply the format to this process (the CLI does it for `json`; `text` keeps Python's
    defaults and uvicorn's own format)."""
    if fmt == "json":
        logging.config.dictConfig(logging_config(fmt, level))
    elif fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
