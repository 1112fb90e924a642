"""The /api/v1 views: parse the query, run one query function, render JSON or CSV.

Views stay thin: parameters are validated by `params`, SQL lives in `queries` (alerts: the
alerts read model, `alerts.queries`), the NGSI-LD mapping in `ngsi_ld`, shapes in `responses`,
output in `rendering`. `OPERATIONS` at the end is the list of routes: each one's rule, view,
token scope, query model and response model; it registers the routes (`build_blueprint`) and
is what the OpenAPI document is generated from (`openapi`). The module is long because it
holds one view per endpoint (17) and that list; each view is short.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable, Sequence

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from alerts import queries as alert_queries
from dashboards.api import auth_bridge as auth
from dashboards.api import ngsi_ld, queries
from dashboards.api import responses as shapes
from dashboards.api.cursors import decode_cursor, encode_cursor
from dashboards.api.db import connection, current_settings, live, redis_errors
from dashboards.api.openapi import Operation, PathParameter, build_document
from dashboards.api.param_types import IDENT, LAYER
from dashboards.api.params import (
    BUCKET_STEP,
    PROVINCE,
    AlertsQuery,
    DevicesQuery,
    IncidentsQuery,
    KpiImportQuery,
    KpiTargetsQuery,
    KpiValuesQuery,
    LatestQuery,
    NgsiEntityQuery,
    NgsiQuery,
    NoQuery,
    Query,
    ReadingsQuery,
    TzQuery,
)
from dashboards.api.problems import (
    INVALID_BODY,
    ApiProblem,
    ParameterError,
    invalid,
    not_found,
    problem_body,
    problem_response,
)
from dashboards.api.query_parsing import parse_query
from dashboards.api.rendering import (
    fmt_date,
    fmt_time,
    json_response,
    num,
    page_response,
    url_with,
    wants_csv,
)

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 10 * 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_BIGINT = 2**63 - 1


# -- helpers ----------------------------------------------------------------------------------
def _after(query: Query, kinds: Sequence[str]) -> list | None:
    cursor = getattr(query, "cursor", None)
    return None if cursor is None else decode_cursor(cursor, query.filters(), kinds)


def _page(rows: list, query: Query, key: Callable[[object], Sequence]) -> tuple[list, str | None]:
    """The rows of this page, and the cursor of the next one (rows has limit+1 at most)."""
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, encode_cursor(key(rows[-1]), query.filters())


def _located_page(data: list[dict], query, cursor, columns, name: str):
    """A page of things with a location: JSON as they are, CSV with the point as lon/lat."""
    as_csv = wants_csv(query.format)
    return page_response([_flatten_location(d) for d in data] if as_csv else data,
                         columns=columns, next_cursor=cursor, as_csv=as_csv, name=name)


def _flatten_location(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k != "location"}
    point = row.get("location")
    out["lon"], out["lat"] = point["coordinates"] if point else (None, None)
    return out


# -- the blueprint ---------------------------------------------------------------------------
def _guarded(op: Operation):
    """The view behind the token check its operation declares."""
    if op.public:
        return op.view
    if op.scope is None:  # NGSI-LD: the scope depends on the entity type asked for
        return auth.require_token()(op.view)
    return auth.require_scope(op.scope)(op.view)


def build_blueprint() -> Blueprint:
    """A fresh blueprint (the scope decorators are resolved now, when the app is built)."""
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
    for op in OPERATIONS:
        bp.add_url_rule(op.rule, endpoint=op.view.__name__, view_func=_guarded(op),
                        methods=[op.method.upper()])
    # Anything else under /api/v1 is a 404 (or a 405) here, not a page of the Dash app.
    bp.add_url_rule("/", view_func=no_such_endpoint, defaults={"rest": ""})
    bp.add_url_rule("/<path:rest>", view_func=no_such_endpoint)
    return bp


@functools.cache
def _routes() -> Map:
    """The API's own rules, without the catch-all (to tell a 405 from a 404)."""
    return Map([Rule("/api/v1" + op.rule, methods=[op.method.upper()]) for op in OPERATIONS])


def allowed_methods(path: str) -> list[str] | None:
    """The methods an API path takes (OPTIONS included), or None when it is no endpoint."""
    try:
        _routes().bind("localhost").match(path, method="-")
    except MethodNotAllowed as err:
        return sorted({*(err.valid_methods or ()), "OPTIONS"})
    except NotFound:
        return None
    return None


def no_such_endpoint(rest: str):
    allowed = allowed_methods(request.path)
    if allowed is not None:
        raise ApiProblem(
            405, "Method not allowed",
            f"{request.method} is not allowed on {request.path[:120]}; use {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    raise not_found(
        f"no endpoint {request.path[:120]}; the endpoints are listed in /api/v1/openapi.json"
    )


def openapi():
    parse_query(NoQuery, request.args)
    return json_response(openapi_document(), headers={"Cache-Control": "max-age=300"})


# -- devices ----------------------------------------------------------------------------------
DEVICE_CSV = shapes.csv_columns(shapes.Device)
_device_json = shapes.row_writer(shapes.Device)


def devices():
    query = parse_query(DevicesQuery, request.args)
    after = _after(query, ["str"])
    where = queries.device_filters(
        family=query.family, kind=query.kind, unit_id=query.unit_id, enabled=query.enabled
    )
    with connection() as conn:
        rows = queries.devices_page(conn, where, after[0] if after else None, query.limit)
    rows, cursor = _page(rows, query, lambda r: [r["device_id"]])
    return _located_page([_device_json(r, query.zone) for r in rows], query, cursor, DEVICE_CSV, "devices")


def device(device_id: str):
    query = parse_query(TzQuery, request.args)
    if not IDENT.fullmatch(device_id):
        raise not_found(f"no device {device_id[:80]!r}")
    with connection() as conn:
        row = queries.get_device(conn, device_id)
    if row is None:
        raise not_found(f"no device {device_id!r}")
    return json_response(_device_json(row, query.zone))


# -- readings ---------------------------------------------------------------------------------
# Readings are built as tuples -> dicts in bulk (up to 10,000 a page); their keys are the
# models' fields (tests/unit/test_api_openapi.py checks they stay so).
RAW_CSV = shapes.csv_columns(shapes.Reading)
AGGREGATE_CSV = shapes.csv_columns(shapes.Aggregate)
LATEST_CSV = shapes.csv_columns(shapes.LatestValue)


def ceil_to_step(t: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The first bucket start (origin 2000-01-01 UTC) at or after `t`."""
    n = -((queries.ORIGIN - t) // step)  # ceiling division of timedeltas
    return queries.ORIGIN + n * step


def local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def ceil_to_local_day(t: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The first local midnight at or after `t`."""
    day = t.astimezone(zone).date()
    midnight = local_midnight(day, zone)
    return midnight if midnight >= t else local_midnight(day + dt.timedelta(days=1), zone)


def local_midnights(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> list[dt.datetime]:
    """The bounds of the local days that start in [start, end): their midnights, and the
    midnight after the last one (empty when no day starts in the range)."""
    first, stop = ceil_to_local_day(start, zone), ceil_to_local_day(end, zone)
    if first >= stop:
        return []
    day = first.astimezone(zone).date()
    out = [first]
    while out[-1] < stop:
        day += dt.timedelta(days=1)
        out.append(local_midnight(day, zone))
    return out


def _time_formatter(zone: dt.tzinfo) -> Callable[[dt.datetime], str]:
    """fmt_time for many rows: aggregates of several metrics share their bucket times."""
    return functools.lru_cache(maxsize=4096)(lambda t: t.astimezone(zone).isoformat())


def _aggregates(rows: list[tuple], bucket: str, zone: dt.tzinfo, start_of=None) -> list[dict]:
    """Aggregate rows (start, device, metric, n, sum, min, max, last) as JSON objects."""
    fmt = _time_formatter(zone)
    start_of = start_of or (lambda t: t)
    return [
        {
            "time": fmt(start_of(t)),
            "device_id": device_id,
            "metric": metric,
            "bucket": bucket,
            "count": n,
            "mean": total / n if n else None,
            "min": low,
            "max": high,
            "sum": total,
            "last": last,
        }
        for t, device_id, metric, n, total, low, high, last in rows
    ]


def _readings_key(row: tuple) -> list:
    return [row[1], row[2], row[0]]


def readings():
    query = parse_query(ReadingsQuery, request.args)
    zone, bucket, end = query.zone, query.bucket, query.end_or_now()
    args = (query.device_id, query.metric)
    if bucket == "raw":
        after = _after(query, ["str", "str", "time"])
        with connection() as conn:
            rows = queries.readings_raw(conn, *args, query.start, end, after, query.limit)
        rows, cursor = _page(rows, query, _readings_key)
        fmt = _time_formatter(zone)
        data = [
            {
                "time": fmt(t),
                "device_id": device_id,
                "metric": metric,
                "value": value,
                "value_text": value_text,
                "unit": unit,
            }
            for t, device_id, metric, value, value_text, unit in rows
        ]
        columns = RAW_CSV
    elif bucket == "hour" or (bucket == "day" and query.tz == "UTC"):
        after = _after(query, ["str", "str", "time"])
        with connection() as conn:
            rows = queries.readings_rollup(
                conn, bucket, *args, query.start, end, after, query.limit
            )
        rows, cursor = _page(rows, query, _readings_key)
        data = _aggregates(rows, bucket, zone)
        columns = AGGREGATE_CSV
    elif bucket == "day":
        after = _after(query, ["str", "str", "date"])
        if after is not None:
            after = [after[0], after[1], local_midnight(after[2] + dt.timedelta(days=1), zone)]
        midnights = local_midnights(query.start, end, zone)
        rows = []
        if len(midnights) > 1:
            first = midnights[0].astimezone(zone).date()
            with connection() as conn:
                rows = queries.readings_local_days(conn, midnights, *args, after, query.limit)
            rows = [(first + dt.timedelta(days=i - 1), *rest) for i, *rest in rows]
        rows, cursor = _page(rows, query, _readings_key)
        data = _aggregates(rows, bucket, zone, lambda day: local_midnight(day, zone))
        columns = AGGREGATE_CSV
    else:
        step = BUCKET_STEP[bucket]
        after = _after(query, ["str", "str", "time"])
        if after is not None:
            after = [after[0], after[1], after[2] + step]
        lo, hi = ceil_to_step(query.start, step), ceil_to_step(end, step)
        rows = []
        if lo < hi:
            with connection() as conn:
                rows = queries.readings_binned(conn, step, *args, lo, hi, after, query.limit)
        rows, cursor = _page(rows, query, _readings_key)
        data = _aggregates(rows, bucket, zone)
        columns = AGGREGATE_CSV
    return page_response(
        data,
        columns=columns,
        next_cursor=cursor,
        as_csv=wants_csv(query.format),
        name="readings",
    )


def latest():
    query = parse_query(LatestQuery, request.args)
    after = _after(query, ["str"])
    where = queries.device_filters(
        device_id=query.device_id, family=query.family, kind=query.kind, unit_id=query.unit_id
    )
    with connection() as conn:
        ids = queries.device_ids_page(conn, where, after[0] if after else None, query.limit)
    ids, cursor = _page(ids, query, lambda device_id: [device_id])
    with redis_errors():
        values = live().latest_many(ids)
    wanted = set(query.metric) if query.metric else None
    data = []
    for device_id in ids:
        for metric, item in sorted(values.get(device_id, {}).items()):
            if wanted is not None and metric not in wanted:
                continue
            value = item.value if isinstance(item.value, str) else num(item.value)
            data.append(
                {
                    "device_id": device_id,
                    "metric": metric,
                    "value": value,
                    "time": fmt_time(dt.datetime.fromtimestamp(item.time, dt.UTC), query.zone),
                }
            )
    return page_response(
        data,
        columns=LATEST_CSV,
        next_cursor=cursor,
        as_csv=wants_csv(query.format),
        name="latest",
    )


# -- alerts -----------------------------------------------------------------------------------
ALERT_CSV = shapes.csv_columns(shapes.Alert)
_alert_json = shapes.row_writer(shapes.Alert)


def _sees_camera_alerts() -> bool:
    """Camera alerts (fights, wanted plates) are for tokens with the police scope only."""
    return auth.current_caller().allows(auth.INCIDENTS_READ)


def alerts():
    query = parse_query(AlertsQuery, request.args)
    after = _after(query, ["time", "int"])
    where = alert_queries.api_conditions(
        status=query.status,
        severity=query.severity,
        family=query.family,
        unit_id=query.unit_id,
        device_id=query.device_id,
        rule_id=query.rule_id,
        kind=query.kind,
        top_level=query.top_level,
        start=query.start,
        end=query.end,
        include_camera=_sees_camera_alerts(),
    )
    with connection() as conn:
        rows = alert_queries.alerts_page(conn, where, after, query.limit)
    rows, cursor = _page(rows, query, lambda r: [r.opened_at, r.id])
    return _located_page([_alert_json(r, query.zone) for r in rows], query, cursor, ALERT_CSV, "alerts")


def alert(alert_id: int):
    query = parse_query(TzQuery, request.args)
    if alert_id > MAX_BIGINT:
        raise not_found(f"no alert {alert_id}")
    with connection() as conn:
        row = alert_queries.get_located_alert(
            conn, alert_id, include_camera=_sees_camera_alerts()
        )
        events = alert_queries.alert_history(conn, alert_id) if row else []
    if row is None:
        raise not_found(f"no alert {alert_id}")
    body = _alert_json(row, query.zone)
    body["events"] = [
        {"at": fmt_time(e.at, query.zone), "action": e.action, "note": e.note}
        for e in events
    ]
    return json_response(body)


def cap_feed():
    """The alerts engine's Atom feed of CAP 1.2 messages (alerts.cap_out)."""
    from alerts import cap_out

    parse_query(NoQuery, request.args)
    settings = current_settings()
    with connection() as conn:
        xml = cap_out.cap_feed_xml(
            conn,
            sender=settings.alerts.cap_sender,
            sender_name=settings.alerts.cap_sender_name,
            rules_file=settings.alerts.rules_file,
            self_url=request.base_url,
            timezone=settings.web.timezone,
        )
    return Response(xml, content_type="application/atom+xml; charset=utf-8")


# -- camera incidents (police) ----------------------------------------------------------------
INCIDENT_CSV = shapes.csv_columns(shapes.Incident)
_incident_json = shapes.row_writer(shapes.Incident)


def _audit_incident_read(conn, rows: list[dict]) -> None:
    """Incidents carry whole plates and places (personal data, Decree 13/2023): every read
    is an `incident.read` entry (which incidents, with which query), committed with the
    read's transaction."""
    from ioc.security import audit

    audit.record(
        conn,
        auth.current_caller().actor,
        "incident.read",
        "incidents",
        {
            "via": "api",
            "query": request.args.to_dict(flat=True),
            "count": len(rows),
            "with_plate": sum(1 for r in rows if r["plate"]),
            "incidents": [f"{r['source']}:{r['event_id']}" for r in rows],
        },
        request.remote_addr,
    )


def incidents():
    query = parse_query(IncidentsQuery, request.args)
    after = _after(query, ["time", "str", "str"])
    where = queries.incident_filters(
        device_id=query.device_id,
        label=query.label,
        unit_id=query.unit_id,
        source=query.source,
        open=query.open,
        start=query.start,
        end=query.end,
        watchlist_hit=query.watchlist_hit,
    )
    with connection() as conn:
        rows = queries.incidents_page(conn, where, after, query.limit)
        rows, cursor = _page(rows, query,
                             lambda r: [r["last_update"], r["source"], r["event_id"]])
        _audit_incident_read(conn, rows)
    data = [_incident_json(r, query.zone) for r in rows]
    return page_response(
        data,
        columns=INCIDENT_CSV,
        next_cursor=cursor,
        as_csv=wants_csv(query.format),
        name="incidents",
    )


def snapshot(sha256: str):
    parse_query(NoQuery, request.args)
    if not SHA256.fullmatch(sha256):
        raise not_found("snapshots are named by their SHA-256 (64 lower-case hex digits)")
    with connection() as conn:
        row = queries.get_snapshot(conn, sha256)
        if row is not None:
            from ioc.security import audit

            audit.record(
                conn,
                auth.current_caller().actor,
                "evidence.view",
                f"snapshot:{sha256}",
                {"via": "api"},
                request.remote_addr,
            )
    if row is None:
        raise not_found(f"no snapshot {sha256}")
    return Response(
        bytes(row["content"]),
        mimetype=row["content_type"],
        # evidence is personal data: no copy in any cache, the browser's included
        headers={"Cache-Control": "no-store"},
    )


# -- KPIs -------------------------------------------------------------------------------------
KPI_CSV = shapes.csv_columns(shapes.Kpi)
KPI_VALUE_CSV = shapes.csv_columns(shapes.KpiValue)


def _catalogue():
    """The KPI catalogue with the targets stored per period (`ioc kpi targets`)."""
    from kpi.catalogue import load_catalogue
    from kpi.targets import effective_catalogue

    with connection() as conn:
        return effective_catalogue(conn, load_catalogue())


def _kpi_json(kpi, today: dt.date) -> dict:
    target = kpi.current_target(today)  # today's plan period (the next one, between periods)
    return {
        "id": kpi.id,
        "group": kpi.group,
        "name_vi": kpi.name.vi,
        "name_en": kpi.name.get("en"),
        "unit": kpi.unit.vi,
        "source": kpi.source,
        "higher_is_better": kpi.higher_is_better,
        "target": target.value if target else None,
        "tolerance": kpi.tolerance,
        "due": fmt_date(target.due) if target else None,
        "target_basis": target.basis if target else None,
        "baseline_value": target.baseline.value if target and target.baseline else None,
        "baseline_date": fmt_date(target.baseline.date) if target and target.baseline else None,
        "units": kpi.units,
        "periods": list(kpi.periods),
    }


def kpis():
    query = parse_query(KpiTargetsQuery, request.args)
    catalogue = _catalogue()
    wanted = set(query.kpi_id) if query.kpi_id else None
    today = dt.datetime.now(catalogue.zone).date()
    data = [_kpi_json(k, today) for k in catalogue.kpis if wanted is None or k.id in wanted]
    as_csv = wants_csv(query.format)
    if as_csv:
        data = [{**d, "periods": " ".join(d["periods"])} for d in data]
    return page_response(data, columns=KPI_CSV, next_cursor=None, as_csv=as_csv, name="kpis")


def kpi_values():
    from kpi.catalogue import goal_at, period_end, status_of

    query = parse_query(KpiValuesQuery, request.args)
    after = _after(query, ["str", "str", "str", "str", "date"])
    units = None
    if query.unit_id:
        units = ["" if d == PROVINCE else d for d in query.unit_id]
    where = queries.kpi_filters(
        kpi_id=query.kpi_id,
        unit_id=units,
        period=query.period,
        start=query.start,
        end=query.end,
    )
    with connection() as conn:
        rows = queries.kpi_values_page(conn, where, after, query.limit)
    rows, cursor = _page(
        rows,
        query,
        lambda r: [
            r["kpi_id"],
            r["unit_id"] or "",
            r["breakdown"] or "",
            r["period"],
            r["period_start"],
        ],
    )
    catalogue = _catalogue()
    data = []
    for r in rows:
        kpi = catalogue.get(r["kpi_id"])
        when = period_end(r["period"], r["period_start"])
        own = kpi.target_for(r["period_start"], when) if kpi else None
        data.append(
            {
                "kpi_id": r["kpi_id"],
                "unit_id": r["unit_id"] or None,
                "breakdown": r["breakdown"] or None,
                "period": r["period"],
                "period_start": fmt_date(r["period_start"]),
                "value": num(r["value"]),
                "numerator": num(r["numerator"]),
                "denominator": num(r["denominator"]),
                "note": r["note"],
                "source": r["source"],
                "updated_at": fmt_time(r["updated_at"], dt.UTC),
                "target": own.value if own else None,
                "goal": num(goal_at(kpi, when, r["period_start"])) if kpi else None,
                "status": status_of(kpi, r["value"], when, r["period_start"]) if kpi else None,
            }
        )
    return page_response(
        data,
        columns=KPI_VALUE_CSV,
        next_cursor=cursor,
        as_csv=wants_csv(query.format),
        name="kpi_values",
    )


def _no_nan(text: str):
    raise ValueError(f"{text} is not a number JSON allows")


def _import_body() -> tuple[str, object]:
    """('csv', bytes) or ('json', list of rows) from the request body, or a 400/413/415."""
    length = request.content_length
    if length is not None and length > MAX_IMPORT_BYTES:
        raise ApiProblem(
            413,
            "Content too large",
            f"the body has {length} bytes; at most {MAX_IMPORT_BYTES}; split it",
        )
    data = request.stream.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ApiProblem(413, "Content too large", f"the body exceeds {MAX_IMPORT_BYTES} bytes")
    mimetype = request.mimetype
    if mimetype == "text/csv":
        return "csv", data
    if mimetype not in ("application/json", ""):
        raise ApiProblem(
            415, "Unsupported media type", f"send application/json or text/csv, not {mimetype!r}"
        )
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_nan)
    except (UnicodeDecodeError, ValueError) as err:
        raise invalid(
            [ParameterError("body", f"not valid JSON: {err}")], type_=INVALID_BODY
        ) from None
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) - {"rows"} or not isinstance(rows, list):
        raise invalid(
            [
                ParameterError(
                    "body",
                    'expected {"rows": [{"kpi_id": ..., "period": ..., '
                    '"period_start": ..., "value": ...}, ...]}',
                )
            ],
            type_=INVALID_BODY,
        )
    return "json", rows


def kpi_import():
    from kpi import importer

    query = parse_query(KpiImportQuery, request.args)
    kind, payload = _import_body()
    caller = auth.current_caller()
    source = f"api:{caller.name}" + (f":{query.source}" if query.source else "")
    with connection() as conn, conn.transaction(force_rollback=query.dry_run):
        if kind == "csv":
            report = importer.import_csv(conn, payload, source=source, actor=caller.actor)
        else:
            report = importer.import_rows(conn, payload, source=source, actor=caller.actor)
    body = {**report.to_dict(), "dry_run": query.dry_run}
    if report.ok:
        return json_response(body)
    problem = invalid(
        [
            ParameterError(
                f"{report.unit} {p.line}" + (f".{p.column}" if p.column else "")
                if p.line is not None
                else "body",
                p.reason,
            )
            for p in report.problems[: importer.MAX_PROBLEMS_SHOWN]
        ],
        type_=INVALID_BODY,
    )
    problem.status, problem.title = 422, "KPI figures rejected"
    problem.detail = report.summary() + ": " + "; ".join(report.messages(10))
    return problem_response(problem, {**problem_body(problem), "report": body})


# -- layers -----------------------------------------------------------------------------------
def layers():
    parse_query(NoQuery, request.args)
    with connection() as conn:
        rows = queries.layer_summaries(conn)
    data = [
        {
            "layer": r["layer"],
            "kind": r["kind"],
            "features": r["features"],
            "approximate": bool(r["approximate"]),
            "source": r["source"],
            "updated_at": fmt_time(r["updated_at"], dt.UTC),
            "href": f"{request.base_url}/{r['layer']}",
        }
        for r in rows
    ]
    return json_response(
        {"data": data, "next_cursor": None, "links": {"self": request.url, "next": None}}
    )


def layer(layer: str):
    from layers.store import load_layer

    parse_query(NoQuery, request.args)
    if not LAYER.fullmatch(layer):
        raise not_found(f"no layer {layer[:80]!r} (layer names are a-z, 0-9 and _)")
    with connection() as conn:
        if not queries.layer_exists(conn, layer):
            raise not_found(f"no layer {layer!r}")
        collection = load_layer(conn, layer)
    return json_response(collection, mimetype="application/geo+json")


# -- NGSI-LD ----------------------------------------------------------------------------------
NGSI_SCOPES = {
    "AirQualityObserved": auth.READINGS_READ,
    "WeatherObserved": auth.READINGS_READ,
    "FloodMonitoring": auth.READINGS_READ,
    "Alert": auth.ALERTS_READ,
}


def _ngsi_response(body, *, headers: dict | None = None) -> Response:
    """`application/ld+json` with `@context` in the body when asked for, else JSON + Link."""
    headers = dict(headers or {})
    if request.accept_mimetypes.best_match(["application/json", "application/ld+json"]) == (
        "application/ld+json"
    ):
        if isinstance(body, list):
            body = [{**e, "@context": ngsi_ld.CONTEXT} for e in body]
        else:
            body = {**body, "@context": ngsi_ld.CONTEXT}
        return json_response(body, mimetype="application/ld+json", headers=headers)
    headers["Link"] = ", ".join(filter(None, [headers.get("Link"), ngsi_ld.CONTEXT_LINK]))
    return json_response(body, headers=headers)


def _ngsi_fetch(conn, type_name: str, local_ids, limit: int, offset: int, count: bool):
    if type_name == ngsi_ld.ALERT_TYPE:
        camera = _sees_camera_alerts()
        ids = (
            None
            if local_ids is None
            else [int(i) for i in local_ids if i.isdigit() and int(i) <= MAX_BIGINT]
        )
        if ids == []:
            return [], 0 if count else None
        active = alert_queries.api_conditions(status=["active"], ids=ids, include_camera=camera)
        rows = alert_queries.alerts_by_id(conn, active, limit, offset)
        total = alert_queries.count_alerts(conn, active) if count else None
        return rows, total
    kinds = ngsi_ld.DEVICE_TYPES[type_name].kinds
    rows = queries.ngsi_devices(conn, kinds, local_ids, limit, offset)
    total = queries.ngsi_devices_count(conn, kinds, local_ids) if count else None
    return rows, total


def _ngsi_entities(type_name: str, rows: list[dict], key_values: bool) -> list[dict]:
    if type_name == ngsi_ld.ALERT_TYPE:
        return [ngsi_ld.alert_entity(vars(r), key_values=key_values) for r in rows]
    with redis_errors():
        values = live().latest_many([r["device_id"] for r in rows])
    return [
        ngsi_ld.device_entity(
            type_name,
            r,
            {m: (v.value, v.time) for m, v in values.get(r["device_id"], {}).items()},
            key_values=key_values,
        )
        for r in rows
    ]


def ngsi_entities():
    query = parse_query(NgsiQuery, request.args)
    auth.check_scope(NGSI_SCOPES[query.type])
    local_ids = None
    if query.id:
        local_ids = []
        for urn in query.id:
            parts = ngsi_ld.split_entity_id(urn)
            if parts and parts[0] == query.type:
                local_ids.append(parts[1])
    rows: list[dict] = []
    total = 0 if query.wants_count else None
    if local_ids != []:
        with connection() as conn:
            rows, total = _ngsi_fetch(
                conn, query.type, local_ids, query.limit + 1, query.offset, query.wants_count
            )
    more = len(rows) > query.limit
    entities = _ngsi_entities(query.type, rows[: query.limit], query.key_values)
    headers = {}
    if total is not None:
        headers["NGSILD-Results-Count"] = str(total)
    if more:
        headers["Link"] = f'<{url_with(offset=str(query.offset + query.limit))}>; rel="next"'
    return _ngsi_response(entities, headers=headers)


def ngsi_entity(entity_id: str):
    query = parse_query(NgsiEntityQuery, request.args)
    parts = ngsi_ld.split_entity_id(entity_id)
    if parts is None or parts[0] not in NGSI_SCOPES:
        raise not_found(
            f"no entity {entity_id[:120]!r}; ids look like urn:ngsi-ld:<Type>:<id> with "
            f"<Type> one of {', '.join(ngsi_ld.ENTITY_TYPES)}"
        )
    type_name, local_id = parts
    auth.check_scope(NGSI_SCOPES[type_name])
    if not IDENT.fullmatch(local_id):
        raise not_found(f"no entity {entity_id[:120]!r}")
    with connection() as conn:
        rows, _ = _ngsi_fetch(conn, type_name, [local_id], 1, 0, False)
    if not rows:
        raise not_found(f"no entity {entity_id!r}")
    return _ngsi_response(_ngsi_entities(type_name, rows, query.key_values)[0])


# -- the operations (the routes above, and what the OpenAPI document says of each) ------------
IDENT_SCHEMA = {"type": "string", "pattern": f"^{IDENT.pattern}$"}
CAP_FEED_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom">'
    "<id>urn:ioc:cap:ioc@laocai.gov.vn</id><title>Cảnh báo công cộng</title>"
    "<updated>2025-06-01T07:05:00+00:00</updated>"
    "<entry><id>urn:ioc:cap:ioc@laocai.gov.vn:ioc-412-1</id>"
    "<title>Mực nước suối Mường Hoa vượt báo động II</title>"
    "<updated>2025-06-01T07:05:00+00:00</updated>"
    '<content type="application/cap+xml">'
    '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">...</alert></content></entry></feed>'
)
ENTITY_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/Entity"}}
ENTITY_EXAMPLE = shapes.Entity.model_config["json_schema_extra"]["example"]
NGSI_OK = ("Entities; `@context` in the body with `Accept: application/ld+json`, else in the "
           "`Link` header.")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "/openapi.json", openapi, "getOpenApi", "This document", "meta", NoQuery,
        {"application/json": ({"type": "object"},
                              {"openapi": "3.1.0", "info": {"title": "IOC open data API"}})},
        description="The OpenAPI 3.1 document of the API, generated from the code. Public "
        "(no token).",
        errors=(400, 414), public=True,
    ),
    Operation(
        "/devices", devices, "listDevices", "Devices with location and unit_id", "devices",
        DevicesQuery, shapes.DevicePage, auth.DEVICES_READ, csv=True,
        description="The device registry, ordered by device id.",
    ),
    Operation(
        "/devices/<device_id>", device, "getDevice", "One device", "devices", TzQuery,
        shapes.Device, auth.DEVICES_READ,
        path=(PathParameter("device_id", IDENT_SCHEMA, "Device id.", "wl-sapa-01"),),
        errors=(400, 401, 403, 404, 414, 503),
    ),
    Operation(
        "/readings", readings, "listReadings",
        "Readings of devices over a time range, raw or aggregated", "readings", ReadingsQuery,
        shapes.ReadingPage, auth.READINGS_READ, csv=True,
        description="Rows are ordered by device, metric and time. Aggregates cover whole "
        "buckets whose start lies in [start, end); `time` is the bucket's start.",
    ),
    Operation(
        "/latest", latest, "listLatest", "Latest value of each metric of each device",
        "readings", LatestQuery, shapes.LatestPage, auth.READINGS_READ, csv=True,
        description="From the live store. Pages go over devices (`limit` devices per page).",
    ),
    Operation(
        "/alerts", alerts, "listAlerts", "Alerts, newest first", "alerts", AlertsQuery,
        shapes.AlertPage, auth.ALERTS_READ, csv=True,
        description="Camera alerts (family camera) are listed only for tokens that also hold "
        "`incidents:read`.",
    ),
    Operation(
        "/alerts/<int:alert_id>", alert, "getAlert", "One alert with its history", "alerts",
        TzQuery, shapes.AlertDetail, auth.ALERTS_READ,
        path=(PathParameter("alert_id", {"type": "integer", "minimum": 0}, "Alert id.", 412),),
        errors=(400, 401, 403, 404, 414, 503),
    ),
    Operation(
        "/cap.xml", cap_feed, "getCapFeed", "CAP 1.2 feed of public alerts", "alerts", NoQuery,
        {"application/atom+xml": ({"type": "string"}, CAP_FEED_EXAMPLE)}, auth.ALERTS_READ,
        description="An Atom feed with one OASIS CAP 1.2 <alert> per open public alert (the "
        "alert rules say which are public), from the alerts engine.",
    ),
    Operation(
        "/incidents", incidents, "listIncidents", "Camera incidents (police)", "incidents",
        IncidentsQuery, shapes.IncidentPage, auth.INCIDENTS_READ, csv=True,
        description="Most recently updated first. `queue_priority` and `queue_rule` say why "
        "an incident is in the police queue (null: an ordinary detection); `watchlist_hit` "
        "marks a sighting of a plate on a live police watchlist.",
    ),
    Operation(
        "/snapshots/<sha256>", snapshot, "getSnapshot", "A camera snapshot (police evidence)",
        "incidents", NoQuery,
        {"image/jpeg": ({"type": "string", "format": "binary"}, "(JPEG bytes)"),
         "image/png": ({"type": "string", "format": "binary"}, "(PNG bytes)")},
        auth.EVIDENCE_READ,
        description="Each view is written to the audit log (evidence.view).",
        path=(PathParameter("sha256", {"type": "string", "pattern": f"^{SHA256.pattern}$"},
                            "SHA-256 of the image.", "9f2c1e4b7a5d3c8e0f1a2b3c4d5e6f70"
                            "8192a3b4c5d6e7f8091a2b3c4d5e6f70"),),
        errors=(400, 401, 403, 404, 414, 503),
    ),
    Operation(
        "/kpis", kpis, "listKpis", "KPI catalogue with targets", "kpis", KpiTargetsQuery,
        shapes.KpiPage, auth.KPI_READ, csv=True,
        description="Every KPI: what it measures, its unit, target, due date and where the "
        "target comes from.",
    ),
    Operation(
        "/kpis/values", kpi_values, "listKpiValues", "KPI values, with their target and status",
        "kpis", KpiValuesQuery, shapes.KpiValuePage, auth.KPI_READ, csv=True,
        description="`goal` is the value due at the end of the period (the target, or the "
        "point on the path from the baseline); `status` compares the value with it.",
    ),
    Operation(
        "/kpis/import", kpi_import, "importKpiValues", "Push reported KPI figures", "kpis",
        KpiImportQuery, shapes.ImportReport, auth.KPI_WRITE, method="post",
        ok="Every row was stored (or, with dry_run, would be).",
        description="Rows are checked against the KPI catalogue; nothing is stored unless "
        "every row is good, then all are stored in one transaction (a value for the same KPI, "
        "unit_id, breakdown and period replaces the stored one).",
        body=shapes.ImportRows,
        body_csv_example="kpi_id,unit_id,breakdown,period,period_start,value\r\n"
        "egov_services_full_pct,,,year,2024,62.5\r\n",
        errors=(400, 401, 403, 413, 414, 415, 422, 503),
    ),
    Operation(
        "/layers", layers, "listLayers", "Map layers", "layers", NoQuery, shapes.LayerPage,
        auth.LAYERS_READ,
    ),
    Operation(
        "/layers/<layer>", layer, "getLayer", "One map layer as GeoJSON", "layers", NoQuery,
        shapes.FeatureCollection, auth.LAYERS_READ, media=("application/geo+json",),
        path=(PathParameter("layer", {"type": "string", "pattern": f"^{LAYER.pattern}$"},
                            "Layer name.", "units"),),
        errors=(400, 401, 403, 404, 414, 503),
    ),
    Operation(
        "/ngsi-ld/v1/entities", ngsi_entities, "listNgsiEntities",
        "FIWARE NGSI-LD entities of one type", "ngsi-ld", NgsiQuery,
        {media: (ENTITY_LIST, [ENTITY_EXAMPLE])
         for media in ("application/json", "application/ld+json")},
        ok=NGSI_OK,
        description="Smart Data Models: AirQualityObserved, WeatherObserved, FloodMonitoring "
        "(latest values of each device) and Alert (active alerts). Needs a token with "
        "`readings:read` (observations) or `alerts:read` (Alert).",
    ),
    Operation(
        "/ngsi-ld/v1/entities/<entity_id>", ngsi_entity, "getNgsiEntity", "One NGSI-LD entity",
        "ngsi-ld", NgsiEntityQuery, shapes.Entity,
        media=("application/json", "application/ld+json"),
        path=(PathParameter(
            "entity_id",
            {"type": "string", "pattern": "^urn:ngsi-ld:(" + "|".join(NGSI_SCOPES)
             + f"):{IDENT.pattern}$"},
            "Entity id.", "urn:ngsi-ld:FloodMonitoring:wl-sapa-01"),),
        errors=(400, 401, 403, 404, 414, 503),
    ),
)


@functools.cache
def _cached_document() -> dict:
    return build_document(OPERATIONS)


def openapi_document() -> dict:
    """The API document, built from OPERATIONS (a fresh copy each call: callers may change
    theirs)."""
    return copy.deepcopy(_cached_document())
