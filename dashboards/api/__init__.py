"""The open-data HTTP API under /api/v1 (OpenAPI document at /api/v1/openapi.json).

`register_api(server)` mounts it on the Dash app's Flask server; dashboards/app.py calls it.
docs/api.md is the user's guide.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException, InternalServerError

from dashboards.api.problems import (
    FORBIDDEN,
    HTTP_ERROR,
    NOT_FOUND,
    PROBLEM_TYPE,
    UNAUTHORIZED,
    ApiProblem,
    problem_body,
    problem_response,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
NGSI_PREFIX = "/api/v1/ngsi-ld/"
# NGSI-LD clients expect the ETSI problem types (ETSI GS CIM 009, 5.5.2).
NGSI_ERRORS = {
    400: "https://uri.etsi.org/ngsi-ld/errors/BadRequestData",
    404: "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound",
}


def _is_api() -> bool:
    return request.path.startswith(API_PREFIX)


def _render(problem: ApiProblem):
    body = problem_body(problem)
    if request.path.startswith(NGSI_PREFIX) and problem.status in NGSI_ERRORS:
        body["type"] = NGSI_ERRORS[problem.status]
    return problem_response(problem, body)


def _on_problem(problem: ApiProblem):
    return _render(problem)


def _on_http_error(err: HTTPException):
    if not _is_api() or err.code is None:
        return err
    problem = ApiProblem(
        err.code,
        err.name,
        err.description or err.name,
        NOT_FOUND if err.code == 404 else HTTP_ERROR,
    )
    response = _render(problem)
    headers = dict(err.get_headers())
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in headers:
            response.headers[name] = headers[name]
    return response


def _on_crash(err: InternalServerError):
    if not _is_api():
        return err
    original = getattr(err, "original_exception", None)
    log.error("api: %s %s failed", request.method, request.path, exc_info=original)
    return _render(
        ApiProblem(500, "Internal server error", "the server failed to answer; it was logged")
    )


def _as_problem(response):
    """The web gate answers 401/403 with its own JSON; API clients get problem+json."""
    if not _is_api() or response.status_code not in (401, 403):
        return response
    if response.mimetype != "application/json":
        return response
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    if not isinstance(body, dict) or "error" not in body:
        return response
    problem = ApiProblem(
        response.status_code,
        "Unauthorized" if response.status_code == 401 else "Forbidden",
        str(body.get("detail") or body["error"]),
        UNAUTHORIZED if response.status_code == 401 else FORBIDDEN,
    )
    response.set_data(json.dumps(problem_body(problem), ensure_ascii=False))
    response.mimetype = PROBLEM_TYPE
    return response


def _api_headers(response):
    if _is_api():
        if request.method == "OPTIONS" and "Allow" in response.headers:
            # Flask's answer counts the catch-all GET route; say what the endpoint takes
            from dashboards.api.routes import allowed_methods

            allowed = allowed_methods(request.path)
            if allowed is not None:
                response.headers["Allow"] = ", ".join(allowed)
        response = _as_problem(response)
        response.headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Authorization")
        response.vary.add("Accept")
    return response


def register_api(server: Flask, settings=None) -> None:
    """Mount /api/v1 on `server`: the routes, problem+json errors, API response headers."""
    from dashboards.api.routes import build_blueprint, no_such_endpoint

    server.register_blueprint(build_blueprint())
    server.add_url_rule("/api/", "api_not_found", no_such_endpoint, defaults={"rest": ""})
    server.add_url_rule("/api/<path:rest>", "api_not_found", no_such_endpoint)
    server.register_error_handler(ApiProblem, _on_problem)
    server.register_error_handler(HTTPException, _on_http_error)
    server.register_error_handler(InternalServerError, _on_crash)
    server.after_request(_api_headers)


__all__ = ["register_api"]
