"""The server's logs: one line per event, each with the request id it belongs to, as
text for people or as JSON for a log pipeline (``[log] format``)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from berthing.service.asgi import REQUEST_ID

__all__ = ["FORMATS", "configure"]

FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = ["asctime", "levelname", "name", "request_id", "process", "message"]


class _RequestId(logging.Filter):
    """Stamp every record with the id of the request being served ("-" outside one);
    a filter on the handler, so that library loggers get it too."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure(level: str, fmt: str) -> None:
    """Replace whatever logging was set up before (the command line's default) with the
    server's: to stderr, at ``level``, in ``fmt``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestId())
    if fmt == "json":
        handler.setFormatter(JsonFormatter(_JSON_FIELDS, rename_fields={"levelname": "level"}))
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
