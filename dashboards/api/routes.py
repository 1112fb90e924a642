"""The /api/v1 views: parse the query, run one query function, render JSON or CSV.

Views stay thin: parameters are validated by `params`, SQL lives in `queries`, the NGSI-LD
mapping in `ngsi_ld`, output in `rendering`. Each view declares the token scope it needs.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import logging
import re
from collections.abc import Callable, Sequence

from flask import Blueprint, Response, request

from dashboards.api import auth_bridge as auth
from dashboards.api import ngsi_ld, queries
from dashboards.api.cursors import decode_cursor, encode_cursor
from dashboards.api.db import connection, current_settings, live, redis_errors
from dashboards.api.openapi import openapi_document
from dashboards.api.params import (
    BUCKET_STEP,
    IDENT,
    LAYER,
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
    parse_query,
)
from dashboards.api.problems import (
    INVALID_BODY,
    NOT_IMPLEMENTED,
    ApiProblem,
    ParameterError,
    invalid,
    not_found,
    problem_body,
    problem_response,
)
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


def _point(lon: float | None, lat: float | None) -> dict | None:
    if lon is None or lat is None:
        return None
    return {"type": "Point", "coordinates": [lon, lat]}


def _optional_module(name: str):
    """A module another engineer is writing, or None until it exists."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


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


# -- the blueprint ----------------------------------------------------------------------------
def build_blueprint() -> Blueprint:
    """A fresh blueprint (the scope decorators are resolved now, when the app is built)."""
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    @bp.get("/openapi.json")
    def openapi():
        parse_query(NoQuery, request.args)
        return json_response(openapi_document(), headers={"Cache-Control": "max-age=300"})

    bp.add_url_rule("/devices", view_func=auth.require_scope(auth.DEVICES_READ)(devices))
    bp.add_url_rule("/devices/<device_id>", view_func=auth.require_scope(auth.DEVICES_READ)(device))
    bp.add_url_rule("/readings", view_func=auth.require_scope(auth.READINGS_READ)(readings))
    bp.add_url_rule("/latest", view_func=auth.require_scope(auth.READINGS_READ)(latest))
    bp.add_url_rule("/alerts", view_func=auth.require_scope(auth.ALERTS_READ)(alerts))
    bp.add_url_rule("/alerts/<int:alert_id>", view_func=auth.require_scope(auth.ALERTS_READ)(alert))
    bp.add_url_rule("/cap.xml", view_func=auth.require_scope(auth.ALERTS_READ)(cap_feed))
    bp.add_url_rule("/incidents", view_func=auth.require_scope(auth.INCIDENTS_READ)(incidents))
    bp.add_url_rule(
        "/snapshots/<sha256>", view_func=auth.require_scope(auth.EVIDENCE_READ)(snapshot)
    )
    bp.add_url_rule("/kpis", view_func=auth.require_scope(auth.KPI_READ)(kpis))
    bp.add_url_rule("/kpis/values", view_func=auth.require_scope(auth.KPI_READ)(kpi_values))
    bp.add_url_rule(
        "/kpis/import",
        view_func=auth.require_scope(auth.KPI_WRITE)(kpi_import),
        methods=["POST"],
    )
    bp.add_url_rule("/layers", view_func=auth.require_scope(auth.LAYERS_READ)(layers))
    bp.add_url_rule("/layers/<layer>", view_func=auth.require_scope(auth.LAYERS_READ)(layer))
    bp.add_url_rule("/ngsi-ld/v1/entities", view_func=auth.require_token()(ngsi_entities))
    bp.add_url_rule("/ngsi-ld/v1/entities/<entity_id>", view_func=auth.require_token()(ngsi_entity))
    # Anything else under /api/v1 is a 404 here, not a page of the Dash app.
    bp.add_url_rule("/", view_func=no_such_endpoint, defaults={"rest": ""})
    bp.add_url_rule("/<path:rest>", view_func=no_such_endpoint)
    return bp


def no_such_endpoint(rest: str):
    raise not_found(
        f"no endpoint {request.path[:120]}; the endpoints are listed in /api/v1/openapi.json"
    )


# -- devices ----------------------------------------------------------------------------------
DEVICE_CSV = (
    "device_id",
    "name",
    "family",
    "kind",
    "unit_id",
    "lon",
    "lat",
    "expected_interval_s",
    "enabled",
    "created_at",
    "updated_at",
    "metadata",
)


def _device_json(row: dict, zone: dt.tzinfo) -> dict:
    return {
        "device_id": row["device_id"],
        "name": row["name"],
        "family": row["family"],
        "kind": row["kind"],
        "unit_id": row["unit_id"],
        "location": _point(row["lon"], row["lat"]),
        "expected_interval_s": row["expected_interval_s"],
        "enabled": row["enabled"],
        "created_at": fmt_time(row["created_at"], zone),
        "updated_at": fmt_time(row["updated_at"], zone),
        "metadata": row["metadata"],
    }


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
RAW_CSV = ("time", "device_id", "metric", "value", "value_text", "unit")
AGGREGATE_CSV = (
    "time",
    "device_id",
    "metric",
    "bucket",
    "count",
    "mean",
    "min",
    "max",
    "sum",
    "last",
)


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
        columns=("device_id", "metric", "value", "time"),
        next_cursor=cursor,
        as_csv=wants_csv(query.format),
        name="latest",
    )


# -- alerts -----------------------------------------------------------------------------------
ALERT_CSV = (
    "id",
    "rule_id",
    "subject",
    "kind",
    "family",
    "severity",
    "status",
    "title",
    "unit_id",
    "device_id",
    "parent_id",
    "count",
    "first_value",
    "last_value",
    "peak_value",
    "opened_at",
    "last_seen_at",
    "acknowledged_at",
    "resolved_at",
    "escalated_at",
    "lon",
    "lat",
    "details",
)


def _alert_json(row: dict, zone: dt.tzinfo) -> dict:
    out = {
        k: row[k]
        for k in (
            "id",
            "rule_id",
            "subject",
            "kind",
            "family",
            "severity",
            "status",
            "title",
            "unit_id",
            "device_id",
            "parent_id",
            "count",
        )
    }
    for k in ("first_value", "last_value", "peak_value"):
        out[k] = num(row[k])
    for k in ("opened_at", "last_seen_at", "acknowledged_at", "resolved_at", "escalated_at"):
        out[k] = fmt_time(row[k], zone)
    out["location"] = _point(row["lon"], row["lat"])
    out["details"] = row["details"]
    return out


def _sees_camera_alerts() -> bool:
    """Camera alerts (fights, wanted plates) are for tokens with the police scope only."""
    return auth.current_caller().allows(auth.INCIDENTS_READ)


def alerts():
    query = parse_query(AlertsQuery, request.args)
    after = _after(query, ["time", "int"])
    where = queries.alert_filters(
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
        rows = queries.alerts_page(conn, where, after, query.limit)
    rows, cursor = _page(rows, query, lambda r: [r["opened_at"], r["id"]])
    return _located_page([_alert_json(r, query.zone) for r in rows], query, cursor, ALERT_CSV, "alerts")


def alert(alert_id: int):
    query = parse_query(TzQuery, request.args)
    if alert_id > MAX_BIGINT:
        raise not_found(f"no alert {alert_id}")
    with connection() as conn:
        row = queries.get_alert(conn, alert_id, include_camera=_sees_camera_alerts())
        events = queries.alert_events(conn, alert_id) if row else []
    if row is None:
        raise not_found(f"no alert {alert_id}")
    body = _alert_json(row, query.zone)
    body["events"] = [
        {"at": fmt_time(e["at"], query.zone), "action": e["action"], "note": e["note"]}
        for e in events
    ]
    return json_response(body)


def cap_feed():
    """The alerts engine's Atom feed of CAP 1.2 messages (alerts.cap_out), when installed."""
    parse_query(NoQuery, request.args)
    cap_out = _optional_module("alerts.cap_out")
    if cap_out is None or not hasattr(cap_out, "cap_feed_xml"):
        raise ApiProblem(
            501,
            "Not implemented",
            "the CAP 1.2 feed is not available on this server yet (the alerts engine's CAP "
            "output, alerts.cap_out, is not installed)",
            NOT_IMPLEMENTED,
        )
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
INCIDENT_CSV = (
    "source",
    "event_id",
    "device_id",
    "unit_id",
    "label",
    "phase",
    "started_at",
    "last_update",
    "ended_at",
    "confidence",
    "top_confidence",
    "zones",
    "plate",
    "plate_confidence",
    "snapshot_sha256",
    "snapshot_url",
    "false_positive",
    "queue_priority",
    "queue_rule",
    "watchlist_hit",
)


def _incident_json(row: dict, zone: dt.tzinfo) -> dict:
    out = {k: row[k] for k in INCIDENT_CSV}
    for k in ("started_at", "last_update", "ended_at"):
        out[k] = fmt_time(row[k], zone)
    for k in ("confidence", "top_confidence", "plate_confidence"):
        out[k] = num(row[k])
    out["zones"] = list(row["zones"] or [])
    return out


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
KPI_CSV = (
    "id",
    "group",
    "name_vi",
    "name_en",
    "unit",
    "source",
    "higher_is_better",
    "target",
    "tolerance",
    "due",
    "target_basis",
    "baseline_value",
    "baseline_date",
    "units",
    "periods",
)
KPI_VALUE_CSV = (
    "kpi_id",
    "unit_id",
    "breakdown",
    "period",
    "period_start",
    "value",
    "numerator",
    "denominator",
    "note",
    "source",
    "updated_at",
    "target",
    "goal",
    "status",
)


def _catalogue():
    """The KPI catalogue with the targets stored per period (`ioc kpi targets`)."""
    from ioc.kpi.catalogue import load_catalogue
    from ioc.kpi.targets import effective_catalogue

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
    from ioc.kpi.catalogue import goal_at, period_end, status_of

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
    from ioc.kpi import importer

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
        rows = queries.ngsi_alerts(conn, ids, camera, limit, offset)
        total = queries.ngsi_alerts_count(conn, ids, camera) if count else None
        return rows, total
    kinds = ngsi_ld.DEVICE_TYPES[type_name].kinds
    rows = queries.ngsi_devices(conn, kinds, local_ids, limit, offset)
    total = queries.ngsi_devices_count(conn, kinds, local_ids) if count else None
    return rows, total


def _ngsi_entities(type_name: str, rows: list[dict], key_values: bool) -> list[dict]:
    if type_name == ngsi_ld.ALERT_TYPE:
        return [ngsi_ld.alert_entity(r, key_values=key_values) for r in rows]
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
