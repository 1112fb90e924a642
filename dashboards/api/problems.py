"""Errors of the HTTP API as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask import Response, request

PROBLEM_TYPE = "application/problem+json"

# Our problem types; docs/api.md lists them with what a client should do about each.
INVALID_PARAMETER = "urn:ioc:problem:invalid-parameter"
UNKNOWN_PARAMETER = "urn:ioc:problem:unknown-parameter"
INVALID_BODY = "urn:ioc:problem:invalid-body"
UNAUTHORIZED = "urn:ioc:problem:unauthorized"
FORBIDDEN = "urn:ioc:problem:forbidden"
NOT_FOUND = "urn:ioc:problem:not-found"
UNAVAILABLE = "urn:ioc:problem:unavailable"
HTTP_ERROR = "about:blank"


@dataclass(frozen=True)
class ParameterError:
    """One wrong parameter (or body field) and why it is wrong."""

    parameter: str
    reason: str


@dataclass
class ApiProblem(Exception):
    """Raised by a view; rendered by the API's error handler."""

    status: int
    title: str
    detail: str
    type: str = HTTP_ERROR
    errors: list[ParameterError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


def invalid(errors: list[ParameterError], *, type_: str = INVALID_PARAMETER) -> ApiProblem:
    """A 400 naming every wrong parameter and the reason, in one `detail` sentence."""
    detail = "; ".join(f"{e.parameter}: {e.reason}" for e in errors)
    title = "Unknown parameter" if type_ == UNKNOWN_PARAMETER else "Invalid parameter"
    if type_ == INVALID_BODY:
        title = "Invalid request body"
    return ApiProblem(400, title, detail, type_, errors)


def invalid_one(parameter: str, reason: str) -> ApiProblem:
    return invalid([ParameterError(parameter, reason)])


def not_found(detail: str) -> ApiProblem:
    return ApiProblem(404, "Not found", detail, NOT_FOUND)


def problem_body(problem: ApiProblem) -> dict:
    body: dict = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
    }
    if problem.errors:
        body["errors"] = [{"parameter": e.parameter, "reason": e.reason} for e in problem.errors]
    return body


def problem_response(problem: ApiProblem, body: dict | None = None) -> Response:
    response = Response(
        json.dumps(body or problem_body(problem), ensure_ascii=False),
        status=problem.status,
        mimetype=PROBLEM_TYPE,
    )
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response
