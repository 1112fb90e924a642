"""The OpenAPI 3.1 document of /api/v1, generated from the code (served at /api/v1/openapi.json).

Each route is an `Operation` (dashboards/api/routes.py `OPERATIONS`, which also registers the
Flask routes): its query parameters come from its pydantic query model (dashboards/api/params.py,
descriptions and examples included), its responses from the response models
(dashboards/api/responses.py), its token scope from the same record that guards the route.
Nothing here describes a shape by hand.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dashboards.api import responses
from dashboards.api.param_types import time_zone_schema
from dashboards.api.params import Query

VERSION = "1.0.0"
SCHEMAS = "#/components/schemas/"
EXAMPLE_BASE = "https://ioc.laocai.example/api/v1"

# What each error status means here; every operation lists the ones it can answer.
ERRORS = {
    400: "A parameter is unknown, repeated, malformed or out of range; `detail` and `errors` "
    "name each one and say why.",
    401: "No bearer token, or one that is unknown, expired or revoked.",
    403: "The token lacks the scope this operation needs.",
    404: "No such resource.",
    405: "The method is not allowed here; `Allow` lists those that are.",
    413: "The body is larger than 10 MiB.",
    414: "The URL (query string) is too long for the server.",
    415: "The body is neither application/json nor text/csv.",
    422: "Some rows were rejected; nothing was stored. `errors` and `report` list them.",
    503: "The database or the live store is unreachable, or the query took too long.",
}
READ_ERRORS = (400, 401, 403, 414, 503)


@dataclass(frozen=True)
class PathParameter:
    name: str
    schema: dict
    description: str
    example: object


@dataclass(frozen=True)
class Operation:
    """One route of the API: what the Flask rule runs and what the document says about it."""

    rule: str  # Flask rule under /api/v1, e.g. "/alerts/<int:alert_id>"
    view: Callable
    operation_id: str
    summary: str
    tag: str
    query: type[Query]
    # the 200 body: a response model (JSON), or {media type: (schema, example)} for the others
    response: type[BaseModel] | dict[str, tuple[dict, object]]
    scope: str | None = None  # the token scope the route needs (None: see `public`/`description`)
    method: str = "get"
    description: str = ""
    csv: bool = False  # also answers text/csv (format=csv or Accept: text/csv)
    media: Sequence[str] = ("application/json",)  # media types of a model `response`
    ok: str = "OK"  # description of the 200
    path: Sequence[PathParameter] = ()
    errors: Sequence[int] = READ_ERRORS
    body: type[BaseModel] | None = None
    body_csv_example: str | None = None
    public: bool = False
    extra_examples: dict[str, object] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)


# -- pieces -----------------------------------------------------------------------------------
def _example(model: type[BaseModel]) -> object:
    """The example of a model; a page's is built from its rows' model."""
    extra = model.model_config.get("json_schema_extra") or {}
    if isinstance(extra, dict) and "example" in extra:
        return extra["example"]
    if issubclass(model, responses.Page):
        item = model.model_fields["data"].annotation.__args__[0]
        first = getattr(item, "__args__", (item,))[0]
        return {"data": [_example(first)], "next_cursor": None,
                "links": {"self": EXAMPLE_BASE + "/...", "next": None}}
    raise ValueError(f"{model.__name__} has no example")


def _parameter(name: str, schema: dict, required: bool) -> dict:
    schema = copy.deepcopy(schema)
    description = schema.pop("description", "")
    examples = schema.pop("examples", None)
    schema.pop("title", None)
    # a query parameter is absent rather than null
    branches = schema.pop("anyOf", None)
    if branches:
        (only,) = [b for b in branches if b.get("type") != "null"]
        schema = {**only, **schema}
    if "x-component" in schema:  # a long enum written once in components (the time zones)
        schema = {"$ref": SCHEMAS + schema["x-component"],
                  **{k: v for k, v in schema.items() if k not in ("type", "x-component")}}
    if schema.get("default", 0) is None:
        del schema["default"]
    param = {"name": name, "in": "query", "required": required,
             "description": description, "schema": schema}
    if schema.get("type") == "array":
        param["style"], param["explode"] = "form", True
        param["description"] += (
            " Several values: repeat the parameter or separate them with commas."
        )
    if examples:
        param["example"] = examples[0]
    return param


def query_parameters(model: type[Query]) -> list[dict]:
    """The query parameters of an operation, read from its query model."""
    properties = model.model_json_schema().get("properties", {})
    return [
        _parameter(name, properties[name], info.is_required())
        for name, info in model.model_fields.items()
    ]


def _errors(codes: Sequence[int]) -> dict:
    out = {}
    for code in codes:
        example = responses.Problem.model_config["json_schema_extra"]["example"] if code == 400 \
            else {"type": "about:blank", "title": ERRORS[code].split(";")[0].rstrip("."),
                  "status": code, "detail": ERRORS[code]}
        out[str(code)] = {
            "description": ERRORS[code],
            "content": {"application/problem+json": {
                "schema": {"$ref": SCHEMAS + "Problem"}, "example": example}},
        }
    return out


def _content(op: Operation) -> dict:
    if isinstance(op.response, dict):
        return {media: {"schema": schema, "example": example}
                for media, (schema, example) in op.response.items()}
    ref = {"$ref": SCHEMAS + op.response.__name__}
    example = _example(op.response)
    content = {media: {"schema": ref, "example": op.extra_examples.get(media, example)}
               for media in op.media}
    if op.csv:
        content["text/csv"] = {
            "schema": {"type": "string"},
            "example": "(the same rows as CSV: a header line, then one line per row)\r\n",
        }
    return content


def _operation(op: Operation) -> dict:
    scope_text = f"\n\nNeeds the token scope `{op.scope}`." if op.scope else ""
    out = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": (op.description + scope_text).strip(),
        "tags": [op.tag],
        "parameters": [
            {"name": p.name, "in": "path", "required": True, "description": p.description,
             "schema": p.schema, "example": p.example}
            for p in op.path
        ] + query_parameters(op.query),
        "responses": {"200": {"description": op.ok, "content": _content(op)},
                      **_errors(sorted(op.errors))},
    }
    if op.body is not None:
        body = {"application/json": {"schema": {"$ref": SCHEMAS + op.body.__name__},
                                     "example": _example(op.body)}}
        if op.body_csv_example is not None:
            body["text/csv"] = {"schema": {"type": "string"}, "example": op.body_csv_example}
        out["requestBody"] = {"required": True, "content": body}
    if op.public:
        out["security"] = []
    elif op.scope is not None:
        out["x-required-scope"] = op.scope
    return out


def _models(operations: Sequence[Operation]) -> list[type[BaseModel]]:
    models: list[type[BaseModel]] = [responses.Problem]
    for op in operations:
        for model in (op.response, op.body):
            if isinstance(model, type) and model not in models:
                models.append(model)
    return models


def _components(models: Sequence[type[BaseModel]]) -> dict:
    _, top = models_json_schema([(m, "validation") for m in models],
                                ref_template=SCHEMAS + "{model}")
    return top.get("$defs", {})


# -- the document -----------------------------------------------------------------------------
def build_document(operations: Sequence[Operation]) -> dict:
    paths: dict[str, dict] = {}
    for op in operations:
        paths.setdefault(op.openapi_path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IOC open data API",
            "version": VERSION,
            "summary": "Devices, readings, alerts, incidents, KPIs and map layers of the "
            "provincial Intelligent Operations Centre.",
            "description": "JSON by default, CSV for tables (`format=csv` or `Accept: "
            "text/csv`). Tables are paged with opaque cursors (`next_cursor`, `Link: "
            "rel=next`). Times are ISO 8601 with an offset (UTC unless `tz` is given). Errors "
            "are RFC 9457 problem details naming the wrong parameter. See docs/api.md.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in operations)],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (`ioc tokens create ...`), sent as "
                "`Authorization: Bearer ioc_<prefix>_<secret>`.",
            }},
            "schemas": {**_components(_models(operations)), "TimeZone": time_zone_schema()},
        },
    }


__all__ = ["Operation", "PathParameter", "build_document"]
