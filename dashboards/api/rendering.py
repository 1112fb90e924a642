"""Responses of the API: JSON pages with cursor links, CSV tables, times with offsets."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from flask import Response, request

JSON = "application/json"
CSV = "text/csv"


def fmt_time(value: dt.datetime | None, zone: dt.tzinfo) -> str | None:
    """ISO 8601 with an offset (`+00:00` in UTC, `+07:00` in Asia/Ho_Chi_Minh)."""
    if value is None:
        return None
    return value.astimezone(zone).isoformat()


def fmt_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def num(value: float | int | None) -> float | int | None:
    """A JSON-safe number (NaN and infinities, which JSON cannot carry, become null)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def wants_csv(format_param: str | None) -> bool:
    """`format=` decides; without it, `Accept: text/csv` (preferred over JSON) does."""
    if format_param is not None:
        return format_param == "csv"
    return request.accept_mimetypes.best_match([JSON, CSV]) == CSV


def _finite(value):
    """`value` with every NaN or infinity (which JSON cannot carry) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_text(body: object) -> str:
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or infinity somewhere (rare): clean the whole body once
        return json.dumps(_finite(body), ensure_ascii=False, separators=(",", ":"))


def json_response(body: object, status: int = 200, mimetype: str = JSON, headers=None) -> Response:
    return Response(json_text(body), status=status, mimetype=mimetype, headers=headers)


def url_with(**changes: str | None) -> str:
    """This request's URL with some query parameters replaced (None removes one)."""
    args = request.args.copy()
    for name, value in changes.items():
        args.pop(name, None)
        if value is not None:
            args[name] = value
    query = urlencode(list(args.items(multi=True)))
    return request.base_url + (f"?{query}" if query else "")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def csv_text(rows: Sequence[Mapping], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def page_response(
    rows: list[dict],
    *,
    columns: Sequence[str],
    next_cursor: str | None,
    as_csv: bool,
    name: str,
) -> Response:
    """One page of a table: JSON `{data, next_cursor, links}` or CSV, with a `Link: next`."""
    next_url = url_with(cursor=next_cursor) if next_cursor else None
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    if as_csv:
        if next_cursor:
            headers["X-Next-Cursor"] = next_cursor
        headers["Content-Disposition"] = f'inline; filename="{name}.csv"'
        return Response(
            csv_text(rows, columns),
            content_type=f"{CSV}; charset=utf-8",
            headers=headers,
        )
    body = {
        "data": rows,
        "next_cursor": next_cursor,
        "links": {"self": request.url, "next": next_url},
    }
    return json_response(body, headers=headers)
