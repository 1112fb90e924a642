"""The OpenAPI document and the code agree: routes, parameters, examples and their schemas."""

from __future__ import annotations

import typing

import jsonschema
import pytest
from flask import Flask

from dashboards.api import params, register_api
from dashboards.api.openapi import openapi_document

# The query model each operation parses its query string with.
MODELS = {
    "getOpenApi": params.NoQuery,
    "listDevices": params.DevicesQuery,
    "getDevice": params.TzQuery,
    "listReadings": params.ReadingsQuery,
    "listLatest": params.LatestQuery,
    "listAlerts": params.AlertsQuery,
    "getAlert": params.TzQuery,
    "getCapFeed": params.NoQuery,
    "listIncidents": params.IncidentsQuery,
    "getSnapshot": params.NoQuery,
    "listKpis": params.KpiTargetsQuery,
    "listKpiValues": params.KpiValuesQuery,
    "importKpiValues": params.KpiImportQuery,
    "listLayers": params.NoQuery,
    "getLayer": params.NoQuery,
    "listNgsiEntities": params.NgsiQuery,
    "getNgsiEntity": params.NgsiEntityQuery,
}
DOC = openapi_document()
OPERATIONS = [
    (path, method, op) for path, item in DOC["paths"].items() for method, op in item.items()
]


def _literal_values(annotation) -> set | None:
    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is typing.Literal:
            return set(typing.get_args(arg))
        inner = _literal_values(arg) if typing.get_args(arg) else None
        if inner:
            return inner
    return None


def test_every_route_is_documented_and_every_operation_is_a_route():
    app = Flask("api-doc-test")
    register_api(app)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api_v1.no_such_endpoint":
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "<")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path.replace("<", "{").replace(">", "}"), method.lower()))
    assert routes == {(path, method) for path, method, _ in OPERATIONS}
    assert {op["operationId"] for *_, op in OPERATIONS} == set(MODELS)


def test_documented_scopes_are_the_ones_the_routes_check():
    from ioc.security.tokens import SCOPES

    app = Flask("api-scope-test")
    register_api(app)
    by_path = {}
    for rule in app.url_map.iter_rules():
        path = rule.rule.removeprefix("/api/v1").replace("<int:", "<")
        by_path[path.replace("<", "{").replace(">", "}")] = app.view_functions[rule.endpoint]
    for path, _, op in OPERATIONS:
        view_scope = getattr(by_path[path], "ioc_api_scope", None)
        assert op.get("x-required-scope") == view_scope, op["operationId"]
        if view_scope is not None:
            assert view_scope in SCOPES
            assert f"`{view_scope}`" in op["description"]


@pytest.mark.parametrize(
    "path, method, op", OPERATIONS, ids=[o["operationId"] for *_, o in OPERATIONS]
)
def test_query_parameters_match_the_model(path, method, op):
    model = MODELS[op["operationId"]]
    documented = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(documented) == set(model.model_fields)
    for name, field in model.model_fields.items():
        p = documented[name]
        assert p["description"], name
        assert p["required"] == field.is_required(), name
        assert (p["schema"].get("type") == "array") == params.is_list_field(field.annotation), name
        literal = _literal_values(field.annotation)
        schema = p["schema"].get("items", p["schema"])
        if literal:
            assert set(schema["enum"]) == literal, name
    for p in op["parameters"]:
        if p["in"] == "path":
            assert "{" + p["name"] + "}" in path and "example" in p


@pytest.mark.parametrize(
    "path, method, op", OPERATIONS, ids=[o["operationId"] for *_, o in OPERATIONS]
)
def test_every_operation_has_examples_that_fit_its_schemas(path, method, op):
    assert op["summary"] and op["operationId"]
    success = [code for code in op["responses"] if code.startswith("2")]
    assert success, "no success response"
    for code, response in op["responses"].items():
        assert response["description"]
        for media, content in response.get("content", {}).items():
            assert "example" in content, (code, media)
            schema = content["schema"]
            if "json" in media:
                jsonschema.validate(content["example"], {**schema, "components": DOC["components"]})
    body = op.get("requestBody")
    if body:
        for content in body["content"].values():
            assert "example" in content


def test_errors_are_problem_details_and_every_read_can_fail_with_401_403_400():
    for _, _, op in OPERATIONS:
        for code, response in op["responses"].items():
            if code >= "400":
                assert list(response["content"]) == ["application/problem+json"]
        if op["operationId"] != "getOpenApi":
            assert {"400", "401", "403"} <= set(op["responses"]), op["operationId"]


def test_document_basics():
    assert DOC["openapi"] == "3.1.0"
    assert DOC["servers"] == [{"url": "/api/v1"}]
    assert DOC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    public = [op["operationId"] for *_, op in OPERATIONS if op.get("security") == []]
    assert public == ["getOpenApi"]
    assert openapi_document() is not openapi_document()  # callers get their own copy
