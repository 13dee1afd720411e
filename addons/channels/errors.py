"""How a channel reports a failure: to the client as JSON, to the log without patient data."""
from __future__ import annotations

import logging

from sanic import response
from sanic.response import HTTPResponse


def json_error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """The error's type at ERROR; its message and traceback (which can quote a
    phone number, e.g. in SQL parameters) only at DEBUG."""
    logger.error("%s: %s.", what, type(error).__name__)
    logger.debug("%s.", what, exc_info=error)
