"""Sorts database errors into temporary (retry the batch) and data (isolate the rows) (pure)."""

from __future__ import annotations

from enum import Enum

import psycopg
from psycopg import errors


class ErrorKind(Enum):
    TEMPORARY = "temporary"  # connection lost, server restarting, lock timeout: retry as is
    DATA = "data"  # a value the database refuses: split the batch, dead-letter the culprit


# SQLSTATE classes of errors caused by the data itself rather than by the server or our SQL.
_DATA_CLASSES = ("22", "23")  # data exception, integrity constraint violation


def classify(err: BaseException) -> ErrorKind:
    """Temporary unless the database refused the data itself.

    Anything unexpected (a missing table, a permission) counts as temporary too: the batch
    is retried with back-off and the error logged, never dropped or dead-lettered wholesale.
    """
    if isinstance(err, (errors.DataError, errors.IntegrityError)):
        return ErrorKind.DATA
    if isinstance(err, psycopg.Error):
        state = getattr(err, "sqlstate", None) or ""
        if state[:2] in _DATA_CLASSES:
            return ErrorKind.DATA
    return ErrorKind.TEMPORARY


def describe(err: BaseException) -> str:
    """A short reason for logs and dead letters: the server's primary message when there is one."""
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(err) or type(err).__name__
    return text.replace("\x00", "").strip().splitlines()[0][:500] if text.strip() else type(err).__name__
