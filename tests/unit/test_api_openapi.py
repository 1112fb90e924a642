"""The OpenAPI document generated from the code: valid examples, complete error lists, the
routes it describes, and the shapes (CSV columns, JSON rows) read from the same models."""

from __future__ import annotations

import datetime as dt

import jsonschema
import pytest
from flask import Flask

from dashboards.api import query_parsing, register_api
from dashboards.api import responses as shapes
from dashboards.api.routes import (
    AGGREGATE_CSV,
    ALERT_CSV,
    DEVICE_CSV,
    INCIDENT_CSV,
    OPERATIONS,
    _aggregates,
    _alert_json,
    openapi_document,
)

DOC = openapi_document()
OPERATION_LIST = [
    (path, method, op) for path, item in DOC["paths"].items() for method, op in item.items()
]
IDS = [o["operationId"] for *_, o in OPERATION_LIST]


def _app() -> Flask:
    app = Flask("api-doc-test")
    register_api(app)
    return app


def test_every_route_is_an_operation_with_the_scope_it_checks():
    from ioc.security.tokens import SCOPES

    app = _app()
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api_v1.no_such_endpoint":
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "<")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                key = (path.replace("<", "{").replace(">", "}"), method.lower())
                routes[key] = app.view_functions[rule.endpoint]
    assert set(routes) == {(path, method) for path, method, _ in OPERATION_LIST}
    for path, method, op in OPERATION_LIST:
        view_scope = getattr(routes[path, method], "ioc_api_scope", None)
        assert op.get("x-required-scope") == view_scope, op["operationId"]
        if view_scope is not None:
            assert view_scope in SCOPES
            assert f"`{view_scope}`" in op["description"]


@pytest.mark.parametrize("path, method, op", OPERATION_LIST, ids=IDS)
def test_query_parameters_are_the_query_model_fields(path, method, op):
    model = next(o.query for o in OPERATIONS if o.operation_id == op["operationId"])
    documented = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert list(documented) == list(model.model_fields)
    for name, field in model.model_fields.items():
        p = documented[name]
        assert p["description"], name
        assert p["required"] == field.is_required(), name
        assert (p["schema"].get("type") == "array") == query_parsing.is_list_field(field.annotation)
        if "example" in p:  # a documented example is a value the endpoint accepts
            value = p["example"]
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value).lower() \
                if isinstance(value, bool) else str(value)
            model.model_validate({**_required_values(model), name: _parsed(field, text)})


def _parsed(field, text: str):
    return text.split(",") if query_parsing.is_list_field(field.annotation) else text


def _required_values(model) -> dict:
    samples = {"device_id": ["aq-lc-001"], "start": "2025-06-01T00:00:00+07:00",
               "type": "FloodMonitoring"}
    return {n: samples[n] for n, f in model.model_fields.items() if f.is_required()}


@pytest.mark.parametrize("path, method, op", OPERATION_LIST, ids=IDS)
def test_every_operation_has_examples_that_fit_its_schemas(path, method, op):
    assert op["summary"] and op["operationId"]
    assert "200" in op["responses"]
    for code, response in op["responses"].items():
        assert response["description"]
        for media, content in response["content"].items():
            assert "example" in content, (code, media)
            if "json" in media:
                jsonschema.validate(
                    content["example"], {**content["schema"], "components": DOC["components"]}
                )
    for content in op.get("requestBody", {}).get("content", {}).values():
        assert "example" in content


def test_errors_are_problem_details_and_every_operation_lists_400_and_414():
    for _, _, op in OPERATION_LIST:
        for code, response in op["responses"].items():
            if code >= "400":
                assert list(response["content"]) == ["application/problem+json"]
        assert {"400", "414"} <= set(op["responses"]), op["operationId"]
        if op["operationId"] != "getOpenApi":
            assert {"401", "403"} <= set(op["responses"]), op["operationId"]


def test_tz_and_cursor_say_what_the_server_accepts():
    tz = DOC["components"]["schemas"]["TimeZone"]
    assert "Asia/Ho_Chi_Minh" in tz["enum"] and "UTC" in tz["enum"]
    assert "Mars/Olympus" not in tz["enum"]
    alerts = DOC["paths"]["/alerts"]["get"]["parameters"]
    cursor = next(p for p in alerts if p["name"] == "cursor")
    import re

    from dashboards.api.cursors import encode_cursor

    made = encode_cursor([dt.datetime(2025, 6, 1, tzinfo=dt.UTC), 7], {"status": ["active"]})
    assert re.fullmatch(cursor["schema"]["pattern"].strip("^$"), made)


def test_document_basics():
    assert DOC["openapi"] == "3.1.0"
    assert DOC["servers"] == [{"url": "/api/v1"}]
    assert DOC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    public = [op["operationId"] for *_, op in OPERATION_LIST if op.get("security") == []]
    assert public == ["getOpenApi"]
    assert openapi_document() is not openapi_document()  # callers get their own copy


def test_a_method_the_route_does_not_take_is_a_405_with_allow():
    client = _app().test_client()
    response = client.get("/api/v1/kpis/import")
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/no/such/thing").status_code == 404
    assert client.options("/api/v1/kpis/import").headers["Allow"] == "OPTIONS, POST"
    allow = client.delete("/api/v1/devices").headers["Allow"]
    assert sorted(allow.split(", ")) == ["GET", "HEAD", "OPTIONS"]


def test_csv_columns_and_json_rows_come_from_the_models():
    assert ALERT_CSV[:3] == ("id", "rule_id", "subject")
    assert ("lon", "lat") == ALERT_CSV[-3:-1] and ALERT_CSV[-1] == "details"
    assert DEVICE_CSV.index("lon") == list(shapes.Device.model_fields).index("location")
    assert INCIDENT_CSV == tuple(shapes.Incident.model_fields)
    assert AGGREGATE_CSV == tuple(shapes.Aggregate.model_fields)
    t = dt.datetime(2025, 6, 1, 1, tzinfo=dt.UTC)
    (row,) = _aggregates([(t, "aq-1", "pm25", 2, 3.0, 1.0, 2.0, 2.0)], "hour", dt.UTC)
    assert list(row) == list(shapes.Aggregate.model_fields)
    shapes.Aggregate.model_validate(row)


def test_an_alert_row_becomes_the_documented_alert():
    from alerts.queries import Alert as AlertRow

    t = dt.datetime(2025, 6, 1, 7, tzinfo=dt.UTC)
    row = {
        "id": 1, "rule_id": "r", "subject": "s", "kind": "water_level", "family": "disaster",
        "severity": "severe", "status": "open", "title": "T", "unit_id": "u", "device_id": "d",
        "parent_id": None, "count": 2, "first_value": 1.0, "last_value": float("nan"),
        "peak_value": 2.0, "opened_at": t, "last_seen_at": t, "acknowledged_at": None,
        "resolved_at": None, "escalated_at": None, "details": {}, "lon": 103.9, "lat": 22.5,
    }
    body = _alert_json(row, dt.timezone(dt.timedelta(hours=7)))
    typed = AlertRow(**{**{k: v for k, v in row.items() if k not in ("lon", "lat")},
                        "acknowledged_by": None, "assigned_to": None, "resolved_by": None,
                        "escalation_level": 0, "public": False, "updated_at": t,
                        "lon": 103.9, "lat": 22.5})
    assert _alert_json(typed, dt.timezone(dt.timedelta(hours=7))) == body
    assert body["opened_at"] == "2025-06-01T14:00:00+07:00"
    assert body["last_value"] is None  # NaN is not JSON
    assert body["location"] == {"type": "Point", "coordinates": [103.9, 22.5]}
    jsonschema.validate(body, {"$ref": "#/components/schemas/Alert", **DOC})
    # the API's alert is the alerts read model less the operators' fields
    assert set(shapes.Alert.model_fields) - {"location"} == {
        f for f in AlertRow.__dataclass_fields__ if f not in shapes.ALERT_PRIVATE | {"lon", "lat"}
    }
